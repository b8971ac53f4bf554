"""One rule, one place: the holes that scattered rules opened, each closed for every path.

Most tests here failed before the rules had one home (Participation, CommentForm,
Comment.objects.visible_to): a suspended member editing, edits that skipped the
moderation policy, removed text leaking through the reply form, staff powers without
a second factor, a moderator suspending an administrator, a 500 on "²". The others
(voting and reporting while suspended, stopping to follow, an administrator's powers,
odd ids in paths) held before too, and are here so that they keep holding.
"""

import uuid

import pytest
from allauth.mfa.totp.internal.auth import (
    TOTP,
    format_hotp_value,
    generate_totp_secret,
    hotp_value,
)
from django.urls import reverse
from django.utils import timezone

from accounts.models import Ban
from forum.models import Comment, ModerationLog, ModerationPolicy, Subscription, Vote
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

Status = Comment.Status
SIX_LINKS = " ".join(f"[shop {n}](https://spam.example/{n})" for n in range(6))


def send(client, section, body="Hello there.", **fields):
    url = reverse("post_comment", args=[section.essay.slug, section.slug])
    return client.post(url, {"body": body, "token": uuid.uuid4()} | fields)


def edit(client, comment, body):
    return client.post(reverse("edit_comment", args=[comment.pk]), {"body": body})


def set_policy(**values):
    policy = ModerationPolicy.current()
    for name, value in values.items():
        setattr(policy, name, value)
    policy.save()


# --- A suspended member takes no part -------------------------------------------------------


def test_a_suspended_member_can_neither_post_nor_edit_nor_delete(client, section, eve):
    [earlier] = eve.comments.all()
    client.force_login(eve)

    posted = send(client, section, body="Buy now")
    edited = edit(client, earlier, "Buy now at https://spam.example")
    deleted = client.post(reverse("delete_comment", args=[earlier.pk]))

    assert (posted.status_code, edited.status_code, deleted.status_code) == (403, 403, 403)
    assert "Your account is suspended" in edited.text
    earlier.refresh_from_db()
    assert (earlier.body, earlier.status) == ("Harmless at first.", Status.PUBLISHED)
    assert eve.comments.count() == 1


def test_a_suspended_member_can_neither_vote_nor_report_nor_follow(client, post, ann, eve):
    comment = post(ann, "Worth reading")
    client.force_login(eve)

    answers = [
        client.post(reverse(name, args=[comment.pk]), data).status_code
        for name, data in (
            ("vote", {}),
            ("report", {"reason": "spam"}),
            ("follow_thread", {"follow": "1"}),
        )
    ]

    assert answers == [403, 403, 403]
    assert not Vote.objects.exists()
    assert not comment.reports.exists()
    assert not Subscription.objects.filter(user=eve, thread=comment).exists()


def test_a_suspended_member_sees_no_edit_or_reply_buttons(client, section, eve):
    [earlier] = eve.comments.all()
    client.force_login(eve)

    page = client.get(section.get_absolute_url()).text

    assert "Harmless at first." in page
    assert reverse("edit_comment", args=[earlier.pk]) not in page
    assert reverse("reply", args=[earlier.pk]) not in page


def test_a_suspended_member_may_still_stop_following(client, section, eve):
    Subscription.objects.follow(eve, section=section)
    client.force_login(eve)

    client.post(f"{section.get_absolute_url()}follow/", {"follow": "0"})

    assert not Subscription.objects.filter(user=eve, section=section).exists()


# --- An edit meets the rules a post meets ---------------------------------------------------


def test_an_edit_into_too_many_links_is_refused_like_the_same_post(client, section, post, ann):
    comment = post(ann, "A clean first comment.")
    client.force_login(ann)

    posted = send(client, section, body=SIX_LINKS)
    edited = edit(client, comment, SIX_LINKS)

    assert (posted.status_code, edited.status_code) == (422, 422)
    assert "New accounts can include at most 2 links" in posted.text
    assert "New accounts can include at most 2 links" in edited.text
    comment.refresh_from_db()
    assert comment.body == "A clean first comment."


def test_an_edit_that_adds_a_watched_word_is_held_like_the_same_post(client, section, post, ann):
    set_policy(watched_words="casino")
    comment = post(ann, "A clean first comment.")
    client.force_login(ann)

    send(client, section, body="Try the casino")
    edit(client, comment, "Try the casino")

    statuses = list(ann.comments.order_by("pk").values_list("status", flat=True))
    assert statuses == [Status.PENDING, Status.PENDING]
    assert ModerationLog.objects.filter(action="hold", comment=comment).exists()
    client.logout()
    assert "Try the casino" not in client.get(section.get_absolute_url()).text


