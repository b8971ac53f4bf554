"""Quotes follow the essay through its edits: each quoting comment is re-anchored when its
section gets a new revision, once, in the same transaction, and readers see where its
passage stands now (forum/anchoring.py does the matching; test_anchoring.py covers it)."""

import re
import uuid
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from forum.models import AnchorState, Comment
from tests.conftest import keep_fragments

pytestmark = pytest.mark.django_db

QUOTE = "competitive performance at a fraction of the compute cost"


def respond(client, section, quote=QUOTE, body="This part."):
    url = reverse("post_comment", args=[section.essay.slug, section.slug])
    client.post(url, {"body": body, "quote": quote, "token": uuid.uuid4()})
    return Comment.objects.latest("pk")


def revise(section, old, new):
    section.refresh_from_db()
    assert old in section.body_markdown
    assert section.revise(section.body_markdown.replace(old, new))
    return Comment.objects.get


def quote_block(page: str, comment) -> str:
    article = page[page.index(f'id="c-{comment.pk}"') :]
    return article[: article.index('<div class="user-text">')]


def test_a_new_quote_is_anchored_in_the_revision_it_was_written_against(client, section, ann):
    client.force_login(ann)

    comment = respond(client, section)

    section.refresh_from_db()
    text = section.current_revision.body_text
    assert comment.revision == section.current_revision
    assert comment.anchor_state == AnchorState.ANCHORED
    assert text[comment.anchor_start : comment.anchor_end] == QUOTE
    assert comment.anchor_paragraph == comment.quote_anchor
    block = quote_block(client.get(section.get_absolute_url()).text, comment)
    assert 'data-anchor-state="anchored"' in block
    assert f'data-revision="{section.current_revision.number}"' in block


def test_a_passage_moved_by_an_edit_is_followed_silently(client, section, ann):
    client.force_login(ann)
    comment = respond(client, section)
    first = comment.anchor_start

    opening = "China’s DeepSeek released"
    revise(section, opening, f"A new opening sentence. {opening}")

    comment.refresh_from_db()
    section.refresh_from_db()
    text = section.current_revision.body_text
    assert comment.anchor_state == AnchorState.ANCHORED
    assert comment.anchor_start == first + len("A new opening sentence. ")
    assert text[comment.anchor_start : comment.anchor_end] == QUOTE
    block = quote_block(client.get(section.get_absolute_url()).text, comment)
    assert 'data-anchor-state="anchored"' in block
    assert "earlier version" not in block
    assert f"#{comment.anchor_paragraph}" in block


def test_a_reworded_passage_shows_both_wordings_and_the_diff(client, section, ann):
    client.force_login(ann)
    comment = respond(client, section)

    revise(section, "competitive performance", "comparable performance")

    comment.refresh_from_db()
    assert comment.anchor_state == AnchorState.CHANGED
    assert comment.anchor_text == "comparable performance at a fraction of the compute cost"
    assert comment.quote_text == QUOTE  # what it responded to stays
    block = quote_block(client.get(section.get_absolute_url()).text, comment)
    assert 'data-anchor-state="changed"' in block
    assert 'data-revision="1"' in block
    assert "Responded to an earlier version (revision 1)" in block
    assert f"<mark>{QUOTE}</mark>" in block
    assert "<mark>comparable performance at a fraction of the compute cost</mark>" in block
    diff = reverse("section_diff", args=[section.essay.slug, section.slug, 1, 2])
    assert f'href="{diff}"' in block


def test_a_deleted_passage_leaves_the_quote_linked_to_its_revision(client, section, ann):
    client.force_login(ann)
    comment = respond(client, section)
    paragraph = next(p for p in section.body_markdown.split("\n\n") if QUOTE in p)

    revise(section, paragraph, "An entirely different paragraph about something else.")

    comment.refresh_from_db()
    assert comment.anchor_state == AnchorState.ORPHANED
    assert comment.anchor_start is None
    block = quote_block(client.get(section.get_absolute_url()).text, comment)
    assert 'data-anchor-state="orphaned"' in block
    assert "This passage is no longer in the section." in block
    revision = reverse("section_revision", args=[section.essay.slug, section.slug, 1])
    assert f'href="{revision}#{comment.quote_anchor}"' in block
    assert f"<mark>{QUOTE}</mark>" in block


def test_a_doubtful_match_is_shown_with_caution(client, section, ann):
    client.force_login(ann)
    comment = respond(client, section)

    revise(section, QUOTE, "competitive results for a small share of the cost")

    comment.refresh_from_db()
    assert comment.anchor_state == AnchorState.REVIEW
    block = quote_block(client.get(section.get_absolute_url()).text, comment)
    assert 'data-anchor-state="review"' in block
    assert "Responded to an earlier version" in block
    assert "an editor will check" in block


