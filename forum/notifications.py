"""Notification emails: what they say, how they are sent, and one-click unsubscribe.

Who is told about what is decided in `forum.models` (`Notification.objects`), inside the
transaction that changed the discussion; a notice to be mailed is queued right there,
in its own row (`email_state`, `email_due_at`): the notifications table is the outbox.
`manage.py mail_worker` works through it with `send_due_mail()`.

A mail is sent at most once: a worker claims notifications by moving them from QUEUED
to SENDING in a transaction that commits before it talks to the mail server (several
workers skip each other's rows), and only a failure the mail server reported puts one
back in the queue, due later (back-off).
"""

import email.policy
import logging
import smtplib
from datetime import timedelta
from urllib.parse import urlsplit

from allauth.account.models import EmailAddress
from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.text import Truncator

from accounts.adapters import text_to_html
from accounts.models import Ban, User
from forum.models import Comment, Notification, Subscription

logger = logging.getLogger(__name__)

Kind, Email = Notification.Kind, Notification.Email

# Seconds to wait before each new attempt after a failure: 1 min, 5 min, 30 min, 2 h, 6 h.
RETRY_DELAYS = [60, 300, 1800, 7200, 21600]
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1

UNSUBSCRIBE_SALT = "forum.notifications.unsubscribe"


# --- Sending ---------------------------------------------------------------------------


def send_due_mail(limit: int = 20) -> dict[str, int]:
    """Claim up to `limit` due notifications and mail each: what happened, counted
    ("sent", "retry", "failed", "skipped")."""
    outcomes: dict[str, int] = {}
    for notification_id in Notification.objects.claim_mail(limit):
        outcome = deliver(notification_id)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes


def deliver(notification_id: int) -> str:
    """Mail one claimed notification (SENDING) if it is still wanted. Returns what
    happened: "sent", "retry", "failed", "skipped", or "gone"."""
    notification = (
        Notification.objects.select_related(
            "recipient", "comment__section__essay", "comment__author"
        )
        .filter(pk=notification_id, email_state=Email.SENDING)
        .first()
    )
    if notification is None:
        return "gone"  # deleted since (its comment or its recipient went)
    address, refusal = recipient_address(notification)
    if refusal:
        Notification.objects.filter(pk=notification.pk).update(
            email_state=Email.SKIPPED, email_error=refusal
        )
        return "skipped"
    try:
        build_message(notification, address).send()
    except Exception as error:
        return _failed(notification, error)
    Notification.objects.filter(pk=notification.pk).update(
        email_state=Email.SENT, emailed_at=timezone.now(), email_error=""
    )
    return "sent"


