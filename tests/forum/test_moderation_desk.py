"""The review desk in the admin: every waiting comment as a card with what a moderator
needs to decide (the text, its context, why it waits, the author's record) and a plain
form for each decision, Undo for the last one. Same sign-in, permissions and look as
the rest of the admin. (The keyboard is desk.js, tested in tests/browser.)"""

import re
from contextlib import contextmanager
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Ban
from forum.models import Comment, ModerationLog, ModerationPolicy, Report, needs_review
from tests.conftest import make_member, make_moderator

pytestmark = pytest.mark.django_db

Status = Comment.Status
DESK = reverse("admin:forum_reviewitem_desk")
DECIDE = reverse("admin:forum_reviewitem_decide")
UNDO = reverse("admin:forum_reviewitem_undo")
JSON = {"HTTP_ACCEPT": "application/json"}
QUOTE = SimpleNamespace(text="the weights are the new source code", before="", after="", anchor="")


@pytest.fixture
def at_the_desk(client, mo):
    """Mo, signed in to the admin."""
    client.force_login(mo)
    return client


@pytest.fixture
def held(premoderate_all, ann, post):
    return post(ann, "Held by the policy, with *emphasis*.")


@contextmanager
def premoderation(setting):
    """The policy's premoderation set to `setting` for a while."""
    policy = ModerationPolicy.current()
    before, policy.premoderation = policy.premoderation, setting
    policy.save()
    yield
    policy.premoderation = before
    policy.save()


@pytest.fixture
def reported(ann, ben, dan, post):
    """Ann's comment, published (whatever the policy), then reported by Ben and Dan."""
    with premoderation(ModerationPolicy.Premoderation.OFF):
        comment = post(ann, "Published, then reported.")
    Report.file(comment, ben, "harassment", "Rude to Dan.")
    Report.file(comment, dan, "off_topic")
    return comment


def decide(client, comment, decision, follow=False, **fields):
    data = {"comment": comment.pk, "decision": decision, **fields}
    return client.post(DECIDE, data, follow=follow)


def card(response, comment):
    """The HTML of one comment's card on the desk."""
    match = re.search(
        rf'<article class="desk-card" id="card-{comment.pk}".*?</article>', response.text, re.S
    )
    assert match, f"no card for comment {comment.pk}"
    return match.group(0)


# --- What a card shows ----------------------------------------------------------------------


def test_a_held_reply_shows_its_text_quote_parent_and_the_rule_that_held_it(
    at_the_desk, premoderate_all, ann, ben, section
):
    parent, _ = Comment.objects.post(section=section, author=ben, body="Ben's **question**.")
    parent.moderate(make_moderator("eager"), "approve")
    reply, _ = Comment.objects.post(
        section=section, author=ann, body="Ann answers *Ben*.", parent=parent, passage=QUOTE
    )

    shown = card(at_the_desk.get(DESK), reply)

    assert "Ann answers <em>Ben</em>." in shown  # the sanitized HTML, as readers see it
    assert "the weights are the new source code" in shown
    assert "In reply to ben" in shown
    assert "Ben&#x27;s question." in shown
    assert "Held by the policy: every comment is reviewed." in shown


def test_a_reported_comment_shows_each_report_with_its_reason_and_note(at_the_desk, reported):
    shown = card(at_the_desk.get(DESK), reported)

    assert "Reported, and published meanwhile." in shown
    assert "<strong>Harassment or abuse</strong>, reported by ben" in shown
    assert "“Rude to Dan.”" in shown
    assert "<strong>Off-topic</strong>, reported by dan" in shown
    assert "Keep, close the reports" in shown


def test_the_authors_record_is_on_the_card(at_the_desk, mo, ben, post, reported):
    post(ann_author := reported.author, "Another published one")
    post(ann_author, "Taken down").moderate(mo, "remove", "Off-topic")
    Ban.objects.impose(
        ann_author, by=mo, reason="Cool off", until=timezone.now() + timedelta(days=3)
    )
    Ban.objects.get().lift(by=mo)
    type(ann_author).objects.filter(pk=ann_author.pk).update(
        date_joined=timezone.now() - timedelta(days=2, hours=1)
    )

    shown = card(at_the_desk.get(DESK), reported)

    for fact in (
        "joined 2 days ago",
        "2 published",
        "1 removed",
        "0 spam",
        "2 reports against",
        "1 suspension<",
    ):
        assert fact in shown, fact


