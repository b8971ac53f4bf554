"""Render every comment's stored fragment again (forum.rendering.Fragments).

Fragments follow every change made through the models. Run this after what they cannot
see: a new TIME_ZONE (the dates in them) or comments changed with SQL; until then, pages
show what the fragments held.
"""

from django.core.management.base import BaseCommand

from forum.models import Comment


class Command(BaseCommand):
    help = __doc__.splitlines()[0]

    def handle(self, *args, **options):
        count = Comment.objects.all().render_fragments()
        self.stdout.write(f"Rendered {count:,} comment fragments.")
