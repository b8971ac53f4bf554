"""The WSGI application gunicorn serves, as a worker process loads it."""

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

REPORT = """
import gc, json
before = gc.get_threshold()
from config.wsgi import application
print(json.dumps({"before": before, "after": gc.get_threshold(),
                  "frozen": gc.get_freeze_count(), "young": gc.get_count()[0]}))
"""


def test_a_worker_freezes_what_it_loaded_and_collects_the_young_less_often():
    """config/wsgi.py: a page of a thousand comments makes tens of thousands of short-
    lived objects, and the collector's scans of everything Django loaded cost about a
    tenth of a worker's pages a second; its scans of the page's own objects while they
    were in use, twice a page, most of another millisecond."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": "true"}
    env.pop("DATABASE_URL", None)
    out = subprocess.run(
        [sys.executable, "-c", REPORT], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)

    assert report["frozen"] > 50_000  # Django, the URL patterns, the models
    assert report["young"] < 100  # all of it: nothing left to scan
    assert report["after"] == [10_000, *report["before"][1:]]


# Faults taken writing a fresh 8 MiB block after one was freed: 2,048 pages when the
# freed memory went back to the kernel, next to none when the process kept it.
REFAULTS = """
import resource, sys
if sys.argv[1] == "wsgi":
    from config.wsgi import application

def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt

block = b"x" * (8 << 20)
del block
before = faults()
block = b"y" * (8 << 20)
print(faults() - before)
"""


def refaults(*, load_wsgi: bool, **environ) -> int:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": "true"}
    env.pop("DATABASE_URL", None)
    env |= environ
    out = subprocess.run(
        [sys.executable, "-c", REFAULTS, "wsgi" if load_wsgi else "bare"],
        cwd=ROOT, env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    return int(out.stdout)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's allocator only")
def test_a_worker_keeps_memory_a_request_freed_for_the_next_one():
    """config/wsgi.py keep_freed_memory(): a section page builds megabytes of HTML, and
    glibc gave them back to the kernel after each request, to fault them in again on
    the next (a seventh of a full render's CPU)."""
    assert refaults(load_wsgi=False) > 1_500  # glibc's default: given back, faulted in
    assert refaults(load_wsgi=True) < 100


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's allocator only")
def test_the_operators_own_malloc_settings_win():
    assert refaults(load_wsgi=True, MALLOC_TRIM_THRESHOLD_="0") > 1_500
