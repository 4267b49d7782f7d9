"""Incident records from recap spreadsheets and API objects: parsed column-wise, validated, nothing guessed.

The record format and its rules are issue 4 ("The record format", "Reject, do not guess"):

- columns in Indonesian or English, in any order, case/spacing/dashes/underscores ignored; extra columns are kept
  per row in ``attrs`` (never the caller's number or the notes, which have their own fields);
- a row is rejected, with its row number and a reason naming the column and value, when its id, time or call
  type is missing or unusable, when coordinates are present but unusable, or when its outcome is unknown;
- a row without coordinates but with a desa code or name is placed at that desa's representative point and
  flagged approximate; an unknown desa is not a reject: the row keeps no location and a note says why;
- the caller's number never leaves the parsers: only a keyed hash (HMAC-SHA256) and its last 3 digits.

Batches run column-wise (pandas on Arrow strings; 1M rows in a few seconds): Python loops run only over
distinct values (vocabulary, desa names, caller numbers) and over rejected rows. Small batches (an API post)
run row by row through the same rules, in well under a millisecond a row; a property test feeds both paths
the same random tables and requires identical results.

This module holds the entry points and the two paths; the rules they share live by concern: the format, its
words and its reasons in ``vocabulary``, cell texts in ``cells``, times and numbers in ``values``, caller
numbers in ``callers``, desa named instead of coordinates in ``places``.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from ntpd_map.domain import INCIDENT_COLUMNS, CallType, Category, LocationFlag, LocationSource, Outcome
from ntpd_map.ingest.callers import _canonical_number, _canonical_numbers, _Hasher, _mask_number
from ntpd_map.ingest.cells import (
    _STR,
    _cell_text,
    _given,
    _map_words,
    _missing,
    _quote,
    _said,
    _text_or_none,
    _texts,
)
from ntpd_map.ingest.places import _DesaResolver, _Placement, _resolver_for
from ntpd_map.ingest.values import _EPOCH, _SECOND, _float_value, _parse_floats, _parse_times, _time_value
from ntpd_map.ingest.vocabulary import (
    _BOUNDS,
    _INVALID_TIME,
    _NOT_A_NUMBER,
    _UNKNOWN_CALL_TYPE,
    _UNKNOWN_OUTCOME,
    CALL_TYPE_WORDS,
    CATEGORY_WORDS,
    EARLIEST,
    FIELDS,
    FUTURE_SLACK_S,
    LOCATION_SOURCE_WORDS,
    OUTCOME_WORDS,
    REQUIRED_FIELDS,
    STEP_ORDER,
    TIME_FIELDS,
    _fold_header,
    _fold_word,
    _incomplete_reason,
    _missing_reason,
    agency_kind,
    field_for_header,
)
from ntpd_map.privacy import redact

if TYPE_CHECKING:
    from ntpd_map.geo.boundaries import Region

# ------------------------------------------------------------------------------------------- the batch


@dataclass
class ParsedBatch:
    """Accepted rows (``frame``, ready for ``locate_frame``), rejected rows and the counts of one batch."""

    frame: pd.DataFrame
    rejects: list[dict[str, Any]]
    in_batch_duplicates: int
    blank_rows: int = 0  # entirely empty rows (a spreadsheet's trailing rows); not counted anywhere else

    def summary(self) -> dict[str, Any]:
        reasons = Counter(r["code"] for r in self.rejects)
        return {
            "rows": len(self.frame) + len(self.rejects) + self.in_batch_duplicates,
            "valid": len(self.frame),
            "rejected": len(self.rejects),
            "in_batch_duplicates": self.in_batch_duplicates,
            "blank_rows": self.blank_rows,
            "reasons": dict(sorted(reasons.items())),
        }


_NEVER_IN_ATTRS = ("caller_number", "notes")  # personal data has its own fields (issue 4, UU 27/2022)


def _resolve_columns(
    headers: Sequence[str], column_map: Mapping[str, str] | None
) -> tuple[dict[str, int], list[int]]:
    """Field -> column position, and the positions of extra columns. Two columns meaning one field is an
    error, never a guess; a ``column_map`` entry wins over a column that merely has the field's name."""
    fields: dict[str, int] = {}
    mapped: set[int] = set()
    for user_col, target in (column_map or {}).items():
        name = field_for_header(target)
        if name is None:
            raise ValueError(
                f"--map {user_col}={target}: {target!r} is not a field; use one of "
                + ", ".join(names[0] for names in FIELDS.values())
            )
        matches = [j for j, h in enumerate(headers) if h == user_col] or [
            j for j, h in enumerate(headers) if _fold_header(h) == _fold_header(user_col)
        ]
        if len(matches) != 1:
            raise ValueError(
                f"--map {user_col}={target}: the file has no column {user_col!r}; its columns are "
                + ", ".join(repr(h) for h in headers)
            )
        if name in fields:
            raise ValueError(f"--map names two columns for {FIELDS[name][0]}: "
                             f"{headers[fields[name]]!r} and {user_col!r}")
        fields[name] = matches[0]
        mapped.add(matches[0])
    auto: dict[str, int] = {}
    extras: list[int] = []
    for j, header in enumerate(headers):
        if j in mapped:
            continue
        name = field_for_header(header)
        if name in fields and name in _NEVER_IN_ATTRS:
            raise ValueError(
                f"column {header!r} holds {FIELDS[name][0]} ({name}) but --map chose {headers[fields[name]]!r}; "
                "it cannot be kept as an attribute (caller numbers and notes never are): delete one of them"
            )
        if name is None or name in fields:
            extras.append(j)
        elif name in auto:
            raise ValueError(
                f"columns {headers[auto[name]]!r} and {header!r} both mean {FIELDS[name][0]} ({name}); "
                f"remove one, or choose with --map COLUMN={FIELDS[name][0]}"
            )
        else:
            auto[name] = j
    return {**fields, **auto}, extras