def is_temporary(error: Exception) -> bool:
    """Whether trying again later may help: a server that is down or busy (4xx) may
    recover; a 5xx refusal (no such mailbox, rejected sender) will not."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return any(code < 500 for code, _ in error.recipients.values())
    if isinstance(error, smtplib.SMTPResponseException):
        return error.smtp_code < 500
    return isinstance(error, (smtplib.SMTPException, OSError))


def _failed(notification, error: Exception) -> str:
    """Sending failed: try again later, or give up (a permanent refusal, an unexpected
    error, or MAX_ATTEMPTS reached). The notification stays on the site either way."""
    message = f"{type(error).__name__}: {error}"[:1000]
    attempts = notification.email_attempts
    if attempts >= MAX_ATTEMPTS or not is_temporary(error):
        logger.error("Giving up on the email of notification %s: %s", notification.pk, message)
        Notification.objects.filter(pk=notification.pk).update(
            email_state=Email.FAILED, email_error=message
        )
        return "failed"
    delay = RETRY_DELAYS[attempts - 1]
    logger.warning(
        "Email of notification %s failed (attempt %s), next try in %s s: %s",
        *(notification.pk, attempts, delay, message),
    )
    Notification.objects.filter(pk=notification.pk).update(
        email_state=Email.QUEUED,
        email_error=message,
        email_due_at=timezone.now() + timedelta(seconds=delay),
    )
    return "retry"


def recipient_address(notification) -> tuple[str, str]:
    """(address, "") to mail this notification to, or ("", why not) when it is no longer
    wanted: the preference was switched off, the thread or section unfollowed, the
    comment hidden, a ban, no verified address."""
    person, comment, kind = notification.recipient, notification.comment, notification.kind
    if not person.is_active:
        return "", "the account is inactive"
    if not getattr(person, Notification.KINDS[kind].preference):
        return "", "the recipient switched these emails off"
    if not Notification.objects.shown(person).filter(pk=notification.pk).exists():
        return "", "the comment is no longer visible to the recipient"
    if Ban.objects.in_force().filter(user=person).exists():
        return "", "the recipient is suspended"
    follows = Subscription.objects.filter(user=person)
    if kind == Kind.SECTION and not follows.filter(section=comment.section_id).exists():
        return "", "the recipient no longer follows the section"
    if kind == Kind.THREAD and not follows.filter(thread__in=comment.ancestor_ids()).exists():
        return "", "the recipient no longer follows the thread"
    address = (
        EmailAddress.objects.filter(user=person, verified=True)
        .order_by("-primary", "pk")
        .values_list("email", flat=True)
        .first()
    )
    if not address:
        return "", "the recipient has no verified email address"
    return address, ""


# --- What the mail says -------------------------------------------------------------


def absolute(path: str) -> str:
    return settings.SITE_URL + path


class NotificationEmail(EmailMultiAlternatives):
    """Python folds a header longer than 78 characters that has no spaces in it
    (List-Unsubscribe's <URL>) into RFC 2047 encoded words, which mail programs do not
    decode there. Folding only at the RFC 5322 limit of 998 keeps it a plain URL."""

    def message(self, *, policy=email.policy.default):
        return super().message(policy=policy.clone(max_line_length=998))


def build_message(notification, address: str) -> EmailMultiAlternatives:
    comment = notification.comment
    unsubscribe = absolute(reverse("unsubscribe", args=[unsubscribe_token(notification)]))
    link = absolute(comment.get_absolute_url())
    if notification.kind == Kind.REVIEW:
        link = absolute(reverse("admin:forum_reviewitem_change", args=[comment.pk]))
    context = {
        "notification": notification,
        "comment": comment,
        "excerpt": Truncator(comment.body).chars(600),
        "link": link,
        "unsubscribe_url": unsubscribe,
        "unsubscribe_offer": Notification.KINDS[notification.kind].stop_offer,
        "settings_url": absolute(reverse("account_settings")),
        "site_name": settings.SITE_NAME,
    }
    text = render_to_string("emails/notification.txt", context)
    title = notification.sentence
    html = render_to_string(
        "emails/wrapper.html",
        {"subject": title, "body_html": html_body(context), "site_name": settings.SITE_NAME},
    )
    host = urlsplit(settings.SITE_URL).hostname
    message = NotificationEmail(
        subject=f"[{settings.SITE_NAME}] {title}",
        body=text,
        to=[address],
        headers={
            # RFC 8058: mail programs offer their own "unsubscribe" button and POST
            # "List-Unsubscribe=One-Click" to this address, without signing in.
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "Auto-Submitted": "auto-generated",
            # The same id on every attempt, so a mail server that did receive an
            # attempt we counted as failed can drop the duplicate.
            "Message-ID": f"<notification-{notification.pk}@{host}>",
        },
    )
    message.attach_alternative(html, "text/html")
    return message


# Stands for the comment in the text, where the HTML part shows it rendered.
COMMENT_HERE = "\x00comment\x00"


def html_body(context) -> str:
    """The HTML part: the text part's words (one template), with the comment as readers
    see it on the site (its stored, cleaned body_html) instead of its Markdown."""
    framing = render_to_string("emails/notification.txt", {**context, "excerpt": COMMENT_HERE})
    html = text_to_html(framing, urlsplit(settings.SITE_URL).netloc)
    comment = render_to_string("emails/comment.html", {"comment": context["comment"]})
    return mark_safe(html.replace(f"<p>{COMMENT_HERE}</p>", comment))  # noqa: S308


# --- Unsubscribing --------------------------------------------------------------------


def unsubscribe_token(notification) -> str:
    """A signed token naming what the recipient stops: a preference, a section, or the
    threads above a comment. It never expires and needs no session."""
    data = {"u": notification.recipient_id, "k": notification.kind}
    stops = Notification.KINDS[notification.kind].stops
    if stops == "section":
        data["s"] = notification.comment.section_id
    elif stops == "thread":
        data["c"] = notification.comment_id
    return signing.dumps(data, salt=UNSUBSCRIBE_SALT, compress=True)


class BadToken(Exception):
    pass


def read_token(token: str) -> dict:
    try:
        data = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except signing.BadSignature as error:
        raise BadToken from error
    if not isinstance(data, dict) or data.get("k") not in Kind.values:
        raise BadToken
    return data


def unsubscribe(data: dict) -> None:
    """Carry out a token: switch the preference off or stop following. Doing it twice,
    or for an account deleted since, changes nothing more."""
    person = User.objects.filter(pk=data.get("u")).first()
    if person is None:
        return
    kind = Notification.KINDS[data["k"]]
    if kind.stops == "section":
        Subscription.objects.filter(user=person, section=data.get("s")).delete()
    elif kind.stops == "thread":
        comment = Comment.objects.filter(pk=data.get("c")).only("path").first()
        if comment is not None:  # the threads above the comment the mail was about
            threads = comment.ancestor_ids()
            Subscription.objects.filter(user=person, thread__in=threads).delete()
    else:
        setattr(person, kind.preference, False)
        person.save(update_fields=[kind.preference])
