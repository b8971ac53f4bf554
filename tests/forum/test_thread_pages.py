"""Pages of a section's threads by keyset: every sort, ties, forwards and back, with and
without htmx, and cursors from outside that are not ones (never a 500)."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from forum.models import Comment
from forum.threads import decode_cursor, encode_cursor, sort_key
from tests.conftest import keep_fragments

pytestmark = pytest.mark.django_db

SORTS = ["oldest", "newest", "top"]


def ids_on(html):
    return [int(n) for n in re.findall(r'<article class="comment[^"]*" id="c-(\d+)"', html)]


def link(html, rel):
    """The query of the page's link to the next or earlier threads, or None."""
    pattern = rf'href="(\?sort=\w+&amp;(?:after|before)=[0-9.-]+)#threads" rel="{rel}"'
    found = re.search(pattern, html)
    return found and found.group(1).replace("&amp;", "&")


@pytest.fixture
def threads(section, ann, ben, settings, post):
    """Nine threads with ties everywhere: three posted in one instant, two in another,
    scores that repeat, and one pinned. Three to a page."""
    settings.COMMENTS_PAGE_SIZE = 3
    comments = [post(ann if n % 2 else ben, f"Thread {n}") for n in range(9)]
    now = timezone.now().replace(microsecond=0)
    instants = [now, now, now, now + timedelta(seconds=1), now + timedelta(seconds=1)]
    instants += [now + timedelta(seconds=n) for n in (2, 3, 4, 5)]
    scores = [1, 3, 1, 0, 3, 1, 2, 0, 1]
    for comment, instant, score in zip(comments, instants, scores, strict=True):
        Comment.objects.filter(pk=comment.pk).update(created_at=instant, score=score)
    Comment.objects.filter(pk=comments[6].pk).update(is_pinned=True)
    post(ben, "A reply, not a thread", parent=comments[0])
    return comments


def expected(sort):
    """The order a sort promises, computed here from the rows themselves."""
    rows = list(Comment.objects.filter(parent=None).values(*(name for name, _ in sort_key(sort))))
    for name, descending in reversed(sort_key(sort)):
        rows.sort(key=lambda row: row[name], reverse=descending)
    return [row["id"] for row in rows]


def tops(html):
    top_level = set(Comment.objects.filter(parent=None).values_list("pk", flat=True))
    return [pk for pk in ids_on(html) if pk in top_level]


@pytest.mark.parametrize("sort", SORTS)
def test_following_the_links_shows_every_thread_once_in_order_forwards_and_back(
    client, section, threads, sort
):
    url = section.get_absolute_url()
    pages = [client.get(f"{url}?sort={sort}").text]
    while query := link(pages[-1], "next"):
        pages.append(client.get(url + query).text)
    forwards = [pk for page in pages for pk in tops(page)]

    backwards = [tops(pages[-1])]
    html = pages[-1]
    while query := link(html, "prev"):
        html = client.get(url + query).text
        backwards.insert(0, tops(html))

    assert forwards == expected(sort)
    assert len(pages) == 3
    assert [pk for page in backwards for pk in page] == expected(sort)
    assert backwards == [tops(page) for page in pages]
    assert link(pages[0], "prev") is None  # the first page has no earlier threads


@pytest.mark.parametrize("sort", SORTS)
def test_load_more_with_htmx_appends_the_same_threads_the_links_show(
    client, section, threads, sort
):
    url = section.get_absolute_url()
    html = client.get(f"{url}?sort={sort}").text
    seen = tops(html)
    while more := re.search(r'hx-get="(\?sort=\w+&amp;after=[0-9.-]+)"', html):
        html = client.get(url + more.group(1).replace("&amp;", "&"), headers={"HX-Request": "true"})
        html = html.text
        assert "<html" not in html
        seen += tops(html)

    assert seen == expected(sort)


def test_a_pinned_thread_comes_first_and_pages_go_on_past_it(client, section, threads):
    url = section.get_absolute_url()
    first = client.get(f"{url}?sort=newest").text

    assert tops(first)[0] == threads[6].pk
    assert threads[6].pk not in tops(client.get(url + link(first, "next")).text)


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "x",
        "0",
        "0.1",
        "2.1.1",
        "0.1.0",
        "0.-1.1",
        "0.1.1.1.1",
        "0.١٢.3",  # Arabic-Indic digits are not digits here
        "0.1.9999999999999999999",
        "1.1.1%00",
        "0.1.1;drop table",
    ],
)
@pytest.mark.parametrize("direction", ["after", "before"])
def test_a_cursor_that_is_not_one_shows_the_first_page(client, section, threads, cursor, direction):
    url = section.get_absolute_url()
    response = client.get(url, {"sort": "oldest", direction: cursor})

    assert response.status_code == 200
    assert tops(response.text) == expected("oldest")[:3]


def test_a_cursor_for_a_thread_the_reader_cannot_see_still_continues_in_order(
    client, section, threads, ann, ben, post
):
    hidden = post(ann, "Waiting for review")
    Comment.objects.filter(pk=hidden.pk).update(status=Comment.Status.PENDING)
    row = Comment.objects.filter(pk=hidden.pk).values_list(*(n for n, _ in sort_key("top"))).get()

    html = client.get(section.get_absolute_url(), {"sort": "top", "after": encode_cursor(row)})

    order = expected("top")
    assert tops(html.text) == order[order.index(hidden.pk) + 1 :][:3]


def test_cursors_round_trip():
    now = timezone.now()
    for sort in SORTS:
        values = [True, *([-7] if sort == "top" else []), now, 42]
        assert decode_cursor(sort, encode_cursor(values)) == values


def test_a_cursor_past_every_thread_shows_the_first_page(client, section, threads):
    query = {"sort": "oldest", "after": "0.99999999999999999.1"}  # the year 5138
    response = client.get(section.get_absolute_url(), query)

    assert response.status_code == 200
    assert tops(response.text) == expected("oldest")[:3]


def test_a_permalink_deep_in_the_discussion_opens_a_page_that_shows_it(
    client, section, threads, ben, post
):
    last = expected("oldest")[-1]
    reply = post(ben, "Deep down", parent=Comment.objects.get(pk=last))

    location = client.get(reverse("comment", args=[reply.pk]))["Location"]

    assert "&after=" in location
    assert reply.pk in ids_on(client.get(location).text)


@pytest.mark.parametrize("sort", SORTS)
def test_a_page_by_cursor_costs_the_queries_of_the_first_page(client, section, threads, sort):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    url = section.get_absolute_url()
    keep_fragments()
    with CaptureQueriesContext(connection) as first:
        html = client.get(f"{url}?sort={sort}").text
    with CaptureQueriesContext(connection) as later:
        second = client.get(url + link(html, "next")).text
    with CaptureQueriesContext(connection) as earlier:
        client.get(url + link(second, "prev"))

    assert len(later) == len(first) == len(earlier)
