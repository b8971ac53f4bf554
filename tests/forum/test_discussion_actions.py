"""Editing, deleting and voting: each allowed only to the right person."""

import re

import pytest
from django.contrib.auth.models import AnonymousUser
from django.urls import reverse

from forum.models import Comment, CommentRevision, Vote
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


# --- Editing ----------------------------------------------------------------------------


def test_an_author_edits_a_comment_which_is_marked_edited_and_keeps_its_history(client, ann, post):
    comment = post(ann, "First words")
    client.force_login(ann)

    response = client.post(reverse("edit_comment", args=[comment.pk]), {"body": "Better *words*"})

    assert response.status_code == 302
    comment.refresh_from_db()
    assert comment.body_html == "<p>Better <em>words</em></p>"
    assert comment.edited_at is not None
    assert list(CommentRevision.objects.values_list("body", flat=True)) == ["First words"]
    page = client.get(comment.section.get_absolute_url()).text
    assert '<span class="comment__edited"' in page


def test_saving_an_unchanged_comment_records_no_edit(client, ann, post):
    comment = post(ann, "Same")
    client.force_login(ann)

    client.post(reverse("edit_comment", args=[comment.pk]), {"body": "Same"})

    comment.refresh_from_db()
    assert comment.edited_at is None
    assert not CommentRevision.objects.exists()


def test_nobody_else_may_edit_or_delete_a_comment(client, ann, ben, post):
    comment = post(ann, "Mine")
    client.force_login(ben)

    assert client.get(reverse("edit_comment", args=[comment.pk])).status_code == 403
    assert (
        client.post(reverse("edit_comment", args=[comment.pk]), {"body": "Hacked"}).status_code
        == 403
    )
    assert client.post(reverse("delete_comment", args=[comment.pk])).status_code == 403
    comment.refresh_from_db()
    assert comment.body == "Mine"


def test_readers_without_an_account_are_sent_to_sign_in_for_every_action(client, ann, post):
    comment = post(ann, "Mine")

    for name in ("edit_comment", "delete_comment", "vote", "unvote", "reply"):
        response = client.post(reverse(name, args=[comment.pk]))
        assert response.status_code == 302, name
        assert response["Location"].startswith("/accounts/login/"), name
    assert Comment.objects.get().body == "Mine"


def test_an_edit_cannot_empty_a_comment(client, ann, post):
    comment = post(ann, "Keep me")
    client.force_login(ann)

    response = client.post(reverse("edit_comment", args=[comment.pk]), {"body": "  "})

    assert response.status_code == 422
    assert "delete it instead" in response.text


def test_with_htmx_an_edit_returns_just_the_new_body(client, ann, post):
    comment = post(ann, "Old")
    client.force_login(ann)

    response = client.post(
        reverse("edit_comment", args=[comment.pk]), {"body": "New"}, headers={"HX-Request": "true"}
    )

    assert response.text.strip().startswith(f'<div class="comment__body" id="c-{comment.pk}-body">')
    assert "<p>New</p>" in response.text


# --- Deleting ---------------------------------------------------------------------------


def test_a_comment_with_replies_leaves_a_placeholder(client, ann, ben, post):
    comment = post(ann, "Regrettable")
    reply = post(ben, "A reply", parent=comment)
    client.force_login(ann)

    response = client.post(reverse("delete_comment", args=[comment.pk]))

    assert response.status_code == 302
    comment.refresh_from_db()
    assert comment.is_deleted
    assert comment.body == ""
    assert comment.body_html == ""
    page = client.get(comment.section.get_absolute_url()).text
    assert "Regrettable" not in page
    assert '<p class="comment__placeholder">[deleted]</p>' in page
    assert "A reply" in page
    assert Comment.objects.get(pk=reply.pk).parent_id == comment.pk


def shown_to_readers(comment) -> bool:
    return Comment.objects.visible_to(AnonymousUser()).filter(pk=comment.pk).exists()


def test_a_comment_without_replies_disappears(client, ann, post):
    comment = post(ann, "Gone soon")
    client.force_login(ann)

    client.post(reverse("delete_comment", args=[comment.pk]))

    assert not shown_to_readers(comment)
    assert Comment.objects.get().body == ""  # the row stays, for the posting limits
    assert "Gone soon" not in client.get(comment.section.get_absolute_url()).text


