"""/healthz says whether the database and both caches answer, and nothing more.

The broken cases use really broken configurations (a Redis port nobody listens on, a
SQLite "file" that is a folder), not mocks.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import override_settings

ROOT = Path(__file__).resolve().parents[2]
UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"


def test_it_answers_ok_when_the_database_and_the_cache_answer(client, db):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.content == b"ok\n"
    assert response["Content-Type"].startswith("text/plain")
    assert response["Cache-Control"] == "no-store"


def test_it_answers_unavailable_when_the_cache_is_unreachable(client, db):
    unreachable = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": UNREACHABLE_REDIS,
    }
    # Only for the request: the fixtures that empty the cache afterwards need a good one.
    with override_settings(CACHES={"default": unreachable, "pages": unreachable}):
        response = client.get("/healthz")

    assert response.status_code == 503
    # Nothing about what broke or where: that is for the log.
    assert response.content == b"unavailable\n"
    assert response["Cache-Control"] == "no-store"


@pytest.mark.parametrize("down", ["default", "pages"])
def test_it_answers_unavailable_when_either_cache_is_unreachable(client, db, settings, down):
    """Security state (sessions, rate limits) and pages each have their own cache."""
    unreachable = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": UNREACHABLE_REDIS,
    }
    with override_settings(CACHES=settings.CACHES | {down: unreachable}):
        response = client.get("/healthz")

    assert response.status_code == 503


def healthz_in_a_fresh_process(tmp_path, **env):
    """Ask /healthz in a new process with exactly this configuration, as a container
    would start with it; returns (status, body)."""
    script = (
        "import django; django.setup()\n"
        "from django.test import Client\n"
        "response = Client().get('/healthz', HTTP_HOST='127.0.0.1:8000')\n"
        "print(response.status_code, response.content.decode().strip())\n"
    )
    full_env = {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "SECRET_KEY": "healthz-test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        "DATA_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "CACHE_URL": "locmemcache://",
        **env,
    }
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    status, _, body = result.stdout.strip().rpartition("\n")[2].partition(" ")
    return int(status), body, result.stderr


def test_the_container_check_gets_an_answer_over_plain_http_as_127_0_0_1(tmp_path):
    # Production settings: HTTPS redirect on, only the public name allowed. The
    # container's HEALTHCHECK still asks http://127.0.0.1:8000/healthz.
    status, body, _ = healthz_in_a_fresh_process(
        tmp_path, HTTPS="true", ALLOWED_HOSTS="forum.example.org", TRUSTED_PROXY_COUNT="1"
    )

    assert (status, body) == (200, "ok")


def test_it_answers_unavailable_when_the_database_cannot_be_opened(tmp_path):
    not_a_database = tmp_path / "a-folder"
    not_a_database.mkdir()

    status, body, log = healthz_in_a_fresh_process(
        tmp_path, DATABASE_URL=f"sqlite:///{not_a_database}"
    )

    assert (status, body) == (503, "unavailable")
    assert "the database is unavailable" in log


@pytest.mark.parametrize("path", ["/", "/accounts/login/"])
def test_other_pages_still_refuse_hosts_that_are_not_allowed(client, db, settings, path):
    settings.ALLOWED_HOSTS = ["forum.example.org"]

    response = client.get(path, HTTP_HOST="127.0.0.1:8000")

    assert response.status_code == 400
