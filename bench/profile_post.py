"""Where posting one reply spends its time, in-process.

Loads the 1,000-comment thread (as bench/profile_render.py does) into a PostgreSQL
database of its own, then posts replies as bench/compare.py's "posting" row does: a
signed-in member sends the plain (non-htmx) reply form to the section holding the
thread, one at a time, and gets a 302. Production settings (DEBUG off, CSRF checked),
the Redis cache (a database of its own), Django's test client. Prints the median and
p90 over --posts posts, the queries of one post (each SQL statement, in order), and with
--cprofile cProfile's top functions of twenty posts.

Usage: .venv/bin/python bench/profile_post.py [--postgres URL] [--redis URL] [--posts 50]
       [--cprofile] [--keep]
"""

import argparse
import cProfile
import pstats
import re
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from profiling import SECTION, load_site_and_thread, own_database, use_production_settings

ESSAY = "open-source-meets-open-weights"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", default="postgres://root@127.0.0.1:5432")
    parser.add_argument("--database", default="essayforum_profile_post")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/13")
    parser.add_argument("--posts", type=int, default=50)
    parser.add_argument("--cprofile", action="store_true")
    parser.add_argument("--sql", action="store_true", help="print each query of one post")
    parser.add_argument("--sql-width", type=int, default=200, help="characters of each")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    use_production_settings(f"{args.postgres}/{args.database}", CACHE_URL=args.redis)
    import redis

    redis.Redis.from_url(args.redis).flushdb()
    try:
        with own_database(args.postgres, args.database, keep=args.keep):
            profile(args)
    finally:
        redis.Redis.from_url(args.redis).flushdb()


def profile(args):
    import django

    django.setup()
    from django.db import connection
    from django.test import Client

    from accounts.models import User
    from forum.models import Comment, ModerationPolicy, Notification

    load_site_and_thread()
    # As bench/compare.py: posting limits are for people; the benchmark posts quickly.
    policy = ModerationPolicy.current()
    policy.comments_per_minute = policy.new_comments_per_minute = 10**6
    policy.comments_per_day = policy.new_comments_per_day = 10**6
    policy.save()

    section_path = f"/essays/{ESSAY}/{SECTION}/"
    client = Client(enforce_csrf_checks=True)
    client.force_login(User.objects.get(username="bencher"))
    page = client.get(section_path).content
    ids = [int(x) for x in re.findall(rb'id="c-(\d+)"', page)[:50]]
    token = client.cookies["csrftoken"].value
    count = 0

    def post():
        nonlocal count
        form = {
            "csrfmiddlewaretoken": token,
            "body": f"A benchmark reply number {count}, with *some* Markdown.",
            "parent": ids[count % len(ids)],
            "token": str(uuid.uuid4()),
        }
        count += 1
        response = client.post(f"{section_path}comments/", form)
        assert response.status_code == 302, response.status_code
        return response

    queries = []

    def record(execute, sql, params, many, context):
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            queries.append((sql, (time.perf_counter() - start) * 1000))

    for _ in range(5):  # warm: templates, URL patterns, connections
        post()
    times = []
    cpu = []  # this process's CPU time: less at the mercy of other processes than the clock
    per_post = []
    for _ in range(args.posts):
        queries.clear()
        with connection.execute_wrapper(record):
            start, start_cpu = time.perf_counter(), time.process_time()
            post()
            times.append((time.perf_counter() - start) * 1000)
            cpu.append((time.process_time() - start_cpu) * 1000)
        per_post.append(len(queries))
    times.sort()
    told = Notification.objects.filter(comment__author__username="bencher").count()
    print(
        f"{args.posts} replies to {section_path} one at a time, in-process "
        f"({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load average "
        f"{' '.join(Path('/proc/loadavg').read_text().split()[:3])}):\n"
        f"  p50 {statistics.median(times):.1f} ms, p90 {times[int(len(times) * 0.9)]:.1f} ms, "
        f"min {times[0]:.1f} ms; Python CPU p50 {statistics.median(cpu):.1f} ms; "
        f"queries per post {min(per_post)}-{max(per_post)}; "
        f"{told} notifications made, "
        f"{Comment.objects.filter(author__username='bencher').count()} replies stored"
    )
    parts_of_a_post(args, post, record, queries)
    if args.sql:
        queries.clear()
        with connection.execute_wrapper(record):
            post()
        print(f"\nThe {len(queries)} queries of one post:")
        for number, (sql, ms) in enumerate(queries, 1):
            print(f"{number:3}. {ms:5.2f} ms  {sql[: args.sql_width]}")
        print(f"     {sum(ms for _, ms in queries):5.2f} ms in all")
    if args.cprofile:
        # Twenty posts, not one: a single post's figures move with this machine's noise.
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(20):
            post()
        profiler.disable()
        profiler.dump_stats(Path(tempfile.gettempdir()) / "profile_post.prof")
        stats = pstats.Stats(profiler).sort_stats("cumulative")
        print("\ncProfile of twenty posts, the project's own functions by cumulative time:")
        stats.print_stats(r"/(forum|essays|accounts|config)/", 40)
        print("\ncProfile of twenty posts, top 90 by cumulative time:")
        stats.print_stats(90)
        print("\ncProfile of twenty posts, top 20 by own time:")
        pstats.Stats(profiler).sort_stats("tottime").print_stats(20)


def parts_of_a_post(args, post, record, queries):
    """Medians (ms, and queries) of a post's parts, each timed around the function that
    does it: a part's figure includes the parts inside it."""
    from collections import defaultdict

    from django.db import connection

    import forum.comment_views
    import forum.forms
    import forum.models

    parts = [
        ("take_part (standing read with the member)", forum.comment_views, "take_part"),
        ("form: validation", forum.forms.CommentForm, "full_clean"),
        ("form: _write (transaction)", forum.forms.CommentForm, "_write"),
        ("  Comment.objects.post", forum.models.CommentQuerySet, "post"),
        ("    notifications", forum.models.NotificationQuerySet, "comment_published"),
        ("    refresh_answered", forum.models.CommentQuerySet, "refresh_answered_above"),
        ("    follow", forum.models.SubscriptionQuerySet, "follow"),
    ]
    spent = defaultdict(float)
    counted = defaultdict(int)

    def timer(name, function):
        def timed(*a, **kw):
            start, before = time.perf_counter(), len(queries)
            try:
                return function(*a, **kw)
            finally:
                spent[name] += time.perf_counter() - start
                counted[name] += len(queries) - before

        return timed

    parts = [part for part in parts if hasattr(part[1], part[2])]  # older code: fewer
    originals = [(owner, name, getattr(owner, name)) for _, owner, name in parts]
    runs = defaultdict(list)
    for _ in range(max(5, args.posts // 2)):
        spent.clear()
        counted.clear()
        queries.clear()
        for (label, owner, name), (_, _, function) in zip(parts, originals, strict=True):
            setattr(owner, name, timer(label, function))
        try:
            with connection.execute_wrapper(record):
                start = time.perf_counter()
                post()
                total = time.perf_counter() - start
        finally:
            for owner, name, function in originals:
                setattr(owner, name, function)
        runs["whole request"].append((total * 1000, len(queries)))
        for label, _, _ in parts:
            runs[label].append((spent[label] * 1000, counted[label]))
    print("\n| part of one post | ms (median) | queries |\n| --- | ---: | ---: |")
    for label, values in runs.items():
        ms = statistics.median(v for v, _ in values)
        print(f"| {label} | {ms:.1f} | {statistics.median(q for _, q in values):.0f} |")


if __name__ == "__main__":
    main()
