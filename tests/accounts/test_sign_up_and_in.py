"""Accounts: sign up with a verified email, sign in by password or code, stay safe."""

import re

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.test import override_settings

from accounts.models import User

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery-staple"


def sign_up(client, username="carol", email="carol@example.com", **extra):
    return client.post(
        "/accounts/signup/",
        {"username": username, "email": email, "password1": PASSWORD, "password2": PASSWORD}
        | extra,
    )


def link_in(message):
    return re.search(r"https?://testserver(/\S+)", message.body).group(1)


def assert_text_and_html(message):
    """Every mail has a plain-text body and an HTML alternative saying the same."""
    assert message.body.strip()
    html = {mime: body for body, mime in message.alternatives}["text/html"]
    assert "Essay Forum" in html
    first_words = message.body.strip().splitlines()[0][:20]
    assert first_words.split(",")[0] in html


def verified_member(username="dana", email="dana@example.com"):
    user = User.objects.create_user(username, email, PASSWORD)
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    return user


def test_sign_up_then_confirm_the_email_then_sign_in(client):
    response = sign_up(client)

    assert response.status_code == 302
    assert response["Location"] == "/accounts/confirm-email/"
    user = User.objects.get(username="carol")
    assert not user.can_write()
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["carol@example.com"]
    assert message.subject.startswith("[Essay Forum] ")
    assert_text_and_html(message)

    confirm_url = link_in(message)
    assert client.get(confirm_url).status_code == 200
    response = client.post(confirm_url)

    assert response.status_code == 302
    assert EmailAddress.objects.get(user=user).verified
    assert User.objects.get(pk=user.pk).can_write()
    # Confirming in the same browser signs the person in.
    assert client.get("/").context["user"] == user

    client.post("/accounts/logout/")
    for login in ("carol", "carol@example.com"):
        response = client.post("/accounts/login/", {"login": login, "password": PASSWORD})
        assert response.status_code == 302, login
        assert client.get("/").context["user"] == user
        client.post("/accounts/logout/")


def test_a_username_mixing_look_alike_alphabets_is_refused(client):
    verified_member("dana")

    response = sign_up(client, username="d\u0430na")  # a Cyrillic a

    assert response.status_code == 200
    assert "mixes letters of different alphabets" in response.text
    assert not User.objects.filter(email="carol@example.com").exists()


def test_an_unverified_account_cannot_sign_in(client):
    sign_up(client)
    client.post("/accounts/logout/")
    mail.outbox.clear()

    response = client.post("/accounts/login/", {"login": "carol", "password": PASSWORD})

    assert response.status_code == 302
    assert response["Location"] == "/accounts/confirm-email/"
    assert not client.get("/").context["user"].is_authenticated
    assert not User.objects.get(username="carol").can_write()


def test_sign_up_with_a_taken_email_looks_the_same_and_warns_the_owner(client):
    owner = verified_member(email="taken@example.com")

    response = sign_up(client, username="mallory", email="taken@example.com")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/confirm-email/"
    assert not User.objects.filter(username="mallory").exists()
    assert [m.to for m in mail.outbox] == [[owner.email]]
    assert "already" in mail.outbox[0].body.lower()
    assert_text_and_html(mail.outbox[0])


def test_sign_in_failures_do_not_say_whether_the_account_exists(client):
    verified_member()

    wrong_password = client.post("/accounts/login/", {"login": "dana", "password": "nope-nope"})
    no_such_user = client.post("/accounts/login/", {"login": "nobody", "password": "nope-nope"})

    assert wrong_password.status_code == no_such_user.status_code == 200
    assert wrong_password.context["form"].errors == no_such_user.context["form"].errors


def test_password_reset_does_not_reveal_which_addresses_exist(client):
    verified_member()

    known = client.post("/accounts/password/reset/", {"email": "dana@example.com"})
    unknown = client.post("/accounts/password/reset/", {"email": "stranger@example.com"})

    assert known.status_code == unknown.status_code == 302
    assert known["Location"] == unknown["Location"]
    # Each address hears about it: the member gets a link, the stranger a note.
    assert sorted(m.to[0] for m in mail.outbox) == ["dana@example.com", "stranger@example.com"]


def test_a_forgotten_password_is_reset_by_email(client):
    user = verified_member()

    client.post("/accounts/password/reset/", {"email": "dana@example.com"})
    message = mail.outbox[0]
    assert_text_and_html(message)
    response = client.get(link_in(message), follow=True)
    form_url = response.redirect_chain[-1][0]
    response = client.post(
        form_url, {"password1": "a-brand-new-passphrase", "password2": "a-brand-new-passphrase"}
    )

    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password("a-brand-new-passphrase")


