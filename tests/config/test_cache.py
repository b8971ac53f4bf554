"""The Redis cache asks through one client per connection pool (config/cache.py), not a
new one per call as Django's does: the same answers, from a real Redis."""

import threading

from django.core.cache import caches
from django.test import override_settings


def test_every_call_of_a_process_goes_through_one_client(redis_server):
    with override_settings(CACHES={"default": redis_server(), "pages": redis_server()}):
        cache = caches["default"]
        first = cache._cache.get_client()

        cache.set("essay", "open weights")
        assert cache.get("essay") == "open weights"
        assert cache.get_many(["essay", "missing"]) == {"essay": "open weights"}
        assert cache._cache.get_client() is first
        assert cache._cache.get_client(write=True) is first  # one server: one pool
        assert caches["pages"]._cache.get_client() is not first  # a cache of its own


def test_each_thread_asks_through_a_client_of_its_own_and_gets_its_own_answers(redis_server):
    """Django keeps a cache object per thread (WEB_THREADS): so is the client."""
    with override_settings(CACHES={"default": redis_server(), "pages": redis_server()}):
        caches["default"].set_many({f"key{n}": n for n in range(8)})
        answers, clients = {}, {}

        def ask(n):
            cache = caches["default"]
            answers[n] = [cache.get(f"key{n}") for _ in range(50)]
            clients[n] = {id(cache._cache.get_client()) for _ in range(3)}

        workers = [threading.Thread(target=ask, args=(n,)) for n in range(8)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()

        assert answers == {n: [n] * 50 for n in range(8)}
        assert all(len(ids) == 1 for ids in clients.values())
