"""Essay Markdown becomes safe HTML, with a stable anchor on every paragraph."""

from html.parser import HTMLParser
from io import StringIO
from urllib.parse import urlsplit

import pytest
from django.core.management import call_command

from essays.markup import (
    ESSAY_ATTRIBUTES,
    ESSAY_TAGS,
    SAFE_PROTOCOLS,
    paragraphs,
    plain_text,
    render_essay,
)
from essays.models import Section

ESSAY = """\
---
title: Anchors
slug: anchors
---

## Only Section

The first paragraph.

The second paragraph.

The third paragraph.
"""


class Elements(HTMLParser):
    """Every element of an HTML fragment, as (tag, attributes)."""

    def __init__(self, html):
        super().__init__()
        self.found = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, dict(attrs)))


def anchors(html):
    return {text: anchor for anchor, text in paragraphs(html)}


def render_paragraphs(count):
    return render_essay("\n\n".join(f"Paragraph number {n}." for n in range(count)), "s")


@pytest.mark.django_db
def test_it_keeps_a_paragraphs_anchor_when_a_paragraph_is_inserted_elsewhere(tmp_path):
    path = tmp_path / "essay.md"
    path.write_text(ESSAY)
    call_command("import_essay", str(path), stdout=StringIO())
    before = anchors(Section.objects.get(slug="only-section").body_html)

    path.write_text(ESSAY.replace("The second", "An inserted paragraph.\n\nThe second"))
    call_command("import_essay", str(path), stdout=StringIO())

    after = anchors(Section.objects.get(slug="only-section").body_html)
    assert len(after) == 4
    assert {text: after[text] for text in before} == before


def test_it_gives_repeated_paragraphs_distinct_ids():
    html = render_essay("Same words.\n\nOther words.\n\nSame words.\n\nSame words.", "s")

    ids = [anchor for anchor, _ in paragraphs(html)]
    assert len(set(ids)) == 4
    assert ids[2:] == [f"{ids[0]}-2", f"{ids[0]}-3"]
    assert f'href="#{ids[3]}"' in html  # each pilcrow links to its own paragraph


@pytest.mark.parametrize(
    "source",
    [
        "<script>alert(1)</script>",
        "Text <script>alert(1)</script> inline.",
        "<img src=x onerror=alert(1)>",
        "<svg onload=alert(1)></svg>",
        '<a href="javascript:alert(1)">x</a>',
        '<iframe src="https://evil.example"></iframe>',
        "<style>body { display: none }</style>",
        "[x](javascript:alert(1))",
        "[x](JaVaScRiPt:alert(1))",
        "[x](&#106;avascript:alert(1))",
        "[x](<javascript:alert(1)>)",
        "<javascript:alert(1)>",
        "[x](vbscript:msgbox(1))",
        "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
        "[x](data:image/png;base64,iVBORw0KGgo=)",
        "![x](data:image/png;base64,iVBORw0KGgo=)",
        "![x](javascript:alert(1))",
        '![x" onerror="alert(1)](https://example.com/a.png)',
        '[x](https://example.com "t\\" onmouseover=\\"alert(1)")',
        "[ref]\n\n[ref]: javascript:alert(1)",
        "| a |\n|---|\n| <img src=x onerror=alert(1)> |",
    ],
)
def test_it_renders_hostile_markdown_inert(source):
    html = render_essay(source, "s")

    assert "<script" not in html.lower()
    for tag, attributes in Elements(html).found:
        assert tag in ESSAY_TAGS
        assert set(attributes) <= set(ESSAY_ATTRIBUTES.get(tag, []))
        for name in ("href", "src"):
            if name in attributes:
                assert urlsplit(attributes[name]).scheme in {"", *SAFE_PROTOCOLS}


def test_it_starts_headings_inside_a_section_at_h3():
    html = render_essay("# One\n\n## Two\n\n### Three\n\n#### Four\n\nFive\n====\n\nSix\n---", "s")

    assert [tag for tag, _ in Elements(html).found] == ["h3", "h3", "h3", "h4", "h3", "h3"]
    assert "<h3>One</h3>" in html
    assert "<h4>Four</h4>" in html
    assert "<h3>Five</h3>" in html


def test_it_renders_5000_paragraphs_each_with_its_own_anchor():
    # How long this takes, and that it grows in proportion to the text, is measured by
    # bench/markup.py: the suite does not depend on the machine's speed.
    html = render_paragraphs(5000)

    found = paragraphs(html)
    assert len(found) == 5000
    assert len({anchor for anchor, _ in found}) == 5000


def test_an_edit_of_every_paragraph_of_a_long_section_keeps_every_anchor():
    # How long it takes, and that it grows with the text, is measured by bench/anchors.py.
    text = "\n\n".join(f"Paragraph {n} is about rivers and the sea." for n in range(1000))
    before = paragraphs(render_essay(text, "s"))

    after = paragraphs(render_essay(text.replace("rivers", "streams"), "s", before_html(before)))

    assert [anchor for anchor, _ in after] == [anchor for anchor, _ in before]
    assert after[0][1] == "Paragraph 0 is about streams and the sea."


def test_a_rewritten_paragraph_gets_a_new_anchor_and_an_edited_one_keeps_its_own():
    text = "Alpha beta gamma delta epsilon zeta eta theta.\n\nOne two three four five six."
    before = paragraphs(render_essay(text, "s"))
    edited = text.replace("epsilon", "EPSILON").replace("One two three four five six", "Wholly new")

    after = paragraphs(render_essay(edited, "s", before_html(before)))

    assert after[0][0] == before[0][0]  # lightly edited: the same paragraph
    assert after[1][0] != before[1][0]  # rewritten: a paragraph of its own


def before_html(found):
    return "".join(f'<p id="{anchor}">{text}</p>' for anchor, text in found)


def test_plain_text_is_each_block_as_readers_see_it_separated_by_a_blank_line():
    html = render_essay(
        "A *first*   paragraph &amp; more.\n\n"
        "- one\n- two\n\n"
        "| a | b |\n| - | - |\n| c | d |\n\n"
        "```\ncode   here\n```\n",
        "s",
    )

    assert (
        plain_text(html)
        == "A first paragraph & more.\n\none\n\ntwo\n\na\n\nb\n\nc\n\nd\n\ncode here"
    )
