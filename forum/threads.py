"""Turning a section's comments into the threads a page shows, in a fixed number of queries.

A page of top-level comments is chosen first (sorted and paginated), then every visible
comment of those threads comes back in one query, already in thread order (by path) and
capped per thread so that one enormous thread cannot make a page unbounded.

Pages and htmx fragments (a new comment, an edit, a vote) build their nodes here, the
same way: the same rows, the same visibility rule, and the viewer's rights from
`Participation`, so a fragment never shows what the page would not.

Every function here is given a section the viewer may read, or a comment they may see
(forum.views.visible_section, forum.comment_views.get_comment, which ask visible_to()):
comments are chosen by `visible_in()`, the same rule without asking again whether the
essay is readable, which was a join and a subquery in each query of a page.
"""

import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from operator import attrgetter
from typing import NamedTuple

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db import connections
from django.db.models import Exists, F, OuterRef, Q, Value, Window
from django.db.models.functions import Coalesce, RowNumber

from accounts.models import User
from config.prepared import Prepared
from forum import caching  # (caching.this_minute(): the tests hold the minute there)
from forum.models import (
    PATH_DIGITS,
    Comment,
    CommentQuerySet,
    Participation,
    Subscription,
    Vote,
    first_unread,
    page_versions,
)

# What a page shows of a comment; the Markdown source, for one, is only needed when
# editing. Pages read these as plain rows: building a thousand model instances (with
# their authors) took three times as long as the query itself.
PAGE_FIELDS = [
    *("id", "section_id", "parent_id", "root_id", "author_id", "status"),
    *("path", "depth", "reply_count", "score", "created_at", "edited_at"),
    *("anchor_state", "anchor_paragraph", "is_pinned", "shows_text"),
    # What every reader sees of it, stored (forum.rendering.Fragments).
    *("fragment", "answered"),
]
# What a page of comments does not read with its rows, as the stored fragment holds it
# (about half of what the database would send, and two joins): read by a second query
# for the few comments rendered whole (_fill_in). Last, so that a row without them
# ends the same way; each with what stands for it until then.
IN_FRAGMENT = {
    **dict.fromkeys(("body_html", "quote_text", "quote_before", "quote_after"), ""),
    **dict.fromkeys(("quote_anchor", "anchor_text", "moderation_reason"), ""),
    # The editors' answer, and the revisions it links between (joined).
    **dict.fromkeys(("editor_answer", "editor_note"), ""),
    **dict.fromkeys(("revision__number", "addressed_in__number"), None),
}


@dataclass(slots=True)
class PageAuthor:
    username: str
    display_name: str

    @property
    def public_name(self) -> str:
        return self.display_name or self.username


class PageComment(NamedTuple):
    """A comment as a page shows it: the fields of PAGE_FIELDS and IN_FRAGMENT, then its
    author. A tuple, made from the row as it is: a class with thirty fields set one by
    one in __init__ took a tenth of a 1,000-comment page's time."""

    id: int
    section_id: int
    parent_id: int | None
    root_id: int | None
    author_id: int | None
    status: str
    path: str
    depth: int
    reply_count: int
    score: int
    created_at: object
    edited_at: object
    anchor_state: str
    anchor_paragraph: str
    is_pinned: bool
    # Whether this viewer may see the text (and author): False for a placeholder.
    shows_text: bool
    # The stored fragment (Comment.fragment) in its chunks, split at FRAGMENT_SEP.
    fragment: list[str] | tuple[str, ...]
    # Whether anyone can see a reply to it (Comment.answered).
    answered: bool
    # IN_FRAGMENT, blank on a page for a comment whose stored fragment holds them.
    body_html: str
    quote_text: str
    quote_before: str
    quote_after: str
    quote_anchor: str
    anchor_text: str
    moderation_reason: str
    editor_answer: str
    editor_note: str
    revision_number: int | None  # the revision of the text it responded to
    addressed_number: int | None  # the revision that addressed it, if one did
    author: PageAuthor | None = None

    @property
    def pk(self) -> int:
        return self.id

    @property
    def is_deleted(self) -> bool:
        return self.status == Comment.Status.DELETED


AUTHOR_ID = PageComment._fields.index("author_id")
FRAGMENT = PageComment._fields.index("fragment")
MISSING = object()

_paragraph_anchor = re.compile(r"p-[0-9a-f]{8}(?:-\d+)?")

SORT_LABELS = {"oldest": "Oldest", "newest": "Newest", "top": "Top"}


@dataclass(slots=True)
class Node:
    comment: PageComment
    replies: list["Node"] = field(default_factory=list)
    # What the viewer may do to this comment (Act values), as Participation decides.
    may: frozenset = frozenset()
    voted: bool = False
    following: bool = False
    # Replies exist below the display depth, or past the per-thread cap: the page links
    # to a page of their own instead.
    continues: bool = False
    # Set on a thread's first comment when the thread had more comments than a page
    # shows: the path of the last one shown, to continue after it.
    more_after: str = ""
    # How many comments the viewer may see below this one that the page does not show
    # (what "Continue this thread" leads to), and below it in all, shown or not.
    continued: int = 0
    below: int = 0


