"""Field-survey signal measurements (issue 7): a planner walks or drives the desa with a phone and writes down (or
exports from an app) where, when, which operator and how strong the signal was.

A CSV or XLSX with a header row; column names in any case, Indonesian or English:

- position: ``lat``/``latitude``/``lintang`` and ``lon``/``lng``/``longitude``/``bujur`` (decimal degrees, a
  decimal comma is fine);
- signal: ``signal``/``sinyal``/``dbm``/``rssi``/``rsrp``/``level`` holding dBm (a negative number, "-105" or
  "-105 dBm") or bars (0-5, "3 bar"), or a word for no signal ("tidak ada sinyal", "no service", ...: 0 bars);
  and/or a separate ``bars``/``bar`` column;
- ``operator``/``provider``/``penyedia`` (optional), ``jaringan``/``network``/``radio`` (2G, 4G..., optional);
- time: ``waktu``/``time``/``timestamp``/``tanggal`` as in recaps (YYYY-MM-DD HH:MM[:SS], DD/MM/YYYY HH:MM, ISO
  8601 with an offset, local time otherwise) or Unix seconds.

A row is rejected with its spreadsheet row number (the header is row 1) and a reason naming the column when
its position, signal or time is missing or unusable, or when the point lies outside the region (swapped
lat/lon are the usual cause). Each accepted point gets the desa it lies in (the region's locator) and its
res-9 H3 cell; a point with no or very weak signal is evidence for that desa (``ntpd_map.geo.signal``).
"""

from __future__ import annotations

import re
import time
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, NamedTuple
from zoneinfo import ZoneInfo

import numpy as np

from ntpd_map.domain import DBM_RANGE, MAX_BARS, LocationFlag, SignalSample
from ntpd_map.ingest.population import _blank, _column, _quote, _text
from ntpd_map.ingest.values import _time_value

if TYPE_CHECKING:
    import pandas as pd

    from ntpd_map.geo.boundaries import Region
    from ntpd_map.geo.locate import Locator

LAT_COLUMNS = ("lat", "latitude", "lintang")
LON_COLUMNS = ("lon", "lng", "long", "longitude", "bujur")
SIGNAL_COLUMNS = ("signal", "sinyal", "dbm", "signal_dbm", "kekuatan_sinyal", "rssi", "rsrp", "level")
BARS_COLUMNS = ("bars", "bar", "batang")
OPERATOR_COLUMNS = ("operator", "provider", "penyedia", "operator_seluler")
NETWORK_COLUMNS = ("jaringan", "network", "radio", "teknologi")
TIME_COLUMNS = ("waktu", "time", "timestamp", "tanggal", "datetime", "tanggal_waktu", "recorded_at")
NO_SIGNAL_WORDS = ("tidak ada sinyal", "tidak ada", "tanpa sinyal", "no signal", "no service", "none",
                   "emergency only", "sos", "blank spot")
EARLIEST = int(datetime(2015, 1, 1, tzinfo=UTC).timestamp())
FUTURE_SLACK_S = 300
SIGNAL_HINT = "dBm (a negative number, e.g. -105) or bars 0-5; 'tidak ada sinyal' for none"

_DBM = re.compile(r"(-[0-9]+(?:[.,][0-9]+)?)\s*(?:dbm)?", re.IGNORECASE)
_BARS = re.compile(r"([0-9])\s*(?:bars?|batang)?", re.IGNORECASE)


class ParsedSurvey(NamedTuple):
    samples: list[SignalSample]
    rejects: list[dict[str, Any]]
    blank_rows: int


