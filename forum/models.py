import logging
import math
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from functools import cached_property

from django.conf import settings
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.core.cache import cache as security_cache
from django.core.exceptions import PermissionDenied
from django.db import (
    DatabaseError,
    IntegrityError,
    connection,
    connections,
    models,
    transaction,
)
from django.db.models import Case, Count, F, Q, Value, When
from django.urls import reverse
from django.utils import timezone
from django.utils.text import Truncator

from accounts.models import Ban, User
from config.prepared import Prepared
from essays import versions
from essays.markup import paragraphs, render_user_text
from essays.models import Essay, Section
from forum import anchoring, lookups  # noqa: F401  (registers __any_of)

logger = logging.getLogger(__name__)

# --- Discussion ---------------------------------------------------------------------------

SEARCH_CONFIG = "english"
PATH_DIGITS = 7  # base-36 digits per level of the thread path: room for 78 billion comments


def path_segment(pk: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while pk:
        pk, rest = divmod(pk, 36)
        out = digits[rest] + out
    return out.rjust(PATH_DIGITS, "0")


def discussion_changed(section_id: int) -> None:
    """Invalidate every cached view of a section's discussion, once the change is
    committed. Saving or deleting a comment or a vote calls this by itself (see
    ForumConfig.ready)."""
    versions.bump(discussion_key(section_id))


def discussion_key(section_id: int) -> str:
    """Where a section's discussion_version is kept in the page cache."""
    return f"discussion:{section_id}"


def discussion_version(section_id: int) -> int | None:
    """A value that changes whenever the section's discussion does (None while the
    cache is unreachable)."""
    return versions.current(discussion_key(section_id))


def page_versions(section_id: int) -> tuple[int, int] | None:
    """The versions of what a section's page shows, read together (one cache round
    trip): the essays' content_version and the section's discussion_version; None
    while the cache is unreachable."""
    from essays.models import CONTENT_VERSION_KEY

    found = versions.current_many([CONTENT_VERSION_KEY, discussion_key(section_id)])
    return None if found is None else tuple(found)


# How a writer locks a comment's row against others: just that row (not the section and
# essay it is read with), and without blocking the key-share locks PostgreSQL takes to
# check foreign keys when others insert rows that point at it (a reply, a vote, a
# notification): FOR UPDATE would deadlock with those. Ignored by SQLite.
ROW_LOCK = {"no_key": True, "of": ("self",)}


class Refused(PermissionDenied):
    """A write the rules refuse; the message says why, for the person who tried. Views
    need not catch it: as a PermissionDenied it is a 403 page with the reason. Forms
    turn it into their error. `retry_after` (seconds) is set when trying again later
    will work (a rate limit)."""

    def __init__(self, message: str, retry_after: int | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class Act(models.TextChoices):
    """What a person can do to a comment."""

    REPLY = "reply"
    EDIT = "edit"
    DELETE = "delete"
    VOTE = "vote"
    REPORT = "report"
    FOLLOW = "follow"


class Participation:
    """What one person may do in one section's discussion: the one home of the rules
    for posting, replying, editing, deleting, voting, reporting and following.

    Views, the thread builder (and so the renderer's buttons), htmx fragments and the
    admin all ask it. Each answer is None (allowed) or the reason, in words. It works
    on model instances and on the plain rows pages use (`status`, `author_id`).
    """

    CLOSED = "The discussion of this section is closed."

    def __init__(self, viewer, section):
        self.viewer = viewer
        self.section = section
        self._rights: dict[tuple, frozenset] = {}
        # Read once: request.user is a lazy object, and each attribute of it costs a
        # call through the wrapper (a thousand of them on a page).
        self._viewer_pk = viewer.pk

    @cached_property
    def refusal(self) -> str | None:
        """Why this person may not take part at all (signed out, unverified, banned)."""
        if not self.viewer.is_authenticated:
            return "Please sign in to take part."
        return self.viewer.write_refusal()

    @cached_property
    def closed(self) -> bool:
        return not self.section.is_open_for_discussion

    def to_post(self) -> str | None:
        """Why this person may not start a new thread here, or follow the section; None
        if they may."""
        return self.refusal or (self.CLOSED if self.closed else None)

    def to(self, act: str, comment) -> str | None:
        """Why this person may not do `act` to `comment` (one they can see); None if
        they may. A closed discussion is read-only, except that authors may still
        take back what they wrote and anyone may still report."""
        if self.refusal:
            return self.refusal
        published = comment.status == Comment.Status.PUBLISHED
        own = comment.author_id == self.viewer.pk
        if act == Act.REPORT:
            if own or not published:
                return "You can only report other people's published comments."
            return None
        if act == Act.DELETE:
            if not own:
                return "You can only delete your own comments."
            if comment.status not in Comment.EDITABLE:
                return "This comment can no longer be deleted."
            return None
        if self.closed:
            return self.CLOSED
        if act in (Act.REPLY, Act.FOLLOW) and not published:
            return (
                f"Only published comments can be {'answered' if act == Act.REPLY else 'followed'}."
            )
        if act == Act.VOTE:
            if own:
                return "You cannot vote on your own comment."
            if not published:
                return "Only published comments can be voted on."
        if act == Act.EDIT:
            if not own:
                return "You can only edit your own comments."
            if comment.status not in Comment.EDITABLE:
                return "This comment can no longer be edited."
        return None

    def may(self, act: str, comment) -> bool:
        return self.to(act, comment) is None

    def rights(self, comment) -> frozenset:
        """Every act this person may do to `comment`, as `to` decides. `to` reads only
        the comment's status and whether it is the viewer's own, so a page of a
        thousand comments asks it a few times rather than six thousand."""
        key = (comment.status, comment.author_id == self._viewer_pk)
        if (acts := self._rights.get(key)) is None:
            acts = self._rights[key] = frozenset(a for a in Act if self.may(a, comment))
        return acts


class CommentQuerySet(models.QuerySet):
    def visible_to(self, user):
        """The one rule for which comments a person may see, and whether they see the
        text: pages, permalinks, fragments, counts, profiles, feeds, search and the
        notifications ask this.

        Everyone sees published comments of essays they may read, and deleted, removed,
        spam or pending ones as placeholders while others' replies hang from them
        (`answered`; without replies they vanish). Authors also see their own pending
        comments, and their removed ones with the reason if the policy tells authors;
        moderators (in a session with staff powers) see everything. Each row gets
        `shows_text`: False for a placeholder, whose text and author this person must
        not see.
        """
        return self.filter(section__essay__in=Essay.objects.visible_to(user))._shown_to(user)

    def visible_in(self, section, user):
        """visible_to() for the comments of one section that the caller has found
        `user` may read (forum.views.visible_section): the same rule, without asking
        again whether its essay is visible (a subquery, and a sixth of the work of
        checking a reply's parent)."""
        return self.filter(section=section)._shown_to(user)

    @staticmethod
    def rule_for(user) -> str:
        """Which of visible_to()'s rules is `user`'s: "reader" (not signed in),
        "moderator" (who sees everything), else "member" (published comments and their
        own). The rule asks nothing else of a person but their id: queries prepared once
        per process (config/prepared.py) are made for a kind of viewer, and a kind they
        do not know is asked of the ORM."""
        if not user.is_authenticated:
            return "reader"
        return "moderator" if user.is_moderator else "member"

    def _shown_to(self, user):
        """visible_to()'s rule for comments of essays `user` may read."""
        Status = Comment.Status
        rule = self.rule_for(user)
        if rule == "moderator":
            return self.annotate(shows_text=self.shows_text(user))
        shown = Q(status=Status.PUBLISHED) | Q(status__in=Comment.HIDDEN, answered=True)
        if rule == "member":
            shown |= Q(author=user, status__in=Comment.AUTHORS_ONLY)
        return self.filter(shown).annotate(shows_text=self.shows_text(user))

    def authors_only_in(self, section, user):
        """`user`'s own comments in a section that only they (and the moderators) see:
        all that a member sees there beyond what a reader does (_shown_to, shows_text)."""
        return self.filter(section=section, author=user, status__in=Comment.AUTHORS_ONLY)

    @staticmethod
    def rows_alike_for(user, authors_only: bool | None) -> str | None:
        """Whose rows of a section `user` sees the same of, by this rule: "reader" for
        readers, and for members with no comment there that only they see
        (`authors_only`, authors_only_in().exists(); None if not asked); "moderator"
        for moderators, who see everything alike. None when it cannot be told: their
        rows are their own. (forum.threads.KEPT_PAGES keeps a page's rows by this.)"""
        rule = CommentQuerySet.rule_for(user)
        if rule == "member":
            return "reader" if authors_only is False else None
        return rule

    @staticmethod
    def shows_text(user) -> models.Expression:
        """visible_to()'s `shows_text`, for a query of rows it already chose (a page
        reads its rows by the ids a visible_to() subquery picked, without asking the
        whole rule again)."""
        Status = Comment.Status
        rule = CommentQuerySet.rule_for(user)
        if rule == "moderator":
            return models.Value(True)
        text = Q(status=Status.PUBLISHED)
        if rule == "member":
            told = models.Exists(
                ModerationPolicy.objects.filter(pk=1, tell_authors_about_removals=True)
            )
            text |= Q(author=user, status=Status.PENDING) | Q(
                told, author=user, status__in=[Status.REMOVED, Status.SPAM]
            )
        return models.ExpressionWrapper(text, output_field=models.BooleanField())

    def refresh_answered(self) -> None:
        """Recompute `answered` for these comments and, as far as it changes, for their
        ancestors: whether a reply anyone can see hangs from each (a published one, or
        a placeholder that is answered itself). Deepest first, so one pass is enough."""
        self._refresh_answered(list(self.order_by("-depth").values_list("pk", "depth")))

    def refresh_answered_above(self, comment, created: bool = False) -> None:
        """refresh_answered() for the comment `comment` answers (its parent, known by
        id): without the query for the depth, which only orders several.

        A comment just `created` can only make its parent answered: if it is a visible
        reply (published, or answered itself), one UPDATE sets the parent's `answered`
        where it was not set (usually it was: nothing to change), and only a change goes
        on to the ancestors as refresh_answered() would; if not, nothing changes."""
        if not comment.parent_id:
            return
        if not created:
            self._refresh_answered([(comment.parent_id, comment.depth - 1)])
            return
        visible = comment.status == Comment.Status.PUBLISHED or (
            comment.status in Comment.HIDDEN and comment.answered
        )
        if not visible:
            return
        parent = comment._state.fields_cache.get("parent")
        if getattr(parent, "locked", False) and parent.answered:
            return  # read under this transaction's row lock (post()): nothing to change
        if Comment.objects.filter(pk=comment.parent_id, answered=False).update(answered=True):
            parent = (
                Comment.objects.filter(pk=comment.parent_id)
                .values_list("parent_id", "depth", "status")
                .first()
            )
            # As in _refresh_answered: a placeholder that appears may change its parent.
            if parent and parent[0] and parent[2] in Comment.HIDDEN:
                self._refresh_answered([(parent[0], parent[1] - 1)])

    def _refresh_answered(self, pending: list[tuple[int, int]]) -> None:
        Status = Comment.Status
        visible_reply = models.Exists(
            Comment.objects.filter(parent=models.OuterRef("pk")).filter(
                Q(status=Status.PUBLISHED) | Q(status__in=Comment.HIDDEN, answered=True)
            )
        )
        seen = set()
        while pending:
            pending.sort(key=lambda row: -row[1])
            pk, _ = pending.pop(0)
            if pk in seen:
                continue
            seen.add(pk)
            changed = (
                Comment.objects.filter(pk=pk)
                .annotate(now=visible_reply)
                .exclude(answered=models.F("now"))
                .values_list("now", "parent_id", "depth", "status")
                .first()
            )
            if changed is None:
                continue
            now, parent_id, depth, status = changed
            Comment.objects.filter(pk=pk).update(answered=now)
            # A placeholder that gains or loses its last visible reply appears or
            # vanishes: its parent may change in turn. A published comment counts for
            # its parent either way.
            if parent_id and status in Comment.HIDDEN:
                pending.append((parent_id, depth - 1))

    def published(self):
        return self.filter(status=Comment.Status.PUBLISHED)

    def top_level(self):
        return self.filter(parent__isnull=True)

    def sorted_by(self, sort: str):
        """Pinned comments first, then the reader's choice."""
        return self.order_by("-is_pinned", *Comment.SORTS.get(sort, Comment.SORTS["oldest"]))

    def with_author(self):
        return self.select_related("author")

    def one_in(self, section, user, pk: int) -> "Comment | None":
        """Comment `pk` of `section` as `user` sees it (visible_in, with `shows_text`),
        with its author, without what only its own page needs (its Markdown, search
        vector and fragment); None if it is not there for them. What a reply is sent
        to: its SQL is made once per process (config/prepared.py), which spares a
        post 1 ms of the ORM's."""
        rows = ONE_IN_SECTION.rows((), user, section.pk, pk)
        if not rows:
            return None
        alias = ONE_IN_SECTION.alias()
        values = rows[0]
        comment = Comment.from_db(alias, ONE_COLUMNS, values[: len(ONE_COLUMNS)])
        comment.shows_text = values[len(ONE_COLUMNS)]
        author = values[len(ONE_COLUMNS) + 1 :]
        comment.author = User.from_db(alias, USER_COLUMNS, author) if author[0] else None
        return comment

    def reanchor(self, section, previous, revision) -> int:
        """Follow every quote of `section` from `previous`'s text to `revision`'s
        (forum/anchoring.py): once per edit, in the edit's transaction, in bulk.
        Returns how many comments' anchors changed."""
        from forum.rendering import Fragments  # here: it imports this module

        diff = anchoring.Diff(previous.body_text, revision.body_text)
        spans = anchoring.paragraph_spans(paragraphs(revision.body_html), revision.body_text)
        # Locked: an edit or an answer at the same moment waits, and is not overwritten
        # with the fragment of what it replaced (nor this with a stale quote).
        comments = list(
            self.filter(section=section)
            .exclude(quote_text="")
            .select_for_update(**ROW_LOCK)
            .select_related("revision", "addressed_in")
            .defer("body", "search_vector", "fragment")
        )
        before = [comment.anchor_row() for comment in comments]
        for comment in comments:
            start, end, state = comment.anchor_start, comment.anchor_end, comment.anchor_state
            if not state:  # quoted before anchors were kept: find it in the old text first
                found = anchoring.locate(previous.body_text, comment.quote_selector())
                start, end, state = found.start, found.end, found.state
            anchor = anchoring.reanchor(comment.quote_selector(), diff, start, end, state)
            comment.place_quote(anchor, revision.body_text, spans)
        moved = [c for c, was in zip(comments, before, strict=True) if c.anchor_row() != was]
        table = connection.ops.quote_name(Comment._meta.db_table)
        if moved:
            # One statement sent many times: bulk_update() builds a CASE per field over
            # the batch, which took 3 to 6 s for 1,000 rows (bench/reanchor.py).
            fields = ", ".join(
                f"{connection.ops.quote_name(f)} = %s" for f in Comment.ANCHOR_FIELDS
            )
            with connection.cursor() as cursor:
                cursor.executemany(
                    f"UPDATE {table} SET {fields} WHERE id = %s",  # noqa: S608 (names only)
                    [(*c.anchor_row(), c.pk) for c in moved],
                )
        # What readers see of a quote that moved, and the "see what changed" link of
        # every reworded one (it leads to the revision now current).
        reworded = (AnchorState.CHANGED, AnchorState.REVIEW)
        shown = {c.pk: c for c in moved} | {c.pk: c for c in comments if c.anchor_state in reworded}
        if shown:
            fragments = Fragments(section, current_revision=revision.number)
            with connection.cursor() as cursor:
                cursor.executemany(
                    f"UPDATE {table} SET fragment = %s WHERE id = %s",  # noqa: S608
                    [(c.render_fragment(fragments), c.pk) for c in shown.values()],
                )
        if moved:
            discussion_changed(section.pk)
        return len(moved)

    @transaction.atomic
    def render_fragments(self) -> int:
        """Render and store these comments' fragments anew (forum.rendering.Fragments):
        when what they link to moved (a section's slug or essay), or for
        `manage.py render_fragments`. Each row is locked while it is rendered, so that
        an edit at the same moment is not overwritten with what it replaced. Returns
        how many."""
        from forum.rendering import Fragments  # here: it imports this module

        table = connection.ops.quote_name(Comment._meta.db_table)
        rows = (
            self.select_for_update(**ROW_LOCK)
            .select_related("section__essay", "revision", "addressed_in")
            .defer("body", "search_vector", "fragment")
            .order_by("section_id", "pk")
        )
        fragments, batch, done = None, [], 0
        for comment in rows.iterator(chunk_size=500):
            if fragments is None or fragments.section.pk != comment.section_id:
                fragments = Fragments(comment.section)
                discussion_changed(comment.section_id)
            batch.append((comment.render_fragment(fragments), comment.pk))
            if len(batch) == 500:
                done += self._store_fragments(table, batch)
                batch = []
        return done + self._store_fragments(table, batch)

    @staticmethod
    def _store_fragments(table: str, batch: list, *, unless_changed: bool = False) -> int:
        if batch:
            # (fragment, id), or (fragment, id, the fragment it replaces) to store it only
            # where that one is still there.
            unchanged = " AND fragment = %s" if unless_changed else ""
            with connection.cursor() as cursor:
                cursor.executemany(
                    f"UPDATE {table} SET fragment = %s WHERE id = %s{unchanged}",  # noqa: S608
                    batch,
                )
        return len(batch)

    def fill_fragments(self, rendered: list[tuple[str, int, str]]) -> None:
        """Store the fragments a page had to render because none was stored yet (rows
        made in bulk or before fragments were kept) or the one stored is of an earlier
        format or time zone: (fragment, id, the fragment read). Only where the one read
        is still there, since a save meanwhile stored its own, newer one. A page is shown
        all the same if this fails."""
        table = connection.ops.quote_name(Comment._meta.db_table)
        try:
            with transaction.atomic():
                self._store_fragments(table, rendered, unless_changed=True)
        except DatabaseError:
            logger.exception("Could not store %d comment fragments", len(rendered))

    def remove_all(self, *, by, reason: str) -> tuple[int, list]:
        """Remove these comments (spam clean-up), except those of authors `by` may not
        suspend (staff above a moderator). Returns how many were removed, and the
        authors spared."""
        removed = 0
        authors = User.objects.filter(pk__in=self.values("author"))
        spared = [a for a in authors if not a.can_be_suspended_by(by)]
        for comment in self.exclude(author__in=spared).exclude(status__in=Comment.PLACEHOLDERS):
            removed += comment.moderate(by, "remove", reason)
        return removed, spared

    COUNTED_REPLY_FIELDS = (
        *("id", "section_id", "parent_id", "root_id", "author_id", "status", "depth"),
        *("path", "answered", "reply_count"),
    )

    def _count_reply(self, pk: int) -> "Comment | None":
        """The comment `pk`, locked as ROW_LOCK locks and read, with one reply more in
        its count: one UPDATE ... RETURNING (an UPDATE that changes no key takes the
        FOR NO KEY UPDATE lock), rather than a SELECT FOR UPDATE and an UPDATE. None if
        it is gone. The caller's transaction takes the count back with a refusal.
        Marked `locked`: refresh_answered_above() may trust its `answered`."""
        table = connection.ops.quote_name(Comment._meta.db_table)
        # What a reply reads of its parent (Comment.post, Participation.to, the notice to
        # its author), not the whole row: its text, fragment and search vector were half
        # the bytes of the statement and the most work for psycopg (RETURNING *).
        columns = ", ".join(map(connection.ops.quote_name, self.COUNTED_REPLY_FIELDS))
        sql = (
            f"UPDATE {table} SET reply_count = reply_count + 1 "  # noqa: S608 (names only)
            f"WHERE id = %s RETURNING {columns}"
        )
        counted = next(iter(self.raw(sql, [pk])), None)
        if counted is not None:
            counted.locked = True  # what it says stays so until the transaction ends
        return counted

    def post(self, *, author, token=None, **rest):
        """Store a new comment or reply. Returns (comment, created): a form sent twice
        with the same token gets the first comment back instead of a second one.
        Raises Refused when the rules say no at the moment of writing; `check`, the
        caller's own rules (the form's posting limits), runs then. `policy`: the
        moderation policy, if the caller has read it; `body_html`: the body as the
        caller rendered it already (Comment.render).

        A token sent before is not looked up first (a query on every post for the
        rare form sent twice): the unique (author, token) refuses the second row, and
        a refusal by the rules is checked against it, since a form sent again
        gets its first comment back even once the rules would refuse a new one.

        Only to the section it was first sent to: a token (the author's own, from an
        old form or made up) sent to another section is refused, never answered with
        a comment of a section the caller did not check the author may read (its
        essay may be unpublished since; pages build the answer by `visible_in`)."""
        try:
            comment, created = self._post(author=author, token=token, **rest)
        except Refused:
            if not token or not (
                earlier := self.filter(author=author, submission_token=token).first()
            ):
                raise
            comment, created = earlier, False
        if not created and comment.section_id != rest["section"].pk:
            raise Refused(self.SENT_ELSEWHERE)
        return comment, created

    SENT_ELSEWHERE = (
        "This form was already sent from another page. Reload this page to write a new "
        "comment here."
    )

    @transaction.atomic
    def _post(
        self, *, section, author, body, parent=None, passage=None, token=None, policy=None,
        check=None, body_html=None,
    ):  # fmt: skip
        if check is not None:
            check()
        section.hold_text_steady()  # a revision saved meanwhile re-anchors this one too
        participation = Participation(author, section)
        if parent is not None:
            # Lock the parent: its author cannot delete it, nor a moderator remove it,
            # while this reply is written. If it went a moment ago, the rules say so.
            # Its reply count goes up in the same statement (a refusal rolls it back).
            parent = self._count_reply(parent.pk)
            if parent is None:
                raise Refused("The comment you replied to was deleted a moment ago.")
            if refusal := participation.to(Act.REPLY, parent):
                raise Refused(refusal)
        elif refusal := participation.to_post():
            raise Refused(refusal)
        comment = Comment(
            section=section,
            author=author,
            body=body,
            parent=parent,
            root_id=parent.thread_id if parent else None,
            depth=parent.depth + 1 if parent else 0,
            submission_token=token,
            revision_id=section.current_revision_id,
        )
        if passage:
            comment.quote_text, comment.quote_before = passage.text, passage.before
            comment.quote_after, comment.quote_anchor = passage.after, passage.anchor
            if revision := section.current_revision:
                comment.anchor_quote(revision)
        if body_html is None:
            comment.render()
        else:
            comment.body_html = body_html
        hold = (policy or ModerationPolicy.current()).reason_to_hold(author, comment)
        if hold:
            comment.status = Comment.Status.PENDING
        try:
            with transaction.atomic():
                comment.save()
        except IntegrityError:
            # The same form sent before, or twice at the same moment (the other
            # request won): its first comment is the answer.
            if parent is not None:  # and counted the reply
                self.filter(pk=parent.pk).update(reply_count=F("reply_count") - 1)
            return self.get(author=author, submission_token=token), False
        comment.path = (parent.path if parent else "") + path_segment(comment.pk)
        comment.fragment = comment.render_fragment()
        Comment.update_search_vector(
            self.filter(pk=comment.pk), path=comment.path, fragment=comment.fragment
        )
        if author.follow_own_comments:
            Subscription.objects.follow(author, thread=comment)
        if hold:
            ModerationLog.record(None, ModerationLog.Action.HOLD, comment=comment, reason=hold)
            Notification.objects.review_needed(comment)
        else:
            Notification.objects.comment_published(comment, just_posted=True)
        return comment, True


class AnchorState(models.TextChoices):
    """Where a comment's quote stands in the section's current text (forum/anchoring.py)."""

    ANCHORED = anchoring.ANCHORED, "anchored"
    CHANGED = anchoring.CHANGED, "responded to an earlier version"
    ORPHANED = anchoring.ORPHANED, "passage removed"
    REVIEW = anchoring.REVIEW, "needs review"


class EditorAnswer(models.TextChoices):
    ADDRESSED = "addressed", "addressed in a revision"
    DECLINED = "declined", "declined"


class FragmentHash(models.Func):
    """A 64-bit hash PostgreSQL makes of a comment's stored fragment (Comment.fragment):
    what a page reads in its place, to take the fragment from those its process keeps
    (forum.threads.KeptFragments). Stored with the row (Comment.fragment_hash): hashed
    as each page was read, a thousand fragments cost PostgreSQL half a millisecond a
    page. SQLite has no hash function: there a page reads the fragments themselves, and
    the column is empty."""

    function = "hashtextextended"
    output_field = models.BigIntegerField()

    def __init__(self):
        super().__init__(models.F("fragment"), models.Value(0))

    def as_sqlite(self, compiler, connection, **extra_context):
        return "NULL", []


class StoredGeneratedField(models.GeneratedField):
    """A GeneratedField stored in the row (db_persist=True), whose system check asks no
    database. Django's asks PostgreSQL its version (could it compute the column when
    read instead?), which made `manage.py check --deploy` need the database up, where
    it is run before there is one (tests/config/test_settings.py). Every database this
    runs on stores generated columns (PostgreSQL 12 and later, SQLite 3.31 and later)."""

    def __init__(self, **kwargs):
        super().__init__(db_persist=True, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        del kwargs["db_persist"]
        return name, path, args, kwargs

    def _check_supported(self, databases):
        return []


class Comment(models.Model):
    """A comment on a section, or a reply to another comment of the same section.

    Thread order comes from `path`: the base-36 ids of every ancestor and of the comment
    itself, fixed width, so sorting by path lists each thread depth-first with siblings
    oldest first, straight from the database.
    """

    class Status(models.TextChoices):
        PUBLISHED = "published", "published"
        PENDING = "pending", "pending review"
        REMOVED = "removed", "removed by a moderator"
        SPAM = "spam", "spam"
        DELETED = "deleted", "deleted by its author"

    # Kept in place, without their text, while others' replies hang from them.
    PLACEHOLDERS = (Status.DELETED, Status.REMOVED, Status.SPAM)
    # Not published: shown to others (as a placeholder) only while answered.
    HIDDEN = (*PLACEHOLDERS, Status.PENDING)
    # What an author may still edit or delete: not what a moderator took down.
    EDITABLE = (Status.PUBLISHED, Status.PENDING)
    # Not published, yet shown to their author (visible_to): held, or taken down.
    AUTHORS_ONLY = (Status.PENDING, Status.REMOVED, Status.SPAM)

    SORTS = {
        "oldest": ["created_at", "pk"],
        "newest": ["-created_at", "-pk"],
        "top": ["-score", "created_at", "pk"],
    }

    section = models.ForeignKey("essays.Section", on_delete=models.CASCADE, related_name="comments")
    # RESTRICT: a comment with replies is never removed by accident, yet deleting a
    # whole section still takes its threads with it.
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.RESTRICT, related_name="replies"
    )
    root = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.RESTRICT, related_name="+"
    )
    author = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="comments"
    )
    body = models.TextField(blank=True)
    body_html = models.TextField(editable=False, blank=True)
    quote_text = models.TextField(blank=True)
    quote_before = models.CharField(max_length=200, blank=True)
    quote_after = models.CharField(max_length=200, blank=True)
    quote_anchor = models.CharField(max_length=40, blank=True)
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.PUBLISHED, db_index=True
    )
    is_pinned = models.BooleanField("pinned", default=False)
    moderation_reason = models.TextField(
        blank=True, help_text="Shown to the author when their comment is removed."
    )
    path = models.TextField(editable=False, default="")
    depth = models.PositiveIntegerField(editable=False, default=0)
    reply_count = models.PositiveIntegerField(editable=False, default=0)
    # Whether a reply anyone can see hangs from it (a published one, or an answered
    # placeholder): kept up to date on every save and delete (refresh_answered), so
    # that pages decide placeholders without a subquery per comment.
    answered = models.BooleanField(editable=False, default=False)
    score = models.IntegerField(editable=False, default=0)
    # A random token from the form: a form sent twice creates one comment.
    submission_token = models.UUIDField(null=True, blank=True, editable=False)
    # The text as PostgreSQL's full-text search sees it, kept up to date by
    # update_search_vector() and indexed (GIN) by migration 0004; unused on SQLite.
    search_vector = SearchVectorField(null=True, editable=False)
    # Where the quote is in the section's current text, kept by CommentQuerySet.reanchor()
    # whenever the section gets a new revision (empty without a quote): its state, the
    # text-position selector (start, end in the revision's body_text), how sure the
    # match is, the paragraph it is in now, and its current wording when reworded.
    anchor_state = models.CharField(
        max_length=10, choices=AnchorState.choices, blank=True, default="", db_index=True
    )
    anchor_start = models.PositiveIntegerField(null=True, blank=True, editable=False)
    anchor_end = models.PositiveIntegerField(null=True, blank=True, editable=False)
    anchor_confidence = models.FloatField(null=True, blank=True, editable=False)
    anchor_paragraph = models.CharField(max_length=40, blank=True, editable=False)
    anchor_text = models.TextField(blank=True, editable=False)
    # The revision of the section's text the comment was written against.
    revision = models.ForeignKey(
        "essays.SectionRevision",
        null=True,
        blank=True,
        editable=False,
        on_delete=models.SET_NULL,
        related_name="comments",
    )
    # The essay's editors' answer to it (Comment.answer()): addressed in a revision, or
    # declined with a reason.
    editor_answer = models.CharField(
        "editors' answer", max_length=10, choices=EditorAnswer.choices, blank=True, default=""
    )
    addressed_in = models.ForeignKey(
        "essays.SectionRevision",
        null=True,
        blank=True,
        editable=False,
        on_delete=models.SET_NULL,
        related_name="addressed_comments",
    )
    editor_note = models.TextField(
        blank=True, help_text="What was changed (optional), or why not (required)."
    )
    answered_by = models.ForeignKey(
        User, null=True, blank=True, editable=False, on_delete=models.SET_NULL, related_name="+"
    )
    answered_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    edited_at = models.DateTimeField(null=True, blank=True, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    # Its HTML as every reader sees it while it is published, but for the parts that
    # differ by viewer and moment (forum.rendering.Fragments): rendered by save()
    # whenever a field it shows changes, by reanchor() and on a new slug; empty until
    # then (rows made in bulk), when the first page to show it renders and stores it.
    fragment = models.TextField(editable=False, blank=True, default="")
    # Kept by PostgreSQL beside the fragment, whoever writes it (save(), the UPDATEs
    # below, SQL): what a page reads in the fragment's place (FragmentHash).
    fragment_hash = StoredGeneratedField(
        expression=FragmentHash(), output_field=models.BigIntegerField()
    )
    FRAGMENT_SEP = "\x1f"  # between its chunks
    UNSTORABLE_FRAGMENT = "-"  # a chunk would hold the separator: rendered each time
    # The markup's version: change it with the markup, and every fragment stored before
    # is rendered again by the first page that shows it.
    FRAGMENT_FORMAT = "2"

    objects = CommentQuerySet.as_manager()

    class Meta:
        ordering = ["path"]
        indexes = [
            models.Index(fields=["section", "parent", "created_at"]),
            models.Index(fields=["author", "created_at"]),
            # The review desk's record of each author (AuthorRecord.of): comments by
            # status, counted from the index alone however much they wrote.
            models.Index(fields=["author", "status"], name="comment_author_status"),
            # The essay page's count of each section's published comments, from the
            # index alone (an index-only scan, no table rows read).
            models.Index(
                fields=["section"],
                condition=Q(status="published"),
                name="comment_published_in_section",
            ),
            # A section's top-level threads in each sort's order (forum/threads.py reads
            # pages by keyset): the last page of a huge discussion is an index range too.
            # What visible_to() asks is included (PostgreSQL), so a page's ids and the
            # count of threads are read from the index alone.
            *(
                models.Index(
                    fields=["section", "-is_pinned", *key],
                    condition=Q(parent__isnull=True),
                    include=["status", "answered", "author"],
                    name=f"comment_threads_{sort}",
                )
                for sort, key in (
                    ("oldest", ["created_at", "id"]),
                    ("newest", ["-created_at", "-id"]),
                    ("top", ["-score", "created_at", "id"]),
                )
            ),
        ]
        permissions = [
            ("moderate_comment", "Can moderate comments"),
            ("answer_comment", "Can answer comments for the essay's editors"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["author", "submission_token"], name="comment_submitted_once"
            ),
        ]

    ANCHOR_FIELDS = [
        *("anchor_state", "anchor_start", "anchor_end", "anchor_confidence"),
        *("anchor_paragraph", "anchor_text"),
    ]

    def __str__(self):
        return f"Comment {self.pk} on {self.section_id}"

    # What forum.rendering.Fragments shows: a save that changes any of them renders
    # the stored fragment again, in the same statement.
    SHOWN_FIELDS = frozenset(
        {
            *("body_html", "created_at", "edited_at", "is_pinned"),
            *("quote_text", "quote_before", "quote_after", "quote_anchor"),
            *("anchor_state", "anchor_paragraph", "anchor_text"),
            *("revision", "revision_id", "addressed_in", "addressed_in_id"),
            *("editor_answer", "editor_note"),
        }
    )

    def save(self, *args, **kwargs):
        fields = kwargs.get("update_fields")
        # A new row has no id for its links yet: post() renders it with its path.
        if self.pk is not None and (fields is None or self.SHOWN_FIELDS & set(fields)):
            self.fragment = self.render_fragment()
            if fields is not None:
                kwargs["update_fields"] = {*fields, "fragment"}
        super().save(*args, **kwargs)

    def get_absolute_url(self):
        return reverse("comment", args=[self.pk])

    @classmethod
    def fragment_tag(cls) -> str:
        """How a fragment of the current markup and time zone (its dates) begins."""
        return f"{cls.FRAGMENT_FORMAT}/{settings.TIME_ZONE}{cls.FRAGMENT_SEP}"

    def render_fragment(self, fragments=None) -> str:
        from forum.rendering import Fragments  # here: it imports this module

        return (fragments or Fragments(self.section)).stored(self)

    @property
    def revision_number(self) -> int | None:
        return self.revision.number if self.revision_id else None

    @property
    def addressed_number(self) -> int | None:
        return self.addressed_in.number if self.addressed_in_id else None

    def anchor_row(self) -> tuple:
        return tuple(getattr(self, name) for name in self.ANCHOR_FIELDS)

    def quote_selector(self) -> anchoring.Quote:
        """The text-quote selector: the words quoted and their context when written."""
        return anchoring.Quote(self.quote_text, self.quote_before, self.quote_after)

    def anchor_quote(self, revision) -> None:
        """Place a new quote in the revision of the text it was written against."""
        spans = anchoring.paragraph_spans(paragraphs(revision.body_html), revision.body_text)
        text = revision.body_text
        # Near its paragraph, when the same words occur in several.
        near = next((start for start, _, anchor in spans if anchor == self.quote_anchor), 0)
        found = anchoring.locate(text, self.quote_selector(), near)
        # The form found these words in the section; should the plain text disagree,
        # leave the quote unplaced (shown as written) rather than call it changed or gone.
        if found.state == AnchorState.ANCHORED:
            self.place_quote(found, text, spans)

    def place_quote(self, anchor: anchoring.Anchor, text: str, spans) -> None:
        """Store where the quote is now (unsaved): text is the revision's body_text."""
        self.anchor_state = anchor.state
        self.anchor_start, self.anchor_end = anchor.start, anchor.end
        self.anchor_confidence = anchor.confidence
        self.anchor_paragraph = anchoring.paragraph_at(spans, anchor.start)
        reworded = anchor.state in (AnchorState.CHANGED, AnchorState.REVIEW)
        self.anchor_text = anchor.wording(text) if reworded else ""

    @classmethod
    def personal_data(cls, user) -> dict[str, list]:
        """What a member wrote, with earlier versions, for their data export."""
        comments = (
            user.comments.select_related("section__essay")
            .prefetch_related("revisions")
            .order_by("pk")
        )
        return {
            "comments": [
                {
                    "id": c.pk,
                    "url": c.get_absolute_url(),
                    "essay": c.section.essay.title,
                    "section": c.section.heading,
                    "in_reply_to": c.parent_id,
                    "status": c.status,
                    "text": c.body,
                    "quote": c.quote_text,
                    "created_at": c.created_at.isoformat(),
                    "edited_at": c.edited_at.isoformat() if c.edited_at else None,
                    "earlier_versions": [
                        {"text": r.body, "written_at": r.created_at.isoformat()}
                        for r in c.revisions.all()
                    ],
                }
                for c in comments
            ]
        }

    @property
    def is_deleted(self) -> bool:
        return self.status == self.Status.DELETED

    @property
    def thread_id(self) -> int:
        return self.root_id or self.pk

    def ancestor_ids(self) -> list[int]:
        return [
            int(self.path[i : i + PATH_DIGITS], 36)
            for i in range(0, len(self.path) - PATH_DIGITS, PATH_DIGITS)
        ]

    def render(self):
        self.body_html = render_user_text(self.body)

    def refusal(self, act: str, viewer) -> str | None:
        """Why `viewer` may not do `act` to this comment; None if they may."""
        return Participation(viewer, self.section).to(act, self)

    @staticmethod
    def update_search_vector(queryset, **fields) -> None:
        """Recompute the stored search text of these comments (PostgreSQL only), in the
        same UPDATE as the other `fields` to set, if any."""
        if connection.vendor == "postgresql":
            fields["search_vector"] = SearchVector("body", config=SEARCH_CONFIG)
        if fields:
            queryset.update(**fields)

    @transaction.atomic
    def edit(self, body: str, *, by) -> None:
        """Replace the text, keeping the earlier one for moderators. Refused when the
        author may not edit; held for review when the new text, posted now, would be."""
        me = (
            Comment.objects.select_for_update(**ROW_LOCK)
            .select_related("section__essay")
            .get(pk=self.pk)
        )
        if refusal := me.refusal(Act.EDIT, by):
            raise Refused(refusal)
        if body == me.body:
            return
        earlier = me.body
        me.body = body
        me.render()
        published = me.status == self.Status.PUBLISHED
        hold = ModerationPolicy.current().reason_to_hold(by, me) if published else ""
        CommentRevision.objects.create(
            comment=me, body=earlier, created_at=me.edited_at or me.created_at
        )
        me.edited_at = timezone.now()
        if hold:
            me.status = self.Status.PENDING
        me.save(update_fields=["body", "body_html", "edited_at", "status", "updated_at"])
        Comment.update_search_vector(Comment.objects.filter(pk=me.pk))
        if hold:
            ModerationLog.record(None, ModerationLog.Action.HOLD, comment=me, reason=hold)
            Notification.objects.review_needed(me)
        for field in ("body", "body_html", "edited_at", "status"):
            setattr(self, field, getattr(me, field))

    MODERATION = {
        # action: (statuses it applies to, status it leads to)
        "approve": ((Status.PENDING,), Status.PUBLISHED),
        "remove": ((Status.PUBLISHED, Status.PENDING, Status.SPAM), Status.REMOVED),
        "spam": ((Status.PUBLISHED, Status.PENDING, Status.REMOVED), Status.SPAM),
        "restore": ((Status.REMOVED, Status.SPAM), Status.PUBLISHED),
    }

    @transaction.atomic
    def moderate(self, moderator, action: str, reason: str = "") -> bool:
        """Approve, remove, mark as spam or restore; resolve its open reports and record
        the act. Returns False (and changes nothing) where the action does not apply."""
        allowed, outcome = self.MODERATION[action]
        me = Comment.objects.select_for_update(**ROW_LOCK).get(pk=self.pk)
        if me.status not in allowed:
            return False
        me.status = outcome
        me.moderation_reason = reason if outcome == self.Status.REMOVED else ""
        me.save(update_fields=["status", "moderation_reason", "updated_at"])
        me.reports.filter(resolved_at__isnull=True).update(
            resolved_at=timezone.now(), resolved_by=moderator
        )
        ModerationLog.record(moderator, action, comment=me, reason=reason)
        if outcome == self.Status.PUBLISHED:
            # Approved (or restored) later: people hear of it now.
            Notification.objects.comment_published(me, actor=moderator)
        elif outcome == self.Status.REMOVED:
            Notification.objects.comment_removed(me, actor=moderator)
        self.status, self.moderation_reason = me.status, me.moderation_reason
        return True

    @transaction.atomic
    def resolve_reports(self, moderator) -> int:
        """Keep the comment as it is and close its open reports, on the record."""
        resolved = self.reports.filter(resolved_at__isnull=True).update(
            resolved_at=timezone.now(), resolved_by=moderator
        )
        if resolved:
            ModerationLog.record(
                moderator, ModerationLog.Action.RESOLVE_REPORTS, comment=self,
                reason=f"{resolved} report{'s' if resolved != 1 else ''}",
            )  # fmt: skip
        return resolved

    @transaction.atomic
    def set_pinned(self, moderator, pinned: bool) -> None:
        # Read again under a lock: the fragment is rendered from the row as it is now.
        me = Comment.objects.select_for_update(**ROW_LOCK).get(pk=self.pk)
        me.is_pinned = self.is_pinned = pinned
        me.save(update_fields=["is_pinned", "updated_at"])
        action = ModerationLog.Action.PIN if pinned else ModerationLog.Action.UNPIN
        ModerationLog.record(moderator, action, comment=self)

    def moderation_actions(self) -> list[str]:
        """What a moderator can do to this comment in its present state, by the table
        above (and pinning, for what is published): the buttons on its admin page."""
        actions = [name for name, (allowed, _) in self.MODERATION.items() if self.status in allowed]
        if self.status == self.Status.PUBLISHED:
            actions.append("unpin" if self.is_pinned else "pin")
        return actions

    @transaction.atomic
    def decide(self, moderator, kind: str, *, reason: str = "", until=None) -> "Decision | None":
        """One decision on a comment that waits for review, as the review desk makes it:

        - approve: publish a pending comment; keep a reported, published one (its
          reports are closed);
        - remove (with a reason) or spam: take it down, closing its reports;
        - suspend: suspend its author (`until` a moment, or until lifted) and remove it.

        Returns what the decision changed, for `undo_decision`, or None when the
        comment no longer waits (someone decided first, or it was deleted). Raises
        PermissionDenied, changing nothing, where this moderator may not suspend the
        author."""
        # Locked alone: PostgreSQL locks no row of an outer join (the author may be gone).
        me = Comment.objects.select_for_update(**ROW_LOCK).filter(pk=self.pk).first()
        if me is None or not needs_review().filter(pk=me.pk).exists():
            return None
        before = me.status
        closed = tuple(
            me.reports.filter(resolved_at__isnull=True).order_by("pk").values_list("pk", flat=True)
        )
        ban = None
        if kind == "suspend":
            if me.author is None:
                raise PermissionDenied("The author's account was deleted: nobody to suspend.")
            ban = Ban.objects.impose(me.author, by=moderator, reason=reason, until=until)
        if kind == "approve" and before == self.Status.PUBLISHED:
            me.resolve_reports(moderator)
        else:
            action = {"approve": "approve", "remove": "remove", "spam": "spam", "suspend": "remove"}
            me.moderate(moderator, action[kind], reason)
        entry = ModerationLog.objects.filter(comment=me, actor=moderator).latest("pk")
        self.status, self.moderation_reason = me.status, me.moderation_reason
        return Decision(
            comment_id=me.pk, kind=kind, entry_id=entry.pk, before_status=before,
            closed_reports=closed, ban_id=ban.pk if ban else None,
        )  # fmt: skip

    @transaction.atomic
    def undo_decision(self, moderator, decision: "Decision") -> None:
        """Take back `decision`, this moderator's own: the comment returns to the review
        queue as it was (its state, its open reports), a suspension the decision
        imposed is lifted, and the record says so (held for review: "undo").

        Refused (Refused, with the reason; nothing changes) when the decision is not
        theirs, or when anything happened since: another act on the comment (by anyone,
        the site's rules included), an edit or deletion by its author, or the
        suspension lifted or ended."""
        me = Comment.objects.select_for_update(**ROW_LOCK).filter(pk=decision.comment_id).first()
        if me is None or me.status == self.Status.DELETED:
            raise Refused("Not undone: the comment was deleted since.")
        entry = ModerationLog.objects.filter(
            pk=decision.entry_id, comment=me, actor=moderator
        ).first()
        if entry is None:
            raise Refused("Not undone: that decision is not yours to take back.")
        later = (
            ModerationLog.objects.filter(comment=me, pk__gt=entry.pk)
            .select_related("actor")
            .order_by("pk")
            .first()
        )
        if later is not None:
            who = later.actor.username if later.actor else "the site's rules"
            raise Refused(
                f"Not undone: the comment changed since ({who}: {later.get_action_display()})."
            )
        if me.status != Decision.OUTCOMES[decision.kind]:
            raise Refused("Not undone: the comment changed since.")
        if me.updated_at > entry.created_at:
            raise Refused("Not undone: its author changed the comment since.")
        ban = None
        if decision.ban_id:
            ban = Ban.objects.in_force().filter(pk=decision.ban_id, created_by=moderator).first()
            if ban is None:
                raise Refused("Not undone: the suspension was lifted or has ended since.")
        Report.objects.filter(pk__in=decision.closed_reports, comment=me).update(
            resolved_at=None, resolved_by=None
        )
        if me.status != decision.before_status:
            me.status, me.moderation_reason = decision.before_status, ""
            me.save(update_fields=["status", "moderation_reason", "updated_at"])
        if ban is not None:
            ban.lift(by=moderator)
        ModerationLog.record(
            moderator, ModerationLog.Action.HOLD, comment=me,
            reason=f"undo: {Decision.NAMES[decision.kind]} taken back",
        )  # fmt: skip
        self.status, self.moderation_reason = me.status, me.moderation_reason

    @transaction.atomic
    # --- The editors check doubtful anchors (the admin's "quotes to check") -------------

    @transaction.atomic
    def confirm_anchor(self, editor) -> None:
        """The editors agree the doubtful match is the passage, reworded (or the same
        words: then it is simply anchored)."""
        me = self._for_anchor_check(editor)
        if me.anchor_state != AnchorState.REVIEW:
            raise Refused("Only a quote that needs review can be confirmed.")
        same = anchoring.same_words(me.anchor_text, me.quote_text)
        me.anchor_state = AnchorState.ANCHORED if same else AnchorState.CHANGED
        me.anchor_confidence = 1.0
        me.anchor_text = "" if same else me.anchor_text
        me._save_anchor()

    @transaction.atomic
    def orphan_anchor(self, editor) -> None:
        """The editors say the quoted passage is no longer in the section."""
        me = self._for_anchor_check(editor)
        me.place_quote(anchoring.Anchor(AnchorState.ORPHANED, None, None, 1.0), "", [])
        me._save_anchor()

    @transaction.atomic
    def move_anchor(self, editor, words: str) -> None:
        """The editors point at the passage by hand: `words` copied from the section's
        current text (whitespace aside)."""
        me = self._for_anchor_check(editor)
        revision = me.section.current_revision
        found = anchoring.locate(revision.body_text, anchoring.Quote(words)) if revision else None
        if found is None or found.state != AnchorState.ANCHORED or not words.strip():
            raise Refused("Those words are not in the section's current text; copy them exactly.")
        spans = anchoring.paragraph_spans(paragraphs(revision.body_html), revision.body_text)
        same = anchoring.same_words(words, me.quote_text)
        state = AnchorState.ANCHORED if same else AnchorState.CHANGED
        me.place_quote(
            anchoring.Anchor(state, found.start, found.end, 1.0), revision.body_text, spans
        )
        me._save_anchor()

    def _for_anchor_check(self, editor) -> "Comment":
        if not editor.is_editor:
            raise Refused("Only the essay's editors check where quotes stand.")
        me = Comment.objects.select_for_update(**ROW_LOCK).select_related("section").get(pk=self.pk)
        if not me.quote_text:
            raise Refused("This comment quotes no passage.")
        return me

    def _save_anchor(self) -> None:
        self.save(update_fields=[*self.ANCHOR_FIELDS, "updated_at"])

    def mark_addressed(self, editor, revision_number: int, note: str = "") -> None:
        """The essay's editors changed the text for this comment: revision
        `revision_number` of its section addresses it (`note`: what changed, optional)."""
        self._answer(editor, EditorAnswer.ADDRESSED, note, revision_number)

    def decline(self, editor, reason: str) -> None:
        """The essay's editors decided not to change the text for this comment, and say why."""
        self._answer(editor, EditorAnswer.DECLINED, reason)

    @transaction.atomic
    def _answer(self, editor, answer: str, note: str, revision_number: int | None = None):
        # Raises Refused, with the reason in words, when the rules say no.
        if not editor.is_editor:
            raise Refused("Only the essay's editors answer comments.")
        me = (
            Comment.objects.select_for_update(**ROW_LOCK).select_related("revision").get(pk=self.pk)
        )
        if me.status != Comment.Status.PUBLISHED:
            raise Refused("Only a published comment can be answered.")
        note = note.strip()
        revision = None
        if answer == EditorAnswer.DECLINED and not note:
            raise Refused("Say why the comment is declined: the reason is shown with it.")
        if answer == EditorAnswer.ADDRESSED:
            revision = me.section.revisions.filter(number=revision_number).first()
            if revision is None:
                raise Refused(f"The section has no revision {revision_number}.")
            if me.revision and revision.number <= me.revision.number:
                raise Refused(
                    f"Revision {revision.number} is not newer than the text the comment "
                    f"responded to (revision {me.revision.number})."
                )
        fields = {
            "editor_answer": answer,
            "addressed_in": revision,
            "editor_note": note,
            "answered_by": editor,
            "answered_at": timezone.now(),
        }
        for name, value in fields.items():
            setattr(me, name, value)
            setattr(self, name, value)
        me.save(update_fields=[*fields, "updated_at"])  # its post_save refreshes caches
        Notification.objects.comment_answered(me, actor=editor)

    def delete_by_author(self, by=None) -> None:
        """Take the comment back: its text, quote and earlier versions are erased and it
        becomes "[deleted]", a placeholder shown only while others' replies hang from
        it (otherwise nobody sees it at all). The row stays, so that the thread stays
        whole and the posting limits still count it. Deleting it twice changes nothing.

        With `by`, the rules decide first (Refused if that person may not delete it);
        without, it is the site's own doing (an account erasing what it wrote)."""
        me = (
            Comment.objects.select_for_update(**ROW_LOCK)
            .select_related("section__essay")
            .filter(pk=self.pk)
            .first()
        )
        if me is None or me.is_deleted:
            return
        if by is not None and (refusal := me.refusal(Act.DELETE, by)):
            raise Refused(refusal)
        # Whoever deletes a comment stops following the replies below it.
        Subscription.objects.filter(user=me.author_id, thread=me).delete()
        me.status = Comment.Status.DELETED
        me.body = me.body_html = me.quote_text = me.quote_before = me.quote_after = ""
        me.quote_anchor = me.anchor_state = me.anchor_paragraph = me.anchor_text = ""
        me.anchor_start = me.anchor_end = me.anchor_confidence = None
        me.search_vector = None
        me.save()
        me.revisions.all().delete()
        self.status = me.status


class CommentRevision(models.Model):
    """An earlier text of an edited comment, kept for moderators."""

    comment = models.ForeignKey(Comment, on_delete=models.CASCADE, related_name="revisions")
    body = models.TextField()
    created_at = models.DateTimeField(help_text="When this text was written.")
    replaced_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-replaced_at"]

    def __str__(self):
        return f"Earlier text of comment {self.comment_id}"


class VoteQuerySet(models.QuerySet):
    @transaction.atomic
    def cast(self, user, comment) -> bool:
        """Upvote once; a second vote by the same person changes nothing. The comment's
        row is locked first, so a deletion or removal cannot slip in between."""
        me = Comment.objects.select_for_update(**ROW_LOCK).select_related("section__essay")
        me = me.filter(pk=comment.pk).first()
        if me is None:
            raise Refused("That comment was deleted a moment ago.")
        if refusal := me.refusal(Act.VOTE, user):
            raise Refused(refusal)
        try:
            with transaction.atomic():
                self.create(user=user, comment=me)
        except IntegrityError:
            return False
        Comment.objects.filter(pk=me.pk).update(score=F("score") + 1)
        return True

    @transaction.atomic
    def withdraw(self, user, comment) -> bool:
        me = Comment.objects.select_for_update(**ROW_LOCK).select_related("section__essay")
        me = me.filter(pk=comment.pk).first()
        if me is None:
            raise Refused("That comment was deleted a moment ago.")
        if refusal := me.refusal(Act.VOTE, user):
            raise Refused(refusal)
        vote = self.filter(user=user, comment=me).first()
        if vote is None:
            return False
        vote.delete()
        Comment.objects.filter(pk=me.pk).update(score=F("score") - 1)
        return True


class Vote(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="votes")
    comment = models.ForeignKey(Comment, on_delete=models.CASCADE, related_name="votes")
    created_at = models.DateTimeField(default=timezone.now)

    objects = VoteQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "comment"], name="one_vote_per_person")
        ]

    def __str__(self):
        return f"{self.user_id} upvoted comment {self.comment_id}"

    @classmethod
    def personal_data(cls, user) -> dict[str, list]:
        return {
            "upvotes": [
                {"comment": v.comment_id, "at": v.created_at.isoformat()}
                for v in user.votes.order_by("pk")
            ]
        }


