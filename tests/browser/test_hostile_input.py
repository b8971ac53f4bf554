"""Hostile input in a real browser: a corpus of well-known XSS vectors
(tests/browser/xss_vectors.txt) goes in through every form that takes text (comments,
edits, quotes, previews, bios, display names, report notes, moderation reasons, search
queries) and is then opened in Chromium on every page that shows it, as readers,
moderators and the administrator see it. Nothing may run, no dangerous markup may be left
in the page, and the Content-Security-Policy never has to step in (it reports no
violation): the sanitizer and the templates' escaping hold on their own.

The feed's entries and the notification mails are opened without our CSP (feed readers
and mail programs do not have it), so there the markup alone must be harmless.

Vectors are batched (many to a comment, note, reason or page) so the suite takes well
under a minute of CI time.
"""

import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.test import Client
from playwright.sync_api import expect

from accounts.models import User
from forum.models import Comment, ModerationPolicy, Notification, Report
from forum.notifications import build_message
from tests.browser.test_discussion import SECTION, sign_in
from tests.conftest import make_member, make_moderator

pytestmark = pytest.mark.browser

CORPUS = Path(__file__).with_name("xss_vectors.txt")
ESSAY = "/essays/open-source-meets-open-weights/"

# Short vectors for display names (60 characters at most). Names that would pass for
# someone else's (bidi controls, invisible or look-alike characters) are refused: see
# tests/accounts/test_own_account.py.
NAMES = [
    "<img src=x onerror={X}>",
    '"><svg onload={X}>',
    "<a href=javascript:{X}>me</a>",
    "Mo <b>bold</b> &amp; </span>",
]


def load_vectors() -> list[str]:
    vectors = []
    for line in CORPUS.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            n = len(vectors) + 1
            vectors.append(line.replace("\\n", "\n").replace("{X}", f"__xss({n})"))
    return vectors


VECTORS = load_vectors()


def batches(vectors, limit):
    """The vectors joined into texts of at most `limit` characters each."""
    batch = ""
    for vector in vectors:
        if batch and len(batch) + 2 + len(vector) > limit:
            yield batch
            batch = ""
        batch = f"{batch}\n\n{vector}" if batch else vector
    if batch:
        yield batch


# Markup that must never come out of what people write. The site's own markup is
# recognised: its scripts are files from /static/ (or nonced), its icons are SVG shapes
# and references to its own symbols. Style attributes are the policy's to report on the
# site's pages (they are not allowed there, so one would be a violation); outside the
# site (mail, feeds) the sanitizer must not let a stylesheet or a style with a URL through.
FIND_DANGER = """(outside) => {
  const found = [];
  const forbidden = new Set(["iframe", "frame", "frameset", "object", "embed", "applet",
    "base", "math", "style", "portal", "foreignobject", "isindex", "noembed", "xmp"]);
  const shapes = new Set(["svg", "symbol", "use", "g", "path", "circle", "rect", "title"]);
  const dangerousUrl = /^(javascript|vbscript|data|livescript):/;
  const dangerousStyle = /url\\(|expression|javascript|behavio|@import/;
  const describe = (el) => el.outerHTML.slice(0, 160);
  for (const el of document.querySelectorAll("*")) {
    const tag = el.localName.toLowerCase();
    if (forbidden.has(tag)) found.push(describe(el));
    if (tag === "script") {
      const fromHere = el.src && new URL(el.src).origin === location.origin
        && new URL(el.src).pathname.startsWith("/static/");
      if (!fromHere && !el.nonce && el.type !== "application/json") found.push(describe(el));
    }
    if (el.namespaceURI === "http://www.w3.org/2000/svg") {
      const href = el.getAttribute("href") || el.getAttribute("xlink:href") || "#";
      if (!shapes.has(tag) || !href.startsWith("#")) found.push(describe(el));
    }
    if (tag === "meta" && el.httpEquiv) found.push(describe(el));
    if (tag === "link" && el.rel === "stylesheet" && outside) found.push(describe(el));
    for (const attr of el.attributes) {
      const name = attr.name.toLowerCase();
      const value = attr.value.replace(/[\u0000-\u0020\u007f-\u009f]/g, "").toLowerCase();
      if (name.startsWith("on") || name === "srcdoc") found.push(`${name} in ${describe(el)}`);
      if (dangerousUrl.test(value)) found.push(`${name} in ${describe(el)}`);
      if (name === "style" && dangerousStyle.test(value)) found.push(`style in ${describe(el)}`);
    }
  }
  return found;
}"""


