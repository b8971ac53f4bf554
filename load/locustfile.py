"""The load: readers, writers, voters, reporters and moderators on the real site.

Run by load/run.py (headless, bounded time); by hand:

    LOAD_ACCOUNTS=data/load/accounts.json LOAD_ACKS=data/load/acks.jsonl \
        .venv/bin/locust -f load/locustfile.py --headless -H http://127.0.0.1:8300 -u 20 -t 60s

Members sign in through allauth's own form. Every write the site acknowledges (a redirect
to the comment's permalink) is appended to LOAD_ACKS as a JSON line, with the random
form token, so the checker can find each in the database exactly once. Sent but
unacknowledged writes are recorded too ("attempt" lines): after a fault they may or may
not exist, but never twice and never half.

Refusals the site is right to give in a busy discussion (a comment reported and hidden
between reading the page and voting on it: 404; voting on a removed comment: 403 with a
reason) count as successes and are tallied apart; every other status is a failure.
"""

import json
import os
import random
import re
import time
import uuid
from collections import Counter, deque
from pathlib import Path

from locust import HttpUser, between, events, task
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

CONFIG = json.loads(Path(os.environ["LOAD_ACCOUNTS"]).read_text())
ACKS = Path(os.environ["LOAD_ACKS"]).open("a")  # noqa: SIM115 (open for the whole run)
OUTCOMES_PATH = os.environ.get("LOAD_OUTCOMES")
OUTCOMES: Counter = Counter()
ADMIN = "/admin/"

CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
COMMENT = re.compile(r'<article class="comment[^"]*" id="c-(\d+)"')
PERMALINK = re.compile(r"^(?:https?://[^/]+)?/comments/(\d+)/$")
# A reply to a comment a moderator removed (or its author deleted) after the page was
# read: the form says so (422), as CommentForm.clean_parent and Participation word it.
PARENT_GONE = ("no longer visible", "Only published comments can be answered")
NOTIFICATION = re.compile(r'href="/notifications/(\d+)/"')
BELL = re.compile(r'class="bell__count">(\d+)<')
ADMIN_ROW = re.compile(
    r'name="_selected_action" value="(\d+)".*?class="field-status">([^<]*)<', re.S
)

SEEN: deque[int] = deque(maxlen=2000)  # comment ids seen on pages, by anyone
RECENT: deque[int] = deque(maxlen=25)  # comments just posted: what reporters pick on
WORDS = [
    *("open", "weights", "model", "release", "risk", "code", "source", "research", "safety"),
    *("labs", "community", "access", "scrutiny", "trust", "harm", "agency", "transparency"),
    *("benefit", "frontier", "policy", "evaluation"),
]


def record(kind: str, **data) -> None:
    ACKS.write(json.dumps({"kind": kind, "t": time.time(), **data}) + "\n")
    ACKS.flush()


def text(words: int = 30) -> str:
    body = " ".join(random.choices(WORDS, k=words))
    return f"{body.capitalize()}, *with emphasis* and a [link](https://example.org/{words})."