def incidents_from_table(
    table: pd.DataFrame,
    *,
    source: str,
    tz: str,
    region: Region | None,
    caller_key: bytes,
    now: datetime | None = None,
    column_map: Mapping[str, str] | None = None,
    first_row_number: int = 2,
) -> ParsedBatch:
    """Parse and validate a table of raw values (a recap file as read by ``table_from_file``).

    Row numbers start at ``first_row_number`` (2: the spreadsheet row under a header row). Raises ValueError
    for problems of the whole table (a required column missing, two columns for one field, a bad ``tz``);
    problems of single rows become rejects.
    """
    headers = [str(c).strip() for c in table.columns]
    setup = _setup(headers, source=source, tz=tz, region=region, caller_key=caller_key, now=now,
                   column_map=column_map, row_label="row", require_columns=True, raw_attrs=False,
                   row_numbers=first_row_number + np.arange(len(table), dtype="int64"))
    if len(table) <= SMALL_BATCH:
        columns = list(zip(*table.itertuples(index=False, name=None), strict=True)) or [()] * len(headers)
        return _parse_rows(setup, [list(c) for c in columns])
    return _parse_columns(setup, table.reset_index(drop=True))


def incidents_from_records(
    records: Sequence[Mapping[str, Any]],
    *,
    source: str,
    tz: str,
    region: Region | None,
    caller_key: bytes,
    now: datetime | None = None,
    column_map: Mapping[str, str] | None = None,
    first_row_number: int = 0,
) -> ParsedBatch:
    """Parse and validate API objects; a record's row number is its index in ``records``.

    Keys follow the same names as file columns (the English ones are the API's); missing keys are missing
    values (rejected per record where required); extra keys keep their JSON values in ``attrs``. A record that
    is not an object, or that gives one field twice with different values ("id" and "external_id"), is
    rejected. Reasons name each field by the key the sender used for it.
    """
    mapped = {str(k): str(v) for k, v in (column_map or {}).items()}
    for key, target in mapped.items():
        if field_for_header(target) is None:
            raise ValueError(f"map {key}={target}: {target!r} is not a field; use one of " + ", ".join(FIELDS))
    field_of: dict[str, str] = {}
    first_label: dict[str, str] = {}
    rows: list[dict[str, Any]] = []
    positions: list[int] = []
    early: list[dict[str, Any]] = []
    for i, record in enumerate(records):
        rn = first_row_number + i
        if not isinstance(record, Mapping):
            early.append({"row_number": rn, "code": "not_an_object", "original": {},
                          "reason": f"record {rn}: is {type(record).__name__}, not an object"})
            continue
        row: dict[str, Any] = {}
        given_as: dict[str, str] = {}  # per record: which key gave each field
        clash = None
        for key, value in record.items():
            key = str(key)
            if key not in field_of:
                field_of[key] = field_for_header(mapped.get(key, key)) or key
            name = field_of[key]
            if name in row and _cell_text(row[name]).strip() != _cell_text(value).strip():
                clash = f'"{given_as[name]}" and "{key}" give different values for {name}'
            row[name], given_as[name] = value, key
            first_label.setdefault(name, key)
        if clash:
            original = {k: _cell_text(v) for k, v in record.items()}
            early.append({"row_number": rn, "code": "conflicting_fields", "original": original,
                          "reason": f"record {rn}: {clash}"})
            continue
        rows.append(row)
        positions.append(i)
    keys = list(dict.fromkeys(k for r in rows for k in r))
    # reasons name a field as the sender wrote it ("waktu" or "received_at"), so the fix is obvious
    labels = [first_label.get(k, k) for k in keys]
    setup = _setup(labels, source=source, tz=tz, region=region, caller_key=caller_key, now=now, column_map=None,
                   row_label="record", require_columns=False, raw_attrs=True,
                   row_numbers=first_row_number + np.array(positions, dtype="int64"))
    if len(rows) <= SMALL_BATCH:
        batch = _parse_rows(setup, [[r.get(k) for r in rows] for k in keys])
    else:
        # object columns keep each JSON value as sent (an int stays an int in attrs, not 1.0)
        table = pd.DataFrame({label: pd.Series([r.get(k) for r in rows], dtype=object)
                              for k, label in zip(keys, labels, strict=True)}, index=pd.RangeIndex(len(rows)))
        batch = _parse_columns(setup, table)
    if early:
        batch.rejects = sorted(batch.rejects + early, key=lambda r: r["row_number"])
    return batch


#: Up to this many rows a batch is parsed row by row: a single API post then costs ~1-2 ms (mostly building
#: its DataFrame), where the column-wise path pays ~30 ms of fixed pandas overhead; the two break even near
#: 1,000 rows. Both paths give identical results (a property test runs both on the same random tables).
SMALL_BATCH = 256


@dataclass
class _Setup:
    """What both paths need, validated once per batch."""

    source: str
    tz: str
    zone: tzinfo
    earliest: int
    latest: int
    local_now: str
    headers: list[str]
    fields: dict[str, int]
    extras: list[int]
    names: dict[str, str]  # how reasons name each field: as the file wrote it, else a default name
    row_label: str
    raw_attrs: bool
    region: Region | None
    caller_key: bytes
    row_numbers: np.ndarray


