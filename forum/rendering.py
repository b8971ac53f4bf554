"""HTML for comments, built in Python because a page may show a thousand of them.

Django templates cost a few hundred microseconds per included comment; a 1,000-comment
page took 0.4 s to render that way. The same markup built here takes a few tens of
microseconds per comment, and is just as safe: every piece goes through `h()`, which
escapes each value it is given unless the value is already marked safe (as `body_html`
is, sanitized by `essays.markup` when the comment was saved, and the pieces `h()`
returns). Nothing is escaped by hand, so safety does not depend on remembering to.

The section page, the thread page and every htmx fragment (vote, body, a new comment)
come from these functions and from nodes that `forum.threads` builds the same way for
all of them, so there is one definition of a comment's markup.

Most of a published comment's HTML is the same for every reader at every moment: its
text, the passage it quotes, its permalink and dates, the editors' answer. `Fragments`
renders that part once, when the comment changes, and `Comment.fragment` stores it (like
`body_html`) as chunks between the parts that do differ: the author's name (it may
change), how long ago (it changes by itself), how many replies are folded, and what this
viewer may do. A page then joins stored chunks with those few parts instead of building
every comment anew: a thousand comments took 0.17 s to build, now a few milliseconds
(README, "Where a full render's time goes"). What a page shows is the same either way:
`tests/forum/test_fragments.py` renders every kind of comment both ways and compares.
"""

import functools
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from html import escape as _escape

from django.conf import settings
from django.http import HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils import timezone
from django.utils.safestring import SafeData, SafeString

from essays.models import SectionRevision
from essays.templatetags.datetimes import (
    RELATIVE_FOR,
    machine_datetime,
    relative_time,
    short_date,
)
from forum.forms import CommentForm
from forum.models import Act, AnchorState, Comment
from forum.threads import MISSING, Node

Status = Comment.Status


def _safe(value) -> str:
    return value if isinstance(value, SafeData) else _escape(str(value))


def h(template: str, *values) -> SafeString:
    """`template` with each value escaped (unless already safe): format_html's rule."""
    return SafeString(template.format(*map(_safe, values)))


def join(pieces) -> SafeString:
    """Pieces made by h() (or other safe strings), one after the other."""
    return SafeString("".join(map(_safe, pieces)))


STATUS_BADGES = {
    Status.PENDING: "Awaiting review",
    Status.REMOVED: "Removed",
    Status.SPAM: "Spam",
    Status.DELETED: "Deleted",
}
EMPTY = SafeString("")
# What others see of a comment they may not read, while replies hang from it.
PLACEHOLDERS = {
    Status.DELETED: "[deleted]",
    Status.REMOVED: "[removed by a moderator]",
    Status.SPAM: "[removed by a moderator]",
    Status.PENDING: "[awaiting review]",
}
HIDDEN_AUTHORS = {
    Status.DELETED: "[deleted]",
    Status.REMOVED: "[removed]",
    Status.SPAM: "[removed]",
    Status.PENDING: "[held for review]",
}


# Our own signs, written as character references: a page of ASCII comments then stays
# one byte a character in Python. One "△" on each of a member's thousand comments made
# the whole string of them two bytes a character, and joining and encoding it cost
# about a tenth of the page's time.
UPVOTE = SafeString("&#9651; Upvote")  # △
UPVOTED = SafeString("&#9650; Upvoted")  # ▲
FOLLOWING = SafeString("&#10003; Following")  # ✓
ELLIPSIS = SafeString("&#8230;")  # …

# The form every comment's buttons (upvote, follow) submit, each to its own
# `formaction`: one per page, in templates/base.html, for members. A CSRF token in a
# form of its own on each of a thousand comments was a seventh of a member's page.
# Comments' markup allows no form controls (essays.markup.USER_TAGS), so no one's text
# can hold a button that borrows this form and its token.
ACTIONS_FORM = "acts"

_paragraph_start = re.compile(r'<p id="(p-[0-9a-f]{8}(?:-\d+)?)">')


def _url_pattern(name: str) -> str:
    # reverse() once with a marker, then format per comment: far cheaper than reverse().
    # Once per process for each URL prefix and URLconf (the same on every page: asked
    # anew, the thirteen a page uses were a sixtieth of a member's page).
    return _url_patterns(name, get_script_prefix(), get_urlconf(settings.ROOT_URLCONF))


