import os

from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model, password_validation
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email
from django.db import transaction


class Command(BaseCommand):
    help = (
        "Creates the first administrator (a superuser with a verified primary email "
        "address, so they can sign in through allauth) from ADMIN_USERNAME (default "
        "'admin'), ADMIN_EMAIL and ADMIN_PASSWORD, when the database has no superuser. "
        "Once any superuser exists it changes nothing; safe to run on every start."
    )

    def handle(self, *args, **options):
        User = get_user_model()
        if User.objects.filter(is_superuser=True).exists():
            self.stdout.write("An administrator exists already; nothing to do.")
            return
        username = os.environ.get("ADMIN_USERNAME", "").strip() or "admin"
        email = os.environ.get("ADMIN_EMAIL", "").strip()
        password = os.environ.get("ADMIN_PASSWORD", "")
        if not (email and password):
            self.stdout.write(
                self.style.WARNING(
                    "There is no administrator yet. Set ADMIN_EMAIL and ADMIN_PASSWORD "
                    "(and ADMIN_USERNAME, default 'admin') to have one created at start."
                )
            )
            return

        user = User(username=username, email=email, is_staff=True, is_superuser=True)
        check(lambda: User.username_validator(username), "ADMIN_USERNAME")
        check(lambda: validate_email(email), "ADMIN_EMAIL")
        check(lambda: password_validation.validate_password(password, user), "ADMIN_PASSWORD")
        # Never promote someone who signed up: an existing account keeps what it is.
        if User.objects.filter(username__iexact=username).exists():
            raise CommandError(
                f"ADMIN_USERNAME {username!r} belongs to an existing account that is not "
                "a superuser. Choose another name, or promote that account yourself."
            )
        if EmailAddress.objects.filter(email__iexact=email).exists():
            raise CommandError(
                f"ADMIN_EMAIL {email!r} belongs to an existing account. Choose another "
                "address, or promote that account yourself."
            )
        user.set_password(password)
        with transaction.atomic():
            user.save()
            EmailAddress.objects.create(user=user, email=email, primary=True, verified=True)
        self.stdout.write(self.style.SUCCESS(f"Created the administrator {username!r}."))


def check(validate, name):
    """Run a validator; a refusal stops the command with a message naming the variable."""
    try:
        validate()
    except ValidationError as exc:
        raise CommandError(f"{name} is not acceptable: {' '.join(exc.messages)}") from None
