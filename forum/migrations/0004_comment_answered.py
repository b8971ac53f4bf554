"""Comment.answered: whether a reply anyone can see hangs from a comment, stored instead
of asked per row on every page, and filled in for the comments that exist."""

from django.db import migrations, models
from django.db.models import Exists, OuterRef, Q

PUBLISHED = "published"
HIDDEN = ["deleted", "removed", "spam", "pending"]


def fill_in(apps, schema_editor):
    Comment = apps.get_model("forum", "Comment")
    deepest = Comment.objects.aggregate(models.Max("depth"))["depth__max"]
    if deepest is None:
        return
    # Deepest first: a placeholder counts for its parent only once it is answered.
    for depth in range(deepest, -1, -1):
        visible_reply = Comment.objects.filter(parent=OuterRef("pk")).filter(
            Q(status=PUBLISHED) | Q(status__in=HIDDEN, answered=True)
        )
        Comment.objects.filter(depth=depth).filter(Exists(visible_reply)).update(answered=True)


class Migration(migrations.Migration):
    dependencies = [("forum", "0003_comment_search_index")]

    operations = [
        migrations.AddField(
            model_name="comment",
            name="answered",
            field=models.BooleanField(default=False, editable=False),
        ),
        migrations.RunPython(fill_in, migrations.RunPython.noop),
    ]
