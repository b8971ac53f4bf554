"""A section's history as readers see it: the list of revisions (with the comments each
one addressed), any old revision at a stable address, a word-level diff between two,
and paragraph links that outlive the paragraph.

Every page asks visible_section() first, so an essay a viewer may not read has no
history for them either (404), and the addressed comments are those
Comment.objects.visible_to() shows them, with their text.
"""

import re

from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode

from essays.diff import word_diff
from essays.models import Essay
from forum.ids import parse_id
from forum.models import Comment, EditorAnswer
from forum.views import visible_section

_anchor = re.compile(r"p-[0-9a-f]{8}(?:-[0-9]{1,6})?")


def essay_history(request, essay_slug):
    """Changes to the essay as a whole (title, sections added, renamed, removed,
    reordered), and each section's own history a click away."""
    essay = get_object_or_404(Essay.objects.visible_to(request.user), slug=essay_slug)
    context = {
        "essay": essay,
        "changes": essay.changes.select_related("author"),
        "sections": essay.sections.in_order().only("essay", "heading", "slug"),
    }
    return render(request, "essays/essay_history.html", context)


def section_history(request, essay_slug, section_slug):
    section = visible_section(request, essay_slug, section_slug)
    revisions = list(
        section.revisions.select_related("author")
        .defer("body_markdown", "body_html", "body_text")
        .order_by("-number")
    )
    addressed = (
        Comment.objects.visible_to(request.user)
        .filter(section=section, shows_text=True, editor_answer=EditorAnswer.ADDRESSED)
        .select_related("author")
        .only("pk", "body", "author__username", "author__display_name", "addressed_in")
        .order_by("created_at", "pk")
    )
    by_revision: dict[int, list] = {}
    for comment in addressed:
        by_revision.setdefault(comment.addressed_in_id, []).append(comment)
    for revision in revisions:
        revision.addressed = by_revision.get(revision.pk, [])
    context = {"essay": section.essay, "section": section, "revisions": revisions}
    return render(request, "essays/history.html", context)


def section_revision(request, essay_slug, section_slug, number):
    section = visible_section(request, essay_slug, section_slug)
    revision = get_object_or_404(section.revisions.select_related("author"), number=number)
    gone = request.GET.get("gone", "")
    context = {
        "essay": section.essay,
        "section": section,
        "revision": revision,
        "is_current": revision.pk == section.current_revision_id,
        # A paragraph link that led here because the paragraph is no longer in the text.
        "gone": gone if _anchor.fullmatch(gone) else "",
    }
    return render(request, "essays/revision.html", context)


def section_diff(request, essay_slug, section_slug, before, after):
    section = visible_section(request, essay_slug, section_slug)
    found = {r.number: r for r in section.revisions.filter(number__in=[before, after])}
    if before not in found or after not in found:
        raise Http404("No such revision of this section.")
    old, new = found[before], found[after]
    context = {
        "essay": section.essay,
        "section": section,
        "old": old,
        "new": new,
        "segments": word_diff(old.body_text, new.body_text),
    }
    return render(request, "essays/diff.html", context)


def choose_diff(request, essay_slug, section_slug):
    """The history page's form (?from=&to=): to the diff's own, stable address."""
    section = visible_section(request, essay_slug, section_slug)
    before, after = parse_id(request.GET.get("from")), parse_id(request.GET.get("to"))
    if before is None or after is None:
        message = "Choose two revisions to compare, by number (1, 2, 3…)."
        return render(request, "400.html", {"message": message}, status=400)
    return redirect(diff_url(section, before, after))


def diff_url(section, before: int, after: int) -> str:
    return reverse("section_diff", args=[section.essay.slug, section.slug, before, after])


def paragraph_link(request, essay_slug, section_slug, anchor):
    """A link to a paragraph that works whatever became of it: to the paragraph in the
    current text, or to the last revision that had it, with a note saying so."""
    if not _anchor.fullmatch(anchor):
        raise Http404("No such paragraph.")
    section = visible_section(request, essay_slug, section_slug)
    if f'id="{anchor}"' in section.body_html:
        return redirect(f"{section.get_absolute_url()}#{anchor}")
    last = (
        section.revisions.filter(body_html__contains=f'id="{anchor}"')
        .order_by("-number")
        .values_list("number", flat=True)
        .first()
    )
    if last is None:
        raise Http404("No such paragraph in any revision of this section.")
    url = reverse("section_revision", args=[essay_slug, section_slug, last])
    return redirect(f"{url}?{urlencode({'gone': anchor})}#{anchor}")
