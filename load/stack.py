"""The parts a load or fault run starts and stops: PostgreSQL, Redis, an SMTP server,
gunicorn and the mail worker, each a real process on 127.0.0.1.

Shared servers (the machine's PostgreSQL on 5432 and Redis on 6379) are only used, never
stopped; for fault scenarios the run makes private ones (a PostgreSQL cluster made with
initdb under /tmp, a redis-server) that it may stop and start at will.
"""

import contextlib
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "data" / "load"
PYTHON = sys.executable

# The mail worker, in ONE place: `manage.py mail_worker` (the notification rows are the
# outbox). Override with LOAD_WORKER_COMMAND to try another without editing this file.
WORKER_COMMAND = os.environ.get("LOAD_WORKER_COMMAND", "mail_worker --interval 1")

# Ports of this worktree's range (8300-8349).
WEB_PORT = 8300
SMTP_PORT = 8325
PRIVATE_PG_PORT = 8340
PRIVATE_REDIS_PORT = 8341


def settings_module() -> str:
    """DJANGO_SETTINGS_MODULE from the environment, else manage.py's default, so these
    scripts follow the project when its configuration package moves."""
    if name := os.environ.get("DJANGO_SETTINGS_MODULE"):
        return name
    match = re.search(r'"DJANGO_SETTINGS_MODULE",\s*"([\w.]+)"', (ROOT / "manage.py").read_text())
    return match.group(1) if match else "forum.settings"


def wsgi_module() -> str:
    return settings_module().rsplit(".", 1)[0] + ".wsgi"


def wait_for_port(port: int, timeout: float = 20.0, host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection((host, port), timeout=0.3).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing answers on {host}:{port} after {timeout:.0f} s")


def port_is_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- PostgreSQL -------------------------------------------------------------------------


class SharedPostgres:
    """The machine's PostgreSQL: databases are created and dropped, the server is never
    touched."""

    private = False

    def __init__(self, url: str = "postgres://root@127.0.0.1:5432"):
        self.url = url.rstrip("/")

    def start(self):
        return self

    def stop(self):
        pass

    def db_url(self, name: str) -> str:
        return f"{self.url}/{name}"

    def admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.db_url("postgres"), autocommit=True) as conn:
            conn.execute(sql)

    def create(self, name: str, template: str | None = None) -> str:
        self.drop(name)
        tpl = f' TEMPLATE "{template}"' if template else ""
        self.admin(f'CREATE DATABASE "{name}"{tpl}')
        return self.db_url(name)

    def drop(self, name: str) -> None:
        self.admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def env(self) -> dict:
        """Environment for pg_dump and friends."""
        return {**os.environ}


