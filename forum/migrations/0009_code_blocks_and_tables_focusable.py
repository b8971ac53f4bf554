"""Code blocks and tables already rendered become reachable by keyboard, as newly
rendered ones are (essays.markup.focusable_code): comments, sections and bios."""

from django.db import migrations
from django.db.models import F, Value
from django.db.models.functions import Replace

FIELDS = [("forum", "Comment", "body_html"), ("essays", "Section", "body_html")]
FIELDS += [("essays", "SectionRevision", "body_html"), ("accounts", "User", "bio_html")]
TAGS = [("<pre>", '<pre tabindex="0">'), ("<table>", '<table tabindex="0">')]


def replace(apps, pairs):
    for app, model, field in FIELDS:
        for old, new in pairs:
            rows = apps.get_model(app, model).objects.filter(**{f"{field}__contains": old})
            rows.update(**{field: Replace(F(field), Value(old), Value(new))})


def make_focusable(apps, schema_editor):
    replace(apps, TAGS)


def make_plain(apps, schema_editor):
    replace(apps, [(new, old) for old, new in TAGS])


class Migration(migrations.Migration):
    dependencies = [
        ("forum", "0008_comment_anchors"),
        ("essays", "0002_section_revisions"),
        ("accounts", "0001_initial"),
    ]

    operations = [migrations.RunPython(make_focusable, make_plain)]
