"""A word-level comparison of two revisions of a section, for readers.

The stdlib's difflib does the matching (SequenceMatcher over words, with the whitespace
between them kept as tokens so that paragraph breaks survive): no dependency for a job
it does well, and the output is plain segments a template turns into <ins>/<del>.
"""

import difflib
import re
from dataclasses import dataclass

_tokens = re.compile(r"\s+|[^\s]+")


@dataclass(frozen=True)
class Segment:
    kind: str  # "same", "removed" or "added"
    text: str


def word_diff(before: str, after: str) -> list[Segment]:
    """`before` turned into `after`, as runs of unchanged, removed and added words."""
    old, new = _tokens.findall(before), _tokens.findall(after)
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    segments: list[Segment] = []

    def add(kind: str, words: list[str]) -> None:
        text = "".join(words)
        if not text:
            return
        if segments and segments[-1].kind == kind:
            segments[-1] = Segment(kind, segments[-1].text + text)
        else:
            segments.append(Segment(kind, text))

    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            add("same", old[i1:i2])
        else:
            add("removed", old[i1:i2])
            add("added", new[j1:j2])
    return segments
