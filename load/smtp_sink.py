"""An SMTP server that keeps what it receives: one JSON line per message (Message-ID,
recipients, subject, time) appended to a file. Runs until SIGTERM.

    python load/smtp_sink.py PORT FILE

A fault scenario stops and starts this process to make the mail server unreachable; the
checker then compares the lines with the notification rows (each mailed once).
"""

import asyncio
import json
import os
import signal
import sys
import time
from email import message_from_bytes
from email.policy import default

from aiosmtpd.controller import Controller


class Keep:
    def __init__(self, path: str):
        self.path = path

    async def handle_DATA(self, server, session, envelope):
        message = message_from_bytes(envelope.content, policy=default)
        line = json.dumps(
            {
                "message_id": str(message.get("Message-ID", "")).strip(),
                "to": envelope.rcpt_tos,
                "subject": str(message.get("Subject", "")),
                "at": time.time(),
            }
        )
        with open(self.path, "a") as f:
            f.write(line + "\n")
            f.flush()
            os.fsync(f.fileno())
        return "250 Message accepted for delivery"


def main():
    port, path = int(sys.argv[1]), sys.argv[2]
    controller = Controller(Keep(path), hostname="127.0.0.1", port=port)
    controller.start()
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        loop.run_until_complete(stop.wait())
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
