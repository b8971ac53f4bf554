"""Notification mail: sent by the real background worker (`manage.py mail_worker`, which
works through the notifications table, the outbox) to a real SMTP server on 127.0.0.1,
retried with back-off when that server fails, never sent twice, and stoppable with one
click."""

import email
import email.policy
import socket
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from django.core.management import call_command
from django.db import transaction
from django.test import Client
from django.utils import timezone

from forum import notifications
from forum.models import Comment, Notification, Subscription
from tests.conftest import make_member

# The worker commits for real, so these tests run outside a test transaction.
pytestmark = pytest.mark.django_db(transaction=True)

Email = Notification.Email


class Inbox:
    """An SMTP server's mailbox that can be told to refuse the next few messages."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.refuse_next = 0
        self.unknown = set()  # addresses this server says do not exist
        self.controller = None

    def start(self):
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self):
        if self.controller:
            self.controller.stop()
            self.controller = None

    async def handle_RCPT(self, server, session, envelope, address, options):
        if address in self.unknown:
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.refuse_next:
            self.refuse_next -= 1
            return "451 4.3.0 Mailbox busy, try again later"
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        message.raw_headers = envelope.content.split(b"\r\n\r\n", 1)[0].decode("ascii")
        self.messages.append(message)
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp(settings):
    """A real SMTP server on 127.0.0.1, and the site's mail pointed at it."""
    inbox = Inbox()
    port = inbox.port = free_port()
    inbox.start()
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": port, "timeout": 5},
        }
    }
    settings.SITE_URL = "https://forum.example.org"
    yield inbox
    inbox.stop()


def run_worker():
    """The worker as production runs it, until nothing is due."""
    call_command("mail_worker", once=True, verbosity=0)


def time_passes():
    """Make every delayed mail due now, as if its back-off had elapsed."""
    Notification.objects.filter(email_state=Email.QUEUED).update(email_due_at=timezone.now())


def due_in(notice) -> timedelta:
    notice.refresh_from_db()
    return notice.email_due_at - timezone.now()


@pytest.fixture
def reply(post, ann, ben):
    """Ben answers Ann: Ann is to be told, by mail too."""
    question = post(ann, "What did the DeepSeek release change?")
    return post(ben, "It moved the *frontier* of open weights.", parent=question)


def ann_notice(ann):
    return Notification.objects.get(recipient=ann, kind=Notification.Kind.REPLY)


def test_the_worker_mails_a_reply_with_text_html_permalink_and_unsubscribe(smtp, reply, ann):
    run_worker()

    [message] = smtp.messages
    assert message["X-Envelope-To"] == "ann@example.com"
    subject = "[Essay Forum] ben replied to your comment on “The DeepSeek Moment”"
    assert message["Subject"] == subject
    permalink = f"https://forum.example.org/comments/{reply.pk}/"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert permalink in text
    assert f'href="{permalink}"' in html
    assert "It moved the *frontier* of open weights." in text
    assert "Stop emails about replies to your comments with one click:" in text
    unsubscribe = message["List-Unsubscribe"].strip("<>")
    assert unsubscribe.startswith("https://forum.example.org/unsubscribe/")
    assert unsubscribe in text
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # On the wire: one plain line, not folded into encoded words mail programs ignore.
    assert f"List-Unsubscribe: <{unsubscribe}>\r\n" in message.raw_headers + "\r\n"
    notice = ann_notice(ann)
    assert notice.email_state == Email.SENT
    assert notice.emailed_at is not None
    assert message["Message-ID"] == f"<notification-{notice.pk}@forum.example.org>"


def test_the_html_part_shows_the_comment_as_the_site_renders_it(smtp, post, ann, ben):
    question = post(ann, "What changed?")
    post(ben, "**bob** says: read [the paper](https://example.org/paper).", parent=question)

    run_worker()

    [message] = smtp.messages
    html = message.get_body(("html",)).get_content()
    assert "<strong>bob</strong> says" in html
    assert '<a href="https://example.org/paper" rel="nofollow ugc noopener noreferrer">' in html
    assert "**bob**" not in html
    assert "](https://example.org" not in html
    assert "\x00" not in html
    # The text part keeps the Markdown, which reads well as plain text.
    assert "**bob** says" in message.get_body(("plain",)).get_content()


def test_a_reply_rolled_back_queues_nothing(smtp, post, ann, ben):
    question = post(ann, "Question")

    def failing_request():
        with transaction.atomic():
            post(ben, "Never mind", parent=question)
            raise RuntimeError("the request failed after posting")

    with pytest.raises(RuntimeError):
        failing_request()

    run_worker()

    assert not Notification.objects.filter(recipient=ann).exists()  # the outbox rolled back too
    assert smtp.messages == []


