"""No page is ever wider than the window, whatever people write.

Hostile content (words that never end, long web addresses, long lines of code in fenced
blocks and inline, replies nested as deep as they go, a long display name and username,
a bio full of links and code, a long browser name in the sessions table) is seeded once,
then every page type is opened at a phone's width (390 px) and a laptop's (1366 px). A
page fails if `document.documentElement.scrollWidth` exceeds the viewport; code must
scroll inside its own box. Each page is also photographed in light and dark mode, into
LAYOUT_SCREENSHOTS (a folder under /tmp by default), for a person to look at.
"""

import json
import os
import re
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db.models import F
from playwright.sync_api import expect

from essays.importing import import_essay, parse_essay
from essays.models import Passage
from forum.models import Comment, Report, User
from tests.browser.conftest import RECORD_CSP_VIOLATIONS, PageProblems
from tests.conftest import PASSWORD, make_member

pytestmark = pytest.mark.browser

PHONE, LAPTOP = 390, 1366
SCREENSHOTS = Path(
    os.environ.get("LAYOUT_SCREENSHOTS") or Path(tempfile.gettempdir()) / "essay-forum-layout"
)


LONG_WORD = "Rindfleischetikettierungsüberwachungsaufgabenübertragungsgesetz" * 2
LONG_URL = (
    "https://example.org/archive/2025/"
    + "a-very-long-path-segment-that-goes-on/" * 8
    + "?utm_source=newsletter&utm_campaign="
    + "x" * 90
)
LONG_CODE = "result = compute(" + ", ".join(f"argument_number_{n}" for n in range(40)) + ")"
LONG_INLINE_CODE = "configuration.settings." + ".".join(f"level{n}" for n in range(30))
LONG_NAME = "Maximiliana" + "Wolfeschlegelsteinhausenbergerdorff"[:49]  # 60: the limit
LONG_USERNAME = "bartholomew_" + "x" * 120 + "_the_third"
LONG_USER_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/140.0.0.0 Safari/537.36 "
    "ExtraordinarilyLongEmbeddedBrowserIdentifierWithoutAnySpaces/" + "1234567890" * 8
)

# Everything a comment may contain, each piece as wide as it gets.
HOSTILE_COMMENT = f"""A hostile comment with a word that never ends: {LONG_WORD}.

A bare address {LONG_URL} and a [link whose text is long too {LONG_WORD}]({LONG_URL}).

Inline code `{LONG_INLINE_CODE}` and `{LONG_CODE}` in a sentence.

```python
{LONG_CODE}
def f():
    return "{LONG_WORD}"
```

- a list item with {LONG_WORD}
  - a nested item with `{LONG_INLINE_CODE}`
1. an ordered item
2. another one

> a quotation of {LONG_WORD} with {LONG_URL}
"""

HOSTILE_BIO = f"""I write at {LONG_URL} and my handle is {LONG_WORD}.

```
{LONG_CODE}
```

Ask me about `{LONG_INLINE_CODE}`.
"""

HOSTILE_ESSAY_SLUG = "a-hostile-essay"
HOSTILE_ESSAY = f"""---
title: An essay whose title contains {LONG_WORD}
slug: {HOSTILE_ESSAY_SLUG}
summary: It links to {LONG_URL} in its summary.
---

An introduction with {LONG_WORD} and {LONG_URL}.

## The first section is called {LONG_WORD}

A paragraph with inline code `{LONG_INLINE_CODE}` and `{LONG_CODE}`.

```
{LONG_CODE}
```

| {LONG_WORD} | second | third | fourth | fifth | sixth |
| --- | --- | --- | --- | --- | --- |
| {LONG_URL} | {LONG_INLINE_CODE} | three | four | five | six |

> A quotation of {LONG_WORD}.

## A short one

Short.

## The third section also has a rather long title that wraps onto several lines

Third.
"""

