"""Posting comments and replies: who may, what is accepted, and what is refused."""

import re
import uuid

import pytest
from django.template.loader import render_to_string
from django.test import Client
from django.urls import reverse

from forum.forms import CommentForm
from forum.models import Comment, ModerationPolicy, Notification

pytestmark = pytest.mark.django_db


def post_url(section):
    return reverse("post_comment", args=[section.essay.slug, section.slug])


def send(client, section, body="Hello there.", htmx=False, **fields):
    headers = {"HX-Request": "true"} if htmx else {}
    data = {"body": body, "token": uuid.uuid4()} | fields
    return client.post(post_url(section), data, headers=headers)


# --- Who may post ---------------------------------------------------------------------


def test_a_reader_without_an_account_is_asked_to_sign_in(client, section):
    page = client.get(section.get_absolute_url())
    assert "to join the discussion" in page.text
    assert 'name="body"' not in page.text

    response = send(client, section)

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert not Comment.objects.exists()


def test_an_unverified_member_cannot_post(client, section, cal):
    client.force_login(cal)

    assert "verify your email address" in client.get(section.get_absolute_url()).text
    response = send(client, section)

    assert response.status_code == 403
    assert "verify your email address" in response.text
    assert not Comment.objects.exists()


def test_a_verified_member_posts_and_sees_the_comment_on_the_section(client, section, ann):
    client.force_login(ann)

    response = send(
        client, section, body="I *disagree*, <script>alert(1)</script> see https://example.org"
    )

    comment = Comment.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("comment", args=[comment.pk])
    assert (comment.author, comment.section, comment.parent, comment.depth) == (
        ann,
        section,
        None,
        0,
    )
    page = client.get(response["Location"], follow=True)
    assert page.redirect_chain[-1][0].endswith(f"#c-{comment.pk}")
    assert "I <em>disagree</em>" in page.text
    assert "<script>alert(1)</script>" not in page.text
    assert 'rel="nofollow ugc noopener noreferrer"' in page.text
    assert "Your comment is published." in page.text


