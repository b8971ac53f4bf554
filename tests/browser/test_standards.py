"""The tools people audit a site with, run on every page type.

- axe-core (WCAG 2.2 A and AA rules) inside the browser, signed out and signed in, at a
  phone's width (390 px) and a laptop's (1366 px): zero violations.
- The Nu Html Checker (vnu.jar, run by Java) on the HTML each page type is served as,
  signed out and signed in: zero errors.

Both come from npm packages that `make install` puts in node_modules/ (package.json);
axe is injected from that file through the DevTools protocol, so the page's strict CSP
stays as it is and nothing is fetched from elsewhere. The pages hold the hostile content
of test_layout.py (long words, links, code, deep threads).

"""

import functools
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings

from tests.browser.conftest import RECORD_CSP_VIOLATIONS
from tests.browser.test_layout import LAPTOP, PHONE, Hostile, sign_in

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
VNU = ROOT / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"
WCAG_22_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]


def needs(path: Path, what: str):
    if not path.exists():
        message = f"{what} not found at {path}: run make install (npm ci)."
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def signed_out_pages(hostile) -> dict[str, str]:
    pages = hostile.pages()
    return {
        "home": "/",
        "essay": pages["essay"],
        "essay-bundled": pages["essay-bundled"],
        "section": pages["section"],
        "section-bundled": hostile.bundled.sections.order_by("position")[0].get_absolute_url(),
        "thread": pages["thread"],
        "profile": pages["profile-bart"],
        "search": pages["search"],
        "search-empty": "/search/",
        "sign-in": "/accounts/login/",
        "sign-up": "/accounts/signup/",
        "password-reset": "/accounts/password/reset/",
        "confirm-email": "/accounts/confirm-email/",
    }


def signed_in_pages(hostile) -> dict[str, str]:
    """Every page type of the site for a member (the admin is Django's own, left out)."""
    admin = f"/{settings.ADMIN_URL}"
    pages = {name: url for name, url in hostile.pages().items() if not url.startswith(admin)}
    pages |= {
        "section-bundled": hostile.bundled.sections.order_by("position")[0].get_absolute_url(),
        "delete": f"/comments/{hostile.mine.pk}/delete/",
        "email": "/accounts/email/",
        "password-change": "/accounts/password/change/",
        "two-factor": "/accounts/2fa/",
        "delete-account": "/accounts/delete/",
    }
    return pages


AXE_RUN = """
async (tags) => {
  const results = await axe.run(document, {runOnly: {type: "tag", values: tags}});
  // One finding per rule and kind of element (its last selector step, ids left out).
  const found = new Map();
  for (const v of results.violations) {
    for (const node of v.nodes) {
      const target = node.target.join(" ");
      const kind = target.split(/[ >]+/).pop().replace(/#[\\w-]+|="[^"]*"/g, "");
      const element = node.target.length === 1 ? document.querySelector(target) : null;
      // Inside a comment's fold toggle: reported apart, as that markup is the comments'.
      const inFold = Boolean(element && element.closest("summary.comment__meta"));
      const key = v.id + " " + kind + " " + inFold;
      const seen = found.get(key);
      if (seen) { seen.count += 1; continue; }
      found.set(key, {
        rule: v.id, impact: v.impact, count: 1, target, inFold,
        example: target + ": " + node.failureSummary.split("\\n")[1],
      });
    }
  }
  return [...found.values()];
}
"""


def axe_violations(browser, live_url, width, pages, *, member=None):
    """{page name: [violation, ...]} for every page, at one width."""
    context = browser.new_context(viewport={"width": width, "height": 900})
    context.add_init_script(RECORD_CSP_VIOLATIONS)
    page = context.new_page()
    page.set_default_timeout(15_000)
    if member:
        sign_in(page, live_url, member)
    # Injected into every page before its own scripts, outside its CSP.
    context.add_init_script(path=AXE)
    found = {}
    for name, path in pages.items():
        response = page.goto(f"{live_url}{path}")
        assert response.ok, f"{name}: {response.status} at {path}"
        found[name] = page.evaluate(AXE_RUN, WCAG_22_AA)
    assert page.evaluate("window.__cspViolations") == []
    context.close()
    return found


