"""`manage.py import_essay PATH`: Markdown with front matter becomes an essay."""

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from essays.importing import MAX_FILE_BYTES
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


def test_it_moves_kept_sections_after_the_files_sections_in_their_previous_order(tmp_path):
    run_import(write(tmp_path, SMALL_ESSAY))  # Introduction 1, First Things 2, Second 3
    shorter = SMALL_ESSAY.split("## First Things")[0] + "## Third Way\n\nNew text.\n"

    output = run_import(write(tmp_path, shorter))

    assert list(Section.objects.in_order().values_list("slug", "position")) == [
        ("introduction", 1),
        ("third-way", 2),
        ("first-things", 3),
        ("second-thoughts", 4),
    ]
    assert "Section 'First Things' is no longer in the file; kept it as section 3," in output
    assert "Section 'Second Thoughts' is no longer in the file; kept it as section 4," in output

    again = run_import(write(tmp_path, shorter))

    assert "already up to date; nothing changed" in again
    assert "kept it as section 3," in again


def test_prune_deletes_a_removed_section(tmp_path):
    run_import(write(tmp_path, SMALL_ESSAY))

    shorter = SMALL_ESSAY.split("## Second Thoughts")[0]
    output = run_import(write(tmp_path, shorter), "--prune")

    assert not Section.objects.filter(slug="second-thoughts").exists()
    assert "Deleted section 'Second Thoughts'" in output


def test_a_changed_title_and_summary_update_the_same_essay(tmp_path):
    run_import(write(tmp_path, SMALL_ESSAY))
    edited = SMALL_ESSAY.replace("Why slow reading pays.", "It pays.").replace(
        "title: On Reading Slowly", "title: On Reading Very Slowly"
    )

    run_import(write(tmp_path, edited))

    essay = Essay.objects.get()
    assert (essay.title, essay.slug, essay.summary) == (
        "On Reading Very Slowly",
        "reading-slowly",
        "It pays.",
    )


@pytest.mark.parametrize(
    "code_block",
    [
        "```\n## not a heading\n```",
        "~~~\n```\n## not a heading\n~~~",
        "```\n~~~\n## not a heading\n```",
        "````\n```\n## not a heading\n````",
        "```\n``` not a closing fence\n## not a heading\n```",
        "  ~~~ python\n## not a heading\n   ~~~~~  ",
    ],
    ids=[
        "backticks",
        "backticks-in-tildes",
        "tildes-in-backticks",
        "shorter-fence",
        "info",
        "indent",
    ],
)
def test_a_heading_inside_a_code_block_does_not_start_a_section(tmp_path, code_block):
    text = SMALL_ESSAY.replace("More text.", f"More text.\n\n{code_block}\n\n## After\n\nEnd.")
    run_import(write(tmp_path, text))

    assert list(Section.objects.in_order().values_list("slug", flat=True)) == [
        "introduction",
        "first-things",
        "second-thoughts",
        "after",
    ]
    second = Section.objects.get(slug="second-thoughts")
    assert "## not a heading" in second.body_markdown
    assert "<code" in second.body_html
    assert "## not a heading" in second.body_html  # shown as code, as the file meant


def test_it_reads_a_backtick_line_with_backticks_after_it_as_text(tmp_path):
    # CommonMark: "``` a`b" is text, not a fence, so the heading after it is a heading.
    text = SMALL_ESSAY.replace("More text.", "More text.\n\n``` a`b\n\n## Real Heading\n\nx")
    run_import(write(tmp_path, text))

    assert Section.objects.filter(slug="real-heading").exists()


def test_quoted_front_matter_values_may_contain_colons(tmp_path):
    text = SMALL_ESSAY.replace("title: On Reading Slowly", 'title: "Reading: A Defence"')
    run_import(write(tmp_path, text))

    assert Essay.objects.get().title == "Reading: A Defence"


def test_it_refuses_a_file_without_a_slug_and_says_what_to_add(tmp_path):
    # Were the slug made from the title, correcting the title would create a second essay.
    path = write(tmp_path, SMALL_ESSAY.replace("slug: reading-slowly\n", ""))

    with pytest.raises(CommandError) as error:
        run_import(path)

    assert str(error.value) == (
        f"{path}: no slug: add a line like 'slug: on-reading-slowly' to the front matter, "
        "so that later imports of this file update the same essay"
    )
    assert not Essay.objects.exists()