def test_a_members_page_shows_the_form_as_its_template_renders_it_with_tokens_of_its_own(
    section, ann
):
    """forum.rendering.new_comment_form: rendered once per section, filled in per page."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(ann)
    responses = [client.get(section.get_absolute_url()) for _ in range(2)]
    form_at = re.compile(r'<form class="comment-form" id="comment-form".*?</form>', re.S)
    forms = [form_at.search(response.text)[0] for response in responses]
    tokens = [
        (
            re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form)[1],
            re.search(r'name="token" value="([^"]+)"', form)[1],
        )
        for form in forms
    ]

    csrf, token = tokens[1]
    template = render_to_string(
        "forum/comment_form.html",
        {
            "form": CommentForm(section=section, user=ann, initial={"token": token}),
            "section": section,
            "csrf_token": csrf,
        },
    )
    assert forms[1] == template.strip()
    assert "forum/comment_form.html" not in {t.name for t in responses[1].templates}
    assert tokens[0][0] != csrf  # each page its own
    assert tokens[0][1] != token
    sent = client.post(
        post_url(section),
        {"body": "Sent from the page.", "csrfmiddlewaretoken": csrf, "token": token},
    )
    assert sent.status_code == 302
    assert Comment.objects.get().submission_token == uuid.UUID(token)


def test_a_reply_records_its_true_parent_thread_and_depth(client, section, ann, ben, post):
    question = post(ann, "Why?")
    answer = post(ben, "Because.", parent=question)
    client.force_login(ann)

    send(client, section, body="I see.", parent=answer.pk)

    reply = Comment.objects.latest("pk")
    assert reply.parent == answer
    assert reply.root == question
    assert reply.depth == 2
    assert reply.path.startswith(answer.path)
    answer.refresh_from_db()
    assert answer.reply_count == 1


# --- What is refused, with a clear message ----------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("", "Please write something first."),
        ("   \n\t  ", "Please write something first."),
        ("nul \x00 byte", "Null characters are not allowed."),
        ("bell \x07 ring", "control characters"),
    ],
)
def test_empty_or_unprintable_text_is_refused(client, section, ann, body, message):
    client.force_login(ann)

    response = send(client, section, body=body)

    assert response.status_code == 422
    assert message in response.text
    assert not Comment.objects.exists()


def test_text_over_the_maximum_length_is_refused(client, section, ann, settings):
    settings.COMMENT_MAX_LENGTH = 200
    client.force_login(ann)

    response = send(client, section, body="x" * 201)

    assert response.status_code == 422
    assert "Please keep comments under 200 characters (this one has 201)." in response.text
    assert send(client, section, body="x" * 200).status_code == 302


def test_a_huge_body_is_refused_not_crashed_on(client, section, ann):
    client.force_login(ann)

    response = send(client, section, body="y" * 2_000_000)

    assert response.status_code == 422
    assert not Comment.objects.exists()


@pytest.mark.parametrize(
    "parent", ["999999", "999999999999999999", "abc", "-1", "99999999999999999999999"]
)
def test_a_reply_to_a_missing_or_malformed_parent_is_refused(client, section, ann, parent):
    client.force_login(ann)

    response = send(client, section, parent=parent)

    assert response.status_code == 422
    assert not Comment.objects.exists()


def test_a_reply_to_a_comment_of_another_section_is_refused(client, essay, section, ann, ben, post):
    elsewhere = post(ben, "On another section.", on=essay.sections.get(slug="introduction"))
    client.force_login(ann)

    response = send(client, section, parent=elsewhere.pk)

    assert response.status_code == 422
    assert "You can only reply to a comment on the same section." in response.text
    assert Comment.objects.count() == 1


def test_a_reply_to_a_hidden_comment_elsewhere_is_told_nothing_about_it(
    client, essay, section, ann, ben, post
):
    """A comment in an essay Ann may not read is "not there" for her, as a missing id
    is: not "on another section", which would say that it exists."""
    from essays.models import Essay

    draft = Essay.objects.create(title="Draft", slug="draft", is_published=False)
    hidden_section = draft.sections.create(heading="Unseen", slug="unseen", position=1)
    hidden = post(ben, "Not for readers yet.", on=hidden_section)
    client.force_login(ann)

    response = send(client, section, parent=hidden.pk)

    assert response.status_code == 422
    assert "does not exist or is no longer visible" in response.text
    assert "same section" not in response.text
    assert Comment.objects.count() == 1


def test_a_reply_to_a_comment_removed_since_is_refused(client, section, ann, ben, mo, post):
    parent = post(ben, "Soon removed.")
    parent.moderate(mo, "remove", "Off topic")
    client.force_login(ann)

    response = send(client, section, parent=parent.pk)

    assert response.status_code == 422
    assert "does not exist or is no longer visible" in response.text
    assert Comment.objects.count() == 1


@pytest.mark.parametrize("closed", ["section", "essay"])
def test_nobody_can_post_where_the_discussion_is_closed(client, section, ann, closed):
    target = section if closed == "section" else section.essay
    target.discussion_closed = True
    target.save()
    client.force_login(ann)

    assert (
        "The discussion of this section is closed." in client.get(section.get_absolute_url()).text
    )
    response = send(client, section)

    assert response.status_code == 422
    assert "The discussion of this section is closed." in response.text
    assert not Comment.objects.exists()


def test_a_form_sent_twice_creates_one_comment(client, section, ann):
    client.force_login(ann)
    token = uuid.uuid4()

    first = send(client, section, body="Once.", token=token)
    second = send(client, section, body="Once.", token=token)

    assert Comment.objects.count() == 1
    assert first["Location"] == second["Location"]


def test_a_reply_sent_twice_is_one_reply_counted_and_told_once(client, section, ann, ben, post):
    parent = post(ben, "Ben's point.")
    client.force_login(ann)
    token = uuid.uuid4()

    first = send(client, section, body="Ann answers.", parent=parent.pk, token=token)
    second = send(client, section, body="Ann answers.", parent=parent.pk, token=token)

    assert first["Location"] == second["Location"]
    reply = Comment.objects.get(author=ann)
    parent.refresh_from_db()
    assert parent.reply_count == 1  # the second one's count was taken back
    assert list(Notification.objects.filter(comment=reply).values_list("recipient", flat=True)) == [
        ben.pk
    ]


def test_a_form_sent_again_gets_its_comment_even_when_a_new_one_would_be_refused(
    client, section, ann
):
    """Ann's first post reached her limit for the minute; her browser sends the same
    form again (a reload after a dropped answer): she is shown what she wrote, not told
    to slow down."""
    policy = ModerationPolicy.current()
    policy.comments_per_minute = policy.new_comments_per_minute = 1
    policy.save()
    client.force_login(ann)
    token = uuid.uuid4()

    first = send(client, section, body="Once.", token=token)
    again = send(client, section, body="Once.", token=token)
    another = send(client, section, body="A second thought.")

    assert first.status_code == again.status_code == 302
    assert first["Location"] == again["Location"]
    assert another.status_code == 429
    assert Comment.objects.count() == 1


OTHER_ESSAY = """---
title: Another essay
slug: another-essay
summary: Another.
---

Intro.

## Its only section