PAGE_SCRIPT = """
() => {
  const viewport = window.innerWidth;
  const width = document.documentElement.scrollWidth;
  const height = document.documentElement.scrollHeight;
  const scrolls = (el) => {
    for (let up = el.parentElement; up && up !== document.body; up = up.parentElement) {
      if (getComputedStyle(up).overflowX !== "visible") return true;
    }
    return false;
  };
  const describe = (el) => {
    const classes = typeof el.className === "string" ? el.className.trim().split(/\\s+/) : [];
    const name = el.tagName.toLowerCase() + (el.id ? "#" + el.id : "");
    return [name, ...classes.filter(Boolean)].join(".");
  };
  // The innermost elements that stick out of the window, not inside a scrolling box.
  const culprits = [];
  for (const el of document.body.querySelectorAll("*")) {
    const right = el.getBoundingClientRect().right;
    if (right > viewport + 0.5 && !scrolls(el)) culprits.push([el, right]);
  }
  const innermost = culprits.filter(
    ([el]) => !culprits.some(([other]) => other !== el && el.contains(other))
  );
  // Code blocks people and authors write: each its own box that scrolls.
  const code = [...document.querySelectorAll(".user-text pre, .prose pre")].map((pre) => {
    const style = getComputedStyle(pre);
    return {
      scrolls: ["auto", "scroll"].includes(style.overflowX),
      boxed: style.backgroundColor !== "rgba(0, 0, 0, 0)",
      inside: pre.getBoundingClientRect().right <= viewport + 0.5,
    };
  });
  return {
    viewport, width, height,
    culprits: innermost.slice(0, 6).map(([el, right]) => `${describe(el)} to ${Math.round(right)}`),
    code,
    // Hiding the overflow of the whole page would pass the measure and cut off text.
    clipped: [document.documentElement, document.body]
      .filter((el) => getComputedStyle(el).overflowX !== "visible")
      .map(describe),
  };
}
"""


