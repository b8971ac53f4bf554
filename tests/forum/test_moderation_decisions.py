"""Decisions at the review desk, and taking them back: `Comment.decide` and
`Comment.undo_decision`, the model methods the desk calls (the admin holds no rule).

An undo returns the comment to the review queue exactly as it was (its state, its
open reports), lifts a suspension the decision imposed, and goes on the record. It is
refused when anything happened since, so that it never overwrites someone else's act.
"""

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from accounts.models import Ban
from forum.models import (
    AuthorRecord,
    Comment,
    Decision,
    ModerationLog,
    Notification,
    Refused,
    Report,
    Subscription,
    needs_review,
)

pytestmark = pytest.mark.django_db

Status = Comment.Status


@pytest.fixture
def held(premoderate_all, ann, post):
    """Ann's comment, held for review by the policy (everything is reviewed)."""
    return post(ann, "Held by the policy.")


@pytest.fixture
def reported(ann, ben, post):
    """Ann's published comment that Ben reported (one report: it stays published)."""
    comment = post(ann, "Reported once.")
    Report.file(comment, ben, "off_topic", "Nothing to do with the section.")
    return comment


def entries(comment):
    return list(
        ModerationLog.objects.filter(comment=comment)
        .order_by("pk")
        .values_list("action", "actor__username", "reason")
    )


def open_reports(comment):
    return comment.reports.filter(resolved_at__isnull=True).count()


def test_approving_a_held_comment_publishes_it_and_undo_holds_it_again(mo, held):
    decision = held.decide(mo, "approve")

    assert Comment.objects.get(pk=held.pk).status == Status.PUBLISHED
    assert not needs_review().filter(pk=held.pk).exists()

    held.undo_decision(mo, decision)

    assert Comment.objects.get(pk=held.pk).status == Status.PENDING
    assert needs_review().filter(pk=held.pk).exists()
    assert entries(held) == [
        ("hold", None, "every comment is reviewed"),
        ("approve", "mo", ""),
        ("hold", "mo", "undo: approval taken back"),
    ]


def test_approving_a_reported_comment_keeps_it_and_undo_reopens_the_reports(mo, reported):
    decision = reported.decide(mo, "approve")

    assert Comment.objects.get(pk=reported.pk).status == Status.PUBLISHED
    assert open_reports(reported) == 0
    assert not needs_review().filter(pk=reported.pk).exists()

    reported.undo_decision(mo, decision)

    assert Comment.objects.get(pk=reported.pk).status == Status.PUBLISHED
    report = reported.reports.get()
    assert (report.resolved_at, report.resolved_by, report.note) == (
        None,
        None,
        "Nothing to do with the section.",
    )
    assert needs_review().filter(pk=reported.pk).exists()
    assert [action for action, *_ in entries(reported)] == ["resolve", "hold"]


def test_removing_keeps_the_reason_and_undo_publishes_it_again_without_one(mo, reported):
    decision = reported.decide(mo, "remove", reason="Off-topic")

    removed = Comment.objects.get(pk=reported.pk)
    assert (removed.status, removed.moderation_reason) == (Status.REMOVED, "Off-topic")

    reported.undo_decision(mo, decision)

    back = Comment.objects.get(pk=reported.pk)
    assert (back.status, back.moderation_reason) == (Status.PUBLISHED, "")
    assert open_reports(reported) == 1


def test_spam_then_undo_returns_a_held_comment_to_pending(mo, held):
    decision = held.decide(mo, "spam", reason="spam")
    assert Comment.objects.get(pk=held.pk).status == Status.SPAM

    held.undo_decision(mo, decision)

    assert Comment.objects.get(pk=held.pk).status == Status.PENDING
    assert [a for a, *_ in entries(held)] == ["hold", "spam", "hold"]


def test_suspending_removes_the_comment_and_undo_lifts_the_suspension(mo, ann, held):
    until = timezone.now() + timezone.timedelta(days=7)

    decision = held.decide(mo, "suspend", reason="Spam account", until=until)

    ban = Ban.objects.in_force().get(user=ann)
    assert (ban.reason, ban.until, ban.created_by) == ("Spam account", until, mo)
    assert Comment.objects.get(pk=held.pk).moderation_reason == "Spam account"

    held.undo_decision(mo, decision)

    assert not Ban.objects.in_force().filter(user=ann).exists()
    assert Ban.objects.get(pk=ban.pk).lifted_by == mo  # lifted, and the record stays
    assert Comment.objects.get(pk=held.pk).status == Status.PENDING
    actions = ModerationLog.objects.order_by("pk").values_list("action", flat=True)
    assert list(actions) == ["hold", "ban", "remove", "unban", "hold"]


