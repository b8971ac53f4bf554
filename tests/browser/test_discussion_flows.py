"""In-place (htmx) flows that stay true to what a reload would show, and forms that keep
what a reader types: counts, the "edited" marker, Reply and Cancel, focus, drafts kept
in the browser, Preview when editing, quoting from the keyboard, folded counts."""

import re

import pytest
from playwright.sync_api import expect

from forum.models import Comment
from tests.browser.test_discussion import SECTION, comment, sign_in
from tests.conftest import make_member

pytestmark = pytest.mark.browser

# htmx reports a failed out-of-band swap as an event, not on the console.
RECORD_HTMX_ERRORS = """
window.__htmxErrors = [];
for (const name of ["htmx:oobErrorNoTarget", "htmx:targetError", "htmx:swapError"]) {
  document.addEventListener(name, (event) => window.__htmxErrors.push(name));
}
"""


@pytest.fixture
def section(essay):
    return essay.sections.get(slug="the-deepseek-moment")


@pytest.fixture
def htmx_errors(page):
    page.context.add_init_script(RECORD_HTMX_ERRORS)
    return lambda: page.evaluate("window.__htmxErrors")


@pytest.fixture
def dialogs(page):
    """Every dialog the page opens (a "leave the page?" question), accepted."""
    seen = []

    def answer(dialog):
        seen.append(dialog.type)
        dialog.accept()

    page.on("dialog", answer)
    return seen


def test_posting_twice_in_place_counts_the_threads_and_every_swap_finds_its_target(
    page, problems, htmx_errors, live_url, essay
):
    make_member("ann")
    sign_in(page, live_url, "ann")
    page.goto(f"{live_url}{SECTION}")
    count = page.locator("#thread-count")
    expect(count).to_have_text("0 threads")
    expect(page.get_by_text("No comments yet.")).to_be_visible()

    form = page.locator("#comment-form")
    form.get_by_label("Your comment").fill("The first.")
    form.get_by_role("button", name="Post comment").click()
    expect(count).to_have_text("1 thread")
    expect(page.get_by_text("No comments yet.")).to_be_hidden()

    page.locator("#comment-form").get_by_label("Your comment").fill("The second.")
    page.locator("#comment-form").get_by_role("button", name="Post comment").click()
    expect(count).to_have_text("2 threads")
    expect(page.locator(".thread.posted")).to_have_count(2)

    assert htmx_errors() == []
    problems.assert_none()


def test_an_edit_in_place_has_preview_and_shows_the_edited_marker_at_once(
    page, problems, htmx_errors, live_url, section
):
    ann = make_member("ann")
    mine, _ = Comment.objects.post(section=section, author=ann, body="A first draft.")
    sign_in(page, live_url, "ann")
    page.goto(f"{live_url}{SECTION}")
    header = page.locator(f"#c-{mine.pk}-meta")
    expect(header).not_to_contain_text("edited")

    comment(page, mine.pk).get_by_role("link", name="Edit").click()
    box = comment(page, mine.pk).get_by_label("Edit your comment")
    expect(box).to_be_focused()  # the form takes the focus as it opens
    box.fill("A *second* draft.")
    comment(page, mine.pk).get_by_role("button", name="Preview").click()
    preview = comment(page, mine.pk).locator(".preview")
    expect(preview.locator("em")).to_have_text("second")
    mine.refresh_from_db()
    assert mine.body == "A first draft."  # a preview changes nothing

    comment(page, mine.pk).get_by_role("button", name="Save changes").click()
    expect(comment(page, mine.pk).locator(".comment__body em")).to_have_text("second")
    expect(header).to_contain_text("edited")
    expect(header.locator(".comment__edited time")).to_have_attribute(
        "datetime", re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$")
    )

    # Edit pressed twice keeps what is typed; Cancel puts the text back as it was, and
    # the focus on Edit.
    comment(page, mine.pk).get_by_role("link", name="Edit").click()
    comment(page, mine.pk).get_by_label("Edit your comment").fill("Not this.")
    comment(page, mine.pk).get_by_role("link", name="Edit").click()
    expect(comment(page, mine.pk).get_by_label("Edit your comment")).to_have_value("Not this.")
    comment(page, mine.pk).get_by_role("link", name="Cancel").click()
    expect(comment(page, mine.pk).locator(".comment__body")).to_contain_text("A second draft.")
    expect(comment(page, mine.pk).get_by_role("link", name="Edit")).to_be_focused()
    assert htmx_errors() == []
    problems.assert_none()


