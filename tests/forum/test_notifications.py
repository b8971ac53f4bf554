"""Who is told about what: the rules of notifications, and the bell that shows them."""

import json

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

import forum.models
from accounts.models import User
from config.prepared import Prepared
from forum.models import (
    Ban,
    Comment,
    ModerationPolicy,
    Notification,
    Refused,
    Report,
    Subscription,
)
from tests.conftest import make_member, make_moderator

Kind, Email = Notification.Kind, Notification.Email


def told(user):
    """(kind, comment body) of every notification the person may see, oldest first."""
    return [
        (n.kind, n.comment.body)
        for n in Notification.objects.filter(recipient=user).shown(user).order_by("pk")
    ]


# --- Replies --------------------------------------------------------------------------


def test_a_reply_tells_the_author_of_the_comment_it_answers(post, ann, ben):
    question = post(ann, "Is this right?")

    post(ben, "Yes.", parent=question)

    assert told(ann) == [(Kind.REPLY, "Yes.")]
    assert Notification.objects.get(recipient=ann).email_state == Email.QUEUED
    assert told(ben) == []


def test_a_notice_is_a_new_notification_but_for_what_it_tells(post, ann, ben):
    """Notices are inserted in SQL (one INSERT ... SELECT), not from Notification():
    every field they do not set holds its default all the same."""
    question = post(ann, "Is this right?")

    reply = post(ben, "Yes.", parent=question)

    notice, blank = Notification.objects.get(recipient=ann), Notification()
    told = {"id", "recipient", "comment", "kind", "created_at", "email_state", "email_due_at"}
    for field in Notification._meta.concrete_fields:
        if field.name not in told:
            assert getattr(notice, field.attname) == getattr(blank, field.attname), field.name
    assert (notice.comment, notice.kind, notice.email_state) == (reply, Kind.REPLY, Email.QUEUED)
    assert notice.email_due_at == notice.created_at


def test_nobody_is_told_about_their_own_comments(post, ann):
    first = post(ann, "A thought.")
    post(ann, "And a second thought.", parent=first)

    assert told(ann) == []


def test_without_the_email_preference_the_notification_is_on_the_site_only(post, ann, ben):
    ann.email_on_reply = False
    ann.save()
    question = post(ann)

    post(ben, "Answer", parent=question)

    assert Notification.objects.get(recipient=ann).email_state == Email.NONE


def test_deep_replies_tell_the_direct_parent_author_once(post, ann, ben):
    """Ann follows her own comment by default; a reply to it is still one notice."""
    root = post(ann, "Root")

    reply = post(ben, "Reply", parent=root)

    assert told(ann) == [(Kind.REPLY, "Reply")]
    post(make_member("eve"), "Deeper", parent=reply)
    assert told(ann) == [(Kind.REPLY, "Reply"), (Kind.THREAD, "Deeper")]
    assert told(ben) == [(Kind.REPLY, "Deeper")]


# --- Following --------------------------------------------------------------------------


def test_followers_of_a_section_hear_of_every_new_comment(post, section, ann, dan):
    Subscription.objects.follow(dan, section=section)

    post(ann, "A new thread")

    assert told(dan) == [(Kind.SECTION, "A new thread")]


def test_following_a_thread_means_every_reply_below_that_comment(post, ann, ben, dan):
    root = post(ann, "Root")
    other = post(ann, "Another thread")
    Subscription.objects.follow(dan, thread=root)

    reply = post(ben, "Level one", parent=root)
    post(ann, "Level two", parent=reply)
    post(ben, "Elsewhere", parent=other)

    assert told(dan) == [(Kind.THREAD, "Level one"), (Kind.THREAD, "Level two")]


def test_one_notice_per_comment_for_the_closest_reason(post, section, ann, ben):
    Subscription.objects.follow(ann, section=section)
    question = post(ann, "Question")  # Ann also follows her own comment

    post(ben, "Answer", parent=question)

    assert told(ann) == [(Kind.REPLY, "Answer")]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="prepared only on PostgreSQL")
