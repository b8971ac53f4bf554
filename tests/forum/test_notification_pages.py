"""The bell, the notifications page, and following from the discussion."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from essays.templatetags.datetimes import ago, relative_time
from forum.models import Notification, Subscription
from tests.conftest import keep_fragments, make_moderator


def bell(html: str) -> str:
    match = re.search(r'<a class="bell[^"]*" href="/notifications/">(.*?)</a>', html, re.S)
    assert match, "no bell in the header"
    return re.sub(r"<[^>]+>", "", match.group(1)).strip()


@pytest.fixture
def answered(post, ann, ben):
    question = post(ann, "What changed?")
    return post(ben, "Everything, and quickly.", parent=question)


def test_the_bell_counts_unread_notifications(client, answered, ann):
    client.force_login(ann)

    assert bell(client.get("/").text) == "Notifications 1 unread"


def test_a_section_page_asks_the_bell_with_the_members_votes_and_counts_alike(
    client, answered, ann, ben, section, django_assert_num_queries
):
    """A section's page looks for anything unread in the query that reads the member's
    votes and follows (forum.threads): the bell says what it says on every other page,
    counting only when there is something unread."""
    page = section.get_absolute_url()
    keep_fragments()  # (as a process that has shown these comments before)
    client.force_login(ben)  # nothing unread
    client.get("/")
    with django_assert_num_queries(6):
        assert bell(client.get(page).text) == "Notifications"
    client.force_login(ann)  # Ben answered her
    client.get("/")
    with django_assert_num_queries(7):  # the count, as on any page
        assert bell(client.get(page).text) == "Notifications 1 unread"
    assert bell(client.get("/").text) == "Notifications 1 unread"

    Notification.objects.filter(recipient=ann).mark_read()

    assert bell(client.get(page).text) == "Notifications"


@pytest.mark.parametrize(
    ("before", "words"),
    [
        (timedelta(hours=3), "3 hours ago"),
        (timedelta(minutes=1), "1 minute ago"),
        (timedelta(days=30), None),  # its date, as a comment says it
    ],
)
def test_the_page_says_when_in_the_words_a_comment_uses(client, answered, ann, before, words):
    """Not Django's timesince ("0 minutes ago" where a comment says "now")."""
    moment = timezone.now() - before
    Notification.objects.filter(recipient=ann).update(created_at=moment)
    client.force_login(ann)

    when = re.search(r"<time [^>]*>([^<]*)</time>", client.get("/notifications/").text)

    assert when.group(1) == (words or timezone.localtime(moment).strftime("%-d %b %Y"))


def test_the_words_for_when_are_one_rule():
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    said = {
        seconds: relative_time(now - timedelta(seconds=seconds), now)
        for seconds in (0, 9, 10, 59, 60, 119, 3600, 86399, 86400, 2 * 86400)
    }
    assert said == {
        0: "now",
        9: "now",
        10: "10 seconds ago",
        59: "59 seconds ago",
        60: "1 minute ago",
        119: "1 minute ago",
        3600: "1 hour ago",
        86399: "23 hours ago",
        86400: "1 day ago",
        2 * 86400: "2 days ago",
    }
    assert ago(None) == ""


def test_readers_have_no_bell(client, answered):
    assert 'class="bell' not in client.get("/").text


def test_the_page_lists_what_happened_and_opening_one_marks_it_read(client, answered, ann):
    client.force_login(ann)

    page = client.get("/notifications/")
    notice = Notification.objects.get(recipient=ann)
    assert "ben replied to your comment on “The DeepSeek Moment”" in page.text
    assert "Everything, and quickly." in page.text
    assert "notification--unread" in page.text

    opened = client.get(f"/notifications/{notice.pk}/")
    assert opened.status_code == 302
    assert opened["Location"] == f"/comments/{answered.pk}/"
    notice.refresh_from_db()
    assert notice.read_at is not None
    assert bell(client.get("/").text) == "Notifications"


def test_mark_all_as_read(client, post, answered, ann, ben):
    post(ben, "And another thing.", parent=answered.parent)
    client.force_login(ann)

    response = client.post("/notifications/read/", follow=True)

    assert "All notifications are marked as read." in response.text
    assert not Notification.objects.filter(recipient=ann, read_at__isnull=True).exists()