class Site(HttpUser):
    abstract = True
    wait_time = between(0.5, 2.5)

    def on_start(self):
        self.csrf = ""
        self.username = None
        # Like a browser: a request sent on a kept-alive connection that the server
        # closed at that instant (gunicorn drops idle ones after 2 s) is sent again on a
        # new one. Only failures before any answer; POSTs too, since every form here is
        # safe to repeat (comments carry their token; votes, reports and moderator
        # actions happen once). Answers, 500s included, are never retried.
        retry = Retry(total=2, connect=2, read=1, status=0, other=0, allowed_methods=None)
        for prefix in ("http://", "https://"):
            self.client.mount(prefix, HTTPAdapter(max_retries=retry))

    # --- helpers ------------------------------------------------------------------

    def page(self, url: str, name: str, *, refusable=False) -> str:
        """GET a page, remember its form token and the comments on it."""
        with self.client.get(url, name=name, catch_response=True) as r:
            if r.status_code == 404 and refusable:
                return self.refused(r, name, "gone or hidden since")
            if r.status_code != 200:
                r.failure(f"HTTP {r.status_code}" + (f" {r.error!r}" if r.error else ""))
                OUTCOMES[(name, f"error {r.status_code}")] += 1
                return ""
            OUTCOMES[(name, "ok")] += 1
            html = r.text
        if m := CSRF.search(html):
            self.csrf = m.group(1)
        SEEN.extend(int(i) for i in COMMENT.findall(html)[:200])
        return html

    def refused(self, r, name, why) -> str:
        r.success()
        OUTCOMES[(name, f"refused: {why}")] += 1
        return ""

    def post(self, url: str, data: dict, name: str):
        """POST a form without following the redirect; returns (response, outcome)."""
        data = {"csrfmiddlewaretoken": self.csrf, **data}
        with self.client.post(
            url, data=data, name=name, allow_redirects=False, catch_response=True
        ) as r:
            if r.status_code in (302, 303):
                r.success()
                return r, "ok"
            if r.status_code == 403 and "has expired" not in r.text:
                self.refused(r, name, "not allowed now")
                return r, "refused"
            if r.status_code == 404:
                self.refused(r, name, "gone or hidden since")
                return r, "refused"
            if r.status_code == 422 and any(words in r.text for words in PARENT_GONE):
                self.refused(r, name, "answered comment removed since")
                return r, "refused"
            r.failure(f"HTTP {r.status_code}" + (f" {r.error!r}" if r.error else ""))
            OUTCOMES[(name, f"error {r.status_code}")] += 1
            return r, "error"

    def a_comment(self) -> int | None:
        return random.choice(SEEN) if SEEN else None

    def a_section(self) -> str:
        return random.choice(CONFIG["sections"])

    def sign_in(self, username: str) -> None:
        self.username = username
        self.page("/accounts/login/", "sign-in form")
        r, outcome = self.post(
            "/accounts/login/",
            {"login": username, "password": CONFIG["password"]},
            "sign in",
        )
        if outcome != "ok":
            raise RuntimeError(f"{username} could not sign in: HTTP {r.status_code}")
        OUTCOMES[("sign in", "ok")] += 1
        self.page(self.a_section(), "section page (member)")  # a fresh form token
        record("session", user=username, sessionid=self.client.cookies.get("sessionid"))

    # --- reading ------------------------------------------------------------------

    def read_section(self, name="section page"):
        sort = random.choice(["", "", "?sort=newest", "?sort=top"])
        self.page(self.a_section() + sort, name)

    def read_permalink(self, name="permalink"):
        comment = self.a_comment()
        if comment is None:
            return self.read_section()
        with self.client.get(
            f"/comments/{comment}/", name=name, allow_redirects=False, catch_response=True
        ) as r:
            if r.status_code == 404:
                return self.refused(r, name, "gone or hidden since")
            if r.status_code != 302:
                r.failure(f"HTTP {r.status_code}")
                OUTCOMES[(name, f"error {r.status_code}")] += 1
                return None
            OUTCOMES[(name, "ok")] += 1
            target = r.headers["Location"]
        self.page(target, f"{name} target page", refusable=True)
        return None


class Reader(Site):
    """Anonymous: the home page, essays, sections, permalinks, threads, search, feeds."""

    weight = 10

    @task(6)
    def section(self):
        self.read_section()

    @task(3)
    def permalink(self):
        self.read_permalink()

    @task(2)
    def essay(self):
        self.page(random.choice(CONFIG["essays"]), "essay page")

    @task(1)
    def home(self):
        self.page("/", "home page")

    @task(1)
    def thread(self):
        if (comment := self.a_comment()) is not None:
            self.page(f"/comments/{comment}/thread/", "thread page", refusable=True)

    @task(1)
    def search(self):
        self.page(f"/search/?q={random.choice(WORDS)}+{random.choice(WORDS)}", "search")

    @task(1)
    def feed(self):
        self.page(self.a_section() + "feed.atom", "section feed")


class Member(Site):
    abstract = True
    role = ""

    def on_start(self):
        super().on_start()
        names = CONFIG["accounts"][self.role]
        # Each account once per process; more users than accounts share them.
        index = ROLE_COUNTERS[self.role]
        ROLE_COUNTERS[self.role] += 1
        self.sign_in(names[index % len(names)])