def test_under_premoderation_an_edit_of_an_approved_comment_is_reviewed_again(
    client, post, ann, mo, premoderate_all
):
    comment = post(ann, "Harmless.")
    comment.moderate(mo, "approve")
    client.force_login(ann)

    response = edit(client, comment, "Now with a spam link https://spam.example")

    assert response.status_code == 302
    comment.refresh_from_db()
    assert comment.status == Status.PENDING


def test_an_edit_counts_toward_the_posting_limit(client, section, post, ann):
    set_policy(new_comments_per_minute=2)
    comment = post(ann, "First.")
    client.force_login(ann)

    first = edit(client, comment, "First, again.")
    second = edit(client, comment, "First, once more.")

    assert (first.status_code, second.status_code) == (302, 429)
    assert "Retry-After" in second


def test_a_pending_comments_author_edits_it_from_the_page_and_it_stays_pending(
    client, section, ann, premoderate_all
):
    client.force_login(ann)
    send(client, section, body="Waiting for a moderator.")
    comment = ann.comments.get()

    page = client.get(section.get_absolute_url()).text
    edit_url = reverse("edit_comment", args=[comment.pk])
    assert f'href="{edit_url}"' in page
    response = edit(client, comment, "Still waiting, with a typo fixed.")

    assert response.status_code == 302
    comment.refresh_from_db()
    assert (comment.status, comment.body) == (Status.PENDING, "Still waiting, with a typo fixed.")


# --- Removed text stays removed ----------------------------------------------------------------


@pytest.fixture
def removed(post, ann, ben, mo):
    """Ann's doxxing comment, answered by Ben, then removed by Mo."""
    doxxing = post(ann, "Her home address is 12 Secret Lane.")
    post(ben, "That is not OK.", parent=doxxing)
    doxxing.moderate(mo, "remove", "Personal information")
    return doxxing


def test_the_reply_form_of_a_removed_comment_prints_nothing_of_it(client, removed, dan):
    client.force_login(dan)

    response = client.get(reverse("reply", args=[removed.pk]))

    assert response.status_code == 403
    assert "12 Secret Lane" not in response.text
    assert "/people/ann/" not in response.text


def test_a_reply_sent_to_a_removed_comment_is_refused_without_its_text(
    client, section, removed, dan
):
    client.force_login(dan)

    sent = send(client, section, body="Where?", parent=removed.pk)
    previewed = client.post(
        reverse("preview_comment", args=[section.essay.slug, section.slug]),
        {"body": "Where?", "parent": removed.pk},
    )

    for response in (sent, previewed):
        assert response.status_code in (200, 422)
        assert "12 Secret Lane" not in response.text
        assert "Only published comments can be answered" in response.text
    assert removed.replies.count() == 1


def test_the_author_of_a_removed_comment_cannot_bring_it_back_by_replying(
    client, section, post, ann, mo
):
    lonely = post(ann, "My address is 12 Secret Lane.")
    lonely.moderate(mo, "remove", "Personal information")
    client.force_login(ann)

    response = send(client, section, body="Look above", parent=lonely.pk)

    assert response.status_code == 422
    assert not lonely.replies.exists()
    client.logout()
    assert "12 Secret Lane" not in client.get(section.get_absolute_url()).text


def test_the_thread_page_does_not_name_a_removed_comments_author(client, post, removed, dan):
    answer = removed.replies.get()
    client.force_login(dan)

    page = client.get(reverse("thread", args=[answer.pk])).text

    assert "In reply to a removed comment" in page
    assert "12 Secret Lane" not in page


# --- Staff powers follow the admin's rule ------------------------------------------------------


@pytest.fixture
def two_factor_required(settings):
    settings.STAFF_REQUIRE_2FA = True


def test_staff_signed_in_with_a_password_alone_see_what_readers_see(
    client, section, essay, post, ann, mo, two_factor_required, premoderate_all
):
    post(ann, "Pending words")
    essay.is_published = False
    essay.save()
    client.force_login(mo)

    assert client.get(section.get_absolute_url()).status_code == 404
    essay.is_published = True
    essay.save()
    assert "Pending words" not in client.get(section.get_absolute_url()).text
    assert "Pending words" not in client.get("/search/?q=pending").text


