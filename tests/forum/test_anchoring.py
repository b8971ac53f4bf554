"""Re-anchoring a quoted passage when its section changes (forum/anchoring.py).

Each case is an edit of a section's plain text (paragraphs apart by a blank line) and
where the quote must end up: its state and the words at its new place.
"""

import itertools
import random
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forum.anchoring import (
    ANCHORED,
    CHANGED,
    CHANGED_SIMILARITY,
    ORPHANED,
    REVIEW,
    REVIEW_SIMILARITY,
    Diff,
    Quote,
    locate,
    reanchor,
    same_words,
    similarity,
)

P1 = (
    "Open weights change who can study a model. A researcher with a laptop can now "
    "inspect what only a lab could before."
)
P2 = (
    "Licences matter less than people think. What matters is whether the weights, "
    "the data and the evaluation can be checked by others."
)
P3 = "Closed models ask for trust; open ones invite scrutiny, and scrutiny is slow work."
TEXT = f"{P1}\n\n{P2}\n\n{P3}"
QUOTED = "whether the weights, the data and the evaluation can be checked"


def quote_in(text: str, exact: str, occurrence: int = 0) -> tuple[Quote, int, int]:
    start = -1
    for _ in range(occurrence + 1):
        start = text.index(exact, start + 1)
    end = start + len(exact)
    return Quote(exact, text[max(0, start - 40) : start], text[end : end + 40]), start, end


CASES = {
    "unchanged": (TEXT, ANCHORED, QUOTED),
    "typo fixed inside the passage": (
        TEXT.replace("evaluation can", "evaluations can"),
        CHANGED,
        "whether the weights, the data and the evaluations can be checked",
    ),
    "sentence inserted before": (
        TEXT.replace("Licences matter", "This is new. Licences matter"),
        ANCHORED,
        QUOTED,
    ),
    "paragraph inserted before": (f"A new opening.\n\n{TEXT}", ANCHORED, QUOTED),
    "passage moved to another paragraph": (
        f"{P1} What matters is {QUOTED} by others.\n\nLicences matter less than "
        f"people think.\n\n{P3}",
        ANCHORED,
        QUOTED,
    ),
    "reworded lightly": (
        TEXT.replace(QUOTED, "whether the weights, the data and the evaluations may be checked"),
        CHANGED,
        "whether the weights, the data and the evaluations may be checked",
    ),
    "reworded heavily": (
        TEXT.replace(QUOTED, "if outsiders can audit the training corpus and benchmarks"),
        ORPHANED,
        None,
    ),
    "reworded halfway": (
        TEXT.replace(QUOTED, "whether the weights and the benchmarks are open to checks"),
        REVIEW,
        "whether the weights and the benchmarks are open to checks",
    ),
    "passage deleted": (f"{P1}\n\nLicences matter less than people think.\n\n{P3}", ORPHANED, None),
    "paragraph split inside the passage": (
        TEXT.replace("the data and", "the data\n\nand"),
        ANCHORED,
        "whether the weights, the data\n\nand the evaluation can be checked",
    ),
    "paragraphs merged": (TEXT.replace(f"{P1}\n\n", f"{P1} "), ANCHORED, QUOTED),
    "whitespace changed": (
        TEXT.replace("weights, the data", "weights,  the\ndata"),
        ANCHORED,
        "whether the weights,  the\ndata and the evaluation can be checked",
    ),
    "punctuation changed inside the passage": (
        TEXT.replace("weights, the data", "weights; the data"),
        CHANGED,
        "whether the weights; the data and the evaluation can be checked",
    ),
    "punctuation changed around the passage": (
        TEXT.replace("What matters is whether", "What matters: whether"),
        ANCHORED,
        QUOTED,
    ),
    "section emptied (removed)": ("", ORPHANED, None),
    "section renamed (its text unchanged)": (TEXT, ANCHORED, QUOTED),
}


@pytest.mark.parametrize(("new", "state", "wording"), CASES.values(), ids=CASES.keys())
def test_a_quote_follows_its_passage(new, state, wording):
    quote, start, end = quote_in(TEXT, QUOTED)
    anchor = reanchor(quote, Diff(TEXT, new), start, end)
    assert (anchor.state, anchor.wording(new) or None) == (state, wording)
    if state == ANCHORED:
        assert new.count(wording)
        assert anchor.confidence >= 0.6
    if state == CHANGED:
        assert similarity(QUOTED, wording) >= CHANGED_SIMILARITY


SHORT_TWICE = "Scrutiny is slow. " + P1 + " Scrutiny is slow. And the end."


def test_the_same_words_twice_keeps_the_occurrence_quoted():
    quote, start, end = quote_in(SHORT_TWICE, "Scrutiny is slow.", occurrence=1)
    new = "A new start. " + SHORT_TWICE
    anchor = reanchor(quote, Diff(SHORT_TWICE, new), start, end)
    assert anchor.state == ANCHORED
    assert anchor.start == new.rindex("Scrutiny is slow.")


def test_the_same_words_twice_after_a_rewrite_prefers_the_matching_context():
    quote, start, end = quote_in(SHORT_TWICE, "Scrutiny is slow.", occurrence=1)
    # Everything around both occurrences rewritten: the diff cannot place it.
    new = "Scrutiny is slow. Other words entirely here. Scrutiny is slow. And the end."
    anchor = reanchor(quote, Diff(SHORT_TWICE, new), start, end)
    assert anchor.state == ANCHORED
    assert anchor.start == new.rindex("Scrutiny is slow.")


