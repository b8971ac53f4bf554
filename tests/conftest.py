import pytest
from django.core.management import call_command

from essays.importing import BUNDLED_ESSAYS_DIR, import_essay, read_essay_file

ESSAY_PATH = BUNDLED_ESSAYS_DIR / "open-source-meets-open-weights.md"


@pytest.fixture(scope="session", autouse=True)
def collected_static(django_db_blocker):
    """Pages are rendered as in production: hashed static names from the manifest."""
    with django_db_blocker.unblock():
        call_command("collectstatic", interactive=False, verbosity=0)


@pytest.fixture
def essay(db):
    """The bundled essay, imported the way `make run` loads it."""
    return import_essay(read_essay_file(ESSAY_PATH)).essay


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user("alice", "alice@example.com", "a-long-password-1")


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user(
        "sam", "sam@example.com", "a-long-password-2", is_staff=True, is_superuser=True
    )


@pytest.fixture(autouse=True)
def fresh_cache():
    """Rate-limit counters live in the cache; each test starts with none."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Production hashes passwords slowly on purpose; tests need not."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