def test_a_refusing_server_is_retried_with_back_off_and_nothing_is_lost(smtp, reply, ann):
    smtp.refuse_next = 2

    run_worker()  # first attempt: refused
    notice = ann_notice(ann)
    assert (notice.email_state, notice.email_attempts) == (Email.QUEUED, 1)
    assert "451" in notice.email_error
    assert due_in(notice) > timedelta(seconds=50)  # a minute's back-off
    assert Comment.objects.filter(pk=reply.pk).exists()

    run_worker()  # not yet due: nothing happens
    assert smtp.messages == []

    time_passes()
    run_worker()  # second attempt: refused again, five minutes' wait
    assert due_in(notice) > timedelta(seconds=280)

    time_passes()
    run_worker()  # third attempt: delivered
    assert len(smtp.messages) == 1
    notice.refresh_from_db()
    assert (notice.email_state, notice.email_attempts) == (Email.SENT, 3)


def test_a_server_that_is_down_is_retried_too(smtp, reply, ann):
    smtp.stop()
    run_worker()
    assert ann_notice(ann).email_state == Email.QUEUED

    smtp.start()
    time_passes()
    run_worker()

    assert len(smtp.messages) == 1
    assert ann_notice(ann).email_state == Email.SENT


def test_after_the_last_attempt_the_mail_fails_but_the_notification_stays(smtp, reply, ann, client):
    smtp.refuse_next = notifications.MAX_ATTEMPTS
    for _ in range(notifications.MAX_ATTEMPTS):
        run_worker()
        time_passes()
    run_worker()

    notice = ann_notice(ann)
    assert (notice.email_state, notice.email_attempts) == (Email.FAILED, 6)
    assert smtp.messages == []
    assert not Notification.objects.filter(email_state=Email.QUEUED).exists()
    client.force_login(ann)
    assert "replied to your comment" in client.get("/notifications/").text


def test_a_mail_is_never_sent_twice_for_the_same_event(smtp, reply, ann):
    notice = ann_notice(ann)
    run_worker()
    run_worker()
    # A worker that took a claimed notification for its own finds it is not queued ...
    assert notifications.deliver(notice.pk) == "gone"
    # ... and the same event told again finds the row that is already there.
    Notification.objects.comment_published(reply)
    run_worker()

    assert len(smtp.messages) == 1


def test_a_mail_whose_comment_was_hidden_meanwhile_is_not_sent(smtp, reply, ann, mo):
    reply.moderate(mo, "spam")

    run_worker()

    assert smtp.messages == []
    assert ann_notice(ann).email_state == Email.SKIPPED


def test_switching_the_preference_off_stops_mail_already_queued(smtp, reply, ann):
    ann.email_on_reply = False
    ann.save()

    run_worker()

    assert smtp.messages == []
    assert ann_notice(ann).email_state == Email.SKIPPED


def test_mail_goes_only_to_a_verified_address(smtp, reply, ann):
    ann.emailaddress_set.update(verified=False)

    run_worker()

    assert smtp.messages == []
    assert "no verified email address" in ann_notice(ann).email_error


def test_removal_mail_gives_the_moderators_reason(smtp, post, ann, mo):
    comment = post(ann, "Something rude")
    comment.moderate(mo, "remove", "Please keep it civil.")

    run_worker()

    [message] = smtp.messages
    text = message.get_body(("plain",)).get_content()
    assert "A moderator removed your comment" in message["Subject"]
    assert "Reason: Please keep it civil." in text
    assert "Something rude" in text


# --- One-click unsubscribe --------------------------------------------------------------


def unsubscribe_link(message) -> str:
    return message["List-Unsubscribe"].strip("<>").removeprefix("https://forum.example.org")


