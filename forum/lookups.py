"""`field__any_of=[...]`: `field IN (...)`, sent to PostgreSQL as one array.

A section page asks for the comments of its threads by their ids: with `__in`, 147
threads were 294 parameters, which psycopg merged into the query text anew on every
view (it keeps the parsed form only of queries with up to 50 parameters) and
PostgreSQL parsed one by one. As `= ANY(%s)` they are one parameter, an array. Other
databases get `IN (...)`, as `__in` writes it; so does a subquery.
"""

from django.db import models
from django.db.models.fields.related import ForeignObject
from django.db.models.fields.related_lookups import RelatedIn
from django.db.models.lookups import In


class _AsArray:
    lookup_name = "any_of"

    def as_postgresql(self, compiler, connection):
        if not self.rhs_is_direct_value():
            return self.as_sql(compiler, connection)
        values = [value for value in self.rhs if value is not None]  # as In drops None
        if not values:
            return self.as_sql(compiler, connection)  # nothing matches, as with In
        lhs, lhs_params = self.process_lhs(compiler, connection)
        field = self.lhs.output_field
        prepared = [field.get_db_prep_value(value, connection) for value in values]
        array = f"{field.rel_db_type(connection)}[]"
        return f"{lhs} = ANY(%s::{array})", (*lhs_params, prepared)


@models.Field.register_lookup
class AnyOf(_AsArray, In):
    pass


@ForeignObject.register_lookup  # foreign keys have lookups of their own, not Field's
class RelatedAnyOf(_AsArray, RelatedIn):
    pass
