"""Staff edit essays and sections in the Django admin; the rendered text follows."""

import pytest
from django.urls import reverse

from essays.models import Section

pytestmark = pytest.mark.django_db


def section_form(section, **changes):
    data = {
        "essay": section.essay_id,
        "position": section.position,
        "heading": section.heading,
        "slug": section.slug,
        "body_markdown": section.body_markdown,
    }
    data.update(changes)
    return data


def test_editing_a_section_in_the_admin_updates_what_readers_see(client, sam, essay):
    section = essay.sections.get(slug="the-deepseek-moment")
    client.force_login(sam)

    response = client.post(
        reverse("admin:essays_section_change", args=[section.pk]),
        section_form(section, body_markdown="A *new* first paragraph.\n\nAnd a second."),
    )

    assert response.status_code == 302
    section.refresh_from_db()
    assert "<em>new</em>" in section.body_html
    page = client.get(section.get_absolute_url()).text
    assert "A <em>new</em> first paragraph." in page
    assert "China’s DeepSeek" not in page


def test_sections_are_reordered_from_the_admin_list(client, sam, essay):
    client.force_login(sam)
    sections = list(essay.sections.in_order())
    data = {
        "form-TOTAL_FORMS": len(sections),
        "form-INITIAL_FORMS": len(sections),
        "_save": "Save",
    }
    # Reverse the order.
    for index, section in enumerate(sections):
        data[f"form-{index}-id"] = section.pk
        data[f"form-{index}-position"] = len(sections) - index

    response = client.post(reverse("admin:essays_section_changelist"), data)

    assert response.status_code == 302
    reordered = list(essay.sections.in_order().values_list("slug", flat=True))
    assert reordered == [s.slug for s in reversed(sections)]
    html = client.get(essay.get_absolute_url()).text
    assert html.index('id="the-question-that-remains-unanswered"') < html.index('id="introduction"')


def test_the_admin_refuses_a_duplicate_section_slug_with_a_message(client, sam, essay):
    section = essay.sections.get(slug="the-deepseek-moment")
    client.force_login(sam)

    response = client.post(
        reverse("admin:essays_section_change", args=[section.pk]),
        section_form(section, slug="introduction"),
    )

    assert response.status_code == 200
    assert "already exists" in response.text
    assert Section.objects.filter(slug="the-deepseek-moment").exists()


def test_the_essay_change_page_shows_its_sections_inline(client, sam, essay):
    client.force_login(sam)

    response = client.get(reverse("admin:essays_essay_change", args=[essay.pk]))

    assert response.status_code == 200
    assert "When the Product Is the Risk" in response.text


def test_readers_cannot_reach_the_admin(client, ann, essay):
    client.force_login(ann)

    response = client.get(reverse("admin:essays_section_changelist"))

    assert response.status_code == 302
    assert "/login/" in response["Location"]