# --- Moderation -------------------------------------------------------------------------


# A comment may be previewed this many times per comment the author may post in a minute.
PREVIEWS_PER_WRITE = 5


def preview_clock() -> float:
    """Now, in seconds, as previews are counted: each of its minutes a window of its own
    (ModerationPolicy.check_previews)."""
    return time.time()


class ModerationPolicy(models.Model):
    """The site's moderation rules, edited in the admin. There is one row."""

    class Premoderation(models.TextChoices):
        OFF = "off", "off: everything is published at once"
        NEW = "new", "the first comments of each new account"
        ALL = "all", "everything"

    premoderation = models.CharField(
        max_length=10, choices=Premoderation.choices, default=Premoderation.OFF
    )
    premoderate_first = models.PositiveIntegerField("comments to review per new account", default=1)
    report_threshold = models.PositiveIntegerField(
        default=3, help_text="Open reports that hide a comment until a moderator decides."
    )
    comments_per_minute = models.PositiveIntegerField(
        default=6, help_text="New comments and edits together."
    )
    comments_per_day = models.PositiveIntegerField(default=300)
    new_account_days = models.PositiveIntegerField(
        default=7, help_text="Accounts younger than this get the stricter limits below."
    )
    new_comments_per_minute = models.PositiveIntegerField(default=3)
    new_comments_per_day = models.PositiveIntegerField(default=30)
    new_account_max_links = models.PositiveIntegerField(default=2)
    watched_words = models.TextField(
        blank=True, help_text="One word or phrase a line; a comment using one waits for review."
    )
    tell_authors_about_removals = models.BooleanField(
        default=True, help_text="Show authors that their comment was removed, and why."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "moderation policy"
        verbose_name_plural = "moderation policy"

    def __str__(self):
        return "Moderation policy"

    @classmethod
    def current(cls) -> "ModerationPolicy":
        policy, _ = cls.objects.get_or_create(pk=1)
        return policy

    def is_new(self, user) -> bool:
        return user.date_joined > timezone.now() - timezone.timedelta(days=self.new_account_days)

    def check_links(self, user, comment) -> None:
        """Raise Refused if a new account's comment has too many links (no query)."""
        if self.is_new(user) and comment.body_html.count("<a ") > self.new_account_max_links:
            raise Refused(
                f"New accounts can include at most {self.new_account_max_links} links in a "
                "comment; please remove some."
            )

    def check_previews(self, user) -> None:
        """Raise Refused if `user` has previewed too often this minute: previews render
        like posts, so they are limited like posts, PREVIEWS_PER_WRITE times the
        member's posting limit per minute. Nothing is written to the database, so they
        are counted in the security cache (the default alias, where page copies cannot
        evict them), in fixed one-minute windows. If that cache cannot be reached,
        previews are refused for the moment (fail closed) rather than unlimited."""
        limit = PREVIEWS_PER_WRITE * (
            self.new_comments_per_minute if self.is_new(user) else self.comments_per_minute
        )
        now = preview_clock()
        key = f"preview-limit:{user.pk}:{int(now // 60)}"
        retry_after = max(1, math.ceil(60 - now % 60))
        try:
            security_cache.add(key, 0, 120)
            count = security_cache.incr(key)
        except Exception as error:  # Redis unreachable (or the window just expired)
            logger.warning("Preview limit not counted, preview refused: %s", error)
            raise Refused(
                "Preview is unavailable for a moment; please try again shortly.",
                retry_after=retry_after,
            ) from error
        if count > limit:
            raise Refused(
                "You are previewing very quickly; please wait a minute and try again.",
                retry_after=retry_after,
            )

    def check_limits(self, user, comment) -> None:
        """Raise Refused if `user` may not write `comment` now: too many writes (new
        comments and edits) in the last minute or day, or, for a new account, too many
        links. Counted in the database, so every process shares the limits. Writers
        (CommentForm.save) hold the author's row lock meanwhile, so that simultaneous
        writes cannot all slip under a limit."""
        self.check_links(user, comment)
        new = self.is_new(user)
        per_minute = self.new_comments_per_minute if new else self.comments_per_minute
        per_day = self.new_comments_per_day if new else self.comments_per_day
        now = timezone.now()
        day, minute = timezone.timedelta(days=1), timezone.timedelta(minutes=1)
        # The day's writes, newest first, in one query (the minute's are the newest of
        # them). No more are needed than the larger limit; there are hardly more anyway,
        # since writes past the day's limit are refused.
        since = now - day
        writes = list(
            Comment.objects.filter(author=user, created_at__gte=since)
            .order_by()
            .values_list("created_at", flat=True)
            .union(
                CommentRevision.objects.filter(comment__author=user, replaced_at__gte=since)
                .order_by()
                .values_list("replaced_at", flat=True),
                all=True,
            )
            .order_by("-created_at")[: max(per_day, per_minute)]
        )
        for window, limit, message in (
            (
                day,
                per_day,
                f"You have reached today's limit of {per_day} comments and edits; please "
                "come back later.",
            ),
            (
                minute,
                per_minute,
                "You are posting very quickly; please wait a minute and try again.",
            ),
        ):
            counted = [at for at in writes if at >= now - window]
            if len(counted) >= limit:
                # The oldest counted write leaves the window first.
                wait = counted[limit - 1] + window - now
                raise Refused(message, retry_after=max(1, math.ceil(wait.total_seconds())))

    def reason_to_hold(self, user, comment) -> str:
        """Why this text should wait for a moderator; empty if it can be published.
        The same question for a new comment and for an edit: would it be held if it
        were posted now?"""
        if words := self.watched_in(comment.body):
            return "uses watched words: " + ", ".join(words)
        if self.premoderation == self.Premoderation.ALL:
            return "every comment is reviewed"
        if self.premoderation == self.Premoderation.NEW:
            published = Comment.objects.filter(author=user, status=Comment.Status.PUBLISHED)
            if published.exclude(pk=comment.pk).count() < self.premoderate_first:
                first = self.premoderate_first
                if first == 1:
                    return "the first comment of a new account"
                return f"one of the first {first} comments of a new account"
        return ""

    def watched_in(self, text: str) -> list[str]:
        lowered = text.lower()
        words = [w.strip().lower() for w in self.watched_words.splitlines() if w.strip()]
        return [w for w in words if w in lowered]

    def record_change(self, moderator, changed: list[str]) -> None:
        """Put a change to the policy (already saved) on the moderation record."""
        ModerationLog.record(
            moderator, ModerationLog.Action.POLICY, target="moderation policy",
            reason=f"changed: {', '.join(changed) or 'nothing'}",
        )  # fmt: skip


class Report(models.Model):
    class Reason(models.TextChoices):
        SPAM = "spam", "spam"
        HARASSMENT = "harassment", "harassment or abuse"
        OFF_TOPIC = "off_topic", "off-topic"
        OTHER = "other", "something else"

    comment = models.ForeignKey(Comment, on_delete=models.CASCADE, related_name="reports")
    reporter = models.ForeignKey(User, on_delete=models.CASCADE, related_name="reports")
    reason = models.CharField(max_length=20, choices=Reason.choices)
    note = models.TextField(blank=True, max_length=1000)
    created_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(fields=["comment", "reporter"], name="one_report_per_person")
        ]

    def __str__(self):
        return f"Report on comment {self.comment_id}"

    @classmethod
    @transaction.atomic
    def file(cls, comment, reporter, reason, note="") -> bool:
        """Report once per person (False the second time); enough open reports hide
        the comment for review. The author is never told who reported."""
        # Reports on one comment are counted one at a time, so that simultaneous
        # reports neither miss the threshold nor announce the comment twice.
        me = Comment.objects.select_for_update(**ROW_LOCK).select_related("section__essay")
        me = me.filter(pk=comment.pk).first()
        if me is None:
            raise Refused("That comment was deleted a moment ago.")
        # Held a moment ago by enough reports, it may still be reported by those who
        # saw it published: more for the moderators to read.
        held_by_reports = me.status == Comment.Status.PENDING and me.reports.exists()
        if (refusal := me.refusal(Act.REPORT, reporter)) and not (
            held_by_reports and me.author_id != reporter.pk
        ):
            raise Refused(refusal)
        try:
            with transaction.atomic():
                cls.objects.create(comment=me, reporter=reporter, reason=reason, note=note)
        except IntegrityError:
            return False
        threshold = ModerationPolicy.current().report_threshold
        open_reports = me.reports.filter(resolved_at__isnull=True).count()
        if open_reports == 1:  # it has just entered the review queue
            Notification.objects.review_needed(me, actor=reporter)
        if threshold and open_reports >= threshold and me.status == Comment.Status.PUBLISHED:
            me.status = Comment.Status.PENDING
            me.save(update_fields=["status", "updated_at"])
            ModerationLog.record(
                None, ModerationLog.Action.HOLD, comment=me, reason=f"{open_reports} open reports"
            )
        return True