def test_a_moderator_cannot_suspend_staff_and_nothing_changes(premoderate_all, mo, eager, post):
    theirs = post(eager, "A moderator's comment, held like any other.")

    with pytest.raises(PermissionDenied):
        theirs.decide(mo, "suspend", reason="Spam account")

    assert Comment.objects.get(pk=theirs.pk).status == Status.PENDING
    assert not Ban.objects.filter(user=eager).exists()
    assert not ModerationLog.objects.filter(actor=mo).exists()


def test_an_administrator_can_suspend_staff(premoderate_all, sam, eager, post):
    theirs = post(eager, "Held.")

    assert theirs.decide(sam, "suspend", reason="Abuse of the role") is not None
    assert Ban.objects.in_force().filter(user=eager).exists()


def test_a_comment_decided_by_someone_else_first_is_not_decided_twice(mo, eager, held):
    assert held.decide(eager, "approve") is not None

    assert Comment.objects.get(pk=held.pk).decide(mo, "spam") is None
    assert Comment.objects.get(pk=held.pk).status == Status.PUBLISHED
    assert not ModerationLog.objects.filter(actor=mo).exists()


def test_undo_is_refused_when_another_moderator_acted_since(mo, eager, reported):
    decision = reported.decide(mo, "remove", reason="Off-topic")
    Comment.objects.get(pk=reported.pk).moderate(eager, "restore")

    with pytest.raises(Refused, match=r"eager: restored"):
        reported.undo_decision(mo, decision)

    assert Comment.objects.get(pk=reported.pk).status == Status.PUBLISHED
    assert open_reports(reported) == 0  # eager's restoring stands, reports stay closed


def test_undo_is_refused_when_the_author_edited_since(mo, ann, reported):
    decision = reported.decide(mo, "approve")
    Comment.objects.get(pk=reported.pk).edit("Changed once the reports were closed.", by=ann)

    with pytest.raises(Refused, match="its author changed the comment since"):
        reported.undo_decision(mo, decision)

    assert open_reports(reported) == 0


def test_undo_is_refused_when_the_author_deleted_it_since(mo, ann, held):
    decision = held.decide(mo, "approve")
    Comment.objects.get(pk=held.pk).delete_by_author(by=ann)

    with pytest.raises(Refused, match="deleted since"):
        held.undo_decision(mo, decision)


def test_undo_is_refused_when_the_suspension_was_lifted_since(mo, eager, ann, held):
    decision = held.decide(mo, "suspend", reason="Spam account")
    Ban.objects.get(user=ann).lift(by=eager)

    with pytest.raises(Refused, match="suspension was lifted"):
        held.undo_decision(mo, decision)

    assert Comment.objects.get(pk=held.pk).status == Status.REMOVED


def test_only_the_moderator_who_decided_can_take_it_back(mo, eager, held):
    decision = held.decide(mo, "approve")

    with pytest.raises(Refused, match="not yours"):
        held.undo_decision(eager, decision)

    assert Comment.objects.get(pk=held.pk).status == Status.PUBLISHED


def test_those_told_of_an_approval_no_longer_see_it_once_taken_back(mo, dan, section, held):
    Subscription.objects.follow(dan, section=section)
    decision = held.decide(mo, "approve")  # Dan follows the section: he is told
    assert Notification.objects.shown(dan).count() == 1

    held.undo_decision(mo, decision)

    assert Notification.objects.shown(dan).count() == 0


def test_a_decision_survives_the_session_as_plain_data(mo, held):
    decision = held.decide(mo, "approve")

    assert Decision.from_data(decision.as_data()) == decision
    assert Decision.from_data({"kind": "approve"}) is None
    assert Decision.from_data({**decision.as_data(), "kind": "erase"}) is None


def test_the_authors_record_counts_what_a_moderator_weighs(mo, ben, eve, ann, post):
    for n in range(3):
        post(ann, f"Fine {n}")
    removed = post(ann, "Removed later")
    removed.moderate(mo, "remove", "Off-topic")
    Report.file(post(ann, "Reported"), ben, "spam")

    records = AuthorRecord.of([ann, eve])

    assert records[ann.pk] == AuthorRecord(
        joined=ann.date_joined, published=4, removed=1, reports_against=1
    )
    assert records[eve.pk].suspensions == 1
    assert records[eve.pk].suspended
    assert records[eve.pk].suspended_until is None
