"""Searching comments and the essays' text.

On PostgreSQL: full-text search (English stemming, `websearch` syntax: words, "quoted
phrases", -exclusions), ranked, with highlighted snippets, using a GIN index on the
comments' stored search vector (migration 0004). On SQLite: every word must appear (in
simple forms: "weights" finds "weight"), newest first, with a snippet around the first
match. Essays are found by their title and summary, sections by their heading, text
and essay's title. Both respect the one visibility rule, and snippets are cut from the
rendered text (`essays.markup.plain_text`), never from the Markdown.
"""

import re
from dataclasses import dataclass

from django.contrib.postgres.search import SearchHeadline, SearchQuery, SearchRank, SearchVector
from django.db import connection
from django.db.models import Case, F, Q, Value, When
from django.utils.html import escape

from essays.markup import plain_text
from essays.models import Essay, Section
from forum.models import SEARCH_CONFIG, Comment

MAX_QUERY_LENGTH = 200
SNIPPET_WORDS = 30
# Most matching comments ranked for one search (PostgreSQL), newest first.
CANDIDATES = 1000
# Markers the database puts around matches; escaped text never contains them.
START, STOP = "\x02", "\x03"
CONFIG = SEARCH_CONFIG

_control = re.compile(r"[\x00-\x1f\x7f]")


class SearchError(ValueError):
    """The query cannot be searched for; the message says why."""


def clean_query(raw: str) -> str:
    query = " ".join(_control.sub(" ", raw).split())
    if not query:
        raise SearchError("Type a word or two to search for.")
    if len(query) > MAX_QUERY_LENGTH:
        raise SearchError(f"Please shorten your search to {MAX_QUERY_LENGTH} characters.")
    if not re.search(r"\w", query):
        raise SearchError("Search for words: punctuation alone matches nothing.")
    return query


@dataclass
class SectionHit:
    section: Section
    snippet: str


@dataclass
class EssayHit:
    essay: Essay
    snippet: str


def search_comments(query: str, user):
    """Published comments the viewer may see that match, best first (a queryset with
    a `snippet` on each row, HTML-safe, matches in <mark>)."""
    visible = (
        Comment.objects.visible_to(user).published().select_related("author", "section__essay")
    )
    if connection.vendor == "postgresql":
        search = SearchQuery(query, search_type="websearch", config=CONFIG)
        # The stored, GIN-indexed vector: matching and ranking never re-parse the text.
        # Ranking reads every candidate's vector, so a very common word (tens of
        # thousands of matches) is ranked among the newest CANDIDATES matches only.
        newest = (
            visible.filter(search_vector=search)
            .order_by("-created_at", "-pk")
            .values("pk")[:CANDIDATES]
        )
        return (
            Comment.objects.filter(pk__in=newest)
            .select_related("author", "section__essay")
            .annotate(rank=SearchRank(F("search_vector"), search))
            .annotate(headline=_headline("body_html", search))
            .order_by("-rank", "-created_at")
        )
    matching = Q()
    for stem in _stems(query):
        matching &= Q(body__icontains=stem)
    return visible.filter(matching).order_by("-created_at", "-pk")


def is_capped(count: int) -> bool:
    """Whether more comments matched than were ranked (PostgreSQL's bounded ranking)."""
    return connection.vendor == "postgresql" and count >= CANDIDATES


def search_essays(query: str, user) -> list[EssayHit]:
    """Essays whose title or summary match, best first (at most five)."""
    essays = Essay.objects.visible_to(user)
    if connection.vendor == "postgresql":
        search = SearchQuery(query, search_type="websearch", config=CONFIG)
        vector = SearchVector("title", weight="A", config=CONFIG) + SearchVector(
            "summary", weight="B", config=CONFIG
        )
        # Matching, not a rank above 0: ts_rank gives partial credit to an AND query.
        found = (
            essays.annotate(document=vector, rank=SearchRank(vector, search))
            .filter(document=search)
            .annotate(headline=_headline("summary", search))
            .order_by("-rank", "position")[:5]
        )
        return [EssayHit(e, highlight(e.headline)) for e in found]
    stems = _stems(query)
    matching = Q()
    for stem in stems:
        matching &= Q(title__icontains=stem) | Q(summary__icontains=stem)
    return [
        EssayHit(e, snippet(e.summary, stems))
        for e in essays.filter(matching).order_by("position")[:5]
    ]


