"""The WSGI application gunicorn serves, as a worker process loads it."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

REPORT = """
import gc, json
before = gc.get_threshold()
from config.wsgi import application
print(json.dumps({"before": before, "after": gc.get_threshold(),
                  "frozen": gc.get_freeze_count(), "young": gc.get_count()[0]}))
"""


def test_a_worker_freezes_what_it_loaded_so_the_collector_no_longer_scans_it():
    """config/wsgi.py: a page of a thousand comments makes tens of thousands of short-
    lived objects, and the collector's scans of everything Django loaded cost about a
    tenth of a worker's pages a second."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": "true"}
    env.pop("DATABASE_URL", None)
    out = subprocess.run(
        [sys.executable, "-c", REPORT], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)

    assert report["frozen"] > 50_000  # Django, the URL patterns, the models
    assert report["young"] < 100  # all of it: nothing left to scan
    assert report["after"] == report["before"]  # Python's own thresholds: no more memory
