"""Writing in a discussion: post, reply, preview, edit, delete, vote; and comment pages.

Every action works as a plain form with a redirect; with JavaScript, htmx sends the same
forms and the same views answer with just the changed fragment.
"""

import re

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import reswap, retarget

from essays.models import Essay
from forum.forms import CommentForm, EditCommentForm, ReportForm
from forum.models import Comment, Report, Subscription, Vote
from forum.rendering import CommentRenderer
from forum.threads import Node, subthread
from forum.views import visible_section


def get_comment(request, comment_id) -> Comment:
    """A comment the viewer may see, on an essay the viewer may read; else 404."""
    return get_object_or_404(
        Comment.objects.visible_to(request.user)
        .filter(section__essay__in=Essay.objects.visible_to(request.user))
        .select_related("section__essay", "author"),
        pk=comment_id,
    )


def require_writer(request):
    """Refuse, with the reason, anyone who may not write (unverified, suspended)."""
    if not request.user.is_authenticated:
        raise PermissionDenied("Please sign in to take part.")
    if refusal := request.user.write_refusal():
        raise PermissionDenied(refusal)


def comment_node(request, comment) -> Node:
    mine = comment.author_id == request.user.pk
    return Node(comment=comment, can_edit=comment.can_edit(request.user), can_vote=not mine)


def compose_page(request, section, form, *, preview=None, status=200):
    """The page for writing without JavaScript: a reply, a preview, a form with errors."""
    context = {
        "essay": section.essay,
        "section": section,
        "form": form,
        "parent": form.parent_comment,  # set while validating, when the parent is valid
        "preview": preview,
    }
    return render(request, "forum/compose.html", context, status=status)


def refused(request, section, form):
    """The form again, with its errors: in place with htmx, on its own page without."""
    if request.htmx:
        context = {"form": form, "section": section}
        response = render(request, "forum/comment_form.html", context, status=422)
        return reswap(retarget(response, "this"), "outerHTML")
    return compose_page(request, section, form, status=422)


@login_required
@require_POST
def post_comment(request, essay_slug, section_slug):
    """Publish a comment or a reply."""
    section = visible_section(request, essay_slug, section_slug)
    require_writer(request)
    form = CommentForm(request.POST, section=section, user=request.user)
    if not form.is_valid():
        return refused(request, section, form)
    try:
        comment, _ = form.save()
    except Comment.DoesNotExist:
        form.add_error(None, "The comment you replied to was deleted a moment ago.")
        return refused(request, section, form)
    if request.htmx:
        node = comment_node(request, comment)
        node.following = Subscription.objects.filter(user=request.user, thread=comment).exists()
        context = {
            "comment_html": CommentRenderer(request, section).comment(node),
            "reply": comment.parent_id is not None,
            "section": section,
            "form": CommentForm(section=section, user=request.user),
        }
        return render(request, "forum/posted.html", context)
    if comment.status == Comment.Status.PENDING:
        messages.info(request, "Thank you. Your comment will appear once a moderator approves it.")
    else:
        messages.success(request, "Your comment is published.")
    return redirect(comment)


@login_required
@require_POST
def preview_comment(request, essay_slug, section_slug):
    """Show how a comment will look, rendered by the same code as the real post."""
    section = visible_section(request, essay_slug, section_slug)
    require_writer(request)
    form = CommentForm(request.POST, section=section, user=request.user)
    preview = None
    if form.is_valid():
        preview = Comment(body=form.cleaned_data["body"], section=section, author=request.user)
        preview.render()
        if form.passage:
            preview.quote_text = form.passage.text
            preview.quote_before, preview.quote_after = form.passage.before, form.passage.after
    if request.htmx:
        return render(
            request, "forum/preview.html", {"form": form, "preview": preview, "section": section}
        )
    return compose_page(request, section, form, preview=preview)


@login_required
def reply(request, comment_id):
    """The form for answering a comment."""
    parent = get_comment(request, comment_id)
    section = parent.section
    require_writer(request)
    form = CommentForm(initial={"parent": parent.pk}, section=section, user=request.user)
    form.parent_comment = parent
    if request.htmx:
        return render(request, "forum/comment_form.html", {"form": form, "section": section})
    return compose_page(request, section, form)


