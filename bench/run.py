"""Benchmark: the section page with a 1,000-comment discussion, served for real.

Creates a throw-away PostgreSQL database, loads the essay, seeds 1,000 comments (about
150 top-level threads, depth up to 8, Markdown bodies of 50-800 characters), starts
gunicorn in production mode with Redis as the cache, and measures over HTTP on
127.0.0.1: requests per second and p50/p99 latency of

- the section page showing all 1,000 comments, for a signed-in member (rendered
  every time: members never get the shared page cache);
- the same page for anonymous readers: first views (a cache miss each), repeat
  views from the cache, and conditional GETs answered 304;
- the essay page;
- posting a reply.

Usage: .venv/bin/python bench/run.py [--postgres URL] [--redis URL] [--requests N]
"""

import argparse
import http.client
import os
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

import psycopg

ROOT = Path(__file__).resolve().parent.parent
SECTION = "/essays/open-source-meets-open-weights/the-deepseek-moment/"
PASSWORD = "bench-password-not-secret-1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Client:
    """One keep-alive HTTP connection with cookies, like one browser tab."""

    def __init__(self, port):
        self.port = port
        self.cookies: dict[str, str] = {}
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def request(self, method, path, body=None, headers=None):
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Referer"] = f"http://127.0.0.1:{self.port}{path}"
        for attempt in range(2):
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                data = response.read()
                break
            except (http.client.HTTPException, ConnectionError):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                if attempt:
                    raise
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name] = rest.split(";")[0]
        return response.status, dict(response.getheaders()), data

    def sign_in(self, username):
        _, _, page = self.request("GET", "/accounts/login/")
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        form = urlencode(
            {"csrfmiddlewaretoken": token.decode(), "login": username, "password": PASSWORD}
        )
        status, _, _ = self.request("POST", "/accounts/login/", form)
        assert status == 302, f"sign-in failed: {status}"

    def csrf_token(self, path):
        _, _, page = self.request("GET", path)
        return re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1).decode()