def test_who_is_told_is_decided_by_sql_made_once_for_each_shape_of_news(
    settings, monkeypatch, post, section, ann, ben, dan
):
    """forum.models._told_of_comment (config/prepared.py): a reply in a thread, another
    reply deeper, by someone else, to someone else, share one SQL; their values differ."""
    settings.PREPARED_QUERIES_CHECK = False  # the check builds the query each time
    built = []

    def build(*args):
        built.append(args[0])
        return forum.models._told_of_comment(*args)

    build.__qualname__ = "_told_of_comment"
    prepared = Prepared(User, build, rule=forum.models.TOLD_OF_COMMENT.rule)
    monkeypatch.setattr(forum.models, "TOLD_OF_COMMENT", prepared)
    Subscription.objects.follow(dan, section=section)
    question = post(ann, "Question")

    answer = post(ben, "Answer", parent=question)
    post(ann, "Thanks", parent=answer)

    assert told(ann) == [(Kind.REPLY, "Answer")]
    assert told(ben) == [(Kind.REPLY, "Thanks")]
    assert told(dan) == [
        (Kind.SECTION, "Question"),
        (Kind.SECTION, "Answer"),
        (Kind.SECTION, "Thanks"),
    ]
    # A new thread (no thread above it, nobody answered) is one shape, a reply another:
    # each made with two sets of probes, once.
    assert built.count((False, False, False, False)) == 2
    assert built.count((True, True, False, False)) == 2


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's planner")
def test_who_is_told_is_planned_with_each_reason_once_not_once_per_use(
    post, section, ann, ben, dan
):
    """The notices' INSERT uses the kind of news (told_kind) three times; PostgreSQL,
    pulling the recipients' query up into it, planned the kind's subqueries once per
    use: fourteen copies, two-thirds of the statement's time on every post."""
    Subscription.objects.follow(dan, section=section)
    question = post(ann, "Question")
    with CaptureQueriesContext(connection) as sent:
        post(ben, "Answer", parent=question)
    [insert] = [q["sql"] for q in sent if q["sql"].startswith('INSERT INTO "forum_notification"')]

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {insert}")
        plan = json.dumps(cursor.fetchone()[0])
        transaction.set_rollback(True)

    assert plan.count('"SubPlan ') <= 3
    assert told(ann) == [(Kind.REPLY, "Answer")]
    assert told(dan) == [(Kind.SECTION, "Question"), (Kind.SECTION, "Answer")]


def test_posting_follows_the_replies_below_ones_comment_unless_switched_off(post, ann, ben):
    mine = post(ann, "Mine")
    assert Subscription.objects.filter(user=ann, thread=mine).exists()

    ben.follow_own_comments = False
    ben.save()
    his = post(ben, "His")
    assert not Subscription.objects.filter(user=ben, thread=his).exists()


def test_following_twice_keeps_one_subscription(section, dan):
    Subscription.objects.follow(dan, section=section)
    Subscription.objects.follow(dan, section=section)

    assert Subscription.objects.filter(user=dan).count() == 1
    Subscription.objects.unfollow(dan, section=section)
    assert not Subscription.objects.filter(user=dan).exists()


def test_a_subscription_names_a_section_or_a_thread_never_both(post, section, dan):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        Subscription.objects.create(user=dan, section=section, thread=post(dan))
    with pytest.raises(IntegrityError), transaction.atomic():
        Subscription.objects.create(user=dan)


def test_comments_in_a_draft_essay_reach_only_staff(post, section, ann, dan, sam):
    section.essay.is_published = False
    section.essay.save()
    Subscription.objects.follow(dan, section=section)
    Subscription.objects.follow(sam, section=section)

    post(ann, "Draft talk")

    assert told(dan) == []
    assert told(sam) == [(Kind.SECTION, "Draft talk")]


# --- Hidden comments and bans ---------------------------------------------------------


def test_pending_comments_tell_nobody_until_approved_and_then_once(
    post, ann, ben, mo, premoderate_all
):
    question = post(ann, "Question")
    question.moderate(mo, "approve")  # held, like every comment, then approved
    Notification.objects.all().delete()

    answer = post(ben, "Held answer", parent=question)
    assert answer.status == Comment.Status.PENDING
    assert told(ann) == []

    answer.moderate(mo, "approve")
    assert told(ann) == [(Kind.REPLY, "Held answer")]
    answer.moderate(mo, "remove", "Off-topic")
    answer.moderate(mo, "restore")
    assert Notification.objects.filter(recipient=ann).count() == 1


