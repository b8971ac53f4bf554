"""The essay, and the cast every test draws on.

    ann    a member (verified address) who writes comments
    ben    a member who answers Ann
    dan    a member who reads along and follows sections and threads
    cal    signed up, but never confirmed his address: he may read, not take part
    eve    a spammer: her first comment got through, then the moderators suspended her;
           she may read, not take part
    mo     a moderator: staff, in the Moderators group, nothing more
    eager  a moderator who asked to be emailed about the review queue
    sam    the administrator (a superuser with a verified address)
    editor an editor of the essays: staff, in the Editors group, nothing more

Crowds (a dozen voters, four reporters) come from make_member(); anyone else a test
needs is one of these.
"""

import importlib
import shutil
import socket
import subprocess
import time
import uuid

import pytest
from django.core.management import call_command

from essays.importing import BUNDLED_ESSAYS_DIR, import_essay, read_essay_file

ESSAY_PATH = BUNDLED_ESSAYS_DIR / "open-source-meets-open-weights.md"
PASSWORD = "correct-horse-battery-staple"


@pytest.fixture(scope="session", autouse=True)
def collected_static(django_db_blocker):
    """Pages are rendered as in production: hashed static names from the manifest."""
    with django_db_blocker.unblock():
        call_command("collectstatic", interactive=False, verbosity=0)


@pytest.fixture(autouse=True)
def fresh_cache():
    """Rate-limit counters live in the security cache, page copies in the page cache;
    each test starts with neither."""
    from django.core.cache import caches

    for alias in ("default", "pages"):
        caches[alias].clear()
    yield
    for alias in ("default", "pages"):
        caches[alias].clear()


@pytest.fixture(autouse=True)
def no_fragments_kept():
    """Each test starts as a new web process does: keeping no comment's stored fragment
    (forum.threads.KEPT) and no page's rows (forum.threads.KEPT_PAGES)."""
    from forum.threads import KEPT, KEPT_PAGES

    KEPT.clear()
    KEPT_PAGES.clear()


def keep_fragments():
    """As a web process that has shown every comment before: their fragments kept
    (forum.threads.KEPT), so that a page on PostgreSQL reads their hashes alone and no
    query more for the fragments. Elsewhere pages read the fragments themselves."""
    from django.db import connection

    from forum.models import Comment
    from forum.threads import KEPT

    if connection.vendor == "postgresql":
        KEPT.read(list(Comment.objects.values_list("pk", flat=True)))


@pytest.fixture(autouse=True)
def prepared_queries_checked(settings):
    """Every query prepared once per process (config/prepared.py) is compared with the
    one the ORM builds for the same values, on every page a test renders."""
    settings.PREPARED_QUERIES_CHECK = True


@pytest.fixture(autouse=True)
def totp_across_a_step(settings):
    """A code a test computes near the end of a 30-second step may be checked in the
    next one on a loaded machine: accept the neighbouring step, as authenticator set-ups
    commonly do, so tests of two-factor sign-in never depend on the clock."""
    settings.MFA_TOTP_TOLERANCE = 1


class Clock:
    """A minute, moved on by hand: the one the readers' page cache makes copies in, or
    the one previews are counted in."""

    def __init__(self):
        self.minute = 29_000_000  # any fixed minute

    def next_minute(self):
        self.minute += 1


@pytest.fixture
def reader_cache(settings, monkeypatch):
    """The readers' page cache on, as with Redis (one test process shares its cache),
    in one minute: a copy is kept for the minute it was made in, and a test that asserts
    a copy is answered must not fail because it ran across a minute's end."""
    settings.READER_CACHE = True
    clock = Clock()
    monkeypatch.setattr("forum.caching.this_minute", lambda: clock.minute)
    return clock


@pytest.fixture(autouse=True)
def previews_in_one_minute(monkeypatch):
    """Previews are counted in fixed one-minute windows (ModerationPolicy.check_previews):
    a test that previews past a member's allowance must not be given a fresh one because
    it ran across a minute's end. Every test previews half way through one minute."""
    clock = Clock()
    monkeypatch.setattr("forum.models.preview_clock", lambda: clock.minute * 60 + 30.0)
    return clock


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Production hashes passwords slowly on purpose; tests need not."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


# --- The essay ----------------------------------------------------------------------------


