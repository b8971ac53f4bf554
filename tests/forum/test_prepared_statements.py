"""On PostgreSQL, what every section page sends is prepared on its connection after a few
views (config/settings.py, DATABASE_PREPARED_STATEMENTS): planned once, then run with
each view's values, and answering as before."""

import pytest
from django.db import connection
from django.utils import timezone
from psycopg import pq

from forum.threads import PAGE_FIELDS, PAGE_ROWS
from tests.conftest import keep_fragments

pytestmark = pytest.mark.django_db


@pytest.fixture
def postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("prepared statements are PostgreSQL's (CI runs the suite there)")


def prepared_statements() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [statement for (statement,) in cursor.fetchall()]


def test_a_members_section_page_is_answered_from_statements_prepared_once(
    postgres_only, client, section, ann, ben, post
):
    theirs = post(ben, "Worth a vote.")
    client.force_login(ann)
    keep_fragments()
    before = prepared_statements()

    pages = [client.get(section.get_absolute_url()).text for _ in range(6)]
    client.post(f"/comments/{theirs.pk}/vote/")
    after_vote = client.get(section.get_absolute_url()).text

    prepared = set(prepared_statements()) - set(before)
    assert any('FROM "forum_comment"' in statement for statement in prepared)
    assert any('"forum_vote"' in statement for statement in prepared)  # votes, follows
    assert all("Worth a vote." in page and "0 points" in page for page in pages)
    assert "1 point" in after_vote  # the prepared statements read what is there now


def test_a_pages_comments_come_in_binary_and_read_as_they_would_in_text(
    postgres_only, monkeypatch, settings, section, ann, ben, post
):
    """forum.threads.PAGE_ROWS: a thousand rows of numbers and timestamps are read
    faster in PostgreSQL's binary format; what they say is the same."""
    question = post(ann, "Question?")
    answer = post(ben, "Answer.", parent=question)
    answer.edited_at = timezone.now()
    answer.save(update_fields=["edited_at"])
    formats = []

    def record(execute, sql, params, many, context):
        if '"fragment_hash"' in sql:  # the page's comments
            formats.append(context["cursor"].cursor.format)
        return execute(sql, params, many, context)

    shape = (False, settings.COMMENTS_THREAD_MAX)
    page = (shape, ann, [question.pk], section.pk, settings.COMMENTS_DISPLAY_DEPTH - 1)
    with connection.execute_wrapper(record):
        binary = PAGE_ROWS.rows(*page)
        monkeypatch.setattr(PAGE_ROWS, "binary", False)
        text = PAGE_ROWS.rows(*page)

    assert formats == [pq.Format.BINARY, pq.Format.TEXT]
    binary, text = sorted(binary), sorted(text)  # (in no order: the page sorts them)
    assert binary == text
    created_at = PAGE_FIELDS.index("created_at")
    assert [row[created_at] for row in binary] == [question.created_at, answer.created_at]
    assert binary[1][PAGE_FIELDS.index("edited_at")] == answer.edited_at