Some other text for the other essay's section.
"""


@pytest.fixture
def other_section(tmp_path):
    from essays.importing import import_essay, read_essay_file

    path = tmp_path / "other.md"
    path.write_text(OTHER_ESSAY)
    return import_essay(read_essay_file(path)).essay.sections.get(slug="its-only-section")


@pytest.mark.parametrize("htmx", [False, True])
def test_a_form_sent_again_to_another_section_is_refused_and_shows_nothing_of_the_first(
    client, section, other_section, ann, ben, post, htmx
):
    """A token answers only where it was first sent (Comment.objects.post): Ann's reply
    lives in an essay unpublished since; the same token sent to another essay's section
    must neither show her reply and the thread above it nor post anything."""
    parent = post(ben, "Ben's point in the soon hidden essay.")
    client.force_login(ann)
    token = uuid.uuid4()
    first = send(client, section, body="Ann's reply.", parent=parent.pk, token=token)
    section.essay.is_published = False
    section.essay.save()

    again = send(client, other_section, body="Something else.", htmx=htmx, token=token)

    assert first.status_code == 302
    assert again.status_code == 422
    assert "This form was already sent from another page." in again.text
    assert "Ann&#x27;s reply" not in again.text
    assert "Ann's reply" not in again.text
    assert 'href="/people/ben/"' not in again.text
    assert list(Comment.objects.filter(author=ann).values_list("body", flat=True)) == [
        "Ann's reply."
    ]
    parent.refresh_from_db()
    assert parent.reply_count == 1


def test_a_form_sent_again_to_another_section_of_the_same_essay_is_refused_too(
    client, section, ann
):
    elsewhere = section.essay.sections.exclude(pk=section.pk).first()
    client.force_login(ann)
    token = uuid.uuid4()

    first = send(client, section, body="Here.", token=token)
    again = send(client, elsewhere, body="Here.", token=token)

    assert first.status_code == 302
    assert again.status_code == 422
    assert Comment.objects.filter(section=elsewhere).count() == 0


def test_posting_to_an_unpublished_essay_is_a_404_for_readers(client, section, ann):
    section.essay.is_published = False
    section.essay.save()
    client.force_login(ann)

    assert send(client, section).status_code == 404
    assert not Comment.objects.exists()


# --- Quoting a passage ---------------------------------------------------------------------


def test_a_quoted_passage_is_stored_with_its_paragraph_and_context(client, section, ann):
    client.force_login(ann)

    send(client, section, body="This part.", quote="competitive   performance at a fraction")

    comment = Comment.objects.get()
    assert comment.quote_text == "competitive performance at a fraction"
    assert comment.quote_before.endswith("because it had achieved ")
    assert comment.quote_after.startswith(" of the compute cost")
    assert comment.quote_anchor in section.body_html
    page = client.get(section.get_absolute_url()).text
    assert f'href="{section.get_absolute_url()}#{comment.quote_anchor}"' in page
    assert "<mark>competitive performance at a fraction</mark>" in page


def test_a_quote_that_is_not_in_the_section_is_refused(client, section, ann):
    client.force_login(ann)

    response = send(client, section, quote="words the essay never says")

    assert response.status_code == 422
    assert "That passage is not in this section" in response.text
    assert not Comment.objects.exists()


# --- Preview ---------------------------------------------------------------------------------


def test_preview_renders_like_the_real_post_and_saves_nothing(client, section, ann):
    client.force_login(ann)
    url = reverse("preview_comment", args=[section.essay.slug, section.slug])

    page = client.post(url, {"body": "**Bold** idea", "quote": "genuine shock"})
    fragment = client.post(url, {"body": "**Bold** idea"}, headers={"HX-Request": "true"})

    assert page.status_code == 200
    assert "<strong>Bold</strong> idea" in page.text
    assert "<mark>genuine shock</mark>" in page.text
    assert 'name="body"' in page.text  # the form, filled in, to post for real
    assert "<strong>Bold</strong> idea" in fragment.text
    assert "<html" not in fragment.text
    assert not Comment.objects.exists()


# --- With JavaScript: the same views answer with fragments -----------------------------------


def test_with_htmx_a_post_returns_the_new_comment_and_a_fresh_form(client, section, ann):
    client.force_login(ann)

    response = send(client, section, body="In place.", htmx=True)

    assert response.status_code == 200
    assert "<html" not in response.text
    assert "In place." in response.text
    assert 'data-hx-swap-oob="true"' in response.text


def test_with_htmx_errors_come_back_in_the_form_itself(client, section, ann):
    client.force_login(ann)

    response = send(client, section, body="", htmx=True)

    assert response.status_code == 422
    assert response["HX-Retarget"] == "this"
    assert response["HX-Reswap"] == "outerHTML"
    assert "Please write something first." in response.text


def test_with_htmx_a_reply_to_a_vanished_comment_stays_a_reply_form(client, section, ann):
    client.force_login(ann)

    response = send(client, section, body="Hello", parent="999999", htmx=True)

    assert response.status_code == 422
    assert "comment-form--reply" in response.text
    assert 'id="comment-form"' not in response.text
