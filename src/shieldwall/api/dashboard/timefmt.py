"""The ``ago`` template filter: "3 h ago" on the page, the exact UTC time on hover, a machine-readable ``<time>``."""

from __future__ import annotations

import datetime as dt

from markupsafe import Markup, escape

from shieldwall.store.core import utcnow


def _parse(value: object) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, str) and value.strip():
        try:
            moment = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def relative(moment: dt.datetime, now: dt.datetime) -> str:
    """``just now``, ``5 min ago``, ``3 h ago``, ``2 d ago``, ``in 4 d`` (a future time, e.g. an expiry)."""
    seconds = (now - moment).total_seconds()
    future = seconds < 0
    seconds = abs(seconds)
    if seconds < 60:
        return "just now" if not future else "in under a minute"
    if seconds < 3600:
        text = f"{int(seconds // 60)} min"
    elif seconds < 86400:
        text = f"{int(seconds // 3600)} h"
    elif seconds < 60 * 86400:
        text = f"{int(seconds // 86400)} d"
    elif seconds < 730 * 86400:
        text = f"{int(seconds // (30 * 86400))} mo"
    else:
        text = f"{int(seconds // (365 * 86400))} y"
    return f"in {text}" if future else f"{text} ago"


def ago(value: object, now: dt.datetime | None = None) -> Markup:
    """A ``<time>`` element showing the relative time, with the exact UTC time as its title ('' stays empty)."""
    moment = _parse(value)
    if moment is None:
        return escape(str(value or ""))
    exact = moment.strftime("%Y-%m-%d %H:%M:%S UTC")
    iso = moment.isoformat(timespec="seconds")
    text = relative(moment, now or utcnow())
    return Markup('<time datetime="{}" title="{}">{}</time>').format(iso, exact, text)
