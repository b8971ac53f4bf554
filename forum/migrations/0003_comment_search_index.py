"""The GIN index behind full-text search of comments (PostgreSQL only: SQLite has no
full-text index, and forum/search.py falls back to plain matching there)."""

from django.db import migrations

CREATE_INDEX = (
    "CREATE INDEX IF NOT EXISTS forum_comment_search_vector "
    "ON forum_comment USING GIN (search_vector)"
)


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE_INDEX)


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS forum_comment_search_vector")


class Migration(migrations.Migration):
    dependencies = [("forum", "0002_moderators_group")]

    operations = [migrations.RunPython(create_index, drop_index)]