def test_each_card_has_a_plain_form_for_each_decision(at_the_desk, held):
    shown = card(at_the_desk.get(DESK), held)

    assert shown.count(f'action="{DECIDE}"') == 3  # approve and spam; remove; suspend
    assert shown.count("csrfmiddlewaretoken") == 3
    for button in ('value="approve"', 'value="spam"', 'value="remove"', 'value="suspend"'):
        assert button in shown
    assert "Personal attack or harassment" in shown  # the reasons to pick from
    assert '<option value="">until lifted</option>' in shown


def test_staff_authors_cannot_be_suspended_by_a_moderator_so_the_card_says_so(
    at_the_desk, premoderate_all, eager, post
):
    theirs = post(eager, "A moderator's comment, held like any other.")

    shown = card(at_the_desk.get(DESK), theirs)

    assert 'value="suspend"' not in shown
    assert "Only an administrator can suspend staff." in shown


def test_an_empty_queue_says_so(at_the_desk):
    assert "Nothing waits for review." in at_the_desk.get(DESK).text


# --- Who may use it ------------------------------------------------------------------------


def test_moderators_and_administrators_reach_the_desk(client, mo, sam):
    for person in (mo, sam):
        client.force_login(person)
        assert client.get(DESK).status_code == 200


def test_others_get_the_admins_usual_refusal(client, ann, held):
    assert client.get(DESK).status_code == 302  # signed out: to the sign-in page
    client.force_login(ann)
    assert client.get(DESK)["Location"].startswith(reverse("admin:login"))  # not staff
    client.force_login(make_member("clerk", is_staff=True))  # staff, not a moderator
    assert client.get(DESK).status_code == 403
    assert decide(client, held, "approve").status_code == 403
    assert client.post(UNDO, {"comment": held.pk}).status_code == 403
    assert Comment.objects.get(pk=held.pk).status == Status.PENDING


def test_the_page_costs_the_same_queries_for_three_cards_and_for_twenty_five(
    at_the_desk, premoderate_all, eager, ben, section, post
):
    """Every card has a parent, a quote, reports and an author with a record."""
    parent = post(ben, "The comment they all answer.")
    parent.moderate(eager, "approve")

    def queries():
        with CaptureQueriesContext(connection) as captured:
            response = at_the_desk.get(DESK)
        assert response.status_code == 200
        return len(captured), response.text.count('class="desk-card"')

    def wait(count, start):
        """Held by the policy, or published and reported, in turn."""
        for n in range(start, start + count):
            author = make_member(f"author{n}")
            Ban.objects.impose(author, by=eager, reason="An earlier spell").lift(by=eager)
            held = n % 2 == 0
            with premoderation("all" if held else "off"):
                comment, _ = Comment.objects.post(
                    section=section, author=author, body=f"No. {n}", parent=parent, passage=QUOTE
                )
            if not held:
                Report.file(comment, ben, "spam", "Selling watches.")

    empty, cards = queries()  # what any admin page costs, and counting the queue: 5
    assert cards == 0
    wait(3, 0)
    few, cards = queries()
    assert cards == 3
    wait(30, 3)
    many, cards = queries()
    assert cards == 25  # a page

    # The cards (with parents, authors, sections), their open reports with their
    # reporters, and the authors' records (3): five more than an empty desk, however
    # many cards. (Ten in all, on this branch.)
    assert few == many == empty + 5


# --- Deciding without JavaScript -------------------------------------------------------------


def test_approving_goes_on_to_the_next_card_and_offers_undo(at_the_desk, mo, held, reported):
    response = decide(at_the_desk, held, "approve", next=reported.pk)

    assert response.status_code == 302
    assert response["Location"] == f"{DESK}#card-{reported.pk}"
    assert Comment.objects.get(pk=held.pk).status == Status.PUBLISHED
    assert ModerationLog.objects.filter(action="approve", actor=mo, comment=held).exists()
    desk = at_the_desk.get(DESK)
    assert f'id="card-{held.pk}"' not in desk.text
    assert "Approved ann’s comment “Held by the policy, with emphasis.”." in desk.text
    assert f'<input type="hidden" name="comment" value="{held.pk}">' in desk.text  # Undo