def test_a_mail_program_unsubscribes_with_one_post_and_no_session(smtp, reply, ann):
    run_worker()
    link = unsubscribe_link(smtp.messages[0])
    mail_program = Client(enforce_csrf_checks=True)  # no cookies, no CSRF token

    response = mail_program.post(
        link, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 200
    ann.refresh_from_db()
    assert ann.email_on_reply is False
    # Doing it again is harmless.
    assert mail_program.post(link).status_code == 200


def test_opening_the_link_asks_first_so_mail_scanners_unsubscribe_nobody(smtp, reply, ann):
    run_worker()
    link = unsubscribe_link(smtp.messages[0])

    page = Client().get(link)

    assert page.status_code == 200
    assert "emails about replies to your comments" in page.text
    assert "<button" in page.text
    ann.refresh_from_db()
    assert ann.email_on_reply is True


def test_unsubscribing_from_a_followed_section_or_thread_stops_following_it(
    smtp, post, section, ann, ben, dan
):
    Subscription.objects.follow(dan, section=section)
    root = post(ann, "Root")
    Subscription.objects.follow(ben, thread=root)
    post(ann, "Reply in the thread", parent=root)
    run_worker()
    by_recipient = {m["X-Envelope-To"]: m for m in smtp.messages}

    Client().post(unsubscribe_link(by_recipient["dan@example.com"]))
    Client().post(unsubscribe_link(by_recipient["ben@example.com"]))

    assert not Subscription.objects.filter(user__in=[dan, ben]).exists()
    dan.refresh_from_db()
    assert dan.email_on_follow is True  # only that section, not every email


@pytest.mark.parametrize(
    "token",
    ["nonsense", "eyJ1IjoxLCJrIjoicmVwbHkifQ:1vAAAA:forged-signature-0000000000000000", "a" * 999],
)
def test_a_bad_unsubscribe_link_gets_a_clear_message(db, token):
    response = Client().post(f"/unsubscribe/{token}/")

    assert response.status_code == 400
    assert "This unsubscribe link is not valid" in response.text


def test_a_link_for_a_deleted_account_does_nothing_and_says_done(smtp, reply, ann, ben):
    run_worker()
    link = unsubscribe_link(smtp.messages[0])
    ann.delete()

    response = Client().post(link)

    assert response.status_code == 200
    assert "Done." in response.text
    ben.refresh_from_db()
    assert ben.email_on_reply is True  # nobody else's settings change


def test_moderators_who_opted_in_get_a_mail_linking_to_the_review_page(
    smtp, post, ann, settings, eager, premoderate_all
):

    held = post(ann, "Please look at this")

    run_worker()

    [message] = smtp.messages
    assert message["X-Envelope-To"] == "eager@example.com"
    text = message.get_body(("plain",)).get_content()
    review = f"https://forum.example.org/{settings.ADMIN_URL}forum/reviewitem/{held.pk}/change/"
    assert f"Review it: {review}" in text


def test_workers_racing_through_the_outbox_send_each_mail_once(smtp, post, section, ann):
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("a real race needs PostgreSQL's row locks and several connections")
    readers = [make_member(f"reader{n}") for n in range(12)]
    for reader in readers:
        Subscription.objects.follow(reader, section=section)
    post(ann, "News for twelve followers")
    start = Barrier(4)

    def worker(_):
        start.wait()
        try:
            return notifications.send_due_mail(limit=5)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = list(pool.map(worker, range(4)))
    run_worker()  # whatever the four left

    assert sum(o.get("sent", 0) for o in outcomes) >= 12 - 5  # they shared the work
    assert sorted(m["X-Envelope-To"] for m in smtp.messages) == sorted(r.email for r in readers)
    assert set(Notification.objects.values_list("email_state", flat=True)) == {Email.SENT}


def test_a_permanent_refusal_is_not_retried(smtp, reply, ann):
    smtp.unknown.add("ann@example.com")

    run_worker()

    notice = ann_notice(ann)
    assert (notice.email_state, notice.email_attempts) == (Email.FAILED, 1)
    assert "550" in notice.email_error
    assert notice.email_due_at < timezone.now()  # not due again: it is not queued


def test_an_unexpected_error_while_sending_is_recorded_not_stuck(smtp, reply, ann, settings):
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "OPTIONS": {"file_path": "/dev/null/not-a-folder"},
        }
    }

    run_worker()

    notice = ann_notice(ann)
    assert notice.email_state == Email.FAILED
    assert "Could not create" in notice.email_error


def test_unfollowing_before_the_mail_goes_stops_it(smtp, post, section, ann, dan):
    Subscription.objects.follow(dan, section=section)
    post(ann, "News in the section")
    Subscription.objects.unfollow(dan, section=section)

    run_worker()

    assert smtp.messages == []
    assert Notification.objects.get(recipient=dan).email_state == Email.SKIPPED


def test_the_unsubscribe_page_says_what_stops(smtp, post, ann, ben):
    root = post(ann, "Root")
    Subscription.objects.follow(ben, thread=root)
    post(ann, "More", parent=root)
    run_worker()
    [message] = smtp.messages
    link = unsubscribe_link(message)
    assert (
        "Stop following this thread with one click:" in message.get_body(("plain",)).get_content()
    )

    asked = Client().get(link)
    done = Client().post(link)

    assert "Stop following this thread?" in asked.text
    assert "You no longer follow this thread" in done.text
    assert not Subscription.objects.filter(user=ben).exists()
