"""After a load (or a fault): is every acknowledged write there exactly once, and does
every counter equal a recount?

    python load/check.py --acks data/load/acks.jsonl [--site URL] [--mail FILE]
                         [--mail-wait 150] [--acked-before UNIX_TIME] [--json OUT]

Uses the database of DATABASE_URL through the project's own models (DJANGO_SETTINGS_MODULE
from the environment). Checks, each printed with its figures:

- every acknowledged comment exists once, by its author, with its form token, its parent,
  and its text (the last acknowledged edit; or a later edit sent but unanswered);
- every comment sent but not acknowledged exists at most once (never twice);
- no comment is half-written: its thread path, depth, root and search text agree with
  its parent and itself;
- reply_count equals the replies, score equals the votes, for every comment;
- acknowledged votes and reports are there once (withdrawn votes gone); no published
  comment has as many open reports as the threshold that holds it; every comment's
  status is the outcome of the last act recorded for it (moderators' and the rules');
- every acknowledged moderator decision is recorded;
- each acknowledged reply told its parent's author once (reply or thread notice);
- the bell each member sees on the site equals their unread notifications, counted by
  the model's own queryset (Notification.objects.shown(user).unread());
- with --mail: once the queue drains, every notification marked sent was received by
  the SMTP server exactly once (matched by Message-ID), and nothing was received twice.

With --acked-before T (a restored backup taken at T): only writes acknowledged before T
must be there, and those after may be.
"""

import argparse
import contextlib
import json
import os
import re
import sys
import time
import urllib.request
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "forum.settings")

import django

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.models import Count, F, Q  # noqa: E402

from forum.models import (  # noqa: E402
    PATH_DIGITS,
    Comment,
    ModerationLog,
    ModerationPolicy,
    Notification,
    Report,
    Vote,
)

User = get_user_model()
BELL = re.compile(r'class="bell__count">(\d+)<')
MESSAGE_ID = re.compile(r"<notification-(\d+)@")


class Result:
    def __init__(self):
        self.rows: list[tuple[str, bool, str]] = []
        self.facts: dict[str, object] = {}

    def check(self, name: str, ok: bool, detail: str = "") -> bool:
        self.rows.append((name, ok, detail))
        mark = "ok  " if ok else "FAIL"
        print(f"  {mark} {name}{': ' + detail if detail else ''}", flush=True)
        return ok

    @property
    def passed(self) -> bool:
        return all(ok for _, ok, _ in self.rows)


def sample(items, n=5) -> str:
    items = list(items)
    more = f" (+{len(items) - n} more)" if len(items) > n else ""
    return ", ".join(str(i) for i in items[:n]) + more


def read_acks(path: Path) -> list[dict]:
    if not path or not path.exists():
        return []
    lines = []
    for line in path.read_text().splitlines():
        with contextlib.suppress(json.JSONDecodeError):  # a line cut short by a stop
            lines.append(json.loads(line))
    return lines


# --- the checks -------------------------------------------------------------------------


def check_comments(acks, res: Result, acked_before: float | None):
    users = dict(User.objects.values_list("username", "pk"))
    posted = [a for a in acks if a["kind"] == "comment"]
    must = [a for a in posted if acked_before is None or a["t"] < acked_before]
    rows = {
        c["pk"]: c
        for c in Comment.objects.filter(pk__in=[a["id"] for a in posted]).values(
            "pk", "author_id", "submission_token", "parent_id", "body", "status"
        )
    }
    edits = defaultdict(list)  # comment id -> [(t, body, acknowledged)]
    for a in acks:
        if a["kind"] == "edit":
            edits[a["id"]].append((a["t"], a["body"], True))
        elif a["kind"] == "attempt" and a.get("action") == "edit":
            edits[a["id"]].append((a["t"], a["body"], False))
    missing, wrong, bodies = [], [], []
    for a in must:
        row = rows.get(a["id"])
        if row is None:
            missing.append(a["id"])
            continue
        if (
            row["author_id"] != users.get(a["user"])
            or str(row["submission_token"]) != a["token"]
            or row["parent_id"] != a["parent"]
        ):
            wrong.append(a["id"])
        history = sorted(edits.get(a["id"], []))
        if acked_before is not None:
            history = [h for h in history if h[0] < acked_before or not h[2]]
        acked = [b for _, b, ok in history if ok]
        allowed = {acked[-1] if acked else a["body"]}
        last_ack_t = max((t for t, _, ok in history if ok), default=0)
        allowed |= {b for t, b, ok in history if not ok and t >= last_ack_t}
        if acked_before is not None:  # a later edit may or may not be in the backup
            allowed |= {b for t, b, ok in history}
        if row["body"] not in allowed and row["status"] != Comment.Status.DELETED:
            bodies.append(a["id"])
    res.facts["comments acknowledged"] = len(posted)
    res.check(
        "acknowledged comments are stored",
        not missing,
        f"{len(must) - len(missing)} of {len(must)}"
        + (f"; missing: {sample(missing)}" if missing else ""),
    )
    res.check(
        "each has its author, form token and parent",
        not wrong,
        f"wrong: {sample(wrong)}" if wrong else "",
    )
    edited = sum(1 for a in acks if a["kind"] == "edit")
    res.check(
        "each has its last acknowledged text",
        not bodies,
        f"{edited} edits acknowledged" + (f"; wrong text: {sample(bodies)}" if bodies else ""),
    )
    tokens = [a["token"] for a in acks if a["kind"] == "attempt" and a.get("token")]
    counts = Counter(
        str(t)
        for t in Comment.objects.filter(submission_token__in=tokens).values_list(
            "submission_token", flat=True
        )
    )
    twice = [t for t, n in counts.items() if n > 1]
    acked_tokens = {a["token"] for a in posted}
    unacked = [t for t in tokens if t not in acked_tokens]
    stored_anyway = [t for t in unacked if counts.get(t)]
    res.facts["comments sent, not acknowledged"] = len(unacked)
    res.facts["of which stored anyway"] = len(stored_anyway)
    res.check(
        "no comment stored twice",
        not twice,
        f"{len(tokens)} sent, {len(unacked)} without an answer, "
        f"{len(stored_anyway)} of those stored anyway"
        + (f"; twice: {sample(twice)}" if twice else ""),
    )


