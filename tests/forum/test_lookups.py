"""`__any_of`: the rows `__in` finds, sent to PostgreSQL as one array parameter."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from forum.models import Comment

pytestmark = pytest.mark.django_db


@pytest.fixture
def thread(ann, ben, post):
    top = post(ann, "Top")
    replies = [post(ben, f"Reply {n}", parent=top) for n in range(3)]
    other = post(ben, "Another thread")
    return top, replies, other


def ids(queryset):
    return sorted(queryset.values_list("pk", flat=True))


def test_any_of_finds_what_in_finds(thread):
    top, replies, other = thread
    for wanted in ([top.pk], [top.pk, other.pk], [replies[1].pk, 10**15], [None, other.pk]):
        assert ids(Comment.objects.filter(pk__any_of=wanted)) == ids(
            Comment.objects.filter(pk__in=wanted)
        )
    # On a foreign key, by id and by instance.
    assert ids(Comment.objects.filter(root_id__any_of=[top.pk])) == sorted(r.pk for r in replies)
    assert ids(Comment.objects.filter(root__any_of=[top])) == sorted(r.pk for r in replies)


def test_any_of_nothing_finds_nothing(thread):
    assert ids(Comment.objects.filter(pk__any_of=[])) == []
    assert ids(Comment.objects.filter(pk__any_of=[None])) == []


def test_any_of_a_subquery_is_a_subquery(thread):
    top, replies, _ = thread
    tops = Comment.objects.filter(pk=top.pk).values("pk")
    assert ids(Comment.objects.filter(root_id__any_of=tops)) == sorted(r.pk for r in replies)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's arrays")
def test_on_postgresql_a_list_is_one_array_parameter(thread):
    top, _, other = thread
    with CaptureQueriesContext(connection) as queries:
        list(Comment.objects.filter(pk__any_of=[top.pk, other.pk, 2**40]))
    sql = queries.captured_queries[0]["sql"]
    assert "= ANY(" in sql
    assert "::bigint[]" in sql
    assert " IN (" not in sql
