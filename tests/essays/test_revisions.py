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


def test_editing_sections_on_the_essays_admin_page_records_revisions_and_changes(client, sam):
    essay = imported().essay
    sources, mouths = essay.sections.in_order()
    client.force_login(sam)
    data = {
        "title": "Rivers, revised",
        "slug": essay.slug,
        "summary": "",
        "position": 0,
        "is_published": "on",
        "sections-TOTAL_FORMS": 3,
        "sections-INITIAL_FORMS": 2,
    }
    for index, section in enumerate([sources, mouths]):
        data |= {
            f"sections-{index}-id": section.pk,
            f"sections-{index}-essay": essay.pk,
            f"sections-{index}-position": section.position,
            f"sections-{index}-heading": section.heading,
            f"sections-{index}-slug": section.slug,
            f"sections-{index}-body_markdown": section.body_markdown,
        }
    data["sections-1-body_markdown"] = "Rivers end in lakes too."
    data["sections-1-DELETE"] = ""
    data |= {
        "sections-2-essay": essay.pk,
        "sections-2-position": 3,
        "sections-2-heading": "Deltas",
        "sections-2-slug": "deltas",
        "sections-2-body_markdown": "Some split into many arms.",
    }

    response = client.post(reverse("admin:essays_essay_change", args=[essay.pk]), data)

    assert response.status_code == 302, response.context and response.context.get("errors")
    mouths.refresh_from_db()
    assert (mouths.current_revision.number, mouths.current_revision.author) == (2, sam)
    assert sources.revisions.count() == 1  # unchanged text: no revision
    deltas = essay.sections.get(slug="deltas")
    assert (deltas.current_revision.number, deltas.current_revision.author) == (1, sam)
    assert set(essay.changes.values_list("summary", flat=True)) == {
        "Title changed to 'Rivers, revised'.",
        "Section 'Deltas' added.",
    }


def test_an_editor_edits_a_section_in_the_admin_and_finds_its_history_there(client, editor):
    section = imported().essay.sections.get(slug="mouths")
    client.force_login(editor)
    page = reverse("admin:essays_section_change", args=[section.pk])

    assert f'href="{section.get_history_url()}"' in client.get(page).text
    response = client.post(
        page,
        {
            "essay": section.essay_id,
            "position": section.position,
            "heading": section.heading,
            "slug": section.slug,
            "body_markdown": "Rivers end in the sea, mostly.\r\n\r\nSome in a lake.",
        },
    )

    assert response.status_code == 302
    revision = Section.objects.get(pk=section.pk).current_revision
    assert (revision.number, revision.author, revision.source) == (2, editor, "admin")
    assert revision.summary == "1 paragraph new or reworded."
    assert client.get(reverse("admin:essays_sectionrevision_changelist")).status_code == 200


def test_editors_saving_one_section_at_once_get_numbers_one_after_the_other(transactional_db):
    if connection.vendor != "postgresql":
        pytest.skip("concurrency is tested on PostgreSQL (CI runs it there)")
    from tests.forum.test_discussion_queries import run_at_once

    section_id = imported().essay.sections.get(slug="mouths").pk

    def edit(n):
        Section.objects.get(pk=section_id).revise(f"Rivers end, version {n}.")

    run_at_once(edit, 6)

    numbers = list(
        SectionRevision.objects.filter(section=section_id).values_list("number", flat=True)
    )
    assert numbers == [1, 2, 3, 4, 5, 6, 7]
    section = Section.objects.get(pk=section_id)
    assert section.current_revision.number == 7
    assert section.body_markdown == section.current_revision.body_markdown