def test_a_short_quote_whose_occurrence_went_is_not_moved_to_its_twin():
    """The quoted occurrence was deleted and the other one stays: the same words, in
    other surroundings, may not be what the comment answered. Hypothesis's client
    silently re-attaches in such cases; here an editor decides."""
    quote, start, end = quote_in(SHORT_TWICE, "Scrutiny is slow.", occurrence=1)
    new = "Scrutiny is slow. Nothing else remains."
    anchor = reanchor(quote, Diff(SHORT_TWICE, new), start, end)
    assert anchor.state == REVIEW


def test_a_changed_passage_stays_changed_while_later_edits_leave_it_alone():
    quote, start, end = quote_in(TEXT, QUOTED)
    second = TEXT.replace("evaluation can", "evaluations can")
    first = reanchor(quote, Diff(TEXT, second), start, end)
    third = "Preface.\n\n" + second
    again = reanchor(quote, Diff(second, third), first.start, first.end, first.state)
    assert (again.state, again.wording(third)) == (CHANGED, first.wording(second))


def test_a_changed_passage_is_anchored_again_when_its_words_come_back():
    quote, start, end = quote_in(TEXT, QUOTED)
    second = TEXT.replace("evaluation can", "evaluations can")
    first = reanchor(quote, Diff(TEXT, second), start, end)
    back = reanchor(quote, Diff(second, TEXT), first.start, first.end, first.state)
    assert (back.state, back.wording(TEXT)) == (ANCHORED, QUOTED)


def test_an_orphaned_quote_is_found_again_if_its_words_return():
    quote, _, _ = quote_in(TEXT, QUOTED)
    anchor = reanchor(quote, Diff("Something else.", TEXT), None, None, ORPHANED)
    assert (anchor.state, anchor.wording(TEXT)) == (ANCHORED, QUOTED)


def test_locate_finds_a_new_quote_in_the_text_it_was_written_against():
    quote, start, end = quote_in(TEXT, QUOTED)
    assert locate(TEXT, quote, near=start) == reanchor(quote, Diff(TEXT, TEXT), start, end)


# --- Properties over random edit sequences ---------------------------------------------

WORDS = ["open", "weights", "model", "data", "trust", "the", "a", "slow", "checks", "lab"]
word = st.sampled_from(WORDS)
sentence = st.lists(word, min_size=3, max_size=10).map(lambda w: " ".join(w).capitalize() + ".")
paragraph = st.lists(sentence, min_size=1, max_size=4).map(" ".join)
section_text = st.lists(paragraph, min_size=1, max_size=4).map("\n\n".join)


@st.composite
def edit(draw, text: str) -> str:
    """One edit of a text: words replaced, inserted or deleted somewhere, or nothing."""
    if not text:
        return draw(section_text)
    at = draw(st.integers(0, len(text)))
    length = draw(st.integers(0, 30))
    kind = draw(st.sampled_from(["replace", "insert", "delete", "paragraph"]))
    if kind == "insert":
        return text[:at] + " " + draw(sentence) + " " + text[at:]
    if kind == "delete":
        return text[:at] + text[at + length :]
    if kind == "paragraph":
        return text[:at] + "\n\n" + text[at:]
    return text[:at] + draw(word) + text[at + length :]


@st.composite
def history(draw):
    text = draw(section_text)
    start = draw(st.integers(0, len(text) - 1))
    end = draw(st.integers(start + 1, min(len(text), start + 80)))
    texts = [text]
    for _ in range(draw(st.integers(1, 5))):
        texts.append(draw(edit(texts[-1])))
    return texts, start, end


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history())
def test_an_anchor_never_claims_words_the_text_does_not_have(case):
    """Never anchored to text without the quote's words, never changed to text less
    alike than CHANGED_SIMILARITY, and review or orphaned otherwise."""
    texts, start, end = case
    quote = Quote(texts[0][start:end], texts[0][max(0, start - 40) : start], texts[0][end:][:40])
    if not quote.exact.split():
        return
    state, where = ANCHORED, (start, end)
    for old, new in itertools.pairwise(texts):
        anchor = reanchor(quote, Diff(old, new), *where, state)
        found = anchor.wording(new)
        if anchor.state == ANCHORED:
            assert same_words(found, quote.exact)
        elif anchor.state == CHANGED:
            assert similarity(found, quote.exact) >= CHANGED_SIMILARITY
        elif anchor.state == REVIEW:
            assert similarity(found, quote.exact) >= REVIEW_SIMILARITY
        else:
            assert anchor.state == ORPHANED
            assert anchor.start is None
        state, where = anchor.state, (anchor.start, anchor.end)


def test_a_long_section_of_common_words_is_compared_quickly():
    """Word by word over the whole text, difflib tried every occurrence of every space
    and common word: a 110,000-character section took 284 s. By paragraphs first, ms."""
    rng = random.Random(1)  # noqa: S311 (repeatable text)
    paragraphs = [" ".join(rng.choice(WORDS) for _ in range(60)) + "." for _ in range(300)]
    old = "\n\n".join(paragraphs)
    changed = paragraphs[150][:100] + " new words " + paragraphs[150][100:]
    new = "A new start.\n\n" + old.replace(paragraphs[150], changed)
    quote, start, end = quote_in(old, paragraphs[200][:80])

    began = time.perf_counter()
    anchor = reanchor(quote, Diff(old, new), start, end)

    assert time.perf_counter() - began < 5
    assert (anchor.state, anchor.start) == (ANCHORED, new.index(paragraphs[200][:80]))
