"""A member's profile, settings, data export, deletion and two-factor sign-in."""

import json
import time

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, generate_totp_secret, hotp_value

from accounts.models import User
from tests.conftest import PASSWORD, make_member

pytestmark = pytest.mark.django_db


def sign_in(client, user):
    response = client.post("/accounts/login/", {"login": user.username, "password": PASSWORD})
    assert response.status_code == 302
    return response


def current_totp(secret):
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30))


# --- Public profile ---------------------------------------------------------------------


def test_a_profile_shows_name_bio_and_member_since(client, ann):
    ann.display_name = "Ann Reader"
    ann.bio = "I read *slowly*. <script>alert(1)</script> https://ann.example.org"
    ann.save()

    response = client.get("/people/ann/")

    assert response.status_code == 200
    html = response.text
    assert '<h1 id="profile-name">Ann Reader</h1>' in html
    assert "@ann" in html
    assert "<em>slowly</em>" in html
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html
    assert 'href="https://ann.example.org" rel="nofollow ugc noopener noreferrer"' in html
    assert "Member since" in html


@pytest.mark.parametrize("username", ["nobody", "%00", "a%00b", "x" * 500, "%F0%9F%92%A9"])
def test_an_unknown_profile_is_a_404(client, ann, username):
    assert client.get(f"/people/{username}/").status_code == 404


def test_a_deactivated_members_profile_is_gone(client, ann):
    ann.is_active = False
    ann.save()

    assert client.get("/people/ann/").status_code == 404


# --- Settings ---------------------------------------------------------------------------


def test_settings_need_a_signed_in_member(client):
    response = client.get("/accounts/settings/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_a_member_edits_display_name_bio_and_email_preference(client, ann):
    client.force_login(ann)

    response = client.post(
        "/accounts/settings/",
        {"display_name": "  Ann   R.  ", "bio": "Hello **there**", "email_on_reply": ""},
    )

    assert response.status_code == 302
    ann.refresh_from_db()
    assert ann.display_name == "Ann R."
    assert ann.bio_html == "<p>Hello <strong>there</strong></p>"
    assert ann.email_on_reply is False
    assert "Ann R." in client.get("/people/ann/").text


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"display_name": "ben"}, "belongs to another member"),
        ({"display_name": "Deleted User"}, "That name is reserved"),
        ({"display_name": "Moderator"}, "That name is reserved"),
        ({"display_name": "x" * 61}, "at most 60 characters"),
        ({"bio": "y" * 2001}, "at most 2000 characters"),
        ({"bio": "null \x00 byte"}, "Null characters are not allowed"),
        ({"display_name": "nul\x00"}, "Null characters are not allowed"),
        # Names that would pass for someone else's, beside a comment or in a mail.
        ({"display_name": "\u202enimda\u202c"}, "direction-changing characters"),
        ({"display_name": "ben\u200b"}, "invisible or direction-changing characters"),
        ({"display_name": "\uff42en"}, "belongs to another member"),  # fullwidth b
        ({"display_name": "b\u0435n"}, "mixes letters of different alphabets"),  # Cyrillic e
    ],
)
def test_bad_settings_get_a_clear_message_and_change_nothing(client, ann, ben, data, message):
    client.force_login(ann)

    response = client.post("/accounts/settings/", {"display_name": "", "bio": ""} | data)

    assert response.status_code == 200
    assert message in response.text
    ann.refresh_from_db()
    assert (ann.display_name, ann.bio) == ("", "")


@pytest.mark.parametrize("name", ["Zoë Ångström", "Δημήτρης", "Иван Petrov", "李小龍", "O'Brien"])
def test_names_in_any_one_alphabet_are_welcome(client, ann, name):
    client.force_login(ann)

    response = client.post("/accounts/settings/", {"display_name": name, "bio": ""})

    assert response.status_code == 302
    ann.refresh_from_db()
    assert ann.display_name == name


# --- Download my data -------------------------------------------------------------------


def test_the_export_holds_the_members_data_and_nobody_elses(client, ann, ben):
    ann.bio = "Ann's bio"
    ann.save()
    ben.bio = "Ben's secret bio"
    ben.save()
    sign_in(client, ann)

    response = client.get("/accounts/export/")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"].startswith('attachment; filename="essay-forum-ann-')
    data = json.loads(response.content)
    assert data["account"]["username"] == "ann"
    assert data["account"]["bio"] == "Ann's bio"
    assert data["email_addresses"] == [
        {"email": "ann@example.com", "verified": True, "primary": True}
    ]
    assert data["preferences"] == {
        "email_on_reply": True,
        "email_on_follow": True,
        "email_on_moderation": True,
        "email_on_review": False,
        "follow_own_comments": True,
    }
    assert len(data["sessions"]) == 1
    assert "ben" not in response.text.lower()


