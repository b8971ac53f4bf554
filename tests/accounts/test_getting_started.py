"""A new person, from a fresh clone: readable development mail, an administrator who can
open the admin at once, and sign-in or sign-up that lands where one was going."""

import re
from io import StringIO

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from django.core.management import call_command

from accounts.models import User
from config.mail import ReadableConsoleBackend
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

LONG_LINK = "http://127.0.0.1:8000/accounts/confirm-email/" + "MjE:1vQxYz:" + "a" * 90 + "/"


def test_development_mail_prints_a_long_link_on_one_line():
    message = EmailMultiAlternatives(
        "[Essay Forum] Please confirm your email address",
        f"Hello from Essay Forum!\n\nTo confirm, go to {LONG_LINK}\n\nThank you — Ⓔ",
        "noreply@localhost",
        ["carol@example.com"],
    )
    message.attach_alternative(f"<p><a href='{LONG_LINK}'>confirm</a></p>", "text/html")
    out = StringIO()

    ReadableConsoleBackend(stream=out).send_messages([message])

    printed = out.getvalue()
    assert f"To confirm, go to {LONG_LINK}\n" in printed
    assert "Subject: [Essay Forum] Please confirm your email address" in printed
    assert "To: carol@example.com" in printed
    assert "Thank you — Ⓔ" in printed  # decoded, not quoted-printable
    assert "=\n" not in printed
    assert "text/html" in printed  # says the HTML part is there without dumping it


def test_the_verify_your_email_page_says_where_mail_goes_in_development(client, settings):
    settings.DEBUG = True
    settings.MAILERS = {"default": {"BACKEND": "config.mail.ReadableConsoleBackend"}}
    client.post(
        "/accounts/signup/",
        {"username": "carol", "email": "carol@example.com"}
        | {"password1": PASSWORD, "password2": PASSWORD},
    )

    page = client.get("/accounts/confirm-email/")

    assert "Development mode: this site's mail is printed in the terminal" in page.text


def test_in_production_the_page_says_nothing_about_development(client):
    page = client.get("/accounts/confirm-email/")

    assert page.status_code == 200
    assert "Development mode" not in page.text


def test_make_superuser_makes_an_administrator_who_opens_the_admin_at_once(client, monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", PASSWORD)
    call_command(
        "createsuperuser",
        interactive=False,
        username="olga",
        email="olga@example.org",
        stdout=StringIO(),
    )

    olga = User.objects.get(username="olga")
    address = EmailAddress.objects.get(user=olga)
    assert (address.email, address.primary, address.verified) == ("olga@example.org", True, True)
    response = client.post("/accounts/login/?next=/admin/", {"login": "olga", "password": PASSWORD})
    assert response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_signing_in_for_the_admin_lands_on_the_admin_page_one_asked_for(client, sam):
    wanted = "/admin/forum/moderationlog/"
    response = client.get(wanted)
    response = client.get(response["Location"])  # the admin sends people to allauth
    login_url = response["Location"]
    assert login_url == "/accounts/login/?next=%2Fadmin%2Fforum%2Fmoderationlog%2F"
    page = client.get(login_url)
    assert f'value="{wanted}"' in page.text  # the form carries next along

    response = client.post(login_url, {"login": "sam", "password": PASSWORD, "next": wanted})

    assert response["Location"] == wanted
    assert client.get(wanted).status_code == 200


def test_signing_up_from_a_section_comes_back_to_its_discussion(client, section):
    page = client.get(section.get_absolute_url())
    signup_url = re.search(r'href="(/accounts/signup/\?next=[^"]+)"', page.text).group(1)
    wanted = section.get_absolute_url() + "#discussion"
    form = client.get(signup_url.replace("&amp;", "&"))
    assert 'name="next"' in form.text

    client.post(
        signup_url,
        {"username": "carol", "email": "carol@example.com", "next": wanted}
        | {"password1": PASSWORD, "password2": PASSWORD},
    )
    link = re.search(r"https?://testserver(/\S+)", mail.outbox[-1].body).group(1)
    response = client.post(link)

    assert response.status_code == 302
    assert response["Location"] == wanted
    assert client.get("/").context["user"].username == "carol"
