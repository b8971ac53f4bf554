from django.contrib import admin
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from essays.models import Essay, EssayChange, Section, SectionRevision, Source


class SectionInline(admin.StackedInline):
    model = Section
    extra = 0
    fields = ["position", "heading", "slug", "body_markdown"]
    prepopulated_fields = {"slug": ["heading"]}
    ordering = ["position", "pk"]
    show_change_link = True


@admin.register(Essay)
class EssayAdmin(admin.ModelAdmin):
    list_display = ["title", "slug", "position", "is_published", "section_count", "updated_at"]
    list_editable = ["position", "is_published"]
    list_filter = ["is_published"]
    search_fields = ["title", "summary"]
    prepopulated_fields = {"slug": ["title"]}
    inlines = [SectionInline]

    def get_queryset(self, request):
        return super().get_queryset(request).with_section_counts()

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change and "title" in form.changed_data:
            EssayChange.record(obj, f"Title changed to {obj.title!r}.", by=request.user)

    def save_formset(self, request, form, formset, change):
        # Each section's text is saved through Section.save(), which records a revision
        # attributed to this editor; the essay's own record says what was added or removed.
        for section_form in formset.forms:
            section_form.instance.revision_author = request.user
        super().save_formset(request, form, formset, change)
        essay, by = form.instance, request.user
        for section in formset.new_objects:
            EssayChange.record(essay, f"Section {section.heading!r} added.", by=by)
        for section in formset.deleted_objects:
            EssayChange.record(essay, f"Section {section.heading!r} removed.", by=by)
        if any("position" in changed for _, changed in formset.changed_objects):
            EssayChange.record(essay, "Sections reordered.", by=by)

    @admin.display(description="sections", ordering="section_count")
    def section_count(self, essay):
        return essay.section_count


@admin.register(Section)
class SectionAdmin(admin.ModelAdmin):
    list_display = ["heading", "essay", "position", "updated_at"]
    list_editable = ["position"]
    list_filter = ["essay"]
    list_select_related = ["essay"]
    search_fields = ["heading", "body_markdown"]
    ordering = ["essay", "position"]
    prepopulated_fields = {"slug": ["heading"]}
    fields = ["essay", "position", "heading", "slug", "body_markdown", "rendered", "history"]
    readonly_fields = ["rendered", "history"]

    def save_model(self, request, obj, form, change):
        obj.revision_author, obj.revision_source = request.user, Source.ADMIN
        super().save_model(request, obj, form, change)
        if change and "heading" in form.changed_data:
            EssayChange.record(
                obj.essay,
                f"Section {form.initial['heading']!r} renamed to {obj.heading!r}.",
                by=request.user,
            )

    @admin.display(description="history")
    def history(self, section):
        if not section.pk:
            return "—"
        return format_html(
            '<a href="{}">Revisions of this section, as readers see them</a>',
            section.get_history_url(),
        )

    @admin.display(description="rendered HTML")
    def rendered(self, section):
        # body_html was produced by essays.markup, which sanitizes it.
        return format_html('<div class="rendered-section">{}</div>', mark_safe(section.body_html))  # noqa: S308


@admin.register(SectionRevision)
class SectionRevisionAdmin(admin.ModelAdmin):
    """Revisions are written by Section.save() and never changed: read-only here."""

    list_display = ["section", "number", "source", "author", "created_at", "summary"]
    list_filter = ["source", "section__essay"]
    list_select_related = ["section__essay", "author"]
    fields = ["section", "number", "source", "author", "created_at", "summary", "body_markdown"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(EssayChange)
class EssayChangeAdmin(admin.ModelAdmin):
    list_display = ["essay", "summary", "source", "author", "created_at"]
    list_filter = ["source", "essay"]
    list_select_related = ["essay", "author"]
    fields = ["essay", "summary", "source", "author", "created_at"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