def test_staff_who_passed_the_second_factor_see_everything(
    client, section, post, ann, mo, two_factor_required, premoderate_all
):
    post(ann, "Pending words")
    secret = generate_totp_secret()
    TOTP.activate(mo, secret)
    client.post("/accounts/login/", {"login": "mo", "password": PASSWORD})
    code = format_hotp_value(hotp_value(secret, int(timezone.now().timestamp()) // 30))
    assert client.post("/accounts/2fa/authenticate/", {"code": code}).status_code == 302

    assert "Pending words" in client.get(section.get_absolute_url()).text


# --- Moderators do not reach above themselves ----------------------------------------------------


def test_a_moderator_cannot_suspend_an_administrator(client, sam, mo):
    client.force_login(mo)

    response = client.post(
        reverse("admin:accounts_ban_add"), {"username": "sam", "reason": "Power grab"}
    )

    assert response.status_code == 200  # the form again, with the reason
    assert "Only an administrator can suspend staff" in response.text
    assert not Ban.objects.exists()


def test_removing_and_suspending_spares_staff_above_the_moderator(client, post, sam, ann, mo):
    theirs, mine = post(sam, "An administrator's note"), post(ann, "Spam")
    client.force_login(mo)

    client.post(
        reverse("admin:forum_comment_changelist"),
        {
            "action": "remove_and_ban",
            "_selected_action": [theirs.pk, mine.pk],
            "apply": "yes",
            "reason": "Clean-up",
        },
    )

    assert list(Ban.objects.values_list("user__username", flat=True)) == ["ann"]


def test_removing_all_comments_of_suspended_members_spares_staff_above_the_moderator(
    client, post, sam, ann, mo, eager
):
    post(eager, "A moderator's note")
    post(ann, "Spam")
    bans = [Ban.objects.impose(person, by=sam, reason="Clean-up") for person in (eager, ann)]
    client.force_login(mo)

    client.post(
        reverse("admin:accounts_ban_changelist"),
        {"action": "remove_all_comments", "_selected_action": [ban.pk for ban in bans]},
    )

    assert eager.comments.get().status == Status.PUBLISHED
    assert ann.comments.get().status == Status.REMOVED


def test_a_moderators_clean_up_never_reaches_an_administrator(post, sam, ann, mo):
    post(sam, "An administrator's note")
    post(ann, "Spam")

    removed, spared = Comment.objects.all().remove_all(by=mo, reason="Clean-up")

    assert (removed, spared) == (1, [sam])
    assert sam.comments.get().status == Status.PUBLISHED


def test_an_administrator_may_suspend_staff(sam, mo):
    Ban.objects.impose(mo, by=sam, reason="Stepping down")

    assert mo.write_refusal().startswith("Your account is suspended")


# --- Odd ids are a clear answer, never a 500 ---------------------------------------------------


@pytest.mark.parametrize("value", ["²", "٣", "1.0", "-1", "99999999999999999999", "1\x00"])
def test_an_odd_parent_id_is_a_clear_error(client, section, ann, value):
    client.force_login(ann)

    response = send(client, section, body="Hello", parent=value)

    assert response.status_code == 422
    assert "That is not a valid reference." in response.text
    assert not Comment.objects.exists()


@pytest.mark.parametrize("path", ["/comments/²/", "/comments/99999999999999999999/thread/"])
def test_an_odd_id_in_a_path_is_a_404(client, path):
    assert client.get(path).status_code == 404


# --- What one follows, in an essay unpublished since ---------------------------------------------


def test_what_one_follows_in_an_unpublished_essay_is_no_longer_listed(
    client, essay, section, post, ann, dan
):
    comment = post(ann, "Words in a soon-hidden essay")
    Subscription.objects.follow(dan, section=section)
    Subscription.objects.follow(dan, thread=comment)
    essay.is_published = False
    essay.save()
    client.force_login(dan)

    page = client.get("/notifications/").text

    assert section.heading not in page
    assert "Words in a soon-hidden essay" not in page


def test_the_comment_a_reply_answers_is_read_as_its_viewer_may_see_it(section, post, ann, ben, dan):
    """Comment.objects.one_in (what CommentForm sends a reply to): the same rule as
    every page, its SQL made once per process on PostgreSQL."""
    published = post(ann, "Published.")
    held = post(ann, "Held for review.")
    Comment.objects.filter(pk=held.pk).update(status=Status.PENDING)
    orphaned = post(dan, "Dan's, before he left.")
    dan.delete()

    seen = Comment.objects.one_in(section, ben, published.pk)
    expected = Comment.objects.visible_in(section, ben).with_author().get(pk=published.pk)
    assert (seen.pk, seen.body_html, seen.status, seen.author, seen.shows_text) == (
        expected.pk,
        expected.body_html,
        expected.status,
        ann,
        True,
    )
    assert seen.author.public_name == ann.public_name
    assert Comment.objects.one_in(section, ben, held.pk) is None  # ann's alone, for now
    assert Comment.objects.one_in(section, ann, held.pk).shows_text
    assert Comment.objects.one_in(section, ann, orphaned.pk).author is None
    assert Comment.objects.one_in(section, ann, 999_999_999_999_999_999) is None
    other = section.essay.sections.exclude(pk=section.pk).first()
    assert Comment.objects.one_in(other, ann, published.pk) is None