def search_sections(query: str, user) -> list[SectionHit]:
    """Sections whose heading, text or essay's title match, best first (at most five)."""
    sections = Section.objects.filter(essay__in=Essay.objects.visible_to(user)).select_related(
        "essay"
    )
    if connection.vendor == "postgresql":
        search = SearchQuery(query, search_type="websearch", config=CONFIG)
        vector = (
            SearchVector("heading", weight="A", config=CONFIG)
            + SearchVector("essay__title", weight="C", config=CONFIG)
            + SearchVector("body_markdown", weight="B", config=CONFIG)
        )
        found = (
            sections.annotate(document=vector, rank=SearchRank(vector, search))
            .filter(document=search)
            .annotate(headline=_headline("body_html", search))
            .order_by("-rank", "essay__position", "position")[:5]
        )
        return [SectionHit(s, highlight(s.headline)) for s in found]
    stems = _stems(query)
    matching = Q()
    in_heading = Q()
    for stem in stems:
        matching &= (
            Q(body_markdown__icontains=stem)
            | Q(heading__icontains=stem)
            | Q(essay__title__icontains=stem)
        )
        in_heading &= Q(heading__icontains=stem)
    found = sections.filter(matching).annotate(
        # Sections whose heading has every word first, as PostgreSQL's weights do.
        heading_match=Case(When(in_heading, then=Value(0)), default=Value(1))
    )
    return [
        SectionHit(s, snippet(plain_text(s.body_html), stems))
        for s in found.order_by("heading_match", "essay__position", "position")[:5]
    ]


def _headline(field: str, search) -> SearchHeadline:
    """A snippet around the matches, with markers that highlight() turns into <mark>."""
    return SearchHeadline(
        field,
        search,
        config=CONFIG,
        start_sel=START,
        stop_sel=STOP,
        max_words=SNIPPET_WORDS,
        min_words=10,
    )


def add_snippets(comments, query: str) -> None:
    """Give each found comment a `snippet`: the database's headline on PostgreSQL, one
    cut from the text on SQLite; both from the rendered text, not the Markdown."""
    stems = _stems(query)
    for comment in comments:
        headline = getattr(comment, "headline", None)
        comment.snippet = (
            highlight(headline)
            if headline is not None
            else snippet(plain_text(comment.body_html), stems)
        )


def highlight(headline: str) -> str:
    """The database's snippet (cut from rendered HTML) as plain text, escaped, with its
    match markers turned into <mark>."""
    # ts_headline leaves a space where an inline tag closed before punctuation.
    text = escape(re.sub(r" +(?=[.,;:!?)])", "", plain_text(headline)))
    return text.replace(START, "<mark>").replace(STOP, "</mark>")


def snippet(plain: str, stems: list[str]) -> str:
    """About SNIPPET_WORDS words of plain text around the first match, each word that
    starts with a stem marked (SQLite)."""
    plain = " ".join(plain.split())
    lowered = plain.lower()
    first = min((i for w in stems if (i := lowered.find(w.lower())) >= 0), default=0)
    start = max(0, plain.rfind(" ", 0, max(0, first - 80)) + 1)
    piece = plain[start : start + 240]
    pattern = "|".join(re.escape(w) for w in sorted(stems, key=len, reverse=True))
    marked = re.sub(f"((?:{pattern})\\w*)", f"{START}\\1{STOP}", piece, flags=re.I)
    text = escape(marked).replace(START, "<mark>").replace(STOP, "</mark>")
    return ("…" if start else "") + text + ("…" if start + 240 < len(plain) else "")


def _words(query: str) -> list[str]:
    return [w for w in re.findall(r"[\w'’-]+", query) if w][:10]


# Endings taken off a word so that SQLite finds its simple forms: "weights" finds
# "weight" and "weights", "licensed" finds "license"; the rest must still be 3 letters.
SUFFIXES = ("'s", "’s", "ies", "ing", "ed", "es", "s")


def stem(word: str) -> str:
    word = word.lower()
    for suffix in SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def _stems(query: str) -> list[str]:
    return [stem(w) for w in _words(query)]
