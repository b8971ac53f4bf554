"""`make bench-huge`: a million comments on the site, 100,000 in one section.

1. Makes (or, with --keep, reuses) a PostgreSQL database of its own, loads the essays,
   seeds a 1,000-comment discussion into the first section with seed_discussion, then
   copies it in SQL: 100 copies into the second section (100,000 comments) and 900
   more spread over the other sections, about a million in all. Copies keep every
   derived column (path, depth, answered, score, the search vector), so no Python
   touches a copied row; a few comments get a rare word, some are held for review.
2. Measures, in this process (Django's test client, production settings, no readers'
   cache), the median of several requests: the first page of the 1,000- and the
   100,000-comment sections, the latter's last page and a permalink deep in it,
   search for a common and a rare word, the essay page (per-section counts), and the
   admin's review queue, comment list and review desk for a moderator.
3. Prints the figures and PostgreSQL's plan for the essay page's counts.

Usage: .venv/bin/python bench/huge.py [--postgres URL] [--keep] [--runs N]
"""

import argparse
import os
import secrets
import statistics
import sys
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
STEP = 36**4  # a copy's ids are the originals plus k * STEP (see copy())


def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def copy(conn, source_id, target_id, first, last):
    """Copies first..last of section `source_id`'s discussion into `target_id`, in one
    statement. Copy k's ids are the originals plus k * 36**4, so each 7-digit base-36
    path segment keeps its last four digits and gets k in the first three: paths stay
    valid without recomputing (as bench/compare.py's copy_thread). Copy k is dated k * 30
    days before the original (which spans less), so copies do not interleave and each
    page of the big section has the shape of the same page of the original."""
    columns = [
        name
        for (name,) in conn.execute(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_name = 'forum_comment' AND is_generated = 'NEVER'"
            " ORDER BY ordinal_position"
        )
    ]
    changed = {
        "id": f"id + k * {STEP}",
        "parent_id": f"parent_id + k * {STEP}",
        "root_id": f"root_id + k * {STEP}",
        "section_id": str(target_id),
        "path": ("regexp_replace(path, '...(....)', pg_temp.b36(k) || '\\1', 'g')"),
        "created_at": "created_at - k * interval '30 days'",
        "submission_token": "NULL",
        # Its ids and dates differ: the first page to show a copy renders it.
        "fragment": "''",
    }
    conn.execute(
        f"INSERT INTO forum_comment ({', '.join(columns)}) "
        f"SELECT {', '.join(changed.get(c, c) for c in columns)} "
        f"FROM forum_comment, generate_series({first}, {last}) AS k "
        f"WHERE section_id = {source_id}"
    )


BASE36_SQL = """
CREATE OR REPLACE FUNCTION pg_temp.b36(n bigint) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT string_agg(substr('0123456789abcdefghijklmnopqrstuvwxyz',
                           ((n / (36 ^ p)::bigint) % 36)::int + 1, 1), '' ORDER BY p DESC)
  FROM generate_series(0, 2) AS p
$$
"""


def seed(url):
    from django.core.management import call_command

    from essays.models import Section
    from forum.models import SEARCH_CONFIG

    t = time.perf_counter()
    call_command("migrate", verbosity=0)
    call_command("load_default_essays", verbosity=0)
    sections = list(Section.objects.order_by("essay__position", "position"))
    small, huge, others = sections[0], sections[1], sections[2:]
    call_command(
        "seed_discussion", essay=small.essay.slug, section=small.slug, comments=1000, verbosity=0
    )
    log(f"essays and the 1,000-comment discussion in {time.perf_counter() - t:.0f} s")
    t = time.perf_counter()
    with psycopg.connect(url) as conn:
        conn.execute(BASE36_SQL)
        (top,) = conn.execute("SELECT max(id) FROM forum_comment").fetchone()
        assert top < STEP, "the copies expect a young database"
        copy(conn, small.pk, huge.pk, 1, 100)
        log(f"100,000 comments in one section in {time.perf_counter() - t:.0f} s")
        k = 101
        per_section = 900 // len(others)
        for n, section in enumerate(others):
            count = per_section if n < len(others) - 1 else 1000 - k + 1
            copy(conn, small.pk, section.pk, k, k + count - 1)
            k += count
        # A rare word in five comments; a hundred comments held for review.
        conn.execute(
            "UPDATE forum_comment SET body = body || ' zeppelin',"
            " body_html = body_html || '<p>zeppelin</p>',"
            f" search_vector = search_vector || to_tsvector('{SEARCH_CONFIG}', 'zeppelin')"
            " WHERE id IN (SELECT id FROM forum_comment ORDER BY id DESC LIMIT 5)"
        )
        conn.execute(
            "UPDATE forum_comment SET status = 'pending' WHERE id IN"
            " (SELECT id FROM forum_comment WHERE parent_id IS NOT NULL"
            " ORDER BY id DESC OFFSET 50 LIMIT 100)"
        )
        conn.execute(
            "SELECT setval(pg_get_serial_sequence('forum_comment', 'id'),"
            " (SELECT max(id) FROM forum_comment))"
        )
        (total,) = conn.execute("SELECT count(*) FROM forum_comment").fetchone()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    log(f"{total:,} comments in all, copied in {time.perf_counter() - t:.0f} s")