class ModerationLog(models.Model):
    """What moderators (and the site's own rules) did: who, what, to which object, why."""

    class Action(models.TextChoices):
        APPROVE = "approve", "approved"
        REMOVE = "remove", "removed"
        SPAM = "spam", "marked as spam"
        RESTORE = "restore", "restored"
        HOLD = "hold", "held for review"
        PIN = "pin", "pinned"
        UNPIN = "unpin", "unpinned"
        BAN = "ban", "suspended"
        UNBAN = "unban", "lifted the suspension of"
        RESOLVE_REPORTS = "resolve", "resolved reports on"
        POLICY = "policy", "changed"
        CLOSE = "close", "closed the discussion of"
        OPEN = "open", "opened the discussion of"

    actor = models.ForeignKey(
        User, null=True, on_delete=models.SET_NULL, related_name="+",
        help_text="Empty when the site's own rules acted.",
    )  # fmt: skip
    action = models.CharField(max_length=20, choices=Action.choices)
    comment = models.ForeignKey(Comment, null=True, on_delete=models.SET_NULL, related_name="+")
    target_user = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    target = models.CharField(max_length=300, help_text="What was acted on, in words.")
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "moderation record entry"
        verbose_name_plural = "moderation record"

    def __str__(self):
        return f"{self.get_action_display()} {self.target}"

    @classmethod
    def record(cls, actor, action, *, comment=None, user=None, target="", reason=""):
        if comment is not None and not target:
            # An excerpt, so the record says what the comment was even after it changes.
            who = comment.author.public_name if comment.author_id else "deleted user"
            excerpt = Truncator(" ".join(comment.body.split())).chars(80)
            target = f"comment {comment.pk} by {who}: “{excerpt}”"
        return cls.objects.create(
            actor=actor if actor and actor.is_authenticated else None,
            action=action,
            comment=comment,
            target_user=user,
            target=(target or str(user or ""))[:300],
            reason=reason,
        )


