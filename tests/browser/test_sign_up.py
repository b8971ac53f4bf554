"""A newcomer signs up, confirms their email and signs in, in a real browser."""

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

PASSWORD = "correct-horse-battery-staple"


def test_sign_up_confirm_and_first_sign_in(page, problems, live_url, essay):
    page.goto(f"{live_url}/")
    page.get_by_role("link", name="Sign up").click()

    page.get_by_label("Username").fill("frankie")
    page.get_by_label("Email").fill("frankie@example.com")
    page.get_by_label("Password:", exact=True).fill(PASSWORD)
    page.get_by_label("Password (again)").fill(PASSWORD)
    page.get_by_role("button", name="Sign Up").click()

    expect(page.get_by_role("heading", name="Verify Your Email Address")).to_be_visible()
    assert len(mail.outbox) == 1
    link = re.search(r"http://\S+/accounts/confirm-email/\S+", mail.outbox[0].body).group(0)

    page.goto(link)
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("navigation", name="Account")).to_contain_text("frankie")

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("link", name="Sign in")).to_be_visible()

    page.get_by_role("link", name="Sign in").click()
    page.get_by_label("Login").fill("frankie@example.com")
    page.get_by_label("Password:", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign In", exact=True).click()

    expect(page.get_by_role("navigation", name="Account")).to_contain_text("frankie")
    page.get_by_role("link", name="Settings").click()
    expect(page.get_by_role("heading", name="Profile and preferences")).to_be_visible()
    problems.assert_none()


ACCOUNT_PAGES = [
    ("/accounts/settings/", "Profile and preferences"),
    ("/accounts/email/", "Email Addresses"),
    ("/accounts/password/change/", "Change Password"),
    ("/accounts/2fa/", "Two-Factor Authentication"),
    # Adding a second factor asks for the password again first.
    ("/accounts/2fa/totp/activate/", re.compile("Activate Authenticator App|Confirm Access")),
    ("/accounts/2fa/webauthn/add/", re.compile("Add Security Key|Confirm Access")),
    ("/accounts/sessions/", "Sessions"),
    ("/people/gina/", "gina"),
]


def test_every_account_page_renders_cleanly_under_the_strict_policy(
    page, problems, live_url, django_user_model
):
    from allauth.account.models import EmailAddress

    user = django_user_model.objects.create_user("gina", "gina@example.com", PASSWORD)
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    page.goto(f"{live_url}/accounts/login/")
    page.get_by_label("Login:").fill("gina")
    page.get_by_label("Password:", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign In", exact=True).click()
    expect(page.get_by_role("navigation", name="Account")).to_contain_text("gina")

    for path, heading in ACCOUNT_PAGES:
        page.goto(f"{live_url}{path}")
        expect(page.get_by_role("heading", level=1)).to_contain_text(heading)
        assert problems.all() == {
            "console": [],
            "failed responses": [],
            "script errors": [],
            "csp violations": [],
        }, path
