"""Typed values from cell texts: times (Unix seconds) and decimal numbers (coordinates).

Each comes as twins: a whole column (``_parse_times``, ``_parse_floats``: the batch path) and one text
(``_time_value``, ``_float_value``: the small-batch path and the survey import). Both read the same shapes by
the same rules; a property test keeps each pair equal.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, tzinfo

import numpy as np
import pandas as pd

# ------------------------------------------------------------------------------------------- times

_D = r"[0-9]{1,2}"  # [0-9], not \d: Python's \d also matches other scripts' digits, Arrow's (RE2) does not
_Y = r"[0-9]{4}"
_H = r"([01]?[0-9]|2[0-3])"
_M = r"[0-5][0-9]"  # minutes and seconds: strptime in pandas rolls "10:00:60" over to 10:01, we reject it
# Mutually exclusive shapes: a value matches at most one, so a value parsed badly by its format is invalid
# rather than tried again with a looser one.
_TIME_SHAPES: tuple[tuple[str, str | None], ...] = (
    (rf"{_Y}-{_D}-{_D} {_H}:{_M}:{_M}", "%Y-%m-%d %H:%M:%S"),
    (rf"{_Y}-{_D}-{_D} {_H}:{_M}", "%Y-%m-%d %H:%M"),
    (rf"{_D}/{_D}/{_Y} {_H}:{_M}:{_M}", "%d/%m/%Y %H:%M:%S"),
    (rf"{_D}/{_D}/{_Y} {_H}:{_M}", "%d/%m/%Y %H:%M"),
    (rf"{_Y}-{_D}-{_D}T{_H}:{_M}:{_M}", "%Y-%m-%dT%H:%M:%S"),
    (rf"{_Y}-{_D}-{_D}T{_H}:{_M}", "%Y-%m-%dT%H:%M"),
    (rf"{_Y}-{_D}-{_D}[ T]{_H}:{_M}:{_M}\.[0-9]{{1,6}}", "%Y-%m-%d{sep}%H:%M:%S.%f"),
    # ISO 8601 with an offset: the only shape that is not local time
    (rf"{_Y}-[0-9]{{2}}-[0-9]{{2}}[T ]([01][0-9]|2[0-3]):{_M}(:{_M}(\.[0-9]{{1,9}})?)? ?"
     rf"([Zz]|[+-]([01][0-9]|2[0-3])(:?{_M})?)", None),
)
_TIME_RES = tuple((re.compile(pattern), fmt) for pattern, fmt in _TIME_SHAPES)
_ISO = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[T ]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.[0-9]{1,9})?)? ?"
    r"(?:[Zz]|([+-])([0-9]{2})(?::?([0-9]{2}))?)"
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND = timedelta(seconds=1)


def _time_value(text: str, zone: tzinfo) -> int | None:
    """Unix seconds of one time text (local times in ``zone``), None when it is not a valid time.

    The row-wise twin of ``_parse_times`` (same shapes, same rules); a property test keeps them equal.
    """
    for rx, fmt in _TIME_RES:
        if not rx.fullmatch(text):
            continue
        if fmt is None:
            return _iso_seconds(text)
        if "{sep}" in fmt:
            text, fmt = text.replace("T", " "), fmt.format(sep=" ")
        try:
            naive = datetime.strptime(text, fmt)
        except ValueError:
            return None
        local = naive.replace(tzinfo=zone)
        if local.utcoffset() != naive.replace(tzinfo=zone, fold=1).utcoffset():
            return None  # happens twice or never (a DST change): not guessed
        return (local - _EPOCH) // _SECOND
    return None


def _iso_seconds(text: str) -> int | None:
    m = _ISO.fullmatch(text)
    if m is None:  # pragma: no cover - the shape matched
        return None
    year, month, day, hour, minute, second, sign, off_h, off_m = m.groups()
    if int(off_h or 0) > 23 or int(off_m or 0) > 59:
        return None
    try:
        moment = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0), tzinfo=UTC)
    except ValueError:
        return None
    offset = (int(off_h or 0) * 3600 + int(off_m or 0) * 60) * (-1 if sign == "-" else 1)
    return (moment - _EPOCH) // _SECOND - offset


def _seconds(parsed: pd.Series) -> np.ndarray:
    """Unix seconds (floor) of a tz-aware datetime Series without missing values."""
    naive = parsed.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()
    return naive.astype("datetime64[s]").astype("int64")


def _parse_times(text: pd.Series, tz: str) -> tuple[np.ndarray, np.ndarray]:
    """(Unix seconds, parsed) for a column of time texts; local times are in ``tz``.

    Shapes are tried in the order the first values of the column suggest, each on the values still unparsed,
    so a file in one format costs one regex pass and one strict ``to_datetime``.
    """
    n = len(text)
    out = np.zeros(n, dtype="int64")
    ok = np.zeros(n, dtype=bool)
    todo = np.flatnonzero((text != "").to_numpy(dtype=bool))
    if not len(todo):
        return out, ok
    rest = text.iloc[todo]
    sample = rest.iloc[:: max(1, len(rest) // 200)]
    shapes = sorted(_TIME_SHAPES, key=lambda s: -int(sample.str.fullmatch(s[0]).sum()))
    for pattern, fmt in shapes:
        if not len(todo):
            break
        hit = rest.str.fullmatch(pattern).to_numpy(dtype=bool)
        if not hit.any():
            continue
        values = rest[hit]
        if fmt is None:
            parsed = pd.to_datetime(values, format="ISO8601", utc=True, errors="coerce")
        else:
            if "{sep}" in fmt:
                values = values.str.replace("T", " ", regex=False)
                fmt = fmt.format(sep=" ")
            parsed = pd.to_datetime(values, format=fmt, errors="coerce")
            # Indonesia keeps no DST; elsewhere a time that does not exist or happens twice is not guessed
            parsed = parsed.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
        good = parsed.notna().to_numpy(dtype=bool)
        where = todo[hit][good]
        out[where] = _seconds(parsed[good])
        ok[where] = True
        todo, rest = todo[~hit], rest[~hit]
    return out, ok


# ------------------------------------------------------------------------------------------- numbers


_NUMBER = r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?"
_NUMBER_RE = re.compile(_NUMBER)


def _float_value(text: str) -> float | None:
    """The row-wise twin of ``_parse_floats`` for one text: None where empty or not a number."""
    text = text.replace(",", ".")
    return float(text) if _NUMBER_RE.fullmatch(text) else None


def _parse_floats(text: pd.Series) -> np.ndarray:
    """float64 with NaN where empty or not a number; a decimal comma is a decimal point ("-9,45").

    Arrow's cast (exact, like float()) is ~10x faster than to_numeric; values that are not plain decimal
    numbers ("nan", "inf", "9°27'S", "1.234,5") are nulled first, so one bad cell cannot fail the column.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = pc.replace_substring(pa.array(text.array), ",", ".")
    number = pc.match_substring_regex(arr, f"^{_NUMBER}$")
    arr = pc.if_else(number, arr, pa.scalar(None, arr.type))
    try:
        values = pc.cast(arr, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # pragma: no cover - the regex admits only numbers
        return np.array(pd.to_numeric(pd.Series(arr.to_pylist(), dtype=object), errors="coerce"), dtype="float64")
    return np.array(values.to_numpy(zero_copy_only=False), dtype="float64")