@functools.cache
def _url_patterns(name: str, prefix: str, urlconf: str) -> str:
    return reverse(name, args=[MARKER]).replace(str(MARKER), "{}")


URL_NAMES = (
    *("comment", "thread", "reply", "edit_comment", "delete_comment", "vote", "unvote"),
    *("report", "follow_thread", "profile"),
)


def long_date(local: datetime) -> str:
    return local.strftime("%-d %B %Y, %H:%M %Z")


# A comment id no page shows: marks where the id goes in markup made once per kind.
MARKER = 987654321


@dataclass(slots=True)
class _Sample:
    """What _actions reads of a comment, for making its markup once per kind."""

    pk: int
    status: str
    score: int


# A stored fragment is a tag (Comment.fragment_tag: the markup's format, the time zone)
# and its chunks, joined by SEP (never in escaped text, and refused in the chunks all
# the same): chunk, label, chunk, author, chunk, time ago, chunk, edited ago, chunk,
# folded note, chunk, "and N replies", chunk, actions, chunk, replies, chunk; then the
# local date that a comment over a week old shows for "time ago" (asked of the time zone
# for each of a thousand comments, it was a twentieth of a reader's page).
SEP = Comment.FRAGMENT_SEP
CHUNKS = 10
DATED = CHUNKS  # the date's place in a stored fragment's split, after the tag
# Stored instead when a chunk would hold SEP: rendered anew each time, never stored.
UNSTORABLE = Comment.UNSTORABLE_FRAGMENT
TIME_LINK = ' <a class="comment__time" href="{}" title="Permalink"><time datetime="{}" title="{}">'
EDITED_OPEN = ' <span class="comment__edited">edited <time datetime="{}" title="{}">'
PINNED = SafeString(' <span class="badge badge--pinned">Pinned</span>')
FOLD_OPEN = SafeString(
    '<details class="comment__fold" open><summary class="comment__toggle">'
    '<span class="visually-hidden">Fold or unfold this comment'
)
FOLD_CLOSE = SafeString("</details></article>")


