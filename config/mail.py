"""Mail printed on the console in development, as a person reads it.

Django's console backend prints the message as sent: long lines of text are encoded
quoted-printable, which breaks a confirmation link across two lines (and the first half
is a 404). This one prints the headers a reader needs and each text part decoded.
"""

from django.core.mail.backends.console import EmailBackend

HEADERS = ("From", "To", "Subject", "Date", "List-Unsubscribe")


class ReadableConsoleBackend(EmailBackend):
    def write_message(self, message):
        msg = message.message()
        for name in HEADERS:
            if msg[name]:
                self.stream.write(f"{name}: {msg[name]}\n")
        self.stream.write("\n")
        others = []
        for part in msg.walk():
            if part.is_multipart():
                continue
            if part.get_content_type() == "text/plain" and not part.is_attachment():
                self.stream.write(part.get_content().rstrip("\n") + "\n")
            else:
                others.append(part.get_content_type())
        if others:
            self.stream.write(f"\n(also in the message, not shown: {', '.join(others)})\n")
        self.stream.write("-" * 79 + "\n")


def where_mail_goes() -> str:
    """In words, where this process's mail goes: shown in development on the pages that
    say "we have sent you an email", so nobody waits for an inbox that gets nothing."""
    from django.conf import settings

    mailer = settings.MAILERS["default"]
    backend = mailer["BACKEND"]
    if backend.endswith("ReadableConsoleBackend") or backend.endswith("console.EmailBackend"):
        return "printed in the terminal that runs the site (make run)"
    if backend.endswith("filebased.EmailBackend"):
        return f"written as files into {mailer['OPTIONS']['file_path']}"
    if backend.endswith("smtp.EmailBackend"):
        return f"sent through the mail server at {mailer['OPTIONS']['host']}"
    return f"handed to {backend}"