def test_a_comment_hidden_after_it_notified_leaves_the_bell(client, post, ann, ben, mo):
    question = post(ann, "Question")
    answer = post(ben, "Spammy answer", parent=question)
    assert told(ann) == [(Kind.REPLY, "Spammy answer")]

    answer.moderate(mo, "spam")

    assert told(ann) == []
    client.force_login(ann)
    page = client.get("/notifications/")
    assert "Spammy answer" not in page.text
    assert 'class="bell__count"' not in page.text


def test_a_deleted_comment_takes_its_notifications_with_it(post, ann, ben):
    question = post(ann, "Question")
    answer = post(ben, "Oops", parent=question)

    answer.delete_by_author()

    assert not Notification.objects.filter(recipient=ann).shown(ann).exists()


def test_nobody_under_a_ban_is_told_anything(post, section, ann, ben, mo):
    question = post(ann, "Question")
    Ban.objects.create(user=ann, reason="Cooling off", created_by=mo)

    post(ben, "Answer", parent=question)

    assert told(ann) == []


def test_a_banned_authors_comment_tells_nobody_even_when_approved(
    post, ann, ben, mo, premoderate_all
):
    question = post(ann, "Question")
    question.moderate(mo, "approve")
    answer = post(ben, "Held", parent=question)
    Ban.objects.create(user=ben, reason="Spam", created_by=mo)

    answer.moderate(mo, "approve")

    assert told(ann) == []


def test_an_expired_ban_no_longer_silences(post, ann, ben, mo):
    question = post(ann, "Question")
    Ban.objects.create(
        user=ann, created_by=mo, until=timezone.now() - timezone.timedelta(minutes=1)
    )

    post(ben, "Answer", parent=question)

    assert told(ann) == [(Kind.REPLY, "Answer")]


# --- Moderation -----------------------------------------------------------------------


def test_authors_are_told_when_a_moderator_removes_their_comment(post, ann, mo):
    comment = post(ann, "Rude words")

    comment.moderate(mo, "remove", "Please keep it civil.")

    assert told(ann) == [(Kind.REMOVED, "Rude words")]
    assert Notification.objects.get(recipient=ann).email_state == Email.QUEUED
    comment.moderate(mo, "restore")
    assert told(ann) == []  # it is back: the notice no longer applies


def test_no_removal_notice_for_spam_or_when_the_policy_keeps_it_quiet(post, ann, ben, mo):
    post(ann, "Buy now").moderate(mo, "spam")
    policy = ModerationPolicy.current()
    policy.tell_authors_about_removals = False
    policy.save()
    post(ben, "Rude").moderate(mo, "remove", "No")

    assert not Notification.objects.exists()


def test_moderators_who_opt_in_hear_of_new_review_items(post, ann, ben, eager, premoderate_all):
    quiet = make_moderator("quiet")

    post(ann, "Needs a look")

    assert told(eager) == [(Kind.REVIEW, "Needs a look")]
    assert told(quiet) == []


def test_the_first_report_puts_a_comment_in_the_queue_and_tells_moderators_once(
    post, ann, ben, dan, eager
):
    comment = post(ann, "Questionable")

    Report.file(comment, ben, Report.Reason.SPAM)
    Report.file(comment, dan, Report.Reason.SPAM)

    assert told(eager) == [(Kind.REVIEW, "Questionable")]


def test_a_review_notice_goes_once_the_comment_is_dealt_with(post, ann, mo, eager, premoderate_all):
    held = post(ann, "Held")
    assert told(eager) == [(Kind.REVIEW, "Held")]

    held.moderate(mo, "approve")

    assert told(eager) == []


def test_members_who_are_not_moderators_never_get_review_notices(post, ann, ben, premoderate_all):
    ben.email_on_review = True  # set by hand: the form does not offer it to him
    ben.save()

    post(ann, "Held")

    assert told(ben) == []