def test_nobody_opens_another_persons_notification(client, answered, ann, ben):
    notice = Notification.objects.get(recipient=ann)
    client.force_login(ben)

    assert client.get(f"/notifications/{notice.pk}/").status_code == 404
    assert client.get("/notifications/99999999999999/").status_code == 404
    notice.refresh_from_db()
    assert notice.read_at is None


def test_a_notification_about_a_comment_hidden_since_says_so(client, answered, ann, mo):
    notice = Notification.objects.get(recipient=ann)
    answered.moderate(mo, "remove", "Off-topic")
    client.force_login(ann)

    response = client.get(f"/notifications/{notice.pk}/", follow=True)

    assert "That comment is no longer available." in response.text
    assert "Everything, and quickly." not in response.text


def test_the_notifications_page_needs_an_account(client):
    response = client.get("/notifications/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_the_notifications_page_paginates(client, post, ann, ben, settings):
    question = post(ann, "Q")
    for n in range(35):
        post(ben, f"Answer {n}", parent=question)
    client.force_login(ann)

    first = client.get("/notifications/")
    second = client.get("/notifications/?page=2")
    odd = client.get("/notifications/?page=nonsense")

    assert first.text.count('class="notification ') == 30
    assert second.text.count('class="notification ') == 5
    assert odd.status_code == 200


# --- Following ------------------------------------------------------------------------


def test_a_member_follows_and_unfollows_a_section_without_javascript(client, section, dan):
    client.force_login(dan)
    page = client.get(section.get_absolute_url())
    assert "Follow this section" in page.text
    url = f"{section.get_absolute_url()}follow/"

    followed = client.post(url, {"follow": "1"}, follow=True)
    assert "You now follow this section." in followed.text
    assert "Following this section" in followed.text
    assert Subscription.objects.filter(user=dan, section=section).exists()

    client.post(url, {"follow": "0"})
    assert not Subscription.objects.filter(user=dan).exists()


def test_htmx_swaps_the_follow_button_in_place(client, section, dan):
    client.force_login(dan)

    response = client.post(
        f"{section.get_absolute_url()}follow/", {"follow": "1"}, headers={"HX-Request": "true"}
    )

    assert response.text.strip().startswith('<form class="follow"')
    assert 'aria-pressed="true"' in response.text
    assert "<html" not in response.text


def test_each_comment_offers_to_follow_the_thread_below_it(client, post, ann, dan):
    comment = post(ann, "Root")
    client.force_login(dan)

    page = client.get(comment.section.get_absolute_url())
    assert f'action="/comments/{comment.pk}/follow/"' in page.text

    response = client.post(
        f"/comments/{comment.pk}/follow/", {"follow": "1"}, headers={"HX-Request": "true"}
    )
    assert 'aria-pressed="true"' in response.text
    assert "Following" in response.text
    assert Subscription.objects.filter(user=dan, thread=comment).exists()
    page = client.get(comment.section.get_absolute_url())
    assert re.search(rf'/comments/{comment.pk}/follow/".*?aria-pressed="true"', page.text, re.S)


@pytest.mark.parametrize("choice", ["", "2", "yes", "1\x00", "x" * 10_000])
def test_an_odd_follow_choice_gets_a_clear_400(client, section, post, ann, choice):
    comment = post(ann)
    client.force_login(ann)

    for url in (f"{section.get_absolute_url()}follow/", f"/comments/{comment.pk}/follow/"):
        response = client.post(url, {"follow": choice})
        assert response.status_code == 400
        assert "Choose to follow (1) or to stop following (0)." in response.text


def test_following_needs_a_verified_account_but_anyone_may_stop(client, section, cal):
    client.force_login(cal)
    url = f"{section.get_absolute_url()}follow/"

    refused = client.post(url, {"follow": "1"})
    assert refused.status_code == 403
    assert "verify your email address" in refused.text
    assert not Subscription.objects.filter(user=cal).exists()
    assert client.post(url, {"follow": "0"}).status_code == 302


def test_a_comment_posted_with_htmx_shows_it_is_followed(client, section, ann):
    client.force_login(ann)

    response = client.post(
        f"{section.get_absolute_url()}comments/",
        {"body": "Posted in place", "token": "6b3a1c8e-2f4d-4a5b-9c7d-0e1f2a3b4c5d"},
        headers={"HX-Request": "true"},
    )

    assert response.status_code == 200
    assert re.search(r'<button[^>]*name="follow" value="0" aria-pressed="true"', response.text)


def test_hidden_comments_cannot_be_followed(client, post, ann, dan, mo):
    comment = post(ann, "Removed")
    comment.moderate(mo, "remove")
    client.force_login(dan)

    response = client.post(f"/comments/{comment.pk}/follow/", {"follow": "1"})

    assert response.status_code == 404
    assert not Subscription.objects.filter(user=dan).exists()


def test_following_needs_an_account_and_a_post(client, section, post, ann):
    comment = post(ann)
    url = f"/comments/{comment.pk}/follow/"

    assert client.post(url)["Location"].startswith("/accounts/login/")
    client.force_login(ann)
    assert client.get(url).status_code == 405


# --- Preferences ------------------------------------------------------------------------


def test_members_choose_their_emails_and_only_moderators_see_the_review_choice(client, ann):
    client.force_login(ann)
    page = client.get("/accounts/settings/")
    assert "Email me about new comments in what I follow" in page.text
    assert "Follow the replies below my comments" in page.text
    assert "email_on_review" not in page.text

    client.post(
        "/accounts/settings/",
        {"display_name": "", "bio": "", "email_on_reply": "on", "follow_own_comments": ""},
    )
    ann.refresh_from_db()
    assert (ann.email_on_reply, ann.email_on_follow, ann.follow_own_comments) == (
        True,
        False,
        False,
    )

    moderator = make_moderator("mia")
    client.force_login(moderator)
    assert "Email me when comments wait for review" in client.get("/accounts/settings/").text


def test_operators_see_mail_delivery_in_the_admin_and_moderators_do_not(
    client, answered, sam, mo, settings
):
    url = f"/{settings.ADMIN_URL}forum/notification/"
    client.force_login(sam)
    listing = client.get(url + "?email_state__exact=queued")
    assert listing.status_code == 200
    assert "waiting to be sent" in listing.text

    client.force_login(mo)
    assert client.get(url).status_code == 403


def test_the_notifications_page_lists_what_one_follows_with_a_way_to_stop(
    client, section, post, ann, ben
):
    mine = post(ann, "My own words")  # followed by posting
    Subscription.objects.follow(ann, section=section)
    theirs = post(ben, "Ben's hidden words")
    Subscription.objects.follow(ann, thread=theirs)
    theirs.moderate(make_moderator("mia"), "spam")
    client.force_login(ann)

    page = client.get("/notifications/").text

    assert f'Section <a href="{section.get_absolute_url()}">The DeepSeek Moment</a>' in page
    assert f'<a href="/comments/{mine.pk}/">your comment</a>' in page
    assert "My own words" in page
    assert "Ben's hidden words" not in page  # hidden since: its text is not shown
    assert page.count("Stop following") == 3
    stopped = client.post(
        f"/comments/{mine.pk}/follow/", {"follow": "0", "from": "notifications"}, follow=True
    )
    assert stopped.redirect_chain[-1][0] == "/notifications/"
    assert "You no longer follow this thread." in stopped.text
    assert stopped.text.count("Stop following") == 2


def test_excerpts_show_the_text_not_the_markdown(client, post, ann, ben):
    question = post(ann, "What about **open** [weights](https://example.org/w)?")
    post(ben, "It is *all* about `code` & [licences](https://example.org/l).", parent=question)
    Subscription.objects.get_or_create(user=ann, thread=question)
    client.force_login(ann)

    page = client.get("/notifications/").text

    assert "It is all about code &amp; licences." in page  # the notification
    assert "What about open weights?" in page  # what Ann follows
    for markdown in ("**", "*all*", "`code`", "](https://example.org"):
        assert markdown not in page