def test_it_makes_a_written_slug_safe_for_addresses(tmp_path):
    text = SMALL_ESSAY.replace("slug: reading-slowly", "slug: Reading Slowly, Again!")
    output = run_import(write(tmp_path, text.split("## First Things")[0]))

    assert Essay.objects.get().slug == "reading-slowly-again"
    assert "with 1 section." in output


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
        (b"---\ntitle: T\n---\n\ntext", "no slug: add a line like 'slug: t'"),
        (b"---\ntitle: T\nslug: !!!\n---\n\ntext", "the slug '!!!' has no letters or digits"),
        (b"---\ntitle: T\nslug: " + b"s" * 201 + b"\n---\n\ntext", "slug is longer than 200"),
        (b"---\ntitle: " + b"t" * 201 + b"\nslug: t\n---\n\ntext", "title is longer than 200"),
        (b"---\ntitle: T\nslug: t\n---\n\n## " + b"h" * 301 + b"\n\nb", "longer than 300"),
        (
            b"---\ntitle: T\nslug: t\n---\n\n## Same\n\na\n\n## Same\n\nb",
            "duplicate heading 'Same'",
        ),
        (b"---\ntitle: T\nslug: t\n---\n\nIntro\n\n## Introduction\n\nb", "duplicate heading"),
        (b"---\ntitle: T\nslug: t\n---\n\n## !!!\n\nb", "no letters or digits"),
        (
            "---\ntitle: T\nslug: t\n---\n\n## \u65e5\u672c\n\nb".encode(),
            "no letters or digits (a-z",
        ),
        (b"---\ntitle: T\nslug: t\n---\n\n", "no text after its front matter"),
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


def test_it_reports_a_path_through_a_file_as_no_such_file(tmp_path):
    path = write(tmp_path, SMALL_ESSAY) / "essay.md"

    with pytest.raises(CommandError, match="no such file"):
        run_import(path)


def test_it_reports_an_unreadable_path_in_one_line(tmp_path):
    with pytest.raises(CommandError, match=r"cannot be read \(file name too long\)$"):
        run_import(tmp_path / ("a" * 300 + ".md"))


@pytest.mark.skipif(not Path("/dev/null").exists(), reason="needs /dev/null")
def test_it_refuses_a_device_before_reading_it():
    # /dev/zero would never end, and a named pipe blocks until someone writes to it.
    with pytest.raises(CommandError, match=r"^/dev/null: not a regular file$"):
        run_import("/dev/null")


def test_a_huge_file_is_refused(tmp_path):
    path = write(tmp_path, "---\ntitle: Big\nslug: big\n---\n\n" + "word " * 500_000)

    with pytest.raises(CommandError, match="too large"):
        run_import(path)
    assert not Essay.objects.exists()


def test_it_refuses_a_huge_file_that_reports_no_size():
    # Files in /proc report a size of 0; the limit holds on what is read, not on stat().
    kallsyms = Path("/proc/kallsyms")
    try:
        with kallsyms.open("rb") as file:
            big = len(file.read(MAX_FILE_BYTES + 1)) > MAX_FILE_BYTES
    except OSError:
        big = False
    if not big:
        pytest.skip("needs a readable /proc/kallsyms over 2 MiB")

    with pytest.raises(CommandError, match="too large"):
        run_import(kallsyms)


def load_default_essays():
    out = StringIO()
    call_command("load_default_essays", stdout=out)
    return out.getvalue()


def test_it_loads_the_bundled_essay_into_an_empty_database():
    output = load_default_essays()

    assert Essay.objects.get().slug == "open-source-meets-open-weights"
    assert output == "Loaded essay 'Open Source Meets Open Weights' (5 sections).\n"


def test_it_loads_the_bundled_essay_once_and_never_overwrites_it():
    load_default_essays()
    section = Section.objects.get(slug="the-deepseek-moment")
    section.body_markdown = "Edited in the admin."
    section.save()

    output = load_default_essays()

    assert Essay.objects.count() == 1
    section.refresh_from_db()
    assert section.body_markdown == "Edited in the admin."
    assert "the bundled essays are only loaded into an empty database" in output


def test_it_does_not_bring_back_a_bundled_essay_given_a_new_slug_in_the_admin():
    load_default_essays()
    Essay.objects.update(slug="open-weights")

    load_default_essays()

    assert list(Essay.objects.values_list("slug", flat=True)) == ["open-weights"]


def test_it_does_not_bring_back_a_deleted_bundled_essay_while_other_essays_exist(tmp_path):
    load_default_essays()
    run_import(write(tmp_path, SMALL_ESSAY))
    Essay.objects.get(slug="open-source-meets-open-weights").delete()

    load_default_essays()

    assert list(Essay.objects.values_list("slug", flat=True)) == ["reading-slowly"]


def test_it_adds_no_bundled_essays_to_a_database_that_has_essays(tmp_path):
    run_import(write(tmp_path, SMALL_ESSAY))

    load_default_essays()

    assert list(Essay.objects.values_list("slug", flat=True)) == ["reading-slowly"]


def test_prune_says_what_went_with_a_deleted_section(tmp_path):
    from forum.models import Comment
    from tests.conftest import make_member

    run_import(write(tmp_path, SMALL_ESSAY))
    author = make_member("ann")
    section = Section.objects.get(slug="second-thoughts")
    first, _ = Comment.objects.post(section=section, author=author, body="One")
    Comment.objects.post(section=section, author=author, body="Two", parent=first)

    shorter = SMALL_ESSAY.split("## Second Thoughts")[0]
    output = run_import(write(tmp_path, shorter), "--prune")

    assert (
        "Deleted section 'Second Thoughts' (no longer in the file), and with it: 2 comment"
        in output
    )
    assert not Comment.objects.exists()
