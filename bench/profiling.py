"""What bench/profile_render.py and bench/profile_post.py share: a PostgreSQL database of
their own, holding the essays and the peers' 1,000-comment thread (bench-peers'
`lib/gen_thread.py --n 1000 --seed 1`, as bench/compare.py loads it; our generator's
thread of the same shape without bench-peers) and a member, "bencher"."""

import os
import shutil
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SECTION = "the-deepseek-moment"


@contextmanager
def own_database(postgres: str, name: str, *, keep: bool = False):
    """A new database `name` for the duration (dropped after, unless `keep`)."""
    import psycopg

    with psycopg.connect(f"{postgres}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield
    finally:
        from django.db import connections

        connections.close_all()
        if not keep:
            with psycopg.connect(f"{postgres}/postgres", autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def load_site_and_thread() -> None:
    """Migrate, the essays, the thread on SECTION and the member (Django set up)."""
    from django.core.management import call_command

    from tests.conftest import make_member

    quiet = {"verbosity": 0}
    call_command("migrate", "--no-input", **quiet)
    call_command("collectstatic", "--no-input", **quiet)
    call_command("load_default_essays", **quiet)
    gen = ROOT.parent / "shared" / "bench-peers" / "lib" / "gen_thread.py"
    gen = Path(os.environ.get("BENCH_PEERS", gen.parent.parent)) / "lib" / "gen_thread.py"
    with tempfile.TemporaryDirectory() as folder:
        if gen.exists():
            thread = Path(folder) / "thread.json"
            made = subprocess.run(
                [shutil.which("python3"), gen, "--n", "1000", "--seed", "1"],
                capture_output=True,
                check=True,
            )
            thread.write_bytes(made.stdout)
            seed = ["--thread", str(thread)]
        else:
            seed = ["--comments", "1000", "--top-level", "147", "--max-depth", "8"]
        with open(os.devnull, "w") as quietly:
            call_command("seed_discussion", "--section", SECTION, *seed, stdout=quietly)
    make_member("bencher")
    # As bench/compare.py does, and autovacuum would soon: statistics and the visibility
    # map (index-only scans then read no table rows).
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


def use_production_settings(database_url: str, **more: str) -> None:
    """Production settings (DEBUG off), all 1,000 comments on one page, for Django set
    up after this; `more` adds settings (CACHE_URL, READER_CACHE)."""
    import secrets
    import sys

    os.environ |= {
        "DEBUG": "false",
        "HTTPS": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DATABASE_URL": database_url,
        "ALLOWED_HOSTS": "testserver",
        "COMMENTS_PAGE_SIZE": "1000",
        "COMMENTS_THREAD_MAX": "1000",
        "COMMENTS_DISPLAY_DEPTH": "10",
        "LOG_LEVEL": "ERROR",
        **more,
    }
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
