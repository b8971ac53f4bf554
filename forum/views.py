import json

from django.contrib.auth.models import AnonymousUser
from django.core.paginator import Paginator
from django.db.models import Count, Prefetch
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils.functional import SimpleLazyObject
from django.views.decorators.vary import vary_on_headers

from accounts.models import User
from essays.models import Essay, Section, content_version
from forum import annotations, caching
from forum import search as search_module
from forum.forms import CommentForm
from forum.models import Comment, Notification, Participation, discussion_version
from forum.rendering import CommentRenderer, new_comment_form, render_with_threads
from forum.threads import SORT_LABELS, section_discussion


def favicon(request):
    """Browsers ask for /favicon.ico on pages without an icon link (the admin's)."""
    return redirect(static("img/favicon.svg"), permanent=True)


ROBOTS_TXT = """User-agent: *
Disallow: /search/
Disallow: /accounts/
Disallow: /notifications/
Disallow: /unsubscribe/
"""


def robots_txt(request):
    """Crawlers may read the essays and discussions; searches and personal pages are
    not for them. (The admin's path is not named: it is meant to be hard to find.)"""
    return HttpResponse(ROBOTS_TXT, content_type="text/plain; charset=utf-8")


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
    sections = list(essay.sections.in_order())
    counts = published_counts([section.pk for section in sections])
    busiest = max(counts.values(), default=0)
    for section in sections:
        section.comment_count = counts.get(section.pk, 0)
        # Share of the busiest section's discussion, for the small bar in the contents.
        section.activity = round(100 * section.comment_count / busiest) if busiest else 0
    return render(request, "essays/essay.html", {"essay": essay, "sections": sections})


def published_counts(section_ids) -> dict[int, int]:
    """Each section's number of published comments (the essay being visible to the
    reader, the same for everyone). Kept in the cache under the section's discussion
    version, which every change to its comments bumps: an unchanged section costs no
    query, the changed ones one grouped count of their rows on the partial index
    `comment_published_in_section` (an index-only scan on PostgreSQL), never a scan of
    the essay's million comments. Counted directly while the cache is unreachable."""
    counts, keys, stale = {}, {}, []
    for section_id in section_ids:
        version = discussion_version(section_id)
        count = None
        if version is not None:
            keys[section_id] = caching.key("published-comments", section_id, version)
            count = caching.fetch(keys[section_id])
        if count is None:
            stale.append(section_id)
        else:
            counts[section_id] = count
    if stale:  # one grouped count for all of them, however many sections changed
        recounted = dict(
            Comment.objects.published()
            .filter(section__in=stale)
            .order_by()
            .values("section")
            # COUNT(*), not COUNT(id): the id is not in the index, and reading it sent
            # PostgreSQL to every row (857 ms for a million comments, 125 ms without).
            .annotate(n=Count("*"))
            .values_list("section", "n")
        )
        for section_id in stale:
            counts[section_id] = recounted.get(section_id, 0)
            if section_id in keys:
                caching.store(keys[section_id], counts[section_id])
    return counts


def visible_section(request, essay_slug, section_slug):
    """The section at these slugs, if the viewer may read its essay; else 404."""
    section = Section.objects.visible_at(request.user, essay_slug, section_slug)
    if section is None:
        raise Http404("No such section.")
    return section


@vary_on_headers("HX-Request")
def section_detail(request, essay_slug, section_slug):
    """One section with previous/next navigation and its discussion."""
    if not caching.is_reader_request(request):
        return render_section(request, visible_section(request, essay_slug, section_slug))
    # A reader without an account: the page's versions live in the cache, so an
    # unchanged page is answered without a single query.
    content = content_version()
    if content is None:  # the cache is unreachable: build the page as for a member
        return render_section(request, visible_section(request, essay_slug, section_slug))
    key = caching.key("section-id", content, essay_slug, section_slug)
    section = None
    if (section_id := caching.fetch(key)) is None:
        section = visible_section(request, essay_slug, section_slug)
        section_id = section.pk
        caching.store(key, section_id)
    caching.remember_section(essay_slug, section_slug, content, section_id)

    def build():
        return render_section(
            request, section or visible_section(request, essay_slug, section_slug)
        )

    return caching.for_readers(request, (content, discussion_version(section_id)), build)


