"""Quotes an edit left in doubt are listed for the essay's editors in the admin, who
confirm the match, move the quote by hand, or mark its passage as gone."""

import uuid

import pytest
from django.urls import reverse

from forum.models import AnchorState, Comment, Refused

pytestmark = pytest.mark.django_db

QUOTE = "competitive performance at a fraction of the compute cost"
DOUBTFUL = "competitive results for a small share of the cost"
LIST = reverse("admin:forum_anchorreview_changelist")


@pytest.fixture
def doubtful(client, section, ann):
    client.force_login(ann)
    url = reverse("post_comment", args=[section.essay.slug, section.slug])
    client.post(url, {"body": "This part.", "quote": QUOTE, "token": uuid.uuid4()})
    client.logout()
    section.refresh_from_db()
    section.revise(section.body_markdown.replace(QUOTE, DOUBTFUL))
    comment = Comment.objects.get()
    assert comment.anchor_state == AnchorState.REVIEW
    return comment


def test_editors_see_the_quotes_to_check_with_both_wordings(client, doubtful, editor):
    client.force_login(editor)

    page = client.get(LIST)

    assert page.status_code == 200
    assert QUOTE in page.text
    assert DOUBTFUL in page.text


def test_an_editor_confirms_the_match_and_readers_see_it_changed(client, doubtful, editor):
    client.force_login(editor)

    client.post(LIST, {"action": "confirm", "_selected_action": [doubtful.pk]})

    doubtful.refresh_from_db()
    assert doubtful.anchor_state == AnchorState.CHANGED
    assert doubtful.anchor_text == DOUBTFUL
    assert QUOTE not in client.get(LIST).text


def test_an_editor_marks_the_passage_as_gone(client, doubtful, editor):
    client.force_login(editor)

    client.post(LIST, {"action": "orphan", "_selected_action": [doubtful.pk]})

    doubtful.refresh_from_db()
    assert (doubtful.anchor_state, doubtful.anchor_start) == (AnchorState.ORPHANED, None)


def test_an_editor_moves_the_quote_by_hand(client, doubtful, editor, section):
    client.force_login(editor)
    url = reverse("admin:forum_anchorreview_change", args=[doubtful.pk])
    elsewhere = "genuinely open-weight release"

    refused = client.post(url, {"passage": "words the essay never says"})
    moved = client.post(url, {"passage": elsewhere})

    assert "copy them exactly" in refused.text
    assert moved.status_code == 302
    doubtful.refresh_from_db()
    section.refresh_from_db()
    text = section.current_revision.body_text
    assert doubtful.anchor_state == AnchorState.CHANGED
    assert text[doubtful.anchor_start : doubtful.anchor_end] == elsewhere
    assert doubtful.anchor_paragraph in section.body_html


def test_moderators_and_members_cannot_check_quotes(client, doubtful, mo, ann):
    for person in (mo, ann):
        client.force_login(person)
        assert client.get(LIST).status_code in (302, 403)
        with pytest.raises(Refused):
            doubtful.confirm_anchor(person)
    doubtful.refresh_from_db()
    assert doubtful.anchor_state == AnchorState.REVIEW
