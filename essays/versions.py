"""Versions kept in the shared page cache: values that change whenever what a page shows
does, so that pages can be cached and revalidated without asking the database.

The cache may be unreachable (Redis restarting): then nothing is cached and pages are
built as usual, nothing fails. A bump that could not be written leaves old copies at
most FRESH_FOR (forum/caching.py) old, since every cached copy expires within that.
"""

import logging
import time

from django.core.cache import caches
from django.db import transaction
from django.utils.connection import ConnectionProxy

# The page cache (settings.CACHES["pages"]): versions and readers' page copies, kept
# apart from security state (rate limits, sessions, two-factor) in the default cache.
PAGES = "pages"
cache = ConnectionProxy(caches, PAGES)

logger = logging.getLogger(__name__)


def current(key: str) -> int | None:
    """The version under `key`: a new one if it was never set or was evicted (which
    invalidates old copies), None if the cache cannot be reached."""
    try:
        version = cache.get(key)
        if version is None:
            version = time.time_ns()
            cache.add(key, version, None)
            version = cache.get(key, version)
    except Exception as error:  # any cache failure: serve uncached, never fail the page
        logger.warning("Cache unreachable, serving uncached: %s", error)
        return None
    return version


def current_many(keys: list[str]) -> list[int] | None:
    """The versions under `keys`, as current() gives each, in one round trip when all
    are set; None if the cache cannot be reached."""
    try:
        found = cache.get_many(keys)
    except Exception as error:  # as current()
        logger.warning("Cache unreachable, serving uncached: %s", error)
        return None
    got = [found[key] if key in found else current(key) for key in keys]
    return None if None in got else got


def bump(key: str) -> None:
    """Give `key` a new version once the current transaction commits (so that no reader
    caches the state from before it). A cache failure then is logged, not raised: the
    change itself is committed and must be answered as done."""

    def write():
        try:
            cache.set(key, time.time_ns(), None)
        except Exception as error:
            logger.warning("Cache unreachable, %s not bumped: %s", key, error)

    transaction.on_commit(write)
