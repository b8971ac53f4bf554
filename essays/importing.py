"""Reading an essay from Markdown and storing it.

The format: a front-matter block (`title`, `slug`, optional `summary`) between two `---`
lines, then Markdown whose `##` headings start sections. Text before the first heading
becomes an "Introduction" section. The slug is what ties the file to its essay, so it is
required: were it made from the title, correcting the title would create a second essay.

Parsing is separate from storing so that every problem with a file is found before
anything is written.
"""

import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from django.db import transaction
from django.utils.text import slugify

from essays.models import Essay, EssayChange, Section, SectionRevision, Source

BUNDLED_ESSAYS_DIR = Path(__file__).resolve().parent / "content"
MAX_FILE_BYTES = 2 * 1024 * 1024
FRONT_MATTER_KEYS = {"title", "slug", "summary"}
INTRODUCTION = "Introduction"

_heading = re.compile(r"^## +(?P<text>.+?)(?: +#+)? *$")
# A fence line as CommonMark has it: up to three spaces, then three or more backticks or
# tildes, then (on an opening fence only) an info string.
_fence = re.compile(r"^ {0,3}(?P<marker>`{3,}|~{3,})(?P<rest>.*)$")


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
    # Sections no longer in the file but kept, as (heading, position): after the file's.
    missing: list[tuple[str, int]] = field(default_factory=list)
    moved: list[str] = field(default_factory=list)  # kept sections whose position changed
    pruned: list[tuple[str, dict[str, int]]] = field(default_factory=list)

    @property
    def changed_anything(self) -> bool:
        return bool(
            self.created
            or self.essay_changed
            or self.added
            or self.updated
            or self.moved
            or self.pruned
        )


def read_essay_file(path: Path) -> ParsedEssay:
    return parse_essay(_read_bytes(path))


def _read_bytes(path: Path) -> bytes:
    try:
        mode = path.stat().st_mode
        if stat.S_ISDIR(mode):
            raise EssayFormatError("this is a folder, not a file")
        # A device or a pipe may never end (/dev/zero) or block until written to (a FIFO).
        if not stat.S_ISREG(mode):
            raise EssayFormatError("not a regular file")
        with path.open("rb") as file:
            # Read one byte past the limit rather than trust the size stat() gave: files in
            # /proc say 0, and a file may grow while being read.
            data = file.read(MAX_FILE_BYTES + 1)
    except (FileNotFoundError, NotADirectoryError):
        raise EssayFormatError("no such file") from None
    except PermissionError:
        raise EssayFormatError("the file cannot be read (permission denied)") from None
    except OSError as exc:  # a name too long, a symlink loop, a disk error...
        reason = (exc.strerror or type(exc).__name__).lower()
        raise EssayFormatError(f"the file cannot be read ({reason})") from None
    if len(data) > MAX_FILE_BYTES:
        raise EssayFormatError(f"the file is too large (the limit is {MAX_FILE_BYTES // 1024} KiB)")
    return data


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
    title = _title(meta)
    slug = _slug(meta, title)
    sections = _sections(lines, body_start)
    if not sections:
        raise EssayFormatError("the essay has no text after its front matter")
    return ParsedEssay(title=title, slug=slug, summary=meta.get("summary", ""), sections=sections)


def _title(meta: dict[str, str]) -> str:
    title = meta.get("title", "")
    if not title:
        raise EssayFormatError("no title: the front matter needs a 'title:' line")
    max_length = Essay._meta.get_field("title").max_length
    if len(title) > max_length:
        raise EssayFormatError(f"the title is longer than {max_length} characters")
    return title


def _slug(meta: dict[str, str], title: str) -> str:
    max_length = Essay._meta.get_field("slug").max_length
    written = meta.get("slug", "")
    if not written:
        example = slugify(title)[:max_length].strip("-") or "a-short-name"
        raise EssayFormatError(
            f"no slug: add a line like 'slug: {example}' to the front matter, so that later "
            "imports of this file update the same essay"
        )
    slug = slugify(written)
    if not slug:
        raise EssayFormatError(f"the slug {written!r} has no letters or digits (a-z, 0-9)")
    if len(slug) > max_length:
        raise EssayFormatError(f"the slug is longer than {max_length} characters")
    return slug


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