def test_sign_in_by_a_one_time_code_sent_by_email(client):
    user = verified_member()

    response = client.post("/accounts/login/code/", {"email": "dana@example.com"})
    assert response.status_code == 302
    message = mail.outbox[0]
    assert_text_and_html(message)
    code = re.search(r"^([A-Z0-9]{4}-[A-Z0-9]{4})$", message.body, re.M).group(1)

    response = client.post(response["Location"], {"code": code})

    assert response.status_code == 302
    assert client.get("/").context["user"] == user


def test_the_sign_up_honeypot_stops_bots_without_telling_them(client):
    response = sign_up(client, website="https://spam.example")

    assert response.status_code == 302
    assert not User.objects.filter(username="carol").exists()
    assert mail.outbox == []


def test_the_honeypot_is_hidden_without_an_inline_style(client):
    html = client.get("/accounts/signup/").text

    field = re.search(r'<input[^>]*name="website"[^>]*>', html).group(0)
    assert 'class="honeypot"' in field
    assert "style=" not in field


def test_hitting_a_rate_limit_shows_a_clear_page_not_an_error(client):
    verified_member()

    statuses = [
        client.post("/accounts/password/reset/", {"email": "dana@example.com"}).status_code
        for _ in range(7)
    ]

    assert statuses[:5] == [302] * 5
    assert statuses[-1] == 429
    response = client.post("/accounts/password/reset/", {"email": "dana@example.com"})
    assert "Too many attempts" in response.text
    assert "Please wait a few minutes" in response.text


def reset_from(client, ip, n):
    return client.post(
        "/accounts/password/reset/",
        {"email": f"person{n}@example.com"},
        # A client may forge the start of the header; the proxy appends the real peer.
        HTTP_X_FORWARDED_FOR=f"192.0.2.1, {ip}",
        REMOTE_ADDR="10.0.0.1",
    ).status_code


@override_settings(ALLAUTH_TRUSTED_PROXY_COUNT=1)
def test_behind_a_trusted_proxy_limits_count_each_client_ip_separately(client):
    statuses = [reset_from(client, "203.0.113.5", n) for n in range(21)]
    assert statuses[-1] == 429

    assert reset_from(client, "198.51.100.7", 99) == 302


def test_without_a_trusted_proxy_a_forged_forwarded_for_header_is_ignored(client):
    statuses = [reset_from(client, f"203.0.113.{n}", n) for n in range(21)]

    assert statuses[-1] == 429  # all counted against the real peer, 10.0.0.1


def test_sessions_are_listed_and_can_be_ended(client):
    user = verified_member()
    other_device = client.__class__()
    for browser in (client, other_device):
        browser.post("/accounts/login/", {"login": "dana", "password": PASSWORD})

    page = client.get("/accounts/sessions/")
    assert page.status_code == 200
    assert len(page.context["sessions"]) == 2

    client.post("/accounts/sessions/", {"action": "sign_out_other"})

    assert client.get("/").context["user"] == user
    assert not other_device.get("/").context["user"].is_authenticated


def test_a_password_change_sends_a_security_notice_in_text_and_html(client):
    user = verified_member()
    client.post("/accounts/login/", {"login": "dana", "password": PASSWORD})

    response = client.post(
        "/accounts/password/change/",
        {
            "oldpassword": PASSWORD,
            "password1": "another-long-passphrase",
            "password2": "another-long-passphrase",
        },
    )

    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password("another-long-passphrase")
    notice = mail.outbox[-1]
    assert notice.to == ["dana@example.com"]
    assert "password" in notice.subject.lower()
    assert "If you do not recognize this change" in notice.body
    assert_text_and_html(notice)


def test_social_sign_in_is_offered_only_when_configured(client, settings):
    assert "GitHub" not in client.get("/accounts/login/").text

    settings.SOCIALACCOUNT_PROVIDERS = {
        "github": {"APPS": [{"client_id": "id-123", "secret": "secret-456"}]}
    }

    assert "GitHub" in client.get("/accounts/login/").text


def test_mail_html_links_only_to_this_site_and_escapes_everything_else(client):
    sign_up(client, username="login.evil.example.com", email="eve@example.com")

    html = {mime: body for body, mime in mail.outbox[0].alternatives}["text/html"]
    confirm = link_in(mail.outbox[0])
    assert f'<a href="http://testserver{confirm}">' in html
    assert "login.evil.example.com" in html
    assert 'href="http://login.evil' not in html
    assert html.count("<a ") == 1