def test_reply_opens_once_keeps_the_typed_text_and_cancel_closes_it(
    page, problems, live_url, section
):
    ben = make_member("ben")
    theirs, _ = Comment.objects.post(section=section, author=ben, body="Ben's point.")
    make_member("ann")
    sign_in(page, live_url, "ann")
    page.goto(f"{live_url}{SECTION}")
    reply_link = comment(page, theirs.pk).get_by_role("link", name="Reply")

    reply_link.click()
    box = comment(page, theirs.pk).get_by_label("Your reply")
    expect(box).to_be_focused()
    box.fill("Half a thought")
    reply_link.click()  # again: the form stays, with the text
    expect(comment(page, theirs.pk).locator("form.comment-form--reply")).to_have_count(1)
    expect(box).to_have_value("Half a thought")
    expect(box).to_be_focused()

    comment(page, theirs.pk).get_by_role("link", name="Cancel").click()
    expect(comment(page, theirs.pk).locator("form.comment-form--reply")).to_have_count(0)
    expect(reply_link).to_be_focused()
    reply_link.click()  # cancelled means discarded
    expect(comment(page, theirs.pk).get_by_label("Your reply")).to_have_value("")
    problems.assert_none()


def test_drafts_survive_a_reload_leaving_asks_first_and_posting_clears_them(
    page, problems, dialogs, live_url, section
):
    ben = make_member("ben")
    theirs, _ = Comment.objects.post(section=section, author=ben, body="Ben's point.")
    make_member("ann")
    sign_in(page, live_url, "ann")
    page.goto(f"{live_url}{SECTION}")

    body = page.locator("#comment-form").get_by_label("Your comment")
    body.click()
    body.fill("Something I must not lose.")
    comment(page, theirs.pk).get_by_role("link", name="Reply").click()
    comment(page, theirs.pk).get_by_label("Your reply").fill("A reply in progress.")

    page.reload()
    assert dialogs == ["beforeunload"]  # leaving asked first
    expect(page.locator("#comment-form").get_by_label("Your comment")).to_have_value(
        "Something I must not lose."
    )
    comment(page, theirs.pk).get_by_role("link", name="Reply").click()
    expect(comment(page, theirs.pk).get_by_label("Your reply")).to_have_value(
        "A reply in progress."
    )

    comment(page, theirs.pk).get_by_role("button", name="Post reply").click()
    expect(page.locator(".replies.posted")).to_contain_text("A reply in progress.")
    page.locator("#comment-form").get_by_role("button", name="Post comment").click()
    expect(page.locator(".thread.posted")).to_contain_text("Something I must not lose.")
    assert Comment.objects.filter(author__username="ann").count() == 2

    page.reload()  # nothing unsent: no question, no draft comes back
    assert dialogs == ["beforeunload"]
    expect(page.locator("#comment-form").get_by_label("Your comment")).to_have_value("")
    assert page.evaluate("Object.keys(localStorage)") == []

    # Signing out forgets the drafts (the sign-out question is answered: leave).
    page.locator("#comment-form").get_by_label("Your comment").fill("Left unsent.")
    assert page.evaluate("Object.keys(localStorage)") != []
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("link", name="Sign in")).to_be_visible()
    assert dialogs == ["beforeunload"]  # sending a form is leaving on purpose
    assert page.evaluate("Object.keys(localStorage)") == []
    problems.assert_none()


def test_respond_to_this_passage_from_the_keyboard(page, problems, live_url, essay):
    make_member("ann")
    sign_in(page, live_url, "ann")
    page.goto(f"{live_url}{SECTION}")
    form = page.locator("#comment-form")
    quote = form.get_by_label("Quote from the section (optional)")
    expect(quote).to_be_hidden()  # an empty quote field is not the form's first field

    # A selection made without the mouse (as shift and the arrows do in caret browsing).
    paragraph = page.locator("[data-section-text] p").first
    paragraph.evaluate(
        """(p) => {
            const text = p.firstChild;
            const start = text.textContent.indexOf("competitive performance");
            const range = document.createRange();
            range.setStart(text, start);
            range.setEnd(text, start + "competitive performance".length);
            getSelection().removeAllRanges();
            getSelection().addRange(range);
        }"""
    )
    respond = page.get_by_role("button", name="Respond to this passage")
    expect(respond).to_be_visible()  # it appears as the selection is made
    page.keyboard.press("Tab")
    expect(respond).to_be_focused()
    page.keyboard.press("Enter")

    expect(quote).to_be_visible()
    expect(quote).to_have_value("competitive performance")
    expect(form.get_by_role("button", name="Quote from the section")).to_have_count(0)
    expect(form.get_by_label("Your comment")).to_be_focused()
    page.keyboard.type("On this phrase.")
    form.get_by_role("button", name="Post comment").click()
    expect(page.locator(".comment__quote mark")).to_have_text("competitive performance")
    problems.assert_none()


def test_a_quote_can_be_pasted_by_hand_once_its_field_is_opened(page, problems, live_url, essay):
    make_member("ann")
    sign_in(page, live_url, "ann")
    page.goto(f"{live_url}{SECTION}")
    form = page.locator("#comment-form")
    quote = form.get_by_label("Quote from the section (optional)")
    expect(quote).to_be_hidden()

    form.get_by_role("button", name="Quote from the section").click()
    expect(quote).to_be_focused()
    quote.fill("competitive performance")
    form.get_by_label("Your comment").fill("Pasted.")
    form.get_by_role("button", name="Post comment").click()
    expect(page.locator(".comment__quote mark")).to_have_text("competitive performance")
    problems.assert_none()