ROLE_COUNTERS: Counter = Counter()


class Writer(Member):
    """Posts comments and replies, edits them, reads what they were told."""

    role = "writers"
    weight = 6

    def on_start(self):
        self.mine: list[int] = []
        super().on_start()

    def send_comment(self, section: str, parent: int | None, name: str):
        token = str(uuid.uuid4())
        body = f"Load {self.username} {token[:8]}: {text(random.randint(8, 60))}"
        data = {"body": body, "token": token}
        if parent:
            data["parent"] = parent
        record("attempt", action=name, user=self.username, token=token, parent=parent)
        r, outcome = self.post(section + "comments/", data, name)
        location = r.headers.get("Location", "") if outcome == "ok" else ""
        if m := PERMALINK.match(location):
            comment = int(m.group(1))
            record("comment", user=self.username, token=token, id=comment, parent=parent,
                   body=body)  # fmt: skip
            self.mine.append(comment)
            RECENT.append(comment)
            SEEN.append(comment)
            OUTCOMES[(name, "ok")] += 1
        elif outcome == "ok":  # a redirect elsewhere (to sign-in?) is no acknowledgement
            OUTCOMES[(name, f"error redirect to {location[:40]}")] += 1
            events.request.fire(
                request_type="POST", name=name, response_time=0, response_length=0,
                exception=RuntimeError(f"redirected to {location}"), context={},
            )  # fmt: skip

    @task(3)
    def comment(self):
        self.send_comment(self.a_section(), None, "post comment")

    @task(4)
    def reply(self):
        # Reply on the section just read: its form token and comment ids belong together.
        section = self.a_section()
        ids = COMMENT.findall(self.page(section, "section page (member)"))
        if not ids:
            return self.comment()
        return self.send_comment(section, int(random.choice(ids)), "reply")

    @task(2)
    def edit(self):
        if not self.mine:
            return self.comment()
        comment = random.choice(self.mine)
        body = f"Edited by {self.username} {uuid.uuid4().hex[:8]}: {text(random.randint(8, 40))}"
        record("attempt", action="edit", user=self.username, id=comment, body=body)
        r, outcome = self.post(f"/comments/{comment}/edit/", {"body": body}, "edit")
        if outcome == "ok" and PERMALINK.match(r.headers.get("Location", "")):
            record("edit", user=self.username, id=comment, body=body)
            OUTCOMES[("edit", "ok")] += 1

    @task(2)
    def notifications(self):
        html = self.page("/notifications/", "notifications page")
        ids = NOTIFICATION.findall(html)
        if ids and random.random() < 0.5:
            # Opening one marks it read and leads to the comment.
            with self.client.get(
                f"/notifications/{random.choice(ids)}/", name="open notification",
                allow_redirects=False, catch_response=True,
            ) as r:  # fmt: skip
                if r.status_code in (302, 404):  # 404: its comment was hidden since
                    r.success()
                    OUTCOMES[("open notification", "ok" if r.status_code == 302 else "gone")] += 1
                else:
                    r.failure(f"HTTP {r.status_code}")
                    OUTCOMES[("open notification", f"error {r.status_code}")] += 1
        elif ids and random.random() < 0.3:
            _, outcome = self.post("/notifications/read/", {}, "mark all read")
            if outcome == "ok":
                OUTCOMES[("mark all read", "ok")] += 1

    @task(2)
    def browse(self):
        self.read_section("section page (member)")


class Voter(Member):
    role = "voters"
    weight = 3

    def on_start(self):
        self.voted: set[int] = set()
        super().on_start()

    @task(5)
    def vote(self):
        comment = self.a_comment()
        if comment is None or comment in self.voted:
            return self.read_section("section page (member)")
        record("attempt", action="vote", user=self.username, id=comment)
        _, outcome = self.post(f"/comments/{comment}/vote/", {}, "vote")
        if outcome == "ok":
            self.voted.add(comment)
            record("vote", user=self.username, id=comment)
            OUTCOMES[("vote", "ok")] += 1
        return None

    @task(1)
    def unvote(self):
        if not self.voted:
            return self.vote()
        comment = random.choice(sorted(self.voted))
        record("attempt", action="unvote", user=self.username, id=comment)
        _, outcome = self.post(f"/comments/{comment}/unvote/", {}, "unvote")
        if outcome == "ok":
            self.voted.discard(comment)
            record("unvote", user=self.username, id=comment)
            OUTCOMES[("unvote", "ok")] += 1
        return None

    @task(2)
    def browse(self):
        self.read_section("section page (member)")


