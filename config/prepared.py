"""The SQL of the queries every section page sends (and every request a member makes:
their account, accounts.backends), made once per process.

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
from psycopg import adapters, pq

# The two builds' probes: the viewer's id is `start`, value i is start + step * (i + 1).
# Integers in the range of every integer column, even a small positive one (the ORM
# writes a query another way for a value out of its column's range); spaced
# differently, so that a parameter the query derives from a value (`depth - 1`) cannot
# pass for another value's place in both.
PROBES = ((30_001, 1), (31_003, 7))
# Which viewers a query is made for, with the stand-in it is built with: their rule
# (CommentQuerySet.rule_for, or the one a Prepared is given) asks nothing of them but
# their id. Others (moderators, staff, and any kind of viewer a rule comes to know)
# are asked of the ORM each time.
STAND_INS = {
    "reader": lambda pk: AnonymousUser(),
    "member": lambda pk: get_user_model()(pk=pk, is_active=True),
}


PSYCOPG_TZ_LOADER = adapters.get_loader(adapters.types["timestamptz"].oid, pq.Format.TEXT)
PSYCOPG_TZ_BINARY_LOADER = adapters.get_loader(adapters.types["timestamptz"].oid, pq.Format.BINARY)


def _comments_rule(viewer) -> str:
    from forum.models import CommentQuerySet  # here: forum.models uses Prepared

    return CommentQuerySet.rule_for(viewer)


def _kind_of(value) -> str:
    if isinstance(value, list):
        return "list"
    if isinstance(value, str):
        return "str"
    return "int"


def _probe(kind: str, number: int) -> int | str | list[int]:
    """A value's probe: the number itself, in a list, or in words."""
    return {"int": number, "list": [number], "str": f"probe-{number}"}[kind]


def _typed(value, like):
    """`value` as the ORM would pass it where it passed `like` (psycopg's Int4 for an
    integer column, say), element by element for a list."""
    if isinstance(value, list):
        return [_typed(item, like[0]) for item in value]
    kind = type(like)
    return value if type(value) is kind else kind(value)