# Pages of top-level threads are found by keyset, not OFFSET: a page is "the threads
# after (or before) this one" in the sort's order, so the last page of a hundred
# thousand threads costs what the first does. A cursor is the key of the thread a page
# continues from, written as numbers joined by dots: pinned (1 or 0), for "top" the
# score, the time created (microseconds since 1970, UTC) and the id. Ties are broken
# by id, so every thread has exactly one place and pages neither repeat nor skip one.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CURSOR = {
    "oldest": re.compile(r"([01])\.([0-9]{1,17})\.([0-9]{1,18})"),
    "newest": re.compile(r"([01])\.([0-9]{1,17})\.([0-9]{1,18})"),
    "top": re.compile(r"([01])\.(-?[0-9]{1,10})\.([0-9]{1,17})\.([0-9]{1,18})"),
}


def sort_key(sort: str) -> list[tuple[str, bool]]:
    """The fields a sort orders top-level threads by, each with whether it descends:
    pinned first, then Comment.SORTS (whose last field, the id, breaks ties)."""
    fields = ["-is_pinned", *Comment.SORTS[sort]]
    return [(name.lstrip("-").replace("pk", "id"), name.startswith("-")) for name in fields]


def encode_cursor(values) -> str:
    """The cursor for a row's key values (in sort_key order)."""
    parts = []
    for value in values:
        if isinstance(value, datetime):
            value = (value - EPOCH) // timedelta(microseconds=1)
        parts.append(str(int(value)))
    return ".".join(parts)


def decode_cursor(sort: str, cursor: str) -> list | None:
    """The key values in a cursor, or None if it is not one for this sort."""
    match = _CURSOR[sort].fullmatch(cursor or "")
    if match is None:
        return None
    pinned, *middle, micros, pk = match.groups()
    try:
        created = EPOCH + timedelta(microseconds=int(micros))
    except OverflowError:
        return None
    if int(pk) == 0:
        return None
    return [pinned == "1", *(int(score) for score in middle), created, int(pk)]


def _beyond(key, values, *, forwards: bool) -> Q:
    """Rows at or past `values` in the order of `key` (before them, backwards). Each
    level repeats its bound on its own field (`created_at >= t`, say) so that
    PostgreSQL and SQLite scan an index range rather than the whole section."""
    (name, descending), *rest = key
    value, *others = values
    lookup = "lt" if descending == forwards else "gt"
    if not rest:
        return Q(**{f"{name}__{lookup}e": value})
    tail = _beyond(rest, others, forwards=forwards)
    if isinstance(value, bool) and value == (lookup == "gt"):
        return Q(**{name: value}) & tail  # nothing lies past this value of a flag
    return Q(**{f"{name}__{lookup}e": value}) & (
        Q(**{f"{name}__{lookup}": value}) | (Q(**{name: value}) & tail)
    )


@dataclass
class ThreadPage:
    """Which top-level threads a page shows, and the cursors to its neighbours."""

    ids: list[int]
    has_next: bool = False
    has_previous: bool = False
    next_cursor: str = ""
    previous_cursor: str = ""
    # The cursor named a thread this reader can see (or there was none): a page the
    # site's own links lead to, which the readers' cache may keep.
    canonical: bool = True
    # Some thread on the page has more comments than a page shows of one
    # (COMMENTS_THREAD_MAX): only then are its comments numbered to cut it (_rows).
    long: bool = True


def _long():
    """Whether a top-level comment's thread is longer than a page shows: it has at
    least COMMENTS_THREAD_MAX replies, of any kind (an upper bound on those a viewer
    sees). Reads at most that many entries of the index on `root`."""
    cap = settings.COMMENTS_THREAD_MAX
    return Exists(Comment.objects.filter(root_id=OuterRef("pk")).order_by()[cap - 1 : cap])


def _first_page(shape, user, section_id: int):
    """The first page of a section's threads in a sort: each row the sort's key (the
    id last), then whether its thread is long (_long)."""
    sort, size, _ = shape
    columns = [*(name for name, _ in sort_key(sort)), "long"]
    top_level = visible_threads(section_id, user).annotate(long=_long())
    return top_level.sorted_by(sort).values_list(*columns)[: size + 1]


# Every view of a section without a cursor sends it: its SQL is made once
# (config/prepared.py).
FIRST_PAGE = Prepared(Comment, _first_page)


