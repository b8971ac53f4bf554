"""The admin's door is allauth's: rate-limited, two-factor aware, at a configurable path."""

import subprocess
import sys
import time
from pathlib import Path

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, generate_totp_secret, hotp_value
from django.test import override_settings

from forum.models import User

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery-staple"


def person(username, **fields):
    user = User.objects.create_user(username, f"{username}@example.com", PASSWORD, **fields)
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    return user


def test_the_admin_sends_strangers_to_the_sites_sign_in_page(client):
    response = client.get("/admin/")

    assert response.status_code == 302
    assert response["Location"] == "/admin/login/?next=/admin/"
    response = client.get(response["Location"])
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


def test_a_signed_in_reader_is_refused_at_the_admin(client):
    client.force_login(person("reader"))

    response = client.get("/admin/login/")

    assert response.status_code == 403
    assert client.get("/admin/").status_code == 302


def test_staff_sign_in_through_allauth_and_reach_the_admin(client):
    person("sam", is_staff=True, is_superuser=True)

    client.post("/accounts/login/", {"login": "sam", "password": PASSWORD})
    response = client.get("/admin/")

    assert response.status_code == 200
    assert "Essay Forum administration" in response.text


@override_settings(STAFF_REQUIRE_2FA=True)
def test_when_required_staff_without_two_factor_are_sent_to_set_it_up(client):
    client.force_login(person("sam", is_staff=True, is_superuser=True))

    response = client.get("/admin/", follow=True)

    assert response.redirect_chain[-1][0] == "/accounts/2fa/"
    assert "Set up two-factor authentication before you use the admin." in response.text


@override_settings(STAFF_REQUIRE_2FA=True)
def test_when_required_staff_with_two_factor_reach_the_admin(client):
    sam = person("sam", is_staff=True, is_superuser=True)
    secret = generate_totp_secret()
    TOTP.activate(sam, secret)

    client.post("/accounts/login/", {"login": "sam", "password": PASSWORD})
    code = format_hotp_value(hotp_value(secret, int(time.time()) // 30))
    client.post("/accounts/2fa/authenticate/", {"code": code})

    assert client.get("/admin/").status_code == 200


def test_the_admin_path_comes_from_the_environment():
    script = "from django.urls import reverse; print(reverse('admin:index'))"
    env = {
        "PATH": "/usr/bin:/bin",
        "DEBUG": "true",
        "ADMIN_URL": "back-office-42/",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script],
        cwd=Path(__file__).resolve().parent.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.stdout.strip().splitlines()[-1] == "/back-office-42/"
