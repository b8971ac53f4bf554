"""`make bench`: Essay Forum beside its peers, in one run, and our own rows.

1. Creates a throw-away PostgreSQL database, loads the essay, loads the peers' shared
   1,000-comment thread (bench-peers' `lib/gen_thread.py --n 1000 --seed 1`, same
   sha256) into one section and 100 copies of it (100,000 comments) into another.
2. Serves the site with gunicorn, 2 sync workers each like the peers, production
   settings, Redis (db 15 by default) as the cache, on 127.0.0.1:
   A (port 18050) as deployed, all 1,000 comments on one page; B (18051) the same with
   the readers' cache off; C (18052) the same as B with the default page size.
3. Runs bench-peers' `run_all.sh` (the bare Django ceiling, django-comments-xtd, Isso)
   with A as its "ours" row (anonymous readers, from the cache) and B as "ours_uncached"
   (a full render each time), then its `ours.sh` with a member's session cookie on A
   ("ours_member": the page's rows kept between changes, forum.threads.KEPT_PAGES, and
   rendered with the member's votes, follows and rights) and on B ("ours_member_full":
   nothing kept, a full render each time).
   Every request of theirs says it takes gzip, as browsers do (bench/shims).
4. Measures our own rows: posting a reply over HTTP one at a time; a 100,000-comment
   section's first and last page and a permalink deep in it, against a 1,000-comment
   section's first page (on C); the RSS of B's web processes after 1,000 full renders.
5. Prints one table with the ratios to xtd, Isso and the ceiling.

The peers live in ../shared/bench-peers from the repository's root (BENCH_PEERS
overrides); without them, their rows are skipped with a message.

With --cached-only it measures just the ceiling (bench-peers' `limit.sh`) and our
cached row (`ours.sh` on A), back to back in one run, a few minutes: for comparing the
readers' cache before and after a change.

Usage: .venv/bin/python bench/compare.py [--postgres URL] [--redis URL] [--skip-peers]
       [--cached-only]
"""

import argparse
import json
import math
import os
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import PASSWORD, Client

ROOT = Path(__file__).resolve().parent.parent
SHIMS = ROOT / "bench" / "shims"
ESSAY = "open-source-meets-open-weights"
THREAD_SECTION = "the-deepseek-moment"  # the peers' 1,000-comment thread
HUGE_SECTION = "what-open-actually-enables"  # 100,000 comments
PORTS = {"A": 18050, "B": 18051, "C": 18052}
MARKER = '<article class="comment'
BASH = shutil.which("bash")


def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def port_free(port) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def wait_for(port, server):
    for _ in range(300):
        if server.poll() is not None:
            sys.exit(f"gunicorn on {port} died on start (see its log)")
        if not port_free(port):
            return
        time.sleep(0.1)
    sys.exit(f"gunicorn on {port} did not listen within 30 s")


def rss_kib(pid) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def workers_of(pid) -> list[int]:
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            children.append(int(stat.parent.name))
    return sorted(children)


def timed(client, path, n, *, expect=200, headers=None) -> list[float]:
    """`n` sequential requests after a warm-up of 3: latencies in ms."""
    for _ in range(3):
        client.request("GET", path, headers=headers)
    times = []
    for _ in range(n):
        start = time.perf_counter()
        status, _, _ = client.request("GET", path, headers=headers)
        times.append((time.perf_counter() - start) * 1000)
        assert status == expect, f"GET {path}: HTTP {status}"
    return times


def p(values, q) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, max(0, math.ceil(q / 100 * len(values)) - 1))]


