from django.db import migrations, models


def keep_fragments_inline(apps, schema_editor):
    """A page reads every comment's fragment: on PostgreSQL, kept uncompressed in the row
    (MAIN: the text, its Markdown and search vector are compressed or moved out first),
    which halves what reading a thousand of them costs (bench/profile_render.py)."""
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE forum_comment ALTER COLUMN fragment SET STORAGE MAIN")


class Migration(migrations.Migration):
    dependencies = [
        ("forum", "0011_comment_author_status_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="comment",
            name="fragment",
            field=models.TextField(blank=True, default="", editable=False),
        ),
        migrations.RunPython(keep_fragments_inline, migrations.RunPython.noop, elidable=True),
    ]
