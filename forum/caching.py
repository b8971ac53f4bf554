"""Anonymous readers' repeat views: conditional GET plus a shared page cache.

A page's ETag is built from everything it shows: the code (templates and static files),
the essays' content version (any essay or section saved) and the discussion's version,
which every comment, edit, deletion and vote changes. Both versions live in the cache,
so a repeat view of an unchanged section costs a 304 without any query, and a first
view by another reader a cache read, until something changes.

Only canonical pages are kept, the URLs the site's own links produce (`?sort=top`,
`?sort=top&after=<cursor>` with a cursor naming a thread the reader can see): junk in
a query string is rendered but never stored, so nobody can fill the cache (and evict
what else lives there) with copies.
A copy is kept compressed twice, with Brotli and with gzip (each about a seventh of the
HTML, Brotli's a tenth smaller), and sent as it is to the clients that accept either
(every browser takes Brotli over HTTPS, tools often only gzip); others get it
decompressed. Each coding's copy has a key of its own, so a hit reads only what it sends.

A copy is kept under its URL with the version it was built for. Once a process has
seen a section, a repeat view is answered by `ReaderCacheMiddleware` with ONE cache
round trip (the content version, the discussion version and the copy, together) and
before the middlewares that have nothing to add for a reader without a session
(sessions, CSRF, authentication, messages, allauth); the security, CSP and
Permissions-Policy headers are still added by the middlewares outside it.
"""

import gzip
import hashlib
import logging
import re
import time
from functools import cache as memoize
from pathlib import Path

import brotli
from django.conf import settings
from django.contrib.messages import get_messages
from django.contrib.messages.storage.cookie import CookieStorage
from django.http import HttpResponse, HttpResponseNotModified
from django.utils.cache import patch_cache_control, patch_vary_headers

from essays.versions import cache  # the page cache, apart from security state

logger = logging.getLogger(__name__)

PAGE_TTL = 60 * 60