class Reporter(Member):
    role = "reporters"
    weight = 3

    def on_start(self):
        self.reported: set[int] = set()
        super().on_start()

    @task(2)
    def report(self):
        # Mostly the newest comments, so that several reporters meet on the same ones
        # and some reach the threshold that holds a comment for review.
        pool = RECENT if RECENT and random.random() < 0.8 else SEEN
        if not pool:
            return self.read_section("section page (member)")
        comment = random.choice(pool)
        if comment in self.reported:
            return self.read_permalink("permalink (member)")
        record("attempt", action="report", user=self.username, id=comment)
        r, outcome = self.post(
            f"/comments/{comment}/report/", {"reason": "off_topic", "note": ""}, "report"
        )
        if outcome == "ok" and PERMALINK.match(r.headers.get("Location", "")):
            self.reported.add(comment)
            record("report", user=self.username, id=comment)
            OUTCOMES[("report", "ok")] += 1
        return None

    @task(3)
    def browse(self):
        self.read_section("section page (member)")


class Moderator(Member):
    """Works the review queue in the admin: approves held comments, removes some."""

    role = "moderators"
    weight = 1
    wait_time = between(2, 5)

    QUEUE = f"{ADMIN}forum/reviewitem/"

    @task(4)
    def decide(self):
        html = self.page(self.QUEUE, "admin review queue")
        rows = ADMIN_ROW.findall(html)
        if not rows:
            return
        random.shuffle(rows)
        pending = [int(pk) for pk, status in rows if "pending" in status][:3]
        reported = [int(pk) for pk, status in rows if "published" in status][:2]
        if pending and random.random() < 0.7:
            ids, action = pending, "approve"
            data = {"action": "approve", "index": "0", "select_across": "0",
                    "_selected_action": ids}  # fmt: skip
            _, outcome = self.post(self.QUEUE, data, "admin approve")
        else:
            ids, action = (reported or pending)[:2], "remove"
            if not ids:
                return
            # The first POST asks for a reason; the second applies it.
            first = {"action": "remove", "index": "0", "select_across": "0",
                     "_selected_action": ids}  # fmt: skip
            with self.client.post(
                self.QUEUE, data={"csrfmiddlewaretoken": self.csrf, **first},
                name="admin remove (reason form)", catch_response=True,
            ) as r:  # fmt: skip
                if r.status_code != 200 or 'name="apply"' not in r.text:
                    r.failure(f"HTTP {r.status_code}")
                    OUTCOMES[("admin remove (reason form)", f"error {r.status_code}")] += 1
                    return
                OUTCOMES[("admin remove (reason form)", "ok")] += 1
                if m := CSRF.search(r.text):
                    self.csrf = m.group(1)
            data = {"action": "remove", "apply": "yes", "reason": "Off-topic (load test).",
                    "ban_until": "", "_selected_action": ids}  # fmt: skip
            _, outcome = self.post(self.QUEUE, data, "admin remove")
        if outcome == "ok":
            record("moderation", user=self.username, ids=ids, action=action)
            OUTCOMES[(f"admin {action}", "ok")] += 1

    @task(1)
    def index(self):
        self.page(ADMIN, "admin index")


@events.request.add_listener
def _failure(request_type, name, response_time, response_length, exception=None, **kw):
    """Failures with their time, so a fault scenario can tell when they happened."""
    if exception:
        start = time.time() - (response_time or 0) / 1000
        record("failure", name=name, error=str(exception)[:200], start=start)


@events.quitting.add_listener
def _save_outcomes(environment, **kw):
    if OUTCOMES_PATH:
        Path(OUTCOMES_PATH).write_text(
            json.dumps([[name, outcome, n] for (name, outcome), n in sorted(OUTCOMES.items())])
        )
    ACKS.close()