class Fragments:
    """What of a published comment every viewer sees alike, for one section: rendered
    when the comment changes and stored in `Comment.fragment` (see the module's doc).

    It depends on the comment's own fields, the section's and essay's slugs (links) and
    the section's current revision (a reworded quote links to what changed since): the
    model renders it on save, `CommentQuerySet.reanchor` on a new revision, and
    `forum.receivers` when a slug changes."""

    def __init__(self, section, *, current_revision: int | bool | None = False):
        self.section = section
        self.section_url = section.get_absolute_url()
        slugs = [section.essay.slug, section.slug]
        self.diff_url = reverse("section_diff", args=[*slugs, 987654321, 987654322])
        self.revision_url = reverse("section_revision", args=[*slugs, 987654321])
        self.comment_url = _url_pattern("comment")
        if current_revision is not False:
            self.__dict__["current_revision"] = current_revision

    @cached_property
    def current_revision(self) -> int | None:
        """The number of the section's current revision: asked only when a reworded
        quote shows (one query a page at most, whatever the number of comments)."""
        return (
            SectionRevision.objects.filter(pk=self.section.current_revision_id)
            .values_list("number", flat=True)
            .first()
        )

    def stored(self, c) -> str:
        """What `Comment.fragment` holds for `c`."""
        return self.joined(self.chunks(c))

    @staticmethod
    def joined(chunks: list[str]) -> str:
        """Chunks as stored: after the tag of the markup's format and time zone."""
        if any(SEP in chunk for chunk in chunks):
            return UNSTORABLE
        return Comment.fragment_tag() + SEP.join(chunks)

    def chunks(self, c) -> list[str]:
        """The parts of a published comment's HTML around what differs, and the date
        it shows once over a week old (CHUNKS in all)."""
        pk = c.pk
        local = timezone.localtime(c.created_at)
        if c.edited_at:
            edited = timezone.localtime(c.edited_at)
            opened = h(EDITED_OPEN, machine_datetime(edited), long_date(edited))
            closed = SafeString("</time></span>")
        else:
            opened = closed = EMPTY
        return [
            h('<article class="comment" id="c-{}" aria-label="Comment by ', pk),
            h('"><header class="comment__meta" id="c-{}-meta">', pk),
            h(TIME_LINK, self.comment_url.format(pk), machine_datetime(local), long_date(local)),
            join([SafeString("</time></a>"), opened]),
            join([closed, PINNED if c.is_pinned else EMPTY]),
            join([SafeString("</header>"), FOLD_OPEN]),
            h("</span></summary>{}", self.body(c)),
            h('<div class="comment__reply-slot" id="c-{}-reply"></div>', pk),
            FOLD_CLOSE,
            short_date(local),
        ]

    def body(self, c, notice=EMPTY) -> SafeString:
        """The text with the passage it quotes and the editors' answer."""
        # body_html was sanitized by essays.markup when the comment was saved.
        inner = join(
            [
                notice,
                self.quote(c),
                h('<div class="user-text">{}</div>', SafeString(c.body_html)),
                self.answer(c),
            ]
        )
        return h('<div class="comment__body" id="c-{}-body">{}</div>', c.pk, inner)

    def answer(self, c) -> SafeString:
        """The essay's editors' answer (Comment.mark_addressed / decline), with the
        changes that addressed the comment one click away."""
        if c.editor_answer == "addressed" and c.addressed_number:
            before = c.revision_number or c.addressed_number - 1
            url = self.diff_url.replace("987654321", str(before)).replace(
                "987654322", str(c.addressed_number)
            )
            note = h(" {}", c.editor_note) if c.editor_note else EMPTY
            return h(
                '<p class="comment__answer" data-answer="addressed">Addressed by the editors in '
                '<a href="{}">revision {} (see what changed)</a>.{}</p>',
                url,
                c.addressed_number,
                note,
            )
        if c.editor_answer == "declined":
            return h(
                '<p class="comment__answer" data-answer="declined">The editors declined to '
                "change the text: {}</p>",
                c.editor_note,
            )
        return EMPTY

    def quote(self, c) -> SafeString:
        """The passage of the section the comment answers, and where it stands now
        (forum/anchoring.py): its state as words and as data-anchor-state, with the
        revision it quotes. Moved passages link to their new place, silently; reworded
        ones show both wordings and the diff; a passage gone links to its revision."""
        if not c.quote_text:
            return EMPTY
        state = c.anchor_state or AnchorState.ANCHORED
        passage = h(
            "{}<mark>{}</mark>{}",
            h("{}{}", ELLIPSIS, c.quote_before) if c.quote_before else "",
            c.quote_text,
            h("{}{}", c.quote_after, ELLIPSIS) if c.quote_after else "",
        )
        number = c.revision_number
        if state == AnchorState.ANCHORED:
            paragraph = c.anchor_paragraph or c.quote_anchor
            inner = h(
                '<blockquote class="comment__quote"><a href="{}#{}">{}</a></blockquote>',
                self.section_url,
                paragraph,
                passage,
            )
        elif state == AnchorState.ORPHANED:
            inner = h(
                '<p class="anchor-note">This passage is no longer in the section.{}</p>'
                '<blockquote class="comment__quote">{}</blockquote>',
                h(
                    ' <a href="{}#{}">Read it in revision {}</a>.',
                    self._revision_url(number),
                    c.quote_anchor,
                    number,
                )
                if number
                else EMPTY,
                passage,
            )
        else:
            caution = (
                h(
                    ' <strong class="anchor-note__caution">The passage may have moved or '
                    "changed in a way we are not sure of: an editor will check.</strong>"
                )
                if state == AnchorState.REVIEW
                else EMPTY
            )
            diff = (
                h(' <a href="{}">See what changed</a>.', self._diff_url(number))
                if number and self.current_revision and number != self.current_revision
                else EMPTY
            )
            inner = h(
                '<p class="anchor-note">Responded to an earlier version{}.{}{}</p>'
                '<div class="quote-versions">'
                '<figure><figcaption>Then{}</figcaption><blockquote class="comment__quote">'
                "<mark>{}</mark></blockquote></figure>"
                '<figure><figcaption>Now</figcaption><blockquote class="comment__quote">'
                '<a href="{}#{}"><mark>{}</mark></a></blockquote></figure></div>',
                h(" (revision {})", number) if number else EMPTY,
                diff,
                caution,
                h(
                    ' (<a href="{}#{}">revision {}</a>)',
                    self._revision_url(number),
                    c.quote_anchor,
                    number,
                )
                if number
                else EMPTY,
                c.quote_text,
                self.section_url,
                c.anchor_paragraph,
                c.anchor_text,
            )
        return h(
            '<div class="quote-block quote-block--{0}" data-anchor-state="{0}" '
            'data-revision="{1}"><span class="visually-hidden">Quoted passage: {2}. </span>'
            "{3}</div>",
            state,
            number or "",
            AnchorState(state).label,
            inner,
        )

    def _revision_url(self, number: int) -> str:
        return self.revision_url.replace("987654321", str(number))

    def _diff_url(self, number: int) -> str:
        """What changed from the revision a quote was written against to the current one."""
        return self.diff_url.replace("987654321", str(number)).replace(
            "987654322", str(self.current_revision)
        )