@memoize
def code_version() -> str:
    """Changes when any template or static file does (a new release)."""
    digest = hashlib.sha256()
    for folder in (settings.BASE_DIR / "templates", settings.BASE_DIR / "static"):
        for path in sorted(Path(folder).rglob("*")):
            if path.is_file():
                digest.update(path.name.encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


# The query strings of the pages the site links to: a sort, then the cursor of the
# page after or before (forum/threads.py). Any other query string (unknown parameters,
# other values, another order) skips the cache, and a cursor that names no visible
# thread is not kept either (the page says so), so junk in URLs cannot fill it.
CANONICAL_QUERY = re.compile(
    r"(sort=(oldest|newest|top)(&(after|before)=[01]\.(-?[0-9]{1,10}\.)?[0-9]{1,17}\.[0-9]{1,18})?)?"
)
# Pages say "5 minutes ago": a cached copy is never older than this.
FRESH_FOR = 60


def may_be_cached(request) -> bool:
    """The request parts every cached answer needs: reader cache on, a GET, a
    canonical query string."""
    return (
        settings.READER_CACHE
        and request.method == "GET"
        and CANONICAL_QUERY.fullmatch(request.META.get("QUERY_STRING", "")) is not None
    )


def is_reader_request(request) -> bool:
    """An anonymous GET with no message waiting: the same page for everyone."""
    return (
        may_be_cached(request)
        and not request.user.is_authenticated
        and not len(get_messages(request))
    )


def key(*parts) -> str:
    """A short cache key for any parts (slugs can be long; some caches limit keys)."""
    return "k:" + hashlib.sha256(repr(parts).encode()).hexdigest()[:40]


def fetch(key):
    """The cached value, or None (also when the cache cannot be reached)."""
    try:
        return cache.get(key)
    except Exception as error:
        logger.warning("Cache unreachable, serving uncached: %s", error)
        return None


def store(key, value):
    """Cache a value for PAGE_TTL if the cache can be reached; never fail the page."""
    try:
        cache.set(key, value, PAGE_TTL)
    except Exception as error:
        logger.warning("Cache unreachable, not caching: %s", error)


# The codings a copy is kept in, best first: Brotli is about a tenth smaller than gzip
# for a page of comments. Quality 5 takes about as long as gzip's default level (some
# 40 ms for a 1.3 MB page, once per version of a page); 11 took four seconds.
CODINGS = ("br", "gzip")
BROTLI_QUALITY = 5


def coding_for(request) -> str:
    """The coding to send this client a copy in: "br", "gzip", or "" for none, as
    `Accept-Encoding` says (q-values; `*` stands for any coding not named; a malformed
    q-value refuses that coding): of those it takes, the one with the highest q, and
    on a tie the first of CODINGS."""
    named: dict[str, float] = {}
    for coding in request.headers.get("Accept-Encoding", "").split(","):
        name, *params = coding.split(";")
        name = name.strip().lower()
        if name in (*CODINGS, "*"):
            named[name] = _quality(params)

    def quality(coding: str) -> float:
        return named.get(coding, named.get("*", 0.0))

    best = max(CODINGS, key=lambda coding: (quality(coding), -CODINGS.index(coding)))
    return best if quality(best) > 0 else ""


def _quality(params: list[str]) -> float:
    """The q-value among a coding's parameters: 1 without one, 0 for one that is not a
    number from 0 to 1 (so "q=nan" or "q=x" refuses the coding rather than fail)."""
    for param in params:
        key, _, value = param.partition("=")
        if key.strip().lower() == "q":
            try:
                quality = float(value.strip())
            except ValueError:
                return 0.0
            return quality if 0 <= quality <= 1 else 0.0
    return 1.0


def compressed(html: bytes) -> dict[str, bytes]:
    """A page's copy in each of CODINGS."""
    return {
        "br": brotli.compress(html, quality=BROTLI_QUALITY),
        "gzip": gzip.compress(html, mtime=0),
    }


def kept_as(coding: str) -> str:
    """The copy a client taking `coding` is sent: that one, or for a client that takes
    none, the gzip copy, decompressed."""
    return coding or "gzip"


def is_htmx(request) -> bool:
    """As django-htmx decides `request.htmx` (the header, before its middleware ran)."""
    return request.headers.get("HX-Request") == "true"


def page_key(request, coding: str) -> str:
    """Where the copy of this URL (and representation for htmx) in `coding` is kept:
    each coding under a key of its own, so that a hit reads only the bytes it sends."""
    return f"page:{coding}:" + key(request.get_full_path(), is_htmx(request))[2:]


def store_copies(request, version, html: bytes) -> dict[str, bytes]:
    """Keep `html` compressed in each of CODINGS for this version; return the copies."""
    copies = compressed(html)
    try:
        cache.set_many(
            {page_key(request, coding): (version, copy) for coding, copy in copies.items()},
            PAGE_TTL,
        )
    except Exception as error:
        logger.warning("Cache unreachable, not caching: %s", error)
    return copies


def this_minute() -> int:
    """The minute a page's copy is made in: the next minute makes a new one."""
    return int(time.time() // FRESH_FOR)


def page_version(request, version_parts) -> str:
    """The version of a page: its code, content and discussion, URL, htmx or not, and
    the minute (pages say "5 minutes ago")."""
    fingerprint = repr(
        (code_version(), *version_parts, request.get_full_path(), is_htmx(request), this_minute())
    )
    return hashlib.sha256(fingerprint.encode()).hexdigest()[:32]


def answer(request, version, cached=None, build=None):
    """The reader's answer for this version: 304 when their copy is current, else the
    cached bytes in the coding the client takes (decompressed for clients that take
    none), else `build()`'s page, stored. Headers: ETag per representation, no-cache,
    Vary."""
    coding = coding_for(request)
    # Each representation has its own (strong) ETag; any one proves the version.
    etag = f'"{version}-{coding}"' if coding else f'"{version}"'
    if version in request.headers.get("If-None-Match", ""):
        response = HttpResponseNotModified()
    elif cached:  # the copy kept_as(coding)
        response = HttpResponse(cached if coding else gzip.decompress(cached))
    else:
        response = build()
        if response.status_code != 200 or not getattr(response, "canonical", True):
            return response
        copies = store_copies(request, version, response.content)
        if coding:
            response.content = copies[coding]
            # (The page may have said its length: render_with_threads does.)
            response["Content-Length"] = str(len(response.content))
    if coding and response.status_code == 200:
        response["Content-Encoding"] = coding
    response["ETag"] = etag
    patch_cache_control(response, no_cache=True)
    patch_vary_headers(response, ["Cookie", "HX-Request", "Accept-Encoding"])
    return response


# Which section each slug pair named at a content version, as far as this process has
# seen (a section readers may see: the view remembers it after finding it). Bounded.
known_sections: dict[tuple[str, str], tuple[int, int]] = {}
KNOWN_SECTIONS_MAX = 10_000


def remember_section(essay_slug, section_slug, content, section_id) -> None:
    if len(known_sections) >= KNOWN_SECTIONS_MAX:
        known_sections.clear()
    known_sections[(essay_slug, section_slug)] = (content, section_id)


def cached_answer(request, essay_slug, section_slug):
    """A cached section page for a reader, in one cache round trip, or None (then the
    view decides, as for any request). Only for a section this process has seen at
    the current content version, and a copy built for the current versions."""
    from essays.models import CONTENT_VERSION_KEY
    from forum.models import discussion_key

    if (known := known_sections.get((essay_slug, section_slug))) is None:
        return None
    content, section_id = known
    copy_key = page_key(request, kept_as(coding_for(request)))
    try:
        found = cache.get_many([CONTENT_VERSION_KEY, discussion_key(section_id), copy_key])
    except Exception as error:
        logger.warning("Cache unreachable, serving uncached: %s", error)
        return None
    discussion = found.get(discussion_key(section_id))
    if found.get(CONTENT_VERSION_KEY) != content or discussion is None:
        return None
    version = page_version(request, (content, discussion))
    stored_version, cached = found.get(copy_key) or (None, None)
    if stored_version != version:
        if version in request.headers.get("If-None-Match", ""):
            return answer(request, version)  # a 304 needs no copy
        return None
    return answer(request, version, cached)


class ReaderCacheMiddleware:
    """Answers a reader's repeat view of a section page from the cache before the
    middlewares that have nothing to add for it. A reader here has no session cookie
    (so no account and no message waiting in the session) and no messages cookie;
    anything else goes on to the view, which applies the same rule
    (`is_reader_request`). The Host is checked as CommonMiddleware would."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if (
            may_be_cached(request)
            and settings.SESSION_COOKIE_NAME not in request.COOKIES
            and CookieStorage.cookie_name not in request.COOKIES
        ):
            from django.urls import Resolver404, resolve

            try:
                match = resolve(request.path_info)
            except Resolver404:
                match = None
            if match is not None and match.view_name == "section":
                request.get_host()  # a Host not allowed is a 400, as for any page
                response = cached_answer(request, **match.kwargs)
                if response is not None:
                    if not response.has_header("Content-Length"):
                        response["Content-Length"] = len(response.content)
                    return response
        return self.get_response(request)


def for_readers(request, version_parts, build):
    """Serve `build()` to anonymous GET requests with an ETag and from the cache. With
    a version unknown (the cache unreachable), the page is built uncached. A response
    that `build()` marks `canonical = False` (a cursor that names no thread) is sent
    but neither stored nor given an ETag."""
    if not is_reader_request(request) or None in version_parts:
        return build()
    version = page_version(request, version_parts)
    found = fetch(page_key(request, kept_as(coding_for(request))))
    stored_version, cached = found if isinstance(found, tuple) else (None, None)
    return answer(request, version, cached if stored_version == version else None, build)