def _setup(
    headers: list[str],
    *,
    source: str,
    tz: str,
    region: Region | None,
    caller_key: bytes,
    now: datetime | None,
    column_map: Mapping[str, str] | None,
    row_label: str,
    require_columns: bool,
    raw_attrs: bool,
    row_numbers: np.ndarray,
) -> _Setup:
    if not source or not str(source).strip():
        raise ValueError("source is empty: name the center or system the records come from (--source)")
    try:
        zone = ZoneInfo(tz)
    except (ValueError, ZoneInfoNotFoundError) as exc:
        raise ValueError(f"unknown time zone {tz!r}; use an IANA name such as Asia/Makassar") from exc
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    if len(set(headers)) != len(headers):
        dup = next(h for h in headers if headers.count(h) > 1)
        raise ValueError(f"column {dup!r} appears more than once")
    fields, extras = _resolve_columns(headers, column_map)
    missing = [f for f in REQUIRED_FIELDS if f not in fields]
    if require_columns and missing:
        raise ValueError(
            "no column for " + ", ".join(f"{FIELDS[f][0]} ({f})" for f in missing)
            + "; the columns are " + ", ".join(repr(h) for h in headers)
            + f". Rename a column, or map it with --map COLUMN={FIELDS[missing[0]][0]}"
        )
    names = {f: headers[fields[f]] if f in fields else (f if row_label == "record" else aliases[0])
             for f, aliases in FIELDS.items()}
    earliest = datetime.fromisoformat(EARLIEST).replace(tzinfo=zone)
    return _Setup(
        source=str(source).strip(), tz=tz, zone=zone,
        earliest=(earliest - _EPOCH) // _SECOND,
        latest=int(now.timestamp()) + FUTURE_SLACK_S,
        local_now=f"now is {now.astimezone(zone):%Y-%m-%d %H:%M} {tz}",
        headers=headers, fields=fields, extras=extras, names=names, row_label=row_label, raw_attrs=raw_attrs,
        region=region, caller_key=caller_key, row_numbers=row_numbers,
    )

# ------------------------------------------------------------------------------------------- column-wise


def _parse_columns(s: _Setup, table: pd.DataFrame) -> ParsedBatch:
    """The batch path: every rule as whole-column operations (1M rows in a few seconds).

    Each step checks one group of fields over the whole table and notes its problems; the rows with none are
    accepted. The checks run in the order of the row-wise path, so a row's reasons read the same and its code
    (the first reason's) is the same.
    """
    c = _Columns(s, table)
    ids = _column_ids(c)
    seconds, valid_time = _column_times(c)
    call_type = _column_call_types(c)
    outcome = _column_outcomes(c, call_type)
    coords = _column_coordinates(c)
    places = _column_places(c, coords)
    rejected, rejects = _column_rejects(c)

    keep = np.flatnonzero(c.active & ~rejected)
    category, category_label = _column_categories(c)
    agency, kind = _column_agencies(c)
    loc_source, source_labels = _column_location_sources(c, places.placed)
    caller_hash, caller_last3 = _column_callers(c, keep)
    frame = _frame(s, {
        "external_id": ids.iloc[keep].to_numpy(dtype=object),
        "received_at": seconds["received_at"][keep],
        "call_type": call_type[keep],
        "category": category[keep],
        "category_label": category_label[keep],
        "outcome": outcome[keep],
        "agency": agency[keep],
        "agency_kind": kind[keep],
        "lat": coords.lat[keep],
        "lon": coords.lon[keep],
        "location_source": loc_source[keep],
        "kode_desa": places.kode_desa[keep],
        "flags": places.flags[keep],
        **{f: pd.arrays.IntegerArray(seconds[f][keep], ~valid_time[f][keep]) for f in TIME_FIELDS[1:]},
        "caller_hash": caller_hash,
        "caller_last3": caller_last3,
        "notes": _text_or_none(c.col("notes").iloc[keep]),
        "attrs": _attrs(s, table, c.texts, keep, address_unused=~(places.placeable[keep]),
                        location_notes=places.notes[keep], source_labels=source_labels[keep]),
        "row_number": s.row_numbers[keep],
    })
    return ParsedBatch(frame=frame, rejects=rejects, in_batch_duplicates=int(c.dup.sum()),
                       blank_rows=int((~c.nonblank).sum()))


class _Columns:
    """One table on the batch path: its columns as texts, the rows that count, and the problems found so far."""

    def __init__(self, s: _Setup, table: pd.DataFrame) -> None:
        self.s, self.table, self.n = s, table, len(table)
        self.texts = [_texts(table.iloc[:, j]) for j in range(len(s.headers))]
        self._empty = pd.Series([""] * self.n, dtype=_STR)
        self.nonblank = np.zeros(self.n, dtype=bool)
        for t in self.texts:
            self.nonblank |= (t != "").to_numpy(dtype=bool)
        ids = self.col("external_id")
        self.has_id = (ids != "").to_numpy(dtype=bool)
        # a repeated id: the last row wins, the earlier ones are in-batch duplicates (neither kept nor rejected)
        self.dup = ids.duplicated(keep="last").to_numpy(dtype=bool) & self.has_id
        self.active = self.nonblank & ~self.dup
        self.problems: list[tuple[str, np.ndarray, Callable[[int], str]]] = []  # (code, mask, message for a row)

    def col(self, name: str) -> pd.Series:
        """The texts of a field's column; "" throughout when the table has none."""
        return self.texts[self.s.fields[name]] if name in self.s.fields else self._empty

    def problem(self, code: str, mask: np.ndarray, message: Callable[[int], str]) -> None:
        """Note a problem of the rows in ``mask`` that count (not blank, not duplicates); ``message`` says it
        for one row, and is called only for the rows rejected."""
        mask = mask & self.active
        if mask.any():
            self.problems.append((code, mask, message))


