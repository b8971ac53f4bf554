"""Database ids as they arrive from outside (URLs, form fields): parsed in one place.

Only ASCII digits count: `str.isdigit()` also accepts "²" (which `int()` refuses) and
`int()` accepts "٣" (Arabic-Indic three). At most 18 digits, so every id fits the
64-bit columns; anything else is simply not an id (a 404 or a form error, never a 500).
"""

import re

from django import forms

PATTERN = "[0-9]{1,18}"
_id = re.compile(PATTERN)


def parse_id(value) -> int | None:
    """The id in `value`, or None if it is not one."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, str) and _id.fullmatch(value) and (number := int(value)) > 0:
        return number
    return None


class IdField(forms.Field):
    """A form field holding an id, parsed by parse_id()."""

    widget = forms.HiddenInput
    default_error_messages = {"invalid": "That is not a valid reference."}

    def to_python(self, value):
        if value in self.empty_values:
            return None
        number = parse_id(value.strip() if isinstance(value, str) else value)
        if number is None:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return number


class IdConverter:
    """The same rule for ids in URL paths."""

    regex = PATTERN
    to_url = str

    def to_python(self, value):
        return int(value)