def thread_page(section_id: int, user, sort: str, *, after="", before="") -> ThreadPage:
    """One page of the top-level threads of a section `user` sees in `sort` order: the
    first, or the one after or before a cursor. A cursor that is not one gives the
    first page (not canonical), as does one with nothing past it. One query on an
    index, however deep the page (two for a cursor past the end)."""
    size = settings.COMMENTS_PAGE_SIZE
    cursor = after or before
    values = decode_cursor(sort, cursor) if cursor else None
    rows = []
    if values is not None:
        key = sort_key(sort)
        # Each row: the sort's key (the id last), then whether its thread is long.
        columns = [*(name for name, _ in key), "long"]
        top_level = visible_threads(section_id, user).annotate(long=_long())
        ordered = top_level.sorted_by(sort)
        forwards = bool(after)
        if not forwards:
            ordered = ordered.reverse()
        beyond = ordered.filter(_beyond(key, values, forwards=forwards))
        rows = list(beyond.values_list(*columns)[: size + 2])
        anchored = bool(rows) and list(rows[0][:-1]) == values
        if anchored:
            rows = rows[1:]
    if not rows:  # no cursor, not one, or nothing past it: the first page
        rows = FIRST_PAGE.rows((sort, size, settings.COMMENTS_THREAD_MAX), user, section_id)
        return _page(rows, size, has_next=len(rows) > size, canonical=not cursor)
    more = len(rows) > size
    rows = rows[:size]
    if forwards:
        return _page(rows, size, has_next=more, has_previous=True, canonical=anchored)
    return _page(rows[::-1], size, has_next=True, has_previous=more, canonical=anchored)


def _page(rows, size, *, has_next, has_previous=False, canonical=True) -> ThreadPage:
    rows = rows[:size]
    if not rows:
        return ThreadPage(ids=[], canonical=canonical, long=False)
    return ThreadPage(
        ids=[row[-2] for row in rows],
        has_next=has_next,
        has_previous=has_previous,
        next_cursor=encode_cursor(rows[-1][:-1]),
        previous_cursor=encode_cursor(rows[0][:-1]),
        canonical=canonical,
        long=any(row[-1] for row in rows),
    )


def page_of(root, user) -> str:
    """The query string of the section page (oldest first) that shows the top-level
    comment `root`: the first page if it is on it, else the page that starts with it.
    Found by keyset, reading at most a page of ids, however deep the comment."""
    key = sort_key("oldest")
    values = [getattr(root, name) for name, _ in key]
    earlier = list(
        Comment.objects.visible_in(root.section_id, user)
        .top_level()
        .sorted_by("oldest")
        .reverse()
        .filter(_beyond(key, values, forwards=False))
        .exclude(pk=root.pk)
        .values_list(*(name for name, _ in key))[: settings.COMMENTS_PAGE_SIZE]
    )
    if len(earlier) < settings.COMMENTS_PAGE_SIZE:
        return "?sort=oldest"
    return f"?sort=oldest&after={encode_cursor(earlier[0])}"


@dataclass
class Discussion:
    """What a section's page says about its discussion: the page's template reads it.

    It holds no comments. A template's context is a reference cycle (each of its dicts
    points back to it), freed only when the garbage collector next runs; a thousand
    comments reachable from it waited for that with it, and collecting them cost more
    than a millisecond a page. Given only this, they are freed when the view returns."""

    page: ThreadPage
    sort: str
    total: int
    following_section: bool = False
    # Whether the viewer has anything unread, if the page's queries asked (for the bell:
    # Notification.objects.on_the_bell).
    any_unread: bool | None = None


def visible_threads(section, user):
    """The top-level comments of a section this viewer sees: what "N threads" counts."""
    return Comment.objects.visible_in(section, user).top_level()


def section_discussion(
    section, user, *, sort: str, after="", before="", passage: str = ""
) -> tuple[list[Node], Discussion]:
    """The top-level threads on one page of a section's discussion, with their replies,
    and what the page says about them; with `passage` (a paragraph's anchor), the
    threads quoting that paragraph come first on the page (a page of them at most; they
    keep their place on later pages too).

    The page's rows, which the viewer's rule of visibility alone decides, are kept by
    this process between changes to the discussion (KEPT_PAGES); what the viewer may do,
    their votes and follows are asked on every view."""
    sort = sort if sort in Comment.SORTS else "oldest"
    participation = Participation(user, section)
    any_unread = authors_only = None  # (the bell asks for itself)
    if participation.refusal is None:
        voted, followed, any_unread, authors_only = _viewer_in_section(user, section.pk)
    alike = CommentQuerySet.rows_alike_for(user, authors_only)
    key = KEPT_PAGES.key(alike, section, sort, after, before, passage)
    if (kept := KEPT_PAGES.get(key)) is None:
        # Rows kept for every reader are read by the readers' rule, not by this member's:
        # a comment only they see, committed after the query that found none, would
        # otherwise be in them (its text too), for everyone.
        reader = AnonymousUser() if key is not None and alike == "reader" else user
        kept = _page_rows_of(section, reader, sort, after=after, before=before, passage=passage)
        KEPT_PAGES.put(key, kept, _asked(passage))
    page, total, root_ids, comments = kept
    if participation.refusal is not None:
        voted, followed = None, _followed(user, section.pk, comments)
    order = {pk: index for index, pk in enumerate(root_ids)}
    # Replies whose parent is not on the page (hidden, or past the cap) are left out.
    tops = [
        node
        for node in _assemble(comments, participation, followed, voted)
        if node.comment.pk in order
    ]
    threads = sorted(tops, key=lambda node: order[node.comment.pk])
    _count_below(threads, user, section.pk)
    return threads, Discussion(
        page=page,
        sort=sort,
        total=total,
        following_section=None in followed,
        any_unread=any_unread,
    )


