"""Where a quoted passage is after its section changed: pure functions on strings.

A comment that quotes a passage keeps a selector set in the manner of the W3C Web
Annotation model: a text-quote selector (the exact words, with up to 40 characters of
prefix and suffix) and a text-position selector (start and end in the section's plain
text, where its current wording sits). When the section gets a new revision, each
selector is re-anchored from the old plain text to the new one in three steps:

1. **Through the diff.** The two texts are compared with the standard library's
   `difflib.SequenceMatcher`, paragraph by paragraph and then word by word inside the
   paragraphs that changed (computed once per edit, shared by every comment of the
   section). A span whose words all lie in unchanged stretches maps to its new
   place: if the words there are the quote's, the comment is *anchored*.
2. **Exact search.** Otherwise the quote's words are searched for in the new text
   (whitespace, paragraph breaks included, counts as one space: a paragraph split or
   merged does not change the words). Several occurrences are ranked by how well their
   surroundings match the stored prefix and suffix, then by their distance from the
   expected place (where the diff sends the old position). The winner is *anchored*
   unless the choice is unsure: a short quote (under `SHORT_QUOTE` characters) or a
   tie between occurrences needs its context to agree (`CONTEXT_AGREES`), otherwise
   it goes to *review*.
3. **Approximate match**, with rapidfuzz (`fuzz.partial_ratio_alignment` finds where
   the quote aligns best, first near the expected place, then in the whole text). The
   span's ends are moved word by word (a few words each way) to where the words are
   most like the quote, and the match is scored:

       similarity = fuzz.ratio(quote, words found) / 100
       confidence = 0.7 * similarity + 0.1 * prefix agreement + 0.1 * suffix agreement
                    + 0.1 * closeness to the expected place

   - similarity ≥ `CHANGED_SIMILARITY` (0.75) and confidence ≥ `CHANGED_CONFIDENCE`
     (0.75): **changed**, the passage was reworded; old and new wording are kept.
   - similarity ≥ `REVIEW_SIMILARITY` (0.6), or a changed-grade match below the
     confidence bar: **review**, a low-confidence match for an editor to confirm.
     (Unrelated English sentences of the same length score about 0.5 on this
     character-level measure, hence the bar above it.)
   - below that: **orphaned**, the passage is gone; the quote stays, with the revision
     it came from.

A wrong silent re-attachment is the worst outcome, so every doubt ends in *review*.
A comment keeps *changed* or *review* while later edits leave its passage untouched,
and becomes *anchored* again when the quote's own words come back.
"""

import bisect
import difflib
import re
from dataclasses import dataclass

from rapidfuzz import fuzz

ANCHORED, CHANGED, ORPHANED, REVIEW = "anchored", "changed", "orphaned", "review"

CHANGED_SIMILARITY = 0.75  # the new wording must be at least this close to the quote
CHANGED_CONFIDENCE = 0.75  # ...and the match as a whole at least this sure
REVIEW_SIMILARITY = 0.6  # below this the passage is gone
SHORT_QUOTE = 30  # characters: shorter quotes need their context to agree
CONTEXT_AGREES = 0.6  # prefix/suffix similarity that confirms an exact match
CONTEXT = 40  # characters of prefix and suffix kept, as essays.models.QUOTE_CONTEXT

_token = re.compile(r"\w+|\s+|[^\w\s]")
_paragraph = re.compile(r"[^\n]+\n*|\n+")
WORD_DIFF_LIMIT = 8_000  # characters: a larger rewritten stretch maps proportionally
_word_start = re.compile(r"(?<!\w)\w|[^\w\s]")
_word_end = re.compile(r"\w(?!\w)|[^\w\s]")


@dataclass(frozen=True)
class Quote:
    """The text-quote selector: the words quoted and a little context on each side."""

    exact: str
    prefix: str = ""
    suffix: str = ""


@dataclass(frozen=True)
class Anchor:
    """Where a quote is in a text now (start/end None when orphaned), and how sure."""

    state: str
    start: int | None
    end: int | None
    confidence: float

    def wording(self, text: str) -> str:
        return "" if self.start is None else text[self.start : self.end]


def normalized(text: str) -> str:
    return " ".join(text.split())


def same_words(a: str, b: str) -> bool:
    """Whether two stretches of text say the same, whitespace aside."""
    return normalized(a) == normalized(b)


def similarity(a: str, b: str) -> float:
    """How alike two wordings are, from 0 to 1 (whitespace aside)."""
    return fuzz.ratio(normalized(a), normalized(b)) / 100


