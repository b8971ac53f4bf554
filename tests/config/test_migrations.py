from io import StringIO

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_models_and_migrations_agree():
    out = StringIO()
    try:
        call_command("makemigrations", "--check", "--dry-run", stdout=out, stderr=StringIO())
    except SystemExit:
        pytest.fail(f"A migration is missing:\n{out.getvalue()}")


@pytest.mark.django_db
def test_the_migration_makes_the_moderators_group_with_exactly_its_permissions():
    import importlib

    from django.contrib.auth.models import Group
    from django.db import connection
    from django.db.migrations.loader import MigrationLoader

    migration = importlib.import_module("forum.migrations.0002_moderators_group")
    Group.objects.filter(name="Moderators").delete()
    historical_apps = MigrationLoader(connection).project_state().apps  # as migrate runs it

    migration.create_moderators(historical_apps, None)

    group = Group.objects.get(name="Moderators")
    granted = set(group.permissions.values_list("content_type__app_label", "codename"))
    assert granted == set(migration.MODERATOR_PERMISSIONS)
    codenames = {codename for _, codename in granted}
    assert not any(c.endswith("_user") or c.endswith("_group") for c in codenames)
    assert not any(c.startswith("delete_") for c in codenames)


@pytest.mark.django_db
def test_code_blocks_rendered_before_become_reachable_by_keyboard(post, ann):
    import importlib

    from django.db import connection
    from django.db.migrations.loader import MigrationLoader

    from forum.models import Comment

    migration = importlib.import_module("forum.migrations.0009_code_blocks_and_tables_focusable")
    comment = post(ann, "```\ncode()\n```")
    Comment.objects.filter(pk=comment.pk).update(body_html="<pre><code>code()\n</code></pre>")

    migration.make_focusable(MigrationLoader(connection).project_state().apps, None)

    comment.refresh_from_db()
    assert comment.body_html == '<pre tabindex="0"><code>code()\n</code></pre>'
