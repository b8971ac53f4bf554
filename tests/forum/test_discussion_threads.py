"""How threads appear: nesting, depth, sorting, pages, permalinks and counts."""

import re
import uuid

import pytest
from django.urls import reverse

from forum.models import Comment

pytestmark = pytest.mark.django_db

QUOTE = "competitive performance at a fraction of the compute cost"  # in the section


def ids_on(html):
    return [int(n) for n in re.findall(r'<article class="comment[^"]*" id="c-(\d+)"', html)]


def next_link(html):
    """The query of the page's "Load more threads" link (as plain HTML, without htmx)."""
    return (
        re.search(r'href="(\?sort=\w+&amp;after=[0-9.-]+)#threads"', html)
        .group(1)
        .replace("&amp;", "&")
    )


def test_replies_are_nested_under_their_parents_in_thread_order(client, section, ann, ben, post):
    first = post(ann, "First thread")
    second = post(ben, "Second thread")
    reply = post(ben, "Reply to first", parent=first)
    deeper = post(ann, "Reply to the reply", parent=reply)
    late = post(ann, "Late reply to first", parent=first)

    html = client.get(section.get_absolute_url()).text

    assert ids_on(html) == [first.pk, reply.pk, deeper.pk, late.pk, second.pk]
    first_thread = html[html.index(f'id="c-{first.pk}"') : html.index(f'id="c-{second.pk}"')]
    assert first_thread.count('<ol class="replies">') == 2  # reply, and the reply to it
    assert '<details class="comment__fold" open>' in html  # collapsible without JavaScript


def test_each_comment_shows_author_time_and_permalink(client, section, ann, post):
    comment = post(ann, "Timed")
    ann.display_name = "Ann Author"
    ann.save()

    html = client.get(section.get_absolute_url()).text

    assert 'href="/people/ann/">Ann Author</a>' in html
    assert f'href="{reverse("comment", args=[comment.pk])}"' in html
    assert re.search(
        r'<time datetime="[^"]+" title="\d+ \w+ \d{4}, \d\d:\d\d \w+">now</time>', html
    )


def test_deep_threads_continue_on_a_page_of_their_own(client, section, ann, ben, settings, post):
    settings.COMMENTS_DISPLAY_DEPTH = 3
    chain = [post(ann, "Level 0")]
    for level in range(1, 6):
        chain.append(post(ben if level % 2 else ann, f"Level {level}", parent=chain[-1]))

    html = client.get(section.get_absolute_url()).text

    assert ids_on(html) == [c.pk for c in chain[:3]]
    assert f'href="{reverse("thread", args=[chain[2].pk])}">Continue this thread' in html

    thread = client.get(reverse("thread", args=[chain[2].pk])).text
    assert ids_on(thread) == [c.pk for c in chain[2:5]]
    assert f'href="{reverse("comment", args=[chain[1].pk])}">↑ In reply to' in thread
    # The true parent is stored whatever the display does.
    assert chain[5].parent == chain[4]
    assert chain[5].depth == 5


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("oldest", ["a", "b", "c"]),
        ("newest", ["c", "b", "a"]),
        ("top", ["b", "c", "a"]),
        ("bogus", ["a", "b", "c"]),
    ],
)
def test_threads_sort_by_the_choice_in_the_url(
    client, section, ann, ben, dan, post, sort, expected
):
    from forum.models import Vote

    comments = {name: post(ann, name) for name in "abc"}
    for voter in (ben, dan):
        Vote.objects.cast(voter, comments["b"])
    Vote.objects.cast(ben, comments["c"])

    html = client.get(f"{section.get_absolute_url()}?sort={sort}").text

    assert ids_on(html) == [comments[name].pk for name in expected]


def test_top_level_threads_are_paginated_with_all_their_replies(
    client, section, ann, ben, settings, post
):
    settings.COMMENTS_PAGE_SIZE = 2
    threads = [post(ann, f"Thread {n}") for n in range(5)]
    reply = post(ben, "Reply on page two", parent=threads[2])

    page_one = client.get(section.get_absolute_url()).text
    page_two = client.get(section.get_absolute_url() + next_link(page_one)).text
    page_three = client.get(section.get_absolute_url() + next_link(page_two)).text

    assert ids_on(page_one) == [threads[0].pk, threads[1].pk]
    assert ids_on(page_two) == [threads[2].pk, reply.pk, threads[3].pk]
    assert ids_on(page_three) == [threads[4].pk]
    assert "Load more threads" in page_one
    assert "Load more threads" not in page_three
    # An old link with a page number shows the first page.
    assert ids_on(client.get(f"{section.get_absolute_url()}?page=2").text) == ids_on(page_one)


