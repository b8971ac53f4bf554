"""The admin's door is allauth's: rate-limited, two-factor aware, at a configurable path."""

import subprocess
import sys
import time
from pathlib import Path

import pytest
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, generate_totp_secret, hotp_value
from django.test import override_settings

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_the_admin_sends_strangers_to_the_sites_sign_in_page(client):
    response = client.get("/admin/")

    assert response.status_code == 302
    assert response["Location"] == "/admin/login/?next=/admin/"
    response = client.get(response["Location"])
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=%2Fadmin%2F"


def test_the_admin_has_no_password_form_of_its_own(client, sam, mo):
    client.force_login(mo)

    # Django's own admin login would switch to whoever's password is posted here.
    response = client.post("/admin/login/", {"username": "sam", "password": PASSWORD})

    assert response.status_code == 302
    assert client.get("/").context["user"] == mo


def test_the_admins_password_change_is_allauths(client, sam):
    client.force_login(sam)

    response = client.get("/admin/password_change/")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/password/change/"


def test_a_signed_in_reader_is_refused_at_the_admin(client, ann):
    client.force_login(ann)

    response = client.get("/admin/login/")

    assert response.status_code == 403
    assert client.get("/admin/").status_code == 302


def test_staff_sign_in_through_allauth_and_reach_the_admin(client, sam):
    client.post("/accounts/login/", {"login": "sam", "password": PASSWORD})
    response = client.get("/admin/")

    assert response.status_code == 200
    assert "Essay Forum administration" in response.text


@override_settings(STAFF_REQUIRE_2FA=True)
def test_when_required_staff_without_two_factor_are_sent_to_set_it_up(client, sam):
    client.force_login(sam)

    response = client.get("/admin/", follow=True)

    assert response.redirect_chain[-1][0] == "/accounts/2fa/"
    assert "Set up two-factor authentication before you use the admin." in response.text


@override_settings(STAFF_REQUIRE_2FA=True)
def test_when_required_staff_with_two_factor_reach_the_admin(client, sam):
    secret = generate_totp_secret()
    TOTP.activate(sam, secret)

    response = client.post("/accounts/login/", {"login": "sam", "password": PASSWORD})
    assert response["Location"] == "/accounts/2fa/authenticate/"
    assert client.get("/admin/").status_code == 302  # the password alone does not open it
    code = format_hotp_value(hotp_value(secret, int(time.time()) // 30))
    response = client.post("/accounts/2fa/authenticate/", {"code": code})
    assert response.status_code == 302

    assert client.get("/admin/").status_code == 200


@override_settings(STAFF_REQUIRE_2FA=True)
def test_when_required_a_session_that_skipped_the_second_factor_must_confirm_it(client, sam):
    client.force_login(sam)  # signed in before two-factor was set up
    TOTP.activate(sam, generate_totp_secret())

    response = client.get("/admin/", follow=True)

    assert response.redirect_chain[-1][0].startswith("/accounts/2fa/reauthenticate/")
    assert "Confirm your second factor to use the admin." in response.text


def test_the_admin_path_comes_from_the_environment():
    script = "from django.urls import reverse; print(reverse('admin:index'))"
    env = {
        "PATH": "/usr/bin:/bin",
        "DEBUG": "true",
        "ADMIN_URL": "back-office-42/",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.stdout.strip().splitlines()[-1] == "/back-office-42/"