def test_keeping_a_reported_comment_closes_its_reports(at_the_desk, mo, reported):
    decide(at_the_desk, reported, "approve")

    assert Comment.objects.get(pk=reported.pk).status == Status.PUBLISHED
    assert not Report.objects.filter(resolved_at__isnull=True).exists()
    assert "Kept ann’s comment “Published, then reported.” and closed 2 reports." in (
        at_the_desk.get(DESK).text
    )


def test_removing_needs_a_reason_picked_or_written(at_the_desk, held):
    refused = decide(at_the_desk, held, "remove", follow=True)

    assert "Choose a reason or write one." in refused.text
    assert Comment.objects.get(pk=held.pk).status == Status.PENDING

    decide(at_the_desk, held, "remove", preset="off_topic", reason="About another essay.")

    removed = Comment.objects.get(pk=held.pk)
    assert removed.status == Status.REMOVED
    assert removed.moderation_reason == "Off-topic: About another essay."


def test_spam_is_recorded_as_spam(at_the_desk, mo, held):
    decide(at_the_desk, held, "spam")

    assert Comment.objects.get(pk=held.pk).status == Status.SPAM
    assert ModerationLog.objects.get(actor=mo).action == "spam"


def test_suspending_from_the_card_removes_the_comment_and_suspends_for_the_time_chosen(
    at_the_desk, mo, ann, held
):
    decide(at_the_desk, held, "suspend", preset="spam", suspend_for="7")

    ban = Ban.objects.in_force().get(user=ann)
    assert ban.reason == "Spam or advertising"
    assert timedelta(days=6, hours=23) < ban.until - timezone.now() <= timedelta(days=7)
    assert Comment.objects.get(pk=held.pk).status == Status.REMOVED
    assert "and suspended ann for a week (Spam or advertising)." in at_the_desk.get(DESK).text


def test_a_suspension_of_staff_is_refused_with_the_reason(
    at_the_desk, premoderate_all, eager, post
):
    theirs = post(eager, "Held.")

    response = decide(at_the_desk, theirs, "suspend", preset="spam", follow=True)

    assert "Only an administrator can suspend staff" in response.text
    assert not Ban.objects.exists()
    assert Comment.objects.get(pk=theirs.pk).status == Status.PENDING


def test_undo_brings_the_comment_back_and_only_once(at_the_desk, mo, held):
    decide(at_the_desk, held, "spam")

    undone = at_the_desk.post(UNDO, {"comment": held.pk}, follow=True)

    assert "Undone: ann’s comment “Held by the policy, with emphasis.” waits for review again." in (
        undone.text
    )
    assert Comment.objects.get(pk=held.pk).status == Status.PENDING
    assert f'id="card-{held.pk}"' in undone.text
    again = at_the_desk.post(UNDO, {"comment": held.pk}, follow=True)
    assert "There is no decision to undo" in again.text
    assert ModerationLog.objects.filter(actor=mo).count() == 2  # the spam, its undo


def test_undo_of_a_suspension_lifts_it(at_the_desk, ann, held):
    decide(at_the_desk, held, "suspend", preset="spam", suspend_for="")

    undone = at_the_desk.post(UNDO, {"comment": held.pk}, follow=True)

    assert "The suspension of ann is lifted." in undone.text
    assert not Ban.objects.in_force().exists()


def test_undo_is_refused_once_someone_else_acted(at_the_desk, eager, held):
    decide(at_the_desk, held, "approve")
    Comment.objects.get(pk=held.pk).moderate(eager, "remove", "Changed my mind")

    refused = at_the_desk.post(UNDO, {"comment": held.pk}, follow=True)

    assert "Not undone: the comment changed since (eager: removed)." in refused.text
    assert Comment.objects.get(pk=held.pk).status == Status.REMOVED