def _page_rows_of(section, user, sort: str, *, after: str, before: str, passage: str):
    """section_discussion's page of threads, how many there are, the ids of those it
    shows in order and their rows: what `user`'s rule of visibility decides."""
    page = thread_page(section.pk, user, sort, after=after, before=before)
    # A page with no neighbour holds every thread: they need no counting (one query
    # fewer for most discussions, which fit on one page).
    whole = not (page.has_next or page.has_previous)
    total = len(page.ids) if whole else visible_threads(section, user).count()
    root_ids = page.ids
    if total and _paragraph_anchor.fullmatch(passage):
        quoting = list(
            visible_threads(section, user)
            .filter(anchor_paragraph=passage)
            .sorted_by(sort)
            .values_list("pk", flat=True)[: settings.COMMENTS_PAGE_SIZE]
        )
        root_ids = quoting + [pk for pk in root_ids if pk not in set(quoting)]
    # Threads moved up for a passage were not measured: they may be long.
    capped = page.long or not set(root_ids) <= set(page.ids)
    depth = settings.COMMENTS_DISPLAY_DEPTH - 1
    shape = (capped, settings.COMMENTS_THREAD_MAX)
    comments = _made(PAGE_ROWS.rows(shape, user, root_ids, section.pk, depth), page=True)
    return page, total, root_ids, tuple(comments)


def _spelt(sort: str, cursor: str) -> str | None:
    """How encode_cursor spells the cursor `cursor` (None if it is not one)."""
    values = decode_cursor(sort, cursor)
    return None if values is None else encode_cursor(values)


def _asked(passage: str) -> str:
    """The paragraph a page is asked to put first, if `passage` names one (else "")."""
    return passage if _paragraph_anchor.fullmatch(passage) else ""


class KeptPages:
    """The rows of section pages (_page_rows_of) that this process has read, kept
    until the discussion or the essays change, for every viewer who sees the same rows:
    readers, and members with no comment there that only they see, alike; moderators
    alike (CommentQuerySet.rows_alike_for).

    Kept by the versions the readers' cache keeps its copies by (shared by every
    process: a change made anywhere gives a new one) and by the minute, so that a
    change whose version could not be written shows within the minute, as there. So
    only where the readers' cache is on (READER_CACHE): a per-process cache's versions
    would not see other processes' changes. Up to `budget` comments; the first kept go
    first beyond that.

    The thread query and making its thousand rows were about a third of a member's
    1,000-comment page (README, "Where a full render's time goes")."""

    def __init__(self, budget: int):
        self.budget = budget
        self._kept: dict[tuple, tuple] = {}
        self._size = 0
        self._lock = threading.Lock()

    def key(self, alike: str | None, section, sort, after, before, passage) -> tuple | None:
        """The key of a page's rows for the viewers `alike` (rows_alike_for), or None
        where none is kept (rows of a viewer's own, the readers' cache off, the cache
        unreachable)."""
        if alike is None or not settings.READER_CACHE:
            return None
        if (versions := page_versions(section.pk)) is None:
            return None
        # Only the cursors the site writes (one, spelt as encode_cursor spells it): the
        # page goes by the first alone and by its values, so any other text would be a
        # key of its own for the same rows.
        cursor = after or before
        if (after and before) or (cursor and _spelt(sort, cursor) != cursor):
            return None
        shown = (settings.COMMENTS_PAGE_SIZE, settings.COMMENTS_THREAD_MAX)
        shown += (settings.COMMENTS_DISPLAY_DEPTH, Comment.fragment_tag())
        page = (alike, section.pk, sort, after, before, _asked(passage))
        return (*page, *versions, *shown, caching.this_minute())

    def get(self, key):
        return None if key is None else self._kept.get(key)

    def put(self, key, kept, passage: str = "") -> None:
        """Keep a page's rows, unless a comment shown from its stored fragment has
        none stored in today's format: the renderer makes and stores it, and the next
        view reads it (CommentRenderer._emit); or unless no thread on it quotes the
        paragraph it was asked to put first (`passage`, as in its key)."""
        page, comments = kept[0], kept[-1]
        if key is None or not page.canonical:  # (any text as a cursor would be a key)
            return
        # A paragraph no thread on the page quotes changes nothing on it, and any
        # anchor would be a key: the page without it is kept under its own.
        if passage and not any(c.anchor_paragraph == passage for c in comments if not c.depth):
            return
        tag, published = Comment.fragment_tag()[:-1], Comment.Status.PUBLISHED
        if any(c.fragment[0] != tag for c in comments if c.status == published and c.shows_text):
            return
        with self._lock:
            if key not in self._kept:
                self._kept[key] = kept
                self._size += len(comments) + 1
            while self._size > self.budget and self._kept:
                first = next(iter(self._kept))
                self._size -= len(self._kept.pop(first)[-1]) + 1

    def clear(self) -> None:
        with self._lock:
            self._kept.clear()
            self._size = 0


