"""Container health checks, run by Docker inside the container.

    python docker/healthcheck.py          web: this container's /healthz answers 200
    python docker/healthcheck.py worker   worker: the database it takes tasks from answers

Exit 0 when healthy, 1 when not.
"""

import os
import sys
import urllib.request


def web() -> None:
    # No proxy from the environment: the question is about this container itself.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open("http://127.0.0.1:8000/healthz", timeout=4) as response:
        if response.status != 200:
            raise OSError(f"/healthz answered {response.status}")


def worker() -> None:
    import psycopg

    with psycopg.connect(os.environ["DATABASE_URL"], connect_timeout=4) as connection:
        connection.execute("SELECT 1")


if __name__ == "__main__":
    check = worker if sys.argv[1:] == ["worker"] else web
    try:
        check()
    except Exception as exc:  # refused, timed out, 503, bad password: all unhealthy
        print(f"unhealthy: {exc}")
        sys.exit(1)
