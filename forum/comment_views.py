"""Writing in a discussion: post, reply, preview, edit, delete, vote, report; and comment
pages.

Every action works as a plain form with a redirect; with JavaScript, htmx sends the same
forms and the same views answer with just the changed fragment. Who may do what is
asked of `Participation` (through the form, or `Comment.refusal`), never decided here.
"""

import re

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import reswap, retarget

from forum import threads
from forum.forms import CommentForm, ReportForm
from forum.models import Act, Comment, Participation, Report, Vote
from forum.rendering import CommentRenderer, render_with_threads
from forum.views import visible_section


def get_comment(request, comment_id) -> Comment:
    """A comment the viewer may see, on an essay the viewer may read; else 404."""
    return get_object_or_404(
        Comment.objects.visible_to(request.user).select_related("section__essay", "author"),
        pk=comment_id,
    )


def allow(request, act: str, comment: Comment) -> None:
    """Refuse (403, with the reason) what the rules do not allow this viewer."""
    if refusal := comment.refusal(act, request.user):
        raise PermissionDenied(refusal)


def take_part(request, section) -> None:
    """Refuse (403, with the reason) those who may not take part at all: unverified,
    suspended. (What they write is the form's business: errors there are a 422.)"""
    if refusal := Participation(request.user, section).refusal:
        raise PermissionDenied(refusal)


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
    """The form again, with its errors: in place with htmx, on its own page without.
    A posting limit is a 429 with Retry-After, as HTTP clients and htmx expect."""
    status = 429 if form.retry_after else 422
    if form.is_edit and request.htmx:
        # Wrapped in the comment's body again, which the form's own target replaces.
        context = {"form": form, "comment": form.comment, "section": section, "wrap": True}
        response = render(request, "forum/edit_form.html", context, status=status)
    elif request.htmx:
        context = {"form": form, "section": section}
        response = render(request, "forum/comment_form.html", context, status=status)
        response = reswap(retarget(response, "this"), "outerHTML")
    elif form.is_edit:
        context = {"form": form, "comment": form.comment, "section": section, "wrap": True}
        response = render(request, "forum/edit.html", context, status=status)
    else:
        response = compose_page(request, section, form, status=status)
    if form.retry_after:
        response["Retry-After"] = str(form.retry_after)
    return response


def fragment(request, comment, part: str) -> HttpResponse:
    """One part of a comment as the page shows it to this viewer, for htmx."""
    node = threads.single(comment, request.user, count_below=part == "changed")
    if node is None:
        return render(request, "forum/deleted.html")
    return HttpResponse(getattr(CommentRenderer(request, comment.section), part)(node))


