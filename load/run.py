"""Load and fault scenarios against the real site: one command each.

    .venv/bin/python load/run.py load                  # make load
    .venv/bin/python load/run.py faults                # make faults: every scenario
    .venv/bin/python load/run.py faults redis-stop     # one (or several) by name
    .venv/bin/python load/run.py list

Each run sets up a throw-away database (migrated, the essay loaded, a seeded discussion,
accounts with verified emails), serves it with gunicorn in production mode next to the
mail worker and an SMTP server (aiosmtpd), drives it with Locust (headless, bounded
time), injects its fault, then checks the database (load/check.py) and tears everything
down. Figures, checks and logs go to data/load/<time>-<scenario>/; a summary is printed.

`load` uses the machine's PostgreSQL (127.0.0.1:5432) and Redis (database 2 of
127.0.0.1:6379); fault scenarios start private ones (a PostgreSQL cluster made with
initdb under /tmp, a redis-server) that they stop and start, never the shared servers.
"""

import argparse
import csv
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from stack import (
    OUT,
    PYTHON,
    ROOT,
    WEB_PORT,
    WORKER_COMMAND,
    MailWorker,
    PrivatePostgres,
    PrivateRedis,
    SharedPostgres,
    SharedRedis,
    SmtpSink,
    Web,
    log,
    manage,
    settings_module,
    site_env,
)

LOCUST = str(Path(PYTHON).parent / "locust")
# Readers' share of the users (the Reader class's weight in locustfile.py: 10 of 23).
READER_SHARE = 10 / 23


# --- one run ------------------------------------------------------------------------------


