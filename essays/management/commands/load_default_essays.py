from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError, transaction

from essays.importing import BUNDLED_ESSAYS_DIR, EssayFormatError, import_essay, read_essay_file
from essays.models import Essay


class Command(BaseCommand):
    help = (
        "Loads the essays bundled in essays/content/ into an empty database (the first run). "
        "Once any essay exists it does nothing, so essays edited, renamed or deleted in the "
        "admin stay that way; safe to run on every start."
    )

    def handle(self, *args, **options):
        bundled = []
        for path in sorted(BUNDLED_ESSAYS_DIR.glob("*.md")):
            try:
                bundled.append(read_essay_file(path))
            except EssayFormatError as exc:
                raise CommandError(f"{path}: {exc}") from None
        try:
            # One transaction: the essays all load, or (if another process got there
            # first) none do and the other process's copies stand.
            with transaction.atomic():
                if Essay.objects.exists():
                    self.stdout.write(
                        "There are essays already; the bundled essays are only loaded into "
                        "an empty database."
                    )
                    return
                reports = [import_essay(parsed) for parsed in bundled]
        except IntegrityError:
            # Another process (a second container starting) loaded them at the same time.
            self.stdout.write("The bundled essays were loaded by another process.")
            return
        for report in reports:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Loaded essay {report.essay.title!r} ({_sections(len(report.added))})."
                )
            )


def _sections(count: int) -> str:
    return f"{count} section" if count == 1 else f"{count} sections"