def check_structure(res: Result):
    """Thread paths, depths, roots and search text, in SQL over every comment."""
    table = Comment._meta.db_table
    d = PATH_DIGITS
    with connection.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM {table}")
        total = cur.fetchone()[0]
        res.facts["comments in the database"] = total
        # A comment's own segment is its id in base 36, fixed width: compared in Python.
        cur.execute(
            f"""
            SELECT c.id, c.path, c.depth, c.root_id, c.parent_id, p.path, p.depth,
                   COALESCE(p.root_id, p.id), c.search_vector IS NULL, c.status, c.body,
                   c.body_html
            FROM {table} c LEFT JOIN {table} p ON p.id = c.parent_id
            """
        )
        broken = []
        from forum.models import path_segment

        for (pk, path, depth, root, parent, ppath, pdepth, proot, novector, status, body,
             html) in cur:  # fmt: skip
            expected = (ppath or "") + path_segment(pk) if parent else path_segment(pk)
            ok = (
                path == expected
                and depth == (pdepth + 1 if parent else 0)
                and len(path) == d * (depth + 1)
                and root == (proot if parent else None)
                and (status == "deleted" or bool(html) == bool(body))
                and (connection.vendor != "postgresql" or status == "deleted" or not novector)
            )
            if not ok:
                broken.append(pk)
    res.check(
        "no half-written comment (path, depth, root, rendered and search text)",
        not broken,
        f"{total} comments" + (f"; broken: {sample(broken)}" if broken else ""),
    )


def check_counters(res: Result):
    replies = Comment.objects.annotate(n=Count("replies", distinct=True)).exclude(
        reply_count=F("n")
    )
    off = list(replies.values_list("pk", "reply_count", "n")[:20])
    res.check(
        "reply_count equals the replies of every comment",
        not off,
        f"off: {sample(f'{pk}: {a} stored, {b} counted' for pk, a, b in off)}" if off else "",
    )
    scores = Comment.objects.annotate(n=Count("votes", distinct=True)).exclude(score=F("n"))
    off = list(scores.values_list("pk", "score", "n")[:20])
    res.check(
        "score equals the votes of every comment",
        not off,
        f"off: {sample(f'{pk}: {a} stored, {b} counted' for pk, a, b in off)}" if off else "",
    )