class Watch:
    """What hostile input managed to do on the pages visited: code it ran (a vector's
    __xss(n) call, or a dialog), markup it left, policy violations it caused."""

    def __init__(self, page):
        self.page = page
        self.findings = {}
        self.where = "?"
        page.expose_function("__xss", lambda n: self._add(f"ran vector {n}"))
        page.on("dialog", self._dialog)
        page.on("console", self._console)

    def _add(self, what):
        self.findings.setdefault(self.where, []).append(what)

    def _dialog(self, dialog):
        if dialog.type == "beforeunload":
            # The site's own question before leaving a page with an unsent draft: not a
            # vector's doing. Leave, as the test means to.
            dialog.accept()
            return
        self._add(f"opened a {dialog.type} dialog: {dialog.message}")
        dialog.dismiss()

    def _console(self, message):
        # A refusal (403, 422) is an answer, not a problem; anything else is.
        if message.type in {"error", "warning"} and "the server responded" not in message.text:
            self._add(f"console {message.type}: {message.text[:200]}")

    def visit(self, url, where=None):
        self.where = where or url
        response = self.page.goto(url)
        assert response.status < 500, url
        self.check()
        return response

    def check(self, where=None, *, outside=False):
        self.where = where or self.where
        self.page.wait_for_load_state("load")
        self.page.wait_for_timeout(50)  # let autofocus, load and toggle events fire
        for found in self.page.evaluate(FIND_DANGER, outside):
            self._add(f"dangerous markup: {found}")
        for violation in self.page.evaluate("window.__cspViolations || []"):
            self._add(f"CSP violation: {violation}")

    def open_html(self, html, where):
        """HTML shown outside the site (a mail program, a feed reader): no CSP to help."""
        self.where = where
        self.page.goto("about:blank")
        self.page.set_content(html)
        self.check(outside=True)


def seed(section):
    """Everything hostile, sent through the site's own forms by its members."""
    policy = ModerationPolicy.current()
    policy.comments_per_minute = policy.comments_per_day = 10_000
    policy.new_account_days = 0
    policy.save()
    ann, ben = make_member("ann"), make_member("ben")
    mo, sam = make_moderator("mo"), make_member("sam", is_staff=True, is_superuser=True)
    as_ = {}
    for user in (ann, ben, mo, sam):
        as_[user.username] = Client()
        as_[user.username].force_login(user)
    post_url = f"{SECTION}comments/"

    def posted(client, **data):
        response = client.post(post_url, data)
        assert response.status_code == 302, response.content[:500]
        return Comment.objects.latest("pk")

    root = posted(as_["ben"], body="Ben opens the thread everything answers.")
    # Every vector is a reply of its own, which tells Ben (and mails him).
    comments = [posted(as_["ann"], body=vector, parent=root.pk) for vector in VECTORS]
    # A third are edited into the next vector: both texts stay (the earlier for moderators).
    for comment, vector in zip(comments[::3], VECTORS[1::3], strict=False):
        response = as_["ann"].post(f"/comments/{comment.pk}/edit/", {"body": f"edited {vector}"})
        assert response.status_code == 302, response.content[:500]
    # Bios, and members whose display names are vectors, who answer Ann (the bell, mail).
    for n, bio in enumerate(batches(VECTORS, 2000)):
        name = NAMES[n % len(NAMES)].replace("{X}", f"__xss({1000 + n})")
        member = make_member(f"name{n}")
        client = Client()
        client.force_login(member)
        response = client.post("/accounts/settings/", {"display_name": name, "bio": bio})
        assert response.status_code == 302, response.content[:500]
        posted(client, body=f"{name} answers.", parent=comments[0].pk)
    # Reports with the vectors as notes, from Ben.
    for comment, note in zip(comments[1:], batches(VECTORS, 1000), strict=False):
        response = as_["ben"].post(
            f"/comments/{comment.pk}/report/", {"reason": "other", "note": note}
        )
        assert response.status_code == 302, response.content[:500]
    # Mo removes two of them at the desk, in his own (hostile) words; Ann is told.
    for comment, reason in zip(comments[1:3], batches(VECTORS, 2000), strict=False):
        response = as_["mo"].post(
            "/admin/forum/reviewitem/desk/decide/",
            {"comment": comment.pk, "decision": "remove", "reason": reason},
        )
        assert response.status_code == 302, response.content[:500]
    assert Report.objects.count() >= 5
    assert Comment.objects.filter(status=Comment.Status.REMOVED).count() >= 2
    return root, comments


