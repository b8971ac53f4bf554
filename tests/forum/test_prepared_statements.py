"""On PostgreSQL, what every section page sends is prepared on its connection after a few
views (config/settings.py, DATABASE_PREPARED_STATEMENTS): planned once, then run with
each view's values, and answering as before."""

import pytest
from django.db import connection

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
