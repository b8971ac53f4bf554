from allauth.account.models import EmailAddress
from django.contrib.auth.management.commands import createsuperuser
from django.db import transaction


class Command(createsuperuser.Command):
    help = (
        "Creates a superuser whose email address counts as verified (the person running "
        "the command typed it), so they can sign in through allauth and open the admin "
        "at once."
    )

    def handle(self, *args, **options):
        database = options["database"]
        users = self.UserModel._default_manager.db_manager(database)
        last = users.order_by("-pk").values_list("pk", flat=True).first() or 0
        with transaction.atomic(using=database):
            super().handle(*args, **options)
            for user in users.filter(pk__gt=last, is_superuser=True).exclude(email=""):
                EmailAddress.objects.using(database).update_or_create(
                    user=user, email=user.email, defaults={"primary": True, "verified": True}
                )
