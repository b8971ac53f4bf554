"""A GIN index for full-text search of comments, on PostgreSQL only (SQLite searches
with a simpler fallback). The expression matches forum.search.comment_vector()."""

from django.db import migrations

CREATE = (
    "CREATE INDEX IF NOT EXISTS forum_comment_body_search ON forum_comment "
    "USING GIN (to_tsvector('english'::regconfig, COALESCE(body, '')))"
)
DROP = "DROP INDEX IF EXISTS forum_comment_body_search"


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("forum", "0003_moderators_group")]

    operations = [migrations.RunPython(create, drop)]