def test_a_placeholder_left_without_replies_disappears_too(client, ann, ben, post):
    comment = post(ann, "Parent")
    reply = post(ben, "Child", parent=comment)
    client.force_login(ann)
    client.post(reverse("delete_comment", args=[comment.pk]))
    client.force_login(ben)

    client.post(reverse("delete_comment", args=[reply.pk]))

    assert not shown_to_readers(comment)
    assert not shown_to_readers(reply)


def test_deleting_asks_first_without_javascript(client, ann, post):
    comment = post(ann, "Sure?")
    client.force_login(ann)

    page = client.get(reverse("delete_comment", args=[comment.pk]))

    assert page.status_code == 200
    assert "Delete your comment?" in page.text
    assert Comment.objects.exists()


# --- Voting -----------------------------------------------------------------------------


def test_a_member_upvotes_once_and_can_withdraw(client, ann, ben, post):
    comment = post(ann, "Good point")
    client.force_login(ben)

    client.post(reverse("vote", args=[comment.pk]))
    client.post(reverse("vote", args=[comment.pk]))  # a second vote changes nothing
    comment.refresh_from_db()
    assert comment.score == 1
    assert Vote.objects.count() == 1

    client.post(reverse("unvote", args=[comment.pk]))
    client.post(reverse("unvote", args=[comment.pk]))
    comment.refresh_from_db()
    assert comment.score == 0
    assert not Vote.objects.exists()


def test_nobody_votes_on_their_own_comment(client, ann, post):
    comment = post(ann, "Vote for me")
    client.force_login(ann)

    response = client.post(reverse("vote", args=[comment.pk]))

    assert response.status_code == 403
    assert Comment.objects.get().score == 0
    assert "Upvote" not in client.get(comment.section.get_absolute_url()).text


def test_an_unverified_member_cannot_vote(client, ann, cal, post):
    comment = post(ann, "Vote")
    client.force_login(cal)

    assert client.post(reverse("vote", args=[comment.pk])).status_code == 403
    assert not Vote.objects.exists()


def test_votes_only_by_post(client, ann, ben, post):
    comment = post(ann, "Vote")
    client.force_login(ben)

    assert client.get(reverse("vote", args=[comment.pk])).status_code == 405
    assert not Vote.objects.exists()


def test_with_htmx_a_vote_returns_the_updated_control(client, ann, ben, post):
    comment = post(ann, "Vote")
    client.force_login(ben)

    response = client.post(reverse("vote", args=[comment.pk]), headers={"HX-Request": "true"})

    assert response.text.strip().startswith(f'<div class="vote" id="c-{comment.pk}-vote">')
    assert "1 point" in response.text
    assert 'aria-pressed="true"' in response.text


def test_a_members_buttons_share_the_pages_one_form_and_its_token(client, ann, ben, post):
    """No form (and CSRF token) per comment: every upvote and follow button submits
    the page's form "acts" to its own address."""
    first = post(ann, "One")
    post(ann, "Two", parent=first)
    client.force_login(ben)

    page = client.get(first.section.get_absolute_url()).text

    assert (
        len(
            re.findall(
                r'<form id="acts" method="post" hidden><input type="hidden" '
                r'name="csrfmiddlewaretoken" value="[^"]+"></form>',
                page,
            )
        )
        == 1
    )
    threads = page[page.index('<ol class="threads"') :]
    assert "csrfmiddlewaretoken" not in threads.split('<li class="load-more"')[0]
    buttons = re.findall(r"<button [^>]*formaction=[^>]*>", threads)
    assert len(buttons) == 4  # an upvote and a follow on each
    assert all('form="acts"' in button for button in buttons)


def test_no_comment_can_borrow_the_pages_form_and_its_token(client, ann, ben, post):
    """The page's form holds a CSRF token and has an id: a button in someone's text
    naming it would post anywhere on the site as the reader. Comments' markup allows
    no form controls (essays.markup.USER_TAGS), as written or as Markdown's HTML."""
    trap = '<button form="acts" formaction="/accounts/delete/">Read more</button>'
    comment = post(ann, f"{trap}\n\n<input form=acts formaction=/accounts/delete/ type=submit>")
    client.force_login(ben)

    page = client.get(comment.section.get_absolute_url()).text

    assert re.findall(r"<(?:button|input)[^>]*/accounts/delete/", page) == []
    assert "&lt;button form=&quot;acts&quot;" in page  # shown as text, harmless


