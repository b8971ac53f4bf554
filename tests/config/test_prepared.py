"""Queries made once per process (config/prepared.py) send what the ORM would send.

The suite runs with PREPARED_QUERIES_CHECK on, so every page a test renders on
PostgreSQL compares each prepared query with the ORM's; these tests show that the
check and the guards when the SQL is made catch what they are for."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from config.prepared import Prepared
from essays.models import Section
from forum.models import Comment

pytestmark = pytest.mark.django_db
on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="prepared only on PostgreSQL"
)


def ids_in(shape, viewer, section_id: int, ids: list[int]):
    return (
        Comment.objects.visible_in(section_id, viewer)
        .filter(pk__any_of=ids)
        .order_by("pk")
        .values_list("pk", "shows_text")
    )


def counting(build):
    """`build`, counting how many times it is asked."""

    def counted(*args):
        counted.calls += 1
        return build(*args)

    counted.calls = 0
    counted.__qualname__ = build.__qualname__
    return counted


@on_postgresql
def test_a_prepared_query_is_built_once_and_reads_what_the_orm_reads(settings, post, ann, ben):
    settings.PREPARED_QUERIES_CHECK = False  # the check builds the query each time
    first, second, pending = post(ann, "First"), post(ben, "Second"), post(ann, "Held")
    Comment.objects.filter(pk=pending.pk).update(status=Comment.Status.PENDING)
    section = first.section_id
    build = counting(ids_in)
    prepared = Prepared(Comment, build)
    every = [first.pk, second.pk, pending.pk]

    assert prepared.rows((), ann, section, every) == list(ids_in((), ann, section, every))
    assert prepared.rows((), ann, section, every) == [
        (first.pk, True),
        (second.pk, True),
        (pending.pk, True),
    ]
    assert prepared.rows((), ben, section, every) == [(first.pk, True), (second.pk, True)]
    # Built twice (two sets of probes) for members, then never again: ben's query is
    # ann's with his id.
    assert build.calls == 2

    assert prepared.rows((), AnonymousUser(), section, [second.pk]) == [(second.pk, True)]
    assert build.calls == 4  # readers' rule is another SQL


@on_postgresql
def test_the_check_refuses_a_shape_that_leaves_out_what_the_sql_depends_on(settings, post, ann):
    comment = post(ann, "First")
    fields = ["pk"]

    def depends_on_more(shape, viewer, section_id: int):
        return Comment.objects.filter(section=section_id).values_list(*fields)

    prepared = Prepared(Comment, depends_on_more)
    assert prepared.rows((), ann, comment.section_id) == [(comment.pk,)]
    fields.append("depth")  # the SQL changed; the shape () did not say so
    with pytest.raises(AssertionError, match="not prepared as the ORM would send it"):
        prepared.rows((), ann, comment.section_id)


@on_postgresql
def test_a_constant_that_equals_a_probe_stays_a_constant(post, ann):
    from config.prepared import PROBES

    start, step = PROBES[0]
    probe = start + step  # what the first build passes for section_id
    shallow, deep = post(ann, "First"), post(ann, "Deeper")
    Comment.objects.filter(pk=deep.pk).update(depth=probe + 5)

    def at_most_as_deep_as_a_probe(shape, viewer, section_id: int):
        # The same number as section_id's probe, here a constant.
        return (
            Comment.objects.filter(section=section_id, depth__lte=probe)
            .order_by("pk")
            .values_list("pk")
        )

    prepared = Prepared(Comment, at_most_as_deep_as_a_probe)
    assert prepared.rows((), ann, shallow.section_id) == [(shallow.pk,)]


def at_slugs(shape, viewer, essay_slug: str, section_slug: str):
    return Section.objects.filter(essay__slug=essay_slug, slug=section_slug).values_list(
        "pk", "heading"
    )


@on_postgresql
def test_a_prepared_query_takes_words_as_values(settings, essay):
    settings.PREPARED_QUERIES_CHECK = False
    build = counting(at_slugs)
    prepared = Prepared(Section, build)
    reader = AnonymousUser()

    assert prepared.rows((), reader, essay.slug, "introduction") == list(
        at_slugs((), reader, essay.slug, "introduction")
    )
    assert prepared.rows((), reader, essay.slug, "introduction")[0][1] == "Introduction"
    assert prepared.rows((), reader, essay.slug, "'; DROP TABLE essays_section; --") == []
    assert prepared.rows((), reader, "no-such-essay", "introduction") == []
    assert build.calls == 2


@on_postgresql
def test_words_the_orm_makes_into_others_are_refused_when_made(essay):
    def containing(shape, viewer, words: str):
        return Section.objects.filter(heading__contains=words).values_list("pk")

    with pytest.raises(ImproperlyConfigured, match="made from a value"):
        Prepared(Section, containing).rows((), AnonymousUser(), "Intro")


@on_postgresql
def test_a_value_written_into_the_sql_is_refused_when_it_is_made(post, ann):
    comment = post(ann, "First")

    def limited(shape, viewer, section_id: int, limit: int):
        return Comment.objects.filter(section=section_id).values_list("pk")[:limit]

    with pytest.raises(ImproperlyConfigured, match="written into its SQL"):
        Prepared(Comment, limited).rows((), ann, comment.section_id, 5)


@on_postgresql
def test_a_parameter_made_from_a_value_is_refused_when_it_is_made(post, ann):
    comment = post(ann, "First")

    def one_shallower(shape, viewer, section_id: int, depth: int):
        return Comment.objects.filter(section=section_id, depth__gte=depth - 1).values_list("pk")

    with pytest.raises(ImproperlyConfigured, match="made from a value"):
        Prepared(Comment, one_shallower).rows((), ann, comment.section_id, 3)


def test_a_kind_of_viewer_the_rule_comes_to_know_is_asked_of_the_orm(
    settings, monkeypatch, post, ann
):
    from forum.models import CommentQuerySet

    settings.PREPARED_QUERIES_CHECK = False
    comment = post(ann, "First")
    # Were the rule to treat editors apart, say: no query made for members serves them.
    monkeypatch.setattr(CommentQuerySet, "rule_for", staticmethod(lambda user: "editor"))
    build = counting(ids_in)
    prepared = Prepared(Comment, build)
    for _ in range(2):
        prepared.rows((), ann, comment.section_id, [comment.pk])
    assert build.calls == 2


@on_postgresql
def test_rows_that_need_converting_are_refused_when_it_is_made(post, ann):
    comment = post(ann, "First")

    def whole(shape, viewer, section_id: int):
        return Comment.objects.filter(section=section_id)

    with pytest.raises(ImproperlyConfigured, match="values_list"):
        Prepared(Comment, whole).rows((), ann, comment.section_id)


def test_moderators_and_empty_lists_are_asked_of_the_orm_each_time(settings, post, ann, mo):
    settings.PREPARED_QUERIES_CHECK = False
    comment = post(ann, "First")
    build = counting(ids_in)
    prepared = Prepared(Comment, build)
    for _ in range(2):
        assert prepared.rows((), mo, comment.section_id, [comment.pk]) == [(comment.pk, True)]
        assert prepared.rows((), ann, comment.section_id, []) == []
    assert build.calls == 4


@on_postgresql
def test_a_section_page_asks_the_orm_for_its_comments_query_once(
    settings, monkeypatch, client, post, ann, ben
):
    import forum.threads

    settings.PREPARED_QUERIES_CHECK = False
    comment = post(ann, "A comment on the page.")
    build = counting(forum.threads._page_rows)
    monkeypatch.setattr(forum.threads, "PAGE_ROWS", Prepared(Comment, build))
    for member in (ann, ben, ann):
        client.force_login(member)
        assert "A comment on the page." in client.get(comment.section.get_absolute_url()).text
    assert build.calls == 2  # its two sets of probes, for the first view


def created_in(shape, viewer, section_id: int, ids: list[int]):
    return (
        Comment.objects.visible_in(section_id, viewer)
        .filter(pk__any_of=ids)
        .order_by("pk")
        .values_list("pk", "created_at", "edited_at")
    )


@on_postgresql
def test_a_prepared_query_reads_times_as_the_orm_does(settings, post, ann):
    """Its rows' timestamps come from psycopg's own loader (faster than Django's): the
    same aware datetimes in UTC."""
    settings.PREPARED_QUERIES_CHECK = False
    first, second = post(ann, "First"), post(ann, "Second")
    second.edit("Second, edited.", by=ann)
    ids = [first.pk, second.pk]

    rows = Prepared(Comment, created_in).rows((), ann, first.section_id, ids)

    assert rows == list(created_in((), ann, first.section_id, ids))
    assert rows[1][2] is not None
    assert {type(moment.tzinfo) for _, *moments in rows for moment in moments if moment} == {
        type(first.created_at.tzinfo)
    }
    assert rows[0][1].utcoffset() == timedelta(0)
