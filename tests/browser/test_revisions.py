"""A reader, without JavaScript, finds what changed in a section and reads the editors'
answer to a comment: the history and the diff are plain server-rendered pages."""

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


@pytest.fixture
def no_script_page(browser, transactional_db):
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, java_script_enabled=False
    )
    page = context.new_page()
    yield page
    context.close()


def test_a_reader_without_javascript_follows_an_answer_to_the_changes(
    no_script_page, live_url, section, post, ann, editor
):
    page = no_script_page
    comment = post(ann, "The opening overstates it.")
    section.revise(
        section.body_markdown.replace("China’s DeepSeek", "The Chinese lab DeepSeek", 1),
        by=editor,
    )
    comment.mark_addressed(editor, 2, "Toned the opening down.")

    page.goto(f"{live_url}{section.get_absolute_url()}")
    answer = page.locator(f"#c-{comment.pk} .comment__answer")
    expect(answer).to_contain_text("Addressed by the editors in revision 2")
    answer.get_by_role("link", name="revision 2 (see what changed)").click()

    expect(page.get_by_role("heading", level=1)).to_contain_text("from revision 1 to revision 2")
    expect(page.locator(".diff del").first).to_have_text("[removed: China’s]")
    expect(page.locator(".diff ins").first).to_have_text("[added: The Chinese lab]")

    page.get_by_role("link", name="History", exact=True).click()
    revision = page.locator("#r-2")
    expect(revision).to_contain_text("Revision 2")
    expect(revision).to_contain_text("editor")
    expect(revision).to_contain_text("Addresses 1 comment:")
    expect(page.locator("#r-1")).to_contain_text("import")
