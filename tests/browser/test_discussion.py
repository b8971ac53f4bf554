"""The discussion in a real browser, with JavaScript on (htmx) and off (plain forms)."""

import re

import pytest
from playwright.sync_api import expect

from forum.models import Comment
from tests.conftest import PASSWORD, make_member

pytestmark = pytest.mark.browser

SECTION = "/essays/open-source-meets-open-weights/the-deepseek-moment/"


def sign_in(page, live_url, username):
    page.goto(f"{live_url}/accounts/login/")
    page.get_by_label("Login:").fill(username)
    page.get_by_label("Password:", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign In", exact=True).click()
    expect(page.get_by_role("navigation", name="Account")).to_contain_text(username)


def comment(page, pk):
    return page.locator(f"#c-{pk}")


def test_with_javascript_post_reply_edit_vote_and_collapse_in_place(
    page, problems, live_url, essay
):
    ann, ben = make_member("ann"), make_member("ben")
    theirs, _ = Comment.objects.post(
        section=essay.sections.get(slug="the-deepseek-moment"), author=ben, body="Ben's opening."
    )
    sign_in(page, live_url, "ann")
    page.goto(f"{live_url}{SECTION}")
    start_url = page.url

    # Post: the comment joins the list, the form empties, the page does not reload.
    form = page.locator("#comment-form")
    form.get_by_label("Your comment").fill("A **first** thought.")
    form.get_by_role("button", name="Post comment").click()
    expect(page.locator(".thread.posted")).to_contain_text("A first thought.")
    mine = Comment.objects.get(author=ann)
    expect(comment(page, mine.pk)).to_contain_text("A first thought.")
    expect(page.locator("#comment-form").get_by_label("Your comment")).to_have_value("")
    assert page.url == start_url

    # Reply: the form opens under the comment and the reply appears nested.
    comment(page, theirs.pk).get_by_role("link", name="Reply").first.click()
    reply_form = comment(page, theirs.pk).locator("form.comment-form--reply")
    reply_form.get_by_label("Your reply").fill("Answering Ben.")
    reply_form.get_by_role("button", name="Post reply").click()
    expect(page.locator(".replies.posted")).to_contain_text("Answering Ben.")
    reply = Comment.objects.get(parent=theirs)
    expect(comment(page, reply.pk)).to_contain_text("Answering Ben.")

    # Edit: the body turns into a form and back.
    comment(page, mine.pk).get_by_role("link", name="Edit").first.click()
    edit = comment(page, mine.pk).locator("form.comment-form--edit")
    edit.get_by_label("Edit your comment").fill("A *revised* thought.")
    edit.get_by_role("button", name="Save changes").click()
    expect(comment(page, mine.pk).locator(".comment__body").first).to_contain_text(
        "A revised thought."
    )

    # Vote on Ben's comment, then withdraw.
    vote = page.locator(f"#c-{theirs.pk}-vote")
    vote.get_by_role("button", name="△ Upvote").click()
    expect(page.locator(f"#c-{theirs.pk}-vote")).to_contain_text("1 point")
    page.locator(f"#c-{theirs.pk}-vote").get_by_role("button", name="▲ Upvoted").click()
    expect(page.locator(f"#c-{theirs.pk}-vote")).to_contain_text("0 points")

    # Collapse Ben's thread: its reply is hidden, the header stays.
    summary = comment(page, theirs.pk).locator("summary").first
    summary.click()
    expect(comment(page, reply.pk)).to_be_hidden()
    expect(summary).to_be_visible()

    assert page.url == start_url  # all of it in place
    problems.assert_none()


def test_selecting_a_passage_offers_to_quote_it(page, problems, live_url, essay):
    make_member("ann")
    sign_in(page, live_url, "ann")
    page.goto(f"{live_url}{SECTION}")

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
    page.get_by_role("button", name="Respond to this passage").click()
    form = page.locator("#comment-form")
    expect(form.get_by_label("Quote from the section (optional)")).to_have_value(
        "competitive performance"
    )
    form.get_by_label("Your comment").fill("On this phrase.")
    form.get_by_role("button", name="Post comment").click()

    posted = page.locator(".comment__quote mark")
    expect(posted).to_have_text("competitive performance")
    assert Comment.objects.get().quote_anchor == paragraph.get_attribute("id")
    problems.assert_none()


def test_without_javascript_post_and_reply_with_plain_forms(
    page_without_javascript, live_url, essay
):
    page = page_without_javascript
    make_member("ann")
    sign_in(page, live_url, "ann")
    page.goto(f"{live_url}{SECTION}")

    page.get_by_label("Your comment").fill("Posted without scripts.")
    page.get_by_role("button", name="Post comment").click()
    mine = Comment.objects.get()
    expect(page).to_have_url(re.compile(rf"#c-{mine.pk}$"))
    expect(page.get_by_text("Your comment is published.")).to_be_visible()
    expect(comment(page, mine.pk)).to_contain_text("Posted without scripts.")

    comment(page, mine.pk).get_by_role("link", name="Reply").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Reply")
    page.get_by_label("Your reply").fill("And a reply, also without scripts.")
    page.get_by_role("button", name="Preview").click()
    expect(page.locator(".preview")).to_contain_text("And a reply, also without scripts.")
    page.get_by_role("button", name="Post reply").click()

    reply = Comment.objects.get(parent=mine)
    expect(page).to_have_url(re.compile(rf"#c-{reply.pk}$"))
    expect(comment(page, mine.pk).locator(f"#c-{reply.pk}")).to_contain_text(
        "And a reply, also without scripts."
    )


def ann_reads_bens_comment(page, live_url, essay):
    """Ben has posted; Ann, signed in, has the section open. Returns Ann and his comment."""
    ben = make_member("ben")
    theirs, _ = Comment.objects.post(
        section=essay.sections.get(slug="the-deepseek-moment"), author=ben, body="Vote for me"
    )
    ann = make_member("ann")
    sign_in(page, live_url, "ann")
    page.goto(f"{live_url}{SECTION}")
    return ann, theirs


def test_without_javascript_upvote_and_follow_submit_the_pages_one_form(
    page_without_javascript, live_url, essay
):
    """Each comment's buttons submit the page's one form (its CSRF token) to their own
    address: the plain-form path, with no form around each button."""
    page = page_without_javascript
    ann, theirs = ann_reads_bens_comment(page, live_url, essay)

    comment(page, theirs.pk).get_by_role("button", name="△ Upvote").click()
    expect(comment(page, theirs.pk).locator(".vote")).to_contain_text("1 point")
    expect(comment(page, theirs.pk).get_by_role("button", name="▲ Upvoted")).to_be_visible()
    comment(page, theirs.pk).get_by_role("button", name="Follow", exact=True).click()
    expect(page.get_by_text("You now follow this thread")).to_be_visible()
    expect(comment(page, theirs.pk).get_by_role("button", name="✓ Following")).to_be_visible()
    assert theirs.votes.get().user == ann
    assert ann.subscriptions.get().thread == theirs

    comment(page, theirs.pk).get_by_role("button", name="▲ Upvoted").click()
    expect(comment(page, theirs.pk).locator(".vote")).to_contain_text("0 points")
    assert not theirs.votes.exists()


def test_with_javascript_upvote_and_follow_stay_in_place(page, problems, live_url, essay):
    """htmx sends the buttons' requests with the page's form's token and swaps the
    answer in; the browser does not also submit the form (the page is not reloaded)."""
    ann, theirs = ann_reads_bens_comment(page, live_url, essay)
    page.evaluate("window.stillHere = true")

    comment(page, theirs.pk).get_by_role("button", name="△ Upvote").click()
    expect(comment(page, theirs.pk).get_by_role("button", name="▲ Upvoted")).to_be_visible()
    comment(page, theirs.pk).get_by_role("button", name="Follow", exact=True).click()
    expect(comment(page, theirs.pk).get_by_role("button", name="✓ Following")).to_be_visible()
    comment(page, theirs.pk).get_by_role("button", name="✓ Following").click()
    expect(
        comment(page, theirs.pk).get_by_role("button", name="Follow", exact=True)
    ).to_be_visible()

    assert page.evaluate("window.stillHere") is True
    assert theirs.votes.get().user == ann
    assert not ann.subscriptions.exists()
    problems.assert_none()


def test_an_expired_session_sends_an_in_place_action_to_the_sign_in_page(
    page, problems, live_url, essay
):
    ben = make_member("ben")
    theirs, _ = Comment.objects.post(
        section=essay.sections.get(slug="the-deepseek-moment"), author=ben, body="Vote for me"
    )
    make_member("ann")
    sign_in(page, live_url, "ann")
    page.goto(f"{live_url}{SECTION}")

    page.context.clear_cookies(name="sessionid")  # the session ends while the page is open
    page.locator(f"#c-{theirs.pk}-vote").get_by_role("button", name="△ Upvote").click()

    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign In")
    assert not Comment.objects.get().votes.exists()


def test_with_javascript_a_refused_preview_says_why_in_place(page, problems, live_url, essay):
    """A preview refused for its limit is a 429; htmx swaps its message in like any
    answer with a form (base.html's responseHandling), rather than failing silently."""
    from forum.models import ModerationPolicy

    ModerationPolicy.objects.update_or_create(pk=1, defaults={"new_comments_per_minute": 1})
    make_member("ann")
    sign_in(page, live_url, "ann")
    page.goto(f"{live_url}{SECTION}")
    form = page.locator("#comment-form")
    shown = form.locator(".comment-form__preview")

    for n in range(5):  # five previews per comment allowed in a minute
        form.get_by_label("Your comment").fill(f"Draft **{n}**")
        form.get_by_role("button", name="Preview").click()
        expect(shown.locator("strong")).to_have_text(str(n))
    form.get_by_label("Your comment").fill("Draft **six**")
    form.get_by_role("button", name="Preview").click()

    expect(shown).to_contain_text("You are previewing very quickly")
    expect(page.locator(".action-status")).to_be_hidden()  # no "that did not work"
    expect(form.get_by_label("Your comment")).to_have_value("Draft **six**")
    refused = [f for f in problems.failed_responses if f.startswith("429 ")]
    assert len(refused) == 1
    assert refused[0].endswith("/comments/preview/")
    problems.failed_responses.remove(refused[0])
    problems.console_errors[:] = [e for e in problems.console_errors if "429" not in e]
    problems.assert_none()