# Twenty pages of the peers' 1,000-comment thread, 400 of the default 50 threads: about
# 10 MB on PostgreSQL (half a KB a comment, measured; the fragments are KEPT's), 35 MB
# on SQLite (where each page reads its fragments itself).
KEPT_PAGES = KeptPages(budget=20_000)


def subthread(comment, user, after: str = "") -> list[Node]:
    """`comment` and its replies, as deep as a page shows: "continue this thread".
    With `after` (a path), the replies that come after it, for threads longer than a
    page: each shown where its parent is, or on its own when the parent was earlier."""
    queryset = Comment.objects.filter(
        Q(pk=comment.thread_id) | Q(root_id=comment.thread_id), path__startswith=comment.path
    )
    if after:
        queryset = queryset.filter(path__gt=after)
    depth = comment.depth + settings.COMMENTS_DISPLAY_DEPTH - 1
    comments = _rows(queryset, user, comment.section_id, max_depth=depth, page=True)
    participation = Participation(user, comment.section)
    tops = _assemble(comments, participation, _followed(user, comment.section_id, comments))
    if after:
        if comments and len(comments) >= settings.COMMENTS_THREAD_MAX and tops:
            tops[0].more_after = comments[-1].path
    else:
        tops = [node for node in tops if node.comment.pk == comment.pk]
    _count_below(tops, user, comment.section_id)
    return tops


def single(comment, user, *, count_below: bool = False) -> Node | None:
    """One comment as a page would show it to `user`, without its replies: for htmx
    fragments after posting, editing, deleting, voting. None if they can no longer
    see it. With `count_below`, how many replies it holds (one more query if any),
    for a header that says so when the thread is folded."""
    rows = _rows(
        Comment.objects.filter(pk=comment.pk), user, comment.section_id, max_depth=comment.depth
    )
    nodes = _assemble(rows, Participation(user, comment.section), _followed(user, None, rows))
    if not nodes:
        return None
    if count_below:
        # Every reply is past the page: all "continued".
        _count_below(nodes, user, comment.section_id)
    nodes[0].continues = False  # a fragment shows the comment alone
    return nodes[0]


def ancestors(comment, user) -> list[Node]:
    """The comments a new reply hangs from, as the viewer sees them, each with how many
    replies it now holds in all: for the headers an in-place reply makes stale."""
    above = Comment.objects.filter(pk__in=comment.ancestor_ids())
    rows = _rows(above, user, comment.section_id, max_depth=comment.depth)
    nodes = _walk(_assemble(rows, Participation(user, comment.section)))
    by_path = {node.comment.path: node for node in nodes}
    paths = (
        Comment.objects.visible_in(comment.section_id, user)
        .filter(root_id=comment.thread_id)
        .values_list("path", flat=True)
    )
    for path in paths:
        for end in range(PATH_DIGITS, len(path), PATH_DIGITS):
            if (node := by_path.get(path[:end])) is not None:
                node.below += 1
    for node in nodes:
        node.continues = False
    return nodes


def _rows(
    queryset, user, section_id: int, *, max_depth: int, page: bool = False, capped: bool = True
) -> list[PageComment]:
    """The comments of `queryset` visible in the section `section_id`, down to
    `max_depth`, capped per thread, in path order. For a `page` of comments (which
    renders from stored fragments), without what the fragments hold; htmx fragments
    (an edit, a vote) read every field. Not `capped` when no thread can be longer than
    the cap (ThreadPage.long): numbering each thread's comments to cut them was a third
    of PostgreSQL's time for a page."""
    query = _query(queryset, user, section_id, max_depth=max_depth, page=page, capped=capped)
    return _made(query, page=page)