class ReviewItem(Comment):
    """The review queue: comments waiting for a moderator (pending, or reported)."""

    class Meta:
        proxy = True
        verbose_name = "comment to review"
        verbose_name_plural = "review queue"


class AnswerItem(Comment):
    """Comments as the essay's editors see them: to be answered (addressed in a revision,
    or declined). Who may use it is the answer_comment permission, not this model's own."""

    class Meta:
        proxy = True
        verbose_name = "comment to answer"
        verbose_name_plural = "comments to answer"


class AnchorReview(Comment):
    """Quotes whose place after an edit is uncertain, for the essay's editors to confirm,
    move by hand or mark as gone (the answer_comment permission, as for answering)."""

    class Meta:
        proxy = True
        verbose_name = "quote to check"
        verbose_name_plural = "quotes to check"


class DiscussionSwitch:
    """Opening and closing a discussion, on the record: for the proxies below."""

    def set_closed(self, moderator, closed: bool) -> bool:
        """Close (or open) this discussion; False if it already was."""
        if self.discussion_closed == closed:
            return False
        self.discussion_closed = closed
        self.save(update_fields=["discussion_closed", "updated_at"])
        action = ModerationLog.Action.CLOSE if closed else ModerationLog.Action.OPEN
        ModerationLog.record(moderator, action, target=str(self))
        return True


