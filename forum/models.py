from django.contrib.auth.models import AbstractUser
from django.db import models, transaction
from django.urls import reverse

from essays.markup import render_user_text


class User(AbstractUser):
    """A reader. Anyone may read; writing needs an active account with a verified email."""

    display_name = models.CharField(
        max_length=60,
        blank=True,
        help_text="Shown next to what you write. Defaults to your username.",
    )
    bio = models.TextField(
        "about you",
        max_length=2000,
        blank=True,
        help_text="A few lines in Markdown, shown on your profile.",
    )
    # Rendered once when the profile is saved, with the same code as comments.
    bio_html = models.TextField(editable=False, blank=True)
    email_on_reply = models.BooleanField(
        "email me when someone replies to me",
        default=True,
        help_text="You can switch this off at any time.",
    )

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"

    def __str__(self):
        return self.username

    @property
    def public_name(self) -> str:
        return self.display_name or self.username

    def save(self, *args, **kwargs):
        self.bio_html = render_user_text(self.bio)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "bio" in update_fields:
            kwargs["update_fields"] = {*update_fields, "bio_html"}
        super().save(*args, **kwargs)

    def get_absolute_url(self):
        return reverse("profile", args=[self.username])

    def has_verified_email(self) -> bool:
        return self.emailaddress_set.filter(verified=True).exists()

    def can_write(self) -> bool:
        """The one rule for posting, voting and reporting: a signed-in, active person
        whose email address is verified."""
        return self.is_authenticated and self.is_active and self.has_verified_email()

    def export_data(self) -> dict:
        """Everything the site stores about this person, for 'Download my data'."""
        from allauth.mfa.models import Authenticator
        from allauth.socialaccount.models import SocialAccount
        from allauth.usersessions.models import UserSession

        return {
            "account": {
                "username": self.username,
                "display_name": self.display_name,
                "bio": self.bio,
                "email": self.email,
                "date_joined": self.date_joined.isoformat(),
                "last_login": self.last_login.isoformat() if self.last_login else None,
                "is_staff": self.is_staff,
            },
            "preferences": {"email_on_reply": self.email_on_reply},
            "email_addresses": [
                {"email": e.email, "verified": e.verified, "primary": e.primary}
                for e in self.emailaddress_set.order_by("email")
            ],
            "social_accounts": [
                {"provider": a.provider, "uid": a.uid, "date_joined": a.date_joined.isoformat()}
                for a in SocialAccount.objects.filter(user=self).order_by("pk")
            ],
            "two_factor_authenticators": [
                {
                    "type": a.type,
                    "created_at": a.created_at.isoformat(),
                    "last_used_at": a.last_used_at.isoformat() if a.last_used_at else None,
                }
                for a in Authenticator.objects.filter(user=self).order_by("pk")
            ],
            "sessions": [
                {
                    "ip": s.ip,
                    "user_agent": s.user_agent,
                    "created_at": s.created_at.isoformat(),
                    "last_seen_at": s.last_seen_at.isoformat(),
                }
                for s in UserSession.objects.filter(user=self).order_by("pk")
            ],
        }

    @transaction.atomic
    def delete_account(self, *, keep_comments: bool) -> None:
        """Remove this account and everything tied to it (emails, sessions, two-factor
        devices, social logins). Other people's data is never touched.

        `keep_comments` decides what happens to what the person wrote: kept, under
        "deleted user", so threads stay readable, or erased.
        """
        self.delete()
