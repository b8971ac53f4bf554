"""Search, from every page: comments and essay text, visible ones only, with snippets."""

import pytest
from django.db import connection

from forum.models import Comment

pytestmark = pytest.mark.django_db


def search(client, q, **params):
    return client.get("/search/", {"q": q, **params})


def test_every_page_has_the_search_box(client, essay, section):
    for url in ("/", essay.get_absolute_url(), section.get_absolute_url()):
        assert 'role="search" method="get" action="/search/"' in client.get(url).text


def test_it_finds_comments_and_links_to_their_permalinks(client, section, ann, post):
    found = post(ann, "Open weights change the calculus of release.")
    post(ann, "Nothing to see here.")

    response = search(client, "calculus")

    assert response.status_code == 200
    assert f'href="/comments/{found.pk}/"' in response.text
    assert "<mark>calculus</mark>" in response.text
    assert "Nothing to see here" not in response.text


def test_it_finds_passages_of_the_essay_too(client, section):
    response = search(client, "DeepSeek")

    assert "In the essays" in response.text
    assert f'href="{section.get_absolute_url()}"' in response.text


def test_hidden_comments_never_appear(client, section, ann, post):
    for status in ("pending", "removed", "spam"):
        hidden = post(ann, f"Secretword hidden as {status}")
        Comment.objects.filter(pk=hidden.pk).update(status=status)

    response = search(client, "secretword")

    assert "Secretword" not in response.text
    assert "No comments match" in response.text


def test_every_word_must_match(client, section, ann, post):
    both = post(ann, "Licenses and scrutiny together")
    post(ann, "Only licenses")

    html = search(client, "licenses scrutiny").text

    assert f'href="/comments/{both.pk}/"' in html
    assert "Only licenses" not in html


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("   ", "Type a word or two to search for."),
        ("\x00\x01", "Type a word or two to search for."),
        ("x" * 500, "Please shorten your search to 200 characters."),
        ("!!! ??? ...", "Search for words: punctuation alone matches nothing."),
    ],
)
def test_odd_queries_get_a_clear_message(client, db, query, message):
    response = search(client, query)

    assert response.status_code == 400
    assert message in response.text


@pytest.mark.parametrize(
    "query", ['"unclosed phrase', "-word", "a AND OR NOT", "<script>", "%_\\'"]
)
def test_strange_but_searchable_queries_never_fail(client, section, ann, post, query):
    post(ann, "Something with <script> in it")

    response = search(client, query)

    assert response.status_code == 200
    assert "<script>" not in response.text.split("</header>", 1)[1]


def test_results_are_paginated(client, section, ann, post):
    for n in range(25):
        post(ann, f"Paginated result number {n}")

    first = search(client, "paginated").text
    second = search(client, "paginated", page=2).text

    assert "25 comments" in first
    assert first.count('class="search-hit"') >= 20
    assert "Page 2 of 2" in second


@pytest.mark.skipif(connection.vendor != "postgresql", reason="ranking is PostgreSQL's")
def test_on_postgresql_better_matches_rank_first_and_words_are_stemmed(client, section, ann, post):
    weak = post(ann, "A long comment that mentions licensing only once among many other words.")
    strong = post(ann, "Licensing, licenses, licensed: licensing is everything here.")

    html = search(client, "license").text

    assert html.index(f'href="/comments/{strong.pk}/"') < html.index(f'href="/comments/{weak.pk}/"')


@pytest.mark.skipif(connection.vendor != "postgresql", reason="bounded ranking is PostgreSQL's")
def test_a_very_common_word_is_ranked_among_the_newest_matches_and_says_so(
    client, section, ann, post, monkeypatch
):
    from forum import search as search_module

    monkeypatch.setattr(search_module, "CANDIDATES", 3)
    oldest = post(ann, "Openness openness openness, the oldest and most relevant.")
    newer = [post(ann, f"Openness, mentioned once in comment {n}.") for n in range(4)]

    html = search(client, "openness").text

    assert "(3+ comments)" in html
    assert "these are the best of the newest 3" in html
    assert f'href="/comments/{oldest.pk}/"' not in html
    assert f'href="/comments/{newer[0].pk}/"' not in html
    assert all(f'href="/comments/{c.pk}/"' in html for c in newer[1:])


def test_the_words_of_the_essays_title_find_the_essay(client, essay, section):
    html = search(client, "open weights").text

    assert f'href="{essay.get_absolute_url()}"' in html
    assert "<mark>" in html


def test_a_section_is_found_by_its_heading_first(client, essay, section):
    html = search(client, "DeepSeek moment").text

    hits = html.split('id="in-essays"')[1].split('id="in-comments"')[0]
    first_link = hits.split('class="search-hit__where"><a href="')[1].split('"')[0]
    assert first_link == section.get_absolute_url()


def test_a_word_finds_its_simple_forms(client, section, ann, post):
    singular = post(ann, "One weight of evidence.")
    plural = post(ann, "Many weights were released.")

    html = search(client, "weights").text

    assert f'href="/comments/{singular.pk}/"' in html
    assert f'href="/comments/{plural.pk}/"' in html


def test_snippets_show_the_text_not_the_markdown(client, section, ann, post):
    post(ann, "A **bold** claim about [calculus](https://example.org/c) and `code`.")

    html = search(client, "calculus").text

    snippet = html.split('id="in-comments"')[1]
    assert "**bold**" not in snippet
    assert "](https://example.org" not in snippet
    assert "A bold claim about <mark>calculus</mark> and code." in snippet


def test_essay_passages_are_snippets_of_text_too(client, section):
    html = search(client, "DeepSeek").text

    hits = html.split('id="in-essays"')[1].split('id="in-comments"')[0]
    assert "pilcrow" not in hits
    assert "¶" not in hits
    assert "##" not in hits
