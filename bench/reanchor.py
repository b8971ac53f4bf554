"""How long re-anchoring 1,000 quoting comments takes when their section is edited, on
SQLite and on PostgreSQL, and proof that it happens once per edit and never on a view.

Each run makes a throw-away database, loads the bundled essay, posts 1,000 comments on
one section, each quoting a random passage of 4 to 14 words, then edits the section
twice through Section.revise() (as the admin and the importer do): a sentence inserted
at the top (every quote moves), then one paragraph reworded (its quotes change). It
times each edit as a whole (rendering, the revision, re-anchoring, commit) and the
re-anchoring alone, counts the outcomes, then shows the section page 20 times and
checks that no comment row was written and no re-anchoring ran.

    .venv/bin/python bench/reanchor.py [--postgres postgres://root@127.0.0.1:5432]
"""

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMENTS = 1000


def run(database_url: str) -> dict:
    """In a fresh process (settings read DATABASE_URL at start-up): one measurement."""
    env = os.environ | {
        "DATABASE_URL": database_url,
        "DEBUG": "true",
        "ALLOWED_HOSTS": "testserver,localhost",
        "CACHE_URL": "locmemcache://",
    }
    out = subprocess.run(
        [sys.executable, __file__, "--child"], env=env, capture_output=True, text=True, cwd=ROOT
    )
    if out.returncode:
        sys.exit(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def child() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from collections import Counter
    from io import StringIO

    from django.core.management import call_command
    from django.db import connection, transaction
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from accounts.models import User
    from essays.importing import BUNDLED_ESSAYS_DIR, import_essay, read_essay_file
    from essays.signals import section_revised
    from forum import receivers
    from forum.models import Comment

    call_command("migrate", verbosity=0, stdout=StringIO())
    essay = import_essay(
        read_essay_file(BUNDLED_ESSAYS_DIR / "open-source-meets-open-weights.md")
    ).essay
    section = essay.sections.get(slug="the-deepseek-moment")
    revision = section.current_revision
    author = User.objects.create_user("reader", "reader@example.org", "x" * 20)
    rng = random.Random(1)  # noqa: S311 (a repeatable choice of passages)
    words = [(p.split(), p) for p in section.body_markdown.split("\n\n") if len(p.split()) > 14]
    comments = []
    for n in range(COMMENTS):
        paragraph, _ = rng.choice(words)
        size = rng.randint(4, 14)
        first = rng.randrange(len(paragraph) - size)
        passage = section.find_passage(" ".join(paragraph[first : first + size]))
        comment = Comment(section=section, author=author, body=f"Comment {n}.", revision=revision)
        comment.quote_text, comment.quote_before = passage.text, passage.before
        comment.quote_after, comment.quote_anchor = passage.after, passage.anchor
        comment.anchor_quote(revision)
        comment.path = f"{n:07d}"
        comments.append(comment)
    Comment.objects.bulk_create(comments)

    timings: dict[str, float] = {}
    calls = Counter()
    original = receivers.Comment.objects.reanchor

    def timed_reanchor(*args, **kwargs):
        calls["reanchor"] += 1
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            timings[f"reanchor {calls['reanchor']}"] = time.perf_counter() - start

    section_revised.connect(lambda **kwargs: calls.update(["signal"]), weak=False)
    receivers.Comment.objects.reanchor = timed_reanchor

    def edit(name: str, markdown: str) -> None:
        section.refresh_from_db()
        start = time.perf_counter()
        with transaction.atomic():
            assert section.revise(markdown)
        timings[name] = time.perf_counter() - start

    section.refresh_from_db()
    edit("insert", "A sentence added at the top.\n\n" + section.body_markdown)
    moved = Counter(Comment.objects.values_list("anchor_state", flat=True))
    _, target = max(words, key=lambda item: len(item[0]))
    reworded = target.replace("the ", "this ").replace(" a ", " one ")
    edit("reword", section.body_markdown.replace(target, reworded))
    states = Counter(Comment.objects.values_list("anchor_state", flat=True))

    client = Client()
    before = dict(calls)
    with CaptureQueriesContext(connection) as queries:
        for _ in range(20):
            assert client.get(section.get_absolute_url()).status_code == 200
    writes = [q for q in queries if q["sql"].lstrip().upper().startswith(("UPDATE", "INSERT"))]
    print(
        json.dumps(
            {
                "vendor": connection.vendor,
                "edit_insert_s": timings["insert"],
                "edit_reword_s": timings["reword"],
                "reanchor_insert_s": timings["reanchor 1"],
                "reanchor_reword_s": timings["reanchor 2"],
                "after_insert": dict(moved),
                "after_reword": dict(states),
                "reanchor_calls_for_2_edits": before.get("reanchor", 0),
                "signals_for_2_edits": before.get("signal", 0),
                "reanchor_calls_during_20_views": calls["reanchor"] - before["reanchor"],
                "writes_during_20_views": len(writes),
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", default="postgres://root@127.0.0.1:5432")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child()
        return
    import psycopg

    with tempfile.TemporaryDirectory() as folder:
        results = [run(f"sqlite:///{folder}/bench.sqlite3")]
    name = f"bench_reanchor_{os.getpid()}"
    with psycopg.connect(f"{args.postgres}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        results.append(run(f"{args.postgres}/{name}"))
    finally:
        with psycopg.connect(f"{args.postgres}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(
        "| database | edit: sentence inserted (all 1,000 move) | of which re-anchoring | "
        "edit: paragraph reworded | of which re-anchoring | states after |"
    )
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    for r in results:
        print(
            f"| {r['vendor']} | {r['edit_insert_s'] * 1000:.0f} ms | "
            f"{r['reanchor_insert_s'] * 1000:.0f} ms | {r['edit_reword_s'] * 1000:.0f} ms | "
            f"{r['reanchor_reword_s'] * 1000:.0f} ms | {r['after_reword']} |"
        )
    for r in results:
        print(
            f"{r['vendor']}: re-anchorings for 2 edits: {r['reanchor_calls_for_2_edits']}; "
            f"during 20 page views: {r['reanchor_calls_during_20_views']} re-anchorings, "
            f"{r['writes_during_20_views']} writes"
        )
        assert r["reanchor_calls_for_2_edits"] == 2
        assert r["reanchor_calls_during_20_views"] == r["writes_during_20_views"] == 0


if __name__ == "__main__":
    main()