def test_undo_names_the_comment_it_undoes(at_the_desk, held, reported):
    decide(at_the_desk, held, "approve")
    decide(at_the_desk, reported, "approve")

    refused = at_the_desk.post(UNDO, {"comment": held.pk}, follow=True)  # not the last one

    assert "Only your last decision can be undone" in refused.text
    assert Comment.objects.get(pk=held.pk).status == Status.PUBLISHED


def test_a_comment_someone_decided_first_is_left_as_they_decided(at_the_desk, eager, held):
    Comment.objects.get(pk=held.pk).moderate(eager, "approve")

    response = decide(at_the_desk, held, "spam", follow=True)

    assert "Someone decided first: ann’s comment" in response.text
    assert "is published now." in response.text
    assert Comment.objects.get(pk=held.pk).status == Status.PUBLISHED


@pytest.mark.parametrize(
    "form",
    [
        {},
        {"comment": "x", "decision": "approve"},
        {"comment": "٣", "decision": "approve"},
        {"comment": "1" * 30, "decision": "approve"},
        {"decision": "erase"},
        {"decision": "suspend", "preset": "spam", "suspend_for": "forever"},
    ],
)
def test_bad_input_gets_a_message_never_a_500(at_the_desk, held, form):
    data = {"comment": held.pk, **form} if "comment" not in form and form else form

    response = at_the_desk.post(DECIDE, data, follow=True)

    assert response.status_code == 200
    assert response.context["messages"]
    assert Comment.objects.get(pk=held.pk).status == Status.PENDING
    assert at_the_desk.post(DECIDE, data, **JSON).status_code == 400


def test_a_comment_that_no_longer_exists_is_a_message(at_the_desk):
    response = at_the_desk.post(DECIDE, {"comment": 999_999, "decision": "approve"}, **JSON)

    assert (response.status_code, response.json()["message"]) == (
        404,
        "That comment no longer exists.",
    )


def test_a_page_past_the_end_shows_the_last_and_a_get_to_decide_goes_back(at_the_desk, held):
    assert at_the_desk.get(f"{DESK}?page=99").status_code == 200
    assert at_the_desk.get(f"{DESK}?page=x").status_code == 200
    assert at_the_desk.get(DECIDE)["Location"] == DESK


# --- The same, as desk.js asks: JSON ---------------------------------------------------------


def test_desk_js_gets_what_the_card_and_the_undo_bar_say(at_the_desk, reported):
    reply = at_the_desk.post(DECIDE, {"comment": reported.pk, "decision": "approve"}, **JSON).json()

    assert reply == {
        "ok": True,
        "message": "Kept ann’s comment “Published, then reported.” and closed 2 reports.",
        "comment": reported.pk,
        "outcome": "Kept; 2 reports closed",
    }
    undone = at_the_desk.post(UNDO, {"comment": reported.pk}, **JSON).json()
    assert (undone["ok"], undone["comment"]) == (True, reported.pk)
    assert needs_review().filter(pk=reported.pk).exists()


def test_desk_js_hears_when_someone_else_decided_first(at_the_desk, eager, held):
    Comment.objects.get(pk=held.pk).moderate(eager, "spam")

    response = at_the_desk.post(DECIDE, {"comment": held.pk, "decision": "approve"}, **JSON)

    assert response.status_code == 409
    assert response.json()["gone"] is True


# --- The rest of the moderation admin, in words ----------------------------------------------


def test_the_index_leads_to_the_desk(at_the_desk, held):
    index = at_the_desk.get(reverse("admin:index")).text

    assert f'<a href="{DESK}"><strong>1 comment awaits review</strong></a>' in index


def test_the_queue_list_counts_comments_to_review_not_review_queue(at_the_desk, held, reported):
    page = at_the_desk.get(reverse("admin:forum_reviewitem_changelist")).text

    assert "2 comments to review" in page
    assert "2 review queue" not in page
    assert "<h1>Comments waiting for review</h1>" in page
    assert f'href="{DESK}"' in page
    assert "delete_selected" not in page


