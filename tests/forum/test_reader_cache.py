"""Readers' page cache: only canonical pages are kept, kept compressed, sent as they are."""

import gzip
import re

import brotli
import pytest

from essays.versions import cache  # the page cache (the default one holds security state)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def two_comments_a_page(settings):
    settings.COMMENTS_PAGE_SIZE = 1  # two comments: two pages per sort


@pytest.fixture
def two_pages(section, ann, ben, post):
    post(ann, "First thread")
    post(ben, "Second thread")
    return section.get_absolute_url()


def cached_pages():
    """The pages (URL hashes) kept: LocMemCache keys carry a prefix, and a page's copies
    are "page:<coding>:<URL's hash>", one for each coding."""
    return sorted({key.rsplit(":", 1)[-1] for key in cache._cache if ":page:" in key})


def stored_copies(page) -> tuple[str, dict[str, bytes]]:
    """The version a page's copies were made for, and the copies by coding."""
    kept = {coding: cache.get(f"page:{coding}:{page}") for coding in ("br", "gzip")}
    assert len({version for version, _ in kept.values()}) == 1
    return kept["gzip"][0], {coding: copy for coding, (_, copy) in kept.items()}


def vary(response):
    return {part.strip() for part in response["Vary"].split(",")}


@pytest.mark.parametrize(
    "query",
    [
        "?sort=oldest",
        "?sort=newest",
        "?sort=top",
    ],
)
def test_the_pages_the_site_links_to_are_cached(reader_cache, client, two_pages, query):
    first = client.get(two_pages + query)

    assert first.status_code == 200
    assert len(cached_pages()) == 1
    repeat = client.get(two_pages + query, headers={"If-None-Match": first["ETag"]})
    assert repeat.status_code == 304


def link(html, rel):
    pattern = rf'href="(\?sort=\w+&amp;(?:after|before)=[0-9.-]+)#threads" rel="{rel}"'
    found = re.search(pattern, html)
    return found.group(1).replace("&amp;", "&")


@pytest.mark.parametrize("sort", ["oldest", "newest", "top"])
def test_the_next_and_earlier_pages_the_site_links_to_are_cached(
    reader_cache, client, two_pages, sort
):
    first = client.get(f"{two_pages}?sort={sort}")
    second_query = link(first.text, "next")
    second = client.get(two_pages + second_query)
    back_query = link(second.text, "prev")
    back = client.get(two_pages + back_query)

    assert "ETag" in second
    assert "ETag" in back
    assert len(cached_pages()) == 3
    repeat = client.get(two_pages + second_query, headers={"If-None-Match": second["ETag"]})
    assert repeat.status_code == 304


def test_a_flood_of_junk_query_values_adds_nothing_to_the_cache(reader_cache, client, two_pages):
    client.get(two_pages)  # the canonical page, cached once
    client.get(two_pages + link(client.get(two_pages + "?sort=top").text, "next"))
    assert len(cached_pages()) == 3
    before = sorted(cache._cache)

    junk = [
        *(f"?sort=junk{n}" for n in range(20)),
        # Well-formed cursors that name no thread.
        *(f"?sort=oldest&after=0.{n}.{n}" for n in range(1, 21)),
        "?sort=top&after=0.5.1000.99999",
        "?sort=newest&before=1.1700000000000000.1",
        "?page=2",  # not the order or form of the site's links
        "?sort=top&page=2",
        "?after=0.1.1&sort=oldest",
        "?sort=oldest&after=0.1",
        "?sort=oldest&after=0.1.2.3",  # a "top" cursor for another sort
        "?sort=oldest&after=2.1.1",
        "?sort=oldest&after=0.99999999999999999.1",  # past any date
        "?sort=oldest&after=0.1.0",
        "?sort=top&after=x",
        "?sort=top&before=",
        "?sort=TOP",
        "?sort=top&sort=newest",
        "?sort=top&page=2&",
        "?sort=top&utm_source=mail",
        "?sort=%74op",
        "?x",
    ]
    for query in junk:
        response = client.get(two_pages + query)
        assert response.status_code == 200, query
        assert "ETag" not in response, query  # nothing to compare: never stored

    assert sorted(cache._cache) == before


def test_a_cursor_naming_no_thread_shows_the_next_page_uncached(reader_cache, client, two_pages):
    first = client.get(two_pages + "?sort=oldest").text
    real = link(first, "next")
    pinned, created, pk = real.rsplit("=", 1)[1].split(".")
    response = client.get(f"{two_pages}?sort=oldest&after={pinned}.{int(created) + 1}.{pk}")

    assert "Second thread" in response.text  # what comes after that instant
    assert "ETag" not in response
    assert len(cached_pages()) == 1  # the first page only