def test_no_vector_runs_or_survives_on_any_page_that_shows_it(page, live_url, essay):
    section = essay.sections.get(slug="the-deepseek-moment")
    root, comments = seed(section)
    watch = Watch(page)
    members = User.objects.filter(username__startswith="name")

    # Ann, whose comments they are: the section, permalinks, the thread, reply forms,
    # her notifications (removals with reasons), profiles, settings and search.
    sign_in(page, live_url, "ann")
    watch.visit(f"{live_url}{SECTION}")
    for comment in comments[:3] + comments[-3:]:
        watch.visit(f"{live_url}/comments/{comment.pk}/")
        watch.visit(f"{live_url}/comments/{comment.pk}/reply/")
    watch.visit(f"{live_url}/comments/{root.pk}/thread/")
    watch.visit(f"{live_url}/comments/{comments[0].pk}/edit/")
    watch.visit(f"{live_url}/notifications/")
    watch.visit(f"{live_url}/people/ann/")
    for member in members:
        watch.visit(f"{live_url}/people/{member.username}/")
    for word in ("onerror", "script", "javascript", "svg", "style"):
        watch.visit(f"{live_url}/search/?q={word}")
    # Queries are shown back (the search box, the message about a too-long query).
    for query in [*batches(VECTORS, 200), "".join(VECTORS)[:300]]:
        watch.visit(f"{live_url}/search/?{urlencode({'q': query})}", f"search {query[:40]}")

    # Preview and a quote that is not in the section: shown back to the writer.
    page.goto(f"{live_url}{SECTION}")
    form = page.locator("#comment-form")
    for n, text in enumerate(batches(VECTORS, 10_000)):
        form.locator("textarea[name=body]").fill(text)
        form.get_by_role("button", name="Preview").click()
        expect(form.locator(".preview")).to_contain_text("markdown javascript")
        watch.check(f"preview {n}")
    for n, quote in enumerate(batches(VECTORS, 1000)):
        if n % 3 == 0:  # a few hundred characters of vectors at a time is enough here
            page.goto(f"{live_url}{SECTION}")
            opener = form.get_by_role("button", name="Quote from the section")
            if opener.is_visible():  # an empty quote field waits behind it (with JS)
                opener.click()
            form.locator("textarea[name=quote]").fill(quote)
            form.locator("textarea[name=body]").fill("About this passage.")
            form.get_by_role("button", name="Post comment").click()
            page.get_by_text("That passage is not in this section").wait_for()
            watch.check(f"quote {n}")

    # Ben, who was told of every reply: his bell and the page listing them.
    page.context.clear_cookies()
    sign_in(page, live_url, "ben")
    watch.visit(f"{live_url}/notifications/")
    watch.visit(f"{live_url}/notifications/?page=2")

    # Mo at the review desk, where the reports and their notes wait.
    page.context.clear_cookies()
    sign_in(page, live_url, "mo")
    watch.visit(f"{live_url}/admin/forum/reviewitem/desk/")

    # Sam in the admin: the lists and change pages that show comments, notes and reasons.
    page.context.clear_cookies()
    sign_in(page, live_url, "sam")
    for listing in ("forum/comment", "forum/report", "forum/moderationlog", "accounts/user"):
        watch.visit(f"{live_url}/admin/{listing}/")
    for comment in comments[:2] + comments[-2:]:
        watch.visit(f"{live_url}/admin/forum/comment/{comment.pk}/change/")
    for report in Report.objects.all()[:3]:
        watch.visit(f"{live_url}/admin/forum/report/{report.pk}/change/")
    for member in members[:3]:
        watch.visit(f"{live_url}/admin/accounts/user/{member.pk}/change/")

    # Feed readers and mail programs render the HTML without our policy.
    for feed in (f"{ESSAY}feed.atom", f"{SECTION}feed.atom"):
        # Our own feed, just made by the test server: nothing untrusted about the XML.
        atom = ET.fromstring(page.request.get(f"{live_url}{feed}").body())  # noqa: S314
        entries = atom.findall("{http://www.w3.org/2005/Atom}entry")
        assert entries
        for entry in entries:
            for part in entry:
                if part.get("type") == "html" and part.text:
                    watch.open_html(part.text, f"{feed} entry")
    mails = Notification.objects.exclude(email_state=Notification.Email.NONE)
    assert mails.count() > len(VECTORS)
    for notification in mails:
        message = build_message(notification, "reader@example.com")
        (html, kind), *_ = message.alternatives
        assert kind == "text/html"
        watch.open_html(html, f"mail to {notification.recipient.username} #{notification.pk}")

    assert watch.findings == {}
