"""HTML for comments, built in Python because a page may show a thousand of them.

Django templates cost a few hundred microseconds per included comment; a 1,000-comment
page took 0.4 s to render that way. The same markup built here takes a few tens of
microseconds per comment. Everything a person typed is escaped with `escape()`, except
`body_html`, which `essays.markup.render_user_text` already sanitized. The section
page, the thread page and every htmx fragment (vote, body, a new comment) come from
these functions, so there is one definition of a comment's markup.
"""

from datetime import datetime

from django.middleware.csrf import get_token
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from forum.models import Comment, ModerationPolicy
from forum.threads import Node, viewer_can_write

Status = Comment.Status


STATUS_BADGES = {
    Status.PENDING: "Awaiting review",
    Status.REMOVED: "Removed",
    Status.SPAM: "Spam",
    Status.DELETED: "Deleted",
}


def relative_time(moment: datetime, now: datetime) -> str:
    seconds = int((now - moment).total_seconds())
    if seconds < 10:
        return "now"
    for size, unit in ((86400 * 7, None), (86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds >= size:
            if unit is None:
                return timezone.localtime(moment).strftime("%-d %b %Y")
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''} ago"
    return f"{seconds} seconds ago"


def _url_pattern(name: str) -> str:
    # reverse() once with a marker, then format per comment: far cheaper than reverse().
    return reverse(name, args=[987654321]).replace("987654321", "{}")


class CommentRenderer:
    """Renders comments for one request (one viewer)."""

    def __init__(self, request, section):
        self.section = section
        self.viewer = request.user
        self.viewer_id = request.user.pk
        self.moderator = request.user.is_authenticated and request.user.is_moderator
        self._policy = None
        self.can_reply = viewer_can_write(request.user) and section.is_open_for_discussion
        self.csrf = escape(get_token(request)) if viewer_can_write(request.user) else ""
        self.now = timezone.now()
        self.section_url = escape(section.get_absolute_url())
        self.url = {
            name: _url_pattern(name)
            for name in (
                *("comment", "thread", "reply", "edit_comment", "delete_comment", "vote"),
                *("report", "follow_thread"),
            )
        } | {"unvote": _url_pattern("unvote")}
        self.profile = _url_pattern("profile")

    def threads(self, nodes: list[Node]) -> SafeString:
        parts: list[str] = []
        for node in nodes:
            parts.append('<li class="thread">')
            self._node(node, parts)
            parts.append("</li>")
        return mark_safe("".join(parts))  # noqa: S308  (escaped piece by piece)

    def comment(self, node: Node) -> SafeString:
        parts: list[str] = []
        self._node(node, parts)
        return mark_safe("".join(parts))  # noqa: S308

    def body(self, node: Node) -> SafeString:
        return mark_safe(self._body(node))  # noqa: S308

    def vote(self, node: Node) -> SafeString:
        return mark_safe(self._vote(node))  # noqa: S308

    def follow(self, pk: int, following: bool) -> SafeString:
        return mark_safe(self._follow(pk, following))  # noqa: S308

    def _follow(self, pk: int, following: bool) -> str:
        """Follow every reply below a comment, or stop."""
        action = self.url["follow_thread"].format(pk)
        if following:
            value, pressed, label = "0", "true", "✓ Following"
            title = "You are told about every reply below this comment. Press to stop."
        else:
            value, pressed, label = "1", "false", "Follow"
            title = "Be told about every reply below this comment"
        return (
            f'<form class="inline-form" method="post" action="{action}" hx-post="{action}" '
            f'hx-swap="outerHTML">'
            f'<input type="hidden" name="csrfmiddlewaretoken" value="{self.csrf}">'
            f'<input type="hidden" name="follow" value="{value}">'
            f'<button class="link-button" type="submit" aria-pressed="{pressed}" '
            f'title="{title}">{label}</button></form>'
        )

    def _node(self, node: Node, out: list[str]) -> None:
        c = node.comment
        pk = c.pk
        author = c.author
        if author is None:
            label, name = "a deleted user", '<span class="comment__author">deleted user</span>'
        else:
            public = escape(author.public_name)
            label = public
            profile = self.profile.format(escape(author.username))
            name = f'<a class="comment__author" href="{profile}">{public}</a>'
        if c.is_placeholder and not self._shows_text(c):
            label, name = "a removed comment", '<span class="comment__author">[removed]</span>'
            if c.is_deleted:
                label, name = "a deleted comment", '<span class="comment__author">[deleted]</span>'
        local = timezone.localtime(c.created_at)
        hidden = " comment--hidden" if c.status != Status.PUBLISHED else ""
        out.append(
            f'<article class="comment{hidden}" id="c-{pk}" '
            f'aria-label="Comment by {label}"><details class="comment__fold" open>'
            f'<summary class="comment__meta">{name} '
            f'<a class="comment__time" href="{self.url["comment"].format(pk)}" title="Permalink">'
            f'<time datetime="{local.isoformat()}" title="{local.strftime("%-d %B %Y, %H:%M %Z")}">'
            f"{relative_time(c.created_at, self.now)}</time></a>"
        )
        if c.edited_at and not c.is_deleted:
            edited = timezone.localtime(c.edited_at).strftime("%-d %B %Y, %H:%M %Z")
            out.append(f' <span class="comment__edited" title="Edited {edited}">edited</span>')
        if shown := len(node.replies):
            plural = "reply" if shown == 1 else "replies"
            out.append(f' <span class="comment__folded-note">{shown} {plural}</span>')
        if c.is_pinned:
            out.append(' <span class="badge badge--pinned">Pinned</span>')
        if c.status != Status.PUBLISHED and self._shows_text(c):
            out.append(f' <span class="badge badge--{c.status}">{STATUS_BADGES[c.status]}</span>')
        out.append("</summary>")
        out.append(self._body(node))
        if c.status == Status.PUBLISHED:
            out.append('<div class="comment__actions">')
            out.append(self._vote(node))
            if self.can_reply:
                reply = self.url["reply"].format(pk)
                out.append(
                    f'<a href="{reply}" hx-get="{reply}" hx-target="#c-{pk}-reply" '
                    'hx-swap="innerHTML">Reply</a>'
                )
            if self.can_reply:
                out.append(self._follow(pk, node.following))
            if self.can_reply and c.author_id != self.viewer_id:
                out.append(f'<a href="{self.url["report"].format(pk)}">Report</a>')
            if node.can_edit:
                edit = self.url["edit_comment"].format(pk)
                out.append(
                    f'<a href="{edit}" hx-get="{edit}" hx-target="#c-{pk}-body" '
                    f'hx-swap="innerHTML">Edit</a>'
                    f'<a href="{self.url["delete_comment"].format(pk)}">Delete</a>'
                )
            out.append("</div>")
        out.append(f'<div class="comment__reply-slot" id="c-{pk}-reply"></div>')
        if node.replies:
            out.append('<ol class="replies">')
            for reply_node in node.replies:
                out.append("<li>")
                self._node(reply_node, out)
                out.append("</li>")
            out.append("</ol>")
        if node.continues:
            out.append(
                f'<p class="comment__continue"><a href="{self.url["thread"].format(pk)}">'
                "Continue this thread →</a></p>"
            )
        if node.more_after:
            more = f"{self.url['thread'].format(c.root_id or pk)}?after={escape(node.more_after)}"
            out.append(
                f'<p class="comment__continue"><a href="{more}">More of this thread →</a></p>'
            )
        out.append("</details></article>")

    def _shows_text(self, c) -> bool:
        """Whether this viewer sees the text of a comment that is not published."""
        if c.status == Status.PUBLISHED or self.moderator:
            return True
        if c.author_id is None or c.author_id != self.viewer_id or c.is_deleted:
            return False
        if c.status == Status.PENDING:
            return True
        if self._policy is None:  # asked only when an author meets a removed comment
            self._policy = ModerationPolicy.current()
        return self._policy.tell_authors_about_removals

    def _body(self, node: Node) -> str:
        c = node.comment
        if c.is_placeholder and not self._shows_text(c):
            text = "[deleted]" if c.is_deleted else "[removed by a moderator]"
            inner = f'<p class="comment__placeholder">{text}</p>'
        else:
            inner = self._notice(c)
            if c.quote_text:
                before = f"…{escape(c.quote_before)}" if c.quote_before else ""
                after = f"{escape(c.quote_after)}…" if c.quote_after else ""
                inner = (
                    f'<blockquote class="comment__quote"><a href="{self.section_url}#'
                    f'{escape(c.quote_anchor)}">{before}<mark>{escape(c.quote_text)}</mark>'
                    f"{after}</a></blockquote>"
                )
            inner += f'<div class="user-text">{c.body_html}</div>'
        return f'<div class="comment__body" id="c-{c.pk}-body">{inner}</div>'

    def _notice(self, c) -> str:
        """What the author (or a moderator) is told about a comment others cannot see."""
        if c.status == Status.PUBLISHED or c.is_deleted:
            return ""
        if c.status == Status.PENDING:
            text = "Awaiting review: only you and the moderators can see this for now."
        else:
            reason = f" Reason: {escape(c.moderation_reason)}" if c.moderation_reason else ""
            text = f"Removed by a moderator.{reason} Only you and the moderators can see it."
        if self.moderator and c.author_id != self.viewer_id:
            text = f"{STATUS_BADGES[c.status]}: hidden from readers."
        return f'<p class="comment__notice">{text}</p>'

    def _vote(self, node: Node) -> str:
        c = node.comment
        points = "point" if c.score in (1, -1) else "points"
        html = (
            f'<div class="vote" id="c-{c.pk}-vote">'
            f'<span class="vote__score">{c.score} {points}</span>'
        )
        if node.can_vote:
            action = self.url["unvote" if node.voted else "vote"].format(c.pk)
            pressed, label = ("true", "▲ Upvoted") if node.voted else ("false", "△ Upvote")
            html += (
                f'<form method="post" action="{action}" hx-post="{action}" '
                f'hx-target="#c-{c.pk}-vote" hx-swap="outerHTML">'
                f'<input type="hidden" name="csrfmiddlewaretoken" value="{self.csrf}">'
                f'<button class="link-button" type="submit" aria-pressed="{pressed}">'
                f"{label}</button></form>"
            )
        return html + "</div>"
