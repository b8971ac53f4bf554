"""Following and the bell in a real browser: the buttons swap in place, the count shows,
and opening a notification lands on the comment."""

import pytest
from playwright.sync_api import expect

from forum.models import Comment, Notification, Subscription
from tests.browser.test_discussion import SECTION, comment, sign_in
from tests.conftest import make_member

pytestmark = pytest.mark.browser


def test_follow_a_thread_hear_of_a_reply_and_open_it(page, problems, live_url, essay):
    dan, ann = make_member("dan"), make_member("ann")
    section = essay.sections.get(slug="the-deepseek-moment")
    root, _ = Comment.objects.post(section=section, author=ann, body="Ann opens a thread.")
    sign_in(page, live_url, "dan")
    page.goto(f"{live_url}{SECTION}")

    # Follow the section and the thread: both buttons change in place.
    page.get_by_role("button", name="Follow this section").click()
    expect(page.get_by_role("button", name="Following this section")).to_be_visible()
    comment(page, root.pk).get_by_role("button", name="Follow", exact=True).click()
    expect(comment(page, root.pk).get_by_role("button", name="Following")).to_be_visible()
    assert Subscription.objects.filter(user=dan).count() == 2

    # Ann answers in the thread; Dan's bell shows it on his next page.
    Comment.objects.post(section=section, author=ann, body="Ann answers herself.", parent=root)
    page.goto(f"{live_url}/")
    bell = page.get_by_role("link", name="Notifications")
    expect(bell).to_contain_text("1")
    bell.click()
    expect(page.get_by_role("heading", name="Notifications")).to_be_visible()
    page.get_by_role("link", name="ann replied in a thread you follow").click()
    reply = Comment.objects.get(parent=root)
    expect(page.locator(f"#c-{reply.pk}")).to_be_visible()
    assert f"#c-{reply.pk}" in page.url
    assert Notification.objects.get(recipient=dan).read_at is not None
    expect(page.get_by_role("link", name="Notifications")).not_to_contain_text("1")
    problems.assert_none()
