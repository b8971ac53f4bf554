"""`manage.py ensure_admin` makes the first administrator from the environment, once."""

from io import StringIO

import pytest
from allauth.account.models import EmailAddress
from django.core.management import CommandError, call_command

from accounts.models import User
from tests.conftest import make_member

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery-staple-7"


@pytest.fixture
def admin_env(monkeypatch):
    monkeypatch.setenv("ADMIN_USERNAME", "olga")
    monkeypatch.setenv("ADMIN_EMAIL", "olga@example.org")
    monkeypatch.setenv("ADMIN_PASSWORD", PASSWORD)
    return monkeypatch


def ensure_admin():
    out = StringIO()
    call_command("ensure_admin", stdout=out)
    return out.getvalue()


def test_it_creates_a_superuser_with_a_verified_primary_address(admin_env):
    output = ensure_admin()

    olga = User.objects.get(username="olga")
    assert olga.is_superuser
    assert olga.is_staff
    assert olga.check_password(PASSWORD)
    address = EmailAddress.objects.get(user=olga)
    assert (address.email, address.primary, address.verified) == ("olga@example.org", True, True)
    assert "Created the administrator 'olga'" in output


def test_the_new_administrator_signs_in_through_allauth(admin_env, client):
    ensure_admin()

    response = client.post("/accounts/login/", {"login": "olga", "password": PASSWORD})

    assert response.status_code == 302
    assert response.wsgi_request.user.username == "olga"


def test_a_second_start_changes_nothing(admin_env):
    ensure_admin()
    admin_env.setenv("ADMIN_PASSWORD", "another-long-password-8")

    output = ensure_admin()

    assert User.objects.count() == 1
    assert User.objects.get().check_password(PASSWORD)
    assert EmailAddress.objects.count() == 1
    assert "exists already" in output


def test_it_does_nothing_when_any_superuser_exists(admin_env, sam):
    ensure_admin()

    assert list(User.objects.values_list("username", flat=True)) == ["sam"]


def test_without_email_and_password_it_creates_nobody_and_says_how(monkeypatch):
    monkeypatch.delenv("ADMIN_EMAIL", raising=False)
    monkeypatch.delenv("ADMIN_PASSWORD", raising=False)

    output = ensure_admin()

    assert not User.objects.exists()
    assert "Set ADMIN_EMAIL and ADMIN_PASSWORD" in output


def test_the_username_defaults_to_admin(admin_env):
    admin_env.delenv("ADMIN_USERNAME")

    ensure_admin()

    assert User.objects.get().username == "admin"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ADMIN_PASSWORD", "password"),
        ("ADMIN_PASSWORD", "olga-1"),
        ("ADMIN_EMAIL", "not-an-address"),
        ("ADMIN_USERNAME", "olga smith"),
    ],
)
def test_a_bad_value_is_refused_naming_the_variable(admin_env, name, value):
    admin_env.setenv(name, value)

    with pytest.raises(CommandError, match=f"^{name} is not acceptable"):
        ensure_admin()

    assert not User.objects.exists()


def test_a_member_with_that_username_is_not_promoted(admin_env):
    admin_env.setenv("ADMIN_USERNAME", "ann")
    ann = make_member("ann")

    with pytest.raises(CommandError, match="ADMIN_USERNAME 'ann' belongs to an existing account"):
        ensure_admin()

    ann.refresh_from_db()
    assert not ann.is_superuser
    assert not ann.is_staff


def test_a_member_with_that_address_is_not_promoted(admin_env):
    admin_env.setenv("ADMIN_EMAIL", "ann@example.com")
    ann = make_member("ann")

    with pytest.raises(CommandError, match=r"ADMIN_EMAIL 'ann@example\.com' belongs"):
        ensure_admin()

    ann.refresh_from_db()
    assert not ann.is_superuser
    assert User.objects.count() == 1
