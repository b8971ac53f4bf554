from dataclasses import dataclass

from django.db import models
from django.db.models import Count, Q
from django.urls import reverse

from essays import versions
from essays.markup import paragraphs, render_essay

QUOTE_CONTEXT = 40  # characters of context kept on each side of a quoted passage


@dataclass(frozen=True)
class Passage:
    """A quoted stretch of a section: the words, a little context, and its paragraph."""

    text: str
    before: str
    after: str
    anchor: str


class EssayQuerySet(models.QuerySet):
    def published(self):
        return self.filter(is_published=True)

    def visible_to(self, user):
        """Readers see published essays; staff also see drafts, to preview them."""
        # Staff powers follow accounts' rule (a second factor where it is required).
        if user.is_authenticated and user.has_staff_powers:
            return self
        return self.published()

    def with_section_counts(self):
        return self.annotate(section_count=Count("sections"))


class Essay(models.Model):
    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=200, unique=True)
    summary = models.TextField(blank=True)
    position = models.PositiveIntegerField(
        default=0, help_text="Essays are listed by this number, lowest first."
    )
    is_published = models.BooleanField(
        "published", default=True, help_text="Unpublished essays are visible to staff only."
    )
    discussion_closed = models.BooleanField(
        default=False, help_text="Readers can still read every comment, but nobody can post."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = EssayQuerySet.as_manager()

    class Meta:
        ordering = ["position", "title"]

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return reverse("essay", args=[self.slug])


class SectionQuerySet(models.QuerySet):
    def in_order(self):
        return self.order_by("position", "pk")


class Section(models.Model):
    essay = models.ForeignKey(Essay, on_delete=models.CASCADE, related_name="sections")
    position = models.PositiveIntegerField(default=0)
    heading = models.CharField(max_length=300)
    slug = models.SlugField(max_length=200)
    body_markdown = models.TextField("text (Markdown)", blank=True)
    # Rendered once when the section is saved, never on a page view.
    body_html = models.TextField(editable=False, blank=True)
    discussion_closed = models.BooleanField(
        default=False, help_text="Readers can still read every comment, but nobody can post."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = SectionQuerySet.as_manager()

    class Meta:
        ordering = ["position", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["essay", "slug"], name="section_slug_unique_in_essay"),
            models.CheckConstraint(condition=~Q(slug=""), name="section_slug_not_empty"),
        ]

    def __str__(self):
        return self.heading

    def save(self, *args, **kwargs):
        self.body_html = render_essay(self.body_markdown, scope=self.slug)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and {"body_markdown", "slug"} & set(update_fields):
            kwargs["update_fields"] = {*update_fields, "body_html"}
        super().save(*args, **kwargs)

    def get_absolute_url(self):
        return reverse("section", args=[self.essay.slug, self.slug])

    DESCRIPTION_LENGTH = 160  # what search engines show of a page's description

    @property
    def description(self) -> str:
        """The page's `<meta name="description">`: the section's opening words, cut at a
        word near 160 characters, or what the section is when it has no text yet."""
        for _, text in paragraphs(self.body_html):
            if len(text) <= self.DESCRIPTION_LENGTH:
                return text
            return text[: self.DESCRIPTION_LENGTH - 1].rsplit(" ", 1)[0].rstrip(",;:") + "…"
        return f"“{self.heading}”, a section of {self.essay.title}, and its discussion."

    def find_passage(self, quote: str, anchor: str = "") -> Passage | None:
        """Where `quote` occurs in this section (whitespace-insensitive), preferring the
        paragraph `anchor` names; None if the section does not contain those words."""
        wanted = " ".join(quote.split())
        if not wanted:
            return None
        found = paragraphs(self.body_html)
        found.sort(key=lambda item: item[0] != anchor)  # the hinted paragraph first
        for paragraph_anchor, text in found:
            start = text.find(wanted)
            if start >= 0:
                end = start + len(wanted)
                return Passage(
                    text=wanted,
                    before=text[max(0, start - QUOTE_CONTEXT) : start],
                    after=text[end : end + QUOTE_CONTEXT],
                    anchor=paragraph_anchor,
                )
        return None

    @property
    def is_open_for_discussion(self) -> bool:
        return not (self.discussion_closed or self.essay.discussion_closed)


# --- Knowing, without a query, whether any essay text changed ----------------------------

CONTENT_VERSION_KEY = "essays:content-version"


def content_version() -> int | None:
    """A value that changes whenever any essay or section is saved or deleted, so pages
    built from them can be cached and revalidated without asking the database (None
    while the cache is unreachable: then nothing is cached)."""
    return versions.current(CONTENT_VERSION_KEY)


def content_changed(sender=None, **kwargs) -> None:
    """Pages built from essays are stale once this change is committed. Saving or
    deleting an essay or a section (or any proxy of them, as other apps define) calls
    this by itself: see EssaysConfig.ready()."""
    versions.bump(CONTENT_VERSION_KEY)