def test_the_export_holds_what_the_member_wrote_and_voted_for(client, ann, ben, section):
    from forum.models import Comment, Vote

    mine, _ = Comment.objects.post(section=section, author=ann, body="First draft")
    mine.edit("Second draft", by=ann)
    theirs, _ = Comment.objects.post(section=section, author=ben, body="Ben's words")
    Vote.objects.cast(ann, theirs)
    client.force_login(ann)

    data = json.loads(client.get("/accounts/export/").content)

    assert [c["text"] for c in data["comments"]] == ["Second draft"]
    assert data["comments"][0]["earlier_versions"][0]["text"] == "First draft"
    assert data["comments"][0]["section"] == "The DeepSeek Moment"
    assert data["upvotes"] == [{"comment": theirs.pk, "at": data["upvotes"][0]["at"]}]
    assert "Ben's words" not in json.dumps(data)


def test_the_export_holds_what_the_member_follows_and_was_told(client, ann, ben, section):
    from forum.models import Comment

    mine, _ = Comment.objects.post(section=section, author=ann, body="Mine")
    answer, _ = Comment.objects.post(section=section, author=ben, body="Answer", parent=mine)
    client.force_login(ann)

    data = json.loads(client.get("/accounts/export/").content)

    assert [(f["section"], f["thread"]) for f in data["following"]] == [(None, mine.pk)]
    assert [(n["kind"], n["comment"]) for n in data["notifications"]] == [("reply", answer.pk)]


def test_the_export_needs_a_signed_in_member(client):
    assert client.get("/accounts/export/").status_code == 302


# --- Delete my account ------------------------------------------------------------------


def reauthenticate(client):
    response = client.get("/accounts/delete/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/reauthenticate/")
    response = client.post(response["Location"], {"password": PASSWORD})
    assert response.status_code == 302


@pytest.mark.parametrize("choice", ["keep", "erase"])
def test_deleting_an_account_needs_the_password_again_and_removes_only_that_account(
    client, ann, ben, choice
):
    client.force_login(ann)
    reauthenticate(client)

    response = client.post("/accounts/delete/", {"comments": choice, "confirm": "on"})

    assert response.status_code == 302
    assert not User.objects.filter(username="ann").exists()
    assert not EmailAddress.objects.filter(email="ann@example.com").exists()
    assert User.objects.filter(username="ben").exists()
    assert EmailAddress.objects.filter(email="ben@example.com").exists()
    assert not client.get("/").context["user"].is_authenticated


def test_deletion_without_confirming_changes_nothing(client, ann):
    client.force_login(ann)
    reauthenticate(client)

    response = client.post("/accounts/delete/", {"comments": "keep"})

    assert response.status_code == 200
    assert "This field is required" in response.text
    assert User.objects.filter(username="ann").exists()


def test_deletion_with_a_wrong_password_is_refused(client, ann):
    client.force_login(ann)
    response = client.get("/accounts/delete/")
    response = client.post(response["Location"], {"password": "not-my-password"})

    assert response.status_code == 200
    response = client.post("/accounts/delete/", {"comments": "keep", "confirm": "on"})
    assert response["Location"].startswith("/accounts/reauthenticate/")
    assert User.objects.filter(username="ann").exists()


# --- Two-factor authentication ----------------------------------------------------------


def test_with_totp_on_sign_in_asks_for_a_code(client, ann):
    secret = generate_totp_secret()
    TOTP.activate(ann, secret)

    response = sign_in(client, ann)
    assert response["Location"] == "/accounts/2fa/authenticate/"
    assert not client.get("/").context["user"].is_authenticated

    response = client.post("/accounts/2fa/authenticate/", {"code": current_totp(secret)})

    assert response.status_code == 302
    assert client.get("/").context["user"] == ann


def test_a_recovery_code_also_passes_the_second_step(client, ann):
    TOTP.activate(ann, generate_totp_secret())
    codes = RecoveryCodes.activate(ann).generate_codes()

    sign_in(client, ann)
    response = client.post("/accounts/2fa/authenticate/", {"code": codes[0]})

    assert response.status_code == 302
    assert client.get("/").context["user"] == ann
    assert Authenticator.objects.filter(user=ann).count() == 2


def test_the_export_file_name_survives_a_non_ascii_username(client):
    user = make_member("zoë")
    client.force_login(user)

    response = client.get("/accounts/export/")

    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment; filename")
    assert "essay-forum-zo" in response["Content-Disposition"]


def test_a_profile_lists_the_members_visible_comments_newest_first_by_page(client, ann, section):
    from forum.models import Comment

    for n in range(25):
        Comment.objects.post(section=section, author=ann, body=f"Ann's comment number {n}.")
    hidden, _ = Comment.objects.post(section=section, author=ann, body="Then deleted.")
    hidden.delete_by_author()

    first = client.get("/people/ann/").text
    second = client.get("/people/ann/?page=2").text

    assert "comment number 24." in first
    assert first.index("number 24.") < first.index("number 23.")
    assert "comment number 4." not in first
    assert "comment number 4." in second
    assert "Then deleted." not in first + second
    assert "Page 2 of 2" in second
    assert "“The DeepSeek Moment”" in first


def test_a_profile_hides_comments_on_unpublished_essays(client, ann, section):
    from forum.models import Comment

    Comment.objects.post(section=section, author=ann, body="On a draft.")
    section.essay.is_published = False
    section.essay.save()

    assert "On a draft." not in client.get("/people/ann/").text
