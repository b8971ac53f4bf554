"""Pages as the HTML standard and search engines read them: no block content in a
paragraph, a description on every section page, search landmarks told apart."""

import pytest
from django.urls import reverse

from tests.html import elements

pytestmark = pytest.mark.django_db


def test_the_sign_up_page_keeps_the_password_rules_out_of_paragraphs(client):
    found = elements(client.get(reverse("account_signup")).text)

    lists = [ancestors for tag, _, ancestors in found if tag == "ul"]
    assert lists  # the password rules are there
    assert all("p" not in ancestors and "span" not in ancestors for ancestors in lists)
    ids = {attrs["id"] for _, attrs, _ in found if "id" in attrs}
    described = {attrs["aria-describedby"] for _, attrs, _ in found if "aria-describedby" in attrs}
    assert described
    assert described <= ids


def test_a_section_page_describes_itself_with_its_opening_words(client, section):
    found = elements(client.get(section.get_absolute_url()).text)

    metas = [attrs for tag, attrs, _ in found if tag == "meta"]
    descriptions = [attrs["content"] for attrs in metas if attrs.get("name") == "description"]
    assert descriptions == [section.description]
    assert 50 < len(section.description) <= 160
    assert "¶" not in section.description
    first_words = section.description.rstrip("…").split()[:5]
    assert " ".join(first_words) in section.body_html


def test_a_section_without_text_is_described_by_what_it_is(section):
    section.body_markdown = ""
    section.save()

    assert section.description == (
        f"“{section.heading}”, a section of {section.essay.title}, and its discussion."
    )


def test_the_search_page_names_each_search_landmark(client, essay):
    found = elements(client.get(reverse("search") + "?q=open").text)
    ids = {attrs["id"]: n for n, (_, attrs, _) in enumerate(found) if "id" in attrs}

    names = []
    for tag, attrs, _ in found:
        if tag == "search" or attrs.get("role") == "search":
            name = attrs.get("aria-label") or attrs.get("aria-labelledby")
            assert name, attrs
            names.append(name)
            if "aria-labelledby" in attrs:
                assert attrs["aria-labelledby"] in ids
    assert len(names) == 2
    assert len(set(names)) == 2