class SectionDiscussion(DiscussionSwitch, Section):
    """Opening and closing a section's discussion, without access to its text."""

    class Meta:
        proxy = True
        verbose_name = "section discussion"

    def __str__(self):
        return f"section “{self.heading}”"


class EssayDiscussion(DiscussionSwitch, Essay):
    """Opening and closing the discussion of a whole essay."""

    class Meta:
        proxy = True
        verbose_name = "essay discussion"

    def __str__(self):
        return f"essay “{self.title}”"


def needs_review():
    """Pending comments and comments with open reports, oldest first. Both sets are
    small and found on an index (status; open reports), then joined: an OR with a
    subquery would test every one of a million comments."""
    pending = Comment.objects.filter(status=Comment.Status.PENDING).values("pk")
    reported = Report.objects.filter(
        resolved_at__isnull=True, comment__status=Comment.Status.PUBLISHED
    ).values("comment")
    return Comment.objects.filter(pk__in=pending.union(reported)).order_by("created_at")


@dataclass(frozen=True)
class Decision:
    """One decision at the review desk (`Comment.decide`) and what it changed, so that
    the moderator who made it can take it back (`Comment.undo_decision`)."""

    KINDS = ("approve", "remove", "spam", "suspend")
    # What each decision leaves the comment as (approving a reported, published
    # comment keeps it published).
    OUTCOMES = {
        "approve": Comment.Status.PUBLISHED,
        "remove": Comment.Status.REMOVED,
        "spam": Comment.Status.SPAM,
        "suspend": Comment.Status.REMOVED,
    }
    NAMES = {
        "approve": "approval",
        "remove": "removal",
        "spam": "marking as spam",
        "suspend": "removal and suspension",
    }

    comment_id: int
    kind: str
    entry_id: int  # the record's entry for the act on the comment
    before_status: str
    closed_reports: tuple[int, ...] = ()
    ban_id: int | None = None

    def as_data(self) -> dict:
        """Plain data, to keep in the moderator's session."""
        return asdict(self)

    @classmethod
    def from_data(cls, data) -> "Decision | None":
        try:
            decision = cls(**{**data, "closed_reports": tuple(data["closed_reports"])})
        except (TypeError, KeyError):
            return None
        return decision if decision.kind in cls.KINDS else None


