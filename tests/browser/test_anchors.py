"""A quote follows its passage through edits made in the admin, in a real browser: moved,
it stays silently attached; reworded, the comment says it responded to an earlier
version, shows both wordings, and the diff is one click away."""

import re

import pytest
from playwright.sync_api import expect

from forum.models import Comment
from tests.browser.test_discussion import sign_in

pytestmark = pytest.mark.browser

PHRASE = "competitive performance at a fraction"


def select(page, words):
    page.locator("[data-section-text] p", has_text=words).first.evaluate(
        """(p, words) => {
            const walker = document.createTreeWalker(p, NodeFilter.SHOW_TEXT);
            let node;
            while ((node = walker.nextNode())) {
                const start = node.textContent.indexOf(words);
                if (start < 0) continue;
                const range = document.createRange();
                range.setStart(node, start);
                range.setEnd(node, start + words.length);
                getSelection().removeAllRanges();
                getSelection().addRange(range);
                document.dispatchEvent(new Event("selectionchange"));
                return;
            }
        }""",
        words,
    )


def edit_in_admin(page, live_url, section, old, new):
    page.goto(f"{live_url}/admin/essays/section/{section.pk}/change/")
    text = page.locator("#id_body_markdown")
    text.fill(text.input_value().replace(old, new))
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist")).to_contain_text("was changed successfully")


def test_a_quote_follows_its_passage_and_says_when_it_was_reworded(
    page, problems, live_url, section, ann, editor
):
    sign_in(page, live_url, "ann")
    page.goto(f"{live_url}{section.get_absolute_url()}")
    select(page, PHRASE)
    page.get_by_role("button", name="Respond to this passage").click()
    form = page.locator("#comment-form")
    form.get_by_label("Your comment").fill("Was it really that cheap?")
    form.get_by_role("button", name="Post comment").click()
    expect(page.locator(".comment__quote mark")).to_have_text(PHRASE)
    comment = Comment.objects.get()
    quote = page.locator(f"#c-{comment.pk} .quote-block")
    expect(quote).to_have_attribute("data-anchor-state", "anchored")
    # The paragraph now carries a mark: one comment on it.
    page.reload()
    expect(page.locator(f'.passage-mark[data-passage="{comment.quote_anchor}"]')).to_contain_text(
        "1"
    )

    # An editor adds a sentence before the passage: the quote moves with it, silently.
    page.context.clear_cookies()
    sign_in(page, live_url, "editor")
    edit_in_admin(page, live_url, section, "Not because", "It was a surprise. Not because")
    page.goto(f"{live_url}{section.get_absolute_url()}")
    expect(quote).to_have_attribute("data-anchor-state", "anchored")
    expect(quote).not_to_contain_text("earlier version")
    comment.refresh_from_db()
    paragraph = page.locator(f"#{comment.anchor_paragraph}")
    expect(paragraph).to_contain_text(PHRASE)
    expect(paragraph).to_contain_text("It was a surprise.")

    # Then rewords the passage itself.
    edit_in_admin(page, live_url, section, "competitive performance", "comparable performance")
    page.goto(f"{live_url}{section.get_absolute_url()}")
    expect(quote).to_have_attribute("data-anchor-state", "changed")
    expect(quote).to_have_attribute("data-revision", "1")
    expect(quote).to_contain_text("Responded to an earlier version (revision 1)")
    expect(quote.locator("figure").nth(0)).to_contain_text(PHRASE)
    expect(quote.locator("figure").nth(1)).to_contain_text("comparable performance at a fraction")

    quote.get_by_role("link", name="See what changed").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("from revision 1 to revision 3")
    expect(page.locator(".diff ins", has_text="comparable")).to_have_count(1)
    problems.assert_none()


def test_selecting_a_passage_with_threads_shows_them_before_a_new_one(
    page, problems, live_url, section, ann, ben
):
    passage = section.find_passage(PHRASE)
    Comment.objects.post(section=section, author=ben, body="Ben on the cost.", passage=passage)
    ben_comment = Comment.objects.get()
    sign_in(page, live_url, "ann")
    page.goto(f"{live_url}{section.get_absolute_url()}")

    select(page, "genuinely open-weight release")  # the same paragraph
    button = page.get_by_role("button", name="Respond to this passage")
    button.click()

    expect(page.locator(f"#c-{ben_comment.pk}")).to_have_class(re.compile("is-on-passage"))
    expect(page.locator("#comment-form [name=quote]")).to_have_value("")
    select(page, "genuinely open-weight release")
    page.get_by_role("button", name="Start a new thread anyway").click()
    expect(page.locator("#comment-form [name=quote]")).to_have_value(
        "genuinely open-weight release"
    )
    problems.assert_none()
