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
A copy is kept gzip-compressed, about a tenth of the HTML, and sent as it is to the
clients that accept gzip (every browser); others get it decompressed.
"""

import gzip
import hashlib
import logging
import re
import time
from functools import cache as memoize
from pathlib import Path

from django.conf import settings
from django.contrib.messages import get_messages
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


def is_reader_request(request) -> bool:
    """An anonymous GET with no message waiting: the same page for everyone."""
    return (
        settings.READER_CACHE
        and request.method == "GET"
        and not request.user.is_authenticated
        and CANONICAL_QUERY.fullmatch(request.META.get("QUERY_STRING", "")) is not None
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


def accepts_gzip(request) -> bool:
    """Whether the client takes gzip (`Accept-Encoding`, with q-values; `*` counts)."""
    for coding in request.headers.get("Accept-Encoding", "").split(","):
        name, _, params = coding.strip().partition(";")
        if name.strip().lower() in ("gzip", "*"):
            quality = params.strip().removeprefix("q=")
            try:
                return not params or float(quality) > 0
            except ValueError:
                return False
    return False


def for_readers(request, version_parts, build):
    """Serve `build()` to anonymous GET requests with an ETag and from the cache. With
    a version unknown (the cache unreachable), the page is built uncached. A response
    that `build()` marks `canonical = False` (a cursor that names no thread) is sent
    but neither stored nor given an ETag."""
    if not is_reader_request(request) or None in version_parts:
        return build()
    minute = int(time.time() // FRESH_FOR)
    fingerprint = repr(
        (code_version(), *version_parts, request.get_full_path(), bool(request.htmx), minute)
    )
    version = hashlib.sha256(fingerprint.encode()).hexdigest()[:32]
    compressed = accepts_gzip(request)
    # Each representation has its own (strong) ETag; either one proves the version.
    etag = f'"{version}-gzip"' if compressed else f'"{version}"'
    if version in request.headers.get("If-None-Match", ""):
        response = HttpResponseNotModified()
    elif cached := fetch(f"page:{version}"):
        response = HttpResponse(cached if compressed else gzip.decompress(cached))
    else:
        response = build()
        if response.status_code != 200 or not getattr(response, "canonical", True):
            return response
        cached = gzip.compress(response.content, mtime=0)
        store(f"page:{version}", cached)
        if compressed:
            response.content = cached
    if compressed and response.status_code == 200:
        response["Content-Encoding"] = "gzip"
    response["ETag"] = etag
    patch_cache_control(response, no_cache=True)
    patch_vary_headers(response, ["Cookie", "HX-Request", "Accept-Encoding"])
    return response
