"""Who may change what: every URL that changes state, asked by each member of the cast.

One table, one cell per (action, person), each the answer that person gets for a
published comment of Ann's in an open discussion:

    302  done (redirected to the result)      403  refused, with the reason
    login  sent to sign in first              200  a form to fill in

CSRF is checked once for every action: without the token, nothing happens.
"""

import uuid

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Ban
from forum.models import Comment, Subscription, Vote

pytestmark = pytest.mark.django_db

CAST = ["anonymous", "cal", "eve", "ann", "ben", "mo", "sam"]
LOGIN = "login"


def row(*answers):
    """One row of the table: the answer for each person, in CAST's order."""
    return dict(zip(CAST, answers, strict=True))


def comment_url(name):
    return lambda section, comment: reverse(name, args=[comment.pk])


def section_url(name):
    return lambda section, comment: reverse(name, args=[section.essay.slug, section.slug])


# action: (URL, POST data, answers for: anonymous, cal, eve, ann, ben, mo, sam,
#          and whether it was done, for that person)
ACTIONS = {
    "post": (
        section_url("post_comment"),
        lambda comment: {"body": "A new thought.", "token": uuid.uuid4()},
        row(LOGIN, 403, 403, 302, 302, 302, 302),
        lambda comment, who: Comment.objects.filter(body="A new thought.").exists(),
    ),
    "reply": (
        section_url("post_comment"),
        lambda comment: {"body": "An answer.", "parent": comment.pk, "token": uuid.uuid4()},
        row(LOGIN, 403, 403, 302, 302, 302, 302),
        lambda comment, who: comment.replies.filter(body="An answer.").exists(),
    ),
    "preview": (
        section_url("preview_comment"),
        lambda comment: {"body": "Just looking."},
        row(LOGIN, 403, 403, 200, 200, 200, 200),
        lambda comment, who: False,  # a preview writes nothing
    ),
    "edit": (
        comment_url("edit_comment"),
        lambda comment: {"body": "Changed words."},
        row(LOGIN, 403, 403, 302, 403, 403, 403),
        lambda comment, who: Comment.objects.filter(pk=comment.pk, body="Changed words.").exists(),
    ),
    "delete": (
        comment_url("delete_comment"),
        lambda comment: {},
        row(LOGIN, 403, 403, 302, 403, 403, 403),
        lambda comment, who: Comment.objects.filter(pk=comment.pk, status="deleted").exists(),
    ),
    "vote": (
        comment_url("vote"),
        lambda comment: {},
        row(LOGIN, 403, 403, 403, 302, 302, 302),
        lambda comment, who: Vote.objects.filter(comment=comment).exists(),
    ),
    "report": (
        comment_url("report"),
        lambda comment: {"reason": "spam"},
        row(LOGIN, 403, 403, 403, 302, 302, 302),
        lambda comment, who: comment.reports.exists(),
    ),
    "follow": (
        comment_url("follow_thread"),
        lambda comment: {"follow": "1"},
        row(LOGIN, 403, 403, 302, 302, 302, 302),
        lambda comment, who: Subscription.objects.filter(thread=comment, user__username=who),
    ),
    "follow section": (
        section_url("follow_section"),
        lambda comment: {"follow": "1"},
        row(LOGIN, 403, 403, 302, 302, 302, 302),
        lambda comment, who: Subscription.objects.filter(
            section=comment.section_id, user__username=who
        ).exists(),
    ),
    "mark notifications read": (
        lambda section, comment: reverse("notifications_read"),
        lambda comment: {},
        row(LOGIN, 302, 302, 302, 302, 302, 302),
        lambda comment, who: None,  # nothing to see changed: everyone may clear their own bell
    ),
    "moderate": (
        lambda section, comment: reverse("admin:forum_comment_changelist"),
        lambda comment: {"action": "mark_spam", "_selected_action": [comment.pk]},
        # Those who are not staff are sent to the admin's sign-in, which is allauth's.
        row(302, 302, 302, 302, 302, 302, 302),
        lambda comment, who: Comment.objects.filter(pk=comment.pk, status="spam").exists(),
    ),
}
# Who may moderate, of those the admin lets in.
MODERATES = {"mo", "sam"}


@pytest.fixture
def people(db, ann, ben, cal, eve, mo, sam):
    return {"ann": ann, "ben": ben, "cal": cal, "eve": eve, "mo": mo, "sam": sam}


@pytest.fixture
def comment(post, ann):
    return post(ann, "Ann's published words.")


def client_for(person):
    client = Client()
    if person is not None:
        client.force_login(person)
    return client


@pytest.mark.parametrize("who", CAST)
@pytest.mark.parametrize("action", ACTIONS)
def test_each_person_gets_the_expected_answer(action, who, people, section, comment):
    url, data, answers, changed = ACTIONS[action]

    response = client_for(people.get(who)).post(url(section, comment), data(comment))

    expected = answers[who]
    if expected == LOGIN:
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")
    else:
        assert response.status_code == expected, response.text[:500]
    done = bool(changed(comment, who))
    if action == "moderate":
        assert done == (who in MODERATES)
    elif action != "mark notifications read":
        assert done == (expected in (302,) and action != "preview"), (action, who)
    if expected == 403:
        assert "You cannot do that here" in response.text  # the reason page, not a bare 403


@pytest.mark.parametrize("action", ACTIONS)
def test_no_action_happens_without_the_csrf_token(action, people, section, comment):
    url, data, _, changed = ACTIONS[action]
    client = Client(enforce_csrf_checks=True)
    client.force_login(people["sam"])

    response = client.post(url(section, comment), data(comment))

    assert response.status_code == 403
    if action not in ("preview", "mark notifications read"):
        assert not changed(comment, "sam")


def test_a_ban_lifted_gives_everything_back(client, section, comment, eve, mo):
    Ban.objects.filter(user=eve).get().lift(by=mo)
    client.force_login(eve)

    response = client.post(reverse("vote", args=[comment.pk]))

    assert response.status_code == 302
    assert Vote.objects.filter(user=eve).exists()