@dataclass
class AuthorRecord:
    """A member's history as a moderator weighs it beside a waiting comment."""

    joined: datetime
    published: int = 0
    removed: int = 0
    spam: int = 0
    reports_against: int = 0
    suspensions: int = 0
    suspended: bool = False  # a suspension is in force now
    suspended_until: datetime | None = None  # when it ends (None: until lifted)

    @classmethod
    def of(cls, authors) -> dict[int, "AuthorRecord"]:
        """The record of each of `authors`, by id: three queries, however many."""
        records = {a.pk: cls(joined=a.date_joined) for a in authors}
        counts = (
            Comment.objects.filter(author__in=records)
            .values_list("author", "status")
            .annotate(n=Count("*"))  # an index-only scan (comment_author_status)
            .order_by()
        )
        for author_id, status, n in counts:
            if status in ("published", "removed", "spam"):
                setattr(records[author_id], status, n)
        reports = (
            Report.objects.filter(comment__author__in=records)
            .values_list("comment__author")
            .annotate(n=Count("pk"))
            .order_by()
        )
        for author_id, n in reports:
            records[author_id].reports_against = n
        for ban in Ban.objects.filter(user__in=records).with_in_force():
            record = records[ban.user_id]
            record.suspensions += 1
            if ban.is_in_force:
                # The latest end among the suspensions in force; None (until lifted) wins.
                if not record.suspended or (
                    record.suspended_until and (not ban.until or ban.until > record.suspended_until)
                ):
                    record.suspended_until = ban.until
                record.suspended = True
        return records


