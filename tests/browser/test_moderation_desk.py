"""The review desk in a real browser: a moderator clears a queue of 100 by keyboard alone,
the same decisions work as plain forms without JavaScript, and the desk fits a phone
and a laptop in light and dark mode (screenshots in data/screenshots/, to look at)."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import expect

from accounts.models import Ban
from forum.models import Comment, ModerationLog, needs_review
from tests.browser.conftest import RECORD_CSP_VIOLATIONS, PageProblems
from tests.browser.desk_queue import SUSPENSION, keys_for, seed_review_queue
from tests.browser.test_discussion import sign_in
from tests.conftest import make_moderator

pytestmark = pytest.mark.browser

DESK = "/admin/forum/reviewitem/desk/"
SCREENSHOTS = Path(settings.DATA_DIR) / "screenshots"

OUTCOME = {"a": "approve", "s": "spam", "r": "remove", "b": "suspend"}
PATIENCE = 60_000  # ms: a page's worth of decisions answered on a busy, shared machine


def test_a_moderator_clears_a_queue_of_100_by_keyboard_alone(page, problems, live_url, essay):
    """Every decision is made, recorded, and costs one or two keys; one mistake is
    undone with u. The mouse is never used."""
    queue = seed_review_queue(essay.sections.get(slug="the-deepseek-moment"), 100)
    mo = make_moderator("mo")
    sign_in(page, live_url, "mo")
    page.goto(f"{live_url}{DESK}")
    expect(page.locator("#desk.has-keys")).to_be_attached()
    expect(page.get_by_text("100 comments wait for review")).to_be_visible()
    pressed = 0

    def press(key):
        nonlocal pressed
        page.keyboard.press(key)
        pressed += 1

    for n, comment in enumerate(queue):
        card = page.locator(f"#card-{comment.pk}")
        expect(card).to_be_focused()
        if n == 20:  # a slip: spam instead of approve, taken back at once
            press("s")
            press("u")  # answered after the decisions still on their way
            expect(card).not_to_have_class(re.compile("is-decided"), timeout=PATIENCE)
            expect(card).to_be_focused()
        keys = keys_for(n)
        if n % 25 == 24 and n != len(queue) - 1:  # the page's last card: the next page loads
            # once the page's decisions, sent in the background, are all answered.
            with page.expect_navigation(timeout=PATIENCE):
                for key in keys:
                    press(key)
            expect(page.locator("#desk.has-keys")).to_be_attached()
        else:
            for key in keys:
                press(key)
    expect(page.get_by_text("Nothing waits for review.")).to_be_visible(timeout=PATIENCE)

    assert not needs_review().exists()
    decided = {c.pk: c for c in Comment.objects.filter(pk__in=[c.pk for c in queue])}
    for n, comment in enumerate(queue):
        kind = OUTCOME[keys_for(n)[0]]
        after = decided[comment.pk]
        expected = {"approve": "published", "spam": "spam"}.get(kind, "removed")
        assert after.status == expected, (n, kind)
        if kind == "remove":
            assert after.moderation_reason == (
                "Off-topic" if n % 10 == 7 else "Personal attack or harassment"
            )
    # 10 spam, 20 removals, 1 suspension, 69 approvals; plus the slip and its undo.
    acts = list(ModerationLog.objects.filter(actor=mo).values_list("action", flat=True))
    assert acts.count("approve") + acts.count("resolve") == 69
    assert acts.count("spam") == 10 + 1
    assert acts.count("hold") == 1  # the undo, which put the slip back in the queue
    assert acts.count("remove") == 20 + 1  # a suspension removes the comment too
    assert acts.count("ban") == 1
    assert Ban.objects.in_force().get().user == queue[SUSPENSION].author
    assert pressed == 100 + 20 + 1 + 2  # a key each, a digit for 21 reasons, the slip and u
    problems.assert_none()


def test_without_javascript_every_decision_is_a_plain_form(
    browser, transactional_db, live_url, essay
):
    section = essay.sections.get(slug="the-deepseek-moment")
    first, second, _ = seed_review_queue(section, 3)
    make_moderator("mo")
    context = browser.new_context(
        java_script_enabled=False, viewport={"width": 1280, "height": 900}
    )
    page = context.new_page()
    try:
        sign_in(page, live_url, "mo")
        page.goto(f"{live_url}{DESK}")
        expect(page.locator("#desk-keys")).to_be_hidden()  # no keys without the script

        page.locator(f"#card-{first.pk}").get_by_role("button", name="Approve").click()
        assert page.url.endswith(f"{DESK}#card-{second.pk}")
        expect(page.locator("#desk-last")).to_contain_text("Approved Writer 0’s comment")

        card = page.locator(f"#card-{second.pk}")
        card.get_by_text("Remove…").click()
        card.get_by_label("Off-topic").first.check()
        card.get_by_role("button", name="Remove", exact=True).click()
        expect(page.locator("#desk-last")).to_contain_text("Removed Writer 1’s comment")

        page.get_by_role("button", name="Undo").click()
        expect(page.get_by_text("Undone: Writer 1’s comment")).to_be_visible()
        expect(page.locator(f"#card-{second.pk}")).to_be_visible()
        assert Comment.objects.get(pk=second.pk).status == "pending"
        assert Comment.objects.get(pk=first.pk).status == "published"
    finally:
        context.close()


MEASURE = """({
  page: document.documentElement.scrollWidth,
  viewport: window.innerWidth,
  // Every element of the cards, except what scrolls inside a code block's own box.
  widest: Math.max(...[...document.querySelectorAll(".desk-card *")]
    .filter((element) => !element.parentElement.closest("pre"))
    .map((element) => element.getBoundingClientRect().right)),
  codeScrolls: [...document.querySelectorAll(".desk-card pre")].every(
    (pre) => getComputedStyle(pre).overflowX === "auto"),
})"""


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", [390, 1366])
def test_the_desk_fits_a_phone_and_a_laptop(
    browser, transactional_db, live_url, essay, width, scheme
):
    """Long words, long URLs, long lines of code: nothing may widen the page."""
    seed_review_queue(essay.sections.get(slug="the-deepseek-moment"), 8, hostile=True)
    make_moderator("mo")
    context = browser.new_context(
        viewport={"width": width, "height": 844 if width < 500 else 900}, color_scheme=scheme
    )
    context.add_init_script(RECORD_CSP_VIOLATIONS)
    page = context.new_page()
    problems = PageProblems(page)
    try:
        sign_in(page, live_url, "mo")
        page.goto(f"{live_url}{DESK}")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SCREENSHOTS / f"desk-{width}-{scheme}.png")
        as_loaded = page.evaluate(MEASURE)
        # With the lists of reasons open (the widest a card gets).
        page.keyboard.press("r")
        page.keyboard.press("Escape")
        page.locator(".desk-card").nth(1).locator("summary", has_text="Suspend…").click()
        page.screenshot(path=SCREENSHOTS / f"desk-{width}-{scheme}-reasons.png")
        with_reasons = page.evaluate(MEASURE)

        for widths in (as_loaded, with_reasons):
            assert widths["page"] <= widths["viewport"], widths
            assert widths["widest"] <= widths["viewport"], widths
            assert widths["codeScrolls"]
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert (background == "rgb(18, 18, 18)") == (scheme == "dark")
        problems.assert_none()
    finally:
        context.close()