def test_load_more_with_htmx_returns_only_the_next_threads(client, section, ann, settings, post):
    settings.COMMENTS_PAGE_SIZE = 2
    threads = [post(ann, f"Thread {n}") for n in range(3)]
    page_one = client.get(section.get_absolute_url()).text
    more = re.search(r'hx-get="([^"]+)"', page_one[page_one.index('class="load-more"') :])

    query = more.group(1).replace("&amp;", "&")
    response = client.get(section.get_absolute_url() + query, headers={"HX-Request": "true"})

    assert "<html" not in response.text
    assert ids_on(response.text) == [threads[2].pk]
    assert "HX-Request" in response["Vary"]


def test_a_huge_thread_stays_within_a_bounded_page_and_every_reply_stays_reachable(
    client, section, ann, ben, settings, post
):
    settings.COMMENTS_THREAD_MAX = 10
    root = post(ann, "Popular")
    replies = [post(ben, f"Reply {n}", parent=root) for n in range(25)]

    html = client.get(section.get_absolute_url()).text
    assert len(ids_on(html)) == 10

    seen = set(ids_on(html))
    pages = 0
    while link := re.search(
        r'href="(/comments/\d+/thread/\?after=[0-9a-z]+)">More of this thread', html
    ):
        html = client.get(link.group(1)).text
        assert len(ids_on(html)) <= 10
        seen |= set(ids_on(html))
        pages += 1
    assert seen == {root.pk, *(r.pk for r in replies)}
    assert pages == 2


@pytest.mark.parametrize(("replies", "shown"), [(9, 10), (10, 10), (30, 10), (5, 6)])
def test_a_thread_is_cut_only_when_longer_than_the_cap(
    client, section, ann, ben, settings, post, replies, shown
):
    """The per-thread numbering runs only when a thread on the page may be longer than
    the cap (ThreadPage.long): around the boundary, a page shows the same either way."""
    settings.COMMENTS_THREAD_MAX = 10
    short = post(ben, "A short thread")
    post(ann, "Its reply", parent=short)
    root = post(ann, "Popular")
    for n in range(replies):
        post(ben, f"Reply {n}", parent=root)

    html = client.get(section.get_absolute_url()).text

    assert len(ids_on(html)) == 2 + shown
    assert ("More of this thread" in html) == (replies + 1 >= 10)


def test_replies_readers_cannot_see_count_toward_the_cap_but_are_never_shown(
    client, section, ann, ben, settings, post
):
    settings.COMMENTS_THREAD_MAX = 10
    root = post(ann, "Popular")
    visible = [post(ben, f"Reply {n}", parent=root) for n in range(5)]
    held = [post(ben, f"Held {n}", parent=root) for n in range(6)]
    Comment.objects.filter(pk__in=[c.pk for c in held]).update(status=Comment.Status.PENDING)

    html = client.get(section.get_absolute_url()).text

    assert set(ids_on(html)) == {root.pk, *(c.pk for c in visible)}
    assert "Held" not in html


def test_a_long_thread_moved_up_for_its_passage_is_cut_too(
    client, section, ann, ben, settings, post
):
    settings.COMMENTS_THREAD_MAX = 10
    settings.COMMENTS_PAGE_SIZE = 1
    post(ben, "The first thread, alone on page one")
    client.force_login(ann)
    url = reverse("post_comment", args=[section.essay.slug, section.slug])
    client.post(url, {"body": "On this passage", "quote": QUOTE, "token": uuid.uuid4()})
    quoting = Comment.objects.latest("pk")
    for n in range(15):
        post(ben, f"Reply {n}", parent=quoting)
    client.logout()

    html = client.get(f"{section.get_absolute_url()}?passage={quoting.anchor_paragraph}").text

    assert quoting.pk in ids_on(html)
    assert len(ids_on(html)) == 1 + 10


def test_a_permalink_opens_the_right_page_at_the_comment(client, section, ann, ben, settings, post):
    settings.COMMENTS_PAGE_SIZE = 2
    threads = [post(ann, f"Thread {n}") for n in range(5)]
    reply = post(ben, "Deep in page three", parent=threads[4])

    response = client.get(reverse("comment", args=[reply.pk]))

    assert response.status_code == 302
    location = response["Location"]
    assert location.startswith(f"{section.get_absolute_url()}?sort=oldest&after=")
    assert location.endswith(f"#c-{reply.pk}")
    assert reply.pk in ids_on(client.get(location).text)
    # One on the first page links to the first page itself.
    first = client.get(reverse("comment", args=[threads[1].pk]))["Location"]
    assert first == f"{section.get_absolute_url()}?sort=oldest#c-{threads[1].pk}"


@pytest.mark.parametrize(
    "path", ["/comments/0/", "/comments/999999/", "/comments/99999999999999999999/thread/"]
)
def test_unknown_comments_are_a_404(client, db, path):
    assert client.get(path).status_code == 404


