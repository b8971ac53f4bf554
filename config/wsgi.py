"""WSGI entry point, used by gunicorn in production."""

import ctypes
import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

application = get_wsgi_application()

# What is loaded by now (Django, the URL patterns, the models, the templates' code)
# lives as long as the worker: frozen, the garbage collector no longer scans it each
# time it looks at its oldest generation, which a page of a thousand comments (tens of
# thousands of short-lived objects) makes it do every few pages. Measured with one
# gunicorn worker serving the 1,000-comment page, interleaved: 25.0/26.8/27.8 pages a
# second before, 28.1/30.0/30.1 after, RSS the same (97 MiB).
gc.freeze()
# The young generation is collected every 10,000 objects made and not yet freed, not
# 2,000: a page of a thousand comments holds a few thousand at once while it is built,
# and the collector scanned them about twice a page, for nothing (reference counting
# frees them when the view returns: forum.threads.Discussion). Measured with two
# workers serving the 1,000-comment page, 600 pages each: the collector's time 0.84 ->
# 0.14 ms a page, RSS 96.8 -> 97.9 MiB a worker. (While the page's comments waited for
# the collector, collecting less often gained nothing and cost 9 or 28 MiB.)
gc.set_threshold(10_000, *gc.get_threshold()[1:])


def keep_freed_memory(limit: int = 32 * 2**20) -> None:
    """Keep memory freed by a request for the next one, up to `limit`, instead of
    giving it back to the kernel.

    glibc serves a large block (over 128 KiB, rising to the largest freed one) with
    pages of its own, and gives the free top of its heap back beyond twice that: a
    section page builds megabytes (the rows of a thousand comments, their HTML as text,
    then as bytes), and every request then faulted those pages in again, zeroed, one
    by one. Measured with one gunicorn worker serving the 1,000-comment page,
    interleaved twice: 645 page faults joining the comments' HTML alone, and 18.5-18.7
    ms of the worker's CPU a page; with this, 2 faults and 15.7-15.9 ms. A variable of
    glibc's own (MALLOC_TRIM_THRESHOLD_, MALLOC_MMAP_THRESHOLD_) set by the operator
    wins; other C libraries are left as they are."""
    if {"MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_"} & os.environ.keys():
        return
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc
        return
    m_trim_threshold, m_mmap_threshold = -1, -3  # glibc's malloc.h
    mallopt(m_mmap_threshold, limit)
    mallopt(m_trim_threshold, 2 * limit)


keep_freed_memory()
