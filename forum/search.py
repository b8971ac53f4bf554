"""Searching comments and the essays' text.

On PostgreSQL: full-text search (English stemming, `websearch` syntax: words, "quoted
phrases", -exclusions), ranked, with highlighted snippets, using a GIN index on the
comments' stored search vector (migration 0004). On SQLite: every word must appear,
newest first, with a snippet around the first match. Both respect the one visibility
rule.
"""

import re
from dataclasses import dataclass

from django.contrib.postgres.search import SearchHeadline, SearchQuery, SearchRank, SearchVector
from django.db import connection
from django.db.models import F, Q
from django.utils.html import escape

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
            .annotate(headline=_headline("body", search))
            .order_by("-rank", "-created_at")
        )
    words = _words(query)
    matching = Q()
    for word in words:
        matching &= Q(body__icontains=word)
    return visible.filter(matching).order_by("-created_at", "-pk")


def is_capped(count: int) -> bool:
    """Whether more comments matched than were ranked (PostgreSQL's bounded ranking)."""
    return connection.vendor == "postgresql" and count >= CANDIDATES


def search_sections(query: str, user) -> list[SectionHit]:
    sections = Section.objects.filter(essay__in=Essay.objects.visible_to(user)).select_related(
        "essay"
    )
    words = _words(query)
    if connection.vendor == "postgresql":
        search = SearchQuery(query, search_type="websearch", config=CONFIG)
        vector = SearchVector("heading", weight="A", config=CONFIG) + SearchVector(
            "body_markdown", weight="B", config=CONFIG
        )
        found = (
            sections.annotate(rank=SearchRank(vector, search))
            .filter(rank__gt=0)
            .annotate(headline=_headline("body_markdown", search))
            .order_by("-rank")[:5]
        )
        return [SectionHit(s, highlight(s.headline)) for s in found]
    matching = Q()
    for word in words:
        matching &= Q(body_markdown__icontains=word) | Q(heading__icontains=word)
    return [
        SectionHit(s, snippet(s.body_markdown, words))
        for s in sections.filter(matching).order_by("essay__position", "position")[:5]
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
    cut from the text on SQLite."""
    words = _words(query)
    for comment in comments:
        headline = getattr(comment, "headline", None)
        comment.snippet = (
            highlight(headline) if headline is not None else snippet(comment.body, words)
        )


def highlight(headline: str) -> str:
    """The database's snippet, escaped, with its match markers turned into <mark>."""
    text = escape(headline.replace("\n", " "))
    return text.replace(START, "<mark>").replace(STOP, "</mark>")


def snippet(text: str, words: list[str]) -> str:
    """About SNIPPET_WORDS words around the first match, matches marked (SQLite)."""
    plain = " ".join(text.split())
    lowered = plain.lower()
    first = min((i for w in words if (i := lowered.find(w.lower())) >= 0), default=0)
    start = max(0, plain.rfind(" ", 0, max(0, first - 80)) + 1)
    piece = plain[start : start + 240]
    pattern = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    marked = highlight(re.sub(f"({pattern})", f"{START}\\1{STOP}", piece, flags=re.I))
    return ("…" if start else "") + marked + ("…" if start + 240 < len(plain) else "")


def _words(query: str) -> list[str]:
    return [w for w in re.findall(r"[\w'’-]+", query) if w][:10]