@pytest.mark.parametrize(
    ("accept", "coding", "decompress"),
    [
        ("gzip, deflate, br", "br", brotli.decompress),  # what browsers send over HTTPS
        ("br;q=0.5, gzip", "gzip", gzip.decompress),
        ("gzip, deflate", "gzip", gzip.decompress),  # tools, and browsers over HTTP
        ("br", "br", brotli.decompress),
        ("*", "br", brotli.decompress),
        ("br;q=0, *", "gzip", gzip.decompress),
    ],
)
def test_a_client_gets_the_stored_copy_compressed_as_it_takes(
    reader_cache, client, two_pages, django_assert_num_queries, accept, coding, decompress
):
    plain = client.get(two_pages)
    assert "Content-Encoding" not in plain
    version, stored = stored_copies(cached_pages()[0])  # kept by URL

    with django_assert_num_queries(0):  # versions and the copy come from the cache
        compressed = client.get(two_pages, headers={"Accept-Encoding": accept})

    assert compressed.status_code == 200
    assert compressed["Content-Encoding"] == coding
    assert compressed.content == stored[coding]  # the stored bytes, sent as they are
    assert compressed["ETag"] == f'"{version}-{coding}"'  # kept with the version it is of
    assert decompress(compressed.content) == plain.content
    assert len(compressed.content) < len(plain.content) / 2
    assert {"Accept-Encoding", "Cookie"} <= vary(compressed)
    assert {"Accept-Encoding", "Cookie"} <= vary(plain)
    # Representations of one version: strong ETags of their own.
    assert compressed["ETag"] != plain["ETag"]
    assert compressed["ETag"].strip('"').startswith(plain["ETag"].strip('"'))


def test_a_page_of_comments_is_smaller_with_brotli(reader_cache, client, section, post, ann):
    for n in range(60):
        post(ann, f"Comment number {n}, with a few words that repeat from one to the next.")
    client.get(section.get_absolute_url())
    _, stored = stored_copies(cached_pages()[0])

    assert len(stored["br"]) < len(stored["gzip"])


@pytest.mark.parametrize("coding", ["gzip", "br"])
def test_the_first_view_is_compressed_too(reader_cache, client, two_pages, coding):
    response = client.get(two_pages, headers={"Accept-Encoding": coding})
    again = client.get(two_pages, headers={"Accept-Encoding": coding})

    assert response["Content-Encoding"] == coding
    decompress = brotli.decompress if coding == "br" else gzip.decompress
    assert "First thread" in decompress(response.content).decode()
    # The length of what is sent, not of the page before it was compressed (a client
    # would wait for the rest, or take the next answer for it).
    assert int(response["Content-Length"]) == len(response.content)
    assert int(again["Content-Length"]) == len(again.content) == len(response.content)


@pytest.mark.parametrize(
    "accept", [None, "", "identity", "gzip;q=0", "deflate", "gzip;q=zero", "br;q=0, gzip;q=0"]
)
def test_a_client_without_gzip_or_brotli_gets_plain_html(reader_cache, client, two_pages, accept):
    headers = {} if accept is None else {"Accept-Encoding": accept}
    client.get(two_pages, headers={"Accept-Encoding": "gzip"})  # a compressed copy stored

    response = client.get(two_pages, headers=headers)

    assert response.status_code == 200
    assert "Content-Encoding" not in response
    assert "First thread" in response.text
    assert "Accept-Encoding" in vary(response)


def test_a_conditional_get_is_answered_304_for_any_representation(
    reader_cache, client, two_pages, django_assert_num_queries
):
    plain_etag = client.get(two_pages)["ETag"]
    gzip_etag = client.get(two_pages, headers={"Accept-Encoding": "gzip"})["ETag"]
    br_etag = client.get(two_pages, headers={"Accept-Encoding": "br"})["ETag"]
    assert len({plain_etag, gzip_etag, br_etag}) == 3

    with django_assert_num_queries(0):
        for etag in (plain_etag, gzip_etag, br_etag):
            response = client.get(
                two_pages, headers={"Accept-Encoding": "gzip", "If-None-Match": etag}
            )
            assert response.status_code == 304
            assert response["ETag"] == gzip_etag
            assert "Content-Encoding" not in response
            assert "Accept-Encoding" in vary(response)
            assert response.content == b""


@pytest.mark.parametrize("query", ["", "?sort=top"])
def test_a_repeat_view_is_one_cache_round_trip_before_sessions_and_csrf(
    reader_cache, client, two_pages, cache_calls, django_assert_num_queries, query
):
    first = client.get(two_pages + query, headers={"Accept-Encoding": "gzip"})
    cache_calls.clear()

    with django_assert_num_queries(0):
        repeat = client.get(two_pages + query, headers={"Accept-Encoding": "gzip"})

    # The content version, the discussion version and the copy, in one read.
    assert cache_calls == ["get_many"]
    assert repeat.status_code == 200
    assert repeat.content == first.content
    assert repeat["ETag"] == first["ETag"]
    assert repeat["Content-Length"] == str(len(repeat.content))
    # Answered before the session, authentication and CSRF middlewares ran.
    assert not hasattr(repeat.wsgi_request, "session")
    assert not hasattr(repeat.wsgi_request, "user")
    assert "csrftoken" not in repeat.cookies