def base36(n: int, width: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while n:
        n, rest = divmod(n, 36)
        out = digits[rest] + out
    return out.rjust(width, "0")


def copy_thread(url, source, target, copies):
    """Fill section `target` with `copies` copies of section `source`'s discussion, in
    SQL: seed_discussion renders every comment's Markdown in Python, which on a loaded
    machine took over an hour for 100,000. Copy k's ids are the originals plus
    k * 36**4, so each 7-digit base-36 path segment keeps its last four digits (ids
    below 36**4) and gets k in the first three: paths stay valid without recomputing.
    Copy k is dated (copies - k + 1) * 30 days before the original."""
    with psycopg.connect(url) as conn:
        columns = [
            name
            for (name,) in conn.execute(
                "SELECT column_name FROM information_schema.columns"
                " WHERE table_name = 'forum_comment' AND is_generated = 'NEVER'"
                " ORDER BY ordinal_position"
            )
        ]
        (source_id,) = conn.execute(
            "SELECT id FROM essays_section WHERE slug = %s", [source]
        ).fetchone()
        (target_id,) = conn.execute(
            "SELECT id FROM essays_section WHERE slug = %s", [target]
        ).fetchone()
        (top,) = conn.execute("SELECT max(id) FROM forum_comment").fetchone()
        assert top < 36**4, "copy_thread expects a young database"
        step = 36**4
        for k in range(1, copies + 1):
            changed = {
                "id": f"id + {k * step}",
                "parent_id": f"parent_id + {k * step}",
                "root_id": f"root_id + {k * step}",
                "section_id": str(target_id),
                "path": f"regexp_replace(path, '...(....)', '{base36(k, 3)}\\1', 'g')",
                "created_at": f"created_at - interval '{(copies - k + 1) * 30} days'",
                "submission_token": "NULL",
                # Its ids and dates differ: the first page to show a copy renders it.
                "fragment": "''",
            }
            conn.execute(
                f"INSERT INTO forum_comment ({', '.join(columns)}) "
                f"SELECT {', '.join(changed.get(c, c) for c in columns)} FROM forum_comment "
                f"WHERE section_id = {source_id}"
            )
        (wrong,) = conn.execute(
            "SELECT count(*) FROM forum_comment c LEFT JOIN forum_comment p ON p.id = c.parent_id"
            " WHERE c.section_id = %s AND (length(c.path) != 7 * (c.depth + 1)"
            " OR (p.id IS NOT NULL AND left(c.path, -7) != p.path))",
            [target_id],
        ).fetchone()
        assert wrong == 0, f"{wrong} copied comments have a wrong path"
        conn.execute(
            "SELECT setval(pg_get_serial_sequence('forum_comment', 'id'),"
            " (SELECT max(id) FROM forum_comment))"
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", default="postgres://root@127.0.0.1:5432")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/15")
    parser.add_argument("--huge", type=int, default=100_000, help="comments in the big section")
    parser.add_argument("--posts", type=int, default=100)
    parser.add_argument("--renders", type=int, default=1000, help="for the RSS figure")
    parser.add_argument("--skip-peers", action="store_true")
    parser.add_argument(
        "--cached-only",
        action="store_true",
        help="only the ceiling and our cached row (no xtd, Isso or our own rows)",
    )
    parser.add_argument(
        "--report", type=Path, metavar="DIR", help="print the table of an earlier run again"
    )
    args = parser.parse_args()
    if args.report:
        report(json.loads((args.report / "essayforum.json").read_text()), args.report)
        return
    peers = Path(os.environ.get("BENCH_PEERS", ROOT.parent / "shared" / "bench-peers")).resolve()
    for name, port in PORTS.items():
        if not port_free(port):
            sys.exit(f"port {port} (server {name}) is in use: not ours to stop")

    started = time.time()
    load_start = Path("/proc/loadavg").read_text().split()[:3]
    db = f"essayforum_compare_{os.getpid()}"
    with psycopg.connect(f"{args.postgres}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{db}"')
    env = {
        **os.environ,
        "DEBUG": "false",
        "HTTPS": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DATABASE_URL": f"{args.postgres}/{db}",
        "CACHE_URL": args.redis,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOG_LEVEL": "ERROR",
    }
    one_page = {
        "COMMENTS_PAGE_SIZE": "1000",
        "COMMENTS_THREAD_MAX": "1000",
        "COMMENTS_DISPLAY_DEPTH": "10",
    }
    server_env = {
        "A": env | one_page,
        "B": env | one_page | {"READER_CACHE": "false"},
        "C": env | {"READER_CACHE": "false"},
    }
    servers: dict[str, subprocess.Popen] = {}
    results: dict = {"db": db}
    try:
        python = sys.executable
        manage = [python, "manage.py"]
        run = {"cwd": ROOT, "env": env, "check": True, "stdout": subprocess.DEVNULL}
        huge = "" if args.cached_only else f", {args.huge:,} comments"
        log(f"database {db}: migrate, essay, the peers' thread{huge}")
        subprocess.run([*manage, "migrate", "--no-input"], **run)
        subprocess.run([*manage, "collectstatic", "--no-input"], **run)
        subprocess.run([*manage, "load_default_essays"], **run)
        logs = Path(tempfile.mkdtemp(prefix="essayforum-compare-"))
        thread_file = logs / "thread.json"
        gen = peers / "lib" / "gen_thread.py"
        if gen.exists():
            made = subprocess.run(
                [shutil.which("python3"), gen, "--n", "1000", "--seed", "1"],
                capture_output=True,
                check=True,
            )
            thread_file.write_bytes(made.stdout)
            results["thread_sha256"] = json.loads(made.stderr.splitlines()[-1])["sha256"]
            seed = ["--thread", thread_file]
        else:  # a thread of the same shape from our own generator
            seed = ["--comments", "1000", "--top-level", "147", "--max-depth", "8"]
        subprocess.run([*manage, "seed_discussion", "--section", THREAD_SECTION, *seed], **run)
        thread_file.unlink(missing_ok=True)
        t = time.perf_counter()
        if not args.cached_only:
            copy_thread(f"{args.postgres}/{db}", THREAD_SECTION, HUGE_SECTION, args.huge // 1000)
            log(f"copied the thread into {args.huge:,} comments in {time.perf_counter() - t:.0f} s")
        # As autovacuum would soon after a load like this (a thousand rows inserted reach
        # its threshold), and bench/huge.py does: statistics, and the visibility map set
        # so that index-only scans read no table rows. Left to autovacuum it came at some
        # moment of the run or not at all; before it the page of threads took 1.57 ms in
        # PostgreSQL (3,017 buffers, heap fetches for the thread-length test), after it
        # 0.25 ms (306 buffers).
        with psycopg.connect(f"{args.postgres}/{db}", autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
        subprocess.run(
            [*manage, "shell", "-c",
             "from tests.conftest import make_member; "
             f"u = make_member('bencher'); u.set_password('{PASSWORD}'); u.save(); "
             # Posting limits are for people; the benchmark posts a hundred a minute.
             "from forum.models import ModerationPolicy; p = ModerationPolicy.current(); "
             "p.comments_per_minute = p.new_comments_per_minute = 10**6; "
             "p.comments_per_day = p.new_comments_per_day = 10**6; p.save()"],
            **run,
        )  # fmt: skip
        flush = "import redis, sys; redis.Redis.from_url(sys.argv[1]).flushdb()"
        subprocess.run([python, "-c", flush, args.redis], check=True)
        ports = {"A": PORTS["A"]} if args.cached_only else PORTS
        for name, port in ports.items():
            servers[name] = subprocess.Popen(
                [python, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}",
                 "--workers", "2", "--worker-class", "sync", "--timeout", "120",
                 "--log-level", "warning"],
                cwd=ROOT, env=server_env[name],
                stdout=(logs / f"{name}.log").open("w"), stderr=subprocess.STDOUT,
            )  # fmt: skip
        for name, port in ports.items():
            wait_for(port, servers[name])
        section_path = f"/essays/{ESSAY}/{THREAD_SECTION}/"
        huge_path = f"/essays/{ESSAY}/{HUGE_SECTION}/"
        member = Client(PORTS["A"])
        member.sign_in("bencher")
        _, _, page = member.request("GET", section_path)
        results["comments_on_page"] = page.count(MARKER.encode())
        results["page_kib"] = len(page) // 1024
        log(f"section page: {results['comments_on_page']} comments, {len(page) // 1024} KiB")

        # --- The peers' harness: ceiling, xtd, Isso, and ours -----------------------------
        out = None
        if args.cached_only:
            out = cached_only(peers, section_path, servers["A"].pid, db)
            results["load"] = (load_start, Path("/proc/loadavg").read_text().split()[:3])
            results["elapsed_s"] = round(time.time() - started)
            results["date"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
            (out / "essayforum.json").write_text(json.dumps(results, default=str))
            report(results, out)
            return
        if args.skip_peers:
            log("peers skipped (--skip-peers)")
        elif not (peers / "run_all.sh").exists():
            log(f"bench-peers not found at {peers} (set BENCH_PEERS): peers' rows skipped")
        else:
            harness = {
                **os.environ,
                "PATH": f"{SHIMS}:{os.environ['PATH']}",
                "OURS_BASE_URL": f"http://127.0.0.1:{PORTS['A']}",
                "OURS_SECTION_PATH": section_path,
                "OURS_PID": str(servers["A"].pid),
                "OURS_PG_DB": db,
                "OURS2_BASE_URL": f"http://127.0.0.1:{PORTS['B']}",
                "OURS2_PID": str(servers["B"].pid),
                "OURS_EXPECT_COMMENTS": "1000",
                "OURS_COMMENT_MARKER": MARKER,
                # Its default of 590 s is for a quiet machine: on a loaded one the
                # disturbed repeats it runs again used it all before our rows.
                "RUN_ALL_BUDGET_S": os.environ.get("RUN_ALL_BUDGET_S", "1800"),
            }
            log(f"running {peers / 'run_all.sh'} (about 10 minutes)")
            proc = subprocess.Popen(
                [BASH, peers / "run_all.sh"], env=harness, stderr=subprocess.PIPE, text=True
            )
            for line in proc.stderr:
                sys.stderr.write(line)
                if "results: " in line:
                    out = Path(line.split("results: ", 1)[1].split()[0])
            proc.wait()
            if out:
                jsonl = out / "results.jsonl"
                done = jsonl.read_text() if jsonl.exists() else ""
                cookie = "; ".join(f"{k}={v}" for k, v in member.cookies.items())
                rows = {
                    # Rows the harness left out (its budget ran out) are measured here.
                    "ours_page": ("A", {}),
                    "ours_uncached": ("B", {}),
                    # The same page for a signed-in member, with the session cookie: as
                    # deployed (the page's rows kept between changes), and on B, where
                    # nothing is kept (a full render each time).
                    "ours_member": ("A", {"BENCH_COOKIE": cookie, "MEASURE_METHOD": "wrk"}),
                    "ours_member_full": ("B", {"BENCH_COOKIE": cookie, "MEASURE_METHOD": "wrk"}),
                }
                for label, (name, extra) in rows.items():
                    if f'"label": "{label}"' in done:
                        continue
                    log(f"{label}: ours.sh on server {name}")
                    subprocess.run(
                        [BASH, peers / "ours.sh", f"http://127.0.0.1:{PORTS[name]}",
                         section_path, str(servers[name].pid), db],
                        env=harness | extra | {
                            "BENCH_RUN_ALL": "1", "BENCH_OUT": str(out), "OURS_LABEL": label,
                        },
                        check=False,
                    )  # fmt: skip

        # --- Huge sections, on C (default page size, no readers' cache) -----------------
        log("huge sections: first and last page, a deep permalink")
        with psycopg.connect(f"{args.postgres}/{db}") as conn:
            tops, last_id = conn.execute(
                "SELECT count(*), max(c.id) FROM forum_comment c JOIN essays_section s"
                " ON s.id = c.section_id WHERE s.slug = %s AND c.parent_id IS NULL",
                [HUGE_SECTION],
            ).fetchone()
        last_page = math.ceil(tops / 50)
        with psycopg.connect(f"{args.postgres}/{db}") as conn:
            # The cursor of the thread just before the last page (forum/threads.py).
            before_last = conn.execute(
                "SELECT concat_ws('.', c.is_pinned::int,"
                " (extract(epoch FROM c.created_at) * 1000000)::bigint, c.id)"
                " FROM forum_comment c JOIN essays_section s ON s.id = c.section_id"
                " WHERE s.slug = %s AND c.parent_id IS NULL"
                " AND (c.status = 'published' OR c.answered)"
                " ORDER BY c.is_pinned, c.created_at DESC, c.id DESC OFFSET 50 LIMIT 1",
                [HUGE_SECTION],
            ).fetchone()[0]
        reader = Client(PORTS["C"])
        huge = {
            "1,000-comment section, first page": timed(reader, section_path, 30),
            f"{args.huge:,}-comment section, first page": timed(reader, huge_path, 30),
            f"{args.huge:,}-comment section, last page ({last_page})": timed(
                reader, f"{huge_path}?sort=oldest&after={before_last}", 30
            ),
            f"{args.huge:,}-comment section, permalink to its last thread (302)": timed(
                reader, f"/comments/{last_id}/", 30, expect=302
            ),
        }
        results["huge"] = {k: statistics.median(v) for k, v in huge.items()}

        # --- Memory: B's workers after 1,000 full renders --------------------------------
        log(f"memory: {args.renders} full renders on B")
        workers = workers_of(servers["B"].pid)
        readers = [Client(PORTS["B"]) for _ in range(2)]
        for client in readers:
            for _ in range(5):
                client.request("GET", section_path)
        before = {w: rss_kib(w) for w in workers}

        def render_many(client):
            for _ in range(args.renders // 2):
                assert client.request("GET", section_path)[0] == 200

        with ThreadPoolExecutor(2) as pool:
            list(pool.map(render_many, readers))
        after = {w: rss_kib(w) for w in workers}
        results["rss"] = {"before_kib": before, "after_kib": after, "renders": args.renders}

        # --- Posting, last (it grows the thread) -----------------------------------------
        log(f"posting: {args.posts} replies, one at a time")
        ids = [int(x) for x in re.findall(rb'id="c-(\d+)"', page)[:50]]
        token = member.csrf_token(section_path)
        posting = []
        for i in range(args.posts + 5):
            form = urlencode(
                {
                    "csrfmiddlewaretoken": token,
                    "body": f"A benchmark reply number {i}, with *some* Markdown.",
                    "parent": ids[i % len(ids)],
                    "token": uuid.uuid4(),
                }
            )
            start = time.perf_counter()
            status, _, _ = member.request("POST", f"{section_path}comments/", form)
            assert status == 302, f"posting: HTTP {status}"
            if i >= 5:  # the first few warm both workers
                posting.append((time.perf_counter() - start) * 1000)
        results["posting"] = {"p50": statistics.median(posting), "p90": p(posting, 90)}
        results["load"] = (load_start, Path("/proc/loadavg").read_text().split()[:3])
        results["elapsed_s"] = round(time.time() - started)
        results["date"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        if out:
            (out / "essayforum.json").write_text(json.dumps(results, default=str))
        report(results, out)
    finally:
        for server in servers.values():
            server.terminate()
        for server in servers.values():
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
        with psycopg.connect(f"{args.postgres}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


def cached_only(peers, section_path, pid, db) -> Path:
    """The ceiling (`limit.sh`), then our cached row (`ours.sh` on A), into one
    results directory."""
    if not (peers / "limit.sh").exists():
        sys.exit(f"bench-peers not found at {peers} (set BENCH_PEERS)")
    out = Path(tempfile.mkdtemp(prefix="essayforum-cached-"))
    harness = {
        **os.environ,
        "PATH": f"{SHIMS}:{os.environ['PATH']}",
        "BENCH_RUN_ALL": "1",
        "BENCH_OUT": str(out),
        "OURS_EXPECT_COMMENTS": "1000",
        "OURS_COMMENT_MARKER": MARKER,
        "OURS_LABEL": "ours_page",
    }
    log("the ceiling: limit.sh")
    subprocess.run([BASH, peers / "limit.sh"], env=harness, check=False)
    log("ours_page: ours.sh on server A")
    url = f"http://127.0.0.1:{PORTS['A']}"
    subprocess.run(
        [BASH, peers / "ours.sh", url, section_path, str(pid), db], env=harness, check=False
    )
    return out


ROWS = {
    "limit_sync": "bare Django page (the ceiling)",
    "xtd_page": "django-comments-xtd, full render",
    "isso_fetch": "Isso, JSON only",
    "ours_page": "ours, anonymous, readers' cache (gzip)",
    "ours_uncached": "ours, anonymous, full render (cache off)",
    "ours_member": "ours, signed-in member (the page's rows kept between changes)",
    "ours_member_full": "ours, signed-in member, full render (nothing kept)",
}


def ratio(a, b) -> str:
    if not a or not b:
        return "-"
    x = a / b
    return f"{x:.0f}×" if x >= 10 else f"{x:.2f}×" if x >= 0.1 else f"1/{1 / x:.0f}"


def report(results, out):
    lines = [f"## make bench, {results['date']}", ""]
    cpu = Path("/proc/cpuinfo").read_text()
    model = next((x.split(":", 1)[1].strip() for x in cpu.splitlines() if "model name" in x), "")
    start, end = results["load"]
    lines += [
        f"Machine: {os.cpu_count()} cores ({model}), shared with other jobs: load average "
        f"{' '.join(start)} at the start, {' '.join(end)} at the end. Elapsed "
        f"{results['elapsed_s']} s. Page: {results['comments_on_page']} comments, "
        f"{results['page_kib']:,} KiB of HTML; the peers' thread, sha256 "
        f"{results.get('thread_sha256', 'none (our generator)')[:12]}.",
        "",
    ]
    records = []
    if out and (out / "results.jsonl").exists():
        records = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines() if x]
    http = {r["label"]: r for r in records if r.get("kind") == "http"}
    metrics = {(r["label"], r["key"]): r for r in records if r.get("kind") == "metric"}
    if http:

        def cpu_of(r):
            return ((r.get("app_cpu_ms") or 0) + (r.get("db_cpu_ms") or 0)) if r else None

        peers = [http.get(k) for k in ("xtd_page", "isso_fetch", "limit_sync")]
        lines += [
            "Each ratio is by requests per second, then (in brackets) by CPU time per "
            "request, which other jobs on the machine move far less.",
            "",
            "| row | requests/s (min-max) | one at a time, p50 ms | CPU ms/request app+db "
            "| other jobs' CPU % (median) | × xtd | × Isso | of the ceiling |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for label, title in ROWS.items():
            r = http.get(label)
            if not r:
                lines.append(f"| {title} | not measured | | | | | | |")
                continue
            cells = [
                f"{ratio(r['rps'], peer['rps'])} ({ratio(cpu_of(peer), cpu_of(r))})"
                if peer
                else "-"
                for peer in peers
            ]
            lines.append(
                f"| {title} | {r['rps']:,.1f} ({r['rps_min']:,.1f}-{r['rps_max']:,.1f}) "
                f"| {r['idle_p50_ms']:.1f} | {cpu_of(r):.2f} | {r.get('other_cpu_pct') or 0:.0f} "
                f"| {' | '.join(cells)} |"
            )
        lines.append("")
    else:
        lines += ["(The peers' rows were not run.)", ""]
    if "posting" not in results:  # --cached-only
        text = "\n".join(lines) + "\n"
        print("\n" + text)
        (out / "essayforum.md").write_text(text)
        return
    lines += ["| our own row | figure | compared with |", "| --- | ---: | --- |"]
    posts = results["posting"]
    xtd_post = [
        m
        for (row, key), m in metrics.items()
        if row == "xtd" and key.startswith("post ") and "HTTP" in key
    ]
    compared = "-"
    if xtd_post:  # "post 200 comments, HTTP POST ..." in seconds
        compared = f"xtd {xtd_post[0]['value'] / 200 * 1000:.1f} ms a post (mean of 200)"
    lines.append(
        f"| posting a reply over HTTP, one at a time, p50 (p90) | {posts['p50']:.1f} ms "
        f"({posts['p90']:.1f} ms) | {compared} |"
    )
    huge = results["huge"]
    first_1k = next(iter(huge.values()))
    for name, ms in huge.items():
        lines.append(f"| {name}, one at a time, p50 | {ms:.1f} ms | {ratio(ms, first_1k)} |")
    rss = results["rss"]
    for n, worker in enumerate(rss["before_kib"], 1):
        b, a = rss["before_kib"][worker] / 1024, rss["after_kib"][worker] / 1024
        lines.append(
            f"| RSS of web process {n} of 2 (B), warmed up → after {rss['renders']:,} more "
            f"full renders shared by the two | {b:.0f} → {a:.0f} MiB "
            f"| {a - b:+.1f} MiB |"
        )
    text = "\n".join(lines) + "\n"
    print("\n" + text)
    if out:
        (out / "essayforum.md").write_text(text)
        log(f"table written to {out / 'essayforum.md'}")


if __name__ == "__main__":
    main()
