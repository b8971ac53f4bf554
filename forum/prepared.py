"""The SQL of the queries every section page sends, made once per process.

Django builds and compiles a queryset anew each time it runs: for a page's comments,
with the visibility rule, about 1.4 ms of CPU for a reader and 2.1 ms for a member,
where PostgreSQL plans the query in 0.3 ms. A `Prepared` query is made once per
process for each database and shape (whatever changes its SQL rather than its values:
who is asking, the sort, settings the SQL writes as literals), by building it twice
with two sets of probe values: the parameters that differ are where the values go.
Each use then puts its values there and sends that SQL.

What it sends is what the ORM would have sent. With the setting
PREPARED_QUERIES_CHECK (on in the tests) every use also builds the queryset from its
values and refuses to go on if the SQL or the parameters differ, as a shape that left
out something the SQL depends on would make them. Only on PostgreSQL, where a list of
ids is one array parameter (forum/lookups.py); elsewhere the ORM is asked each time.
Only for rows read as they come (`values_list()` of columns no converter touches):
checked when the SQL is made.
"""

from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ImproperlyConfigured
from django.db import connections, router
from django.db.models import Model, QuerySet
from django.db.models.query import ValuesListIterable

# Where probe values start, for each of the two builds: one value after another (the
# viewer's id just before), integers in the range of every integer column, even a small
# positive one (the ORM writes a query another way for a value out of its column's
# range).
PROBES = (30_001, 31_001)


class Prepared:
    """Rows of `model` read by `build(shape, viewer, *values)`: a values_list()
    queryset whose SQL depends only on `shape` (hashable) and on whether the viewer is
    signed in, and whose parameters are `values` (integers, or lists of them), the
    viewer's id and constants. Moderators' queries are built each time: they see
    everything, and are few."""

    def __init__(self, model: type[Model], build: Callable[..., QuerySet]):
        self.model = model
        self.build = build
        self._made: dict[tuple, tuple[str, list, list[tuple[int, int | None]]]] = {}

    def rows(self, shape, viewer, *values: int | list[int]) -> list[tuple]:
        alias = router.db_for_read(self.model)
        connection = connections[alias]
        member = viewer.is_authenticated
        if (
            connection.vendor != "postgresql"
            or (member and viewer.is_moderator)
            # An empty list is not sent as an array: the ORM writes that query its way.
            or any(value == [] for value in values)
        ):
            return list(self.build(shape, viewer, *values))
        kinds = tuple(isinstance(value, list) for value in values)
        key = (alias, shape, member, kinds)
        if (made := self._made.get(key)) is None:
            made = self._made[key] = self._make(alias, shape, member, kinds)
        sql, template, places = made
        params = list(template)
        for place, index in places:
            params[place] = viewer.pk if index is None else values[index]
        if settings.PREPARED_QUERIES_CHECK:
            sent = self.build(shape, viewer, *values).query.get_compiler(alias).as_sql()
            if (sql, params) != (sent[0], list(sent[1])):
                raise AssertionError(
                    f"{self.build.__qualname__}{shape!r} is not prepared as the ORM would "
                    f"send it.\nPrepared: {sql} {params}\nORM: {sent[0]} {list(sent[1])}"
                )
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()

    def _make(self, alias: str, shape, member: bool, kinds: tuple[bool, ...]):
        """The SQL for `shape`, its parameters, and where each value goes in them (the
        viewer's id as value None). Built twice, with two sets of probes: a parameter
        that differs between the two is where a value goes (a constant that happened to
        equal a probe does not differ), and SQL that differs has a value written in."""
        (sql, params, probes), (other_sql, other_params, _) = (
            self._probed(alias, shape, member, kinds, first) for first in PROBES
        )
        name = self.build.__qualname__
        if sql != other_sql:
            raise ImproperlyConfigured(f"{name}: a value is written into its SQL")
        places = []
        for place, (param, other) in enumerate(zip(params, other_params, strict=True)):
            if param != other:
                index = next((index for index, probe in probes if probe == param), "none")
                if index == "none":  # a value made into something else (a string, say)
                    raise ImproperlyConfigured(f"{name}: parameter {place} is not a value")
                places.append((place, index))
        if missing := {index for index, _ in probes[: len(kinds)]} - {i for _, i in places}:
            raise ImproperlyConfigured(f"{name}: value {min(missing)} is not a parameter")
        return sql, params, places

    def _probed(self, alias: str, shape, member: bool, kinds: tuple[bool, ...], first: int):
        """The SQL and parameters of the query built with probes from `first` on, and
        the probes (as (value index, probe), the viewer's id as index None)."""
        probes = [(i, [first + i] if is_list else first + i) for i, is_list in enumerate(kinds)]
        # A member with no staff powers (a moderator's rule is another), by a probe id.
        viewer = get_user_model()(pk=first - 1, is_active=True) if member else AnonymousUser()
        queryset = self.build(shape, viewer, *(probe for _, probe in probes))
        name = self.build.__qualname__
        if queryset._iterable_class is not ValuesListIterable:
            raise ImproperlyConfigured(f"{name} must return a values_list() queryset")
        compiler = queryset.query.get_compiler(alias)
        sql, params = compiler.as_sql()
        columns = [column for column, _, _ in compiler.select[: compiler.col_count]]
        if compiler.has_extra_select or compiler.get_converters(columns):
            raise ImproperlyConfigured(f"{name}: its rows would need converting")
        return sql, list(params), [*probes, *([(None, viewer.pk)] if member else [])]
