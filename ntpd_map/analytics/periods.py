"""Periods of the analytics, as the API, the pages and the CLI name them: local dates, inclusive."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ntpd_map.analytics.recap import recap_bounds

#: the period shown and answered when none is asked for: the last 30 days
DEFAULT_DAYS = 30


def period(args: Any, tz: str, today: date | None = None) -> tuple[date, date, int, int]:
    """(from, to, start, end) from ``from``/``to`` local dates (inclusive; default: the last 30 days)."""
    today = today or datetime.now(ZoneInfo(tz)).date()
    date_to = date.fromisoformat(args["to"]) if args.get("to") else today
    try:
        date_from = date.fromisoformat(args["from"]) if args.get("from") else date_to - timedelta(days=DEFAULT_DAYS - 1)
    except OverflowError:  # to=0001-01-05 without from: the default start would be before year 1
        raise ValueError("from would be before year 1") from None
    if date_to < date_from:
        raise ValueError("from is after to")
    if (date_to - date_from).days > 3660:
        raise ValueError("a period of at most 10 years")
    start, end = recap_bounds(date_from, date_to, tz)
    return date_from, date_to, start, end


def window_text(date_from: date, date_to: date, zone: str) -> str:
    return f"{date_from:%d/%m/%Y} - {date_to:%d/%m/%Y} (waktu {zone})"