@login_required
@require_http_methods(["GET", "POST"])
def edit_comment(request, comment_id):
    """Change one's own comment; the earlier text is kept."""
    comment = get_comment(request, comment_id)
    if not comment.can_edit(request.user):
        raise PermissionDenied("You can only edit your own comments.")
    if not comment.section.is_open_for_discussion:
        raise PermissionDenied("The discussion of this section is closed.")
    form = EditCommentForm(
        request.POST or None, initial={"body": comment.body}, auto_id=f"edit{comment.pk}_%s"
    )
    if request.method == "POST" and form.is_valid():
        comment.edit(form.cleaned_data["body"])
        if request.htmx:
            node = comment_node(request, comment)
            return HttpResponse(CommentRenderer(request, comment.section).body(node))
        messages.success(request, "Your comment is updated.")
        return redirect(comment)
    status = 422 if form.is_bound else 200
    template = "forum/edit_form.html" if request.htmx else "forum/edit.html"
    context = {"form": form, "comment": comment, "section": comment.section, "wrap": form.is_bound}
    return render(request, template, context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def delete_comment(request, comment_id):
    """Delete one's own comment (a placeholder stays if others replied)."""
    comment = get_comment(request, comment_id)
    if not comment.can_edit(request.user):
        raise PermissionDenied("You can only delete your own comments.")
    if request.method == "GET":
        return render(request, "forum/delete.html", {"comment": comment})
    section_url = comment.section.get_absolute_url()
    comment.delete_by_author()
    if request.htmx:
        if comment.is_deleted:
            node = comment_node(request, comment)
            return HttpResponse(CommentRenderer(request, comment.section).body(node))
        return render(request, "forum/deleted.html")
    messages.success(request, "Your comment is deleted.")
    if comment.is_deleted:
        return redirect(comment)
    return redirect(f"{section_url}#discussion")


@login_required
@require_POST
def vote(request, comment_id):
    """Upvote a comment (one vote per person, never on one's own)."""
    return _vote(request, comment_id, cast=True)


@login_required
@require_POST
def unvote(request, comment_id):
    """Withdraw an upvote."""
    return _vote(request, comment_id, cast=False)


def _vote(request, comment_id, *, cast: bool):
    comment = get_comment(request, comment_id)
    require_writer(request)
    if not comment.can_vote(request.user):
        raise PermissionDenied("You cannot vote on your own or a deleted comment.")
    if not comment.section.is_open_for_discussion:
        raise PermissionDenied("The discussion of this section is closed.")
    try:
        if cast:
            Vote.objects.cast(request.user, comment)
        else:
            Vote.objects.withdraw(request.user, comment)
    except Comment.DoesNotExist:
        raise Http404("That comment was deleted a moment ago.") from None
    if request.htmx:
        comment.refresh_from_db(fields=["score"])
        node = comment_node(request, comment)
        node.voted = cast
        return HttpResponse(CommentRenderer(request, comment.section).vote(node))
    return redirect(comment)


def permalink(request, comment_id):
    """Open the page a comment is on, scrolled to it."""
    comment = get_comment(request, comment_id)
    section = comment.section
    if comment.depth >= settings.COMMENTS_DISPLAY_DEPTH:
        # Too deep for the section page: its parent's own thread page shows it in context.
        return redirect(f"{reverse('thread', args=[comment.parent_id])}#c-{comment.pk}")
    root = comment if comment.root_id is None else comment.root
    earlier = (
        Comment.objects.filter(section=section)
        .visible_to(request.user)
        .top_level()
        .filter(Q(created_at__lt=root.created_at) | Q(created_at=root.created_at, pk__lt=root.pk))
        .count()
    )
    page = earlier // settings.COMMENTS_PAGE_SIZE + 1
    query = "?sort=oldest" + (f"&page={page}" if page > 1 else "")
    return redirect(f"{section.get_absolute_url()}{query}#c-{comment.pk}")


def thread(request, comment_id):
    """A comment with its replies, for threads deeper than the section page shows."""
    comment = get_comment(request, comment_id)
    after = request.GET.get("after", "")
    if not re.fullmatch(r"(?:[0-9a-z]{7}){1,1000}", after):
        after = ""  # not a path: start at the beginning
    nodes = subthread(comment, request.user, after=after)
    ancestors = list(
        Comment.objects.visible_to(request.user)
        .filter(pk__in=comment.ancestor_ids())
        .with_author()
        .order_by("depth")
    )
    context = {
        "comment": comment,
        "section": comment.section,
        "essay": comment.section.essay,
        "threads_html": CommentRenderer(request, comment.section).threads(nodes),
        "parent": ancestors[-1] if ancestors else None,
        "ancestors": ancestors,
    }
    return render(request, "forum/thread.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def report_comment(request, comment_id):
    """Tell the moderators about a comment. Each person reports a comment once; the
    author never learns who reported it."""
    comment = get_comment(request, comment_id)
    require_writer(request)
    if comment.author_id == request.user.pk or comment.status != Comment.Status.PUBLISHED:
        raise PermissionDenied("You can only report other people's published comments.")
    if comment.reports.filter(reporter=request.user).exists():
        messages.info(request, "You have already reported this comment; thank you.")
        return redirect(comment)
    form = ReportForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        Report.file(comment, request.user, form.cleaned_data["reason"], form.cleaned_data["note"])
        messages.success(request, "Thank you. The moderators will look at this comment.")
        return redirect(comment)
    status = 422 if form.is_bound else 200
    return render(request, "forum/report.html", {"form": form, "comment": comment}, status=status)
