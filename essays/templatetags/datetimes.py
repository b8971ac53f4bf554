"""How a moment is written: for machines (`<time datetime="…">`) and for people ("3
hours ago").

One format of each for every page (and for `forum.rendering`, which builds comments in
Python). For machines, local time to the second with its offset: HTML allows at most
three digits of a second's fraction, and Django's `date:'c'` writes six.
"""

from datetime import date, datetime, timedelta

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


# How long ago a moment is said in words, up to a week; after that, its local date.
RELATIVE_FOR = timedelta(days=7)


def short_date(local: datetime) -> str:
    """`1 Jan 2024`: the local date a moment over a week old is said as."""
    return local.strftime("%-d %b %Y")


def relative_time(moment: datetime, now: datetime) -> str:
    """How long before `now` a moment was, in words: "now", "5 minutes ago", "2 days
    ago"; after a week, its local date."""
    seconds = int((now - moment).total_seconds())
    if seconds < 10:
        return "now"
    week = int(RELATIVE_FOR.total_seconds())
    for size, unit in ((week, None), (86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds >= size:
            if unit is None:
                return short_date(timezone.localtime(moment))
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''} ago"
    return f"{seconds} seconds ago"


@register.filter
def ago(moment: datetime | None) -> str:
    """relative_time() from this moment: the words a comment's header uses, for every
    other page that says when something happened (rather than Django's timesince,
    which says "0 minutes ago" where a comment says "now")."""
    return relative_time(moment, timezone.now()) if moment else ""
