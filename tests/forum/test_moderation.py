"""What moderation means on the site: who sees what, the policy, reports and bans."""

import re
import uuid

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Ban
from forum.models import Comment, ModerationLog, ModerationPolicy, Report
from tests.conftest import make_member

pytestmark = pytest.mark.django_db

Status = Comment.Status


def ids_on(html):
    return [int(n) for n in re.findall(r'<article class="comment[^"]*" id="c-(\d+)"', html)]


def page(client, section, user=None):
    client.logout()
    if user:
        client.force_login(user)
    return client.get(section.get_absolute_url()).text


def send(client, section, body="Hello there.", **fields):
    url = reverse("post_comment", args=[section.essay.slug, section.slug])
    return client.post(url, {"body": body, "token": uuid.uuid4()} | fields)


def set_policy(**values):
    policy = ModerationPolicy.current()
    for name, value in values.items():
        setattr(policy, name, value)
    policy.save()


# --- Who sees what -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "anonymous", "author", "other", "moderator"),
    [
        (Status.PUBLISHED, True, True, True, True),
        (Status.PENDING, False, True, False, True),
        (Status.REMOVED, False, True, False, True),
        (Status.SPAM, False, True, False, True),
    ],
)
def test_each_state_is_visible_to_the_right_people(
    client, section, ann, ben, mo, post, status, anonymous, author, other, moderator
):
    comment = post(ann, "The words in question")
    Comment.objects.filter(pk=comment.pk).update(status=status)

    seen = {
        "anonymous": "The words in question" in page(client, section),
        "author": "The words in question" in page(client, section, ann),
        "other": "The words in question" in page(client, section, ben),
        "moderator": "The words in question" in page(client, section, mo),
    }

    assert seen == {
        "anonymous": anonymous,
        "author": author,
        "other": other,
        "moderator": moderator,
    }


def test_the_author_sees_a_pending_comment_marked_as_awaiting_review(client, section, ann, post):
    comment = post(ann, "Mine")
    Comment.objects.filter(pk=comment.pk).update(status=Status.PENDING)

    html = page(client, section, ann)

    assert "Awaiting review: only you and the moderators can see this" in html


def test_a_removed_comment_with_replies_leaves_a_placeholder(client, section, ann, ben, mo, post):
    removed = post(ann, "Rude words")
    reply = post(ben, "A calm answer", parent=removed)
    removed.moderate(mo, "remove", "insults")

    html = page(client, section, ben)

    assert ids_on(html) == [removed.pk, reply.pk]
    assert "[removed by a moderator]" in html
    assert "Rude words" not in html
    assert "A calm answer" in html


def test_a_removed_comment_without_replies_vanishes(client, section, ann, mo, post):
    removed = post(ann, "Rude words")
    removed.moderate(mo, "remove", "insults")

    html = page(client, section)

    assert ids_on(html) == []
    assert client.get(reverse("comment", args=[removed.pk])).status_code == 404


def test_the_author_is_told_why_their_comment_was_removed_if_the_policy_says_so(
    client, section, ann, mo, post
):
    removed = post(ann, "Rude words")
    removed.moderate(mo, "remove", "insults are not allowed here")

    html = page(client, section, ann)
    assert "Removed by a moderator. Reason: insults are not allowed here" in html

    set_policy(tell_authors_about_removals=False)
    html = page(client, section, ann)
    assert "insults are not allowed here" not in html
    assert "Rude words" not in html


def test_hidden_comments_count_nowhere(client, essay, section, ann, mo, post):
    post(ann, "Visible")
    for status in (Status.PENDING, Status.REMOVED, Status.SPAM):
        hidden = post(ann, f"Hidden {status}")
        Comment.objects.filter(pk=hidden.pk).update(status=status)

    assert (
        'aria-label="1 comment on “The DeepSeek Moment”"'
        in client.get(essay.get_absolute_url()).text
    )
    profile = client.get("/people/ann/").text
    assert "Visible" in profile
    assert "Hidden" not in profile
    assert "1 thread" in page(client, section)


# --- The policy ----------------------------------------------------------------------------


def test_with_pre_moderation_of_everything_a_comment_waits_for_approval(
    client, section, ann, ben, mo
):
    set_policy(premoderation=ModerationPolicy.Premoderation.ALL)
    client.force_login(ann)

    response = send(client, section, body="Please approve me")
    followed = client.get(response["Location"], follow=True)

    comment = Comment.objects.get()
    assert comment.status == Status.PENDING
    assert "will appear once a moderator approves it" in followed.text
    assert "Please approve me" not in page(client, section, ben)
    assert ModerationLog.objects.filter(action="hold", comment=comment).exists()

    comment.moderate(mo, "approve")
    assert "Please approve me" in page(client, section, ben)


def test_pre_moderation_of_new_accounts_holds_only_their_first_comments(client, section, ann, mo):
    set_policy(premoderation=ModerationPolicy.Premoderation.NEW, premoderate_first=1)
    client.force_login(ann)

    send(client, section, body="First")
    first = Comment.objects.get(body="First")
    assert first.status == Status.PENDING
    first.moderate(mo, "approve")
    send(client, section, body="Second")

    assert Comment.objects.get(body="Second").status == Status.PUBLISHED


@pytest.mark.parametrize(
    ("first", "reason"),
    [
        (1, "the first comment of a new account"),
        (3, "one of the first 3 comments of a new account"),
    ],
)
def test_the_hold_reason_is_worded_for_one_and_for_many(client, section, ann, first, reason):
    set_policy(premoderation=ModerationPolicy.Premoderation.NEW, premoderate_first=first)
    client.force_login(ann)

    send(client, section, body="Hello")

    assert ModerationLog.objects.get(action="hold").reason == reason