@pytest.fixture
def essay(db):
    """The bundled essay, imported the way `make run` loads it."""
    return import_essay(read_essay_file(ESSAY_PATH)).essay


@pytest.fixture
def section(essay):
    return essay.sections.get(slug="the-deepseek-moment")


@pytest.fixture
def post(section):
    """Post through the model, as a form would, for tests about what comes after."""
    from forum.models import Comment

    def post(author, body="A comment.", parent=None, on=None):
        comment, _ = Comment.objects.post(
            section=on or section, author=author, body=body, parent=parent
        )
        return comment

    return post


# --- The cast -----------------------------------------------------------------------------


def make_member(username, *, verified=True, **fields):
    from allauth.account.models import EmailAddress

    from accounts.models import User

    user = User.objects.create_user(username, f"{username}@example.com", PASSWORD, **fields)
    EmailAddress.objects.create(user=user, email=user.email, verified=verified, primary=True)
    return user


def moderators_group():
    """The group the migration made. Tests that empty the database (browser tests)
    remove it, so it is made again here from the migration's own list."""
    from django.contrib.auth.models import Group, Permission

    migration = importlib.import_module("forum.migrations.0002_moderators_group")
    group, created = Group.objects.get_or_create(name="Moderators")
    if created:
        group.permissions.set(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
            for app_label, codename in migration.MODERATOR_PERMISSIONS
        )
    return group


def make_moderator(username="mo", **fields):
    user = make_member(username, is_staff=True, **fields)
    user.groups.add(moderators_group())
    return user


@pytest.fixture
def ann(db):
    return make_member("ann")


@pytest.fixture
def ben(db):
    return make_member("ben")


@pytest.fixture
def dan(db):
    return make_member("dan")


@pytest.fixture
def cal(db):
    return make_member("cal", verified=False)


@pytest.fixture
def eve(db, mo, post):
    from accounts.models import Ban

    eve = make_member("eve")
    post(eve, "Harmless at first.")
    Ban.objects.impose(eve, by=mo, reason="Link spam")
    return eve


@pytest.fixture
def mo(db):
    return make_moderator("mo")


@pytest.fixture
def eager(db):
    return make_moderator("eager", email_on_review=True)


def editors_group():
    """The group migration 0006 made (browser tests empty the database: made again)."""
    from django.contrib.auth.models import Group, Permission

    migration = importlib.import_module("forum.migrations.0006_editors_group")
    group, created = Group.objects.get_or_create(name="Editors")
    if created:
        group.permissions.set(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
            for app_label, codename in migration.EDITOR_PERMISSIONS
        )
    return group


@pytest.fixture
def editor(db):
    user = make_member("editor", is_staff=True)
    user.groups.add(editors_group())
    return user


@pytest.fixture
def sam(db):
    return make_member("sam", is_staff=True, is_superuser=True)


# --- Settings a test may ask for -----------------------------------------------------------


@pytest.fixture
def premoderate_all(db):
    """The moderation policy holds every new comment for review."""
    from forum.models import ModerationPolicy

    policy = ModerationPolicy.current()
    policy.premoderation = ModerationPolicy.Premoderation.ALL
    policy.save()
    return policy


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def redis_server(tmp_path):
    """Start a private redis-server with the given options (a cache's settings for it
    returned); stopped after the test."""
    server = shutil.which("redis-server")
    if not server:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    started = []

    def start(*options):
        port = free_port()
        process = subprocess.Popen(
            [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(tmp_path), *options],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        started.append(process)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.05)
        return {  # as config/settings.py makes of a redis:// CACHE_URL
            "BACKEND": "config.cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{port}/0",
            "KEY_PREFIX": uuid.uuid4().hex[:8],
        }

    yield start
    for process in started:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def cache_calls(monkeypatch):
    """Every call to the page cache, by method name: its round trips with Redis (the
    calls LocMemCache's `get_many` makes to its own `get` are not counted)."""
    from django.core.cache import caches

    calls = []
    depth = [0]
    pages = caches["pages"]
    for name in ("get", "get_many", "set", "set_many", "add", "delete", "incr", "has_key"):
        method = getattr(pages, name)

        def counted(*args, _name=name, _method=method, **kwargs):
            if not depth[0]:
                calls.append(_name)
            depth[0] += 1
            try:
                return _method(*args, **kwargs)
            finally:
                depth[0] -= 1

        monkeypatch.setattr(pages, name, counted)
    return calls