def test_the_essay_page_shows_each_sections_comment_count_and_activity(
    client, essay, section, ann, post
):
    for n in range(3):
        post(ann, f"Comment {n}")
    post(ann, "Elsewhere", on=essay.sections.get(slug="introduction"))

    html = client.get(essay.get_absolute_url()).text

    assert 'aria-label="3 comments on “The DeepSeek Moment”"' in html
    assert 'aria-label="1 comment on “Introduction”"' in html
    assert 'aria-label="0 comments on “What “Open” Actually Enables”"' in html
    assert '<rect class="activity__bar" width="100"' in html  # the busiest section
    assert '<rect class="activity__bar" width="33"' in html


def test_the_essay_pages_counts_are_kept_until_a_sections_discussion_changes(
    client,
    essay,
    section,
    ann,
    post,
    django_assert_max_num_queries,
    django_capture_on_commit_callbacks,
):
    post(ann, "One")
    client.get(essay.get_absolute_url())  # counted once, kept per section
    with django_assert_max_num_queries(2):  # the essay and its sections: no count
        html = client.get(essay.get_absolute_url()).text
    assert 'aria-label="1 comment on “The DeepSeek Moment”"' in html

    with django_capture_on_commit_callbacks(execute=True):  # the version moves on commit
        second = post(ann, "Two")
    assert 'aria-label="2 comments' in client.get(essay.get_absolute_url()).text

    with django_capture_on_commit_callbacks(execute=True):
        second.delete()
    assert 'aria-label="1 comment on “The DeepSeek Moment”"' in (
        client.get(essay.get_absolute_url()).text
    )


def test_anonymous_repeat_views_are_answered_from_the_cache_until_the_discussion_changes(
    reader_cache,
    client,
    section,
    ann,
    post,
    django_assert_num_queries,
    django_capture_on_commit_callbacks,
):
    post(ann, "Before")
    first = client.get(section.get_absolute_url())
    etag = first["ETag"]

    with django_assert_num_queries(0):  # the versions come from the cache
        unchanged = client.get(section.get_absolute_url(), headers={"If-None-Match": etag})
    assert unchanged.status_code == 304

    with django_capture_on_commit_callbacks(execute=True):  # the version moves on commit
        post(ann, "After")
    changed = client.get(section.get_absolute_url(), headers={"If-None-Match": etag})

    assert changed.status_code == 200
    assert changed["ETag"] != etag
    assert "After" in changed.text


def test_an_edit_to_the_essay_text_changes_what_readers_get(
    reader_cache, client, section, django_capture_on_commit_callbacks
):
    etag = client.get(section.get_absolute_url())["ETag"]

    with django_capture_on_commit_callbacks(execute=True):
        section.body_markdown = "Rewritten by an editor."
        section.save()
    response = client.get(section.get_absolute_url(), headers={"If-None-Match": etag})

    assert response.status_code == 200
    assert "Rewritten by an editor." in response.text


def test_unpublishing_an_essay_hides_its_cached_pages_at_once(
    reader_cache, client, section, django_capture_on_commit_callbacks
):
    assert client.get(section.get_absolute_url()).status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        section.essay.is_published = False
        section.essay.save()

    assert client.get(section.get_absolute_url()).status_code == 404


def test_a_renamed_member_is_renamed_on_cached_pages(
    reader_cache, client, section, ann, post, django_capture_on_commit_callbacks
):
    post(ann, "Signed")
    etag = client.get(section.get_absolute_url())["ETag"]

    with django_capture_on_commit_callbacks(execute=True):
        ann.display_name = "Ann Renamed"
        ann.save()
    response = client.get(section.get_absolute_url(), headers={"If-None-Match": etag})

    assert response.status_code == 200
    assert "Ann Renamed" in response.text


def test_unknown_query_parameters_are_never_cached(reader_cache, client, section, ann, post):
    from django.core.cache import caches

    cache = caches["pages"]
    post(ann, "Hello")
    client.get(section.get_absolute_url())
    keys_before = len(cache._cache)

    for n in range(5):
        response = client.get(f"{section.get_absolute_url()}?utm_source={n}")
        assert response.status_code == 200
        assert "ETag" not in response

    assert len(cache._cache) == keys_before


def test_without_a_shared_cache_readers_get_fresh_pages(client, section, settings):
    settings.READER_CACHE = False

    response = client.get(section.get_absolute_url())

    assert "ETag" not in response


def test_a_permalink_counts_comments_posted_in_the_same_instant(
    client, section, ann, settings, post
):
    from django.utils import timezone

    from forum.models import Comment

    settings.COMMENTS_PAGE_SIZE = 2
    comments = [post(ann, f"Same time {n}") for n in range(3)]
    Comment.objects.update(created_at=timezone.now())

    response = client.get(reverse("comment", args=[comments[2].pk]))

    assert "&after=" in response["Location"]
    assert comments[2].pk in ids_on(client.get(response["Location"]).text)