def test_re_anchoring_happens_once_per_edit_and_never_on_a_page_view(client, section, ann):
    client.force_login(ann)
    comment = respond(client, section)
    revise(section, "competitive performance", "comparable performance")
    comment.refresh_from_db()
    placed = (comment.anchor_state, comment.anchor_start, comment.updated_at)

    with CaptureQueriesContext(connection) as queries:
        client.get(section.get_absolute_url())
        client.get(section.get_absolute_url())

    assert not [q for q in queries if q["sql"].lstrip().upper().startswith("UPDATE")]
    comment.refresh_from_db()
    assert (comment.anchor_state, comment.anchor_start, comment.updated_at) == placed


def test_a_save_that_leaves_the_text_alone_re_anchors_nothing(client, section, ann):
    client.force_login(ann)
    comment = respond(client, section)
    before = comment.updated_at

    section.refresh_from_db()
    assert not section.revise(section.body_markdown, heading="The DeepSeek Moment, renamed")

    comment.refresh_from_db()
    assert comment.updated_at == before
    assert comment.anchor_state == AnchorState.ANCHORED


def test_a_failed_re_anchoring_undoes_the_edit(client, section, ann, monkeypatch):
    """Quotes and text change together or not at all: the same transaction."""
    client.force_login(ann)
    respond(client, section)
    section.refresh_from_db()
    markdown = section.body_markdown

    def broken(*args, **kwargs):
        raise RuntimeError("re-anchoring failed")

    monkeypatch.setattr("forum.anchoring.reanchor", broken)
    with pytest.raises(RuntimeError):
        section.revise(markdown.replace("competitive", "comparable"))

    section.refresh_from_db()
    assert section.body_markdown == markdown
    assert section.revisions.count() == 1


def test_an_authors_deletion_erases_where_the_quote_was(client, section, ann):
    client.force_login(ann)
    comment = respond(client, section)

    comment.delete_by_author()

    row = Comment.objects.filter(pk=comment.pk).values(*Comment.ANCHOR_FIELDS).first()
    assert row in (None, dict.fromkeys(Comment.ANCHOR_FIELDS, None) | {
        "anchor_state": "", "anchor_paragraph": "", "anchor_text": ""
    })  # fmt: skip


# --- What a page costs with anchors --------------------------------------------------------