def test_a_folded_thread_says_how_many_replies_it_holds_in_all(
    page, problems, live_url, section, settings
):
    ann, ben = make_member("ann"), make_member("ben")
    top, _ = Comment.objects.post(section=section, author=ann, body="Top.")
    parent = top
    for n in range(7):  # deeper than a page shows (6 levels)
        parent, _ = Comment.objects.post(
            section=section, author=ben if n % 2 == 0 else ann, body=f"Level {n + 1}.",
            parent=parent,
        )  # fmt: skip
    Comment.objects.post(section=section, author=ben, body="A second reply.", parent=top)
    page.goto(f"{live_url}{SECTION}")

    header = page.locator(f"#c-{top.pk}-meta")
    expect(header.locator(".comment__folded-note")).to_be_hidden()
    comment(page, top.pk).locator("summary").first.click()
    expect(header.locator(".comment__folded-note")).to_have_text("8 replies folded")
    expect(header.get_by_role("link", name="ann")).to_be_visible()
    expect(page.get_by_role("link", name="Continue this thread (2 replies) →")).to_be_hidden()

    comment(page, top.pk).locator("summary").first.click()
    expect(page.get_by_role("link", name="Continue this thread (2 replies) →")).to_be_visible()
    problems.assert_none()


def test_a_reply_in_place_updates_what_its_ancestors_say_when_folded(
    page, problems, htmx_errors, live_url, section
):
    ben = make_member("ben")
    top, _ = Comment.objects.post(section=section, author=ben, body="Top.")
    middle, _ = Comment.objects.post(section=section, author=ben, body="Middle.", parent=top)
    make_member("ann")
    sign_in(page, live_url, "ann")

    # On a thread page rooted at the middle comment, the top one is not shown: no error.
    page.goto(f"{live_url}/comments/{middle.pk}/thread/")
    comment(page, middle.pk).get_by_role("link", name="Reply").click()
    comment(page, middle.pk).get_by_label("Your reply").fill("From the thread page.")
    comment(page, middle.pk).get_by_role("button", name="Post reply").click()
    expect(page.locator(".replies.posted")).to_contain_text("From the thread page.")

    page.goto(f"{live_url}{SECTION}")
    comment(page, middle.pk).get_by_role("link", name="Reply").first.click()
    comment(page, middle.pk).get_by_label("Your reply").fill("From the section.")
    comment(page, middle.pk).get_by_role("button", name="Post reply").click()
    expect(page.locator(".replies.posted")).to_contain_text("From the section.")
    comment(page, top.pk).locator("summary").first.click()
    expect(page.locator(f"#c-{top.pk}-meta .comment__folded-note")).to_have_text("3 replies folded")
    expect(page.locator("[data-refreshes]")).to_have_count(0)
    assert htmx_errors() == []
    problems.assert_none()


def test_every_target_in_a_comment_is_at_least_24_pixels_on_a_phone(
    browser, transactional_db, live_url, section
):
    ann, ben = make_member("ann"), make_member("ben")
    top, _ = Comment.objects.post(section=section, author=ann, body="Top.")
    Comment.objects.post(section=section, author=ben, body="Reply.", parent=top)
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    sign_in(page, live_url, "ben")
    page.goto(f"{live_url}{SECTION}")

    sizes = page.locator(
        ".comment summary, .comment__meta a, .comment__actions a, .comment__actions button"
    ).evaluate_all(
        """(targets) => targets.map((t) => {
            const box = t.getBoundingClientRect();
            return [t.textContent.trim() || t.className, box.width, box.height];
        })"""
    )
    context.close()
    assert len(sizes) >= 10
    small = [(name, w, h) for name, w, h in sizes if w < 24 or h < 24]
    assert small == []


def test_without_javascript_the_quote_field_shows_and_an_edit_is_previewed(
    page_without_javascript, live_url, section
):
    page = page_without_javascript
    ann = make_member("ann")
    mine, _ = Comment.objects.post(section=section, author=ann, body="A first draft.")
    sign_in(page, live_url, "ann")
    page.goto(f"{live_url}{SECTION}")
    expect(page.get_by_label("Quote from the section (optional)")).to_be_visible()

    comment(page, mine.pk).get_by_role("link", name="Edit").click()
    page.get_by_label("Edit your comment").fill("A **bold** draft.")
    page.get_by_role("button", name="Preview").click()
    expect(page.locator(".preview strong")).to_have_text("bold")
    expect(page.get_by_label("Edit your comment")).to_have_value("A **bold** draft.")
    mine.refresh_from_db()
    assert mine.body == "A first draft."

    page.get_by_role("button", name="Save changes").click()
    expect(page).to_have_url(re.compile(rf"#c-{mine.pk}$"))
    expect(page.locator(f"#c-{mine.pk}-meta")).to_contain_text("edited")
