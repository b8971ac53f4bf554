"""Readers read the essay without an account: home, essay and section pages."""

import re

import pytest
from django.core.cache import caches
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from essays.models import Essay, Section

pytestmark = pytest.mark.django_db


def essay_url(essay):
    return reverse("essay", args=[essay.slug])


def section_url(essay, slug):
    return reverse("section", args=[essay.slug, slug])


def test_home_lists_each_essay_with_title_summary_and_section_count(client, essay):
    response = client.get("/")

    assert response.status_code == 200
    html = response.text
    assert "Open Source Meets Open Weights" in html
    assert "Do the principles of open-source software still apply cleanly" in html
    assert "5 sections" in html
    assert f'href="{essay_url(essay)}"' in html


def test_home_without_essays_says_how_to_import_one(client, db):
    response = client.get("/")

    assert response.status_code == 200
    assert "No essays yet" in response.text
    assert "import_essay" in response.text


def test_essay_page_has_title_summary_contents_and_every_section_in_order(client, essay):
    response = client.get(essay_url(essay))

    assert response.status_code == 200
    html = response.text
    assert '<h1 class="essay__title">Open Source Meets Open Weights</h1>' in html
    contents = re.search(r'<nav class="toc".*?</nav>', html, re.S).group(0)
    headings = re.findall(r'class="toc__link" href="#([^"]+)"', contents)
    assert headings == list(essay.sections.in_order().values_list("slug", flat=True))
    positions = [html.index(f'<section class="essay-section" id="{slug}"') for slug in headings]
    assert positions == sorted(positions)
    assert "China’s DeepSeek released its R1 model series" in html


def test_essay_page_links_to_sections_paragraphs_and_each_sections_discussion(client, essay):
    html = client.get(essay_url(essay)).text

    deepseek = essay.sections.get(slug="the-deepseek-moment")
    first_paragraph = re.search(r'<p id="(p-[0-9a-f]{8})"', deepseek.body_html).group(1)
    assert f'<p id="{first_paragraph}">' in html
    assert f'href="#{first_paragraph}"' in html  # the paragraph's permalink
    assert 'href="#the-deepseek-moment"' in html  # the section's permalink
    assert f'href="{section_url(essay, "the-deepseek-moment")}#discussion"' in html


def test_section_page_shows_text_neighbours_and_the_place_for_discussion(client, essay):
    response = client.get(section_url(essay, "the-deepseek-moment"))

    assert response.status_code == 200
    html = response.text
    assert (
        '<h1 class="essay-section__heading" id="section-heading">The DeepSeek Moment</h1>' in html
    )
    assert "China’s DeepSeek released its R1 model series" in html
    assert f'href="{section_url(essay, "when-the-product-is-the-risk")}" rel="prev"' in html
    assert f'href="{section_url(essay, "what-open-actually-enables")}" rel="next"' in html
    assert 'id="discussion"' in html


def test_first_section_has_no_previous_and_last_has_no_next(client, essay):
    first = client.get(section_url(essay, "introduction")).text
    last = client.get(section_url(essay, "the-question-that-remains-unanswered")).text

    assert 'rel="prev"' not in first
    assert 'rel="next"' in first
    assert 'rel="next"' not in last
    assert 'rel="prev"' in last


@pytest.mark.parametrize(
    "path",
    [
        "/essays/no-such-essay/",
        "/essays/open-source-meets-open-weights/no-such-section/",
        "/essays/no-such-essay/introduction/",
        "/essays/%00/",
        "/essays/open-source-meets-open-weights/" + "a" * 5000 + "/",
    ],
)
def test_unknown_or_malformed_addresses_get_the_friendly_404(client, essay, path):
    response = client.get(path)

    assert response.status_code == 404
    assert "This page is not here" in response.text
    assert "Back to the essays" in response.text


def test_a_section_is_only_found_under_its_own_essay(client, essay):
    other = Essay.objects.create(title="Other", slug="other")
    Section.objects.create(essay=other, heading="Elsewhere", slug="elsewhere", body_markdown="x")

    assert client.get(section_url(essay, "elsewhere")).status_code == 404
    assert client.get(section_url(other, "elsewhere")).status_code == 200


def test_unpublished_essays_are_hidden_from_readers_and_shown_to_staff(client, essay, ann, sam):
    essay.is_published = False
    essay.save()

    assert client.get(essay_url(essay)).status_code == 404
    assert client.get(section_url(essay, "introduction")).status_code == 404
    assert "Open Source Meets Open Weights" not in client.get("/").text
    client.force_login(ann)
    assert client.get(section_url(essay, "introduction")).status_code == 404

    client.force_login(sam)
    response = client.get(essay_url(essay))
    assert response.status_code == 200
    assert "Draft, visible to staff only" in response.text
    section = client.get(section_url(essay, "introduction"))
    assert section.status_code == 200
    assert 'aria-current="page">Introduction</a>' in section.text  # its outline


def test_pages_cost_a_fixed_number_of_queries(client, essay, django_assert_num_queries):
    # Add sections so an N+1 (a query per section) would show.
    for n in range(10):
        Section.objects.create(
            essay=essay, heading=f"Extra {n}", slug=f"extra-{n}", position=10 + n
        )

    # Home: essays with their section counts; their sections (prefetch).
    with django_assert_num_queries(2):
        client.get("/")
    # Essay: the essay; its sections; comment counts per section.
    with django_assert_num_queries(3):
        client.get(essay_url(essay))
    # Section: the section with its essay; the count of comments (none yet); the
    # essay's outline. (Pages with comments are pinned in test_discussion_queries.)
    with django_assert_num_queries(3):
        client.get(section_url(essay, "extra-4"))


def test_server_error_page_is_the_sites_own(client, essay, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("simulated failure")

    monkeypatch.setattr("forum.views.render", broken)
    client.raise_request_exception = False

    response = client.get(essay_url(essay))

    assert response.status_code == 500
    assert "Something went wrong on our side" in response.text


def test_crawlers_get_a_robots_txt_that_leaves_the_discussion_open(client, db):
    response = client.get("/robots.txt")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert "Disallow: /search/" in response.text
    assert "Disallow: /essays/" not in response.text
    assert "admin" not in response.text  # the admin's path stays unnamed


def test_the_essay_pages_comment_counts_read_no_column_of_the_comments(client, essay, ann, post):
    """A changed section's count is COUNT(*) over the partial index
    `comment_published_in_section`, which PostgreSQL answers from the index alone.
    COUNT(id) (Django's Count("pk")) made it read every row for the id: 857 ms for
    a million comments in `make bench-huge`, against 125 ms. (A test's few rows get
    another plan whatever the query, so the query itself is what is pinned.)"""
    for n in range(3):
        post(ann, f"Comment {n}.")
    caches["pages"].clear()  # every count made anew

    with CaptureQueriesContext(connection) as queries:
        response = client.get(essay_url(essay))

    (count,) = [q["sql"] for q in queries if "COUNT(" in q["sql"]]
    assert "COUNT(*)" in count, count
    assert "3 comments" in response.text