def test_list_actions_speak_of_the_selected_comments(at_the_desk, held):
    page = at_the_desk.get(reverse("admin:forum_comment_changelist")).text

    assert "Approve the selected comments (publish)" in page
    assert "Remove the selected comments, with a reason" in page


def test_a_comment_page_has_its_acts_as_buttons_and_no_save(at_the_desk, held):
    url = reverse("admin:forum_comment_change", args=[held.pk])

    page = at_the_desk.get(url).text

    buttons = re.findall(r'name="CHANGE_FORM-action" value="(\w+)">([^<]+)</button>', page)
    assert buttons == [
        ("approve", "Approve"),
        ("remove", "Remove…"),
        ("mark_spam", "Mark as spam"),
        ("remove_and_ban", "Remove and suspend the author…"),
    ]
    assert 'name="_save"' not in page
    assert 'name="_continue"' not in page


def test_a_removed_comment_page_offers_to_restore_and_a_published_one_to_pin(
    at_the_desk, mo, ann, post
):
    removed = post(ann, "Gone")
    removed.moderate(mo, "remove", "Off-topic")
    published = post(ann, "Here")

    def buttons(comment):
        page = at_the_desk.get(reverse("admin:forum_comment_change", args=[comment.pk])).text
        return re.findall(r'name="CHANGE_FORM-action" value="(\w+)"', page)

    assert buttons(removed) == ["restore", "mark_spam"]
    assert buttons(published) == ["remove", "mark_spam", "remove_and_ban", "pin"]


def test_a_button_on_the_comment_page_acts_and_returns_to_it(at_the_desk, mo, held):
    url = reverse("admin:forum_comment_change", args=[held.pk])

    response = at_the_desk.post(url, {"CHANGE_FORM-action": "approve", "_selected_action": held.pk})

    assert (response.status_code, response["Location"]) == (302, url)
    assert Comment.objects.get(pk=held.pk).status == Status.PUBLISHED
    assert "1 comment approved." in at_the_desk.get(url).text


def test_removing_from_the_comment_page_asks_why_then_removes(at_the_desk, held):
    url = reverse("admin:forum_comment_change", args=[held.pk])
    action = {"CHANGE_FORM-action": "remove", "_selected_action": held.pk}

    asked = at_the_desk.post(url, action)
    assert "Remove 1 comment" in asked.text
    assert 'name="CHANGE_FORM-action" value="remove"' in asked.text

    at_the_desk.post(url, {**action, "apply": "yes", "preset": "hate"})

    removed = Comment.objects.get(pk=held.pk)
    assert (removed.status, removed.moderation_reason) == (
        Status.REMOVED,
        "Hateful or discriminatory",
    )


def test_the_policy_link_opens_the_one_policy_page(at_the_desk):
    response = at_the_desk.get(reverse("admin:forum_moderationpolicy_changelist"), follow=True)

    assert response.redirect_chain[-1][0] == reverse(
        "admin:forum_moderationpolicy_change", args=[1]
    )
    assert "Report threshold" in response.text


def test_the_record_shows_an_excerpt_and_links_to_the_comment(at_the_desk, mo, ann, held):
    held.moderate(mo, "approve")

    page = at_the_desk.get(reverse("admin:forum_moderationlog_changelist")).text

    link = reverse("admin:forum_comment_change", args=[held.pk])
    assert (
        f'<a href="{link}">comment {held.pk} by ann: “Held by the policy, with *emphasis*.”</a>'
        in page
    )
    assert "2 record entries" in page
    assert "the site’s rules" in page  # who held it


def test_closing_a_discussion_says_so(at_the_desk, section):
    response = at_the_desk.post(
        reverse("admin:forum_sectiondiscussion_change", args=[section.pk]),
        {"discussion_closed": "on"},
        follow=True,
    )

    assert f"The discussion of the section “{section.heading}” is closed." in response.text


def test_the_reports_list_names_each_comment_by_its_author_and_words(at_the_desk, reported):
    page = at_the_desk.get(reverse("admin:forum_report_changelist")).text

    link = reverse("admin:forum_comment_change", args=[reported.pk])
    assert f'<a href="{link}">ann’s comment “Published, then reported.”</a>' in page
    assert "Rude to Dan." in page