def test_watched_words_send_a_comment_to_review(client, section, ann):
    set_policy(watched_words="casino\nbuy now")
    client.force_login(ann)

    send(client, section, body="Great CASINO offers, buy now!")

    comment = Comment.objects.get()
    assert comment.status == Status.PENDING
    log = ModerationLog.objects.get(action="hold")
    assert log.reason == "uses watched words: casino, buy now"
    assert log.actor is None


def test_new_accounts_post_at_most_a_few_comments_a_minute(client, section, ann):
    set_policy(new_comments_per_minute=2)
    client.force_login(ann)

    statuses = [send(client, section, body=f"Quick {n}").status_code for n in range(3)]

    assert statuses == [302, 302, 429]
    response = send(client, section, body="Again")
    assert "You are posting very quickly" in response.text
    # Once the oldest of the two leaves the minute: at most 60 s, at least 1.
    assert 1 <= int(response["Retry-After"]) <= 60
    assert Comment.objects.count() == 2


def test_older_accounts_have_the_daily_limit(client, section, ann):
    ann.date_joined = timezone.now() - timezone.timedelta(days=60)
    ann.save()
    set_policy(comments_per_day=3, comments_per_minute=100)
    client.force_login(ann)

    for n in range(3):
        assert send(client, section, body=f"Daily {n}").status_code == 302
    response = send(client, section, body="One too many")

    assert response.status_code == 429
    assert "limit of 3 comments and edits" in response.text
    assert 86_000 < int(response["Retry-After"]) <= 86_400


def test_new_accounts_may_include_only_a_few_links(client, section, ann):
    set_policy(new_account_max_links=1)
    client.force_login(ann)

    response = send(client, section, body="See https://a.example.org and https://b.example.org")

    assert response.status_code == 422
    assert "at most 1 links" in response.text
    assert send(client, section, body="See https://a.example.org").status_code == 302


def test_a_pinned_comment_leads_whatever_the_sort(client, section, ann, mo, post):
    first = post(ann, "First")
    pinned = post(ann, "Important")
    pinned.set_pinned(mo, True)

    for sort in ("oldest", "newest", "top"):
        html = client.get(f"{section.get_absolute_url()}?sort={sort}").text
        assert ids_on(html)[0] == pinned.pk, sort
    assert first.pk in ids_on(html)
    assert ModerationLog.objects.filter(action="pin", comment=pinned).exists()


# --- Reports ---------------------------------------------------------------------------------


def report(client, comment, reason="spam", note=""):
    return client.post(reverse("report", args=[comment.pk]), {"reason": reason, "note": note})


def test_a_reader_reports_a_comment_once(client, ann, ben, post):
    comment = post(ann, "Suspicious")
    client.force_login(ben)

    assert client.get(reverse("report", args=[comment.pk])).status_code == 200
    assert report(client, comment).status_code == 302
    again = client.get(reverse("report", args=[comment.pk]), follow=True)

    assert Report.objects.count() == 1
    assert "You have already reported this comment" in again.text


def test_other_needs_a_note_and_nobody_reports_their_own_comment(client, ann, ben, post):
    comment = post(ann, "Mine")
    client.force_login(ben)
    response = report(client, comment, reason="other")
    assert response.status_code == 422
    assert "Please say what is wrong." in response.text

    client.force_login(ann)
    assert report(client, comment).status_code == 403
    assert not Report.objects.exists()


def test_enough_reports_hide_a_comment_until_a_moderator_decides(client, section, ann, post):
    set_policy(report_threshold=3)
    comment = post(ann, "Contested")
    readers = [make_member(f"reader{n}") for n in range(3)]

    for n, reader in enumerate(readers):
        client.force_login(reader)
        report(client, comment, reason="harassment")
        comment.refresh_from_db()
        assert comment.status == (Status.PENDING if n == 2 else Status.PUBLISHED)

    assert "Contested" not in page(client, section)
    assert "Contested" in page(client, section, ann)  # the author still sees it, pending
    author_view = page(client, section, ann)
    assert "reader0" not in author_view  # and never learns who reported


def test_unverified_members_cannot_report(client, ann, cal, post):
    comment = post(ann, "Fine")
    client.force_login(cal)

    assert report(client, comment).status_code == 403
    assert not Report.objects.exists()


# --- Bans ------------------------------------------------------------------------------------


def test_a_banned_member_reads_but_cannot_post_vote_or_report(client, section, ann, ben, mo, post):
    comment = post(ann, "A comment")
    Ban.objects.create(user=ben, reason="repeated abuse", created_by=mo)
    client.force_login(ben)

    assert client.get(section.get_absolute_url()).status_code == 200
    posted = send(client, section, body="Let me in")
    voted = client.post(reverse("vote", args=[comment.pk]))
    reported = report(client, comment)

    assert posted.status_code == 403
    assert "Your account is suspended" in posted.text
    assert "repeated abuse" in posted.text
    assert voted.status_code == 403
    assert reported.status_code == 403
    assert Comment.objects.count() == 1


def test_a_ban_ends_when_it_expires_or_is_lifted(client, section, ben, mo):
    ban = Ban.objects.create(user=ben, reason="cool off", created_by=mo)
    client.force_login(ben)
    assert send(client, section).status_code == 403

    ban.until = timezone.now() - timezone.timedelta(minutes=1)
    ban.save()
    client.force_login(ben)  # a new request, a fresh look at the bans
    assert send(client, section, body="Back").status_code == 302

    Ban.objects.create(user=ben, reason="again", created_by=mo, lifted_at=timezone.now())
    assert send(client, section, body="Still fine").status_code == 302