class Diff:
    """The differences between two texts, to map positions from old to new: paragraphs
    first, then words within the paragraphs that changed.

    Comparing a whole section word by word is quadratic in practice: the spaces and the
    common words occur thousands of times, and difflib tries each occurrence (a
    110,000-character section took minutes). Paragraphs are nearly all distinct, so
    aligning them is fast, and the word-level pass only sees what changed."""

    def __init__(self, old: str, new: str):
        self.old, self.new = old, new
        # (old start, old end, new start, new end, equal?) in characters, in order.
        self.blocks: list[tuple[int, int, int, int, bool]] = []
        old_lines, new_lines = _paragraph.findall(old), _paragraph.findall(new)
        old_at, new_at = _offsets(old_lines), _offsets(new_lines)
        lines = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False)
        for tag, i1, i2, j1, j2 in lines.get_opcodes():
            o1, o2, n1, n2 = old_at[i1], old_at[i2], new_at[j1], new_at[j2]
            if tag == "replace" and (o2 - o1) + (n2 - n1) <= WORD_DIFF_LIMIT:
                self._words(o1, o2, n1, n2)
            else:
                self._add(o1, o2, n1, n2, tag == "equal")
        self._starts = [block[0] for block in self.blocks]

    def _words(self, o1: int, o2: int, n1: int, n2: int) -> None:
        old_tokens = _token.findall(self.old[o1:o2])
        new_tokens = _token.findall(self.new[n1:n2])
        old_at, new_at = _offsets(old_tokens), _offsets(new_tokens)
        words = difflib.SequenceMatcher(None, old_tokens, new_tokens, autojunk=False)
        for tag, i1, i2, j1, j2 in words.get_opcodes():
            self._add(
                o1 + old_at[i1], o1 + old_at[i2], n1 + new_at[j1], n1 + new_at[j2], tag == "equal"
            )

    def _add(self, o1: int, o2: int, n1: int, n2: int, equal: bool) -> None:
        if o1 == o2 and n1 == n2:
            return
        last = self.blocks[-1] if self.blocks else None
        if last and last[4] and equal:  # one equal stretch, not two touching ones
            self.blocks[-1] = (last[0], o2, last[2], n2, True)
        else:
            self.blocks.append((o1, o2, n1, n2, equal))

    def map(self, start: int, end: int) -> tuple[int, int, bool]:
        """Where the span old[start:end] lands in the new text, and whether every
        character of it lies in unchanged stretches (so it moved without change)."""
        if not self.blocks:
            return 0, 0, False
        new_start, start_exact = self._point(start, at_end=False)
        new_end, end_exact = self._point(end, at_end=True)
        untouched = start_exact and end_exact and not self._changes_between(start, end)
        return new_start, max(new_start, new_end), untouched

    def _block_at(self, position: int, at_end: bool) -> int:
        # An end position belongs to the block that holds its last character.
        index = bisect.bisect_right(self._starts, position - 1 if at_end else position) - 1
        return min(max(index, 0), len(self.blocks) - 1)

    def _point(self, position: int, at_end: bool) -> tuple[int, bool]:
        o1, o2, n1, n2, equal = self.blocks[self._block_at(position, at_end)]
        if equal:
            return n1 + (position - o1), True
        # Inside a changed stretch: the same proportion of its replacement.
        share = (position - o1) / (o2 - o1) if o2 > o1 else 0
        return n1 + round(share * (n2 - n1)), False

    def _changes_between(self, start: int, end: int) -> bool:
        # Blocks between the two ends, insertions included (an insertion right before
        # or after the span is not inside it: lookups land past empty blocks).
        first, last = self._block_at(start, False), self._block_at(end, True)
        return any(not self.blocks[i][4] for i in range(first, last + 1))


def _offsets(tokens: list[str]) -> list[int]:
    offsets = [0]
    for token in tokens:
        offsets.append(offsets[-1] + len(token))
    return offsets


def locate(text: str, quote: Quote, near: int = 0) -> Anchor:
    """Where a quote first written against `text` sits in it (a new comment)."""
    return _search(quote, text, near)


def reanchor(
    quote: Quote,
    diff: Diff,
    start: int | None,
    end: int | None,
    state: str = ANCHORED,
) -> Anchor:
    """Re-anchor a comment from diff.old to diff.new.

    `start`/`end` is where its passage was in the old text (None if orphaned), and
    `state` what it was: a passage left untouched by the edit keeps its state."""
    new = diff.new
    if not normalized(quote.exact) or not new.strip():
        return Anchor(ORPHANED, None, None, 0.0)
    expected = len(new) // 2
    if start is not None and end is not None:
        new_start, new_end, untouched = diff.map(start, end)
        expected = new_start
        if untouched:
            found = new[new_start:new_end]
            if same_words(found, quote.exact):
                return Anchor(ANCHORED, new_start, new_end, 1.0)
            if state in (CHANGED, REVIEW) and same_words(found, diff.old[start:end]):
                return Anchor(state, new_start, new_end, similarity(found, quote.exact))
    return _search(quote, new, expected)


def _search(quote: Quote, new: str, expected: int) -> Anchor:
    exact = _exact(quote, new, expected)
    if exact is not None:
        return exact
    return _approximate(quote, new, expected)


def _pattern(exact: str) -> re.Pattern:
    return re.compile(r"\s+".join(map(re.escape, exact.split())))