def test_a_repeat_view_304_is_one_cache_round_trip(reader_cache, client, two_pages, cache_calls):
    etag = client.get(two_pages)["ETag"]
    cache_calls.clear()

    response = client.get(two_pages, headers={"If-None-Match": etag})

    assert response.status_code == 304
    assert cache_calls == ["get_many"]


def test_a_change_to_the_discussion_is_seen_by_the_next_reader(
    reader_cache, client, two_pages, post, dan, django_capture_on_commit_callbacks
):
    client.get(two_pages)
    before = client.get(two_pages)  # from the copy
    with django_capture_on_commit_callbacks(execute=True):  # the version's bump
        post(dan, "A third thread")

    after = client.get(two_pages + "?sort=newest")
    assert "A third thread" in after.text
    assert client.get(two_pages)["ETag"] != before["ETag"]


def test_a_copy_is_answered_only_in_the_minute_it_was_made(
    reader_cache, client, two_pages, django_assert_num_queries
):
    """Pages say "just now" and "5 minutes ago": the next minute's reader gets a page
    rendered anew, so no copy says "just now" of a comment an hour old."""
    first = client.get(two_pages)
    with django_assert_num_queries(0):
        same_minute = client.get(two_pages)
    reader_cache.next_minute()

    next_minute = client.get(two_pages, headers={"If-None-Match": first["ETag"]})

    assert same_minute["ETag"] == first["ETag"]
    assert next_minute.status_code == 200  # not 304: the old copy's ETag is stale
    assert next_minute["ETag"] != first["ETag"]
    assert len(cached_pages()) == 1  # one page, its copy replaced, not added to


def test_a_member_never_gets_the_readers_copy(reader_cache, client, two_pages, ann):
    client.get(two_pages)
    client.get(two_pages)  # the copy is kept and answered
    client.force_login(ann)

    response = client.get(two_pages)

    assert "ETag" not in response
    assert response.wsgi_request.user == ann


def test_a_reader_with_a_message_waiting_gets_the_page_with_it(reader_cache, client, two_pages):
    from django.contrib.messages.storage.cookie import CookieStorage

    client.get(two_pages)
    client.get(two_pages)
    client.cookies[CookieStorage.cookie_name] = "anything"

    response = client.get(two_pages)

    assert hasattr(response.wsgi_request, "session")  # went through the whole stack


def test_a_bad_host_is_refused_before_the_copy(reader_cache, client, two_pages):
    client.get(two_pages)
    client.get(two_pages)

    response = client.get(two_pages, headers={"Host": "evil.example"})

    assert response.status_code == 400


def test_a_copy_answered_early_carries_every_security_header(reader_cache, client, two_pages):
    built = client.get(two_pages)
    copy = client.get(two_pages)

    assert not hasattr(copy.wsgi_request, "session")  # answered early
    for header in (
        "Content-Security-Policy",
        "X-Frame-Options",
        "Permissions-Policy",
        "Referrer-Policy",
        "X-Content-Type-Options",
        "Cross-Origin-Opener-Policy",
        "Cache-Control",
        "Content-Type",
    ):
        assert copy[header] == built[header], header
    assert "nonce" not in copy["Content-Security-Policy"]  # the copy carries no nonce
    assert vary(copy) >= {"Cookie", "HX-Request", "Accept-Encoding"}


@pytest.mark.parametrize("coding", ["br", "gzip"])
def test_a_repeat_view_reads_only_the_copy_it_sends(
    reader_cache, client, two_pages, monkeypatch, coding
):
    """Each coding's copy is kept under a key of its own: reading both with every hit
    doubled the bytes each one took out of Redis."""
    from django.core.cache import caches

    client.get(two_pages, headers={"Accept-Encoding": coding})
    pages = caches["pages"]
    get_many = pages.get_many
    read = []

    def recording(keys, *args, **kwargs):
        found = get_many(keys, *args, **kwargs)
        read.extend(value for value in found.values() if isinstance(value, tuple))
        return found

    monkeypatch.setattr(pages, "get_many", recording)
    repeat = client.get(two_pages, headers={"Accept-Encoding": coding})

    assert repeat["Content-Encoding"] == coding
    assert [copy for _, copy in read] == [repeat.content]


@pytest.mark.parametrize(
    ("accept", "coding"),
    [
        ("br;q=nan, gzip", "gzip"),
        ("br;q=2, gzip;q=0.5", "gzip"),  # a q-value above 1 is not one
        ("br; q=0.9 ; x=y, gzip;q=0.8", "br"),  # spaces, another parameter
        ("gzip;Q=0", ""),
        ("br;q=, gzip;q=\x00", ""),
        (",,;;,=,q=1", ""),
        ("x" * 10_000 + ", gzip", "gzip"),
        ("Ｇzip, ｂr", ""),  # fullwidth letters name no coding
    ],
)
def test_odd_accept_encoding_headers_get_a_page_never_an_error(
    reader_cache, client, two_pages, accept, coding
):
    client.get(two_pages)  # stored

    response = client.get(two_pages, headers={"Accept-Encoding": accept})

    assert response.status_code == 200
    assert response.get("Content-Encoding", "") == coding