# Where a page's comments go: the template is rendered around this marker, and the
# comments (a megabyte or two) take its place once, as bytes, instead of being copied
# again by every block and tag of the template that holds them. Random, so that no
# text can hold it.
THREADS_MARKER = f"<!--threads-{secrets.token_hex(8)}-->"


def render_with_threads(request, template: str, context: dict, threads_html: str, status=200):
    """render() with `threads_html` (CommentRenderer.threads) where the template says
    {{ threads_html }}."""
    context = {**context, "threads_html": SafeString(THREADS_MARKER)}
    response: HttpResponse = render(request, template, context, status=status)
    head, marker, tail = response.content.partition(THREADS_MARKER.encode())
    if marker:
        # Sent as the three pieces they are: joining them into one would copy the
        # comments' megabyte once more (about 0.8 ms for the 1,000-comment page, most of
        # it the page faults of a fresh buffer). CommonMiddleware would join them to
        # count them: the length is given here.
        threads = threads_html.encode()
        response.content = head
        response.write(threads)
        response.write(tail)
        response.headers["Content-Length"] = str(len(head) + len(threads) + len(tail))
    return response


# The form for a new comment on a section page: the same for every member but for the
# CSRF token and the form's own token, so rendered once per process for each section
# (and length limit) with a marker in each of their places, then filled in for each
# page. The template and its five widgets had cost every member's page a millisecond.
CSRF_MARKER = f"csrf-{secrets.token_hex(8)}"
TOKEN_MARKER = f"token-{secrets.token_hex(8)}"
_MARKERS = re.compile(f"({CSRF_MARKER}|{TOKEN_MARKER})")
_new_comment_forms: dict[tuple, list[str]] = {}


def new_comment_form(request, section) -> SafeString:
    """The section page's form for a new comment (CommentForm, not bound to data), as
    templates/forum/comment_form.html renders it for this request."""
    key = (section.pk, section.slug, section.essay.slug, settings.COMMENT_MAX_LENGTH)
    pieces = _new_comment_forms.get(key)
    if pieces is None or settings.DEBUG:  # (DEBUG: a template edited since shows)
        sample = CommentForm(section=section, user=request.user, initial={"token": TOKEN_MARKER})
        html = render_to_string(
            "forum/comment_form.html",
            {"form": sample, "section": section, "csrf_token": CSRF_MARKER},
        )
        pieces = _new_comment_forms[key] = _MARKERS.split(html)
    values = {CSRF_MARKER: get_token(request), TOKEN_MARKER: str(uuid.uuid4())}
    return SafeString("".join(values.get(piece, piece) for piece in pieces))