class Run:
    """Everything one scenario starts, in order, and stops again in reverse."""

    def __init__(self, name: str, args, *, private: bool):
        self.name, self.args = name, args
        self.out = OUT / f"{time.strftime('%Y%m%d-%H%M%S')}-{name}"
        self.out.mkdir(parents=True, exist_ok=True)
        self.db = f"wtload_{name.replace('-', '_')}_{os.getpid()}"
        self.pg = PrivatePostgres() if private else SharedPostgres(args.postgres)
        self.redis = PrivateRedis() if private else SharedRedis(args.redis)
        self.smtp = SmtpSink(self.out / "mail.jsonl")
        self.started: list = []
        self.extra_dbs: list[str] = []
        self.web = self.worker = self.load_process = None
        self.ramped = 0.0
        self.env: dict = {}
        self.acks = self.out / "acks.jsonl"
        self.summary: list[str] = []
        self.passed = True

    def note(self, line: str, ok: bool | None = None) -> None:
        if ok is False:
            self.passed = False
        mark = "" if ok is None else ("ok   " if ok else "FAIL ")
        self.summary.append(f"{mark}{line}")
        log(f"{mark}{line}")

    def __enter__(self):
        log(f"== {self.name}: setting up in {self.out.relative_to(ROOT)}")
        for part in (self.pg, self.redis, self.smtp):
            part.start()
            self.started.append(part)
        url = self.pg.create(self.db)
        self.env = site_env(url, self.redis.url, self.smtp.url)
        manage(self.env, "migrate", "--no-input")
        manage(self.env, "collectstatic", "--no-input")
        manage(self.env, "load_default_essays")
        self.seed()
        subprocess.run(
            [PYTHON, str(ROOT / "load" / "setup_data.py"), str(self.out / "accounts.json"),
             "--writers", "8", "--voters", "4", "--reporters", "5", "--moderators", "2"],
            cwd=ROOT, env=self.env, check=True,
        )  # fmt: skip
        self.web = Web(self.env, self.out / "web.log", workers=self.args.web_workers).start()
        self.started.append(self.web)
        self.worker = MailWorker(self.env, self.out / "worker.log").start()
        self.started.append(self.worker)
        return self

    def seed(self):
        """A lived-in discussion on the first two sections (seed_discussion's own users)."""
        for index, size, top, seed in ((0, 400, 60, 1), (1, 150, 30, 2)):
            manage(self.env, "seed_discussion", "--section", section_slug(self, index),
                   "--comments", str(size), "--top-level", str(top), "--seed", str(seed),
                   "--users", "30", "--max-depth", "8")  # fmt: skip

    def __exit__(self, *exc):
        log(f"== {self.name}: tearing down")
        if getattr(self, "load_process", None) and self.load_process.poll() is None:
            self.load_process.kill()
        for part in reversed(self.started):
            try:
                part.stop()
            except Exception as error:  # keep tearing down the rest
                log(f"   could not stop {type(part).__name__}: {error}")
        if not self.args.keep and not self.pg.private:  # a private cluster goes whole
            for name in [self.db, *self.extra_dbs]:
                try:
                    self.pg.drop(name)
                except Exception as error:
                    log(f"   could not drop {name}: {error}")
        if self.pg.private:
            self.pg.stop()
        (self.out / "summary.txt").write_text("\n".join(self.summary) + "\n")
        return False

    # --- load -------------------------------------------------------------------------

    @property
    def ramp(self) -> float:
        """Seconds until every user has started (members then still sign in)."""
        return self.args.users / self.args.spawn_rate + 2

    def members_signed_in(self) -> int:
        if not self.acks.exists():
            return 0
        return self.acks.read_text().count('"kind": "session"')

    def locust(self, duration: int) -> subprocess.Popen:
        """Start the load: the ramp (users start, members sign in), then `duration`
        seconds of steady load; returns once the ramp is over."""
        env = {
            **os.environ,
            "LOAD_ACCOUNTS": str(self.out / "accounts.json"),
            "LOAD_ACKS": str(self.acks),
            "LOAD_OUTCOMES": str(self.out / "outcomes.json"),
        }
        command = [
            LOCUST, "-f", str(ROOT / "load" / "locustfile.py"), "--headless",
            "-H", self.web.url, "-u", str(self.args.users), "-r", str(self.args.spawn_rate),
            "-t", f"{int(self.ramp + 60 + duration)}s", "--stop-timeout", "10",
            "--csv", str(self.out / "locust"),
            "--only-summary", "--exit-code-on-error", "0", "--loglevel", "WARNING",
        ]  # fmt: skip
        self.load_started = time.time()
        log(f"   load: {self.args.users} users, {self.ramp:.0f} s to start, then {duration} s")
        process = subprocess.Popen(
            command, cwd=ROOT, env=env,
            stdout=(self.out / "locust.log").open("w"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.load_process = process
        # Members sign in through allauth's form (a password hash each, slow on purpose):
        # faults come only once every member is in, or after a minute more.
        readers = math.ceil(self.args.users * READER_SHARE)
        members = self.args.users - readers
        deadline = time.monotonic() + self.ramp + 60
        time.sleep(self.ramp)
        while self.members_signed_in() < members and time.monotonic() < deadline:
            time.sleep(0.5)
        self.ramped = time.time() - self.load_started
        log(f"   {self.members_signed_in()} of {members} members signed in after "
            f"{self.ramped:.0f} s")  # fmt: skip
        return process

    def wait_load(self, process: subprocess.Popen) -> None:
        """Let the steady load run its `--duration`, stop Locust, report."""
        steady_end = self.load_started + self.ramped + self.args.duration
        while process.poll() is None and time.time() < steady_end:
            time.sleep(0.5)
        if process.poll() is None:
            process.send_signal(signal.SIGINT)  # Locust stops its users and writes its files
        process.wait(timeout=60)
        self.report_load()

    def report_load(self) -> None:
        one, five, _ = os.getloadavg()
        self.note(
            f"machine load average at the end of the load: {one:.1f} (1 min), {five:.1f} (5 min)"
            f" on {os.cpu_count()} cores; other work on the machine slows every figure"
        )
        stats = self.out / "locust_stats.csv"
        if not stats.exists():
            self.note("Locust wrote no statistics: see locust.log", ok=False)
            return
        rows = list(csv.DictReader(stats.open()))
        lines = [
            "| action | requests | failures | req/s | p50 ms | p95 ms | p99 ms |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for row in rows:
            name = "**all**" if row["Name"] == "Aggregated" else f"{row['Type']} {row['Name']}"
            lines.append(
                f"| {name} | {row['Request Count']} | {row['Failure Count']} | "
                f"{float(row['Requests/s']):.1f} | {row['50%']} | {row['95%']} | {row['99%']} |"
            )
        table = "\n".join(lines)
        (self.out / "load.md").write_text(table + "\n")
        print(table, flush=True)
        self.summary.append(table)
        total = next((r for r in rows if r["Name"] == "Aggregated"), None)
        self.failures = int(total["Failure Count"]) if total else 0
        self.requests = int(total["Request Count"]) if total else 0
        outcomes = self.out / "outcomes.json"
        if outcomes.exists():
            refused = [
                f"{name}: {outcome} x{n}"
                for name, outcome, n in json.loads(outcomes.read_text())
                if outcome.startswith(("refused", "gone"))
            ]
            if refused:
                self.note("expected refusals (the site was right): " + "; ".join(refused))
        failures = self.out / "locust_failures.csv"
        if failures.exists():
            for row in list(csv.DictReader(failures.open()))[:12]:
                self.note(
                    f"failure: {row['Method']} {row['Name']}: {row['Error'][:120]}"
                    f" x{row['Occurrences']}"
                )
        statuses = Counter(
            m.group(1) for m in re.finditer(r'" (\d{3}) ', (self.out / "web.log").read_text())
        )
        server_errors = {s: n for s, n in statuses.items() if s.startswith("5")}
        self.server_errors = sum(server_errors.values())
        self.note(
            f"web log: {sum(statuses.values())} responses, "
            + ", ".join(f"{n} x {s}" for s, n in sorted(statuses.items()))
        )
        web_log = (self.out / "web.log").read_text()
        errors = len(re.findall(r" ERROR django\.request: ", web_log))
        if errors:
            self.note(f"web log: {errors} server errors logged with their traceback (web.log)")

    def failures_between(self, start: float, end: float) -> Counter:
        """Locust's failed requests (recorded with their time) in a window."""
        found = Counter()
        for line in self.acks.read_text().splitlines():
            try:
                a = json.loads(line)
            except json.JSONDecodeError:
                continue
            # By the time the request was sent: a request that failed after the fault
            # but was sent during it belongs to the fault.
            if a["kind"] == "failure" and start <= a.get("start", a["t"]) < end:
                found[f"{a['name']}: {a['error'][:60]}"] += 1
        return found

    def check(self, *, site=True, mail_wait=150.0, acked_before=None, env=None) -> bool:
        command = [PYTHON, str(ROOT / "load" / "check.py"), "--acks", str(self.acks),
                   "--json", str(self.out / "check.json"),
                   "--mail-wait", str(mail_wait)]  # fmt: skip
        if site:
            command += ["--site", self.web.url, "--mail", str(self.smtp.path)]
        if acked_before:
            command += ["--acked-before", str(acked_before)]
        done = subprocess.run(command, cwd=ROOT, env=env or self.env)
        result = json.loads((self.out / "check.json").read_text())
        failed = [name for name, ok, _ in result["checks"] if not ok]
        self.note(
            f"checker: {len(result['checks']) - len(failed)} of {len(result['checks'])} checks "
            "passed" + (f"; failed: {'; '.join(failed)}" if failed else ""),
            ok=done.returncode == 0,
        )
        for name, value in result["facts"].items():
            self.note(f"{name}: {value}")
        return done.returncode == 0

    def worker_alive(self) -> None:
        self.note(
            f"mail worker ({WORKER_COMMAND}) still running, never restarted",
            ok=self.worker.alive(),
        )


class Probe(threading.Thread):
    """Asks the site every 0.25 s, as an anonymous reader without cookies: /healthz, a
    section page (the readers' cache serves it), and the same page with a query parameter
    the cache ignores (built from the database). Keeps (time, what, status)."""

    def __init__(self, base: str, section: str):
        super().__init__(daemon=True)
        self.base, self.section = base, section
        self.samples: list[tuple[float, str, int]] = []
        self.stopping = threading.Event()

    def run(self):
        while not self.stopping.is_set():
            for what, path in (
                ("healthz", "/healthz"),
                ("page", self.section),
                ("uncached page", f"{self.section}?probe=1"),
            ):
                try:
                    with urllib.request.urlopen(self.base + path, timeout=10) as r:  # noqa: S310
                        status = r.status
                except urllib.error.HTTPError as error:
                    status = error.code
                except OSError:
                    status = 0  # no answer at all
                self.samples.append((time.time(), what, status))
            time.sleep(0.25)

    def stop(self):
        self.stopping.set()
        self.join(timeout=15)

    def recovered_at(self, since: float) -> float | None:
        """The first time after `since` from which every probe succeeded."""
        good_from = None
        for t, _, status in self.samples:
            if t < since:
                continue
            good_from = good_from or t if status == 200 else None
        return good_from

    def during(self, start: float, end: float) -> str:
        counts = Counter((what, status) for t, what, status in self.samples if start <= t < end)
        return ", ".join(f"{what} {status or 'no answer'} x{n}" for (what, status), n in
                         sorted(counts.items()))  # fmt: skip


# --- scenarios ----------------------------------------------------------------------------


def first_section(run: Run) -> str:
    return json.loads((run.out / "accounts.json").read_text())["sections"][0]


def scenario_load(args) -> Run:
    """Steady load, no fault: throughput, percentiles, and every write accounted for."""
    with Run("load", args, private=False) as run:
        locust = run.locust(args.duration)
        run.wait_load(locust)
        run.note(
            f"{run.requests} requests, {run.failures} failed, {run.server_errors} server errors",
            ok=run.failures == 0 and run.server_errors == 0,
        )
        run.check()
        run.worker_alive()
    return run


def scenario_postgres_restart(args) -> Run:
    """PostgreSQL restarted under load: the site recovers by itself within seconds, no
    web or worker restart, no acknowledged write lost."""
    with Run("postgres-restart", args, private=True) as run:
        probe = Probe(run.web.url, first_section(run))
        probe.start()
        locust = run.locust(args.duration)
        time.sleep(args.duration * 0.35)
        down = time.time()
        log("   fault: PostgreSQL stops (fast shutdown: connections cut, open work rolled back)")
        run.pg.halt("fast")
        time.sleep(3)
        log("   PostgreSQL starts again")
        run.pg.resume()
        up = time.time()
        run.wait_load(locust)
        probe.stop()
        recovered = probe.recovered_at(up)
        run.note(f"PostgreSQL down for {up - down:.1f} s")
        run.note(f"probes while down and just after: {probe.during(down, up + 10)}")
        run.note(
            "site answered again by itself "
            + (f"{recovered - up:.1f} s after PostgreSQL was back" if recovered else "NEVER"),
            ok=recovered is not None and recovered - up < 10,
        )
        late = run.failures_between(up + 10, time.time())
        run.note(
            "no failed request from 10 s after the restart on"
            + (f"; failed: {dict(late)}" if late else ""),
            ok=not late,
        )
        during = run.failures_between(down, up)
        run.note(f"failed requests while PostgreSQL was down: {sum(during.values())} "
                 f"{dict(during.most_common(6))}")  # fmt: skip
        after = run.failures_between(up, up + 10)
        run.note(
            f"failed requests in the 10 s after it was back: {sum(after.values())}"
            + (f" {dict(after.most_common(6))}" if after else ""),
            ok=not after,
        )
        run.note("web workers were never restarted", ok=run.web.boots() == run.args.web_workers)
        run.worker_alive()
        run.check()
    return run


def scenario_redis_stop(args) -> Run:
    """Redis stopped under load, then started again empty: pages still served, limits
    fail closed for writes or degrade as documented, nothing crashes."""
    with Run("redis-stop", args, private=True) as run:
        probe = Probe(run.web.url, first_section(run))
        probe.start()
        locust = run.locust(args.duration)
        time.sleep(args.duration * 0.3)
        down = time.time()
        log("   fault: Redis stops")
        run.redis.halt()
        time.sleep(args.duration * 0.3)
        log("   Redis starts again (empty)")
        run.redis.resume()
        up = time.time()
        run.wait_load(locust)
        probe.stop()
        run.note(f"Redis down for {up - down:.1f} s")
        run.note(f"probes while Redis was down: {probe.during(down + 1, up)}")
        ok_while_down = [s for t, w, s in probe.samples if down + 1 <= t < up and w != "healthz"]
        served = sum(1 for s in ok_while_down if s == 200)
        run.note(
            f"pages served while Redis was down: {served} of {len(ok_while_down)} probes",
            ok=bool(ok_while_down) and served == len(ok_while_down),
        )
        during = run.failures_between(down, up)
        run.note(
            f"failed requests while Redis was down: {sum(during.values())}"
            + (f" {dict(during.most_common(8))}" if during else ""),
            ok=not during,
        )
        recovered = probe.recovered_at(up)
        run.note(
            "all probes good again "
            + (f"{recovered - up:.1f} s after Redis was back" if recovered else "NEVER"),
            ok=recovered is not None and recovered - up < 10,
        )
        late = run.failures_between(up + 10, time.time())
        run.note(
            "no failed request from 10 s after Redis returned"
            + (f"; failed: {dict(late)}" if late else ""),
            ok=not late,
        )
        run.note(
            "web workers never crashed nor were restarted",
            ok=run.web.boots() == run.args.web_workers,
        )
        run.worker_alive()
        run.check()
    return run


def scenario_smtp_outage(args) -> Run:
    """The SMTP server unreachable for a while: comments still post; mail goes out once
    it returns, once each."""
    with Run("smtp-outage", args, private=True) as run:
        locust = run.locust(args.duration)
        time.sleep(args.duration * 0.25)
        down = time.time()
        log("   fault: the SMTP server stops (connections refused)")
        run.smtp.halt()
        time.sleep(min(40, args.duration * 0.5))
        log("   the SMTP server is back")
        run.smtp.resume()
        up = time.time()
        run.wait_load(locust)
        run.note(f"SMTP server unreachable for {up - down:.1f} s")
        posts = [
            json.loads(line)
            for line in run.acks.read_text().splitlines()
            if '"kind": "comment"' in line
        ]
        during = sum(1 for a in posts if down <= a["t"] < up)
        run.note(f"comments acknowledged while the SMTP server was down: {during}",
                 ok=during > 0)  # fmt: skip
        failed = run.failures_between(down, up)
        run.note(
            "no failed request while it was down" + (f"; failed: {dict(failed)}" if failed else ""),
            ok=not failed,
        )
        run.worker_alive()
        # Mail that failed while the server was down is retried after a minute (and then
        # after 5); give the queue that long to drain.
        run.check(mail_wait=args.mail_wait)
    return run


def scenario_web_kill(args) -> Run:
    """A web process killed mid-request: no half-written comment.

    To be sure the kill lands inside a write, the scenario holds a lock on the table of
    follows: a reply then blocks in its transaction after its comment row is inserted,
    its parent's reply count raised and its search text stored, at the moment the
    author is made to follow it. That web process is killed with SIGKILL; then the lock
    is released. The comment it had inserted must not exist, and every counter must
    still equal its recount. Plus two more SIGKILLs of random busy workers.
    """
    import psycopg

    with Run("web-kill", args, private=True) as run:
        locust = run.locust(args.duration)
        time.sleep(args.duration * 0.25)
        killed_comments = []
        for _attempt in range(3):
            found = kill_mid_write(run, psycopg)
            if found:
                killed_comments.append(found)
            time.sleep(args.duration * 0.12)
        for _ in range(2):
            pid = run.web.worker_pids()[0]
            log(f"   fault: SIGKILL web worker {pid} (whatever it is doing)")
            os.kill(pid, signal.SIGKILL)
            time.sleep(args.duration * 0.08)
        run.wait_load(locust)
        run.note(f"web processes killed inside a comment's transaction: {len(killed_comments)}",
                 ok=len(killed_comments) == 3)  # fmt: skip
        with psycopg.connect(run.pg.db_url(run.db)) as conn:
            left = [
                pk
                for pk, parent in killed_comments
                if conn.execute("SELECT 1 FROM forum_comment WHERE id = %s", [pk]).fetchone()
            ]
        run.note(
            "comments inserted by a killed process are gone (rolled back): "
            + ", ".join(str(pk) for pk, _ in killed_comments),
            ok=not left,
        )
        run.check()
    return run


def kill_mid_write(run: Run, psycopg):
    """Hold the follows table, catch a post blocked inside its transaction, kill its web
    process, release. Returns (comment id it had inserted, pid) or None."""
    url = run.pg.db_url(run.db)
    with psycopg.connect(url) as holder, psycopg.connect(url, autocommit=True) as watcher:
        holder.execute("LOCK TABLE forum_subscription IN EXCLUSIVE MODE")
        deadline = time.time() + 20
        blocked = None
        while time.time() < deadline and not blocked:
            blocked = watcher.execute(
                """SELECT pid, client_port, query FROM pg_stat_activity
                   WHERE datname = current_database() AND wait_event_type = 'Lock'
                     AND query LIKE 'INSERT INTO "forum_subscription"%%'
                     AND query LIKE '%%"thread_id"%%' LIMIT 1"""
            ).fetchone()
            time.sleep(0.1)
        if not blocked:
            holder.rollback()
            log("   no post blocked within 20 s; skipped")
            return None
        _backend, port, query = blocked
        # The INSERT names the new comment as the thread to follow: VALUES (user, NULL, id, …)
        values = re.search(r"VALUES \((\d+), NULL, (\d+),", query)
        comment = int(values.group(2)) if values else None
        pid = owner_of_port(port, run.web.worker_pids())
        log(f"   fault: SIGKILL web worker {pid}, blocked inside the post of comment {comment}")
        if pid:
            os.kill(pid, signal.SIGKILL)
        time.sleep(0.5)
        holder.rollback()  # release the lock
    return (comment, pid) if comment and pid else None


def owner_of_port(port: int, pids: list[int]) -> int | None:
    """Which of `pids` holds the TCP socket whose local port is `port`."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:[") and target[8:-1] in inodes:
                return pid
    return None


def scenario_backup_restore(args) -> Run:
    """A backup taken during writes restores to a consistent database: pg_dump in the
    middle of the load, pg_restore into a new database, then the same checks there
    (every write acknowledged before the dump started is in it; counters recount)."""
    with Run("backup-restore", args, private=True) as run:
        locust = run.locust(args.duration)
        time.sleep(args.duration * 0.5)
        dump = run.out / "backup.dump"
        started = time.time()
        log("   pg_dump while the load writes")
        subprocess.run(
            ["pg_dump", "--format=custom", f"--dbname={run.pg.db_url(run.db)}",
             f"--file={dump}"], check=True,
        )  # fmt: skip
        took = time.time() - started
        run.wait_load(locust)
        run.note(f"pg_dump took {took:.1f} s during the load ({dump.stat().st_size // 1024} KiB)")
        restored = f"{run.db}_restored"
        run.extra_dbs.append(restored)
        run.pg.create(restored)
        t0 = time.time()
        subprocess.run(
            ["pg_restore", "--no-owner", "--exit-on-error",
             f"--dbname={run.pg.db_url(restored)}", str(dump)], check=True,
        )  # fmt: skip
        run.note(f"pg_restore took {time.time() - t0:.1f} s", ok=True)
        counts = compare_tables(run.pg.db_url(run.db), run.pg.db_url(restored))
        shrunk = [f"{t}: {a} live, {b} restored" for t, a, b in counts if b > a]
        run.note(
            f"{len(counts)} tables restored; none has more rows than the live database "
            "after the load" + (f"; more: {shrunk}" if shrunk else ""),
            ok=not shrunk,
        )
        main = {t: (a, b) for t, a, b in counts}
        comments = main.get("forum_comment", (0, 0))
        run.note(f"comments: {comments[1]} in the backup, {comments[0]} live after the load")
        log("   checks on the live database")
        run.check()
        shutil.copy(run.out / "check.json", run.out / "check-live.json")
        log("   checks on the restored database (writes acknowledged before the dump)")
        env = {**run.env, "DATABASE_URL": run.pg.db_url(restored)}
        run.check(site=False, acked_before=started, env=env)
        shutil.copy(run.out / "check.json", run.out / "check-restored.json")
    return run


def compare_tables(live_url: str, restored_url: str) -> list[tuple[str, int, int]]:
    import psycopg

    rows = []
    with psycopg.connect(live_url) as live, psycopg.connect(restored_url) as restored:
        tables = [
            t
            for (t,) in live.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
            )
        ]
        for table in tables:
            a = live.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
            b = restored.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
            rows.append((table, a, b))
    return rows


def scenario_migrations(args) -> Run:
    """Migrations forward on a copy of a populated database (100,000 comments), timed.

    Seeds with the current code, copies the database, takes the copy back to an earlier
    state (each project app's migration before its last; more with --migrate-back), then
    migrates forward again, timed, and compares every table's rows and the recounts. If
    every app has a single migration there is nothing to go back to: then a full migrate
    of an empty database is timed, and `migrate` on the populated copy must be a no-op.
    """
    import psycopg

    with Run("migrations", args, private=True) as run:
        t0 = time.time()
        manage(run.env, "seed_discussion", "--section", section_slug(run, 2),
               "--comments", str(args.migration_comments), "--top-level",
               str(args.migration_comments // 7), "--users", "200", "--seed", "3")  # fmt: skip
        run.note(f"seeded {args.migration_comments:,} more comments in {time.time() - t0:.0f} s")
        copy = f"{run.db}_copy"
        run.extra_dbs.append(copy)
        run.web.stop()
        run.worker.stop()
        run.started = [p for p in run.started if p not in (run.web, run.worker)]
        run.pg.create(copy, template=run.db)
        env = {**run.env, "DATABASE_URL": run.pg.db_url(copy)}
        plan = migration_plan(env)
        local = {app: names for app, names in plan.items() if (ROOT / app).is_dir()}
        run.note("project migrations: " + ", ".join(f"{a}: {len(n)}" for a, n in local.items()))
        back = {app: names for app, names in local.items() if len(names) > args.migrate_back}
        populated = table_counts(psycopg, run.pg.db_url(copy))
        before = populated
        if back:
            # Later apps first, so nothing depends on a migration being unapplied.
            for app, names in reversed(list(back.items())):
                target = names[-1 - args.migrate_back]
                t0 = time.time()
                manage(env, "migrate", app, target, "--no-input")
                run.note(f"migrated {app} back to {target} in {time.time() - t0:.1f} s")
            # What forward migrations must keep: the rows of the earlier state. Tables
            # that only later migrations create come back empty (they held data of the
            # later schema, which going back drops).
            before = table_counts(psycopg, run.pg.db_url(copy))
            dropped = sorted(set(populated) - set(before))
            run.note(f"tables only later migrations create: {', '.join(dropped) or 'none'}")
            t0 = time.time()
            manage(env, "migrate", "--no-input")
            took = time.time() - t0
            steps = ", ".join(f"{a}: {args.migrate_back}" for a in back)
            run.note(
                f"migrated forward ({steps} migrations) on {before.get('forum_comment', 0):,} "
                f"comments in {took:.1f} s",
                ok=True,
            )
        else:
            run.note("every project app has one migration: nothing earlier to migrate from")
            empty = f"{run.db}_empty"
            run.extra_dbs.append(empty)
            run.pg.create(empty)
            t0 = time.time()
            manage({**run.env, "DATABASE_URL": run.pg.db_url(empty)}, "migrate", "--no-input")
            run.note(f"full migrate of an empty database: {time.time() - t0:.1f} s")
            t0 = time.time()
            manage(env, "migrate", "--no-input")
            run.note(f"migrate on the populated copy (nothing to do): {time.time() - t0:.1f} s")
        after = table_counts(psycopg, run.pg.db_url(copy))
        lost = [f"{t}: {n} before, {after.get(t)} after" for t, n in before.items()
                if after.get(t) != n and t != "django_migrations"]  # fmt: skip
        run.note(
            f"every table of the earlier state keeps its rows ({sum(before.values()):,} rows "
            f"in {len(before)} tables)" + (f"; changed: {lost}" if lost else ""),
            ok=not lost,
        )
        check = subprocess.run(
            [PYTHON, str(ROOT / "load" / "check.py"), "--json", str(run.out / "check.json")],
            cwd=ROOT, env=env,
        )  # fmt: skip
        result = json.loads((run.out / "check.json").read_text())
        run.note(
            "recounts on the migrated copy: "
            + "; ".join(f"{name} {'ok' if ok else 'FAILED'}" for name, ok, _ in result["checks"]),
            ok=check.returncode == 0,
        )
    return run


def section_slug(run: Run, index: int) -> str:
    return subprocess.run(
        [PYTHON, "-c",
         "import django; django.setup(); from essays.models import Section; "
         "s = list(Section.objects.order_by('essay__position', 'position'))"
         f"; print(s[min({index}, len(s) - 1)].slug)"],
        cwd=ROOT, env=run.env, check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip


def migration_plan(env) -> dict[str, list[str]]:
    """Each app's migrations, in order, as Django's loader sees them."""
    code = (
        "import django, json; django.setup()\n"
        "from django.db.migrations.loader import MigrationLoader\n"
        "loader = MigrationLoader(None, ignore_no_migrations=True)\n"
        "plan = {}\n"
        "for app, name in loader.graph.leaf_nodes():\n"
        "    plan[app] = [n for a, n in loader.graph.forwards_plan((app, name)) if a == app]\n"
        "print(json.dumps(plan))\n"
    )
    out = subprocess.run(
        [PYTHON, "-c", code], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    ).stdout
    return json.loads(out)


def table_counts(psycopg, url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        tables = [
            t
            for (t,) in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
            )
        ]
        return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}


SCENARIOS = {
    "postgres-restart": scenario_postgres_restart,
    "redis-stop": scenario_redis_stop,
    "smtp-outage": scenario_smtp_outage,
    "web-kill": scenario_web_kill,
    "backup-restore": scenario_backup_restore,
    "migrations": scenario_migrations,
}


def main():
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("what", choices=["load", "faults", "list"])
    parser.add_argument("scenarios", nargs="*", help="fault scenarios by name (default: all)")
    parser.add_argument("--duration", type=int, default=60, help="seconds of load per run")
    parser.add_argument("--users", type=int, default=23)
    parser.add_argument("--spawn-rate", type=float, default=2)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--postgres", default="postgres://root@127.0.0.1:5432")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/2")
    parser.add_argument("--mail-wait", type=float, default=240)
    parser.add_argument("--migration-comments", type=int, default=100_000)
    parser.add_argument("--migrate-back", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the databases")
    args = parser.parse_args()
    # SIGTERM (or a hang-up) tears down like Ctrl-C: servers stopped, databases dropped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.signal(signal.SIGHUP, lambda *_: sys.exit(129))
    if args.what == "list":
        for name, function in SCENARIOS.items():
            print(f"{name}: {function.__doc__.splitlines()[0]}")
        return
    print(
        f"Essay Forum under load: {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, "
        f"settings {settings_module()}, worker `manage.py {WORKER_COMMAND}`, "
        f"site on 127.0.0.1:{WEB_PORT}",
        flush=True,
    )
    if args.what == "load":
        runs = [scenario_load(args)]
    else:
        names = args.scenarios or list(SCENARIOS)
        unknown = [n for n in names if n not in SCENARIOS]
        if unknown:
            parser.error(f"unknown scenario {', '.join(unknown)}; see `run.py list`")
        runs = []
        for name in names:
            try:
                runs.append(SCENARIOS[name](args))
            except Exception as error:
                log(f"{name} could not run: {type(error).__name__}: {error}")
                summary = [f"FAIL could not run: {error}"]
                failed = type("Failed", (), {"name": name, "passed": False, "summary": summary})
                runs.append(failed)
    print("\n==== Summary")
    for run in runs:
        print(f"\n## {run.name}: {'PASSED' if run.passed else 'FAILED'}")
        for line in run.summary:
            print(line)
    sys.exit(0 if all(r.passed for r in runs) else 1)


if __name__ == "__main__":
    main()
