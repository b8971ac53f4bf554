"""Every form and htmx endpoint, fed by Hypothesis: arbitrary text (NUL, bidi controls,
over-long), ids that are not ids ("²", "٣", huge, negative, with a NUL) and fields left
out, as plain forms and as htmx requests. No answer is a 500, and afterwards the
database still agrees with itself: every stored count equals a recount.

Each example's requests go to the same database, so later examples meet what earlier
ones wrote (more comments, votes, reports, hidden comments): the suite explores states,
not just single requests. The profile (tests/security/conftest.py) bounds the examples.
"""

from urllib.parse import quote

import pytest
from django.db.models import Count, Exists, F, OuterRef, Q
from django.test import Client
from hypothesis import given
from hypothesis import strategies as st

from forum.models import Comment, ModerationPolicy, Notification, Report, Vote
from tests.conftest import make_member, make_moderator

SECTION = "/essays/open-source-meets-open-weights/the-deepseek-moment/"
DESK = "/admin/forum/reviewitem/desk/"

# Ids as they arrive from outside. Small numbers hit the comments, notifications and
# users that exist; the rest must all be "not an id".
ODD_IDS = [
    *("²", "٣", "１", "0", "-1", "1\x00", " 1 ", "1.0", "1e3", "0x1", "+1", "1_0", "None"),
    *("9" * 18, "9" * 19, "9" * 400, "", "[]", "1,2", "\u202e1", "1\u200b"),
]
IDS = st.one_of(
    st.integers(1, 40).map(str),
    st.sampled_from(ODD_IDS),
    st.integers(-(2**70), 2**70).map(str),
    st.text(max_size=12),
)
TEXT = st.one_of(
    st.text(max_size=400),
    st.sampled_from(
        [
            *("", " ", "\x00", "a\x00b", "\r\n", "\u202egnp.exe", "\ufeff", "\U0001f600" * 50),
            *("<script>alert(1)</script>", "[x](javascript:alert(1))", "x" * 10_001),
        ]
    ),
)
CHOICES = st.one_of(TEXT, st.sampled_from(["1", "0", "on", "true", "spam", "other", "top"]))


def fields(**strategies):
    """Form data where any field may be missing."""
    return st.fixed_dictionaries({}, optional=strategies)


COMMENT = fields(body=TEXT, parent=IDS, quote=TEXT, quote_anchor=TEXT, token=TEXT | st.uuids())

# (who, method, path with {id}, data): every form and htmx endpoint of the site.
ENDPOINTS = {
    "post": ("ann", "post", f"{SECTION}comments/", COMMENT),
    "preview": ("ann", "post", f"{SECTION}comments/preview/", COMMENT),
    "reply form": ("ann", "get", "/comments/{id}/reply/", fields()),
    "edit": ("ann", "post", "/comments/{id}/edit/", fields(body=TEXT)),
    "delete": ("ann", "post", "/comments/{id}/delete/", fields()),
    "vote": ("ann", "post", "/comments/{id}/vote/", fields()),
    "unvote": ("ann", "post", "/comments/{id}/unvote/", fields()),
    "report": ("ann", "post", "/comments/{id}/report/", fields(reason=CHOICES, note=TEXT)),
    "follow thread": ("ann", "post", "/comments/{id}/follow/", fields(follow=CHOICES)),
    "follow section": ("ann", "post", f"{SECTION}follow/", fields(follow=CHOICES)),
    "permalink": (None, "get", "/comments/{id}/", fields(sort=CHOICES, page=IDS)),
    "thread": (None, "get", "/comments/{id}/thread/", fields(sort=CHOICES, page=IDS)),
    "section": (None, "get", SECTION, fields(sort=CHOICES, page=IDS)),
    "search": ("ann", "get", "/search/", fields(q=TEXT, page=IDS)),
    "profile": (None, "get", "/people/{id}/", fields(page=IDS)),
    "settings": (
        "ann",
        "post",
        "/accounts/settings/",
        fields(display_name=TEXT, bio=TEXT, email_on_reply=CHOICES, follow_own_comments=CHOICES),
    ),
    "notifications": ("ann", "get", "/notifications/", fields(page=IDS)),
    "open notification": ("ann", "get", "/notifications/{id}/", fields()),
    "mark all read": ("ann", "post", "/notifications/read/", fields()),
    "desk": ("mo", "get", DESK, fields(page=IDS)),
    "desk decision": (
        "mo",
        "post",
        f"{DESK}decide/",
        fields(
            comment=IDS,
            decision=st.sampled_from(["approve", "remove", "spam", "suspend"]) | TEXT,
            preset=st.sampled_from(["attack", "spam", "rules"]) | TEXT,
            reason=TEXT,
            suspend_for=st.sampled_from(["1", "7", "30", ""]) | TEXT,
            next=IDS,
            page=IDS,
        ),
    ),
    "desk undo": ("mo", "post", f"{DESK}undo/", fields(comment=IDS)),
    "admin list": (
        "mo",
        "get",
        "/admin/forum/comment/",
        fields(q=TEXT, p=IDS, o=TEXT, status=CHOICES, reported=CHOICES, section__id__exact=IDS),
    ),
    "admin action": (
        "mo",
        "post",
        "/admin/forum/comment/",
        fields(
            action=st.sampled_from(["approve", "remove", "mark_spam", "restore", "pin"]) | TEXT,
            _selected_action=IDS,
            reason=TEXT,
            preset=TEXT,
            apply=CHOICES,
        ),
    ),
}


