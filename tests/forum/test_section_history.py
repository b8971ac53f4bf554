"""Readers see a section's history: every revision, who made it and when, what each
changed (a word-level diff, readable without colour or JavaScript), the comments it
addressed, and old revisions at stable addresses; paragraph links outlive paragraphs."""

import pytest
from django.urls import reverse

from essays.markup import paragraphs
from essays.models import EssayChange, Source

pytestmark = pytest.mark.django_db

OPENING = "China’s DeepSeek"


@pytest.fixture
def revised(section, sam):
    """The section, edited once by sam in the admin: its first paragraph reworded."""
    section.revise(
        section.body_markdown.replace(OPENING, "The Chinese lab DeepSeek", 1),
        by=sam,
        source=Source.ADMIN,
    )
    return section


def url(name, section, *args):
    return reverse(name, args=[section.essay.slug, section.slug, *args])


def test_the_section_page_links_to_its_history(client, section):
    page = client.get(section.get_absolute_url()).text

    assert f'href="{section.get_history_url()}"' in page


def test_the_history_lists_each_revision_with_who_when_and_what(client, revised, sam):
    page = client.get(revised.get_history_url()).text

    assert "Revision 2" in page
    assert "Revision 1" in page
    assert "sam" in page  # who made revision 2
    assert "import" in page  # revision 1 came from the Markdown file
    assert revised.current_revision.summary in page
    assert f'href="{url("section_diff", revised, 1, 2)}"' in page


def test_the_diff_marks_removed_and_added_words_in_text(client, revised):
    response = client.get(url("section_diff", revised, 1, 2))

    assert response.status_code == 200
    assert '<del><span class="diff__label">[removed:</span> China’s' in response.text
    assert '<ins><span class="diff__label">[added:</span> The Chinese lab' in response.text


def test_an_old_revision_is_readable_at_its_own_address(client, revised):
    old = client.get(url("section_revision", revised, 1)).text
    current = client.get(url("section_revision", revised, 2)).text

    assert OPENING in old
    assert "an earlier version of this section" in old
    assert "The Chinese lab DeepSeek" in current
    assert "an earlier version" not in current


def test_the_compare_form_leads_to_the_diffs_address(client, revised):
    response = client.get(url("section_choose_diff", revised), {"from": "1", "to": "2"})

    assert response.status_code == 302
    assert response.url == url("section_diff", revised, 1, 2)


@pytest.mark.parametrize(
    "query", [{}, {"from": "1"}, {"from": "one", "to": "2"}, {"from": "-1", "to": "2"}]
)
def test_a_malformed_comparison_is_a_clear_400(client, revised, query):
    response = client.get(url("section_choose_diff", revised), query)

    assert response.status_code == 400
    assert "Choose two revisions to compare" in response.text


@pytest.mark.parametrize(
    "path",
    [
        "revisions/3/",
        "revisions/0/",
        "revisions/999999999999999999/",
        "revisions/x/",
        "diff/1..3/",
        "diff/0..1/",
        "diff/1..999999999999999999/",
        "diff/1-2/",
        "p/p-zzzzzzzz/",
        "p/p-00000000/",
    ],
)
def test_revisions_and_paragraphs_that_do_not_exist_are_404(client, revised, path):
    response = client.get(revised.get_absolute_url() + path)

    assert response.status_code == 404


def test_an_unpublished_essays_history_is_hidden_from_readers(client, revised, ann, mo):
    revised.essay.is_published = False
    revised.essay.save()
    pages = [
        revised.get_history_url(),
        url("section_revision", revised, 1),
        url("section_diff", revised, 1, 2),
        url("section_choose_diff", revised) + "?from=1&to=2",
        url("paragraph", revised, paragraphs(revised.body_html)[0][0]),
    ]

    assert [client.get(page).status_code for page in pages] == [404] * 5
    client.force_login(ann)
    assert [client.get(page).status_code for page in pages] == [404] * 5
    client.force_login(mo)  # staff preview drafts
    assert [client.get(page).status_code for page in pages] == [200, 200, 200, 302, 302]


def test_a_paragraph_link_leads_to_the_paragraph_in_the_current_text(client, revised):
    edited_anchor = paragraphs(revised.body_html)[0][0]

    response = client.get(url("paragraph", revised, edited_anchor))

    assert response.status_code == 302
    assert response.url == f"{revised.get_absolute_url()}#{edited_anchor}"


def test_a_deleted_paragraphs_link_lands_on_the_last_revision_that_had_it(client, revised, sam):
    last_anchor, last_text = paragraphs(revised.body_html)[-1]
    revised.revise(revised.body_markdown.replace(last_text, ""), by=sam)
    assert f'id="{last_anchor}"' not in revised.body_html

    response = client.get(url("paragraph", revised, last_anchor), follow=True)

    assert response.redirect_chain[-1][0] == (
        f"{url('section_revision', revised, 2)}?gone={last_anchor}#{last_anchor}"
    )
    assert "is no longer in the current text" in response.text
    assert f'id="{last_anchor}"' in response.text


def test_the_history_lists_the_comments_each_revision_addressed(
    client, section, post, ann, ben, mo, editor
):
    comment = post(ann, "The opening overstates it.")
    other = post(ben, "Also here.")
    section.revise(section.body_markdown.replace(OPENING, "DeepSeek", 1), by=editor)
    comment.mark_addressed(editor, 2)
    other.mark_addressed(editor, 2, "Toned down.")
    other.moderate(mo, "remove", "off topic")

    page = client.get(section.get_history_url()).text

    assert "Addresses 1 comment:" in page
    assert "The opening overstates it." in page
    assert "Also here." not in page  # removed since: not for readers


def test_the_history_costs_three_queries(
    client, section, post, ann, editor, django_assert_num_queries
):
    comments = [post(ann, f"Comment {n}") for n in range(5)]
    section.revise(section.body_markdown.replace(OPENING, "DeepSeek", 1), by=editor)
    for comment in comments:
        comment.mark_addressed(editor, 2)

    # The section and essay; its revisions with their authors; the addressed comments
    # the reader may see, with authors.
    with django_assert_num_queries(3):
        response = client.get(section.get_history_url())

    assert "Addresses 5 comments:" in response.text


def test_an_old_revision_and_a_diff_cost_two_queries_each(
    client, revised, django_assert_num_queries
):
    # The section and essay; the revision (the two revisions).
    with django_assert_num_queries(2):
        client.get(url("section_revision", revised, 1))
    with django_assert_num_queries(2):
        client.get(url("section_diff", revised, 1, 2))


def test_the_essays_history_lists_its_own_changes_and_each_sections_history(
    client, essay, sam, django_assert_num_queries
):
    essay_page = client.get(essay.get_absolute_url()).text
    history = reverse("essay_history", args=[essay.slug])
    assert f'href="{history}"' in essay_page
    EssayChange.record(essay, "Title changed to 'Open Source, Open Weights'.", by=sam)

    # The essay; its changes with their authors; its sections.
    with django_assert_num_queries(3):
        page = client.get(history).text

    assert "Title changed to &#x27;Open Source, Open Weights&#x27;." in page
    assert "sam" in page
    for section in essay.sections.all():
        assert f'href="{section.get_history_url()}"' in page


def test_an_unpublished_essays_own_history_is_hidden_from_readers(client, essay, ann):
    essay.is_published = False
    essay.save()
    client.force_login(ann)

    assert client.get(reverse("essay_history", args=[essay.slug])).status_code == 404