@pytest.mark.parametrize("size", [12, 400])
def test_a_page_full_of_reworded_quotes_costs_no_query_more(
    client, section, settings, size, django_assert_num_queries
):
    settings.COMMENTS_PAGE_SIZE = 1000
    call_command(
        *("seed_discussion", "--section", section.slug, "--comments", size),
        *("--top-level", max(1, size // 7), "--users", 12, "--max-depth", 5),
        stdout=StringIO(),
    )
    section.refresh_from_db()
    first = section.current_revision
    revise(section, "competitive performance", "comparable performance")
    states = list(AnchorState)
    for n, comment in enumerate(Comment.objects.filter(section=section)):
        comment.quote_text, comment.anchor_state = QUOTE, states[n % len(states)]
        comment.anchor_text, comment.revision = "comparable performance", first
        comment.save(update_fields=["quote_text", "anchor_state", "anchor_text", "revision"])

    # The four of a reader's page (test_discussion_queries.py): the links to the diff
    # were rendered into each comment's stored fragment when its quote was saved.
    url = section.get_absolute_url()
    keep_fragments()
    with django_assert_num_queries(4):
        response = client.get(url)

    assert len(re.findall(r"data-anchor-state=", response.text)) == size
    assert response.text.count("/diff/1..2/") == len(range(1, size, 4)) + len(
        range(3, size, 4)
    )  # the changed and the review ones


# --- Marks in the section's text ------------------------------------------------------------


def marks(page: str) -> dict[str, str]:
    return dict(re.findall(r'data-passage="(p-[0-9a-f-]+)" data-passage-count="(\d+)"', page))


def test_quoted_paragraphs_are_marked_with_their_count_and_follow_an_edit(
    client, section, ann, ben
):
    client.force_login(ann)
    first = respond(client, section)
    client.force_login(ben)
    respond(client, section, quote="genuine shock")
    client.logout()
    assert marks(client.get(section.get_absolute_url()).text) == {first.quote_anchor: "2"}

    # The passage moves to a paragraph of its own: its mark goes with it.
    revise(section, f"achieved {QUOTE}", f"achieved it.\n\nThey had {QUOTE}")

    first.refresh_from_db()
    page = client.get(section.get_absolute_url()).text
    assert first.anchor_paragraph != first.quote_anchor
    assert marks(page) == {first.quote_anchor: "1", first.anchor_paragraph: "1"}
    assert f'href="?passage={first.anchor_paragraph}#discussion"' in page


def test_hidden_comments_leave_no_mark(client, section, ann, mo):
    client.force_login(ann)
    comment = respond(client, section)
    comment.moderate(mo, "remove", "Off-topic.")
    client.logout()

    assert marks(client.get(section.get_absolute_url()).text) == {}


def test_following_a_mark_shows_the_threads_on_that_passage_first(client, section, ann, ben):
    client.force_login(ben)
    earlier = respond(client, section, quote="a painful internal conversation", body="Earlier.")
    client.force_login(ann)
    later = respond(client, section, body="About the cost.")
    client.logout()

    plain = client.get(section.get_absolute_url()).text
    first = client.get(f"{section.get_absolute_url()}?passage={later.quote_anchor}").text
    nonsense = client.get(f"{section.get_absolute_url()}?passage=<script>").text

    assert plain.index(f'id="c-{earlier.pk}"') < plain.index(f'id="c-{later.pk}"')
    assert first.index(f'id="c-{later.pk}"') < first.index(f'id="c-{earlier.pk}"')
    assert nonsense.index(f'id="c-{earlier.pk}"') < nonsense.index(f'id="c-{later.pk}"')


# --- Through the importer ---------------------------------------------------------------------


def reimport(text: str, prune: bool = False):
    from essays.importing import import_essay, parse_essay

    return import_essay(parse_essay(text.encode()), prune=prune)


def test_a_section_renamed_in_the_file_keeps_its_quotes_anchored(client, section, ann):
    from tests.conftest import ESSAY_PATH

    client.force_login(ann)
    comment = respond(client, section)
    source = ESSAY_PATH.read_text()

    reimport(
        source.replace("## The DeepSeek Moment", "## The DeepSeek moment").replace(
            "China’s DeepSeek released", "In short, China’s DeepSeek released"
        )
    )

    comment.refresh_from_db()
    section.refresh_from_db()
    assert section.heading == "The DeepSeek moment"
    assert comment.anchor_state == AnchorState.ANCHORED
    text = section.current_revision.body_text
    assert text[comment.anchor_start : comment.anchor_end] == QUOTE


def test_a_section_removed_by_prune_takes_its_quotes_and_leaves_others_alone(
    client, essay, section, ann
):
    from tests.conftest import ESSAY_PATH

    client.force_login(ann)
    gone = respond(client, section)
    other = essay.sections.get(slug="what-open-actually-enables")
    words = other.body_markdown.split("\n\n")[0].split()[2:9]
    kept = respond(client, other, quote=" ".join(words))
    source = ESSAY_PATH.read_text()
    start = source.index("## The DeepSeek Moment")
    end = source.index("## ", start + 3)

    report = reimport(source[:start] + source[end:], prune=True)

    assert report.pruned[0][0] == "The DeepSeek Moment"
    assert not Comment.objects.filter(pk=gone.pk).exists()
    kept.refresh_from_db()
    assert kept.anchor_state == AnchorState.ANCHORED


def test_quotes_written_before_anchors_were_kept_are_placed_by_the_migration(client, section, ann):
    import importlib

    from django.db.migrations.loader import MigrationLoader

    client.force_login(ann)
    comment = respond(client, section)
    placed = Comment.objects.filter(pk=comment.pk).values(*Comment.ANCHOR_FIELDS).get()
    Comment.objects.filter(pk=comment.pk).update(
        anchor_state="", anchor_start=None, anchor_end=None, anchor_paragraph=""
    )
    migration = importlib.import_module("forum.migrations.0008_comment_anchors")

    migration.place_existing_quotes(MigrationLoader(connection).project_state().apps, None)

    assert Comment.objects.filter(pk=comment.pk).values(*Comment.ANCHOR_FIELDS).get() == placed


def test_a_quote_posted_while_its_section_is_revised_follows_that_revision(
    transactional_db, section, ann
):
    """The editor's transaction has saved revision 2 and not yet committed when a member
    posts a quote against revision 1. The post waits for the edit, then writes against
    revision 2; without that it would keep revision 1, missed by the re-anchoring."""
    if connection.vendor != "postgresql":
        pytest.skip("concurrency is tested on PostgreSQL (SQLite lets one writer in at a time)")
    import threading
    import time

    from django.db import connections, transaction

    from essays.models import Section
    from forum.models import Comment

    stale = Section.objects.select_related("current_revision").get(pk=section.pk)
    passage = stale.find_passage(QUOTE)
    posted = {}

    def post():
        try:
            posted["comment"], _ = Comment.objects.post(
                section=stale, author=ann, body="On this.", passage=passage
            )
        finally:
            connections.close_all()

    def blocked_or_done(poster):
        # The poster waits on a lock (pg_stat_activity says so), or has finished.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                " AND datname = current_database() AND pid <> pg_backend_pid()"
            )
            return cursor.fetchone()[0] > 0 or not poster.is_alive()

    with transaction.atomic():
        fresh = Section.objects.get(pk=section.pk)
        assert fresh.revise("A new opening sentence.\n\n" + fresh.body_markdown)
        poster = threading.Thread(target=post)
        poster.start()
        deadline = time.monotonic() + 30
        while not blocked_or_done(poster) and time.monotonic() < deadline:
            time.sleep(0.05)
    poster.join(30)

    comment = Comment.objects.get(pk=posted["comment"].pk)
    current = Section.objects.get(pk=section.pk).current_revision
    assert current.number == 2
    assert comment.revision_id == current.pk
    assert current.body_text[comment.anchor_start : comment.anchor_end] == QUOTE
