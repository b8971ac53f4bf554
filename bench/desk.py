"""Benchmark: a moderator clears a review queue at the desk, by keyboard alone.

Creates a throw-away PostgreSQL database, seeds a queue (default 100 comments: two
thirds held by the policy, one third reported, from a handful of authors; the same
queue as the browser test), starts gunicorn in production mode with Redis as the
cache, and drives Debian's Chromium through Playwright: sign in, open the desk, and
decide every card with the desk's keys (69 approvals, 10 spam, 20 removals with a
reason, 1 suspension; one slip undone with u), as fast as the desk takes keys. Then it
checks in the database that every comment was decided and recorded, and prints:

- decisions per minute, and keystrokes per decision;
- the server's time per decision (p50 and p95 of the POSTs desk.js sends);
- the machine and its load, since a shared machine makes the figures noisy.

A robot presses the next key as soon as the next card has focus, so this is the desk's
own ceiling: a person's pace is their reading time plus this.

Usage: .venv/bin/python bench/desk.py [--postgres URL] [--redis URL] [--items N] [--port P]
"""

import argparse
import datetime
import os
import platform
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import psycopg
from playwright.sync_api import expect, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.browser.desk_queue import keys_for  # noqa: E402  (the browser test's plan)

PASSWORD = "correct-horse-battery-staple"  # tests.conftest's, which makes the cast
DESK = "/admin/forum/reviewitem/desk/"


def free_port(first=8700, last=8749) -> int:
    for port in range(first, last + 1):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise SystemExit(f"No free port in {first}-{last}.")


def machine() -> str:
    model = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return f"{platform.node()}: {os.cpu_count()} cores, {model}, Python {platform.python_version()}"


def load() -> str:
    return ", ".join(f"{x:.1f}" for x in os.getloadavg())