def signal_value(value: Any) -> tuple[float | None, int | None] | None:
    """(dBm, bars) from a cell, or None when it is neither (see the module docstring)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | np.integer | np.floating):
        v = float(value)
        if v < 0:
            return (v, None) if DBM_RANGE[0] <= v <= DBM_RANGE[1] else None
        return (None, int(v)) if v.is_integer() and v <= MAX_BARS else None
    text = " ".join(str(value).split()).casefold()
    if text in NO_SIGNAL_WORDS:
        return None, 0
    m = _DBM.fullmatch(text)
    if m:
        v = float(m.group(1).replace(",", "."))
        return (v, None) if DBM_RANGE[0] <= v <= DBM_RANGE[1] else None
    m = _BARS.fullmatch(text)
    if m and int(m.group(1)) <= MAX_BARS:
        return None, int(m.group(1))
    return None


def _coordinate(value: Any) -> float | None:
    if isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool):
        v = float(value)
    else:
        try:
            v = float(" ".join(str(value).split()).replace(",", "."))
        except ValueError:
            return None
    return v if np.isfinite(v) else None


def time_value(value: Any, tz: str) -> int | None:
    """Unix seconds of a survey time: a recap-style text (local time in ``tz`` unless it has an offset), a
    spreadsheet datetime, or Unix seconds (10 digits) or milliseconds (13)."""
    zone = ZoneInfo(tz)
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=zone)
        return int(moment.timestamp())
    if isinstance(value, date):
        return None  # a date alone does not place a measurement in time
    text = _text(value)
    if re.fullmatch(r"[0-9]{10}", text):
        return int(text)
    if re.fullmatch(r"[0-9]{13}", text):
        return int(text) // 1000
    return _time_value(text, zone)


def samples_from_table(table: pd.DataFrame, region: Region, locator: Locator, *, tz: str, source: str,
                       first_row_number: int = 2, now: int | None = None) -> ParsedSurvey:
    """Signal samples of the region from a table of raw values (as ``table_from_file`` reads it). Raises
    ValueError naming the columns found when the position, signal or time column is missing."""
    headers = [str(c).strip() for c in table.columns]
    lat_j, lon_j = _column(headers, LAT_COLUMNS), _column(headers, LON_COLUMNS)
    sig_j, bars_j = _column(headers, SIGNAL_COLUMNS), _column(headers, BARS_COLUMNS)
    time_j = _column(headers, TIME_COLUMNS)
    op_j, net_j = _column(headers, OPERATOR_COLUMNS), _column(headers, NETWORK_COLUMNS)
    missing = [f"no column for {what} (name it {' or '.join(names)})" for what, j, names in (
        ("the latitude", lat_j, LAT_COLUMNS), ("the longitude", lon_j, LON_COLUMNS),
        ("the signal", sig_j if sig_j is not None else bars_j, SIGNAL_COLUMNS + BARS_COLUMNS),
        ("the time", time_j, TIME_COLUMNS)) if j is None]
    if missing:
        raise ValueError("; ".join(missing) + "; the file has columns " + ", ".join(repr(h) for h in headers))
    assert lat_j is not None and lon_j is not None and time_j is not None
    now = int(time.time()) if now is None else now
    place = f"{region.name} ({region.code})"

    parsed: list[tuple[int, float, float, int, float | None, int | None, str, str | None, dict[str, Any]]] = []
    rejects: list[dict[str, Any]] = []
    blank = 0
    for i, row in enumerate(table.itertuples(index=False, name=None)):
        if all(_blank(v) for v in row):
            blank += 1
            continue
        rn = first_row_number + i
        original = {h: v for h, v in zip(headers, row, strict=True) if not _blank(v)}
        problems: list[tuple[str, str]] = []
        lat, lon = _coordinate(row[lat_j]), _coordinate(row[lon_j])
        if _blank(row[lat_j]) or _blank(row[lon_j]):
            problems.append(("position_missing", f"{headers[lat_j]}/{headers[lon_j]} missing"))
        elif lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
            problems.append(("position_invalid", f"{headers[lat_j]} {_quote(row[lat_j])}, {headers[lon_j]} "
                                                 f"{_quote(row[lon_j])} is not a position in decimal degrees"))
        dbm: float | None = None
        bars: int | None = None
        for j in (sig_j, bars_j):
            if j is None or _blank(row[j]):
                continue
            got = signal_value(row[j])
            if got is None or (j == bars_j and got[1] is None):
                problems.append(("signal_invalid", f"{headers[j]} {_quote(row[j])} is not a signal ({SIGNAL_HINT})"))
                continue
            dbm = got[0] if got[0] is not None else dbm
            bars = got[1] if got[1] is not None else bars
        if dbm is None and bars is None and not any(c == "signal_invalid" for c, _ in problems):
            problems.append(("signal_missing", f"the signal is missing ({SIGNAL_HINT})"))
        when = None
        if _blank(row[time_j]):
            problems.append(("time_missing", f"{headers[time_j]} is missing"))
        else:
            when = time_value(row[time_j], tz)
            if when is None:
                problems.append(("time_invalid", f"{headers[time_j]} {_quote(row[time_j])} is not a time "
                                                 "(YYYY-MM-DD HH:MM or DD/MM/YYYY HH:MM)"))
            elif not EARLIEST <= when <= now + FUTURE_SLACK_S:
                problems.append(("time_implausible", f"{headers[time_j]} {_quote(row[time_j])} is before 2015 or "
                                                     "in the future"))
        if problems:
            rejects.append(_reject(rn, problems, original))
            continue
        assert lat is not None and lon is not None and when is not None
        operator = "" if op_j is None or _blank(row[op_j]) else _text(row[op_j])[:60]
        network = None if net_j is None or _blank(row[net_j]) else _text(row[net_j])[:20]
        parsed.append((rn, lat, lon, when, dbm, bars, operator, network, original))

    samples: list[SignalSample] = []
    if parsed:
        located = locator.locate(np.array([p[1] for p in parsed]), np.array([p[2] for p in parsed]))
        desa, _kec, _kab = locator.codes_for(located)
        outside = (located.flags & LocationFlag.OUT_OF_REGION) != 0
        for k, (rn, lat, lon, when, dbm, bars, operator, network, original) in enumerate(parsed):
            if outside[k]:
                rejects.append(_reject(rn, [("outside_region", f"{lat}, {lon} lies outside {place} (lat and lon "
                                                               "swapped?)")], original))
                continue
            samples.append(SignalSample(lat, lon, when, source, dbm=dbm, bars=bars, operator=operator,
                                        network=network, kode_desa=desa[k], h3=int(located.h3[k])))
        rejects.sort(key=lambda r: r["row_number"])
    return ParsedSurvey(samples, rejects, blank)


def _reject(rn: int, problems: list[tuple[str, str]], original: dict[str, Any]) -> dict[str, Any]:
    return {"row_number": rn, "code": problems[0][0],
            "reason": f"row {rn}: " + "; ".join(m for _, m in problems), "original": original}
