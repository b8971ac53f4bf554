from django.core.management.base import BaseCommand
from django.db import IntegrityError

from essays.importing import BUNDLED_ESSAYS_DIR, import_essay, read_essay_file
from essays.models import Essay


class Command(BaseCommand):
    help = (
        "Imports the essays bundled in essays/content/ whose slug is not in the database "
        "yet. Never changes an essay that already exists (edits made in the admin are "
        "kept), so it is safe to run on every start."
    )

    def handle(self, *args, **options):
        for path in sorted(BUNDLED_ESSAYS_DIR.glob("*.md")):
            parsed = read_essay_file(path)
            if Essay.objects.filter(slug=parsed.slug).exists():
                self.stdout.write(f"Essay {parsed.title!r} is already loaded.")
                continue
            try:
                report = import_essay(parsed)
            except IntegrityError:
                # Another process (a second container starting) loaded it first.
                self.stdout.write(f"Essay {parsed.title!r} was loaded by another process.")
                continue
            self.stdout.write(
                self.style.SUCCESS(f"Loaded essay {parsed.title!r} ({len(report.added)} sections).")
            )