def clear_queue(base_url, queue_ids, chromium):
    """Sign in as mo, clear the desk by keyboard; returns the figures."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium, args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_context(viewport={"width": 1366, "height": 900}).new_page()
        # Decisions queue up faster than a loaded server answers them: be patient.
        page.set_default_timeout(60_000)
        expect.set_options(timeout=60_000)
        latencies = []
        page.on(
            "requestfinished",
            lambda request: (
                request.method == "POST"
                and "/desk/" in request.url
                and latencies.append(request.timing["responseEnd"] - request.timing["requestStart"])
            ),
        )
        page.goto(f"{base_url}/accounts/login/")
        page.get_by_label("Login:").fill("mo")
        page.get_by_label("Password:", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="Sign In", exact=True).click()
        page.wait_for_url(f"{base_url}/")
        page.goto(f"{base_url}{DESK}")
        expect(page.locator("#desk.has-keys")).to_be_attached()

        pressed = loads = 0
        started = time.perf_counter()
        for n, comment_id in enumerate(queue_ids):
            card = page.locator(f"#card-{comment_id}")
            try:
                expect(card).to_be_focused()
            except AssertionError:  # say what the desk said: a refusal, a server error
                print("The desk says:", page.locator("#desk-message").text_content())
                raise
            keys = keys_for(n)
            if n == 20:  # the slip, undone
                keys = ["s", "u", *keys]
            last_on_page = n % 25 == 24 and n != len(queue_ids) - 1
            for key in keys:
                if key == keys[-1] and last_on_page:
                    with page.expect_navigation():
                        page.keyboard.press(key)
                    expect(page.locator("#desk.has-keys")).to_be_attached()
                    loads += 1
                else:
                    page.keyboard.press(key)
                pressed += 1
                if key == "u":  # wait for the card to come back before deciding again
                    expect(card).not_to_have_class(re.compile("is-decided"))
                    expect(card).to_be_focused()
        expect(page.get_by_text("Nothing waits for review.")).to_be_visible()
        elapsed = time.perf_counter() - started
        browser.close()
    return {"pressed": pressed, "elapsed": elapsed, "loads": loads, "latencies": latencies}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", default="postgres://root@127.0.0.1:5432")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/7")
    parser.add_argument("--items", type=int, default=100)
    parser.add_argument("--port", type=int, default=0, help="default: free in 8700-8749")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chromium", default=os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
    args = parser.parse_args()

    db = f"wtdesk_bench_{os.getpid()}"
    with psycopg.connect(f"{args.postgres}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{db}"')
    port = args.port or free_port()
    env = {
        **os.environ,
        "DEBUG": "false",
        "HTTPS": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DATABASE_URL": f"{args.postgres}/{db}",
        "CACHE_URL": args.redis,
        "ALLOWED_HOSTS": "127.0.0.1",
        "LOG_LEVEL": "ERROR",
    }
    python = sys.executable
    server = None
    try:
        manage = [python, "manage.py"]
        run = {"cwd": ROOT, "env": env, "check": True, "stdout": subprocess.DEVNULL}
        subprocess.run([*manage, "migrate", "--no-input"], **run)
        subprocess.run([*manage, "collectstatic", "--no-input"], **run)
        subprocess.run([*manage, "load_default_essays"], **run)
        seeded = subprocess.run(
            [*manage, "shell", "-c",
             "from essays.models import Section\n"
             "from tests.browser.desk_queue import seed_review_queue\n"
             "from tests.conftest import make_moderator\n"
             "section = Section.objects.get(slug='the-deepseek-moment')\n"
             f"queue = seed_review_queue(section, {args.items})\n"
             "make_moderator('mo')\n"
             "print(','.join(str(c.pk) for c in queue))"],
            cwd=ROOT, env=env, check=True, capture_output=True, text=True,
        )  # fmt: skip
        queue_ids = [int(pk) for pk in seeded.stdout.strip().splitlines()[-1].split(",")]
        flush = "import redis, sys; redis.Redis.from_url(sys.argv[1]).flushdb()"
        subprocess.run([python, "-c", flush, args.redis], check=True)
        server = subprocess.Popen(
            [python, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}",
             "--workers", str(args.workers), "--worker-class", "gthread", "--threads", "2",
             "--log-level", "warning"],
            cwd=ROOT, env=env,
        )  # fmt: skip
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)

        load_before = load()
        figures = clear_queue(f"http://127.0.0.1:{port}", queue_ids, args.chromium)
        load_after = load()

        with psycopg.connect(f"{args.postgres}/{db}") as conn:
            waiting = conn.execute(
                "SELECT count(*) FROM forum_comment c WHERE c.status = 'pending' OR"
                " (c.status = 'published' AND EXISTS (SELECT 1 FROM forum_report r"
                "  WHERE r.comment_id = c.id AND r.resolved_at IS NULL))"
            ).fetchone()[0]
            acts = dict(
                conn.execute(
                    "SELECT action, count(*) FROM forum_moderationlog l"
                    " JOIN accounts_user u ON u.id = l.actor_id WHERE u.username = 'mo'"
                    " GROUP BY action"
                ).fetchall()
            )
        decided = {a: n for a, n in acts.items() if a in ("approve", "resolve", "remove", "spam")}
        # The slip was recorded as spam and its undo as "hold": one decision taken back.
        decisions = sum(decided.values()) - acts.get("hold", 0)
        assert waiting == 0, f"{waiting} comments still wait"
        assert decisions == len(queue_ids), (decisions, acts)

        minutes = figures["elapsed"] / 60
        latencies = sorted(figures["latencies"])
        p95 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.95))]
        print(f"\nDesk benchmark, {datetime.date.today().isoformat()}")
        print(f"Machine: {machine()}")
        print(f"Load average (1, 5, 15 min): before {load_before}; after {load_after}")
        print(f"Recorded acts by the moderator: {dict(sorted(acts.items()))}\n")
        print("| measure | value |")
        print("| --- | ---: |")
        print(f"| comments decided (all recorded, none left waiting) | {decisions} |")
        print(f"| time to clear the queue | {figures['elapsed']:.1f} s |")
        print(f"| decisions per minute | {decisions / minutes:.0f} |")
        print(f"| keystrokes per decision | {figures['pressed'] / decisions:.2f} |")
        print(f"| server time per request, p50 / p95 | {statistics.median(latencies):.0f} / "
              f"{p95:.0f} ms |")  # fmt: skip
        print(f"| page loads (25 cards each) | {figures['loads'] + 1} |")
    finally:
        if server:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=10)
        with psycopg.connect(f"{args.postgres}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


if __name__ == "__main__":
    main()