def timed(client, url, runs, expect=200, before=None):
    """The median time of `runs` requests (after one to warm up), and how many
    comments the last one showed."""
    times = []
    for _ in range(runs + 1):
        if before:
            before()
        t = time.perf_counter()
        response = client.get(url)
        times.append(time.perf_counter() - t)
        assert response.status_code == expect, (url, response.status_code)
    shown = response.content.count(b'<article class="comment')
    return statistics.median(times[1:]) * 1000, shown


def measure(runs):
    from django.conf import settings
    from django.contrib.auth.models import AnonymousUser
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    from accounts.models import User
    from essays.models import Section
    from forum.models import Comment
    from forum.models import discussion_changed as bump_discussion
    from forum.threads import encode_cursor, sort_key
    from forum.views import published_counts

    sections = list(Section.objects.order_by("essay__position", "position")[:2])
    small, huge = sections
    reader = Client()
    rows = []

    def row(label, url, expect=200, client=reader, before=None):
        rows.append((label, *timed(client, url, runs, expect, before)))
        log(f"{label}: {rows[-1][1]:.0f} ms")

    tops = Comment.objects.filter(section=huge).visible_to(AnonymousUser()).top_level()
    names = [name for name, _ in sort_key("oldest")]
    before_last = (
        tops.sorted_by("oldest").reverse().values_list(*names)[settings.COMMENTS_PAGE_SIZE]
    )
    deep = (
        Comment.objects.filter(section=huge, depth__lt=settings.COMMENTS_DISPLAY_DEPTH)
        .order_by("-id")
        .first()
    )
    moderator, _ = User.objects.get_or_create(
        username="bench-moderator", defaults={"is_staff": True, "is_superuser": True}
    )
    mod = Client()
    mod.force_login(moderator, backend="django.contrib.auth.backends.ModelBackend")
    total = Comment.objects.count()
    row("1,000-comment section, first page", small.get_absolute_url())
    row("100,000-comment section, first page", huge.get_absolute_url())
    row(
        "100,000-comment section, last page",
        f"{huge.get_absolute_url()}?sort=oldest&after={encode_cursor(before_last)}",
    )
    row("100,000-comment section, newest first", f"{huge.get_absolute_url()}?sort=newest")
    row("100,000-comment section, top first", f"{huge.get_absolute_url()}?sort=top")
    row("permalink deep in the 100,000 (302)", reverse("comment", args=[deep.pk]), 302)
    row(f"search, a common word ({total:,} comments)", "/search/?q=model")
    row("search, a rare word", "/search/?q=zeppelin")
    row("essay page (per-section counts kept)", small.essay.get_absolute_url())
    row(
        "essay page, every count made anew",
        small.essay.get_absolute_url(),
        before=lambda: [bump_discussion(s.pk) for s in Section.objects.all()],
    )
    row("admin: review queue", reverse("admin:forum_reviewitem_changelist"), client=mod)
    row("admin: comment list", reverse("admin:forum_comment_changelist"), client=mod)
    row("admin: review desk (25 cards)", reverse("admin:forum_reviewitem_desk"), client=mod)

    # The very query forum.views.published_counts() sends for every section changed.
    every = list(Section.objects.values_list("pk", flat=True))
    for section_id in every:
        bump_discussion(section_id)
    with CaptureQueriesContext(connection) as sent:
        published_counts(every)
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sent[-1]['sql']}")
        plan = "\n".join(line for (line,) in cursor.fetchall())
    print(f"\nPostgreSQL {connection.pg_version}, {total:,} comments\n")
    print(f"{'request':<48} {'p50 ms':>8} {'comments shown':>15}")
    for label, ms, shown in rows:
        print(f"{label:<48} {ms:8.1f} {shown:15}")
    print("\nCounting every section's published comments (the essay page, all changed):\n" + plan)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", default="postgres://root@127.0.0.1:5432")
    parser.add_argument("--db", default="huge_bench")
    parser.add_argument("--keep", action="store_true", help="reuse a database seeded before")
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    url = f"{args.postgres}/{args.db}"
    with psycopg.connect(f"{args.postgres}/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [args.db]).fetchone()
        if exists and not args.keep:
            conn.execute(f'DROP DATABASE "{args.db}"')
        if not (exists and args.keep):
            conn.execute(f'CREATE DATABASE "{args.db}"')
    os.environ.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DEBUG="false",
        HTTPS="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        DATABASE_URL=url,
        CACHE_URL="locmemcache://",
        READER_CACHE="false",
        STAFF_REQUIRE_2FA="false",
        ALLOWED_HOSTS="testserver",
        LOG_LEVEL="ERROR",
    )
    import django

    django.setup()
    from django.core.management import call_command

    call_command("collectstatic", interactive=False, verbosity=0)
    if not (exists and args.keep):
        seed(url)
    measure(args.runs)


if __name__ == "__main__":
    main()
