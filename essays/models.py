from dataclasses import dataclass

from django.conf import settings
from django.db import connection, models, transaction
from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone

from config.prepared import Prepared
from essays import versions
from essays.markup import paragraphs, plain_text, render_essay
from essays.signals import section_revised

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
        if self.rule_for(user) == "staff":
            return self
        return self.published()

    @staticmethod
    def rule_for(user) -> str:
        """Which of visible_to()'s rules is `user`'s: "staff" (drafts too; staff powers
        follow accounts' rule, a second factor where it is required), else "member" or
        "reader" (published essays). The queries made once per process for a kind of
        viewer (config/prepared.py, Section.objects.visible_at) ask this."""
        if not user.is_authenticated:
            return "reader"
        return "staff" if user.has_staff_powers else "member"

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

    def visible_at(self, user, essay_slug: str, section_slug: str) -> "Section | None":
        """The section at these slugs, with its essay, if `user` may read that essay
        (Essay.objects.visible_to). Asked by every view of a section: on PostgreSQL its
        SQL is made once per process (config/prepared.py), which spares 0.7 ms of the
        ORM's each time."""
        rows = SECTION_AT.rows((), user, essay_slug, section_slug)
        if not rows:
            return None
        values = rows[0]
        section = Section.from_db(
            SECTION_AT.alias(), SECTION_COLUMNS, values[: len(SECTION_COLUMNS)]
        )
        section.essay = Essay.from_db(
            SECTION_AT.alias(), ESSAY_COLUMNS, values[len(SECTION_COLUMNS) :]
        )
        return section

    def outline(self, essay: "Essay") -> list["Section"]:
        """An essay's sections in order, with what a table of contents shows of them
        (heading, slug, the essay): its SQL made once per process, as visible_at's."""
        alias = OUTLINE.alias()
        sections = []
        for values in OUTLINE.rows((), None, essay.pk):
            section = Section.from_db(alias, OUTLINE_COLUMNS, values)
            section.essay = essay
            sections.append(section)
        return sections


class Source(models.TextChoices):
    """Where a change to the text came from."""

    ADMIN = "admin", "edited in the admin"
    IMPORT = "import", "imported from the Markdown file"
    INITIAL = "initial", "the text as it was when revisions began"


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
    # The revision body_markdown and body_html come from: set by save(), never by hand.
    current_revision = models.ForeignKey(
        "SectionRevision",
        null=True,
        blank=True,
        editable=False,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = SectionQuerySet.as_manager()

    # Who and what the next save()'s revision is attributed to; revise() sets them.
    revision_author = None
    revision_source = Source.ADMIN

    class Meta:
        ordering = ["position", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["essay", "slug"], name="section_slug_unique_in_essay"),
            models.CheckConstraint(condition=~Q(slug=""), name="section_slug_not_empty"),
        ]

    def __str__(self):
        return self.heading

    def save(self, *args, **kwargs):
        """Render the text once, and record a SectionRevision whenever it changed.

        This is the one place where revisions are made: the admin, its inlines and the
        importer all save sections through here, with revision_author/revision_source
        set (see revise()). The signal essays.signals.section_revised goes out in the
        same transaction, so that whatever depends on the text follows it atomically.
        """
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and not {"body_markdown", "slug"} & set(update_fields):
            super().save(*args, **kwargs)  # no change to the text (a switch, a position)
            return
        if update_fields is not None:
            kwargs["update_fields"] = {*update_fields, "body_html", "current_revision"}
        with transaction.atomic():
            previous = self._latest_revision()
            self.body_html = render_essay(
                self.body_markdown,
                scope=self.slug,
                previous_html=previous.body_html if previous else None,
            )
            super().save(*args, **kwargs)
            if previous is None or not Section.same_text(
                previous.body_markdown, self.body_markdown
            ):
                self._record_revision(previous)

    def get_absolute_url(self):
        return reverse("section", args=[self.essay.slug, self.slug])

    def get_history_url(self):
        return reverse("section_history", args=[self.essay.slug, self.slug])

    @staticmethod
    def same_text(markdown: str, other: str) -> bool:
        """Whether two versions of Markdown are the same text, as far as a revision goes:
        a form's textarea sends CRLF line ends and drops the final newline, which changes
        nothing readers see."""
        return markdown.replace("\r\n", "\n").strip() == other.replace("\r\n", "\n").strip()

    def revise(self, markdown: str, *, by=None, source=Source.ADMIN, **changes) -> bool:
        """Give the section new text (and any other `changes`, say a heading) and save it:
        a new revision is recorded if, and only if, the text changed. Returns whether it did."""
        self.body_markdown = markdown
        for name, value in changes.items():
            setattr(self, name, value)
        self.revision_author, self.revision_source = by, source
        before = self.current_revision_id
        self.save()
        return self.current_revision_id != before

    def hold_text_steady(self) -> None:
        """For a transaction that writes against this section's text (a comment and its
        quote): share-lock the row and re-read which revision is current. A revision
        being saved (it holds FOR NO KEY UPDATE, see _latest_revision) finishes first,
        and one that starts later waits for this transaction, so it sees, and re-anchors,
        what was written against the text before it. Writers of comments share the lock
        and do not wait for each other. SQLite lets one writer in at a time anyway."""
        if connection.vendor == "postgresql":
            table = connection.ops.quote_name(Section._meta.db_table)
            with connection.cursor() as cursor:
                # The table's name is the model's own, not input. (Django has no FOR SHARE.)
                sql = f"SELECT current_revision_id FROM {table} WHERE id = %s FOR SHARE"  # noqa: S608
                cursor.execute(sql, [self.pk])
                row = cursor.fetchone()
            if row and row[0] != self.current_revision_id:
                self.current_revision_id = row[0]

    def _latest_revision(self) -> "SectionRevision | None":
        if self.pk is None:
            return None
        # Lock the section: two editors saving at once get numbers one after the other.
        # FOR NO KEY UPDATE, so that comments (which reference the row) are still posted.
        Section.objects.select_for_update(no_key=True, of=("self",)).filter(pk=self.pk).exists()
        return self.revisions.order_by("-number").first()

    def _record_revision(self, previous: "SectionRevision | None") -> None:
        revision = SectionRevision.objects.create(
            section=self,
            number=previous.number + 1 if previous else 1,
            author=self.revision_author,
            source=self.revision_source,
            body_markdown=self.body_markdown,
            body_html=self.body_html,
            body_text=plain_text(self.body_html),
            summary=SectionRevision.describe(previous, self.body_html),
        )
        self.current_revision = revision
        super().save(update_fields=["current_revision"])
        self.revision_author, self.revision_source = None, Source.ADMIN
        section_revised.send(sender=Section, section=self, previous=previous, revision=revision)

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