@login_required
@require_POST
def post_comment(request, essay_slug, section_slug):
    """Publish a comment or a reply."""
    section = visible_section(request, essay_slug, section_slug)
    take_part(request, section)
    form = CommentForm(request.POST, section=section, user=request.user)
    if not form.is_valid() or (saved := form.save()) is None:
        return refused(request, section, form)
    comment, _ = saved
    if request.htmx:
        node = threads.single(comment, request.user)
        if node is None:  # sent again after it was deleted: nothing to show in place
            return render(request, "forum/deleted.html")
        reply = comment.parent_id is not None
        renderer = CommentRenderer(request, section)
        context = {
            "comment_html": renderer.comment(node),
            # The comments it answers now hold one reply more (said when folded).
            "headers_html": (
                renderer.refreshed_headers(threads.ancestors(comment, request.user))
                if reply
                else ""
            ),
            "reply": reply,
            "section": section,
            "form": CommentForm(section=section, user=request.user),
            # The heading's "N threads", which a new top-level comment changes.
            "total": None if reply else threads.visible_threads(section, request.user).count(),
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
    take_part(request, section)
    form = CommentForm(request.POST, section=section, user=request.user, previewing=True)

    def page(preview, status):
        return compose_page(request, section, form, preview=preview, status=status)

    return previewed(request, form, page)


@login_required
@require_POST
def preview_edit(request, comment_id):
    """Show how an edited comment will look, rendered by the same code as saving it."""
    comment = get_comment(request, comment_id)
    allow(request, Act.EDIT, comment)
    section = comment.section
    form = CommentForm(
        request.POST, section=section, user=request.user, comment=comment, previewing=True
    )

    def page(preview, status):
        context = {"form": form, "comment": comment, "section": section, "preview": preview}
        return render(request, "forum/edit.html", context, status=status)

    return previewed(request, form, page)


def previewed(request, form, page) -> HttpResponse:
    """The preview (or why the text cannot be sent): a fragment for htmx, else `page`.
    A posting limit is a 429 with Retry-After, as for the real thing."""
    preview = form.draft() if form.is_valid() else None
    status = 429 if form.retry_after else 200
    if request.htmx:
        context = {"form": form, "preview": preview, "section": form.section}
        response = render(request, "forum/preview.html", context, status=status)
    else:
        response = page(preview, status)
    if form.retry_after:
        response["Retry-After"] = str(form.retry_after)
    return response


@login_required
def reply(request, comment_id):
    """The form for answering a comment."""
    parent = get_comment(request, comment_id)
    allow(request, Act.REPLY, parent)
    section = parent.section
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
    allow(request, Act.EDIT, comment)
    section = comment.section
    form = CommentForm(request.POST or None, section=section, user=request.user, comment=comment)
    if request.method == "POST":
        if not form.is_valid() or form.save() is None:
            return refused(request, section, form)
        if request.htmx:
            return fragment(request, comment, "changed")
        if comment.status == Comment.Status.PENDING:
            messages.info(request, "Your comment is updated; it will appear once a moderator "
                          "approves it.")  # fmt: skip
        else:
            messages.success(request, "Your comment is updated.")
        return redirect(comment)
    template = "forum/edit_form.html" if request.htmx else "forum/edit.html"
    context = {"form": form, "comment": comment, "section": section, "wrap": False}
    return render(request, template, context)


@login_required
@require_http_methods(["GET", "POST"])
def delete_comment(request, comment_id):
    """Delete one's own comment (a placeholder stays if others replied)."""
    comment = get_comment(request, comment_id)
    allow(request, Act.DELETE, comment)
    if request.method == "GET":
        return render(request, "forum/delete.html", {"comment": comment})
    section_url = comment.section.get_absolute_url()
    comment.delete_by_author(by=request.user)  # Refused is a 403 with the reason
    if request.htmx:
        return fragment(request, comment, "changed")
    messages.success(request, "Your comment is deleted.")
    if comment.is_deleted:
        return redirect(comment)
    return redirect(f"{section_url}#discussion")


@login_required
@require_POST
def vote(request, comment_id):
    """Upvote a comment (one vote per person, never on one's own)."""
    return _vote(request, comment_id, Vote.objects.cast)


@login_required
@require_POST
def unvote(request, comment_id):
    """Withdraw an upvote."""
    return _vote(request, comment_id, Vote.objects.withdraw)


def _vote(request, comment_id, change):
    comment = get_comment(request, comment_id)
    allow(request, Act.VOTE, comment)
    change(request.user, comment)  # Refused is a 403 with the reason
    if request.htmx:
        return fragment(request, comment, "vote")
    return redirect(comment)


def permalink(request, comment_id):
    """Open the page a comment is on, scrolled to it."""
    comment = get_comment(request, comment_id)
    section = comment.section
    if comment.depth >= settings.COMMENTS_DISPLAY_DEPTH:
        # Too deep for the section page: its parent's own thread page shows it in context.
        return redirect(f"{reverse('thread', args=[comment.parent_id])}#c-{comment.pk}")
    root = comment if comment.root_id is None else comment.root
    query = threads.page_of(root, request.user)
    return redirect(f"{section.get_absolute_url()}{query}#c-{comment.pk}")


def thread(request, comment_id):
    """A comment with its replies, for threads deeper than the section page shows."""
    comment = get_comment(request, comment_id)
    after = request.GET.get("after", "")
    if not re.fullmatch(r"(?:[0-9a-z]{7}){1,1000}", after):
        after = ""  # not a path: start at the beginning
    nodes = threads.subthread(comment, request.user, after=after)
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
        "parent": ancestors[-1] if ancestors else None,
        "ancestors": ancestors,
    }
    threads_html = CommentRenderer(request, comment.section).threads(nodes)
    return render_with_threads(request, "forum/thread.html", context, threads_html)


@login_required
@require_http_methods(["GET", "POST"])
def report_comment(request, comment_id):
    """Tell the moderators about a comment. Each person reports a comment once; the
    author never learns who reported it."""
    comment = get_comment(request, comment_id)
    allow(request, Act.REPORT, comment)
    if comment.reports.filter(reporter=request.user).exists():
        messages.info(request, "You have already reported this comment; thank you.")
        return redirect(comment)
    form = ReportForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        Report.file(comment, request.user, **form.cleaned_data)  # Refused is a 403
        messages.success(request, "Thank you. The moderators will look at this comment.")
        return redirect(comment)
    status = 422 if form.is_bound else 200
    return render(request, "forum/report.html", {"form": form, "comment": comment}, status=status)