@pytest.fixture
def people(section, post):
    """Ann and Ben in a small discussion, Mo at the desk, generous posting limits (so
    that the limits, tested elsewhere, do not end every example early)."""
    policy = ModerationPolicy.current()
    policy.comments_per_minute = policy.new_comments_per_minute = 100_000
    policy.comments_per_day = policy.new_comments_per_day = 100_000
    policy.save()
    ann, ben, mo = make_member("ann"), make_member("ben"), make_moderator("mo")
    first = post(ben, "Ben opens.")
    answer = post(ann, "Ann answers.", parent=first)
    post(ben, "Ben again.", parent=answer)
    post(ann, "Ann on her own.")
    clients = {None: Client()}
    for person in (ann, ben, mo):
        clients[person.username] = Client()
        clients[person.username].force_login(person)
    return clients


def assert_consistent():
    """Every stored count equals a recount, and every thread's shape holds."""
    comments = Comment.objects.annotate(
        replies_now=Count("replies", distinct=True), votes_now=Count("votes", distinct=True)
    ).select_related("parent")
    for comment in comments:
        assert comment.reply_count == comment.replies_now, comment.pk
        assert comment.score == comment.votes_now, comment.pk
        parent = comment.parent
        assert comment.depth == (parent.depth + 1 if parent else 0), comment.pk
        assert comment.path.startswith(parent.path if parent else ""), comment.pk
        assert comment.root_id == (parent.root_id or parent.pk if parent else None), comment.pk
    # `answered`: whether a reply anyone can see hangs from the comment.
    shown_reply = Comment.objects.filter(parent=OuterRef("pk")).filter(
        Q(status=Comment.Status.PUBLISHED) | Q(status__in=Comment.HIDDEN, answered=True)
    )
    wrong = [c.pk for c in Comment.objects.annotate(now=Exists(shown_reply)) if c.answered != c.now]
    assert wrong == []
    # One vote and one report per person and comment; no vote on one's own comment.
    assert not Vote.objects.filter(comment__author=F("user")).exists()
    assert Report.objects.values("comment", "reporter").distinct().count() == Report.objects.count()
    # A deleted comment keeps no text.
    assert not Comment.objects.filter(status=Comment.Status.DELETED).exclude(body="").exists()


def assert_bell_counts_what_is_unread(client):
    """The bell's number is the recount of unread notifications the reader may see."""
    from accounts.models import User

    ann = User.objects.get(username="ann")
    unread = Notification.objects.filter(recipient=ann).shown(ann).unread()
    response = client.get("/notifications/")
    count = unread.count()
    if count:
        assert f'<span class="bell__count">{count}<' in response.text
    else:
        assert 'class="bell__count"' not in response.text


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@given(data=st.data(), htmx=st.booleans(), target=IDS)
def test_no_hostile_request_gets_a_500_or_breaks_a_count(endpoint, people, data, htmx, target):
    who, method, path, strategy = ENDPOINTS[endpoint]
    client = people[who]
    if endpoint == "profile":  # usernames, and what is not one
        target = data.draw(st.sampled_from(["ann", "ben", "mo"]) | st.text(max_size=20))
    url = path.format(id=quote(target, safe=""))
    headers = {"HX-Request": "true"} if htmx else {}
    if endpoint == "desk decision" and data.draw(st.booleans()):
        headers["Accept"] = "application/json"  # as desk.js asks

    response = getattr(client, method)(url, data.draw(strategy), headers=headers)

    assert response.status_code < 500
    assert_consistent()
    if who == "ann":
        assert_bell_counts_what_is_unread(client)


# Where ids arrive in a form or query rather than the path, and what else the request
# needs for the id to be read at all.
ID_FIELDS = {
    "post": ({"body": "A reply."}, ["parent"]),
    "preview": ({"body": "A reply."}, ["parent"]),
    "section": ({}, ["page"]),
    "permalink": ({}, ["page"]),
    "thread": ({}, ["page"]),
    "search": ({"q": "comment"}, ["page"]),
    "notifications": ({}, ["page"]),
    "desk": ({}, ["page"]),
    "desk decision": ({"decision": "approve"}, ["comment", "next", "page"]),
    "desk undo": ({}, ["comment"]),
    "admin list": ({}, ["p", "section__id__exact"]),
    "admin action": ({"action": "approve"}, ["_selected_action"]),
}


@pytest.mark.parametrize("odd", ODD_IDS)
def test_every_odd_id_is_simply_not_an_id_everywhere(people, odd):
    """Each odd id on every endpoint, in the path and in every id field: Hypothesis
    draws them among much else, this makes sure each one is tried everywhere."""
    for endpoint, (who, method, path, _) in ENDPOINTS.items():
        extra, id_fields = ID_FIELDS.get(endpoint, ({}, []))
        data = extra | dict.fromkeys(id_fields, odd)
        url = path.format(id=quote(odd, safe=""))

        response = getattr(people[who], method)(url, data)

        assert response.status_code < 500, endpoint
    assert_consistent()
