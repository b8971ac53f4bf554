from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from essays.importing import EssayFormatError, import_essay, read_essay_file


class Command(BaseCommand):
    help = (
        "Creates or updates one essay from a Markdown file with front matter. Sections are "
        "matched by the slug of their heading: changed ones are updated in place, new ones "
        "added. A section missing from the file is reported and kept (moved after the file's "
        "sections) unless --prune is given. The essay is matched by the 'slug:' in the front "
        "matter. Importing an unchanged file changes nothing; a malformed file writes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path, help="Markdown file to import")
        parser.add_argument(
            "--prune",
            action="store_true",
            help="Delete sections whose heading is no longer in the file.",
        )

    def handle(self, *args, path: Path, prune: bool, **options):
        try:
            parsed = read_essay_file(path)
        except EssayFormatError as exc:
            raise CommandError(f"{path}: {exc}") from None
        report = import_essay(parsed, prune=prune)
        write = self.stdout.write
        if report.created:
            write(
                self.style.SUCCESS(
                    f"Created essay {parsed.title!r} with {_sections(len(report.added))}."
                )
            )
        elif not report.changed_anything:
            write(f"Essay {parsed.title!r} is already up to date; nothing changed.")
        else:
            write(
                self.style.SUCCESS(
                    f"Updated essay {parsed.title!r} (sections: {len(report.updated)} changed, "
                    f"{len(report.added)} added, {len(report.unchanged)} unchanged)."
                )
            )
        for heading, others in report.pruned:
            also = ", ".join(f"{count} {name}" for name, count in sorted(others.items()))
            also = f", and with it: {also}" if also else ""
            write(self.style.WARNING(f"Deleted section {heading!r} (no longer in the file){also}."))
        for heading, position in report.missing:
            write(
                self.style.WARNING(
                    f"Section {heading!r} is no longer in the file; kept it as section "
                    f"{position}, after the file's sections (run again with --prune to delete it)."
                )
            )


def _sections(count: int) -> str:
    return f"{count} section" if count == 1 else f"{count} sections"