def check_votes_reports(acks, res: Result, acked_before):
    users = dict(User.objects.values_list("username", "pk"))
    # Replay in order so that an acknowledgement after an unanswered attempt counts.
    final = {}
    for a in acks:
        key = (a.get("user"), a.get("id"))
        if a["kind"] == "attempt" and a.get("action") in ("vote", "unvote"):
            final[key] = None
        elif a["kind"] in ("vote", "unvote"):
            if acked_before is None or a["t"] < acked_before:
                final[key] = a["kind"]
            else:
                final[key] = None
    existing = set(Vote.objects.values_list("user_id", "comment_id"))
    wrong = []
    for (user, comment), state in final.items():
        if state is None:
            continue
        present = (users.get(user), comment) in existing
        if present != (state == "vote"):
            gone = not Comment.objects.filter(pk=comment).exists()
            if not gone:
                wrong.append(f"{user}/{comment} {state}")
    res.check(
        "acknowledged votes are there, withdrawn ones gone",
        not wrong,
        f"{sum(1 for a in acks if a['kind'] == 'vote')} votes, "
        f"{sum(1 for a in acks if a['kind'] == 'unvote')} withdrawals acknowledged"
        + (f"; wrong: {sample(wrong)}" if wrong else ""),
    )
    reports = [
        a for a in acks if a["kind"] == "report" and (acked_before is None or a["t"] < acked_before)
    ]
    stored = Counter(Report.objects.values_list("reporter_id", "comment_id"))
    missing = [
        f"{a['user']}/{a['id']}" for a in reports if stored[(users.get(a["user"]), a["id"])] != 1
    ]
    res.check(
        "acknowledged reports are there once",
        not missing,
        f"{len(reports)} reports" + (f"; missing: {sample(missing)}" if missing else ""),
    )
    threshold = ModerationPolicy.current().report_threshold
    loud = list(
        Comment.objects.filter(status=Comment.Status.PUBLISHED)
        .annotate(open=Count("reports", filter=Q(reports__resolved_at__isnull=True)))
        .filter(open__gte=threshold)
        .values_list("pk", flat=True)
    )
    res.check(
        f"no published comment has {threshold}+ open reports (they are held)",
        not loud,
        f"{Comment.objects.filter(status=Comment.Status.PENDING).count()} held for review now"
        + (f"; published anyway: {sample(loud)}" if loud else ""),
    )


OUTCOME = {
    ModerationLog.Action.APPROVE: Comment.Status.PUBLISHED,
    ModerationLog.Action.RESTORE: Comment.Status.PUBLISHED,
    ModerationLog.Action.REMOVE: Comment.Status.REMOVED,
    ModerationLog.Action.SPAM: Comment.Status.SPAM,
    ModerationLog.Action.HOLD: Comment.Status.PENDING,
}


def check_moderation(acks, res: Result, acked_before):
    last: dict[int, str] = {}
    for comment, action in (
        ModerationLog.objects.filter(action__in=OUTCOME, comment__isnull=False)
        .order_by("created_at", "pk")
        .values_list("comment_id", "action")
    ):
        last[comment] = action
    statuses = dict(Comment.objects.filter(pk__in=last).values_list("pk", "status"))
    wrong = [
        f"{pk}: {statuses[pk]} after {action}"
        for pk, action in last.items()
        if pk in statuses
        and statuses[pk] != OUTCOME[action]
        and statuses[pk] != Comment.Status.DELETED
    ]
    res.check(
        "every comment's status is the outcome of the last act recorded for it",
        not wrong,
        f"{len(last)} comments acted on" + (f"; wrong: {sample(wrong)}" if wrong else ""),
    )
    logged = set(ModerationLog.objects.values_list("comment_id", "action"))
    decisions = [
        a
        for a in acks
        if a["kind"] == "moderation" and (acked_before is None or a["t"] < acked_before)
    ]
    unrecorded = [
        f"{a['action']} {pk}"
        for a in decisions
        for pk in a["ids"]
        if (pk, a["action"]) not in logged
        # approving a comment that is not pending changes nothing, rightly unrecorded
        and not (a["action"] == "approve" and (pk, ModerationLog.Action.HOLD) not in logged)
    ]
    res.check(
        "acknowledged moderator decisions are recorded",
        not unrecorded,
        f"{len(decisions)} decisions on {sum(len(a['ids']) for a in decisions)} comments"
        + (f"; unrecorded: {sample(unrecorded)}" if unrecorded else ""),
    )


def check_notifications(acks, res: Result, acked_before):
    writers = set(User.objects.filter(username__startswith="load-writer-").values_list("pk"))
    writers = {pk for (pk,) in writers}
    replies = [
        a
        for a in acks
        if a["kind"] == "comment"
        and a["parent"]
        and (acked_before is None or a["t"] < acked_before)
    ]
    parents = dict(
        Comment.objects.filter(pk__in=[a["parent"] for a in replies]).values_list("pk", "author_id")
    )
    users = dict(User.objects.values_list("username", "pk"))
    told = Counter(
        Notification.objects.filter(
            comment__in=[a["id"] for a in replies],
            kind__in=[Notification.Kind.REPLY, Notification.Kind.THREAD],
        ).values_list("recipient_id", "comment_id")
    )
    expected = [
        (parents[a["parent"]], a["id"])
        for a in replies
        if parents.get(a["parent"]) in writers and parents[a["parent"]] != users[a["user"]]
    ]
    wrong = [f"{c} to {u}: {told[(u, c)]}" for u, c in expected if told[(u, c)] != 1]
    res.check(
        "each acknowledged reply told its parent's author once",
        not wrong,
        f"{len(expected)} replies to other writers"
        + (f"; not once: {sample(wrong)}" if wrong else ""),
    )
    # (A removal is told to the comment's own author, by design.)
    own = (
        Notification.objects.filter(comment__author=F("recipient"))
        .exclude(kind=Notification.Kind.REMOVED)
        .count()
    )
    res.check("nobody is told of their own comment", own == 0, f"{own} such" if own else "")