class SectionRevision(models.Model):
    """One version of a section's text, kept for good: never changed once written."""

    section = models.ForeignKey(Section, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField(help_text="1, 2, 3... within its section.")
    created_at = models.DateTimeField(default=timezone.now)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.ADMIN)
    body_markdown = models.TextField("text (Markdown)")
    body_html = models.TextField()
    # The plain text readers see (essays.markup.plain_text): what text positions count in.
    body_text = models.TextField()
    summary = models.CharField(max_length=300, help_text="One line: what changed.")

    class Meta:
        ordering = ["section", "number"]
        get_latest_by = "number"
        constraints = [
            models.UniqueConstraint(fields=["section", "number"], name="revision_number_unique"),
        ]

    def __str__(self):
        return f"{self.section} (revision {self.number})"

    @staticmethod
    def describe(previous: "SectionRevision | None", body_html: str) -> str:
        """A one-line summary of a change, counted in paragraphs."""
        if previous is None:
            return "First version."
        before = {text for _, text in paragraphs(previous.body_html)}
        after = {text for _, text in paragraphs(body_html)}
        parts = []
        if gone := len(before - after):
            parts.append(f"{gone} paragraph{'s' if gone != 1 else ''} changed or removed")
        if new := len(after - before):
            parts.append(f"{new} paragraph{'s' if new != 1 else ''} new or reworded")
        return ("; ".join(parts) or "Formatting changed") + "."


class EssayChange(models.Model):
    """A change to an essay as a whole: its title, the order of its sections, a section
    added, renamed or removed. Changes to a section's text are SectionRevisions."""

    essay = models.ForeignKey(Essay, on_delete=models.CASCADE, related_name="changes")
    created_at = models.DateTimeField(default=timezone.now)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.ADMIN)
    summary = models.CharField(max_length=300)

    class Meta:
        ordering = ["essay", "-created_at", "-pk"]

    def __str__(self):
        return f"{self.essay}: {self.summary}"

    @classmethod
    def record(cls, essay, summary: str, *, by=None, source=Source.ADMIN) -> "EssayChange":
        return cls.objects.create(essay=essay, summary=summary, author=by, source=source)


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


SECTION_COLUMNS = [field.attname for field in Section._meta.concrete_fields]
ESSAY_COLUMNS = [field.attname for field in Essay._meta.concrete_fields]
OUTLINE_COLUMNS = ["id", "essay_id", "heading", "slug"]


def _section_at(shape, viewer, essay_slug: str, section_slug: str):
    return Section.objects.filter(
        essay__in=Essay.objects.visible_to(viewer), essay__slug=essay_slug, slug=section_slug
    ).values_list(*SECTION_COLUMNS, *(f"essay__{column}" for column in ESSAY_COLUMNS))


def _outline(shape, viewer, essay_id: int):
    return Section.objects.filter(essay=essay_id).in_order().values_list(*OUTLINE_COLUMNS)


SECTION_AT = Prepared(Section, _section_at, rule=EssayQuerySet.rule_for)
# The same for every viewer (asked as a reader).
OUTLINE = Prepared(Section, _outline, rule=lambda viewer: "reader")
