"""seed_discussion loads the benchmark peers' shared thread as it is."""

import json
from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from forum.models import Comment

pytestmark = pytest.mark.django_db

THREAD = {
    "users": [
        {"u": 0, "username": "user00", "name": "User 00", "email": "user00@example.org"},
        {"u": 1, "username": "user01", "name": "User 01", "email": "user01@example.org"},
    ],
    "comments": [
        {"i": 0, "parent": None, "level": 0, "user": 0, "created": 1704067200, "body": "Root"},
        {"i": 1, "parent": 0, "level": 1, "user": 1, "created": 1704067260, "body": "*Reply*"},
        {"i": 2, "parent": 1, "level": 2, "user": 0, "created": 1704067320, "body": "Deeper"},
        {"i": 3, "parent": None, "level": 0, "user": 1, "created": 1704067380, "body": "Second"},
    ],
}


def test_a_thread_file_is_loaded_with_its_tree_authors_times_and_markdown(
    section, tmp_path, client
):
    path = tmp_path / "thread.json"
    path.write_text(json.dumps(THREAD))

    call_command("seed_discussion", "--section", section.slug, "--thread", path, stdout=StringIO())

    comments = list(Comment.objects.filter(section=section).order_by("created_at"))
    assert [c.body for c in comments] == ["Root", "*Reply*", "Deeper", "Second"]
    root, reply, deeper, second = comments
    assert (reply.parent, deeper.parent, second.parent) == (root, reply, None)
    assert [c.depth for c in comments] == [0, 1, 2, 0]
    assert deeper.path.startswith(reply.path)
    assert reply.path.startswith(root.path)
    assert [c.author.username for c in comments] == ["user00", "user01", "user00", "user01"]
    assert reply.author.display_name == "User 01"
    assert reply.created_at == datetime(2024, 1, 1, 0, 1, tzinfo=UTC)
    assert "<em>Reply</em>" in reply.body_html
    assert (root.reply_count, root.answered, second.answered) == (1, True, False)
    html = client.get(section.get_absolute_url()).text
    assert html.index("Root") < html.index("Deeper") < html.index("Second")


def test_a_file_that_is_not_a_thread_is_refused_with_a_message(section, tmp_path):
    path = tmp_path / "thread.json"
    path.write_text('{"users": [], "comments": [{"parent": null, "user": 3}]}')

    with pytest.raises(CommandError, match="--thread: not a thread file"):
        call_command("seed_discussion", "--thread", path, stdout=StringIO())

    assert not Comment.objects.exists()
