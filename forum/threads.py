"""Turning a section's comments into the threads a page shows, in a fixed number of queries.

A page of top-level comments is chosen first (sorted and paginated), then every visible
comment of those threads comes back in one query, already in thread order (by path) and
capped per thread so that one enormous thread cannot make a page unbounded.

Pages and htmx fragments (a new comment, an edit, a vote) build their nodes here, the
same way: the same rows, the same visibility rule, and the viewer's rights from
`Participation`, so a fragment never shows what the page would not.
"""

import re
from dataclasses import dataclass, field

from django.conf import settings
from django.core.paginator import Paginator
from django.db.models import Case, F, Q, When, Window
from django.db.models.functions import Coalesce, RowNumber

from forum.models import PATH_DIGITS, Comment, Participation, Subscription, Vote

# What a page shows of a comment; the Markdown source, for one, is only needed when
# editing. Pages read these as plain rows: building a thousand model instances (with
# their authors) took three times as long as the query itself.
PAGE_FIELDS = [
    *("id", "section_id", "parent_id", "root_id", "author_id", "body_html", "status"),
    *("path", "depth", "reply_count", "score", "created_at", "edited_at"),
    *("quote_text", "quote_before", "quote_after", "quote_anchor"),
    *("anchor_state", "anchor_paragraph", "anchor_text"),
    *("is_pinned", "moderation_reason", "shows_text"),
    # The editors' answer, and the revisions it links between (joined, no extra query).
    *("editor_answer", "editor_note", "revision__number", "addressed_in__number"),
]


@dataclass(slots=True)
class PageAuthor:
    username: str
    display_name: str

    @property
    def public_name(self) -> str:
        return self.display_name or self.username


@dataclass(slots=True)
class PageComment:
    """A comment as a page shows it: the fields of PAGE_FIELDS, read-only."""

    id: int
    section_id: int
    parent_id: int | None
    root_id: int | None
    author_id: int | None
    body_html: str
    status: str
    path: str
    depth: int
    reply_count: int
    score: int
    created_at: object
    edited_at: object
    quote_text: str
    quote_before: str
    quote_after: str
    quote_anchor: str
    anchor_state: str
    anchor_paragraph: str
    anchor_text: str
    is_pinned: bool
    moderation_reason: str
    # Whether this viewer may see the text (and author): False for a placeholder.
    shows_text: bool
    editor_answer: str
    editor_note: str
    revision_number: int | None  # the revision of the text it responded to
    addressed_number: int | None  # the revision that addressed it, if one did
    # Whether anyone can see a reply to it (Comment.answered).
    answered: bool
    author: PageAuthor | None = None

    @property
    def pk(self) -> int:
        return self.id

    @property
    def is_deleted(self) -> bool:
        return self.status == Comment.Status.DELETED


_paragraph_anchor = re.compile(r"p-[0-9a-f]{8}(?:-\d+)?")

SORT_LABELS = {"oldest": "Oldest", "newest": "Newest", "top": "Top"}


@dataclass
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


@dataclass
class Discussion:
    threads: list[Node]
    page: object
    sort: str
    total: int
    following_section: bool = False


def visible_threads(section, user):
    """The top-level comments of a section this viewer sees: what "N threads" counts."""
    return Comment.objects.filter(section=section).visible_to(user).top_level()


