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


def make_member(username, *, verified=True):
    from allauth.account.models import EmailAddress

    from accounts.models import User

    user = User.objects.create_user(username, f"{username}@example.com", "a-long-password-1")
    EmailAddress.objects.create(user=user, email=user.email, verified=verified, primary=True)
    return user


@pytest.fixture
def ann(db):
    """Ann writes comments."""
    return make_member("ann")


@pytest.fixture
def ben(db):
    """Ben answers them."""
    return make_member("ben")


@pytest.fixture
def dan(db):
    """Dan follows sections and threads."""
    return make_member("dan")


@pytest.fixture
def cal(db):
    """Cal signed up but never confirmed his email address."""
    return make_member("cal", verified=False)


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


def moderators_group():
    """The group the migration made. Tests that empty the database (browser tests)
    remove it, so it is made again here from the migration's own list."""
    import importlib

    from django.contrib.auth.models import Group, Permission

    migration = importlib.import_module("forum.migrations.0002_moderators_group")
    group, created = Group.objects.get_or_create(name="Moderators")
    if created:
        group.permissions.set(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
            for app_label, codename in migration.MODERATOR_PERMISSIONS
        )
    return group


def make_moderator(username="mo"):
    user = make_member(username)
    user.is_staff = True
    user.save()
    user.groups.add(moderators_group())
    return user


@pytest.fixture
def eager(db):
    """Eager moderates and asked to be told about the review queue."""
    user = make_moderator("eager")
    user.email_on_review = True
    user.save()
    return user


@pytest.fixture
def premoderate_all(db):
    """The moderation policy holds every new comment for review."""
    from forum.models import ModerationPolicy

    policy = ModerationPolicy.current()
    policy.premoderation = ModerationPolicy.Premoderation.ALL
    policy.save()
    return policy


@pytest.fixture
def mod(db):
    """Mo moderates: staff, in the Moderators group, nothing more."""
    return make_moderator()
