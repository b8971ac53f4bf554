"""`/healthz`: can this process serve pages? Asked by the container's HEALTHCHECK, by
`docker compose up --wait` and by uptime monitors.

It answers before any other middleware, so that neither the HTTPS redirect nor host
validation stands in the way: the container's own check calls it over plain HTTP as
`127.0.0.1:8000`, which is rightly not an allowed host and not HTTPS. The answer is
only "ok" (200) or "unavailable" (503); what broke goes to the log, never to the
caller.
"""

import logging

from django.core.cache import caches
from django.db import connection
from django.http import HttpResponse

logger = logging.getLogger(__name__)

PATH = "/healthz"
PROBE_KEY = "healthz:probe"


def database_works() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except Exception as exc:  # any failure means "unavailable"; the log says which
        logger.warning("Health check: the database is unavailable: %s", exc)
        return False


def cache_works() -> bool:
    """Both caches: security state ("default": sessions, rate limits) and pages."""
    working = True
    for alias in ("default", "pages"):
        try:
            cache = caches[alias]
            cache.set(PROBE_KEY, "ok", timeout=60)
            working = working and cache.get(PROBE_KEY) == "ok"
        except Exception as exc:
            logger.warning("Health check: the %s cache is unavailable: %s", alias, exc)
            working = False
    return working


def health_response() -> HttpResponse:
    # Both are asked every time, so the log names every failure at once.
    database_ok = database_works()
    cache_ok = cache_works()
    healthy = database_ok and cache_ok
    response = HttpResponse(
        "ok\n" if healthy else "unavailable\n",
        status=200 if healthy else 503,
        content_type="text/plain; charset=utf-8",
    )
    response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


class HealthCheckMiddleware:
    """Answers `/healthz` itself; every other request passes through untouched."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info == PATH:
            return health_response()
        return self.get_response(request)
