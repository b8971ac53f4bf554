"""How a moment is written for machines: `<time datetime="…">`.

One format for every page (and for `forum.rendering`, which builds comments in Python):
local time to the second with its offset. HTML allows at most three digits of a
second's fraction, and Django's `date:'c'` writes six.
"""

from datetime import date, datetime

from django import template
from django.utils import timezone

register = template.Library()


@register.filter
def machine_datetime(moment: datetime | date | None) -> str:
    """`2026-11-30T01:09:36+01:00`: the value of a `<time datetime>` attribute."""
    if moment is None:
        return ""
    if not isinstance(moment, datetime):
        return moment.isoformat()
    if timezone.is_aware(moment):
        moment = timezone.localtime(moment)
    return moment.isoformat(timespec="seconds")