class Prepared:
    """Rows of `model` read by `build(shape, viewer, *values)`: a values_list()
    queryset whose SQL depends only on `shape` (hashable) and on the viewer's kind
    (`rule`: the comments' visibility rule unless told; `STAND_INS`), and whose
    parameters are `values` (integers, lists of them, or strings), the viewer's id and
    constants."""

    def __init__(
        self,
        model: type[Model],
        build: Callable[..., QuerySet],
        rule: Callable[..., str] = _comments_rule,
        *,
        binary: bool = False,
    ):
        self.model = model
        self.build = build
        self.rule = rule
        # Rows sent in PostgreSQL's binary format: numbers and timestamps are then
        # copied, not parsed from text. For queries of many rows of plain columns (no
        # type a loader of Django's reads as text, such as JSON).
        self.binary = binary
        self._made: dict[tuple, tuple[str, list, list[tuple[int, int | None]]]] = {}

    def alias(self) -> str:
        """The database the rows are read from (for Model.from_db)."""
        return router.db_for_read(self.model)

    def rows(self, shape, viewer, *values: int | str | list[int]) -> list[tuple]:
        sent = self.sql(shape, viewer, *values)
        if sent is None:
            return list(self.build(shape, viewer, *values))
        connection = connections[self.alias()]
        with connection.cursor() as cursor:
            if connection.timezone_name == "UTC" and settings.USE_TZ:
                # psycopg's own loader, in C, reads timestamps as aware datetimes in the
                # session's time zone, UTC here: what Django's loader, in Python, makes
                # of them too (by replacing the zone with its own). A thousand rows
                # read 0.5 ms faster.
                for loader in (PSYCOPG_TZ_LOADER, PSYCOPG_TZ_BINARY_LOADER):
                    cursor.cursor.adapters.register_loader("timestamptz", loader)
            if self.binary:
                cursor.cursor.format = pq.Format.BINARY
            cursor.execute(*sent)
            return cursor.fetchall()

    def sql(self, shape, viewer, *values: int | str | list[int]) -> tuple[str, list] | None:
        """The SQL and parameters the ORM would send for these values, made once; None
        where the ORM is to be asked (not PostgreSQL, a kind of viewer without a
        stand-in, an empty list)."""
        alias = self.alias()
        connection = connections[alias]
        kind = self.rule(viewer)
        if (
            connection.vendor != "postgresql"
            or kind not in STAND_INS
            # An empty list is not sent as an array: the ORM writes that query its way.
            or any(value == [] for value in values)
        ):
            return None
        kinds = tuple(_kind_of(value) for value in values)
        key = (alias, shape, kind, kinds)
        if (made := self._made.get(key)) is None:
            made = self._made[key] = self._make(alias, shape, kind, kinds)
        sql, template, places = made
        params = list(template)
        for place, index in places:
            value = viewer.pk if index is None else values[index]
            params[place] = _typed(value, template[place])
        if settings.PREPARED_QUERIES_CHECK:
            sent = self.build(shape, viewer, *values).query.get_compiler(alias).as_sql()
            if (sql, _types(params)) != (sent[0], _types(sent[1])):
                raise AssertionError(
                    f"{self.build.__qualname__}{shape!r} is not prepared as the ORM would "
                    f"send it.\nPrepared: {sql} {params}\nORM: {sent[0]} {list(sent[1])}"
                )
        return sql, params

    def _make(self, alias: str, shape, kind: str, kinds: tuple[str, ...]):
        """The SQL for `shape`, its parameters, and where each value goes in them (the
        viewer's id as value None). Built twice, with two sets of probes: a parameter
        that holds value i's probe in both builds is value i's place; any other that
        differs between them is made from a value and refused, and so is SQL that
        differs (a value written into it). A constant equal to a probe stays put."""
        (sql, params, probes), (other_sql, other_params, other_probes) = (
            self._probed(alias, shape, kind, kinds, start, step) for start, step in PROBES
        )
        name = self.build.__qualname__
        if sql != other_sql:
            raise ImproperlyConfigured(f"{name}: a value is written into its SQL")
        places = []
        for place, (param, other) in enumerate(zip(params, other_params, strict=True)):
            if param == other:
                continue  # a constant
            for (index, probe), (_, other_probe) in zip(probes, other_probes, strict=True):
                if probe == param and other_probe == other:
                    places.append((place, index))
                    break
            else:  # a value made into something else (a string, a sum)
                raise ImproperlyConfigured(f"{name}: parameter {place} is made from a value")
        if missing := set(range(len(kinds))) - {index for _, index in places}:
            raise ImproperlyConfigured(f"{name}: value {min(missing)} is not a parameter")
        return sql, params, places

    def _probed(self, alias, shape, kind: str, kinds: tuple[str, ...], start: int, step: int):
        """The SQL and parameters of the query built with the probes of (start, step),
        and the probes as (value index, probe), the viewer's id as index None."""
        probes = [(i, _probe(kind_of, start + step * (i + 1))) for i, kind_of in enumerate(kinds)]
        viewer = STAND_INS[kind](start)
        queryset = self.build(shape, viewer, *(probe for _, probe in probes))
        name = self.build.__qualname__
        if queryset._iterable_class is not ValuesListIterable:
            raise ImproperlyConfigured(f"{name} must return a values_list() queryset")
        compiler = queryset.query.get_compiler(alias)
        sql, params = compiler.as_sql()
        columns = [column for column, _, _ in compiler.select[: compiler.col_count]]
        if compiler.has_extra_select or compiler.get_converters(columns):
            raise ImproperlyConfigured(f"{name}: its rows would need converting")
        return sql, list(params), [*probes, (None, viewer.pk)]


def _types(params) -> list:
    """Parameters with their types, which == alone does not tell (Int4(5) == 5)."""
    return [
        (type(p), [(type(item), item) for item in p] if isinstance(p, list) else p) for p in params
    ]