def _opening_fence(line: str) -> str | None:
    """The marker (say "````") if the line opens a fenced code block."""
    match = _fence.match(line)
    if not match or (match["marker"][0] == "`" and "`" in match["rest"]):
        return None  # a backtick fence's info string cannot contain backticks
    return match["marker"]


def _closes_fence(line: str, opening: str) -> bool:
    # Only the same character, at least as many times, with nothing after but spaces:
    # a ``` line inside a ~~~~ block is code, and the headings after it are still code.
    match = _fence.match(line)
    return bool(
        match
        and match["marker"][0] == opening[0]
        and len(match["marker"]) >= len(opening)
        and not match["rest"].strip(" \t")
    )


def _sections(lines: list[str], start: int) -> list[ParsedSection]:
    found: list[tuple[str, int, list[str]]] = [(INTRODUCTION, start, [])]
    fence = None  # the opening fence while inside a fenced code block
    for number, line in enumerate(lines[start:], start=start + 1):
        match = None
        if fence:
            if _closes_fence(line, fence):
                fence = None
        else:
            fence = _opening_fence(line)
            if not fence:
                match = _heading.match(line)
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
                f"line {number}: the heading {heading!r} has no letters or digits (a-z, 0-9) "
                "to link to"
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
    (and, later, its discussion) should never happen by accident. Kept sections move after
    the file's sections, in their previous order, so that no two share a position.
    """
    essay = Essay.objects.select_for_update().filter(slug=parsed.slug).first()
    report = ImportReport(essay=essay)
    changes: list[str] = []
    if essay is None:
        essay = Essay.objects.create(title=parsed.title, slug=parsed.slug, summary=parsed.summary)
        report.essay, report.created = essay, True
    elif (essay.title, essay.summary) != (parsed.title, parsed.summary):
        if essay.title != parsed.title:
            changes.append(f"Title changed from {essay.title!r} to {parsed.title!r}.")
        if essay.summary != parsed.summary:
            changes.append("Summary changed.")
        essay.title, essay.summary = parsed.title, parsed.summary
        essay.save(update_fields=["title", "summary", "updated_at"])
        report.essay_changed = True

    existing = {section.slug: section for section in essay.sections.in_order()}
    previous_order = list(existing)
    for position, incoming in enumerate(parsed.sections, start=1):
        section = existing.pop(incoming.slug, None)
        wanted = {"heading": incoming.heading, "position": position}
        if section is None:
            section = Section(essay=essay, slug=incoming.slug, **wanted)
            section.revise(incoming.body, source=Source.IMPORT)
            report.added.append(incoming.heading)
            if not report.created:
                changes.append(f"Section {incoming.heading!r} added.")
        elif not Section.same_text(incoming.body, section.body_markdown) or any(
            getattr(section, name) != value for name, value in wanted.items()
        ):
            if section.heading != incoming.heading:
                changes.append(f"Section {section.heading!r} renamed to {incoming.heading!r}.")
            section.revise(incoming.body, source=Source.IMPORT, **wanted)
            report.updated.append(incoming.heading)
        else:
            report.unchanged.append(incoming.heading)

    leftover = list(existing.values())  # in their previous order
    if prune:
        for section in leftover:
            _, deleted = section.delete()
            # Say what went with it (a discussion, say), without knowing what it was.
            others = {
                label.split(".")[-1].lower(): count
                for label, count in deleted.items()
                if label not in {Section._meta.label, SectionRevision._meta.label} and count
            }
            report.pruned.append((section.heading, others))
            changes.append(f"Section {section.heading!r} removed (no longer in the file).")
    else:
        _keep_after(leftover, len(parsed.sections), report)
    kept_order = [slug for slug in previous_order if slug in {s.slug for s in parsed.sections}]
    if kept_order != [s.slug for s in parsed.sections if s.slug in previous_order]:
        changes.append("Sections reordered.")
    for summary in changes:
        EssayChange.record(essay, summary, source=Source.IMPORT)
    return report


def _keep_after(kept: list[Section], last_position: int, report: ImportReport) -> None:
    for position, section in enumerate(kept, start=last_position + 1):
        if section.position != position:
            section.position = position
            section.save(update_fields=["position", "updated_at"])
            report.moved.append(section.heading)
        report.missing.append((section.heading, position))
