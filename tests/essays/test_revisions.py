"""Every change to a section's text is a numbered revision; the essay's own changes
(title, sections added, renamed, removed, reordered) are recorded too."""

import importlib

import pytest
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.urls import reverse

from essays.importing import import_essay, parse_essay
from essays.markup import paragraphs, plain_text
from essays.models import EssayChange, Section, SectionRevision
from essays.signals import section_revised

pytestmark = pytest.mark.django_db

FILE = """---
title: Rivers
slug: rivers
---
## Sources

Every river starts somewhere small.

A spring, a glacier, a bog.

## Mouths

Rivers end in the sea, mostly.
"""


def imported(text=FILE, **options):
    return import_essay(parse_essay(text.encode()), **options)


def test_an_imported_section_starts_at_revision_1_from_the_import():
    essay = imported().essay
    section = essay.sections.get(slug="sources")

    revision = section.current_revision
    assert (revision.number, revision.source, revision.author) == (1, "import", None)
    assert revision.body_markdown == section.body_markdown
    assert revision.body_html == section.body_html
    assert revision.body_text == (
        "Every river starts somewhere small.\n\nA spring, a glacier, a bog."
    )
    assert revision.body_text == plain_text(section.body_html)


def test_importing_the_same_file_again_creates_no_revision_and_no_change():
    imported()
    before = (SectionRevision.objects.count(), EssayChange.objects.count())

    imported()

    assert (SectionRevision.objects.count(), EssayChange.objects.count()) == before


def test_a_changed_file_makes_revision_2_of_the_changed_section_only():
    imported()
    imported(FILE.replace("starts somewhere small", "starts somewhere very small"))

    sources = Section.objects.get(slug="sources")
    assert sources.current_revision.number == 2
    assert sources.current_revision.source == "import"
    assert "very small" in sources.current_revision.body_text
    assert Section.objects.get(slug="mouths").current_revision.number == 1
    assert list(sources.revisions.values_list("number", flat=True)) == [1, 2]


def test_the_revision_signal_goes_out_inside_the_edits_transaction():
    imported()
    heard = []

    def receiver(sender, section, previous, revision, **kwargs):
        heard.append((sender, section.slug, previous.number, revision.number))
        heard.append(connection.in_atomic_block)

    section_revised.connect(receiver)
    try:
        imported(FILE.replace("mostly", "nearly always"))
    finally:
        section_revised.disconnect(receiver)

    assert heard == [(Section, "mouths", 1, 2), True]


def test_a_section_whose_text_did_not_change_is_not_revised_by_other_saves():
    section = imported().essay.sections.get(slug="mouths")

    section.position = 7
    section.save(update_fields=["position"])
    section.heading = "Estuaries"
    section.save()

    assert section.revisions.count() == 1


def test_essay_level_changes_are_recorded_from_the_import():
    imported()
    renamed_and_reordered = """---
title: Rivers of the world
slug: rivers
---
## Mouths

Rivers end in the sea, mostly.

## Deltas

Some split into many arms.
"""
    imported(renamed_and_reordered, prune=True)

    summaries = set(EssayChange.objects.values_list("summary", flat=True))
    assert summaries == {
        "Title changed from 'Rivers' to 'Rivers of the world'.",
        "Section 'Deltas' added.",
        "Section 'Sources' removed (no longer in the file).",
    }
    assert set(EssayChange.objects.values_list("source", flat=True)) == {"import"}


def test_reordering_sections_in_the_file_is_recorded():
    imported()
    swapped = FILE.split("## ")
    imported("## ".join([swapped[0], swapped[2] + "\n", swapped[1]]))

    assert EssayChange.objects.filter(summary="Sections reordered.").exists()


def test_an_edit_in_the_admin_is_a_revision_by_its_editor(client, sam):
    section = imported().essay.sections.get(slug="mouths")
    client.force_login(sam)

    response = client.post(
        reverse("admin:essays_section_change", args=[section.pk]),
        {
            "essay": section.essay_id,
            "position": section.position,
            "heading": "River mouths",
            "slug": section.slug,
            "body_markdown": "Rivers end in the sea, or in a lake.",
        },
    )

    assert response.status_code == 302
    revision = Section.objects.get(pk=section.pk).current_revision
    assert (revision.number, revision.source, revision.author) == (2, "admin", sam)
    assert revision.summary == "1 paragraph changed or removed; 1 paragraph new or reworded."
    assert EssayChange.objects.get(author=sam).summary == (
        "Section 'Mouths' renamed to 'River mouths'."
    )


def test_an_edited_paragraph_keeps_its_anchor_and_new_ones_get_their_own():
    essay = imported().essay
    section = essay.sections.get(slug="sources")
    first, second = (anchor for anchor, _ in paragraphs(section.body_html))

    section.revise(
        "A new opening line, quite different from anything.\n\n"
        "Every river starts somewhere quite small.\n\n"
        "A spring, a glacier, a bog.\n"
    )

    now = paragraphs(section.body_html)
    assert [anchor for anchor, _ in now][1:] == [first, second]
    assert now[0][0] not in {first, second}
    # ...and the next edit finds it again, under the anchor it carries.
    section.revise(section.body_markdown.replace("quite small", "really quite small"))
    assert [anchor for anchor, _ in paragraphs(section.body_html)][1:] == [first, second]


def test_the_migration_gives_every_existing_section_its_first_revision():
    essay = imported().essay
    section = essay.sections.get(slug="sources")
    SectionRevision.objects.all().delete()  # as before the migration
    migration = importlib.import_module("essays.migrations.0002_section_revisions")
    historical_apps = MigrationLoader(connection).project_state().apps

    migration.first_revisions(historical_apps, None)

    section.refresh_from_db()
    revision = section.current_revision
    assert (revision.number, revision.source) == (1, "initial")
    assert revision.body_text == plain_text(section.body_html)
    assert SectionRevision.objects.count() == essay.sections.count()
