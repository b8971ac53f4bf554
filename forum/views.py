from django.db.models import Prefetch
from django.shortcuts import get_object_or_404, render

from essays.models import Essay, Section


def home(request):
    """The essays on this site, with their summaries and tables of contents."""
    essays = (
        Essay.objects.visible_to(request.user)
        .with_section_counts()
        .prefetch_related(
            Prefetch(
                "sections", queryset=Section.objects.in_order().only("essay", "heading", "slug")
            )
        )
    )
    return render(request, "essays/home.html", {"essays": essays})


def essay_detail(request, essay_slug):
    """The whole essay on one page, with a table of contents."""
    essay = get_object_or_404(Essay.objects.visible_to(request.user), slug=essay_slug)
    sections = essay.sections.in_order()
    return render(request, "essays/essay.html", {"essay": essay, "sections": sections})


def section_detail(request, essay_slug, section_slug):
    """One section with previous/next navigation and its discussion."""
    section = get_object_or_404(
        Section.objects.select_related("essay").filter(
            essay__in=Essay.objects.visible_to(request.user)
        ),
        essay__slug=essay_slug,
        slug=section_slug,
    )
    # An essay has tens of sections, not thousands: one query for the outline gives the
    # table of contents and both neighbours.
    outline = list(section.essay.sections.in_order().only("essay", "heading", "slug"))
    index = [s.pk for s in outline].index(section.pk)
    return render(
        request,
        "essays/section.html",
        {
            "essay": section.essay,
            "section": section,
            "outline": outline,
            "previous": outline[index - 1] if index > 0 else None,
            "next": outline[index + 1] if index + 1 < len(outline) else None,
        },
    )