def test_a_reader_gets_no_actions_form(client, ann, post):
    comment = post(ann, "One")

    page = client.get(comment.section.get_absolute_url()).text

    assert 'id="acts"' not in page
    assert "formaction" not in page


# --- Account deletion, now that people write ---------------------------------------------


def reauthenticated(client, user):
    client.force_login(user)
    response = client.get("/accounts/delete/")
    client.post(response["Location"], {"password": PASSWORD})


def test_deleting_an_account_can_keep_comments_as_deleted_user(client, ann, ben, post):
    kept = post(ann, "Ann's view")
    post(ben, "Ben's answer", parent=kept)
    Vote.objects.cast(ann, Comment.objects.get(body="Ben's answer"))
    reauthenticated(client, ann)

    client.post("/accounts/delete/", {"comments": "keep", "confirm": "on"})

    kept.refresh_from_db()
    assert kept.author is None
    assert kept.body == "Ann's view"
    assert Comment.objects.get(body="Ben's answer").score == 0  # her vote went with her
    page = client.get(kept.section.get_absolute_url()).text
    assert '<span class="comment__author">deleted user</span>' in page
    assert "s view</p>" in page


def test_deleting_an_account_can_erase_comments_leaving_others_replies(client, ann, ben, post):
    answered = post(ann, "Ann's answered view")
    alone = post(ann, "Ann's lonely view")
    post(ben, "Ben's answer", parent=answered)
    reauthenticated(client, ann)

    client.post("/accounts/delete/", {"comments": "erase", "confirm": "on"})

    assert not shown_to_readers(alone)
    alone.refresh_from_db()
    assert alone.body == ""
    answered.refresh_from_db()
    assert answered.is_deleted
    assert answered.body == ""
    assert Comment.objects.filter(body="Ben's answer", author=ben).exists()
    assert "answered view" not in client.get(answered.section.get_absolute_url()).text


# --- Edge cases a review found ------------------------------------------------------------


def test_erasing_an_account_whose_placeholder_cascades_does_not_crash(client, ann, post):
    parent = post(ann, "Parent")
    post(ann, "My own reply", parent=parent)
    parent.delete_by_author()  # a placeholder, because of the reply
    reauthenticated(client, ann)

    response = client.post("/accounts/delete/", {"comments": "erase", "confirm": "on"})

    assert response.status_code == 302
    assert not Comment.objects.exclude(body="").exists()
    assert not any(shown_to_readers(comment) for comment in Comment.objects.all())


def test_deleting_a_member_any_way_takes_back_their_upvotes(ann, ben, post):
    comment = post(ann, "Liked")
    Vote.objects.cast(ben, comment)

    ben.delete()  # as the admin would

    comment.refresh_from_db()
    assert comment.score == 0


@pytest.mark.parametrize("closed", ["section", "essay"])
def test_edits_and_votes_stop_when_the_discussion_closes(client, section, ann, ben, post, closed):
    comment = post(ann, "Before closing")
    target = section if closed == "section" else section.essay
    target.discussion_closed = True
    target.save()

    client.force_login(ann)
    assert (
        client.post(reverse("edit_comment", args=[comment.pk]), {"body": "After"}).status_code
        == 403
    )
    client.force_login(ben)
    assert client.post(reverse("vote", args=[comment.pk])).status_code == 403
    comment.refresh_from_db()
    assert (comment.body, comment.score) == ("Before closing", 0)


def test_with_htmx_an_edit_with_errors_keeps_its_place_on_the_page(client, ann, post):
    comment = post(ann, "Original")
    client.force_login(ann)

    response = client.post(
        reverse("edit_comment", args=[comment.pk]), {"body": ""}, headers={"HX-Request": "true"}
    )

    assert response.status_code == 422
    assert f'<div class="comment__body" id="c-{comment.pk}-body">' in response.text
    assert f'data-hx-target="#c-{comment.pk}-body"' in response.text
