"""Configuration comes from the environment; bad values stop start-up, naming the variable."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GOOD = {
    "DEBUG": "false",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "HTTPS": "false",
}


def start(extra_env, *command):
    """Start Django in a fresh process with exactly this environment."""
    env = {"PATH": os.environ["PATH"], "DJANGO_SETTINGS_MODULE": "config.settings"}
    env.update(extra_env)
    return subprocess.run(
        [sys.executable, "manage.py", *(command or ["check"])],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def example_env():
    values = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


def test_a_valid_configuration_starts():
    result = start(GOOD)

    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DEBUG", "maybe"),
        ("HTTPS", "sometimes"),
        ("DATABASE_URL", "mysql://root@localhost/forum"),
        ("DATABASE_URL", "not a url"),
        ("CACHE_URL", "nosuchcache://x"),
        ("SECURITY_CACHE_URL", "nosuchcache://x"),
        ("EMAIL_URL", "pigeon://coop"),
        ("DATABASE_POOL_MAX_SIZE", "lots"),
        ("DATABASE_PREPARED_STATEMENTS", "perhaps"),
        ("SECURE_HSTS_SECONDS", "-5"),
        ("CSRF_TRUSTED_ORIGINS", "forum.example.org"),
        ("ADMIN_URL", "/"),
        ("LOG_LEVEL", "LOUD"),
    ],
)
def test_a_bad_value_stops_start_up_with_a_message_naming_the_variable(name, value):
    result = start({**GOOD, name: value})

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert name in result.stderr.splitlines()[-1]


def test_production_mode_refuses_to_start_without_a_secret_key():
    result = start({"DEBUG": "false"})

    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


@pytest.mark.parametrize("key", ["short", "django-insecure-" + "x" * 60])
def test_production_mode_refuses_a_weak_secret_key(key):
    result = start({"DEBUG": "false", "SECRET_KEY": key})

    assert result.returncode != 0
    assert "SECRET_KEY is too weak" in result.stderr


def test_development_mode_starts_with_no_configuration_at_all():
    result = start({"DEBUG": "true"})

    assert result.returncode == 0, result.stderr


def test_the_env_example_passes_the_deployment_checklist_without_warnings():
    env = example_env()
    env["SECRET_KEY"] = secrets.token_urlsafe(50)  # as the example's comment says to

    result = start(env, "check", "--deploy", "--fail-level", "WARNING")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_the_deployment_checklist_warns_when_mail_would_link_to_localhost():
    env = example_env() | {"SECRET_KEY": secrets.token_urlsafe(50)}
    del env["SITE_URL"]
    env["ALLOWED_HOSTS"] = "localhost"

    result = start(env, "check", "--deploy", "--fail-level", "WARNING")

    assert result.returncode != 0
    assert "forum.W001" in result.stderr + result.stdout
    assert "SITE_URL is 'https://localhost'" in result.stderr + result.stdout


def test_the_deployment_checklist_warns_when_security_state_shares_the_page_cache():
    env = example_env() | {"SECRET_KEY": secrets.token_urlsafe(50)}
    del env["SECURITY_CACHE_URL"]  # so it falls back to CACHE_URL, the page cache

    result = start(env, "check", "--deploy", "--fail-level", "WARNING")

    assert result.returncode != 0
    assert "forum.W002" in result.stderr + result.stdout


def test_the_security_cache_and_the_page_cache_come_from_their_own_variables():
    script = (
        "from django.conf import settings as s; "
        "print(s.CACHES['default']['LOCATION'], s.CACHES['pages']['LOCATION'], "
        "s.CACHES['default']['BACKEND'], s.CACHES['pages']['BACKEND'])"
    )
    result = start(
        GOOD | {"CACHE_URL": "redis://pages:6379/0", "SECURITY_CACHE_URL": "redis://locks:6379/0"},
        "shell", "-c", script,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    last_line = result.stdout.strip().splitlines()[-1]
    assert last_line.split() == [
        *("redis://locks:6379/0", "redis://pages:6379/0"),
        *("config.cache.RedisCache", "config.cache.RedisCache"),  # one client a pool
    ]


def test_social_sign_in_needs_both_id_and_secret():
    result = start({**GOOD, "GITHUB_CLIENT_ID": "abc"})

    assert result.returncode != 0
    assert "GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET must be set together" in result.stderr


def test_every_variable_the_settings_read_is_documented_in_the_env_example():
    settings_source = (ROOT / "config" / "settings.py").read_text()
    example = (ROOT / ".env.example").read_text()
    import re

    read = set(re.findall(r'env_(?:str|bool|int|list|url)\(\s*"([A-Z0-9_]+)"', settings_source))
    read |= {f"{p}_CLIENT_{part}" for p in ("GITHUB", "GOOGLE") for part in ("ID", "SECRET")}
    undocumented = {name for name in read if f"{name}=" not in example}

    assert read, "the pattern found no variables"
    assert undocumented == set()


def setting(extra_env, code):
    result = start(extra_env, "shell", "-c", f"from django.conf import settings; print({code})")
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_in_development_mail_links_use_the_port_the_site_runs_at():
    development = {"PATH": os.environ["PATH"], "DEBUG": "true"}

    assert setting(development, "settings.SITE_URL") == "http://127.0.0.1:8000"
    assert setting({**development, "PORT": "8201"}, "settings.SITE_URL") == (
        "http://127.0.0.1:8201"
    )


def test_filemail_writes_to_the_absolute_folder_it_names(tmp_path):
    folder = tmp_path / "mail"
    env = {**GOOD, "EMAIL_URL": f"filemail://{folder}"}

    assert setting(env, "settings.MAILERS['default']['OPTIONS']['file_path']") == str(folder)
    result = start(
        env,
        "shell",
        "-c",
        "from django.core.mail import send_mail; send_mail('Hi', 'Body', None, ['a@example.org'])",
    )

    assert result.returncode == 0, result.stderr
    assert len(list(folder.iterdir())) == 1


def test_filemail_without_a_leading_slash_is_relative_to_the_working_directory():
    env = {**GOOD, "EMAIL_URL": "filemail://outbox/mail"}

    assert setting(env, "settings.MAILERS['default']['OPTIONS']['file_path']") == "outbox/mail"


def test_postgresql_statements_are_prepared_unless_a_pooler_forbids_it():
    postgres = {**GOOD, "DATABASE_URL": "postgres://forum@db:5432/forum"}
    options = "sorted(settings.DATABASES['default']['OPTIONS'].items())"

    prepared = setting(postgres, options)
    plain = setting({**postgres, "DATABASE_PREPARED_STATEMENTS": "false"}, options)

    assert "('server_side_binding', True)" in prepared
    assert "('prepare_threshold', 5)" in prepared
    assert "server_side_binding" not in plain
    assert "prepare_threshold" not in plain