def _page_rows(shape, user, root_ids: list[int], section_id: int, max_depth: int):
    """_rows' query for the threads `root_ids` of a section's page."""
    capped, _ = shape
    threads = Comment.objects.filter(Q(pk__any_of=root_ids) | Q(root_id__any_of=root_ids))
    return _query(threads, user, section_id, max_depth=max_depth, page=True, capped=capped)


# Every view of a section sends it: its SQL is made once (config/prepared.py). Its
# thousand rows come in binary: psycopg read them in 3.8 ms of CPU instead of 4.6
# (medians of 600 reads each way, interleaved, the peers' 1,000-comment thread).
PAGE_ROWS = Prepared(Comment, _page_rows, binary=True)


def _query(queryset, user, section_id: int, *, max_depth: int, page: bool, capped: bool):
    """_rows' query: the values of each comment, then its author's name."""
    thread = Coalesce("root_id", "id")
    shown = queryset.visible_in(section_id, user).filter(depth__lte=max_depth)
    if capped:
        shown = shown.annotate(
            place=Window(RowNumber(), partition_by=[thread], order_by=F("path").asc())
        ).filter(place__lte=settings.COMMENTS_THREAD_MAX)
    names = ["author__username", "author__display_name"]
    if page:
        # Numbering each thread's comments sorts the narrow rows of the ids alone; the
        # wide rows are then read by id and put in path order here (sorting them in the
        # database cost more than the rest of the query).
        # The ids come from `shown`, which applied the visibility rule: asking it again
        # here cost PostgreSQL a third of the query.
        rows = (
            Comment.objects.filter(pk__in=shown.values("pk"))
            .annotate(shows_text=Comment.objects.shows_text(user))
            .order_by()
            if capped
            else shown.order_by()
        )
        if connections[queryset.db].vendor == "postgresql":
            # The fragments' hashes, to take those this process keeps (KeptFragments).
            fields = ["fragment_hash" if name == "fragment" else name for name in PAGE_FIELDS]
            rows = rows.values_list(*fields, *names)
        else:
            rows = rows.values_list(*PAGE_FIELDS, *names)
    else:
        rows = shown.order_by("path").values_list(*PAGE_FIELDS, *IN_FRAGMENT, *names)
    return rows


class KeptFragments:
    """Stored fragments this process has read, in their chunks, by comment id and
    Comment.fragment_hash: a fragment changes when its comment does (an edit, a moderator's
    answer, a new revision of the section, a slug), and its hash with it, so a kept one
    is never stale and nothing needs telling. Up to `budget` characters; the first kept
    go first beyond that. A hash, not a digest: someone who made two texts of their own
    comment hash alike would have the earlier shown where it was kept, nothing more
    (what a page may show of a comment comes from its row: status, whose it is).

    A 1,000-comment page read 1.2 MB of fragments from PostgreSQL on every view: sending
    them, reading them and splitting them was about a millisecond of PostgreSQL's time
    and one and a half of the worker's. Now a page reads each fragment once per process
    (one query more, for those it has not kept) and the hashes after that."""

    def __init__(self, budget: int):
        self.budget = budget
        self._kept: dict[tuple[int, int], tuple[str, ...]] = {}
        self._size = 0
        self._lock = threading.Lock()
        # The chunks kept for (id, hash), or None: the dict's own get, asked for each
        # comment of a page (a method around it was a call more each time).
        self.get = self._kept.get

    def read(self, ids: list[int]) -> dict[int, tuple[str, ...]]:
        """The chunks of these comments' fragments, read now (one query) and kept."""
        rows = (
            Comment.objects.filter(pk__any_of=ids)
            .order_by()
            .values_list("pk", "fragment", "fragment_hash")
        )
        read = {}
        with self._lock:
            for pk, fragment, key in rows:
                chunks = read[pk] = tuple(fragment.split(SEP))
                if (pk, key) not in self._kept:
                    self._kept[pk, key] = chunks
                    self._size += self.size_of(chunks)
            while self._size > self.budget and self._kept:
                first = next(iter(self._kept))
                self._size -= self.size_of(self._kept.pop(first))
        return read

    @staticmethod
    def size_of(chunks: tuple[str, ...]) -> int:
        return sum(map(len, chunks)) + KEPT_OVERHEAD

    def clear(self) -> None:
        with self._lock:
            self._kept.clear()
            self._size = 0


SEP = Comment.FRAGMENT_SEP
# What a kept fragment costs beside its characters: its key, its tuple of chunks.
KEPT_OVERHEAD = 600
# About 25,000 comments' fragments of the peers' benchmark thread (1.3 KB each).
KEPT = KeptFragments(budget=32 * 2**20)


