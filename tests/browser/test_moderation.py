"""A reader reports a comment; a moderator removes it at the review desk; the reader's
page shows the placeholder. In a real browser, admin included."""

import pytest
from playwright.sync_api import expect

from forum.models import Comment, ModerationLog
from tests.browser.test_discussion import SECTION, sign_in
from tests.conftest import make_member, make_moderator

pytestmark = pytest.mark.browser


def test_report_then_remove_from_the_queue_then_the_placeholder(page, problems, live_url, essay):
    section = essay.sections.get(slug="the-deepseek-moment")
    ann, ben, mo = make_member("ann"), make_member("ben"), make_moderator("mo")
    rude, _ = Comment.objects.post(section=section, author=ann, body="A rude remark.")
    Comment.objects.post(section=section, author=ben, body="Please be kind.", parent=rude)

    # Ben reports it.
    sign_in(page, live_url, "ben")
    page.goto(f"{live_url}{SECTION}")
    page.locator(f"#c-{rude.pk}").get_by_role("link", name="Report").first.click()
    page.get_by_label("Harassment or abuse").check()
    page.get_by_role("button", name="Send report").click()
    expect(page.get_by_text("The moderators will look at this comment.")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()

    # The moderator finds it at the review desk and removes it, with a reason.
    sign_in(page, live_url, "mo")
    page.goto(f"{live_url}/admin/")
    page.get_by_role("link", name="1 comment awaits review").click()
    card = page.locator(f"#card-{rude.pk}")
    expect(card).to_contain_text("Harassment or abuse, reported by ben")
    removal = card.locator("details", has_text="Why remove it?")
    removal.get_by_text("Remove…").click()
    removal.get_by_label("In your own words").fill("Personal attack.")
    removal.get_by_role("button", name="Remove", exact=True).click()
    # The last card decided, the desk loads the next ones: none. The decision stays undoable.
    expect(page.get_by_text("Nothing waits for review.")).to_be_visible()
    expect(page.locator("#desk-last")).to_have_text(
        "Removed ann’s comment “A rude remark.” (Personal attack.)."
    )
    page.goto(f"{live_url}/admin/")
    page.get_by_role("button", name="Log out").click()

    # Ben sees the placeholder, and his reply still in place.
    sign_in(page, live_url, "ben")
    page.goto(f"{live_url}{SECTION}")
    expect(page.locator(f"#c-{rude.pk}")).to_contain_text("[removed by a moderator]")
    expect(page.locator(f"#c-{rude.pk}")).not_to_contain_text("A rude remark.")
    expect(page.get_by_text("Please be kind.")).to_be_visible()

    assert ModerationLog.objects.filter(
        action="remove", actor=mo, reason="Personal attack."
    ).exists()
    problems.assert_none()