def check_bells(acks, res: Result, site: str):
    sessions = {}
    for a in acks:
        if a["kind"] == "session" and a.get("sessionid"):
            sessions[a["user"]] = a["sessionid"]
    wrong, compared = [], 0
    for username, sessionid in sorted(sessions.items()):
        request = urllib.request.Request(  # noqa: S310 (the site we started, over http)
            f"{site}/", headers={"Cookie": f"sessionid={sessionid}"}
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                html = response.read().decode()
        except OSError as error:
            wrong.append(f"{username}: {error}")
            continue
        if 'href="/notifications/"' not in html:
            wrong.append(f"{username}: signed out")
            continue
        shown = int(m.group(1)) if (m := BELL.search(html)) else 0
        user = User.objects.get(username=username)
        counted = Notification.objects.filter(recipient=user).shown(user).unread().count()
        compared += 1
        if shown != counted:
            wrong.append(f"{username}: bell {shown}, recount {counted}")
    res.facts["unread notifications"] = Notification.objects.unread().count()
    res.check(
        "the bell shows each member's unread notifications (recounted by the model)",
        not wrong,
        f"{compared} members compared" + (f"; differ: {sample(wrong)}" if wrong else ""),
    )


def check_mail(res: Result, mail: Path, wait: float):
    Email = Notification.Email
    deadline = time.monotonic() + wait
    waiting = Notification.objects.filter(email_state__in=[Email.QUEUED, Email.SENDING])
    while waiting.exists() and time.monotonic() < deadline:
        time.sleep(2)
    states = Counter(Notification.objects.values_list("email_state", flat=True))
    res.facts["notifications by email state"] = dict(states)
    received = Counter()
    for line in mail.read_text().splitlines() if mail.exists() else []:
        if m := MESSAGE_ID.search(json.loads(line)["message_id"]):
            received[int(m.group(1))] += 1
    state = dict(Notification.objects.values_list("pk", "email_state"))
    sent = {pk for pk, st in state.items() if st == Email.SENT}
    twice = [pk for pk, n in received.items() if n > 1]
    lost = sorted(sent - set(received))
    # Received while the row still says "sending": the worker lost its database between
    # sending and marking (at most once, by design: never sent again).
    in_doubt = sorted(pk for pk in received if state.get(pk) == Email.SENDING)
    # Received while the row says queued (it would go out again) or anything else.
    unmarked = sorted(pk for pk in received if state.get(pk) not in (Email.SENT, Email.SENDING))
    res.facts["mails received"] = sum(received.values())
    queued = states.get(Email.QUEUED, 0)
    res.check(
        f"mail queue drained (within {wait:.0f} s)",
        queued == 0,
        f"{queued} queued, {states.get(Email.SENDING, 0)} left as sending "
        f"({len(in_doubt)} of them received), {states.get(Email.FAILED, 0)} failed for good",
    )
    res.check(
        "every mail marked sent was received once, none twice",
        not (twice or lost or unmarked),
        f"{len(sent)} sent, {sum(received.values())} received"
        + (f"; twice: {sample(twice)}" if twice else "")
        + (f"; marked sent, never received: {sample(lost)}" if lost else "")
        + (f"; received, yet queued to go again: {sample(unmarked)}" if unmarked else ""),
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--acks", type=Path)
    parser.add_argument("--site", help="the running site, to read each member's bell")
    parser.add_argument("--mail", type=Path, help="the SMTP sink's log")
    parser.add_argument("--mail-wait", type=float, default=150)
    parser.add_argument("--acked-before", type=float)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    acks = read_acks(args.acks)
    res = Result()
    print("Checks:", flush=True)
    if acks:
        check_comments(acks, res, args.acked_before)
    check_structure(res)
    check_counters(res)
    check_votes_reports(acks, res, args.acked_before)
    check_moderation(acks, res, args.acked_before)
    if acks:
        check_notifications(acks, res, args.acked_before)
    if args.mail:
        check_mail(res, args.mail, args.mail_wait)
    if args.site and acks:
        check_bells(acks, res, args.site)
    for name, value in res.facts.items():
        print(f"  - {name}: {value}")
    if args.json:
        args.json.write_text(
            json.dumps({"passed": res.passed, "checks": res.rows, "facts": res.facts}, indent=1)
        )
    print("All checks passed." if res.passed else "SOME CHECKS FAILED.", flush=True)
    sys.exit(0 if res.passed else 1)


if __name__ == "__main__":
    main()
