"""`manage.py import_essay PATH`: Markdown with front matter becomes an essay."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from essays.models import Essay, Section
from tests.conftest import ESSAY_PATH

pytestmark = pytest.mark.django_db

SMALL_ESSAY = """\
---
title: On Reading Slowly
slug: reading-slowly
summary: Why slow reading pays.
---

An opening paragraph.

## First Things

Paragraph one.

Paragraph two.

## Second Thoughts

More text.
"""


def run_import(path, *args):
    out = StringIO()
    call_command("import_essay", str(path), *args, stdout=out)
    return out.getvalue()


def write(tmp_path, text, name="essay.md"):
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def test_it_imports_the_bundled_essay_with_an_introduction_and_four_sections():
    output = run_import(ESSAY_PATH)

    essay = Essay.objects.get()
    assert essay.title == "Open Source Meets Open Weights"
    assert essay.slug == "open-source-meets-open-weights"
    assert essay.summary.startswith("Do the principles of open-source software")
    assert list(essay.sections.in_order().values_list("heading", flat=True)) == [
        "Introduction",
        "When the Product Is the Risk",
        "The DeepSeek Moment",
        "What “Open” Actually Enables",
        "The Question That Remains Unanswered",
    ]
    assert "Created essay 'Open Source Meets Open Weights' with 5 sections." in output


def test_text_before_the_first_heading_becomes_the_introduction(tmp_path):
    run_import(write(tmp_path, SMALL_ESSAY))

    intro = Section.objects.get(slug="introduction")
    assert intro.position == 1
    assert intro.body_markdown.strip() == "An opening paragraph."
    assert "<p id=" in intro.body_html


def test_without_text_before_the_first_heading_there_is_no_introduction(tmp_path):
    text = SMALL_ESSAY.replace("An opening paragraph.\n", "")
    run_import(write(tmp_path, text))

    assert list(Section.objects.values_list("slug", flat=True)) == [
        "first-things",
        "second-thoughts",
    ]


def test_reimporting_the_same_file_changes_nothing():
    run_import(ESSAY_PATH)
    before = list(Section.objects.values_list("pk", "updated_at", "body_html"))
    essay_updated = Essay.objects.get().updated_at

    output = run_import(ESSAY_PATH)

    assert list(Section.objects.values_list("pk", "updated_at", "body_html")) == before
    assert Essay.objects.get().updated_at == essay_updated
    assert "already up to date; nothing changed" in output


def test_an_edited_file_updates_sections_in_place(tmp_path):
    path = write(tmp_path, SMALL_ESSAY)
    run_import(path)
    first = Section.objects.get(slug="first-things")

    edited = SMALL_ESSAY.replace("Paragraph two.", "Paragraph two, revised.").replace(
        "## Second Thoughts", "## A New Middle\n\nInserted.\n\n## Second Thoughts"
    )
    output = run_import(write(tmp_path, edited))

    first.refresh_from_db()
    assert "Paragraph two, revised." in first.body_markdown
    assert "Paragraph two, revised." in first.body_html
    assert Section.objects.get(slug="first-things").pk == first.pk  # same row, not replaced
    assert list(Section.objects.in_order().values_list("slug", "position")) == [
        ("introduction", 1),
        ("first-things", 2),
        ("a-new-middle", 3),
        ("second-thoughts", 4),
    ]
    assert "(sections: 2 changed, 1 added, 1 unchanged)" in output  # one moved down


def test_a_removed_heading_is_reported_and_kept(tmp_path):
    run_import(write(tmp_path, SMALL_ESSAY))

    shorter = SMALL_ESSAY.split("## Second Thoughts")[0]
    output = run_import(write(tmp_path, shorter))

    assert Section.objects.filter(slug="second-thoughts").exists()
    assert "Section 'Second Thoughts' is no longer in the file; kept it" in output


def test_prune_deletes_a_removed_section(tmp_path):
    run_import(write(tmp_path, SMALL_ESSAY))

    shorter = SMALL_ESSAY.split("## Second Thoughts")[0]
    output = run_import(write(tmp_path, shorter), "--prune")

    assert not Section.objects.filter(slug="second-thoughts").exists()
    assert "Deleted section 'Second Thoughts'" in output


def test_a_changed_title_and_summary_update_the_essay(tmp_path):
    run_import(write(tmp_path, SMALL_ESSAY))

    run_import(write(tmp_path, SMALL_ESSAY.replace("Why slow reading pays.", "It pays.")))

    assert Essay.objects.get().summary == "It pays."
    assert Essay.objects.count() == 1


def test_a_heading_inside_a_code_block_does_not_start_a_section(tmp_path):
    text = SMALL_ESSAY.replace("More text.", "More text.\n\n```\n## not a heading\n```\n")
    run_import(write(tmp_path, text))

    assert not Section.objects.filter(slug="not-a-heading").exists()
    assert "## not a heading" in Section.objects.get(slug="second-thoughts").body_markdown


def test_quoted_front_matter_values_may_contain_colons(tmp_path):
    text = SMALL_ESSAY.replace("title: On Reading Slowly", 'title: "Reading: A Defence"')
    run_import(write(tmp_path, text))

    assert Essay.objects.get().title == "Reading: A Defence"


def test_the_slug_defaults_to_the_title(tmp_path):
    run_import(write(tmp_path, SMALL_ESSAY.replace("slug: reading-slowly\n", "")))

    assert Essay.objects.get().slug == "on-reading-slowly"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (b"   \n\n  ", "the file is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary data (NUL bytes)"),
        ("---\ntitle: Caf\u00e9\n---\ntext".encode("latin-1"), "not UTF-8 text"),
        (b"Just some text without front matter.", "no title"),
        (b"---\nsummary: no title here\n---\n\ntext", "no title"),
        (b"---\ntitle: \n---\n\ntext", "no title"),
        (b"---\ntitle: Open\n\ntext never closed", "closing '---' missing"),
        (b"---\ntitle: Open\n", "not closed by a '---' line"),
        (b"---\ntitle: T\ntitel: typo\n---\ntext", "unknown front-matter key 'titel'"),
        (b"---\ntitle: T\n---\n\n## Same\n\na\n\n## Same\n\nb", "duplicate heading 'Same'"),
        (b"---\ntitle: T\n---\n\nIntro\n\n## Introduction\n\nb", "duplicate heading"),
        (b"---\ntitle: T\n---\n\n## !!!\n\nb", "no letters or digits"),
        (b"---\ntitle: T\n---\n\n", "no text after its front matter"),
    ],
)
def test_malformed_input_ends_with_one_line_naming_the_problem_and_writes_nothing(
    tmp_path, content, message
):
    path = write(tmp_path, content)

    with pytest.raises(CommandError) as error:
        run_import(path)

    assert message in str(error.value)
    assert "\n" not in str(error.value)
    assert str(path) in str(error.value)
    assert not Essay.objects.exists()
    assert not Section.objects.exists()


def test_a_malformed_update_leaves_the_stored_essay_untouched(tmp_path):
    run_import(write(tmp_path, SMALL_ESSAY))
    before = list(Section.objects.values_list("slug", "body_markdown"))

    broken = SMALL_ESSAY + "\n## First Things\n\nduplicate\n"
    with pytest.raises(CommandError, match="duplicate heading"):
        run_import(write(tmp_path, broken))

    assert list(Section.objects.values_list("slug", "body_markdown")) == before


def test_a_missing_file_or_a_folder_is_a_clear_error(tmp_path):
    with pytest.raises(CommandError, match="no such file"):
        run_import(tmp_path / "nope.md")
    with pytest.raises(CommandError, match="folder, not a file"):
        run_import(tmp_path)


def test_a_huge_file_is_refused(tmp_path):
    path = write(tmp_path, "---\ntitle: Big\n---\n\n" + "word " * 500_000)

    with pytest.raises(CommandError, match="too large"):
        run_import(path)
    assert not Essay.objects.exists()


def test_the_bundled_essay_loads_once_and_is_never_overwritten():
    out = StringIO()
    call_command("load_default_essays", stdout=out)
    section = Section.objects.get(slug="the-deepseek-moment")
    section.body_markdown = "Edited in the admin."
    section.save()

    call_command("load_default_essays", stdout=out)

    assert Essay.objects.count() == 1
    section.refresh_from_db()
    assert section.body_markdown == "Edited in the admin."
    assert "already loaded" in out.getvalue()
