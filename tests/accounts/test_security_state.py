"""Security state (allauth's rate limits, two-factor state, the session cache, the
preview limit) lives in a cache of its own, where readers' page copies cannot evict it.

An adversarial review flooded the page cache of a size-bounded Redis (LRU, as in the
compose file): the flood evicted allauth's login-failure counters, and a locked-out
account got five fresh password guesses.
"""

import time

import pytest
from allauth.account.models import EmailAddress
from django.core.cache import caches
from django.test import override_settings

from accounts.models import User

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery-staple"
LOCKED = "Too many failed login attempts"


@pytest.fixture
def dana(db):
    user = User.objects.create_user("dana", "dana@example.com", PASSWORD)
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    return user


def sign_in(client, password):
    return client.post("/accounts/login/", {"login": "dana", "password": password})


def lock_out(client):
    """Five wrong guesses: allauth then refuses even the right password for a while."""
    for n in range(5):
        assert LOCKED not in sign_in(client, f"wrong-guess-{n}").text
    assert LOCKED in sign_in(client, PASSWORD).text


def flood_pages(count=2000, size=2000):
    """What the flood of page copies did: many large entries in the page cache."""
    pages = caches["pages"]
    for n in range(count):
        pages.set(f"flood:{n}", "x" * size, 3600)


def test_the_page_cache_and_the_security_cache_are_apart(settings):
    assert settings.CACHES["pages"] != settings.CACHES["default"]
    assert settings.SESSION_CACHE_ALIAS == "default"
    caches["default"].set("secret", "kept")

    caches["pages"].clear()

    assert caches["default"].get("secret") == "kept"


def test_filling_or_flushing_the_page_cache_keeps_a_login_lockout(client, dana):
    lock_out(client)

    flood_pages()  # the in-memory cache drops a third of its entries beyond 300
    caches["pages"].clear()

    response = sign_in(client, PASSWORD)
    assert LOCKED in response.text
    assert "_auth_user_id" not in client.session


def test_with_one_cache_for_both_a_flood_would_lift_the_lockout(client, dana):
    """The hole itself, for comparison: page copies and counters in one cache."""
    shared = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "one"}
    with override_settings(CACHES={"default": shared, "pages": shared}):
        lock_out(client)
        caches["pages"].clear()

        assert LOCKED not in sign_in(client, PASSWORD).text
        caches["default"].clear()


# --- On real Redis servers, configured as docker-compose.yml configures them ---------------


LRU = ("--maxmemory", "4mb", "--maxmemory-policy", "allkeys-lru")
NO_EVICTION = ("--maxmemory-policy", "noeviction")


def test_a_flood_on_a_bounded_lru_redis_keeps_a_lockout_in_the_security_redis(
    client, dana, redis_server
):
    pages, security = redis_server(*LRU), redis_server(*NO_EVICTION)
    with override_settings(CACHES={"default": security, "pages": pages}):
        lock_out(client)

        flood_pages(count=4000, size=4000)  # 16 MB into 4 MB: most of it is evicted

        assert caches["pages"].get("flood:0") is None  # the flood did evict
        assert LOCKED in sign_in(client, PASSWORD).text


def test_on_one_bounded_lru_redis_the_same_flood_evicts_the_lockout(client, dana, redis_server):
    """The issue's reproduction, for comparison: one LRU Redis for everything."""
    shared = redis_server(*LRU)
    with override_settings(CACHES={"default": shared, "pages": shared}):
        lock_out(client)
        # Redis's LRU clock ticks once a second: within the same second the lockout is no
        # older than the flood, and which keys go is left to chance.
        time.sleep(2)

        flood_pages(count=4000, size=4000)

        assert LOCKED not in sign_in(client, PASSWORD).text