def _column_ids(c: _Columns) -> pd.Series:
    """The ids; a row without one is rejected."""
    c.problem("external_id_missing", ~c.has_id, lambda i: _missing_reason(c.s.names, "external_id"))
    return c.col("external_id")


def _before(label: str, text: pd.Series) -> Callable[[int], str]:
    """The reason's end for row i: "is before <label> "<its value>"."."""
    return lambda i: f"is before {label} {_quote(text.iat[i])}"


def _column_times(c: _Columns) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Per time field: (Unix seconds, valid). The received time is required; a time that is not one, lies in
    the future or before 2015, or (for the later times) before the received time is rejected."""
    s, names, n = c.s, c.s.names, c.n
    seconds: dict[str, np.ndarray] = {}
    valid_time: dict[str, np.ndarray] = {}
    received_text = c.col("received_at")
    for f in TIME_FIELDS:
        t, label = c.col(f), names[f]
        present = (t != "").to_numpy(dtype=bool)
        secs, ok = _parse_times(t, s.tz) if present.any() else (np.zeros(n, "int64"), np.zeros(n, bool))
        seconds[f], valid_time[f] = secs, ok
        if f == "received_at":
            c.problem("received_at_missing", ~present, lambda i: _missing_reason(names, "received_at"))
        c.problem(f"{f}_invalid", present & ~ok, _said(label, t, _INVALID_TIME))
        c.problem(f"{f}_future", ok & (secs > s.latest), _said(label, t, f"is in the future ({s.local_now})"))
        c.problem(f"{f}_before_2015", ok & (secs < s.earliest), _said(label, t, f"is before {EARLIEST}"))
        if f != "received_at":
            # a negative response time would corrupt the recap's medians (issue 4 "Recap")
            before = ok & valid_time["received_at"] & (secs < seconds["received_at"])
            c.problem(f"{f}_before_received", before, _said(label, t, _before(names["received_at"], received_text)))
    for later, earlier, unless in STEP_ORDER:  # arrived before dispatched, resolved before arrived: impossible
        both = valid_time[later] & valid_time[earlier] & (seconds[later] < seconds[earlier])
        if unless is not None:
            both &= ~valid_time[unless]
        c.problem(f"{later}_before_{earlier.removesuffix('_at')}", both,
                  _said(names[later], c.col(later), _before(names[earlier], c.col(earlier))))
    return seconds, valid_time


def _column_call_types(c: _Columns) -> np.ndarray:
    """The call type of each row (None where unknown); a row without one, or with an unknown word, is rejected."""
    names = c.s.names
    call_text = c.col("call_type")
    call_type = _map_words(call_text, lambda u: CALL_TYPE_WORDS.get(_fold_word(u)))
    has_call = (call_text != "").to_numpy(dtype=bool)
    c.problem("call_type_missing", ~has_call, lambda i: _missing_reason(names, "call_type"))
    c.problem("call_type_unknown", has_call & ~_given(call_type), _said(names["call_type"], call_text,
                                                                         _UNKNOWN_CALL_TYPE))
    return call_type


def _column_outcomes(c: _Columns, call_type: np.ndarray) -> np.ndarray:
    """The outcome of each row; an unknown word is rejected, a missing one is open for a genuine call and
    resolved for any other."""
    out_text = c.col("outcome")
    outcome = _map_words(out_text, lambda u: OUTCOME_WORDS.get(_fold_word(u)))
    has_outcome = (out_text != "").to_numpy(dtype=bool)
    c.problem("outcome_unknown", has_outcome & ~_given(outcome), _said(c.s.names["outcome"], out_text,
                                                                        _UNKNOWN_OUTCOME))
    genuine = call_type == str(CallType.GENUINE)
    outcome[~has_outcome] = np.where(genuine[~has_outcome], str(Outcome.OPEN), str(Outcome.RESOLVED))
    return outcome


@dataclass
class _Coordinates:
    lat: np.ndarray  # float64, NaN where not given or not a number
    lon: np.ndarray
    has_lat: np.ndarray  # the cell holds something
    has_lon: np.ndarray


def _column_coordinates(c: _Columns) -> _Coordinates:
    """lat and lon as numbers; a value that is not a number or is out of range, or one given without the
    other, is rejected."""
    names, n = c.s.names, c.n
    lat_text, lon_text = c.col("lat"), c.col("lon")
    has_lat = (lat_text != "").to_numpy(dtype=bool)
    has_lon = (lon_text != "").to_numpy(dtype=bool)
    lat = _parse_floats(lat_text) if has_lat.any() else np.full(n, np.nan)
    lon = _parse_floats(lon_text) if has_lon.any() else np.full(n, np.nan)
    for name, text, present, values in (("lat", lat_text, has_lat, lat), ("lon", lon_text, has_lon, lon)):
        finite = np.isfinite(values)
        bound = _BOUNDS[name]
        c.problem("coordinates_invalid", present & ~finite, _said(names[name], text, _NOT_A_NUMBER))
        with np.errstate(invalid="ignore"):
            outside = finite & (np.abs(values) > bound)
        c.problem("coordinates_out_of_range", outside, _said(names[name], text, f"is outside -{bound}..{bound}"))
    c.problem("coordinates_incomplete", has_lat ^ has_lon, lambda i: _incomplete_reason(names, bool(has_lat[i])))
    return _Coordinates(lat=lat, lon=lon, has_lat=has_lat, has_lon=has_lon)


@dataclass
class _ColumnPlaces:
    placeable: np.ndarray  # rows that name a place and give no coordinates
    placed: np.ndarray  # ... and whose place is a desa of the region
    kode_desa: np.ndarray  # object: the desa's code where placed, else None
    flags: np.ndarray  # int64: APPROXIMATE where placed
    notes: np.ndarray  # object: why a named place was not placed, else None


def _column_places(c: _Columns, coords: _Coordinates) -> _ColumnPlaces:
    """Rows that name a desa (code, name, kecamatan) instead of giving coordinates are placed at its point,
    written into ``coords``; one lookup per distinct (code, desa, kecamatan). An ambiguous name is rejected, a
    place not found is a note."""
    n = c.n
    kode_text, desa_text, kec_text = c.col("kode_wilayah"), c.col("desa"), c.col("kecamatan")
    has_place = ((kode_text != "") | (desa_text != "") | (kec_text != "")).to_numpy(dtype=bool)
    placeable = c.active & has_place & ~coords.has_lat & ~coords.has_lon
    kode_desa = np.full(n, None, dtype=object)
    flags = np.zeros(n, dtype="int64")
    location_notes = np.full(n, None, dtype=object)
    placed = np.zeros(n, dtype=bool)
    if placeable.any():
        rows = np.flatnonzero(placeable)
        # a tuple of the three texts, never a joined string: a cell may hold any character (the separator too)
        keys = pd.MultiIndex.from_arrays([kode_text.iloc[rows].to_numpy(), desa_text.iloc[rows].to_numpy(),
                                          kec_text.iloc[rows].to_numpy()])
        codes, uniques = keys.factorize()
        resolver = _resolver_for(c.s.region)
        results = [resolver.resolve(str(k), str(d), str(kec), c.s.names) for k, d, kec in uniques]
        desa_idx = np.array([-1 if r.desa is None else r.desa for r in results], dtype="int64")[codes]
        found = desa_idx >= 0
        if found.any():
            ok_rows, chosen = rows[found], desa_idx[found]
            points = resolver.points(chosen)
            coords.lat[ok_rows], coords.lon[ok_rows] = points[:, 1], points[:, 0]
            kode_desa[ok_rows] = np.array(resolver.codes, dtype=object)[chosen]
            flags[ok_rows] |= LocationFlag.APPROXIMATE
            placed[ok_rows] = True
        location_notes[rows] = np.array([r.note for r in results], dtype=object)[codes]
        reject_text = np.full(n, None, dtype=object)
        reject_text[rows] = np.array([r.reject for r in results], dtype=object)[codes]
        c.problem("desa_ambiguous", _given(reject_text), lambda i: str(reject_text[i]))
    return _ColumnPlaces(placeable=placeable, placed=placed, kode_desa=kode_desa, flags=flags, notes=location_notes)


def _column_rejects(c: _Columns) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """(rejected rows, their rejects): each row's reasons joined in the order noted, the first one's code
    counted, the original values kept (the caller's number masked)."""
    s, table, texts = c.s, c.table, c.texts
    rejected = np.zeros(c.n, dtype=bool)
    for _, mask, _ in c.problems:
        rejected |= mask
    reasons: dict[int, list[tuple[str, str]]] = {}
    for code, mask, message in c.problems:
        for pos in np.flatnonzero(mask).tolist():
            reasons.setdefault(pos, []).append((code, message(pos)))
    bad = sorted(reasons)
    # originals column by column: one .iloc per column, not one .iat per cell (20k rejects: 2 s -> 0.1 s)
    cells = [texts[j].iloc[bad].tolist() for j in range(len(s.headers))]
    absent = [table.iloc[bad, j].map(_missing).tolist() if s.raw_attrs else [False] * len(bad)
              for j in range(len(s.headers))]  # a record's original holds only the keys it sent
    rejects = [
        _reject(s, i, reasons[i], {h: cells[j][k] for j, h in enumerate(s.headers) if not absent[j][k]})
        for k, i in enumerate(bad)
    ]
    return rejected, rejects


def _column_categories(c: _Columns) -> tuple[np.ndarray, np.ndarray]:
    """(category, category label): an unknown category is other and keeps its word as the label (issue 4)."""
    cat_text = c.col("category")
    has_cat = (cat_text != "").to_numpy(dtype=bool)
    category = _map_words(cat_text, lambda u: CATEGORY_WORDS.get(_fold_word(u)))
    category_label = np.full(c.n, None, dtype=object)
    unknown_cat = has_cat & ~_given(category)
    category[unknown_cat] = str(Category.OTHER)
    category_label[unknown_cat] = cat_text.to_numpy(dtype=object)[unknown_cat]
    category[~has_cat] = None
    return category, category_label


def _column_agencies(c: _Columns) -> tuple[np.ndarray, np.ndarray]:
    """(agency as written, its kind), None where not given."""
    agency_text = c.col("agency")
    return _text_or_none(agency_text), _map_words(agency_text, lambda u: agency_kind(u) if u else None)


def _column_location_sources(c: _Columns, placed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(location source, label kept in attrs): an unknown word is "unknown" with its label kept, as a category
    is; a row without one is "address" when placed at its desa, else "unknown"."""
    src_text = c.col("location_source")
    has_src = (src_text != "").to_numpy(dtype=bool)
    loc_source = _map_words(src_text, lambda u: LOCATION_SOURCE_WORDS.get(_fold_word(u)))
    src_unknown = has_src & ~_given(loc_source)
    loc_source[~has_src] = np.where(placed[~has_src], str(LocationSource.ADDRESS), str(LocationSource.UNKNOWN))
    loc_source[src_unknown] = str(LocationSource.UNKNOWN)
    source_labels = np.full(c.n, None, dtype=object)
    source_labels[src_unknown] = src_text.to_numpy(dtype=object)[src_unknown]
    return loc_source, source_labels


def _column_callers(c: _Columns, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(keyed hash, last 3 digits) of the caller's number of each kept row; one hash per distinct number."""
    caller_hash = np.full(len(keep), None, dtype=object)
    caller_last3 = np.full(len(keep), None, dtype=object)
    if "caller_number" in c.s.fields:
        numbers = _canonical_numbers(c.col("caller_number").iloc[keep])
        if (numbers != "").any():
            hcodes, uniques = pd.factorize(numbers)
            distinct = np.asarray(uniques, dtype=object).tolist()
            hashes = np.array([*_Hasher(c.s.caller_key).hex_digests(distinct), None], dtype=object)
            hashes[[i for i, u in enumerate(distinct) if not u]] = None
            caller_hash = hashes[hcodes]
            caller_last3 = _text_or_none(numbers.str.slice(-3))
    return caller_hash, caller_last3


def _reject(s: _Setup, i: int, reasons: Sequence[tuple[str, str]], original: dict[str, Any]) -> dict[str, Any]:
    caller = s.fields.get("caller_number")
    if caller is not None and original.get(s.headers[caller]):
        original[s.headers[caller]] = _mask_number(original[s.headers[caller]])  # rejects are stored and written

    # a number typed into another column (keterangan, a name) is masked too, and so is one a reason quotes
    for key, value in original.items():
        if isinstance(value, str):
            original[key] = redact(value)
    rn = int(s.row_numbers[i])
    return {
        "row_number": rn,
        "code": reasons[0][0],
        "reason": redact(f"{s.row_label} {rn}: " + "; ".join(m for _, m in reasons)),
        "original": original,
    }


def _frame(s: _Setup, columns: Mapping[str, Any]) -> pd.DataFrame:
    """The accepted rows in the stores' columns (INCIDENT_COLUMNS) plus row_number."""
    kept = len(columns["row_number"])
    data: dict[str, Any] = {}
    for name in (*INCIDENT_COLUMNS, "row_number"):
        if name in ("received_at", "flags", "row_number"):
            data[name] = np.asarray(columns[name], dtype="int64")
        elif name in ("lat", "lon"):
            data[name] = np.asarray(columns[name], dtype="float64")
        elif name in TIME_FIELDS:
            data[name] = pd.array(columns[name], dtype="Int64")
        elif name == "simulated":
            data[name] = np.zeros(kept, dtype=bool)
        else:
            values = np.empty(kept, dtype=object)
            if name == "source":
                values[:] = s.source
            elif name in columns:  # kode_kec, kode_kab, h3 stay None: locate_frame fills them
                values[:] = columns[name]
            # object columns, not inferred Arrow strings: the stores read Python objects back, and the
            # inference alone costs ~1 s at 1M rows
            data[name] = pd.Series(values, dtype=object, copy=False)
    return pd.DataFrame(data, columns=[*INCIDENT_COLUMNS, "row_number"])


def _attrs(
    s: _Setup,
    table: pd.DataFrame,
    texts: list[pd.Series],
    keep: np.ndarray,
    *,
    address_unused: np.ndarray,
    location_notes: np.ndarray,
    source_labels: np.ndarray,
) -> list[dict[str, Any]]:
    """Per kept row: its extra columns (JSON values for API records, texts for files), the desa/kecamatan/code
    it named when its coordinates made them unnecessary, and notes on its location. Nothing is lost."""
    columns: list[tuple[str, np.ndarray]] = []
    for j in s.extras:
        if s.raw_attrs:
            values = np.array([None if _missing(v) else v for v in table.iloc[keep, j].tolist()] + [None],
                              dtype=object)[:-1]
        else:
            values = _text_or_none(texts[j].iloc[keep])
        columns.append((s.headers[j], values))
    for f in ("desa", "kecamatan", "kode_wilayah"):
        if f in s.fields:
            values = _text_or_none(texts[s.fields[f]].iloc[keep])
            values[~address_unused] = None
            if _given(values).any():
                columns.append((s.headers[s.fields[f]], values))
    if len(columns) == 1:  # the usual case (an operator or shift column): half the time of the general one
        name, only = columns[0][0], columns[0][1].tolist()
        attrs = [{name: v} if v is not None else {} for v in only]
    elif columns:
        names = [c for c, _ in columns]
        attrs = [{k: v for k, v in zip(names, vals, strict=True) if v is not None}
                 for vals in zip(*(v.tolist() for _, v in columns), strict=True)]
    else:
        attrs = [{} for _ in range(len(keep))]
    for i in np.flatnonzero(_given(location_notes)):
        attrs[i]["_location_note"] = location_notes[i]
    for i in np.flatnonzero(_given(source_labels)):
        attrs[i]["_location_source_label"] = source_labels[i]
    return attrs


# ------------------------------------------------------------------------------------------- row-wise


def _parse_rows(s: _Setup, raw: list[list[Any]]) -> ParsedBatch:
    """The small-batch path: the same rules as ``_parse_columns``, one row at a time in plain Python.

    The checks run in the same order as the column-wise steps, each adding its reasons for the row; a row with
    none is accepted.
    """
    r = _Rows(s, raw)
    out: dict[str, list[Any]] = {name: [] for name in (
        "external_id", "received_at", "call_type", "category", "category_label", "outcome", "agency",
        "agency_kind", "lat", "lon", "location_source", "kode_desa", "flags", *TIME_FIELDS[1:], "caller_hash",
        "caller_last3", "notes", "attrs", "row_number")}
    rejects: list[dict[str, Any]] = []
    duplicates = 0
    for i in range(r.n):
        if not r.nonblank[i]:
            continue
        if r.ids[i] and r.last[r.ids[i]] != i:
            duplicates += 1
            continue
        reasons: list[tuple[str, str]] = []
        if not r.ids[i]:
            reasons.append(("external_id_missing", _missing_reason(s.names, "external_id")))
        seconds = _row_times(r, i, reasons)
        call_type = _row_call_type(r, i, reasons)
        outcome = _row_outcome(r, i, call_type, reasons)
        coords = _row_coordinates(r, i, reasons)
        placement = _row_placement(r, i, coords, reasons)
        if reasons:
            original = {h: r.texts[j][i] for j, h in enumerate(s.headers)
                        if not s.raw_attrs or not _missing(raw[j][i])}
            rejects.append(_reject(s, i, reasons, original))
            continue
        row = _row_accepted(r, i, seconds=seconds, call_type=call_type, outcome=outcome, coords=coords,
                            placement=placement)
        for name, item in row.items():
            out[name].append(item)
    return ParsedBatch(frame=_frame(s, out), rejects=rejects, in_batch_duplicates=duplicates,
                       blank_rows=r.n - sum(r.nonblank))


class _Rows:
    """One table on the small-batch path: its columns as texts, and what is looked up once (places, the hasher)."""

    def __init__(self, s: _Setup, raw: list[list[Any]]) -> None:
        self.s, self.raw, self.n = s, raw, len(s.row_numbers)
        self.texts = [[_cell_text(v).strip() for v in column] for column in raw]
        self._blank = [""] * self.n
        self.ids = self.col("external_id")
        self.last = {v: i for i, v in enumerate(self.ids) if v}  # a repeated id: the last row wins
        self.nonblank = [any(t[i] for t in self.texts) for i in range(self.n)]
        self.resolver: _DesaResolver | None = None  # built on the first row that names a place
        self.places: dict[tuple[str, str, str], _Placement] = {}
        self.hasher: _Hasher | None = None  # built on the first caller number

    def col(self, name: str) -> list[str]:
        """The texts of a field's column; "" throughout when the table has none."""
        return self.texts[self.s.fields[name]] if name in self.s.fields else self._blank


def _row_times(r: _Rows, i: int, reasons: list[tuple[str, str]]) -> dict[str, int | None]:
    """Unix seconds of each time of row i (None where missing or invalid), as ``_column_times`` checks them."""
    s, names = r.s, r.s.names
    seconds: dict[str, int | None] = {}
    for f in TIME_FIELDS:
        t, label = r.col(f)[i], names[f]
        secs = _time_value(t, s.zone) if t else None
        seconds[f] = secs
        if not t:
            if f == "received_at":
                reasons.append(("received_at_missing", _missing_reason(names, f)))
            continue
        if secs is None:
            reasons.append((f"{f}_invalid", f"{label} {_quote(t)} {_INVALID_TIME}"))
            continue
        if secs > s.latest:
            reasons.append((f"{f}_future", f"{label} {_quote(t)} is in the future ({s.local_now})"))
        if secs < s.earliest:
            reasons.append((f"{f}_before_2015", f"{label} {_quote(t)} is before {EARLIEST}"))
        received = seconds["received_at"]
        if f != "received_at" and received is not None and secs < received:
            reasons.append((f"{f}_before_received", f"{label} {_quote(t)} is before {names['received_at']} "
                            f"{_quote(r.col('received_at')[i])}"))
    for later, earlier, unless in STEP_ORDER:
        a, b = seconds[later], seconds[earlier]
        if a is not None and b is not None and a < b and (unless is None or seconds[unless] is None):
            reasons.append((f"{later}_before_{earlier.removesuffix('_at')}",
                            f"{names[later]} {_quote(r.col(later)[i])} is before {names[earlier]} "
                            f"{_quote(r.col(earlier)[i])}"))
    return seconds


def _row_call_type(r: _Rows, i: int, reasons: list[tuple[str, str]]) -> str | None:
    """The call type of row i, as ``_column_call_types`` checks it."""
    names = r.s.names
    call_text = r.col("call_type")[i]
    call_type = CALL_TYPE_WORDS.get(_fold_word(call_text)) if call_text else None
    if not call_text:
        reasons.append(("call_type_missing", _missing_reason(names, "call_type")))
    elif call_type is None:
        reasons.append(("call_type_unknown", f"{names['call_type']} {_quote(call_text)} {_UNKNOWN_CALL_TYPE}"))
    return call_type


def _row_outcome(r: _Rows, i: int, call_type: str | None, reasons: list[tuple[str, str]]) -> str | None:
    """The outcome of row i, as ``_column_outcomes`` checks and defaults it."""
    out_text = r.col("outcome")[i]
    outcome = OUTCOME_WORDS.get(_fold_word(out_text)) if out_text else (
        str(Outcome.OPEN) if call_type == str(CallType.GENUINE) else str(Outcome.RESOLVED))
    if outcome is None:
        reasons.append(("outcome_unknown", f"{r.s.names['outcome']} {_quote(out_text)} {_UNKNOWN_OUTCOME}"))
    return outcome


def _row_coordinates(r: _Rows, i: int, reasons: list[tuple[str, str]]) -> dict[str, float]:
    """lat and lon of row i as ``_column_coordinates`` checks them: a key for each cell that holds something
    (NaN when it is not a number)."""
    names = r.s.names
    coords: dict[str, float] = {}
    for name in ("lat", "lon"):
        t = r.col(name)[i]
        value = _float_value(t) if t else None
        if not t:
            continue
        if value is None or not math.isfinite(value):
            reasons.append(("coordinates_invalid", f"{names[name]} {_quote(t)} {_NOT_A_NUMBER}"))
        elif abs(value) > _BOUNDS[name]:
            bound = _BOUNDS[name]
            reasons.append(("coordinates_out_of_range", f"{names[name]} {_quote(t)} is outside -{bound}..{bound}"))
        coords[name] = math.nan if value is None else value
    has_lat, has_lon = bool(r.col("lat")[i]), bool(r.col("lon")[i])
    if has_lat != has_lon:
        reasons.append(("coordinates_incomplete", _incomplete_reason(names, has_lat)))
    return coords


def _row_placement(
    r: _Rows, i: int, coords: dict[str, float], reasons: list[tuple[str, str]]
) -> _Placement | None:
    """Where row i's named desa is, when it names one and gives no coordinates (as ``_column_places``); one
    lookup per distinct (code, desa, kecamatan) in the batch. An ambiguous name is a reason."""
    place_key = (r.col("kode_wilayah")[i], r.col("desa")[i], r.col("kecamatan")[i])
    if not any(place_key) or coords:
        return None
    if place_key not in r.places:
        r.resolver = r.resolver or _resolver_for(r.s.region)
        r.places[place_key] = r.resolver.resolve(*place_key, r.s.names)
    placement = r.places[place_key]
    if placement.reject:
        reasons.append(("desa_ambiguous", placement.reject))
    return placement


def _row_accepted(
    r: _Rows,
    i: int,
    *,
    seconds: dict[str, int | None],
    call_type: str | None,
    outcome: str | None,
    coords: dict[str, float],
    placement: _Placement | None,
) -> dict[str, Any]:
    """Row i, accepted, in the columns of ``_frame``: the fields checked above, and what the column-wise path
    fills in after its rejects (category, agency, location source, caller number, attrs)."""
    s = r.s
    cat_text = r.col("category")[i]
    category = CATEGORY_WORDS.get(_fold_word(cat_text)) if cat_text else None
    agency = r.col("agency")[i] or None
    src_text = r.col("location_source")[i]
    source = LOCATION_SOURCE_WORDS.get(_fold_word(src_text)) if src_text else None
    kode_desa, flags = None, 0
    lat, lon = coords.get("lat", math.nan), coords.get("lon", math.nan)
    if placement is not None and placement.desa is not None and r.resolver is not None:
        (lon, lat), = r.resolver.points(np.array([placement.desa])).tolist()
        kode_desa, flags = r.resolver.codes[placement.desa], LocationFlag.APPROXIMATE
    number = _canonical_number(r.col("caller_number")[i])
    if number:
        r.hasher = r.hasher or _Hasher(s.caller_key)
        (digest,) = r.hasher.hex_digests([number])
    return {
        "external_id": r.ids[i],
        "received_at": seconds["received_at"],
        "call_type": call_type,
        "category": str(Category.OTHER) if cat_text and category is None else category,
        "category_label": cat_text if cat_text and category is None else None,
        "outcome": outcome,
        "agency": agency,
        "agency_kind": agency_kind(agency) if agency else None,
        "lat": lat,
        "lon": lon,
        "location_source": (source or str(LocationSource.UNKNOWN)) if src_text else (
            str(LocationSource.ADDRESS) if kode_desa else str(LocationSource.UNKNOWN)),
        "kode_desa": kode_desa,
        "flags": flags,
        **{f: seconds[f] for f in TIME_FIELDS[1:]},
        "caller_hash": digest if number else None,
        "caller_last3": number[-3:] if number else None,
        "notes": r.col("notes")[i] or None,
        "attrs": _row_attrs(r, i, placement, source_label=src_text if src_text and source is None else None),
        "row_number": int(s.row_numbers[i]),
    }


def _row_attrs(r: _Rows, i: int, placement: _Placement | None, *, source_label: str | None) -> dict[str, Any]:
    """Row i's extra columns, the desa/kecamatan/code it named when they were not looked up, and notes on its
    location, as ``_attrs`` gives them. Nothing is lost."""
    s, fields, texts, raw = r.s, r.s.fields, r.texts, r.raw
    attrs: dict[str, Any] = {}
    for j in s.extras:
        cell = raw[j][i] if s.raw_attrs else texts[j][i]
        if not (_missing(cell) if s.raw_attrs else cell == ""):
            attrs[s.headers[j]] = cell
    if placement is None:
        for f in ("desa", "kecamatan", "kode_wilayah"):
            if f in fields and texts[fields[f]][i]:
                attrs[s.headers[fields[f]]] = texts[fields[f]][i]
    elif placement.note:
        attrs["_location_note"] = placement.note
    if source_label:
        attrs["_location_source_label"] = source_label
    return attrs