# --- Mail is queued only when the transaction commits -------------------------------


def test_mail_is_queued_in_the_same_transaction_as_the_notice(post, ann, ben):
    question = post(ann, "Question")

    post(ben, "Answer", parent=question)

    # No task to enqueue after the commit: the row is the outbox.
    notification = Notification.objects.get(recipient=ann)
    assert notification.email_state == Email.QUEUED
    assert notification.email_due_at <= timezone.now()


def test_a_deleted_comment_is_not_answered_and_its_former_author_hears_no_more(post, ann, ben, dan):
    question = post(ann, "Question")
    post(dan, "Keeps the thread alive", parent=question)
    question.delete_by_author()
    assert not Subscription.objects.filter(user=ann).exists()  # she stopped following

    with pytest.raises(Refused, match="Only published comments can be answered"):
        post(ben, "Answer to a deleted comment", parent=question)

    assert told(ann) == [(Kind.REPLY, "Keeps the thread alive")]  # from before


def test_moderators_are_not_told_of_their_own_acts(post, section, ann, ben, eager):
    Subscription.objects.follow(eager, section=section)
    comment = post(ann, "Borderline")
    Notification.objects.filter(recipient=eager).delete()

    Report.file(comment, eager, Report.Reason.OTHER)  # reported by the moderator
    assert told(eager) == []
    comment.moderate(eager, "remove", "No")
    comment.moderate(eager, "restore")  # published again, by the moderator
    assert told(eager) == []


def test_a_banned_author_gets_no_removal_notice(post, ann, mo):
    comment = post(ann, "Spam-ish")
    Ban.objects.create(user=ann, reason="Spam", created_by=mo)

    comment.moderate(mo, "remove", "Spam")

    assert not Notification.objects.filter(recipient=ann).exists()


def test_notices_about_an_essay_unpublished_since_disappear_for_readers(post, section, ann, ben):
    question = post(ann, "Question")
    post(ben, "Answer", parent=question)
    assert told(ann) == [(Kind.REPLY, "Answer")]

    section.essay.is_published = False
    section.essay.save()

    assert told(ann) == []


def test_a_moderator_who_steps_down_no_longer_sees_review_notices(
    post, ann, eager, premoderate_all
):
    post(ann, "Pending secret")
    assert told(eager) == [(Kind.REVIEW, "Pending secret")]

    eager.groups.clear()
    eager = type(eager).objects.get(pk=eager.pk)  # permissions are cached per instance

    assert told(eager) == []


def test_a_comment_back_in_the_queue_is_news_again(post, ann, ben, dan, mo, eager):
    comment = post(ann, "Contested")
    Report.file(comment, ben, Report.Reason.SPAM)
    Notification.objects.filter(recipient=eager).mark_read()
    comment.reports.update(resolved_at=timezone.now(), resolved_by=mo)

    Report.file(comment, dan, Report.Reason.SPAM)

    notice = Notification.objects.get(recipient=eager)
    assert notice.read_at is None
    assert notice.email_state == Email.QUEUED


@pytest.fixture
def postgres_only():
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("a real race needs PostgreSQL's row locks and several connections")


@pytest.mark.django_db(transaction=True)
def test_simultaneous_reports_are_all_kept_and_announce_the_comment_once(
    postgres_only, essay, eager
):
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    from django.db import connection

    section = essay.sections.get(slug="the-deepseek-moment")
    comment, _ = Comment.objects.post(section=section, author=make_member("ann"), body="Hmm")
    reporters = [make_member(f"reporter{n}") for n in range(4)]
    start = Barrier(len(reporters))

    def report(person):
        start.wait()
        try:
            return Report.file(comment, person, Report.Reason.SPAM)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=len(reporters)) as pool:
        outcomes = list(pool.map(report, reporters))

    assert outcomes == [True] * 4
    assert comment.reports.count() == 4
    assert Notification.objects.filter(recipient=eager, kind=Kind.REVIEW).count() == 1
    comment.refresh_from_db()
    assert comment.status == Comment.Status.PENDING  # the threshold of 3 was seen