def _made(rows, *, page: bool) -> list[PageComment]:
    """PageComments of _query's rows, in path order."""
    blanks = list(IN_FRAGMENT.values()) if page else []
    authors: dict[int | None, PageAuthor | None] = {None: None}
    comments = []
    make = partial(tuple.__new__, PageComment)  # without the thirty-argument __new__
    unkept: dict[int, int] = {}  # comment id: its place in `comments`
    for *values, username, display_name in rows:
        author_id = values[AUTHOR_ID]
        author = authors.get(author_id, MISSING)
        if author is MISSING:
            author = authors[author_id] = PageAuthor(username, display_name)
        values += blanks
        values.append(author)
        fragment = values[FRAGMENT]
        if type(fragment) is str:
            values[FRAGMENT] = fragment.split(SEP)
        elif (chunks := KEPT.get((values[0], fragment))) is not None:
            values[FRAGMENT] = chunks
        else:  # a hash of a fragment this process has not kept
            unkept[values[0]] = len(comments)
        comments.append(make(values))
    if unkept:
        read = KEPT.read(list(unkept))
        for pk, index in unkept.items():
            # (a comment gone meanwhile shows as stored in no fragment: rendered whole)
            comments[index] = comments[index]._replace(fragment=read.get(pk, ("",)))
    if page:
        _fill_in(comments)
        comments.sort(key=attrgetter("path"))
    return comments


# The names PageComment gives IN_FRAGMENT.
FILLED_IN = PageComment._fields[len(PAGE_FIELDS) : len(PAGE_FIELDS) + len(IN_FRAGMENT)]


def _fill_in(comments: list[PageComment]) -> None:
    """Read IN_FRAGMENT for the comments of a page that are rendered whole: those shown
    with their text that have no stored fragment of today's format (as
    CommentRenderer._emit decides), or are not published (their author's, or for a
    moderator). One query when there are any, none when there are not."""
    tag = Comment.fragment_tag()[:-1]  # a stored fragment's first chunk
    published = Comment.Status.PUBLISHED
    whole = {
        index: c.id
        for index, c in enumerate(comments)
        if c.shows_text and not (c.status == published and c.fragment[0] == tag)
    }
    if not whole:
        return
    read = {
        pk: values
        for pk, *values in Comment.objects.filter(pk__any_of=list(whole.values())).values_list(
            "pk", *IN_FRAGMENT
        )
    }
    for index, pk in whole.items():
        if (values := read.get(pk)) is not None:
            filled = dict(zip(FILLED_IN, values, strict=True))
            comments[index] = comments[index]._replace(**filled)


def _followed(user, section_id: int | None, comments: list[PageComment]) -> set[int | None]:
    """Which of these comments the viewer follows, and None if they follow the section:
    one query, for members who may take part."""
    if not user.is_authenticated or not user.can_write():
        return set()
    if section_id is None:
        followed = Q(thread__any_of=[c.id for c in comments])
        return set(
            Subscription.objects.filter(user=user)
            .filter(followed)
            .values_list("thread_id", flat=True)
        )
    # By the section rather than a list of a page's thousand ids.
    return {thread_id for (thread_id,) in FOLLOWED_IN_SECTION.rows((), user, section_id)}


def _followed_in_section(shape, user, section_id: int):
    return (
        Subscription.objects.filter(user=user)
        .filter(Q(thread__section=section_id) | Q(section=section_id))
        .values_list("thread_id")
    )


def _viewer_in_section(user, section_id: int) -> tuple[set[int], set[int | None], bool, bool]:
    """A member's votes in a section, what they follow there (as _followed), whether
    anything of theirs is unread (the bell's first look, ANY_UNREAD), and whether they
    have a comment there that only they see (CommentQuerySet.authors_only_in): all in
    one query, for a page of a section that they may take part in."""
    voted, followed, any_unread, authors_only = set(), set(), False, False
    for kind, pk in VIEWER_IN_SECTION.rows((), user, section_id):
        if kind == VOTED:
            voted.add(pk)
        elif kind == FOLLOWED:
            followed.add(pk)
        elif kind == UNREAD:
            any_unread = True
        else:
            authors_only = True
    return voted, followed, any_unread, authors_only


# (Words: an integer Value would need converting.)
VOTED, FOLLOWED, UNREAD, AUTHORS_ONLY = "voted", "followed", "unread", "authors-only"


def _viewer_in_section_rows(shape, user, section_id: int):
    votes = _votes_in_section(shape, user, section_id)
    follows = _followed_in_section(shape, user, section_id)
    # The member's own row, if ANY_UNREAD finds anything (a branch of its own would need
    # its LIMIT, which SQLite refuses in a UNION); and again if they have a comment
    # there that only they see.
    unread = User.objects.filter(Exists(first_unread(shape, user)), pk=user.pk)
    own = Comment.objects.authors_only_in(section_id, user)
    authors_only = User.objects.filter(Exists(own), pk=user.pk)
    return (
        votes.annotate(kind=Value(VOTED))
        .values_list("kind", "comment_id")
        .union(
            follows.annotate(kind=Value(FOLLOWED)).values_list("kind", "thread_id"),
            unread.annotate(kind=Value(UNREAD)).values_list("kind", "pk"),
            authors_only.annotate(kind=Value(AUTHORS_ONLY)).values_list("kind", "pk"),
            all=True,
        )
    )