class PrivatePostgres(SharedPostgres):
    """A PostgreSQL cluster of our own (initdb under /tmp, run as the `postgres` user,
    since PostgreSQL refuses to run as root), which a scenario may stop and restart."""

    private = True

    def __init__(self, port: int = PRIVATE_PG_PORT):
        self.port = port
        self.dir = Path(f"/tmp/wtload-pg-{port}")  # noqa: S108 (a throw-away cluster)
        self.bindir = self._bindir()
        super().__init__(f"postgres://postgres@127.0.0.1:{port}")

    @staticmethod
    def _bindir() -> Path:
        pg_ctl = shutil.which("pg_ctl")
        if pg_ctl:
            return Path(os.path.realpath(pg_ctl)).parent
        candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
        if not candidates:
            raise RuntimeError("pg_ctl not found: install PostgreSQL's server package")
        return candidates[-1].parent

    def _as_postgres(self, *args, check=True, **kw):
        command = [str(self.bindir / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, check=check, **kw)

    def start(self):
        if not port_is_free(self.port):
            raise RuntimeError(f"port {self.port} is taken: is an earlier run still up?")
        if self.dir.exists():
            shutil.rmtree(self.dir)
        self.dir.mkdir(parents=True)
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        self._as_postgres(
            "initdb", "-D", str(self.dir / "data"), "-U", "postgres", "--auth=trust",
            "--no-sync", "-E", "UTF8", "--locale=C.UTF-8",
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        conf = self.dir / "data" / "postgresql.conf"
        with conf.open("a") as f:
            f.write(
                f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.dir}'\nmax_connections = 100\n"
                "fsync = on\n"
            )
        self.resume()
        return self

    def resume(self) -> None:
        self._as_postgres(
            "pg_ctl", "-D", str(self.dir / "data"), "-l", str(self.dir / "log"), "-w", "start",
            stdout=subprocess.DEVNULL,
        )  # fmt: skip

    def halt(self, mode: str = "fast") -> None:
        """Stop the server (fast: disconnect everyone, roll back what is open; immediate:
        like a crash, recovery on the next start)."""
        self._as_postgres(
            "pg_ctl", "-D", str(self.dir / "data"), "-m", mode, "-w", "stop",
            stdout=subprocess.DEVNULL,
        )  # fmt: skip

    def stop(self):
        if (self.dir / "data" / "postmaster.pid").exists():
            self._as_postgres(
                "pg_ctl", "-D", str(self.dir / "data"), "-m", "immediate", "-w", "stop",
                check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
        shutil.rmtree(self.dir, ignore_errors=True)


# --- Redis ------------------------------------------------------------------------------


class SharedRedis:
    """The machine's Redis, one database of it: flushed, never stopped."""

    private = False

    def __init__(self, url: str = "redis://127.0.0.1:6379/2"):
        self.url = url

    def start(self):
        import redis

        redis.Redis.from_url(self.url).flushdb()
        return self

    def stop(self):
        import redis

        with contextlib.suppress(redis.RedisError):
            redis.Redis.from_url(self.url).flushdb()


class PrivateRedis(SharedRedis):
    """A redis-server of our own, sized and evicting like the compose file's."""

    private = True

    def __init__(self, port: int = PRIVATE_REDIS_PORT):
        self.port = port
        self.process = None
        super().__init__(f"redis://127.0.0.1:{port}/0")

    def start(self):
        if not port_is_free(self.port):
            raise RuntimeError(f"port {self.port} is taken: is an earlier run still up?")
        self.resume()
        return self

    def resume(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--maxmemory", "256mb", "--maxmemory-policy", "allkeys-lru"],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for_port(self.port)

    def halt(self) -> None:
        if self.process:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def stop(self):
        self.halt()


# --- SMTP -------------------------------------------------------------------------------


class SmtpSink:
    """aiosmtpd in its own process (load/smtp_sink.py), appending one JSON line per
    message received to `path`; stopping it makes the mail server unreachable."""

    def __init__(self, path: Path, port: int = SMTP_PORT):
        self.path, self.port, self.process = path, port, None

    def start(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text("")
        self.resume()
        return self

    def resume(self) -> None:
        self.process = subprocess.Popen(
            [PYTHON, str(ROOT / "load" / "smtp_sink.py"), str(self.port), str(self.path)]
        )
        wait_for_port(self.port)

    def halt(self) -> None:
        if self.process:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    stop = halt

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"


# --- The site -----------------------------------------------------------------------------


def site_env(database_url: str, cache_url: str, email_url: str, port: int = WEB_PORT) -> dict:
    """Production settings (DEBUG off), over plain HTTP on 127.0.0.1."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": settings_module(),
        "DEBUG": "false",
        "HTTPS": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DATABASE_URL": database_url,
        "CACHE_URL": cache_url,
        "EMAIL_URL": email_url,
        "ALLOWED_HOSTS": "127.0.0.1",
        "SITE_URL": f"http://127.0.0.1:{port}",
        "ADMIN_URL": "admin/",
        # Moderators sign in with a password only: two-factor login is not what is
        # measured here (the compose example keeps it on).
        "STAFF_REQUIRE_2FA": "false",
        "LOG_LEVEL": os.environ.get("LOAD_LOG_LEVEL", "WARNING"),
        "PYTHONUNBUFFERED": "1",
    }


def manage(env: dict, *args: str, quiet: bool = True, check: bool = True):
    out = subprocess.DEVNULL if quiet else None
    return subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, check=check, stdout=out)


def script(env: dict, name: str, *args: str, check: bool = True):
    """Run one of load/'s Django scripts (they call django.setup() themselves)."""
    return subprocess.run(
        [PYTHON, str(ROOT / "load" / name), *args], cwd=ROOT, env=env, check=check
    )


class Web:
    """gunicorn as in production (docker/gunicorn.conf.py's worker class and timeouts),
    2 workers x 4 threads by default."""

    def __init__(self, env: dict, log_path: Path, port: int = WEB_PORT, workers=2, threads=4):
        self.env, self.log_path, self.port = env, log_path, port
        self.workers, self.threads = workers, threads
        self.process = None

    def start(self):
        if not port_is_free(self.port):
            raise RuntimeError(f"port {self.port} is taken: is an earlier run still up?")
        self.log = self.log_path.open("a")
        self.process = subprocess.Popen(
            [PYTHON, "-m", "gunicorn", wsgi_module(), "--bind", f"127.0.0.1:{self.port}",
             "--workers", str(self.workers), "--worker-class", "gthread",
             "--threads", str(self.threads), "--timeout", "30", "--graceful-timeout", "5",
             "--access-logfile", "-", "--no-control-socket",
             "--access-logformat", '%(t)s "%(r)s" %(s)s %(b)s %(M)sms pid=%(p)s'],
            cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        wait_for_port(self.port)
        return self

    def worker_pids(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(p) for p in children.read_text().split()]

    def boots(self) -> int:
        """How many worker processes gunicorn has started (more than --workers: some
        died and were replaced)."""
        return self.log_path.read_text().count("Booting worker")

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
        if self.process:
            self.log.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


class MailWorker:
    """The background worker that sends notification mail (WORKER_COMMAND)."""

    def __init__(self, env: dict, log_path: Path):
        self.env, self.log_path, self.process = env, log_path, None
        self.command = shlex.split(WORKER_COMMAND)

    def start(self):
        self.log = self.log_path.open("a")
        self.process = subprocess.Popen(
            [PYTHON, "manage.py", *self.command],
            cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        return self

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self):
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process:
            self.log.close()
