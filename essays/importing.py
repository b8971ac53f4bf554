"""Reading an essay from Markdown and storing it.

The format: a front-matter block (`title`, optional `slug` and `summary`) between two
`---` lines, then Markdown whose `##` headings start sections. Text before the first
heading becomes an "Introduction" section.

Parsing is separate from storing so that every problem with a file is found before
anything is written.
"""

import re
from dataclasses import dataclass, field
from pathlib import Path

from django.db import transaction
from django.utils.text import slugify

from essays.models import Essay, Section

BUNDLED_ESSAYS_DIR = Path(__file__).resolve().parent / "content"
MAX_FILE_BYTES = 2 * 1024 * 1024
FRONT_MATTER_KEYS = {"title", "slug", "summary"}
INTRODUCTION = "Introduction"

_heading = re.compile(r"^## +(?P<text>.+?)(?: +#+)? *$")
_fence = re.compile(r"^ {0,3}(```|~~~)")


class EssayFormatError(ValueError):
    """The file cannot be imported; the message says why in one line."""


@dataclass(frozen=True)
class ParsedSection:
    heading: str
    slug: str
    body: str


@dataclass(frozen=True)
class ParsedEssay:
    title: str
    slug: str
    summary: str
    sections: list[ParsedSection]


@dataclass
class ImportReport:
    essay: Essay
    created: bool = False
    essay_changed: bool = False
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    pruned: list[str] = field(default_factory=list)

    @property
    def changed_anything(self) -> bool:
        return bool(self.created or self.essay_changed or self.added or self.updated or self.pruned)


def read_essay_file(path: Path) -> ParsedEssay:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise EssayFormatError(
                f"the file is too large ({size // 1024} KiB; the limit is "
                f"{MAX_FILE_BYTES // 1024} KiB)"
            )
        data = path.read_bytes()
    except FileNotFoundError:
        raise EssayFormatError("no such file") from None
    except IsADirectoryError:
        raise EssayFormatError("this is a folder, not a file") from None
    except PermissionError:
        raise EssayFormatError("the file cannot be read (permission denied)") from None
    return parse_essay(data)


def parse_essay(data: bytes) -> ParsedEssay:
    if not data.strip():
        raise EssayFormatError("the file is empty")
    if b"\x00" in data:
        raise EssayFormatError("the file contains binary data (NUL bytes), not Markdown text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise EssayFormatError(
            f"the file is not UTF-8 text (bad byte at offset {exc.start})"
        ) from None
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")

    meta, body_start = _front_matter(lines)
    title = meta.get("title", "")
    if not title:
        raise EssayFormatError("no title: the front matter needs a 'title:' line")
    if len(title) > Essay._meta.get_field("title").max_length:
        raise EssayFormatError("the title is longer than 200 characters")
    slug = slugify(meta.get("slug") or title)
    if not slug:
        raise EssayFormatError("the essay needs a slug with letters or digits")
    sections = _sections(lines, body_start)
    if not sections:
        raise EssayFormatError("the essay has no text after its front matter")
    return ParsedEssay(title=title, slug=slug, summary=meta.get("summary", ""), sections=sections)


def _front_matter(lines: list[str]) -> tuple[dict[str, str], int]:
    if lines[0].strip() != "---":
        raise EssayFormatError(
            "no title: the file must start with a front-matter block ('---', 'title: ...', '---')"
        )
    meta: dict[str, str] = {}
    for number, line in enumerate(lines[1:], start=2):
        if line.strip() == "---":
            return meta, number
        if not line.strip():
            continue
        key, colon, value = line.partition(":")
        key = key.strip().lower()
        if not colon:
            raise EssayFormatError(
                f"line {number}: front matter lines look like 'key: value' "
                "(is the closing '---' missing?)"
            )
        if key not in FRONT_MATTER_KEYS:
            raise EssayFormatError(
                f"line {number}: unknown front-matter key {key!r} "
                f"(known: {', '.join(sorted(FRONT_MATTER_KEYS))})"
            )
        if key in meta:
            raise EssayFormatError(f"line {number}: {key!r} is given twice")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1].strip()  # YAML-style quoting, for titles with a colon
        meta[key] = value
    raise EssayFormatError("the front-matter block is not closed by a '---' line")


def _sections(lines: list[str], start: int) -> list[ParsedSection]:
    found: list[tuple[str, int, list[str]]] = [(INTRODUCTION, start, [])]
    in_fence = False
    for number, line in enumerate(lines[start:], start=start + 1):
        if _fence.match(line):
            in_fence = not in_fence
        match = None if in_fence else _heading.match(line)
        if match:
            found.append((match["text"].strip(), number, []))
        else:
            found[-1][2].append(line)

    sections: list[ParsedSection] = []
    lines_by_slug: dict[str, int] = {}
    max_heading = Section._meta.get_field("heading").max_length
    for index, (heading, number, body_lines) in enumerate(found):
        body = "\n".join(body_lines).strip("\n")
        if index == 0 and not body.strip():
            continue  # no text before the first heading: no introduction
        if len(heading) > max_heading:
            raise EssayFormatError(
                f"line {number}: the heading is longer than {max_heading} characters"
            )
        slug = slugify(heading)[:200].strip("-")
        if not slug:
            raise EssayFormatError(
                f"line {number}: the heading {heading!r} has no letters or digits to link to"
            )
        if slug in lines_by_slug:
            raise EssayFormatError(
                f"line {number}: duplicate heading {heading!r} "
                f"(same link as the heading on line {lines_by_slug[slug]})"
            )
        lines_by_slug[slug] = number
        sections.append(ParsedSection(heading=heading, slug=slug, body=body + "\n"))
    return sections


@transaction.atomic
def import_essay(parsed: ParsedEssay, *, prune: bool = False) -> ImportReport:
    """Create or update the essay and its sections, matched by slug.

    Importing the same file twice changes nothing. A section whose heading is gone from
    the file is kept and reported unless `prune` is set: deleting reader-visible text
    (and, later, its discussion) should never happen by accident.
    """
    essay = Essay.objects.select_for_update().filter(slug=parsed.slug).first()
    report = ImportReport(essay=essay)
    if essay is None:
        essay = Essay.objects.create(title=parsed.title, slug=parsed.slug, summary=parsed.summary)
        report.essay, report.created = essay, True
    elif (essay.title, essay.summary) != (parsed.title, parsed.summary):
        essay.title, essay.summary = parsed.title, parsed.summary
        essay.save(update_fields=["title", "summary", "updated_at"])
        report.essay_changed = True

    existing = {section.slug: section for section in essay.sections.all()}
    for position, incoming in enumerate(parsed.sections, start=1):
        section = existing.pop(incoming.slug, None)
        wanted = {"heading": incoming.heading, "position": position, "body_markdown": incoming.body}
        if section is None:
            Section.objects.create(essay=essay, slug=incoming.slug, **wanted)
            report.added.append(incoming.heading)
        elif any(getattr(section, name) != value for name, value in wanted.items()):
            for name, value in wanted.items():
                setattr(section, name, value)
            section.save()
            report.updated.append(incoming.heading)
        else:
            report.unchanged.append(incoming.heading)

    for section in existing.values():
        if prune:
            section.delete()
            report.pruned.append(section.heading)
        else:
            report.missing.append(section.heading)
    return report