def section_discussion(section, user, *, sort: str, page_number, passage: str = "") -> Discussion:
    """The top-level threads on one page of a section's discussion, with their replies;
    with `passage` (a paragraph's anchor), the threads quoting that paragraph first."""
    sort = sort if sort in Comment.SORTS else "oldest"
    top_level = visible_threads(section, user)
    ordered = top_level.sorted_by(sort)
    if _paragraph_anchor.fullmatch(passage):
        quoting = Case(When(anchor_paragraph=passage, then=0), default=1)
        ordered = ordered.order_by(quoting, *ordered.query.order_by)
    paginator = Paginator(ordered.only("pk"), settings.COMMENTS_PAGE_SIZE)
    page = paginator.get_page(page_number)
    root_ids = [comment.pk for comment in page.object_list]
    comments = _rows(
        Comment.objects.filter(Q(pk__in=root_ids) | Q(root_id__in=root_ids)),
        user,
        max_depth=settings.COMMENTS_DISPLAY_DEPTH - 1,
    )
    order = {pk: index for index, pk in enumerate(root_ids)}
    followed = _followed(user, section.pk, comments)
    # Replies whose parent is not on the page (hidden, or past the cap) are left out.
    tops = [
        node
        for node in _assemble(comments, Participation(user, section), followed)
        if node.comment.pk in order
    ]
    threads = sorted(tops, key=lambda node: order[node.comment.pk])
    _count_below(threads, user)
    return Discussion(
        threads=threads,
        page=page,
        sort=sort,
        total=paginator.count,
        following_section=None in followed,
    )


def subthread(comment, user, after: str = "") -> list[Node]:
    """`comment` and its replies, as deep as a page shows: "continue this thread".
    With `after` (a path), the replies that come after it, for threads longer than a
    page: each shown where its parent is, or on its own when the parent was earlier."""
    queryset = Comment.objects.filter(
        Q(pk=comment.thread_id) | Q(root_id=comment.thread_id), path__startswith=comment.path
    )
    if after:
        queryset = queryset.filter(path__gt=after)
    comments = _rows(queryset, user, max_depth=comment.depth + settings.COMMENTS_DISPLAY_DEPTH - 1)
    participation = Participation(user, comment.section)
    tops = _assemble(comments, participation, _followed(user, comment.section_id, comments))
    if after:
        if comments and len(comments) >= settings.COMMENTS_THREAD_MAX and tops:
            tops[0].more_after = comments[-1].path
    else:
        tops = [node for node in tops if node.comment.pk == comment.pk]
    _count_below(tops, user)
    return tops


def single(comment, user, *, count_below: bool = False) -> Node | None:
    """One comment as a page would show it to `user`, without its replies: for htmx
    fragments after posting, editing, deleting, voting. None if they can no longer
    see it. With `count_below`, how many replies it holds (one more query if any),
    for a header that says so when the thread is folded."""
    rows = _rows(Comment.objects.filter(pk=comment.pk), user, max_depth=comment.depth)
    nodes = _assemble(rows, Participation(user, comment.section), _followed(user, None, rows))
    if not nodes:
        return None
    if count_below:
        _count_below(nodes, user)  # every reply is past the page: all "continued"
    nodes[0].continues = False  # a fragment shows the comment alone
    return nodes[0]


def ancestors(comment, user) -> list[Node]:
    """The comments a new reply hangs from, as the viewer sees them, each with how many
    replies it now holds in all: for the headers an in-place reply makes stale."""
    above = Comment.objects.filter(pk__in=comment.ancestor_ids())
    rows = _rows(above, user, max_depth=comment.depth)
    nodes = list(_walk(_assemble(rows, Participation(user, comment.section))))
    by_path = {node.comment.path: node for node in nodes}
    paths = (
        Comment.objects.filter(root_id=comment.thread_id)
        .visible_to(user)
        .values_list("path", flat=True)
    )
    for path in paths:
        for end in range(PATH_DIGITS, len(path), PATH_DIGITS):
            if (node := by_path.get(path[:end])) is not None:
                node.below += 1
    for node in nodes:
        node.continues = False
    return nodes


def _rows(queryset, user, *, max_depth: int) -> list[PageComment]:
    thread = Coalesce("root_id", "id")
    rows = (
        queryset.visible_to(user)
        .filter(depth__lte=max_depth)
        .annotate(place=Window(RowNumber(), partition_by=[thread], order_by=F("path").asc()))
        .filter(place__lte=settings.COMMENTS_THREAD_MAX)
        .order_by("path")
        .values_list(*PAGE_FIELDS, "answered", "author__username", "author__display_name")
    )
    authors: dict[int, PageAuthor] = {}
    comments = []
    for *fields, username, display_name in rows:
        comment = PageComment(*fields)
        if comment.author_id is not None:
            author = authors.get(comment.author_id)
            if author is None:
                author = authors[comment.author_id] = PageAuthor(username, display_name)
            comment.author = author
        comments.append(comment)
    return comments


