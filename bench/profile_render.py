"""Where one full render of the 1,000-comment section page spends its time.

Loads the peers' shared thread (bench-peers' `lib/gen_thread.py --n 1000 --seed 1`, or
our generator's thread of the same shape) into a PostgreSQL database of its own, then
renders the section page in-process (Django's test client, production settings, the
readers' cache off, all 1,000 comments on one page) for an anonymous reader and for a
signed-in member, and times its parts: the SQL (the thread query apart), building the
rows, assembling the tree with the viewer's rights, the comments' HTML, the page
template, and the rest (middleware, the response). Each figure is the median of
--renders renders. With --cprofile, also prints cProfile's top functions of one render.

Usage: .venv/bin/python bench/profile_render.py [--postgres URL] [--renders 7] [--cprofile]
"""

import argparse
import cProfile
import pstats
import statistics
import time
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path

from profiling import SECTION, load_site_and_thread, own_database, use_production_settings


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", default="postgres://root@127.0.0.1:5432")
    parser.add_argument("--database", default="essayforum_profile")
    parser.add_argument("--renders", type=int, default=7)
    parser.add_argument("--cprofile", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    use_production_settings(f"{args.postgres}/{args.database}", READER_CACHE="false")

    with own_database(args.postgres, args.database, keep=args.keep):
        profile(args)


def profile(args):
    import django

    django.setup()
    from django.db import connection
    from django.test import Client

    import forum.rendering
    import forum.threads
    import forum.views
    from accounts.models import User
    from forum.rendering import CommentRenderer

    load_site_and_thread()
    path = f"/essays/open-source-meets-open-weights/{SECTION}/"

    spent = defaultdict(float)
    inside: list[str] = []

    def timer(name, function):
        name = {"rows": "_rows"}.get(name, name)

        def timed(*a, **kw):
            inside.append(name)
            start = time.perf_counter()
            try:
                return function(*a, **kw)
            finally:
                spent[name] += time.perf_counter() - start
                inside.pop()

        return timed

    def sql(execute, sql, params, many, context):
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            where = inside[-1] if inside else "page"
            spent[f"sql in {where}"] += time.perf_counter() - start
            spent["sql"] += time.perf_counter() - start
            spent["queries"] += 1

    # A page's comments: their query (prepared once: config/prepared.py), then the rows
    # made into PageComments.
    patches = [
        (forum.threads.PAGE_ROWS, "rows"),
        (forum.threads, "_made"),
        (forum.threads, "_assemble"),
        (forum.threads, "_followed"),
        (forum.threads, "_viewer_in_section"),
        (forum.threads, "section_discussion"),
        (forum.views, "render_with_threads"),
        (CommentRenderer, "threads"),
    ]
    originals = [(owner, name, getattr(owner, name)) for owner, name in patches]

    @contextmanager
    def instrumented():
        for owner, name, function in originals:
            setattr(owner, name, timer(name, function))
        try:
            with connection.execute_wrapper(sql):
                yield
        finally:
            for owner, name, function in originals:
                setattr(owner, name, function)

    viewers = {"anonymous reader (cache off)": Client(), "signed-in member": Client()}
    viewers["signed-in member"].force_login(User.objects.get(username="bencher"))
    print(
        f"One full render of {path}, {args.renders} renders each, medians in ms "
        f"({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load average "
        f"{' '.join(Path('/proc/loadavg').read_text().split()[:3])}):\n"
    )
    columns = [
        ("total", "the whole request"),
        ("sql in _rows", "thread query (visibility included)"),
        ("rows", "building 1,000 row objects"),
        ("assemble", "tree + viewer's rights"),
        ("_followed", "viewer's votes, follows, anything unread (one query)"),
        ("other sql", "other queries (section, count, page, user, session)"),
        ("threads", "comments' HTML (forum/rendering.py)"),
        ("render", "page template, the comments put in"),
        ("rest", "middleware, view, response"),
    ]
    table = {}
    for who, client in viewers.items():
        client.get(path)  # warm: templates, URL patterns, connections
        runs = defaultdict(list)
        for _ in range(args.renders):
            spent.clear()
            with instrumented():
                start = time.perf_counter()
                response = client.get(path)
                total = time.perf_counter() - start
            assert response.status_code == 200
            parts = {
                "total": total,
                "sql in _rows": spent["sql in _rows"],
                "rows": spent["_rows"] - spent["sql in _rows"] + spent["_made"],
                "assemble": spent["_assemble"],
                "_followed": spent["_followed"] + spent["_viewer_in_section"],
                "other sql": spent["sql"]
                - spent["sql in _rows"]
                - spent["sql in _assemble"]
                - spent["sql in _followed"]
                - spent["sql in _viewer_in_section"],
                "threads": spent["threads"],
                "render": spent["render_with_threads"],
            }
            parts["rest"] = total - sum(v for k, v in parts.items() if k != "total")
            for key, value in parts.items():
                runs[key].append(value * 1000)
            runs["queries"].append(spent["queries"])
            size = len(response.content)
        table[who] = {k: statistics.median(v) for k, v in runs.items()}
        table[who]["kib"] = size // 1024
    print("| part | " + " | ".join(viewers) + " |")
    print("| --- | " + " | ".join("---:" for _ in viewers) + " |")
    for key, label in columns:
        cells = []
        for who in viewers:
            ms = table[who][key]
            share = f" ({ms / table[who]['total']:.0%})" if key != "total" else ""
            cells.append(f"{ms:.1f}{share}")
        print(f"| {label} | " + " | ".join(cells) + " |")
    print("| queries | " + " | ".join(f"{table[w]['queries']:.0f}" for w in viewers) + " |")
    print("| HTML | " + " | ".join(f"{table[w]['kib']:,} KiB" for w in viewers) + " |")
    if args.cprofile:
        for who, client in viewers.items():
            profiler = cProfile.Profile()
            profiler.enable()
            client.get(path)
            profiler.disable()
            print(f"\ncProfile, {who}, top 25 by own time:")
            pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