# Sent on every member's view of a section: its SQL is made once (config/prepared.py).
VIEWER_IN_SECTION = Prepared(Vote, _viewer_in_section_rows)


# Sent on every member's view of a section: its SQL is made once (config/prepared.py).
FOLLOWED_IN_SECTION = Prepared(Subscription, _followed_in_section)


def _walk(nodes: list[Node]) -> list[Node]:
    """Every node of these trees, each before its replies (a stack, not recursion: a
    generator per level cost a thousand comments 0.1 ms more)."""
    walked = []
    stack = nodes[::-1]
    while stack:
        node = stack.pop()
        walked.append(node)
        if node.replies:
            stack += node.replies[::-1]
    return walked


def _count_below(tops: list[Node], user, section_id: int) -> None:
    """Set `continued` and `below` on every node: in one query, and only when some
    comment continues on a page of its own (otherwise no query at all).

    The paths of the visible comments deeper than the shallowest continuing comment, in
    the threads concerned, are counted under the continuing comment they start with (at
    most one: a continuing comment shows no replies, so none continues below it)."""
    nodes = _walk(tops)
    continuing = {node.comment.path: node for node in nodes if node.continues}
    if continuing:
        threads = {node.comment.root_id or node.comment.pk for node in continuing.values()}
        paths = (
            Comment.objects.visible_in(section_id, user)
            .filter(
                root_id__any_of=threads,
                depth__gt=min(node.comment.depth for node in continuing.values()),
            )
            .values_list("path", flat=True)
        )
        for path in paths:
            for end in range(PATH_DIGITS, len(path), PATH_DIGITS):
                if (node := continuing.get(path[:end])) is not None:
                    node.continued += 1
                    break
    for node in reversed(nodes):  # replies before the comments they answer
        below = node.continued
        for reply in node.replies:  # (a loop: a generator per node cost 0.15 ms a page)
            below += 1 + reply.below
        node.below = below


NONE = frozenset()
# Up to this many comments (a fragment, a short thread), votes are looked up by id.
FEW = 50


def _votes_in_section(shape, user, section_id: int):
    return Vote.objects.filter(comment__section=section_id, user=user).values_list("comment_id")


# Sent on every member's view of a section: its SQL is made once (config/prepared.py).
VOTES_IN_SECTION = Prepared(Vote, _votes_in_section)


def _assemble(
    comments: list[PageComment], participation, followed=frozenset(), voted=None
) -> list[Node]:
    """Link comments (in path order) into trees; return the nodes without a parent here.
    `voted`: the ids of those the viewer voted for, if the caller read them."""
    user = participation.viewer
    if voted is None and participation.refusal is None and comments:
        # A page's votes by the section rather than by a list of its thousand ids (the
        # votes this member cast elsewhere in the section are a few more rows).
        if len(comments) > FEW:
            section_id = participation.section.pk
            voted = {pk for (pk,) in VOTES_IN_SECTION.rows((), user, section_id)}
        else:
            mine = Q(comment__any_of=[c.id for c in comments])
            voted = set(Vote.objects.filter(mine, user=user).values_list("comment_id", flat=True))
    elif voted is None:
        voted = set()
    nodes: dict[int, Node] = {}
    tops: list[Node] = []
    takes_part = participation.refusal is None
    # Participation.rights, by what it reads (status, whether it is the viewer's own):
    # asked here once per kind rather than called for each of a thousand comments.
    rights, viewer_pk = {}, user.pk
    shown_per_thread: dict[int, int] = {}
    last_path: dict[int, str] = {}
    for comment in comments:  # (`.id`, not the `pk` property: a call less per comment)
        pk = comment.id
        if takes_part:
            kind = (comment.status, comment.author_id == viewer_pk)
            if (may := rights.get(kind)) is None:
                may = rights[kind] = participation.rights(comment)
        else:
            may = NONE
        node = Node(comment, [], may, pk in voted, pk in followed)
        nodes[pk] = node
        parent = nodes.get(comment.parent_id)
        (parent.replies if parent else tops).append(node)
        thread = comment.root_id or pk
        shown_per_thread[thread] = shown_per_thread.get(thread, 0) + 1
        last_path[thread] = comment.path  # the last in path order is the furthest
    for node in nodes.values():
        # Replies exist that this page does not show (too deep, or past the cap).
        node.continues = node.comment.answered and not node.replies
    for node in tops:
        if shown_per_thread.get(node.comment.id, 0) >= settings.COMMENTS_THREAD_MAX:
            node.more_after = last_path[node.comment.id]
    return tops