# --- Following and notifications ------------------------------------------------------------


class SubscriptionQuerySet(models.QuerySet):
    def follow(self, user, *, section=None, thread=None) -> None:
        """Follow a section (every new comment) or a thread (every reply below a
        comment). Following twice, even at the same moment, keeps one subscription: one
        INSERT that the unique constraints turn into nothing (ON CONFLICT DO NOTHING),
        rather than a look-up, an insert and two savepoints."""
        self.bulk_create(
            [Subscription(user=user, section=section, thread=thread)], ignore_conflicts=True
        )

    def unfollow(self, user, *, section=None, thread=None) -> None:
        self.filter(user=user, section=section, thread=thread).delete()

    def set_following(self, user, following: bool, *, section=None, thread=None) -> None:
        (self.follow if following else self.unfollow)(user, section=section, thread=thread)

    def shown(self, user):
        """What `user` follows in essays they may still read: following something in an
        essay unpublished since tells nothing of it. (A followed comment hidden since
        stays listed, without its text, so that one can stop following it.)"""
        essays = Essay.objects.visible_to(user)
        return self.filter(user=user).filter(
            Q(section__essay__in=essays) | Q(thread__section__essay__in=essays)
        )


class Subscription(models.Model):
    """A member follows a section or a thread (a comment and everything below it)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="subscriptions")
    section = models.ForeignKey(
        "essays.Section", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    thread = models.ForeignKey(
        Comment, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    objects = SubscriptionQuerySet.as_manager()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(section__isnull=True) ^ Q(thread__isnull=True),
                name="follows_a_section_or_a_thread",
            ),
            models.UniqueConstraint(
                fields=["user", "section"],
                condition=Q(section__isnull=False),
                name="follows_a_section_once",
            ),
            models.UniqueConstraint(
                fields=["user", "thread"],
                condition=Q(thread__isnull=False),
                name="follows_a_thread_once",
            ),
        ]

    def __str__(self):
        target = f"section {self.section_id}" if self.section_id else f"thread {self.thread_id}"
        return f"{self.user_id} follows {target}"

    @classmethod
    def personal_data(cls, user) -> dict[str, list]:
        return {
            "following": [
                {"section": f.section_id, "thread": f.thread_id, "since": f.created_at.isoformat()}
                for f in user.subscriptions.order_by("pk")
            ]
        }


class NotificationQuerySet(models.QuerySet):
    def shown(self, user):
        """What `user` may still see of their notifications: only those about a comment
        whose text they may see (Comment.objects.visible_to), of the kind that fits its
        state now. So one about a comment hidden or deleted since, or in an essay they
        can no longer read, goes away, and nothing leaks through the bell or the mail;
        so does a review notice once a moderator dealt with the comment, or once the
        person no longer has a moderator's powers."""
        Kind, Status = Notification.Kind, Comment.Status
        seen = Comment.objects.visible_to(user).filter(shows_text=True).values("pk")
        fits = Q(
            kind__in=(*Notification.DISCUSSION, Kind.ANSWERED), comment__status=Status.PUBLISHED
        ) | Q(kind=Kind.REMOVED, comment__status=Status.REMOVED)
        if user.is_moderator:
            fits |= Q(kind=Kind.REVIEW, comment__in=needs_review().values("pk"))
        return self.filter(fits, comment__in=seen)

    def unread(self):
        return self.filter(read_at__isnull=True)

    def on_the_bell(self, user, *, any_unread: bool | None = None) -> int:
        """The number on `user`'s bell: their unread notifications they may still see.
        Most pages are seen with nothing new: a cheap look first (ANY_UNREAD), and only
        then the count of what `shown` lets them see (a query on the comments, to
        build too). `any_unread`: that look's answer, where the caller asked it along
        with its own query (a section's page, forum.threads)."""
        if not user.is_authenticated:
            return 0
        if any_unread is None:
            any_unread = bool(ANY_UNREAD.rows((), user))
        if not any_unread:
            return 0
        return self.filter(recipient=user).unread().shown(user).count()

    def mark_read(self) -> int:
        return self.unread().update(read_at=timezone.now())

    @transaction.atomic(savepoint=False)
    def comment_published(self, comment, actor=None, *, just_posted=False) -> int:
        """Tell the people who care that `comment` is now public: the author of the
        comment it answers, the followers of the threads above it and of its section.

        Called when a comment is posted published (`just_posted`: nobody can have
        been told of it yet) and when a moderator (`actor`) later approves or
        restores one. Nobody hears of their own comment or their own act, nobody
        under a ban hears anything, a banned author's comment tells no one, and a
        person is told once per comment, for the closest reason.
        """
        if comment.status != Comment.Status.PUBLISHED or comment.author_id is None:
            return 0
        # The author and the parent as the caller read them, if it did (Comment.objects
        # .post: the author it just let write, the parent it holds locked).
        known = comment._state.fields_cache
        author = known.get("author")
        if (
            author.is_suspended
            if author
            else Ban.objects.in_force().filter(user=comment.author_id).exists()
        ):
            return 0
        parent_author = None
        if comment.parent_id:
            # The author of a deleted or hidden comment is no longer answered in public.
            if (parent := known.get("parent")) is not None:
                published = parent.status == Comment.Status.PUBLISHED
                parent_author = parent.author_id if published else None
            else:
                parent_author = (
                    Comment.objects.filter(pk=comment.parent_id, status=Comment.Status.PUBLISHED)
                    .values_list("author_id", flat=True)
                    .first()
                )
        # Who follows the section or a thread above it, and the parent's author: those
        # of them who may be told and were not, each told for the closest reason, in
        # one statement. Its SQL is made once per process for each shape of the news
        # (config/prepared.py: building it was 2 ms of every post).
        given = (
            comment.ancestor_ids(),
            parent_author,
            actor.pk if actor else None,
            None if just_posted else comment.pk,  # some may have been told before
        )
        shape = tuple(bool(value) for value in given)
        values = [comment.section_id, comment.author_id, *(value for value in given if value)]
        told = TOLD_OF_COMMENT.sql(shape, None, *values)
        if told is None:  # asked of the ORM
            told = _told_of_comment(shape, None, *values).query.get_compiler(self.db).as_sql()
        return self._insert(comment, told)

    @transaction.atomic
    def comment_removed(self, comment, actor=None) -> int:
        """Tell an author that a moderator removed their comment, and why (if the
        policy tells authors about removals at all)."""
        if comment.author_id is None or (actor is not None and actor.pk == comment.author_id):
            return 0
        if not ModerationPolicy.current().tell_authors_about_removals:
            return 0
        return self._tell_author(comment, Notification.Kind.REMOVED)

    @transaction.atomic
    def comment_answered(self, comment, actor=None) -> int:
        """Tell an author that the essay's editors answered their comment (addressed in
        a revision, or declined). Told once per comment; a later change of the answer
        shows on the comment itself."""
        if comment.author_id is None or (actor is not None and actor.pk == comment.author_id):
            return 0
        return self._tell_author(comment, Notification.Kind.ANSWERED)

    def _tell_author(self, comment, kind) -> int:
        """Tell a comment's author `kind` of news about it, once."""
        told = self.filter(comment=comment, kind=kind).values("recipient")
        author = _may_be_told(User.objects.filter(pk=comment.author_id)).exclude(pk__in=told)
        return self._create(comment, author, Value(kind))

    @transaction.atomic
    def review_needed(self, comment, actor=None) -> int:
        """Tell the moderators who asked for it that `comment` entered the review queue
        (held when posted, or reported). A comment that comes back to the queue after a
        moderator dealt with it is news again: its earlier notices return as unread."""
        Kind = Notification.Kind
        moderators = _may_be_told(
            User.objects.with_perm(
                "forum.moderate_comment", backend="django.contrib.auth.backends.ModelBackend"
            ).filter(is_staff=True, email_on_review=True)
        ).exclude(pk__in=[comment.author_id, actor.pk if actor else None])
        earlier = self.filter(comment=comment, kind=Kind.REVIEW, recipient__in=moderators)
        again = list(earlier.filter(read_at__isnull=False).values_list("pk", flat=True))
        if again:
            now = timezone.now()
            earlier.filter(pk__in=again).update(read_at=None, created_at=now)
            # Mailed again too, to those who want review mail (the row is the outbox).
            earlier.filter(pk__in=again, recipient__email_on_review=True).update(
                email_state=Notification.Email.QUEUED, email_due_at=now
            )
        told = earlier.values("recipient")
        return self._create(comment, moderators.exclude(pk__in=told), Value(Kind.REVIEW))

    def _create(self, comment, recipients, kind) -> int:
        """Tell `recipients` (a queryset of users) of `comment`, each the `kind` of news
        it gives for them (an expression on the user): _insert's `told`."""
        told = _told(recipients, kind).query.get_compiler(using=self.db).as_sql()
        return self._insert(comment, told)

    def _insert(self, comment, told: tuple[str, list]) -> int:
        """Tell the people `told` (the SQL and parameters of _told's columns) of
        `comment`, in one INSERT ... SELECT: the people told are never read into Python.
        Returns how many were told.

        The caller holds the comment's row lock (a new comment, moderate(), a report),
        so two requests never tell the same person about the same comment at once.
        A notice to be mailed is queued in the same transaction: the row is the
        outbox that `manage.py mail_worker` works through, so no mail is lost
        between a commit and an enqueue, and none is sent for a rolled-back comment.
        """
        Email = Notification.Email
        db = connections[self.db]
        qn = db.ops.quote_name
        # Mailed if the recipient's preference for this kind of news says so. (Outside
        # the recipients' query: there, each use of the kind would repeat its
        # expression, subqueries and all.)
        mailed = " OR ".join(
            f"(told_kind = %s AND told_{about.preference})" for about in Notification.KINDS.values()
        )
        kinds = list(Notification.KINDS)
        now = db.ops.adapt_datetimefield_value(timezone.now())
        chosen = {  # field: (SQL, parameters); every other field gets its default
            "recipient": ("told_id", []),
            "comment": ("%s", [comment.pk]),
            "kind": ("told_kind", []),
            "created_at": ("%s", [now]),
            "email_state": (
                f"CASE WHEN {mailed} THEN %s ELSE %s END",
                [*kinds, Email.QUEUED, Email.NONE],
            ),
            "email_due_at": (f"CASE WHEN {mailed} THEN %s END", [*kinds, now]),
        }
        columns, values, params = [], [], []
        for field in self.model._meta.concrete_fields:
            if not field.primary_key:
                default = [field.get_db_prep_save(field.get_default(), connection=db)]
                value, value_params = chosen.pop(field.name, ("%s", default))
                columns.append(qn(field.column))
                values.append(value)
                params += value_params
        if chosen:  # a field renamed without this
            raise LookupError(f"Notification has no field {', '.join(chosen)}")
        # PostgreSQL would pull the recipients' query up into the INSERT's and plan
        # each use of told_kind with its expression, subqueries and all: fourteen
        # copies, 2.2 ms of planning on every post (the statement is planned each
        # time: its arrays of ancestors make a generic plan no cheaper). OFFSET 0 keeps
        # it a query of its own, planned once: 0.8 ms, and the statement 3.2 -> 1.3 ms.
        fence = " OFFSET 0" if db.vendor == "postgresql" else ""
        sql = (
            f"INSERT INTO {qn(self.model._meta.db_table)} ({', '.join(columns)}) "  # noqa: S608 (names and a compiled query only)
            f"SELECT {', '.join(values)} FROM ({told[0]}{fence}) told"
        )
        with db.cursor() as cursor:
            cursor.execute(sql, [*params, *told[1]])
            return cursor.rowcount

    @transaction.atomic
    def claim_mail(self, limit: int) -> list[int]:
        """Take up to `limit` notifications whose mail is due, for one worker: each is
        marked SENDING (one more attempt) in this transaction, which commits before
        anything is sent, so a mail goes out at most once. Rows another worker holds
        are skipped, not waited for (SKIP LOCKED; SQLite has one writer anyway)."""
        due = list(
            self.select_for_update(skip_locked=True)
            .filter(email_state=Notification.Email.QUEUED, email_due_at__lte=timezone.now())
            .order_by("email_due_at", "pk")
            .values_list("pk", flat=True)[:limit]
        )
        self.filter(pk__in=due).update(
            email_state=Notification.Email.SENDING, email_attempts=F("email_attempts") + 1
        )
        return due