def _followed(user, section_id: int | None, comments: list[PageComment]) -> set[int | None]:
    """Which of these comments the viewer follows, and None if they follow the section:
    one query, for members who may take part."""
    if not user.is_authenticated or not user.can_write():
        return set()
    if section_id is None:
        followed = Q(thread__in=[c.id for c in comments])
    else:  # by the section rather than a list of a page's thousand ids
        followed = Q(thread__section=section_id) | Q(section=section_id)
    return set(
        Subscription.objects.filter(user=user).filter(followed).values_list("thread_id", flat=True)
    )


def _walk(nodes: list[Node]):
    """Every node of these trees, each before its replies."""
    for node in nodes:
        yield node
        yield from _walk(node.replies)


def _count_below(tops: list[Node], user) -> None:
    """Set `continued` and `below` on every node: in one query, and only when some
    comment continues on a page of its own (otherwise no query at all).

    The paths of the visible comments deeper than the shallowest continuing comment, in
    the threads concerned, are counted under the continuing comment they start with (at
    most one: a continuing comment shows no replies, so none continues below it)."""
    nodes = list(_walk(tops))
    continuing = {node.comment.path: node for node in nodes if node.continues}
    if continuing:
        threads = {node.comment.root_id or node.comment.pk for node in continuing.values()}
        paths = (
            Comment.objects.filter(
                root_id__in=threads,
                depth__gt=min(node.comment.depth for node in continuing.values()),
            )
            .visible_to(user)
            .values_list("path", flat=True)
        )
        for path in paths:
            for end in range(PATH_DIGITS, len(path), PATH_DIGITS):
                if (node := continuing.get(path[:end])) is not None:
                    node.continued += 1
                    break
    for node in reversed(nodes):  # replies before the comments they answer
        node.below = node.continued + sum(1 + reply.below for reply in node.replies)


NONE = frozenset()
# Up to this many comments (a fragment, a short thread), votes are looked up by id.
FEW = 50


def _assemble(comments: list[PageComment], participation, followed=frozenset()) -> list[Node]:
    """Link comments (in path order) into trees; return the nodes without a parent here."""
    user = participation.viewer
    voted = set()
    if participation.refusal is None and comments:
        # A page's votes by the section rather than by a list of its thousand ids (the
        # votes this member cast elsewhere in the section are a few more rows).
        mine = (
            Q(comment__section=participation.section)
            if len(comments) > FEW
            else Q(comment__in=[c.id for c in comments])
        )
        voted = set(Vote.objects.filter(mine, user=user).values_list("comment_id", flat=True))
    nodes: dict[int, Node] = {}
    tops: list[Node] = []
    takes_part = participation.refusal is None
    for comment in comments:
        node = Node(
            comment=comment,
            may=participation.rights(comment) if takes_part else NONE,
            voted=comment.pk in voted,
            following=comment.pk in followed,
        )
        nodes[comment.pk] = node
        parent = nodes.get(comment.parent_id)
        (parent.replies if parent else tops).append(node)
    shown_per_thread: dict[int, int] = {}
    last_path: dict[int, str] = {}
    for node in nodes.values():
        # Replies exist that this page does not show (too deep, or past the cap).
        node.continues = node.comment.answered and not node.replies
        thread = node.comment.root_id or node.comment.pk
        shown_per_thread[thread] = shown_per_thread.get(thread, 0) + 1
        last_path[thread] = max(last_path.get(thread, ""), node.comment.path)
    for node in tops:
        if shown_per_thread.get(node.comment.pk, 0) >= settings.COMMENTS_THREAD_MAX:
            node.more_after = last_path[node.comment.pk]
    return tops
