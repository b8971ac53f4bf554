"""Deployment checks of our own, run by `manage.py check --deploy`."""

from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Warning, register


@register(deploy=True)
def site_url_check(app_configs, **kwargs):
    """Notification mail links to SITE_URL: it must be the public address."""
    host = urlsplit(settings.SITE_URL).hostname or ""
    if host in {"localhost", "127.0.0.1", "::1"} or host not in settings.ALLOWED_HOSTS:
        return [
            Warning(
                f"SITE_URL is {settings.SITE_URL!r}: links in notification emails will "
                "point there.",
                hint="Set SITE_URL to the site's public address, e.g. "
                "https://forum.example.org, a host listed in ALLOWED_HOSTS.",
                id="forum.W001",
            )
        ]
    return []


@register(deploy=True)
def security_cache_check(app_configs, **kwargs):
    """Security state (rate limits, sessions, two-factor) must not share a cache with
    readers' page copies: a flood of pages on a size-bounded cache evicts it."""
    security, pages = settings.CACHES["default"], settings.CACHES["pages"]
    shared = (security["BACKEND"], security.get("LOCATION")) == (
        pages["BACKEND"],
        pages.get("LOCATION"),
    )
    if shared and not security["BACKEND"].endswith(("LocMemCache", "DummyCache")):
        return [
            Warning(
                "Rate limits, sessions and two-factor state share one cache with the "
                "readers' page copies: a flood of pages can evict them.",
                hint="Set SECURITY_CACHE_URL to a cache of its own that never evicts, e.g. "
                "a second Redis with maxmemory-policy noeviction (see docs/operations.md).",
                id="forum.W002",
            )
        ]
    return []