def sign_in(page, live_url, username):
    page.goto(f"{live_url}/accounts/login/")
    page.get_by_label("Login:").fill(username)
    page.get_by_label("Password:", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign In", exact=True).click()
    expect(page.get_by_role("button", name="Sign out")).to_be_attached()


class Hostile:
    """The cast and their worst writing.

    Wren (the viewer, a superuser) has a 60-letter display name, a bio of links and code,
    and writes comments of her own; Bartholomew has a 142-letter username; the two answer
    each other twice as deep as a page shows; Rita reports his comment with a long note.
    """

    def __init__(self, bundled_essay):
        self.bundled = bundled_essay
        self.essay = import_essay(parse_essay(HOSTILE_ESSAY.encode())).essay
        self.section = self.essay.sections.order_by("position").all()[1]
        self.wren = make_member("wren")
        self.wren.display_name = LONG_NAME
        self.wren.bio = HOSTILE_BIO
        self.wren.is_staff = self.wren.is_superuser = True
        self.wren.save()
        self.bart = make_member(LONG_USERNAME)
        rita = make_member("rita")

        post = Comment.objects.post
        passage = Passage(
            text=LONG_INLINE_CODE, before="A paragraph with inline code ", after=" and", anchor=""
        )
        self.theirs, _ = post(
            section=self.section, author=self.bart, body=HOSTILE_COMMENT, passage=passage
        )
        self.mine, _ = post(section=self.section, author=self.wren, body=HOSTILE_COMMENT)
        self.mine.edit(HOSTILE_COMMENT + "\nEdited, and still hostile.", by=self.wren)
        chain = [self.theirs]
        for depth in range(2 * settings.COMMENTS_DISPLAY_DEPTH):
            author = self.wren if depth % 2 == 0 else self.bart
            reply, _ = post(
                section=self.section,
                author=author,
                body=f"Reply {depth + 1}, hostile: {LONG_WORD} {LONG_URL} `{LONG_INLINE_CODE}`",
                parent=chain[-1],
            )
            chain.append(reply)
        self.chain = chain
        Report.file(self.theirs, rita, Report.Reason.OTHER, note=f"{LONG_WORD} {LONG_URL}")
        for other in self.essay.sections.exclude(pk=self.section.pk):
            post(section=other, author=self.bart, body="Elsewhere, hostile as ever.")
        # All of it written over the past days by long-standing members, so that the
        # posting limits let Wren preview (and post) once more.
        Comment.objects.update(created_at=F("created_at") - timedelta(days=2))
        User.objects.update(date_joined=F("date_joined") - timedelta(days=400))

    @property
    def section_url(self):
        return self.section.get_absolute_url()

    def pages(self):
        """Each page type a signed-in reader (and a superuser) can open, by name."""
        depth = settings.COMMENTS_DISPLAY_DEPTH
        return {
            "home": "/",
            "essay": self.essay.get_absolute_url(),
            "essay-bundled": self.bundled.get_absolute_url(),
            "section": self.section_url,
            "thread": f"/comments/{self.chain[depth].pk}/thread/",
            "permalink-on-section": f"/comments/{self.chain[depth - 2].pk}/",
            "permalink-on-thread": f"/comments/{self.chain[depth + 2].pk}/",
            "reply": f"/comments/{self.theirs.pk}/reply/",
            "edit": f"/comments/{self.mine.pk}/edit/",
            "report": f"/comments/{self.theirs.pk}/report/",
            "profile-wren": "/people/wren/",
            "profile-bart": f"/people/{LONG_USERNAME}/",
            "settings": "/accounts/settings/",
            "notifications": "/notifications/",
            "search": "/search/?q=hostile",
            "sessions": "/accounts/sessions/",
            "admin": f"/{settings.ADMIN_URL}",
            "admin-comment": f"/{settings.ADMIN_URL}forum/comment/{self.theirs.pk}/change/",
        }


@pytest.fixture
def hostile(essay):
    return Hostile(essay)


class Survey:
    """Every page measured at one width: what is wrong with each, and how wide it was."""

    def __init__(self, width):
        self.width = width
        self.problems: dict[str, list[str]] = {}
        self.widths: dict[str, int] = {}  # written next to the screenshots, to compare runs

    def open(self, page, url, name):
        response = page.goto(url)
        assert response.ok, f"{name}: {response.status} at {url}"
        self.measure(page, name)

    def measure(self, page, name):
        """Record the page's width (and broken code boxes), photograph it light and dark."""
        result = page.evaluate(PAGE_SCRIPT)
        problems = []
        if result["width"] > result["viewport"]:
            problems.append(f"{result['width']} px wide: {', '.join(result['culprits'])}")
        if result["clipped"]:
            problems.append(f"overflow hidden on {result['clipped']}: that hides, not fixes")
        for n, box in enumerate(result["code"]):
            if not all(box.values()):
                problems.append(f"code block {n}: {box}")
        self.problems[name] = problems
        self.widths[name] = result["width"]
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        # The whole page's height at the window's width: what a reader can scroll to
        # (a page many times too wide would also take minutes to photograph whole).
        whole = {"x": 0, "y": 0, "width": result["viewport"], "height": result["height"]}
        for scheme in ("light", "dark"):
            page.emulate_media(color_scheme=scheme)
            path = SCREENSHOTS / f"{self.width}-{scheme}-{name}.png"
            page.screenshot(path=path, full_page=True, clip=whole, timeout=30_000)
        page.emulate_media(color_scheme="light")

    def report(self) -> list[str]:
        (SCREENSHOTS / f"{self.width}-widths.json").write_text(json.dumps(self.widths, indent=1))
        return [f"{name}: {'; '.join(found)}" for name, found in self.problems.items() if found]


@pytest.mark.parametrize("width", [PHONE, LAPTOP], ids=["phone", "laptop"])
def test_no_page_is_wider_than_the_window_whatever_people_write(
    browser, transactional_db, live_url, hostile, width
):
    survey = Survey(width)
    watched = []

    def context(**options):
        made = browser.new_context(viewport={"width": width, "height": 900}, **options)
        made.add_init_script(RECORD_CSP_VIOLATIONS)
        page = made.new_page()
        page.set_default_timeout(10_000)
        if options.get("java_script_enabled", True):
            watched.append(PageProblems(page))
        return made, page

    def close(made):
        if watched and watched[-1].page.context is made:
            watched[-1].assert_none()  # no console errors, failed requests, CSP violations
        made.close()

    # Signed out: the entrance, and what a passer-by reads.
    guest, page = context()
    for name, path in [
        ("sign-in", "/accounts/login/"),
        ("sign-up", "/accounts/signup/"),
        ("section-signed-out", hostile.section_url),
    ]:
        survey.open(page, f"{live_url}{path}", name)
    close(guest)

    # A second session, from a browser with a very long name, for the sessions table.
    other, page = context(user_agent=LONG_USER_AGENT)
    sign_in(page, live_url, "wren")
    close(other)

    # Without JavaScript: the reply page, and its preview.
    plain, page = context(java_script_enabled=False)
    sign_in(page, live_url, "wren")
    page.goto(f"{live_url}/comments/{hostile.theirs.pk}/reply/")
    page.get_by_label("Your reply").fill(HOSTILE_COMMENT)
    page.get_by_role("button", name="Preview").click()
    expect(page.locator(".preview")).to_contain_text("A hostile comment")
    survey.measure(page, "preview-without-javascript")
    close(plain)

    # Signed in, every page type; then the in-place preview on the section page.
    reader, page = context()
    sign_in(page, live_url, "wren")
    for name, path in hostile.pages().items():
        survey.open(page, f"{live_url}{path}", name)
    page.goto(f"{live_url}{hostile.section_url}")
    form = page.locator("#comment-form")
    form.get_by_label("Your comment").fill(HOSTILE_COMMENT)
    form.get_by_role("button", name="Preview").click()
    expect(form.locator(".preview")).to_contain_text("A hostile comment")
    survey.measure(page, "preview-in-place")
    close(reader)

    broken = survey.report()
    assert not broken, f"At {width} px (screenshots in {SCREENSHOTS}):\n" + "\n".join(broken)
    assert len(survey.widths) == len(hostile.pages()) + 5  # every page was measured


# What makes text look the way it does, for each element under a root.
STYLE_SCRIPT = """
(root, alone) => (alone ? [root] : [root, ...root.querySelectorAll("*")]).map((el) => {
  const s = getComputedStyle(el);
  const list = ["UL", "OL", "LI"].includes(el.tagName) ? s.listStyleType : "";
  return [el.tagName, s.fontFamily, s.fontSize, s.fontStyle, s.lineHeight, s.color,
          s.backgroundColor, s.marginTop, s.marginBottom, s.paddingLeft, s.borderLeft,
          list, s.overflowX, s.whiteSpace, s.overflowWrap].join(" | ");
})
"""


def test_the_preview_looks_exactly_like_the_posted_comment(page, problems, live_url, hostile):
    page.set_viewport_size({"width": PHONE, "height": 900})
    sign_in(page, live_url, "wren")
    page.goto(f"{live_url}{hostile.section_url}")
    form = page.locator("#comment-form")
    form.get_by_role("button", name="Quote from the section").click()  # shown when used
    form.get_by_label("Quote from the section (optional)").fill(LONG_INLINE_CODE)
    form.get_by_label("Your comment").fill(HOSTILE_COMMENT)
    form.get_by_role("button", name="Preview").click()
    preview = form.locator(".preview .user-text")
    expect(preview).to_contain_text("A hostile comment")
    quotes = [
        quote.evaluate(STYLE_SCRIPT, True)
        for quote in (
            form.locator(".preview .comment__quote"),
            page.locator(f"#c-{hostile.theirs.pk}-body .comment__quote"),
        )
    ]
    assert quotes[0] == quotes[1]

    posted = page.locator(f"#c-{hostile.theirs.pk}-body .user-text")  # the same text
    previewed_styles = preview.evaluate(STYLE_SCRIPT, False)
    posted_styles = posted.evaluate(STYLE_SCRIPT, False)
    differences = [
        f"{previewed} ≠ {posted}"
        for previewed, posted in zip(previewed_styles, posted_styles, strict=False)
        if previewed != posted
    ]
    assert not differences, "\n".join(differences)
    assert len(previewed_styles) == len(posted_styles) > 20  # lists, code, quotes, links
    problems.assert_none()


def test_on_a_phone_each_comment_count_stays_with_its_own_section(
    page, problems, live_url, hostile
):
    page.set_viewport_size({"width": PHONE, "height": 900})
    for essay in (hostile.essay, hostile.bundled):
        page.goto(f"{live_url}{essay.get_absolute_url()}")
        rows = page.locator(".toc__item")
        assert rows.count() == essay.sections.count()
        for n in range(rows.count()):
            row = rows.nth(n).bounding_box()
            count = rows.nth(n).locator(".toc__discuss").bounding_box()
            where = f"{essay.slug}, row {n + 1}"
            assert count["y"] >= row["y"], where
            assert count["y"] + count["height"] <= row["y"] + row["height"], where
            assert count["x"] + count["width"] <= PHONE, where
    problems.assert_none()


def test_on_a_phone_the_contents_links_are_targets_a_finger_can_hit(
    page, problems, live_url, hostile
):
    """WCAG 2.2 target size (24 px), which Lighthouse checks on a phone: a section's
    title and its comment count, wrapped onto two lines, are each tall enough."""
    page.set_viewport_size({"width": PHONE, "height": 900})
    page.goto(f"{live_url}{hostile.bundled.get_absolute_url()}")
    links = page.locator(".toc__link, .toc__discuss")
    assert links.count() == 2 * hostile.bundled.sections.count()
    for n in range(links.count()):
        box = links.nth(n).bounding_box()
        assert box["height"] >= 24, f"link {n}: {box}"
    problems.assert_none()


def test_on_a_phone_the_header_keeps_every_link_on_one_line(page, problems, live_url, hostile):
    page.set_viewport_size({"width": PHONE, "height": 900})
    sign_in(page, live_url, "wren")
    nav = page.get_by_role("navigation", name="Account")
    for item in (
        nav.get_by_role("link", name="Notifications"),
        nav.get_by_role("link", name=LONG_NAME),
        nav.get_by_role("link", name="Settings"),
        nav.get_by_role("button", name="Sign out"),
    ):
        lines = item.evaluate(
            """(el) => {
                const height = parseFloat(getComputedStyle(el).lineHeight);
                return Math.round(el.getBoundingClientRect().height / height);
            }"""
        )
        assert lines == 1, item
        box = item.bounding_box()
        assert box["x"] >= 0, item
        assert box["x"] + box["width"] <= PHONE, item
    # The whole name is still there for assistive technology and on hover.
    expect(nav.get_by_role("link", name=LONG_NAME)).to_have_attribute("title", LONG_NAME)
    problems.assert_none()


def test_essay_and_section_pages_show_a_link_to_their_feed(page, problems, live_url, hostile):
    for url in (hostile.essay.get_absolute_url(), hostile.section_url):
        page.goto(f"{live_url}{url}")
        alternate = page.locator('link[rel="alternate"][type="application/atom+xml"]')
        link = page.get_by_role("link", name=re.compile("feed", re.I))
        expect(link).to_be_visible()
        expect(link).to_have_attribute("href", alternate.get_attribute("href"))
        response = page.request.get(f"{live_url}{link.get_attribute('href')}")
        assert response.ok
        assert response.headers["content-type"].startswith("application/atom+xml")
    problems.assert_none()
