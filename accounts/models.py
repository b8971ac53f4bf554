"""Who takes part: members, their preferences, and suspensions (bans).

This app knows nothing of the discussion. The discussion (`forum`) hears of what happens
here through the signals in `accounts.signals`, and contributes its own rows to a
member's data export by giving its models a `personal_data(user)` class method.
"""

import unicodedata

from django.apps import apps
from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.exceptions import PermissionDenied
from django.db import models, transaction
from django.db.models import Q
from django.db.models.functions import Now
from django.urls import reverse
from django.utils import timezone

from accounts import signals
from essays.markup import render_user_text

# Letters of these scripts look alike (Cyrillic "\u0430" and Latin "a"): one word mixing them is
# a name made to pass for another.
LOOK_ALIKE_SCRIPTS = {"LATIN", "CYRILLIC", "GREEK"}


def mistakable(name: str) -> str | None:
    """Why a public name could pass for someone else's, or None. Invisible characters
    (zero-width spaces, joiners) and direction controls (a right-to-left override turns
    the rest of a line around) are refused, and so is a word that mixes look-alike
    scripts. A wholly Cyrillic or Greek word that looks Latin is not caught."""
    if any(unicodedata.category(char) in {"Cc", "Cf", "Co", "Cs"} for char in name):
        return (
            "Names cannot contain invisible or direction-changing characters (such as "
            "zero-width spaces or right-to-left marks); please remove them."
        )
    for word in name.split():
        scripts = {unicodedata.name(char, "").partition(" ")[0] for char in word if char.isalpha()}
        if len(scripts & LOOK_ALIKE_SCRIPTS) > 1:
            return (
                f"“{word}” mixes letters of different alphabets that look alike; "
                "please write it in one."
            )
    return None


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
    email_on_follow = models.BooleanField(
        "email me about new comments in what I follow",
        default=True,
        help_text="Sections and threads you follow. You are told on the site either way.",
    )
    email_on_moderation = models.BooleanField(
        "email me when a moderator removes one of my comments",
        default=True,
    )
    email_on_review = models.BooleanField(
        "email me when comments wait for review",
        default=False,
        help_text="For moderators: new items in the review queue.",
    )
    follow_own_comments = models.BooleanField(
        "follow the replies below my comments",
        default=True,
        help_text="Posting a comment follows the conversation below it.",
    )

    PREFERENCES = [
        *("email_on_reply", "email_on_follow", "email_on_moderation", "email_on_review"),
        "follow_own_comments",
    ]

    # Whether this session may use staff powers; None until a request decides it (see
    # accounts.middleware): with STAFF_REQUIRE_2FA, only a session that passed a second
    # factor may. Outside a request (the mail worker, manage.py) there is no session to
    # ask: then a staff member without any second factor set up has no staff powers.
    staff_session: bool | None = None

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

    @classmethod
    def standing(cls) -> dict[str, models.Expression]:
        """What write_refusal() asks of the database, as annotations for a query of
        accounts: whether an address is verified, whether a ban is in force. The
        signed-in account is read with them (accounts.backends.OneCheckBackend), so
        the rule asks nothing more on a member's pages and posts."""
        email_addresses = cls._meta.get_field("emailaddress").related_model
        return {
            "standing_verified": models.Exists(
                email_addresses.objects.filter(user=models.OuterRef("pk"), verified=True)
            ),
            "standing_banned": models.Exists(
                Ban.objects.in_force().filter(user=models.OuterRef("pk"))
            ),
        }

    def write_refusal(self) -> str | None:
        """Why this person may not post, edit, vote, report or follow right now; None
        if they may. The one rule for writing, remembered for the rest of the request."""
        if not hasattr(self, "_write_refusal"):
            self._write_refusal = None
            if not hasattr(self, "standing_verified"):  # not read with the account
                standing = User.standing()
                self.standing_verified, self.standing_banned = (
                    User.objects.filter(pk=self.pk)
                    .annotate(**standing)
                    .values_list(*standing)
                    .get()
                )
            if not self.is_active or not self.standing_verified:
                self._write_refusal = "Please verify your email address before you take part."
            elif self.standing_banned and (
                ban := self.bans.in_force().order_by("-created_at").first()
            ):
                self._write_refusal = ban.refusal()
        return self._write_refusal

    @property
    def is_suspended(self) -> bool:
        """Under a suspension in force (remembered for the rest of the request)."""
        if not hasattr(self, "standing_banned"):
            self.standing_banned = Ban.objects.in_force().filter(user=self.pk).exists()
        return self.standing_banned

    def can_write(self) -> bool:
        return self.write_refusal() is None

    @property
    def has_staff_powers(self) -> bool:
        """Active, unsuspended staff, in a session allowed to use that role (see
        `staff_session`): the admin, unpublished essays, everything moderators see and
        the review mail ask this."""
        if not (self.is_active and self.is_staff):
            return False
        if self.staff_session is None:  # no request: the second factor, if required
            from allauth.mfa.utils import is_mfa_enabled

            self.staff_session = not settings.STAFF_REQUIRE_2FA or is_mfa_enabled(self)
        return self.staff_session and not self.is_suspended

    @property
    def is_moderator(self) -> bool:
        # Checking staff first spares every other member the permission queries.
        return self.has_staff_powers and self.has_perm("forum.moderate_comment")

    @property
    def is_editor(self) -> bool:
        """Staff who answer comments for the essay's editors ("addressed in revision N")."""
        return self.has_staff_powers and self.has_perm("forum.answer_comment")

    def can_be_suspended_by(self, actor) -> bool:
        """Moderators suspend members; staff can be suspended (and have all their
        comments removed) only by a superuser, and nobody suspends themselves."""
        if actor is None or actor.pk == self.pk:
            return False
        if self.is_staff or self.is_superuser:
            return actor.is_superuser
        return True

    def export_data(self) -> dict:
        """Everything the site stores about this person, for 'Download my data': the
        account here, and each app's own rows from its models' `personal_data()`."""
        from allauth.mfa.models import Authenticator
        from allauth.socialaccount.models import SocialAccount
        from allauth.usersessions.models import UserSession

        data = {
            "account": {
                "username": self.username,
                "display_name": self.display_name,
                "bio": self.bio,
                "email": self.email,
                "date_joined": self.date_joined.isoformat(),
                "last_login": self.last_login.isoformat() if self.last_login else None,
                "is_staff": self.is_staff,
            },
            "preferences": {name: getattr(self, name) for name in User.PREFERENCES},
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
        for model in apps.get_models():
            if hasattr(model, "personal_data"):
                data |= model.personal_data(self)
        return data

    @transaction.atomic
    def delete_account(self, *, keep_comments: bool) -> None:
        """Remove this account and everything tied to it (emails, sessions, two-factor
        devices, social logins, votes). Other people's data is never touched.

        `keep_comments` decides what happens to what the person wrote: kept, shown under
        "deleted user", so threads stay readable; or erased, each comment exactly as if
        its author had deleted it (the discussion app does that on `account_deleting`).
        """
        signals.account_deleting.send(User, user=self, keep_comments=keep_comments)
        self.delete()


class BanQuerySet(models.QuerySet):
    def in_force(self):
        # By the database's clock (the time of the statement), so that the SQL of a query
        # that asks this is the same whenever it is sent: the signed-in account's, made
        # once per process (accounts.backends), asks it on every page.
        return self.filter(lifted_at__isnull=True).filter(
            Q(until__isnull=True) | Q(until__gt=Now())
        )

    def with_in_force(self):
        """Each ban with `is_in_force`, decided by the same rule as `in_force()`."""
        return self.annotate(
            is_in_force=models.Exists(
                self.model.objects.in_force().filter(pk=models.OuterRef("pk"))
            )
        )

    @transaction.atomic
    def impose(self, user, *, by, reason: str = "", until=None) -> "Ban":
        """Suspend `user`: they may still read, but not post, edit, vote, report or
        follow. Refused (PermissionDenied, with the reason) where `by` may not."""
        if not user.can_be_suspended_by(by):
            raise PermissionDenied(
                "Only an administrator can suspend staff, and nobody can suspend themselves."
            )
        ban = self.create(user=user, reason=reason, until=until, created_by=by)
        signals.suspended.send(Ban, ban=ban, actor=by)
        return ban


class Ban(models.Model):
    """A member who may read but not take part, for a while or for good."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="bans"
    )
    reason = models.TextField(blank=True)
    until = models.DateTimeField(null=True, blank=True, help_text="Empty: until lifted.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    lifted_at = models.DateTimeField(null=True, blank=True, editable=False)
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )

    objects = BanQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "suspension (ban)"
        verbose_name_plural = "suspensions (bans)"

    def __str__(self):
        return f"Suspension of {self.user}"

    def refusal(self) -> str:
        """What the suspended member is told when they try to take part."""
        until = f" until {self.until:%-d %B %Y}" if self.until else ""
        reason = f" Reason: {self.reason}" if self.reason else ""
        return (
            f"Your account is suspended{until}: you can read, but not post, edit, vote, "
            f"report or follow.{reason}"
        )

    @transaction.atomic
    def lift(self, *, by) -> bool:
        """End the suspension now; the record stays. False if it was lifted already.
        Refused (PermissionDenied) where `by` could not have imposed it: a moderator
        does not undo an administrator's suspension of staff, nor their own."""
        if not self.user.can_be_suspended_by(by):
            raise PermissionDenied(
                "Only an administrator can lift a suspension of staff, and nobody can lift "
                "their own."
            )
        lifted = Ban.objects.filter(pk=self.pk, lifted_at__isnull=True).update(
            lifted_at=timezone.now(), lifted_by=by
        )
        if lifted:
            self.refresh_from_db(fields=["lifted_at", "lifted_by"])
            signals.suspension_lifted.send(Ban, ban=self, actor=by)
        return bool(lifted)

    @classmethod
    def personal_data(cls, user) -> dict[str, list]:
        """This model's rows in a member's data export."""
        return {
            "suspensions": [
                {
                    "since": ban.created_at.isoformat(),
                    "until": ban.until.isoformat() if ban.until else None,
                    "reason": ban.reason,
                    "lifted_at": ban.lifted_at.isoformat() if ban.lifted_at else None,
                }
                for ban in user.bans.order_by("pk")
            ]
        }