class CommentRenderer:
    """Renders comments for one request (one viewer)."""

    def __init__(self, request, section):
        self.section = section
        self.viewer = request.user
        self.moderator = request.user.is_authenticated and request.user.is_moderator
        self.now = timezone.now()
        self.now_stamp = self.now.timestamp()
        self.dated_before = self.now - RELATIVE_FOR  # older: its stored date (DATED)
        self.relative_seconds = RELATIVE_FOR.total_seconds()
        self.tz = timezone.get_current_timezone()
        self.fragments = Fragments(section)
        self.tag = Comment.fragment_tag()[:-1]  # a stored fragment's first chunk
        self.url = {name: _url_pattern(name) for name in URL_NAMES}
        # Per page: each author's name and link, each day's date, each kind of actions.
        self._authors: dict[int, tuple[str, str]] = {}
        self._offsets: dict[int, float | None] = {}
        self._days: dict[int, str] = {}
        self._folded_notes: dict[int, SafeString] = {}
        self._and_counts: dict[int, str] = {}
        self._actions_made: dict[tuple, list[str]] = {}
        # Fragments rendered here because none was stored (Comment.fill_fragments).
        self._unstored: list[tuple[str, int, str]] = []

    def link(self, name: str, value) -> str:
        return self.url[name].format(value)

    # --- What views call -----------------------------------------------------------

    def marked_text(self, body_html: str, nodes: list[Node]) -> SafeString:
        """The section's text with a mark in the margin of each paragraph that comments
        on this page quote: how many, linking to the discussion with their threads
        first. Counted from the comments the page shows (no query), so the marks follow
        re-anchoring and show only what this reader may see."""
        counts: dict[str, int] = {}
        pending = list(nodes)
        while pending:
            node = pending.pop()
            pending.extend(node.replies)
            c = node.comment
            if c.shows_text and c.anchor_paragraph and c.anchor_state != AnchorState.ORPHANED:
                counts[c.anchor_paragraph] = counts.get(c.anchor_paragraph, 0) + 1

        def mark(match) -> str:
            count = counts.get(match[1])
            if not count:
                return match[0]
            words = "comment" if count == 1 else "comments"
            return match[0] + h(
                '<a class="passage-mark" href="?passage={0}#discussion" data-passage="{0}" '
                'data-passage-count="{1}">{1}<span class="visually-hidden"> {2} on this '
                "paragraph</span></a>",
                match[1],
                count,
                words,
            )

        # body_html was sanitized by essays.markup when the section was saved.
        return SafeString(_paragraph_start.sub(mark, body_html))

    def threads(self, nodes: list[Node]) -> str:
        """The threads' HTML, for render_with_threads to put in place: a plain str, as
        made by h() and the stored fragments (a SafeString of it would copy its megabyte
        or two once more, 0.18 ms for a member's 1,000-comment page; and in a template
        by mistake, a plain str is escaped, not trusted)."""
        out: list[str] = []
        for node in nodes:
            out.append('<li class="thread">')
            self._emit(node, out)
            out.append("</li>")
        self._store_rendered()
        return "".join(out)

    def comment(self, node: Node) -> SafeString:
        """A comment with its replies: the whole <article>."""
        out: list[str] = []
        self._emit(node, out)
        self._store_rendered()
        return SafeString("".join(out))

    def _emit(self, node: Node, out: list[str]) -> None:
        """Append a comment with its replies to `out`: every piece is made by h() or
        stored as made by it (Fragments).

        The header (author, permalink, state) sits outside the fold: a <summary> is
        itself a control and must hold no links. The summary is the fold's toggle
        alone, named for what it folds."""
        c = node.comment
        if c.status != Status.PUBLISHED or not c.shows_text:
            self._emit_hidden(node, out)
            return
        chunks = c.fragment  # as stored, split (forum.threads.PageComment)
        if len(chunks) != CHUNKS + 1 or chunks[0] != self.tag:
            # None stored yet, or of an earlier format or time zone (then _rows read
            # every field): made here, and stored unless it cannot be.
            chunks = [EMPTY, *self.fragments.chunks(c)]
            stored = self.fragments.joined(chunks[1:])
            if stored != (read := SEP.join(c.fragment)):
                self._unstored.append((stored, c.pk, read))
        # (Each call less per comment is a tenth of a millisecond less per page: the
        # author's parts as made for the page are looked up here.)
        if (parts := self._authors.get(id(c.author))) is None:
            parts = self._author_parts(c.author)
        below = node.below
        created = c.created_at
        out += (  # chunks[0] is the tag
            chunks[1], parts[0], chunks[2], parts[1], chunks[3],
            chunks[DATED] if created < self.dated_before else self._ago(created),
            chunks[4], self._ago(c.edited_at) if c.edited_at else "",
            chunks[5], self._folded(below) if below else "",
            chunks[6], self._and_count(below) if below else "",
            chunks[7], self._actions(node), chunks[8],
        )  # fmt: skip
        self._emit_below(node, out)
        out.append(chunks[9])

    def _emit_hidden(self, node: Node, out: list[str]) -> None:
        """A comment that is not published: a placeholder, or what its author and the
        moderators see of it. Few on any page; built whole each time."""
        c = node.comment
        hidden = " comment--hidden" if c.status != Status.PUBLISHED else ""
        out.append(
            h(
                '<article class="comment{}" id="c-{}" aria-label="Comment by {}">{}'
                '<details class="comment__fold" open>{}{}{}{}',
                hidden,
                c.pk,
                self._label(c),
                self.meta(node),
                self._toggle(node),
                self.body(node),
                SafeString(self._actions(node)),  # made by h()
                h('<div class="comment__reply-slot" id="c-{}-reply"></div>', c.pk),
            )
        )
        self._emit_below(node, out)
        out.append(FOLD_CLOSE)

    def _emit_below(self, node: Node, out: list[str]) -> None:
        if node.replies:
            out.append('<ol class="replies">')
            for reply in node.replies:
                out.append("<li>")
                self._emit(reply, out)
                out.append("</li>")
            out.append("</ol>")
        if node.continues or node.more_after:
            out.append(self._continues(node))

    def _store_rendered(self) -> None:
        if self._unstored:
            Comment.objects.fill_fragments(self._unstored)
            self._unstored = []

    def body(self, node: Node) -> SafeString:
        """The text (or its placeholder), with the passage it quotes: also the fragment
        an in-place edit or deletion swaps in."""
        c = node.comment
        if not c.shows_text:
            inner = h('<p class="comment__placeholder">{}</p>', PLACEHOLDERS[c.status])
            return h('<div class="comment__body" id="c-{}-body">{}</div>', c.pk, inner)
        return self.fragments.body(c, self._notice(c))

    def changed(self, node: Node) -> SafeString:
        """After an in-place edit or deletion: the body, and the header out of band (the
        "edited" marker, an author who is now "[deleted]")."""
        return join([self.body(node), self.meta(node, oob=True)])

    def vote(self, node: Node) -> SafeString:
        """The score, and the upvote button for those who may vote."""
        c = node.comment
        points = "point" if c.score in (1, -1) else "points"
        button = EMPTY
        if Act.VOTE in node.may:
            action = self.link("unvote" if node.voted else "vote", c.pk)
            pressed, label = ("true", UPVOTED) if node.voted else ("false", UPVOTE)
            button = h(
                '<button class="link-button" form="{0}" formaction="{1}" data-hx-post="{1}" '
                'data-hx-target="#c-{2}-vote" data-hx-swap="outerHTML" aria-pressed="{3}">{4}'
                "</button>",
                ACTIONS_FORM, action, c.pk, pressed, label,
            )  # fmt: skip
        return h(
            '<div class="vote" id="c-{}-vote"><span class="vote__score">{} {}</span>{}</div>',
            c.pk, c.score, points, button,
        )  # fmt: skip

    def follow(self, node: Node) -> SafeString:
        """Follow every reply below a comment, or stop."""
        action = self.link("follow_thread", node.comment.pk)
        if node.following:
            value, pressed, label = "0", "true", FOLLOWING
            title = "You are told about every reply below this comment. Press to stop."
        else:
            value, pressed, label = "1", "false", "Follow"
            title = "Be told about every reply below this comment"
        return h(
            '<button class="link-button" form="{0}" formaction="{1}" data-hx-post="{1}" '
            'data-hx-swap="outerHTML" name="follow" value="{2}" aria-pressed="{3}" title="{4}">'
            "{5}</button>",
            ACTIONS_FORM, action, value, pressed, title, label,
        )  # fmt: skip

    # --- The parts of a comment ----------------------------------------------------

    def _label(self, c) -> str:
        """Whose comment this is, in words, for screen readers."""
        if not c.shows_text:
            return {Status.DELETED: "a deleted comment", Status.PENDING: "a held comment"}.get(
                c.status, "a removed comment"
            )
        return SafeString(self._author_parts(c.author)[0])

    def _author(self, c) -> SafeString:
        if not c.shows_text:
            return h('<span class="comment__author">{}</span>', HIDDEN_AUTHORS[c.status])
        return SafeString(self._author_parts(c.author)[1])

    def refreshed_headers(self, nodes: list[Node]) -> SafeString:
        """Headers for site.js to put in place of those on the page, where there are:
        a reply's ancestors, whose counts it changed. (Out of band, htmx would report
        each one a thread page does not show.)"""
        return h(
            "<div hidden data-refreshes>{}</div>",
            join(self.meta(node, refresh=True) for node in nodes),
        )

    def meta(self, node: Node, *, oob: bool = False, refresh: bool = False) -> SafeString:
        """Who and when, and what state the comment is in: the comment's header, also
        sent out of band after an in-place edit (the "edited" marker) or deletion.
        A published comment's header on a page comes from Fragments.chunks, in the
        same words."""
        c = node.comment
        local = timezone.localtime(c.created_at)
        parts = [
            self._author(c),
            h(
                TIME_LINK,
                self.link("comment", c.pk),
                machine_datetime(local),
                long_date(local),
            ),
            self._ago(c.created_at),
            SafeString("</time></a>"),
        ]
        if c.edited_at and c.shows_text:
            edited = timezone.localtime(c.edited_at)
            parts += [
                h(EDITED_OPEN, machine_datetime(edited), long_date(edited)),
                self._ago(c.edited_at),
                SafeString("</time></span>"),
            ]
        if c.is_pinned:
            parts.append(PINNED)
        if c.status != Status.PUBLISHED and c.shows_text:
            parts.append(
                h(' <span class="badge badge--{}">{}</span>', c.status, STATUS_BADGES[c.status])
            )
        if node.below:
            parts.append(self._folded(node.below))
        if refresh:
            where = h(' data-refresh="c-{}-meta"', c.pk)
        else:
            where = h(' id="c-{}-meta"{}', c.pk, h(' data-hx-swap-oob="true"') if oob else EMPTY)
        return h('<header class="comment__meta"{}>{}</header>', where, join(parts))

    def _folded(self, below: int) -> SafeString:
        """'N replies folded' (made once a page for each N)."""
        if (note := self._folded_notes.get(below)) is None:
            note = h(' <span class="comment__folded-note">{} folded</span>', self._count(below))
            self._folded_notes[below] = note
        return note

    def _and_count(self, below: int) -> str:
        """' and N replies', for the fold's toggle (made once a page for each N)."""
        if (words := self._and_counts.get(below)) is None:
            words = self._and_counts[below] = f" and {self._count(below)}"
        return words

    def _ago(self, moment: datetime) -> str:
        """How long ago, in words (after a week, the local date)."""
        stamp = moment.timestamp()
        if self.now_stamp - stamp < self.relative_seconds:
            return relative_time(moment, self.now)
        return self._date(moment, stamp)

    def _date(self, moment: datetime, stamp: float) -> str:
        """The local date of a moment, as words. Asking the time zone for each of a
        thousand comments was a tenth of a page's time: instead, the zone's offset is
        asked once for each UTC day (at its first and last second), and each local
        day's words made once. On a day the clocks change (the offsets differ), each
        moment asks the zone itself."""
        day = int(stamp // 86400)
        offset = self._offsets.get(day, MISSING)
        if offset is MISSING:
            first, last = (
                datetime.fromtimestamp(second, self.tz).utcoffset()
                for second in (day * 86400, day * 86400 + 86399)
            )
            offset = self._offsets[day] = first.total_seconds() if first == last else None
        if offset is None:
            return moment.astimezone(self.tz).strftime("%-d %b %Y")
        local_day = int((stamp + offset) // 86400)
        if (text := self._days.get(local_day)) is None:
            midnight = datetime.fromtimestamp(local_day * 86400, UTC)
            text = self._days[local_day] = midnight.strftime("%-d %b %Y")
        return text

    def _author_parts(self, author) -> tuple[str, str]:
        """The author's name for the article's label and their link, escaped once a page."""
        key = id(author)
        if (parts := self._authors.get(key)) is None:
            if author is None:
                parts = ("a deleted user", '<span class="comment__author">deleted user</span>')
            else:
                parts = (
                    _safe(author.public_name),
                    h(
                        '<a class="comment__author" href="{}">{}</a>',
                        self.link("profile", author.username),
                        author.public_name,
                    ),
                )
            self._authors[key] = parts
        return parts

    def _toggle(self, node: Node) -> SafeString:
        """The fold's <summary>: the toggle alone, no links inside."""
        what = h("this comment and {}", self._count(node.below)) if node.below else "this comment"
        return h(
            '<summary class="comment__toggle"><span class="visually-hidden">Fold or unfold {}'
            "</span></summary>",
            what,
        )

    @staticmethod
    def _count(replies: int) -> str:
        return f"{replies} {'reply' if replies == 1 else 'replies'}"

    def _notice(self, c) -> SafeString:
        """What the author (or a moderator) is told about a comment others cannot see."""
        if c.status == Status.PUBLISHED or c.is_deleted:
            return EMPTY
        if self.moderator and c.author_id != self.viewer.pk:
            text = h("{}: hidden from readers.", STATUS_BADGES[c.status])
        elif c.status == Status.PENDING:
            text = h("Awaiting review: only you and the moderators can see this for now.")
        else:
            reason = h(" Reason: {}", c.moderation_reason) if c.moderation_reason else EMPTY
            text = h("Removed by a moderator.{} Only you and the moderators can see it.", reason)
        return h('<p class="comment__notice">{}</p>', text)

    def _actions(self, node: Node) -> str:
        """What the viewer may do, as Participation decided for this node: the score
        and buttons on a published comment, and editing an author's pending one. Made
        by h() (and an integer), as a plain str for _emit's list: a SafeString of it
        would copy it again, for each of a thousand comments.

        The same for every comment of one kind (status, score, the viewer's rights,
        vote and follow) but for its id: made once a page per kind, with a marker for
        the id (as _url_pattern does for URLs), then filled in per comment."""
        c = node.comment
        kind = (c.status, c.score, node.may, node.voted, node.following)
        around = self._actions_made.get(kind)
        if around is None:
            sample = Node(
                comment=_Sample(MARKER, c.status, c.score),
                may=node.may,
                voted=node.voted,
                following=node.following,
            )
            # The pieces around each place the id goes (joining them is far cheaper
            # than str.format() parsing a kilobyte of a member's forms per comment).
            around = self._actions_made[kind] = self._actions_html(sample).split(str(MARKER))
        return str(c.id).join(around)

    def _actions_html(self, node: Node) -> SafeString:
        c = node.comment
        pk = c.pk
        parts = [self.vote(node)] if c.status == Status.PUBLISHED else []
        if Act.REPLY in node.may:
            reply = self.link("reply", pk)
            parts.append(
                h(
                    '<a href="{0}" data-hx-get="{0}" data-hx-target="#c-{1}-reply" '
                    'data-hx-swap="innerHTML">Reply</a>',
                    reply,
                    pk,
                )
            )
        if Act.FOLLOW in node.may and c.status == Status.PUBLISHED:
            parts.append(self.follow(node))
        if Act.REPORT in node.may and c.status == Status.PUBLISHED:
            parts.append(h('<a href="{}">Report</a>', self.link("report", pk)))
        if Act.EDIT in node.may:
            edit = self.link("edit_comment", pk)
            parts.append(
                h(
                    '<a href="{0}" data-hx-get="{0}" data-hx-target="#c-{1}-body" '
                    'data-hx-swap="innerHTML">Edit</a>',
                    edit,
                    pk,
                )
            )
        if Act.DELETE in node.may:
            parts.append(h('<a href="{}">Delete</a>', self.link("delete_comment", pk)))
        if not parts:
            return EMPTY
        return h('<div class="comment__actions">{}</div>', join(parts))

    def _replies(self, node: Node) -> SafeString:
        if not node.replies:
            return EMPTY
        return h(
            '<ol class="replies">{}</ol>',
            join(h("<li>{}</li>", self.comment(reply)) for reply in node.replies),
        )

    def _continues(self, node: Node) -> SafeString:
        """Links to replies this page does not show: too deep, or past the cap."""
        c = node.comment
        parts = []
        if node.continues:
            more = h(" ({})", self._count(node.continued)) if node.continued else EMPTY
            parts.append(
                h(
                    '<p class="comment__continue"><a href="{}">Continue this thread{} &#8594;'
                    "</a></p>",
                    self.link("thread", c.pk),
                    more,
                )
            )
        if node.more_after:
            parts.append(
                h(
                    '<p class="comment__continue"><a href="{}?after={}">More of this thread &#8594;'
                    "</a></p>",
                    self.link("thread", c.root_id or c.pk),
                    node.more_after,
                )
            )
        return join(parts)
