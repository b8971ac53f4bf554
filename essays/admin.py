from django.contrib import admin
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from essays.models import Essay, Section


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
    fields = ["essay", "position", "heading", "slug", "body_markdown", "rendered"]
    readonly_fields = ["rendered"]

    @admin.display(description="rendered HTML")
    def rendered(self, section):
        # body_html was produced by essays.markup, which sanitizes it.
        return format_html('<div class="rendered-section">{}</div>', mark_safe(section.body_html))  # noqa: S308