def measure(name, clients, make_request, total, concurrency):
    """Run `total` requests over `concurrency` clients; report throughput and latency."""
    latencies: list[float] = []
    lock = threading.Lock()
    per_client = total // concurrency

    def work(index):
        client = clients[index]
        mine = []
        for n in range(per_client):
            start = time.perf_counter()
            status = make_request(client, index * per_client + n)
            mine.append(time.perf_counter() - start)
            assert status in (200, 302, 304), f"{name}: HTTP {status}"
        with lock:
            latencies.extend(mine)

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(work, range(concurrency)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    row = {
        "name": name,
        "rps": len(latencies) / elapsed,
        "p50": statistics.median(latencies) * 1000,
        "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        "n": len(latencies),
    }
    print(
        f"| {name} | {row['rps']:.0f} | {row['p50']:.1f} | {row['p99']:.1f} | {row['n']} |",
        flush=True,
    )
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", default="postgres://root@127.0.0.1:5432")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/15")
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--search-comments",
        type=int,
        default=0,
        help="also seed this many comments on another section and measure search",
    )
    args = parser.parse_args()

    db = f"essayforum_bench_{os.getpid()}"
    with psycopg.connect(f"{args.postgres}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{db}"')
    port = free_port()
    env = {
        **os.environ,
        "DEBUG": "false",
        "HTTPS": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DATABASE_URL": f"{args.postgres}/{db}",
        "CACHE_URL": args.redis,
        "ALLOWED_HOSTS": "127.0.0.1",
        "COMMENTS_PAGE_SIZE": os.environ.get("COMMENTS_PAGE_SIZE", "1000"),
        "COMMENTS_THREAD_MAX": os.environ.get("COMMENTS_THREAD_MAX", "1000"),
        "COMMENTS_DISPLAY_DEPTH": os.environ.get("COMMENTS_DISPLAY_DEPTH", "10"),
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
        subprocess.run(
            [*manage, "seed_discussion", "--section", "the-deepseek-moment", "--comments",
             "1000", "--top-level", "150", "--max-depth", "8", "--users", "60"],
            **run,
        )  # fmt: skip
        subprocess.run(
            [*manage, "shell", "-c",
             "from tests.conftest import make_member; "
             f"u = make_member('bencher'); u.set_password('{PASSWORD}'); u.save(); "
             # Posting limits are for people; the benchmark posts hundreds a minute.
             "from forum.models import ModerationPolicy; p = ModerationPolicy.current(); "
             "p.comments_per_minute = p.new_comments_per_minute = 10**6; "
             "p.comments_per_day = p.new_comments_per_day = 10**6; p.save()"],
            **run,
        )  # fmt: skip
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

        c = args.concurrency
        members = [Client(port) for _ in range(c)]
        for client in members:
            client.sign_in("bencher")
        readers = [Client(port) for _ in range(c)]
        _, headers, page = readers[0].request("GET", SECTION)
        shown = page.count(b'<article class="comment')
        etag = headers.get("ETag")
        print(f"\nSection page: {shown} comments, {len(page) // 1024} KiB of HTML\n")
        print("| request | requests/s | p50 ms | p99 ms | n |")
        print("| --- | ---: | ---: | ---: | ---: |")

        for client in members + readers:  # warm every worker and connection
            client.request("GET", SECTION)
        n = args.requests
        measure(
            "section page, 1,000 comments, signed-in member (full render), 1 at a time",
            members, lambda cl, i: cl.request("GET", SECTION)[0], n // 4, 1,
        )  # fmt: skip
        measure(
            f"section page, 1,000 comments, signed-in member, {c} at a time",
            members, lambda cl, i: cl.request("GET", SECTION)[0], n, c,
        )  # fmt: skip
        measure(
            f"section page, anonymous, uncached (a query string the cache ignores), {c} at a time",
            readers, lambda cl, i: cl.request("GET", f"{SECTION}?sort=oldest&v={i}")[0], n, c,
        )  # fmt: skip
        measure(
            f"section page, anonymous repeat view (cached), {c} at a time",
            readers, lambda cl, i: cl.request("GET", SECTION)[0], n * 5, c,
        )  # fmt: skip
        etag = readers[0].request("GET", SECTION)[1].get("ETag")  # ETags turn over each minute
        measure(
            f"section page, anonymous conditional GET (304), {c} at a time",
            readers,
            lambda cl, i: cl.request("GET", SECTION, headers={"If-None-Match": etag})[0],
            n * 5, c,
        )  # fmt: skip
        measure(
            f"for comparison: a trivial page (404, no query), anonymous, {c} at a time",
            readers, lambda cl, i: 200 if cl.request("GET", "/no-such-page/")[0] == 404 else 500,
            n * 5, c,
        )  # fmt: skip
        measure(
            f"essay page, signed-in member, {c} at a time",
            members,
            lambda cl, i: cl.request("GET", "/essays/open-source-meets-open-weights/")[0],
            n * 2, c,
        )  # fmt: skip
        parent_ids = [int(x) for x in re.findall(rb'id="c-(\d+)"', page)[:50]]
        token = members[0].csrf_token(SECTION)
        for client in members:
            client.cookies["csrftoken"] = members[0].cookies["csrftoken"]

        def post_reply(client, i):
            form = urlencode(
                {
                    "csrfmiddlewaretoken": token,
                    "body": f"A benchmark reply number {i}, with *some* Markdown.",
                    "parent": parent_ids[i % len(parent_ids)],
                    "token": uuid.uuid4(),
                }
            )
            return client.request("POST", f"{SECTION}comments/", form)[0]

        measure(f"posting a reply, {c} at a time", members, post_reply, n // 2, c)

        if args.search_comments:
            subprocess.run(
                [*manage, "seed_discussion", "--section", "what-open-actually-enables",
                 "--comments", str(args.search_comments), "--top-level",
                 str(args.search_comments // 7), "--users", "200", "--seed", "2"],
                **run,
            )  # fmt: skip
            with psycopg.connect(f"{args.postgres}/{db}", autocommit=True) as conn:
                conn.execute("ANALYZE")
            total = args.search_comments + 1000
            print(f"\nSearch over {total:,} comments:\n")
            print("| request | requests/s | p50 ms | p99 ms | n |")
            print("| --- | ---: | ---: | ---: | ---: |")
            for words in ("frontier evaluation", '"open weights"', "transparency -risk"):
                query = urlencode({"q": words})
                measure(
                    f"search for {words}, signed-in member, {c} at a time",
                    members, lambda cl, i, q=query: cl.request("GET", f"/search/?{q}")[0],
                    n // 4, c,
                )  # fmt: skip
    finally:
        if server:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=10)
        with psycopg.connect(f"{args.postgres}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


if __name__ == "__main__":
    main()
