"""A real Chromium (Debian's, through Playwright) against a live server.

The live server serves static files the way production does: WhiteNoise from the
collected, hashed files, not Django's development finders.
"""

import os
from pathlib import Path

import pytest
from django.db import connections
from django.test.testcases import LiveServerThread

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# Records every Content-Security-Policy violation the page reports, before any page
# script runs (Playwright adds this through the DevTools protocol, outside the CSP).
RECORD_CSP_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(event.violatedDirective + " " + event.blockedURI);
});
"""


@pytest.fixture(scope="session")
def live_url(django_db_setup, django_db_blocker, collected_static):
    with django_db_blocker.unblock():
        shared = {
            alias: conn
            for alias, conn in ((c.alias, c) for c in connections.all())
            if conn.vendor == "sqlite" and conn.is_in_memory_db()
        }
        for conn in shared.values():
            conn.inc_thread_sharing()
        server = LiveServerThread("localhost", lambda app: app, connections_override=shared)
        server.daemon = True
        server.start()
        server.is_ready.wait()
        if server.error:
            raise server.error
        yield f"http://localhost:{server.port}"
        server.terminate()
        for conn in shared.values():
            conn.dec_thread_sharing()


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        message = f"Chromium not found at {CHROMIUM}: install Debian's chromium package."
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class PageProblems:
    """Everything a page did wrong that a reader would not see but we must."""

    def __init__(self, page):
        self.page = page
        self.console_errors = []
        self.failed_responses = []
        self.page_errors = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.page_errors.append(str(error)))
        page.on("response", self._response)

    def _console(self, message):
        if message.type in {"error", "warning"}:
            self.console_errors.append(f"{message.type}: {message.text}")

    def _response(self, response):
        if response.status >= 400:
            self.failed_responses.append(f"{response.status} {response.url}")

    def csp_violations(self):
        return self.page.evaluate("window.__cspViolations || []")

    def all(self):
        return {
            "console": self.console_errors,
            "failed responses": self.failed_responses,
            "script errors": self.page_errors,
            "csp violations": self.csp_violations(),
        }

    def assert_none(self):
        problems = {kind: found for kind, found in self.all().items() if found}
        assert problems == {}


@pytest.fixture
def page(browser, transactional_db):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_init_script(RECORD_CSP_VIOLATIONS)
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


@pytest.fixture
def problems(page):
    return PageProblems(page)


@pytest.fixture
def page_without_javascript(browser, transactional_db):
    """A page in a browser with JavaScript off: the plain forms every flow must keep."""
    context = browser.new_context(
        java_script_enabled=False, viewport={"width": 1000, "height": 900}
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()