def report(found, keep) -> list[str]:
    return [
        f"{name}: {v['rule']} ({v['impact']}, {v['count']}×) e.g. {v['example']}"
        for name, violations in found.items()
        for v in violations
        if keep(v)
    ]


# What each audit found (descriptions only), kept for the run.
FOUND: dict = {}


def audit(browser, live_url, seed, width, signed_in):
    """The findings for one width, signed in or out; `seed()` makes the pages' content
    (once per test) only when they were not audited yet."""
    if (width, signed_in) not in FOUND:
        hostile = seed()
        pages = signed_in_pages(hostile) if signed_in else signed_out_pages(hostile)
        member = "wren" if signed_in else None
        FOUND[width, signed_in] = axe_violations(browser, live_url, width, pages, member=member)
    return FOUND[width, signed_in]


@pytest.fixture
def seed(essay):
    return functools.cache(lambda: Hostile(essay))


WIDTHS = pytest.mark.parametrize("width", [PHONE, LAPTOP], ids=["phone", "laptop"])
WHO = pytest.mark.parametrize("signed_in", [False, True], ids=["signed-out", "signed-in"])


@WIDTHS
@WHO
def test_axe_finds_no_wcag_22_aa_violation_on_any_page(
    browser, transactional_db, live_url, seed, width, signed_in
):
    needs(AXE, "axe-core")
    found = audit(browser, live_url, seed, width, signed_in)

    problems = report(found, lambda violation: True)
    assert not problems, "\n".join(problems)
    assert len(found) >= 13  # every page was audited


# --- The Nu Html Checker -------------------------------------------------------------


def served_html(browser, live_url, pages, folder: Path, *, member=None) -> None:
    """Save each page's HTML as the server sends it (before any script runs)."""
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(15_000)
    if member:
        sign_in(page, live_url, member)
    prefix = "in" if member else "out"
    for name, path in pages.items():
        response = context.request.get(f"{live_url}{path}")
        assert response.ok, f"{name}: {response.status} at {path}"
        (folder / f"{prefix}-{name}.html").write_text(response.text())
    context.close()


def vnu_errors(folder: Path) -> list[tuple[str, str]]:
    """(file, message) for every error the checker reports, in one Java run."""
    java = shutil.which("java")
    if not java:
        message = "Java (17 or later) is needed for the Nu Html Checker."
        pytest.fail(message) if os.environ.get("CI") else pytest.skip(message)
    files = sorted(str(f) for f in folder.glob("*.html"))
    result = subprocess.run(
        [java, "-jar", str(VNU), "--errors-only", "--format", "json", *files],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    messages = json.loads(result.stderr or '{"messages": []}')["messages"]
    return [
        (Path(m.get("url", "?")).name, f"line {m.get('lastLine', '?')}: {m['message']}")
        for m in messages
        if m["type"] == "error" or m.get("subType") == "fatal"
    ]


@pytest.fixture
def checked_html(browser, transactional_db, live_url, essay, tmp_path):
    needs(VNU, "The Nu Html Checker (vnu.jar)")
    if "vnu" not in FOUND:
        hostile = Hostile(essay)
        served_html(browser, live_url, signed_out_pages(hostile), tmp_path)
        served_html(browser, live_url, signed_in_pages(hostile), tmp_path, member="wren")
        FOUND["vnu"] = vnu_errors(tmp_path), len(list(tmp_path.glob("*.html")))
    return FOUND["vnu"]


def summary(errors) -> str:
    counted: dict[str, int] = {}
    for file, message in errors:
        key = f"{file}: {re.sub(r'^line \\d+: ', '', message)}"
        counted[key] = counted.get(key, 0) + 1
    return "\n".join(f"{n}× {key}" for key, n in sorted(counted.items()))


def test_the_nu_html_checker_finds_no_error_on_any_page(checked_html):
    errors, checked = checked_html

    assert not errors, summary(errors)
    assert checked >= 30  # every page type, signed out and in
