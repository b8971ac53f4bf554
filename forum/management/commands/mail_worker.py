import logging
import signal
import time

from django.core.management.base import BaseCommand
from django.db import DatabaseError, connections

from forum.notifications import send_due_mail

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = (
        "Sends notification mail that is due, from the notifications table (the outbox), "
        "and keeps looking every --interval seconds until stopped (SIGTERM or Ctrl-C "
        "finishes the message in hand first). With --once it sends what is due now and "
        "exits, for cron. Several workers may run at once; each mail goes out at most once."
    )

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Send what is due, then exit.")
        parser.add_argument(
            "--interval", type=float, default=2.0, help="Seconds between looks (default 2)."
        )
        parser.add_argument(
            "--batch", type=int, default=20, help="Mails claimed at a time (default 20)."
        )

    def handle(self, *args, once, interval, batch, **options):
        self.stopping = False
        if not once:
            signal.signal(signal.SIGTERM, self.stop)
            signal.signal(signal.SIGINT, self.stop)
            self.stdout.write(f"Sending notification mail; looking every {interval} s.")
        while not self.stopping:
            try:
                outcomes = send_due_mail(batch)
            except DatabaseError as error:
                if once:
                    raise
                # The database restarted or is away for a moment: drop the broken
                # connection and look again later. A mail marked as being sent when it
                # happened stays so (sent at most once); the rest wait, queued.
                logger.warning("Database unavailable, trying again shortly: %s", error)
                connections.close_all()
                time.sleep(interval)
                continue
            if outcomes and options["verbosity"] > 0:
                counts = ", ".join(f"{n} {what}" for what, n in sorted(outcomes.items()))
                self.stdout.write(f"Notification mail: {counts}.")
            if once and sum(outcomes.values()) < batch:
                break
            if not outcomes:
                time.sleep(interval)

    def stop(self, signum, frame):
        self.stopping = True