def _context(quote: Quote, text: str, start: int, end: int) -> float | None:
    """How well the text around text[start:end] matches the stored prefix and suffix
    (None when the quote has no context: it began and ended its paragraph)."""
    scores = []
    if quote.prefix.strip():
        before = text[max(0, start - len(quote.prefix)) : start]
        scores.append(similarity(quote.prefix, before) if before.strip() else 0.0)
    if quote.suffix.strip():
        after = text[end : end + len(quote.suffix)]
        scores.append(similarity(quote.suffix, after) if after.strip() else 0.0)
    return sum(scores) / len(scores) if scores else None


def _exact(quote: Quote, new: str, expected: int) -> Anchor | None:
    """The quote's own words in the new text, if they occur, and how sure the choice is."""
    found = [(m.start(), m.end()) for m in _pattern(quote.exact).finditer(new)]
    if not found:
        return None
    ranked = sorted(
        ((_context(quote, new, s, e), s, e) for s, e in found),
        key=lambda item: (-(item[0] or 0), abs(item[1] - expected)),
    )
    context, start, end = ranked[0]
    unsure = len(normalized(quote.exact)) < SHORT_QUOTE or (
        len(ranked) > 1 and (ranked[1][0] or 0) >= (context or 0) - 0.05
    )
    if unsure and context is not None and context < CONTEXT_AGREES:
        return Anchor(REVIEW, start, end, round(0.5 * (context or 0) + 0.5, 3))
    return Anchor(ANCHORED, start, end, 1.0 if context is None else round(context, 3))


def _refine(quote: Quote, text: str, start: int, end: int) -> tuple[int, int]:
    """The span's ends moved by up to a few words each way, to where the words found
    are most like the quote (the alignment's ends are only roughly right); the stored
    prefix and suffix break near-ties (a reworded first word still belongs to the span)."""
    starts = [m.start() for m in _word_start.finditer(text, max(0, start - 60), start + 60)]
    ends = [m.end() for m in _word_end.finditer(text, max(0, end - 60), end + 60)]
    wanted = normalized(quote.exact)
    prefix, suffix = normalized(quote.prefix), normalized(quote.suffix)

    def score(s: int, e: int) -> float:
        if e <= s:
            return -1
        found = fuzz.ratio(wanted, normalized(text[s:e]))
        if prefix:
            before = normalized(text[max(0, s - len(quote.prefix)) : s])
            found += 0.1 * fuzz.ratio(prefix, before)
        if suffix:
            found += 0.1 * fuzz.ratio(suffix, normalized(text[e : e + len(quote.suffix)]))
        return found

    best = (score(start, end), start, end)
    # Each end in turn, twice: linear in the candidates rather than their product.
    for _ in range(2):
        best = max([best, *((score(s, best[2]), s, best[2]) for s in starts)])
        best = max([best, *((score(best[1], e), best[1], e) for e in ends)])
    _, start, end = best
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _approximate(quote: Quote, new: str, expected: int) -> Anchor:
    wanted = normalized(quote.exact)
    reach = max(200, 2 * len(wanted))
    low = max(0, expected - reach)
    window = new[low : expected + len(wanted) + reach]
    candidates = []
    for offset, haystack in ((low, window), (0, new)):
        match = fuzz.partial_ratio_alignment(wanted, haystack)
        if match is not None and match.score > 0:
            start, end = offset + match.dest_start, offset + match.dest_end
            candidates.append(_refine(quote, new, start, end))
    best = Anchor(ORPHANED, None, None, 0.0)
    for start, end in candidates:
        if end <= start:
            continue
        alike = similarity(quote.exact, new[start:end])
        context = _context(quote, new, start, end)
        closeness = 1 - min(1.0, abs(start - expected) / max(len(new), 1))
        confidence = 0.7 * alike + 0.2 * (alike if context is None else context)
        confidence = round(confidence + 0.1 * closeness, 3)
        if alike >= CHANGED_SIMILARITY and confidence >= CHANGED_CONFIDENCE:
            state = CHANGED
        elif alike >= REVIEW_SIMILARITY:
            state = REVIEW
        else:
            continue
        rank = {CHANGED: 2, REVIEW: 1}
        if (rank[state], confidence) > (rank.get(best.state, 0), best.confidence):
            best = Anchor(state, start, end, confidence)
    return best


def paragraph_spans(paragraphs: list[tuple[str, str]], text: str) -> list[tuple[int, int, str]]:
    """(start, end, anchor) of each anchored paragraph in the plain text, in order:
    `paragraphs` as essays.markup.paragraphs() gives them, `text` as plain_text()."""
    spans, cursor = [], 0
    for anchor, words in paragraphs:
        start = text.find(words, cursor)
        if start < 0 or not words:
            continue
        spans.append((start, start + len(words), anchor))
        cursor = start + len(words)
    return spans


def paragraph_at(spans: list[tuple[int, int, str]], position: int | None) -> str:
    """The anchor of the paragraph holding `position` ("" if none does: a list, a
    heading, or an orphaned quote)."""
    if position is None:
        return ""
    index = bisect.bisect_right(spans, (position, float("inf"))) - 1
    if index >= 0 and spans[index][0] <= position < spans[index][1]:
        return spans[index][2]
    return ""
