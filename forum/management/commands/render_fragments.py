"""Render every comment's stored fragment again (forum.rendering.Fragments).

Fragments follow every change made through the models, and a page renders again any it
shows that is of an earlier markup or time zone. Run this after changing comments with
SQL (pages show what the fragments held until then), or after an upgrade or a new
TIME_ZONE, so that no reader's page has to render them first.
"""

from django.core.management.base import BaseCommand

from forum.models import Comment


class Command(BaseCommand):
    help = __doc__.splitlines()[0]

    def handle(self, *args, **options):
        count = Comment.objects.all().render_fragments()
        self.stdout.write(f"Rendered {count:,} comment fragments.")
