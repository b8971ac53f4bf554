"""A reader opens the essay in a real browser and finds their way to a section."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_a_reader_follows_the_contents_to_a_section(page, problems, live_url, essay):
    page.goto(f"{live_url}/essays/open-source-meets-open-weights/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Open Source Meets Open Weights")

    contents = page.get_by_role("navigation", name="Contents")
    contents.get_by_role("link", name="The DeepSeek Moment", exact=True).click()
    expect(page).to_have_url(re.compile(r"#the-deepseek-moment$"))
    heading = page.get_by_role("heading", name="The DeepSeek Moment")
    expect(heading).to_be_in_viewport()

    page.locator("#the-deepseek-moment").get_by_role(
        "link", name="Discuss “The DeepSeek Moment”"
    ).click()
    expect(page).to_have_url(
        f"{live_url}/essays/open-source-meets-open-weights/the-deepseek-moment/#discussion"
    )
    expect(page.get_by_role("heading", level=1)).to_have_text("The DeepSeek Moment")
    expect(
        page.get_by_role("link", name=re.compile("What “Open” Actually Enables"))
    ).to_have_attribute("rel", "next")
    # The stylesheet arrived and applied: the reading column is narrower than the window.
    width = page.locator(".prose").first.evaluate(
        "element => element.getBoundingClientRect().width"
    )
    assert 300 < width < 900

    problems.assert_none()


def test_the_skip_link_is_the_first_stop_and_jumps_to_the_content(page, problems, live_url, essay):
    page.goto(f"{live_url}/")

    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile("#site-main$"))

    problems.assert_none()


def test_the_violation_detector_catches_an_inline_script(page, problems, live_url, essay):
    """Guards the guard: without a working detector the tests above would prove nothing."""
    page.goto(f"{live_url}/")

    page.evaluate(
        """() => {
            const script = document.createElement("script");
            script.textContent = "window.__ran = true";
            document.body.append(script);
        }"""
    )

    page.wait_for_function("window.__cspViolations.length > 0")
    assert page.evaluate("window.__ran === undefined")
    assert any(v.startswith("script-src") for v in problems.csp_violations())