def _told(recipients, kind):
    """The columns Notification.objects._insert reads of the people told: their id, the
    `kind` of news (an expression on the user), and their mail preferences."""
    preferences = sorted({about.preference for about in Notification.KINDS.values()})
    told = {"told_id": F("pk"), "told_kind": kind} | {f"told_{p}": F(p) for p in preferences}
    return recipients.order_by().annotate(**told).values_list(*told)


def _told_of_comment(shape, viewer, section_id: int, author_id: int, *rest):
    """comment_published's recipients, told for the closest reason. `shape` says
    which of the rest are there: the ids of the threads above the comment, the
    parent's author, the moderator who published it, and the comment (when some may
    have been told before: approved or restored)."""
    Kind = Notification.Kind
    rest = iter(rest)
    ancestors, parent_author, actor, comment_id = (next(rest) if known else None for known in shape)
    follows = Subscription.objects.filter(
        Q(section=section_id) | Q(thread__any_of=ancestors) if ancestors else Q(section=section_id)
    )
    candidates = Q(pk__in=follows.order_by().values("user"))
    if parent_author:
        candidates |= Q(pk=parent_author)
    recipients = _may_be_told(User.objects.filter(candidates)).exclude(pk=author_id)
    if actor:
        recipients = recipients.exclude(pk=actor)
    if comment_id:  # approved or restored: some may have been told before
        told = Notification.objects.filter(comment=comment_id, kind__in=Notification.DISCUSSION)
        recipients = recipients.exclude(pk__in=told.values("recipient"))
    # The closest reason: the comment answers theirs, else a thread they follow is
    # above it, else they follow the section.
    closest = [When(pk=parent_author, then=Value(Kind.REPLY))] if parent_author else []
    closest.append(
        When(
            models.Exists(follows.filter(user=models.OuterRef("pk"), thread__isnull=False)),
            then=Value(Kind.THREAD),
        )
    )
    return _told(recipients, Case(*closest, default=Value(Kind.SECTION)))


TOLD_OF_COMMENT = Prepared(User, _told_of_comment, rule=lambda viewer: "reader")


def _may_be_told(users):
    """People who can be notified at all: active, and not under a ban."""
    return users.filter(is_active=True).exclude(
        models.Exists(Ban.objects.in_force().filter(user=models.OuterRef("pk")))
    )


@dataclass(frozen=True)
class NotificationKind:
    """Everything that differs between kinds of notification, in one row."""

    preference: str  # the User field that says whether this kind is also emailed
    sentence: str  # the bell's line and the mail's subject ({who}, {section})
    stop_offer: str  # the mail's unsubscribe link, in words
    stop_question: str  # what the unsubscribe page asks
    stop_done: str  # and says once done
    # What unsubscribing stops: the preference, or following the section or thread.
    stops: str = "preference"


class Notification(models.Model):
    """Something a member is told about, on the site (the bell) and perhaps by email.

    One row per person, comment and kind of news: the row is the event, so however
    often the code that creates it runs, the person is told once and mailed at most
    once (the worker moves `email_state` on from QUEUED before it sends).
    """

    class Kind(models.TextChoices):
        REPLY = "reply", "a reply to your comment"
        THREAD = "thread", "a new comment in a thread you follow"
        SECTION = "section", "a new comment in a section you follow"
        REMOVED = "removed", "a moderator removed your comment"
        REVIEW = "review", "a comment waits for review"
        ANSWERED = "answered", "the editors answered your comment"

    DISCUSSION = (Kind.REPLY, Kind.THREAD, Kind.SECTION)
    KINDS = {
        Kind.REPLY: NotificationKind(
            preference="email_on_reply",
            sentence="{who} replied to your comment on “{section}”",
            stop_offer="Stop emails about replies to your comments",
            stop_question="Stop emails about replies to your comments?",
            stop_done="You will no longer get emails about replies to your comments. They "
            "still show under Notifications.",
        ),
        Kind.THREAD: NotificationKind(
            preference="email_on_follow",
            sentence="{who} replied in a thread you follow on “{section}”",
            stop_offer="Stop following this thread",
            stop_question="Stop following this thread?",
            stop_done="You no longer follow this thread: no more notifications or emails about it.",
            stops="thread",
        ),
        Kind.SECTION: NotificationKind(
            preference="email_on_follow",
            sentence="{who} commented on “{section}”, which you follow",
            stop_offer="Stop following this section",
            stop_question="Stop following this section?",
            stop_done="You no longer follow this section: no more notifications or emails "
            "about it.",
            stops="section",
        ),
        Kind.REMOVED: NotificationKind(
            preference="email_on_moderation",
            sentence="A moderator removed your comment on “{section}”",
            stop_offer="Stop emails about removed comments",
            stop_question="Stop emails when a moderator removes one of your comments?",
            stop_done="You will no longer get emails about removed comments. You are still "
            "told under Notifications.",
        ),
        Kind.ANSWERED: NotificationKind(
            preference="email_on_reply",
            sentence="The editors answered your comment on “{section}”",
            stop_offer="Stop emails about replies to your comments",
            stop_question="Stop emails about replies to your comments (and the editors' answers)?",
            stop_done="You will no longer get emails about replies to your comments or the "
            "editors' answers. They still show under Notifications.",
        ),
        Kind.REVIEW: NotificationKind(
            preference="email_on_review",
            sentence="A comment on “{section}” waits for review",
            stop_offer="Stop emails about the review queue",
            stop_question="Stop emails when comments wait for review?",
            stop_done="You will no longer get emails about the review queue.",
        ),
    }

    class Email(models.TextChoices):
        NONE = "none", "not emailed"
        QUEUED = "queued", "waiting to be sent"
        SENDING = "sending", "being sent"
        SENT = "sent", "sent"
        FAILED = "failed", "failed for good"
        SKIPPED = "skipped", "no longer needed"

    recipient = models.ForeignKey(User, on_delete=models.CASCADE, related_name="notifications")
    comment = models.ForeignKey(Comment, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)
    email_state = models.CharField(max_length=10, choices=Email.choices, default=Email.NONE)
    email_attempts = models.PositiveSmallIntegerField(default=0)
    email_error = models.TextField(blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)
    # When the mail is due: now when queued, later after a failure (back-off).
    email_due_at = models.DateTimeField(null=True, blank=True)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["recipient", "read_at"]),
            # The outbox: only queued mail is ever looked for by due time.
            models.Index(
                fields=["email_due_at"],
                condition=Q(email_state="queued"),
                name="notification_mail_due",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["recipient", "comment", "kind"], name="one_notification_per_event"
            )
        ]

    def __str__(self):
        return f"{self.get_kind_display()} for {self.recipient_id}"

    def get_absolute_url(self):
        return reverse("notification", args=[self.pk])

    @property
    def sentence(self) -> str:
        """What happened, in a line: the bell's text and the mail's subject."""
        comment = self.comment
        return self.KINDS[self.kind].sentence.format(
            who=comment.author.public_name if comment.author else "Someone",
            section=Truncator(comment.section.heading).chars(80),
        )

    @classmethod
    def personal_data(cls, user) -> dict[str, list]:
        return {
            "notifications": [
                {
                    "kind": n.kind,
                    "comment": n.comment_id,
                    "at": n.created_at.isoformat(),
                    "read_at": n.read_at.isoformat() if n.read_at else None,
                    "email": n.email_state,
                }
                for n in user.notifications.order_by("pk")
            ]
        }


# A comment's columns but its Markdown, search vector and fragment; its author's.
ONE_COLUMNS = [
    field.attname
    for field in Comment._meta.concrete_fields
    if field.name not in ("body", "search_vector", "fragment")
]
USER_COLUMNS = [field.attname for field in User._meta.concrete_fields]


def _one_in_section(shape, viewer, section_id: int, pk: int):
    return (
        Comment.objects.visible_in(section_id, viewer)
        .filter(pk=pk)
        .values_list(*ONE_COLUMNS, "shows_text", *(f"author__{c}" for c in USER_COLUMNS))
    )


ONE_IN_SECTION = Prepared(Comment, _one_in_section)


def first_unread(shape, viewer):
    """A notification of `viewer`'s that is unread, if any: the bell's first look."""
    return Notification.objects.filter(recipient=viewer).unread().values_list("pk")[:1]


# Whether a member has anything unread, asked on every page they see (for the bell): its
# SQL is made once (config/prepared.py).
ANY_UNREAD = Prepared(Notification, first_unread)