def render_section(request, section, form=None, status=200):
    threads, discussion = section_discussion(
        section,
        request.user,
        sort=request.GET.get("sort", ""),
        after=request.GET.get("after", ""),
        before=request.GET.get("before", ""),
        passage=request.GET.get("passage", ""),
    )
    renderer = CommentRenderer(request, section)
    threads_html = renderer.threads(threads)
    context = {
        "essay": section.essay,
        "section": section,
        "discussion": discussion,
        "sort_labels": SORT_LABELS,
    }
    if request.htmx:  # "load more": the next page of threads only
        page = render_with_threads(
            request, "forum/discussion.html#thread-page", context, threads_html
        )
        return showing_requested_page(request, page, discussion)
    # An essay has tens of sections, not thousands: one query for the outline gives the
    # table of contents and both neighbours.
    outline = Section.objects.outline(section.essay)
    index = [s.pk for s in outline].index(section.pk)
    participation = Participation(request.user, section)
    writer = {"section": section, "user": request.user}
    context |= {
        "section_html": renderer.marked_text(section.body_html, threads),
        "outline": outline,
        "previous": outline[index - 1] if index > 0 else None,
        "next": outline[index + 1] if index + 1 < len(outline) else None,
        "participation": participation,
        "form": form or (None if participation.to_post() else CommentForm(**writer)),
    }
    if form is None and context["form"] is not None:  # a new comment's, as every member's
        context["form_html"] = new_comment_form(request, section)
    if (any_unread := discussion.any_unread) is not None:  # asked with a member's votes
        context["unread_notifications"] = SimpleLazyObject(
            lambda: Notification.objects.on_the_bell(request.user, any_unread=any_unread)
        )
    page = render_with_threads(request, "essays/section.html", context, threads_html, status)
    return showing_requested_page(request, page, discussion)


def showing_requested_page(request, response, discussion):
    """Mark a page whose cursor names no thread (which shows the first page) as not
    canonical, so that readers' cache keeps no copy of it (forum/caching.py)."""
    response.canonical = discussion.page.canonical
    return response


PROFILE_PAGE_SIZE = 20


def profile(request, username):
    """A member's public page: name, bio, when they joined and what they wrote."""
    person = get_object_or_404(User.objects.filter(is_active=True), username=username)
    comments = (
        person.comments.visible_to(request.user)
        .published()
        .select_related("section__essay")
        .order_by("-created_at", "-pk")
    )
    page = Paginator(comments, PROFILE_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "accounts/profile.html", {"person": person, "page": page})


SEARCH_PAGE_SIZE = 20


def search(request):
    """Search comments and the essays' text."""
    raw = request.GET.get("q", "")
    context = {"query": raw[:300], "error": None, "page": None, "essays": [], "sections": []}
    if raw:
        try:
            query = search_module.clean_query(raw)
        except search_module.SearchError as error:
            context["error"] = str(error)
        else:
            results = search_module.search_comments(query, request.user)
            page = Paginator(results, SEARCH_PAGE_SIZE).get_page(request.GET.get("page"))
            search_module.add_snippets(page.object_list, query)
            context |= {
                "searched": True,
                "page": page,
                "capped": search_module.is_capped(page.paginator.count),
                "essays": search_module.search_essays(query, request.user)
                if page.number == 1
                else [],
                "sections": search_module.search_sections(query, request.user)
                if page.number == 1
                else [],
            }
    status = 400 if context["error"] else 200
    return render(request, "forum/search.html", context, status=status)


# --- The discussion as W3C Web Annotations ------------------------------------------------


def _public_annotations(section):
    """What a reader without an account sees of a section's comments, with their text."""
    return _public_annotations_of_all().filter(section=section).order_by("path")


def _current_revision(section):
    return (
        section.revisions.filter(pk=section.current_revision_id)
        .only("number", "created_at")
        .first()
    )


def _json_ld(data: dict) -> HttpResponse:
    return HttpResponse(
        json.dumps(data, ensure_ascii=False, indent=1), content_type=annotations.MEDIA_TYPE
    )


def comment_annotation(request, comment_id):
    """One comment as a W3C Web Annotation (JSON-LD), if anyone may read it."""
    comment = (
        _public_annotations_of_all().filter(pk=comment_id).select_related("section__essay").first()
    )
    if comment is None:
        raise Http404("No such comment, or not public.")
    section = comment.section
    data = annotations.annotation(request, comment, section, _current_revision(section))
    return _json_ld({"@context": annotations.CONTEXT} | data)


def _public_annotations_of_all():
    return (
        Comment.objects.visible_to(AnonymousUser())
        .filter(shows_text=True)
        .select_related("author", "revision")
        .defer("revision__body_markdown", "revision__body_html", "revision__body_text")
    )


def section_annotations(request, essay_slug, section_slug):
    """A section's public discussion as a W3C AnnotationCollection (JSON-LD)."""
    section = get_object_or_404(
        Section.objects.select_related("essay").filter(essay__is_published=True),
        essay__slug=essay_slug,
        slug=section_slug,
    )
    current = _current_revision(section)
    items = [
        annotations.annotation(request, comment, section, current)
        for comment in _public_annotations(section)
    ]
    url = reverse("section_annotations", args=[essay_slug, section_slug])
    return _json_ld(
        {
            "@context": annotations.CONTEXT,
            "id": request.build_absolute_uri(url),
            "type": "AnnotationCollection",
            "label": f"Discussion of “{section.heading}” ({section.essay.title})",
            "total": len(items),
            "first": {"type": "AnnotationPage", "items": items},
        }
    )
