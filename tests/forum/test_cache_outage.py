"""Redis stopped (or restarting): pages are still served, uncached, and a change that
was committed is answered as done, never as a 500."""

import pytest
from django.core.cache import caches
from django.test import override_settings

from forum.models import Comment

pytestmark = pytest.mark.django_db

NOBODY_LISTENS = "redis://127.0.0.1:9/0"  # the discard port: no Redis there


@pytest.fixture
def cache_down():
    redis = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": NOBODY_LISTENS}
    with override_settings(CACHES={"default": redis, "pages": redis}, READER_CACHE=True):
        with pytest.raises(Exception, match=r"(?i)connect"):
            caches["pages"].get("probe")  # it really is unreachable
        yield


def test_readers_get_pages_while_the_cache_is_down(client, cache_down, essay, post, ann):
    section = essay.sections.get(slug="the-deepseek-moment")
    post(ann, "Still readable")

    for url in ("/", essay.get_absolute_url(), section.get_absolute_url()):
        response = client.get(url)
        assert response.status_code == 200, url
        assert "ETag" not in response  # nothing could be cached or compared
    assert "Still readable" in client.get(section.get_absolute_url()).text


def test_a_change_committed_while_the_cache_is_down_is_done(
    cache_down, section, ann, ben, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        comment, _ = Comment.objects.post(section=section, author=ann, body="Posted anyway")
        comment.moderate(ben, "remove", "")  # any write bumps the page versions

    assert Comment.objects.filter(body="Posted anyway").exists()


def test_the_healthcheck_says_unavailable_while_the_cache_is_down(client, cache_down):
    assert client.get("/healthz").status_code == 503
