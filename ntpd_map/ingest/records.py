"""Incident records from recap spreadsheets and API objects: parsed column-wise, validated, nothing guessed.

The record format and its rules are issue 4 ("The record format", "Reject, do not guess"):

- columns in Indonesian or English, in any order, case/spacing/dashes/underscores ignored; extra columns are kept
  per row in ``attrs`` (never the caller's number or the notes, which have their own fields);
- a row is rejected, with its row number and a reason naming the column and value, when its id, time or call
  type is missing or unusable, when coordinates are present but unusable, or when its outcome is unknown;
- a row without coordinates but with a desa code or name is placed at that desa's representative point and
  flagged approximate; an unknown desa is not a reject: the row keeps no location and a note says why;
- the caller's number never leaves this module: only a keyed hash (HMAC-SHA256) and its last 3 digits.

Batches run column-wise (pandas on Arrow strings; 1M rows in a few seconds): Python loops run only over
distinct values (vocabulary, desa names, caller numbers) and over rejected rows. Small batches (an API post)
run row by row through the same rules, in well under a millisecond a row; a property test feeds both paths
the same random tables and requires identical results.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from ntpd_map.domain import (
    INCIDENT_COLUMNS,
    AgencyKind,
    CallType,
    Category,
    LocationFlag,
    LocationSource,
    Outcome,
    Vocabulary,
)
from ntpd_map.privacy import redact

if TYPE_CHECKING:
    from ntpd_map.geo.boundaries import Region

# ------------------------------------------------------------------------------------------- the format

#: Our fields: (Indonesian column name, English alias, further accepted names). The first name is the one
#: recaps use; the English alias is what the API documents.
FIELDS: dict[str, tuple[str, ...]] = {
    "external_id": ("id", "external_id"),
    "received_at": ("waktu", "received_at"),
    "call_type": ("jenis_panggilan", "call_type"),
    "category": ("kategori", "category"),
    "agency": ("instansi", "agency"),
    "outcome": ("status", "outcome"),
    "lat": ("lat", "latitude"),
    "lon": ("lon", "longitude", "lng"),
    "desa": ("desa", "village", "kelurahan", "desa/kelurahan"),
    "kecamatan": ("kecamatan", "subdistrict"),
    "kode_wilayah": ("kode_wilayah", "kode_desa", "region_code"),
    "location_source": ("lokasi_sumber", "location_source"),
    "dispatched_at": ("waktu_dispatch", "dispatched_at"),
    "arrived_at": ("waktu_tiba", "arrived_at"),
    "resolved_at": ("waktu_selesai", "resolved_at"),
    # the usual headers for a phone number are all read as the caller's number, so that a recap's "No HP"
    # column is hashed instead of landing verbatim in attrs (UU 27/2022; issue 4 "Caller numbers")
    "caller_number": (
        "nomor_penelepon", "caller_number", "no_penelepon", "nomor_telepon", "no_telepon", "no_telp",
        "nomor_hp", "no_hp", "phone", "phone_number", "msisdn",
    ),
    "notes": ("keterangan", "notes"),
}
REQUIRED_FIELDS = ("external_id", "received_at", "call_type")
TIME_FIELDS = ("received_at", "dispatched_at", "arrived_at", "resolved_at")
#: Reasons are reported under these codes in ParsedBatch.summary()["reasons"].
REASON_CODES = (
    "not_an_object",
    "conflicting_fields",
    "external_id_missing",
    "received_at_missing",
    *(f"{f}_{p}" for f in TIME_FIELDS for p in ("invalid", "future", "before_2015")),
    *(f"{f}_before_received" for f in TIME_FIELDS[1:]),
    "call_type_missing",
    "call_type_unknown",
    "outcome_unknown",
    "coordinates_invalid",
    "coordinates_out_of_range",
    "coordinates_incomplete",
    "desa_ambiguous",
)
EARLIEST = "2015-01-01"  # issue 4: a time before 2015 is a typo, not a record
FUTURE_SLACK_S = 300  # clocks of call-taking PCs drift; 5 minutes ahead is still "now"
TIME_HINT = "use YYYY-MM-DD HH:MM or DD/MM/YYYY HH:MM"


def _fold_header(text: str) -> str:
    return re.sub(r"[\s_\-.]+", "", str(text)).casefold()


_HEADER_TO_FIELD = {_fold_header(name): f for f, names in FIELDS.items() for name in names}


def field_for_header(header: str) -> str | None:
    """Our field for a column header ("Jenis Panggilan" -> "call_type"), or None for an extra column."""
    return _HEADER_TO_FIELD.get(_fold_header(header))


def _fold_word(text: str) -> str:
    """Vocabulary key: case, spaces, dashes and underscores ignored ("Salah-Sambung" == "salahsambung")."""
    return re.sub(r"[\s_\-]+", "", text).casefold()


def _vocabulary(enum: type[Vocabulary], extra: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """Folded word -> canonical value: the canonical words, the app's own labels (so an export re-imports),
    and the words of issue 4. A word claimed by two values is a bug in this table."""
    table: dict[str, str] = {}

    def add(word: str, value: str) -> None:
        key = _fold_word(word)
        if table.setdefault(key, value) != value:
            raise AssertionError(f"{word!r} maps to both {table[key]} and {value}")

    for member in enum:
        for word in (member.value, member.label_id, member.label_en):
            add(word, member.value)
    for value, words in extra.items():
        for word in words:
            add(word, value)
    return table


CALL_TYPE_WORDS = _vocabulary(CallType, {
    "genuine": ("darurat", "asli"),
    "prank": ("prank", "iseng", "palsu"),
    "ghost": ("ghost", "diam", "blank call", "panggilan kosong"),
    "dropped": ("terputus", "drop"),
    "wrong_number": ("salah sambung",),
    "info": ("informasi", "info", "tanya"),
    "test": ("uji", "tes"),
})
CATEGORY_WORDS = _vocabulary(Category, {
    "medical": ("medis", "kesehatan", "ambulans"),
    "fire": ("kebakaran",),
    "traffic_accident": ("kecelakaan", "laka lantas", "kecelakaan lalu lintas"),
    "crime": ("kriminal", "keamanan", "gangguan keamanan", "kamtibmas"),
    "disaster": ("bencana", "bencana alam", "banjir", "longsor"),
    "domestic_violence": ("kdrt", "kekerasan dalam rumah tangga"),
    "utility": ("listrik", "pln", "lampu jalan"),
    "animal": ("hewan",),
    "social": ("sosial", "odgj"),
    "other": ("lainnya",),
})
OUTCOME_WORDS = _vocabulary(Outcome, {
    "resolved": ("selesai", "tuntas"),
    "not_followed_up": ("tidak ditindaklanjuti", "tidak ditangani"),
    "open": ("proses", "dalam penanganan"),
})
LOCATION_SOURCE_WORDS = _vocabulary(LocationSource, {
    "cell": ("bts", "sel"),
    "address": ("alamat",),
})
#: Agency keywords in order (the first match wins). Short ones must be whole words ("sar" is not "pasar").
AGENCY_KEYWORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("police", ("polres", "polsek", "polisi", "satlantas")),
    ("fire", ("damkar", "pemadam")),
    ("medical", ("rsud", "puskesmas", "dinkes", "ambulans", "rumah sakit", "dinas kesehatan")),
    ("disaster", ("bpbd",)),
    ("sar", ("basarnas", r"\bsar\b")),
    ("electricity", (r"\bpln\b",)),
    ("social", ("dinsos", "dinas sosial")),
    ("transport", ("dishub", "perhubungan")),
    ("military", ("kodim", "koramil", r"\btni\b")),
)
_AGENCY_RES = tuple((kind, re.compile("|".join(words))) for kind, words in AGENCY_KEYWORDS)
assert {k for k, _ in AGENCY_KEYWORDS} | {"other"} == {str(k) for k in AgencyKind}


def agency_kind(agency: str) -> str:
    """The kind of a free-text agency ("Polres TTU" -> police); "other" when no keyword matches."""
    text = " ".join(agency.casefold().split())
    for kind, pattern in _AGENCY_RES:
        if pattern.search(text):
            return kind
    return str(AgencyKind.OTHER)


def _hint(words: Mapping[str, str], examples: Sequence[str]) -> str:
    return ", ".join(examples) + " or " + ", ".join(sorted(set(words.values())))


_CALL_TYPE_HINT = _hint(CALL_TYPE_WORDS, ("darurat", "iseng", "panggilan kosong", "terputus", "salah sambung",
                                          "informasi", "uji"))
_OUTCOME_HINT = _hint(OUTCOME_WORDS, ("selesai", "tidak ditindaklanjuti", "proses"))

# ------------------------------------------------------------------------------------------- caller numbers


def _canonical_number(number: str) -> str:
    """Digits of an Indonesian number in one form: "+62 812-3456-7890", "0812 3456 7890", "62812..." and
    "+62 (0)812..." all become "6281234567890". Numbers with another country code keep it.

    Mirrored column-wise by ``_canonical_numbers``; a property test keeps the two identical.
    """
    d = re.sub(r"[^0-9+]", "", number.replace("(0)", ""))
    plus = d.startswith("+")
    digits = d.replace("+", "")
    if digits.startswith("00"):  # international prefix
        c = digits[2:]
    elif (plus and not digits.startswith("0")) or digits.startswith("62"):
        c = digits
    elif digits.startswith("0"):  # trunk prefix
        c = "62" + digits[1:]
    elif digits.startswith("8"):  # a mobile number written without its 0
        c = "62" + digits
    else:
        c = digits
    if c.startswith("620"):  # "+62 0812...": no Indonesian number starts with 0 after the country code
        c = "62" + c[3:]
    return c


def _canonical_numbers(text: pd.Series) -> pd.Series:
    d = text.str.replace("(0)", "", regex=False).str.replace(r"[^0-9+]", "", regex=True)
    plus = d.str.startswith("+").to_numpy(dtype=bool)
    digits = d.str.replace("+", "", regex=False)

    def starts(prefix: str) -> np.ndarray:
        return digits.str.startswith(prefix).to_numpy(dtype=bool)

    s00, s0, s62, s8 = starts("00"), starts("0"), starts("62"), starts("8")
    a = s00
    b = ~a & plus & ~s0
    c = ~a & ~b & s62
    d0 = ~a & ~b & ~c & s0
    e = ~a & ~b & ~c & ~d0 & s8
    out = digits.copy()
    out[a] = digits[a].str.slice(2)
    out[d0] = "62" + digits[d0].str.slice(1)
    out[e] = "62" + digits[e]
    z = out.str.startswith("620").to_numpy(dtype=bool)
    out[z] = "62" + out[z].str.slice(3)
    return out


class _Hasher:
    """HMAC-SHA256 with the key's pads hashed once: copying two states is ~2x faster than hmac.new per value."""

    def __init__(self, key: bytes) -> None:
        if not key:
            raise ValueError("caller_key is empty: caller numbers are stored only as a keyed hash (issue 4)")
        if len(key) > 64:
            key = hashlib.sha256(key).digest()
        key = key.ljust(64, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))

    def hex_digests(self, texts: Sequence[str]) -> list[str]:
        inner_copy, outer_copy = self._inner.copy, self._outer.copy
        out: list[str] = []
        append = out.append
        for text in texts:  # inlined: at 1M distinct callers a function call per value costs ~0.5 s
            inner = inner_copy()
            inner.update(text.encode())
            outer = outer_copy()
            outer.update(inner.digest())
            append(outer.hexdigest())
        return out


def caller_fields(number: str | None, key: bytes) -> tuple[str | None, str | None]:
    """(HMAC-SHA256 hex of the normalised number, its last 3 digits); (None, None) without digits."""
    if number is None:
        return None, None
    canonical = _canonical_number(str(number))
    if not canonical:
        return None, None
    if not key:
        raise ValueError("caller_key is empty: caller numbers are stored only as a keyed hash (issue 4)")
    return hmac.new(key, canonical.encode(), hashlib.sha256).hexdigest(), canonical[-3:]


def _mask_number(number: str) -> str:
    """What a reject keeps of a caller number: its last 3 digits. Rejects are stored and written to CSV."""
    canonical = _canonical_number(number)
    return f"***{canonical[-3:]}" if canonical else "***"


# ------------------------------------------------------------------------------------------- cell values


def _cell_text(value: Any) -> str:
    """One raw value (a CSV string, an XLSX cell, a JSON value) as the text the parsers read."""
    if isinstance(value, str):
        return value
    if value is None or pd.isna(value) is True:
        return ""
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        v = float(value)
        if math.isnan(v):
            return ""
        return str(int(v)) if v.is_integer() and abs(v) < 1e15 else repr(v)
    if isinstance(value, datetime):
        # XLSX cells carry float-day rounding: 10:00 can come back as 09:59:59.999999
        ts = pd.Timestamp(value).round("s")
        return ts.isoformat() if ts.tzinfo is not None else ts.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def _string_dtype() -> pd.StringDtype:
    try:  # pandas >= 2.3: the Arrow-backed "str" dtype that is pandas 3's default
        return pd.StringDtype("pyarrow", na_value=np.nan)
    except TypeError:  # pragma: no cover - pandas 2.2
        return pd.StringDtype("pyarrow")


_STR = _string_dtype()


def _texts(column: pd.Series) -> pd.Series:
    """A column as stripped Arrow strings, "" where empty. CSV columns (already Arrow strings) are fast."""
    if isinstance(column.dtype, pd.StringDtype) or (
        column.dtype == object and pd.api.types.infer_dtype(column, skipna=True) in ("string", "empty")
    ):
        s = column.astype(_STR)
    else:
        s = column.map(_cell_text).astype(_STR)
    return s.fillna("").str.strip()


def _quote(value: str, limit: int = 60) -> str:
    value = " ".join(value.split())
    return '"' + (value if len(value) <= limit else value[: limit - 1] + "…") + '"'


def _map_words(text: pd.Series, lookup: Callable[[str], Any], dtype: Any = object) -> np.ndarray:
    """``lookup`` applied once per distinct value, spread back over the column."""
    codes, uniques = pd.factorize(text)
    mapped = np.empty(len(uniques) + 1, dtype=dtype)
    mapped[:-1] = [lookup(u) for u in uniques]
    return mapped[codes]  # (factorize codes a missing value -1, the last entry; texts are never missing)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _text_or_none(text: pd.Series) -> np.ndarray:
    """Object array of the texts, None where empty."""
    out = text.to_numpy(dtype=object)
    out[(text == "").to_numpy(dtype=bool)] = None
    return out


def _given(values: np.ndarray) -> np.ndarray:
    """True where an object array holds a value (not None)."""
    return ~np.asarray(pd.isna(values), dtype=bool)


def _said(label: str, text: pd.Series, what: str | Callable[[int], str]) -> Callable[[int], str]:
    """A reason for row i: the column as the file names it, the value it holds, what is wrong with it."""
    if isinstance(what, str):
        return lambda i: f"{label} {_quote(text.iat[i])} {what}"
    return lambda i: f"{label} {_quote(text.iat[i])} {what(i)}"


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


# ------------------------------------------------------------------------------------------- desa


def _fold_name(text: str, prefixes: Sequence[str] = ()) -> str:
    t = " ".join(re.sub(r"[_\-]+", " ", text.replace("’", "'")).casefold().split())
    for p in prefixes:
        if t.startswith(p):
            return t[len(p):].strip()
    return t


_DESA_PREFIXES = ("desa ", "kelurahan ", "kel. ", "kel ", "ds. ", "ds ")
_KEC_PREFIXES = ("kecamatan ", "kec. ", "kec ")
_DESA_CODE = re.compile(r"\d{2}\.\d{2}\.\d{2}\.\d{4}")


_RESOLVERS: dict[int, _DesaResolver] = {}


def _resolver_for(region: Region | None) -> _DesaResolver:
    """One resolver per region object (name indexes and points are built once, not per API post)."""
    cached = _RESOLVERS.get(id(region))
    if cached is None or cached.region is not region:
        if len(_RESOLVERS) > 8:
            _RESOLVERS.clear()
        cached = _RESOLVERS[id(region)] = _DesaResolver(region)
    return cached


@dataclass
class _Placement:
    desa: int | None = None  # positional index into region.desa
    note: str | None = None  # why a named place was not placed
    reject: str | None = None  # why the row cannot be accepted (an ambiguous desa name)


class _DesaResolver:
    """Desa by code or by (folded) name within a region, and their representative points."""

    def __init__(self, region: Region | None) -> None:
        self.region = region
        self.codes: list[str] = []
        self._points: dict[int, tuple[float, float]] = {}
        if region is None:
            return
        desa = region.desa
        self.codes = desa["kode"].astype(str).tolist()
        self.names = desa["nama"].astype(str).tolist()
        self.kec_of = desa["kode_kec"].astype(str).tolist()
        self.by_code = {c: i for i, c in enumerate(self.codes)}
        self.by_name: dict[str, list[int]] = {}
        for i, name in enumerate(self.names):
            self.by_name.setdefault(_fold_name(name, _DESA_PREFIXES), []).append(i)
        kec = region.kecamatan
        self.kec_name = dict(zip(kec["kode"].astype(str), kec["nama"].astype(str), strict=True))
        self.kec_by_name: dict[str, set[str]] = {}
        for code, name in self.kec_name.items():
            self.kec_by_name.setdefault(_fold_name(name, _KEC_PREFIXES), set()).add(code)

    def resolve(self, code: str, desa: str, kec: str, names: Mapping[str, str]) -> _Placement:
        if self.region is None:
            return _Placement(note="no region boundaries are loaded, so the desa was not placed")
        where = self.region.name
        code_note = None
        if code:
            compact = re.sub(r"\s+", "", code)
            if re.fullmatch(r"\d{10}", compact):
                compact = f"{compact[:2]}.{compact[2:4]}.{compact[4:6]}.{compact[6:]}"
            if compact in self.by_code:
                return _Placement(desa=self.by_code[compact])
            if _DESA_CODE.fullmatch(compact):
                code_note = f"{names['kode_wilayah']} {_quote(code)} is not a desa of {where}"
            else:
                code_note = f"{names['kode_wilayah']} {_quote(code)} is not a desa code (like 53.03.06.2001)"
            if not desa:
                return _Placement(note=code_note)
        if not desa:
            return _Placement(note=f"{names['kecamatan']} {_quote(kec)} given without a desa; not placed")
        found = self.by_name.get(_fold_name(desa, _DESA_PREFIXES), [])
        label = f"{names['desa']} {_quote(desa)}"
        if kec:
            kec_codes = self.kec_by_name.get(_fold_name(kec, _KEC_PREFIXES))
            if kec_codes is None:
                return self._note(code_note, f"{names['kecamatan']} {_quote(kec)} is not a kecamatan of {where}")
            inside = [i for i in found if self.kec_of[i] in kec_codes]
            if len(inside) == 1:
                return _Placement(desa=inside[0])
            if len(inside) > 1:
                listed = ", ".join(f"{self.codes[i]}" for i in inside)
                return _Placement(reject=f"{label} in kecamatan {_quote(kec)} is more than one desa ({listed}); "
                                  f"give {names['kode_wilayah']}")
            if found:
                elsewhere = ", ".join(sorted({self.kec_name.get(self.kec_of[i], self.kec_of[i]) for i in found}))
                return self._note(code_note, f"{label} is not in kecamatan {_quote(kec)} (it is in {elsewhere})")
            return self._note(code_note, f"{label} is not a desa of kecamatan {_quote(kec)} in {where}")
        if len(found) == 1:
            return _Placement(desa=found[0])
        if len(found) > 1:
            listed = ", ".join(sorted(self.kec_name.get(self.kec_of[i], self.kec_of[i]) for i in found))
            return _Placement(reject=f"{label} is in more than one kecamatan ({listed}); "
                              f"add {names['kecamatan']} to choose")
        return self._note(code_note, f"{label} is not a desa of {where}")

    def points(self, idx: np.ndarray) -> np.ndarray:
        """(lon, lat) of each desa index: its representative point, as the simulator places named desa."""
        import shapely

        assert self.region is not None
        wanted = np.unique(idx)
        todo = [int(w) for w in wanted if int(w) not in self._points]
        if todo:
            geoms = np.asarray(self.region.desa.geometry.array, dtype=object)[todo]
            xy = shapely.get_coordinates(shapely.point_on_surface(geoms))
            self._points.update({w: (float(x), float(y)) for w, (x, y) in zip(todo, xy, strict=True)})
        table = np.array([self._points[int(w)] for w in wanted], dtype="float64").reshape(-1, 2)
        return table[np.searchsorted(wanted, idx)]

    @staticmethod
    def _note(code_note: str | None, note: str) -> _Placement:
        return _Placement(note=f"{code_note}; {note}" if code_note else note)


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


# Reasons, shared by both paths: (what is wrong) after the column's name and value.
_INVALID_TIME = f"is not a valid time ({TIME_HINT})"
_NOT_A_NUMBER = "is not a number"
_UNKNOWN_CALL_TYPE = f"is not a known call type (use {_CALL_TYPE_HINT})"
_UNKNOWN_OUTCOME = f"is not a known outcome (use {_OUTCOME_HINT})"
_BOUNDS = {"lat": 90, "lon": 180}


def _missing_reason(names: Mapping[str, str], field: str) -> str:
    hint = {"received_at": TIME_HINT, "call_type": f"use {_CALL_TYPE_HINT}"}.get(field)
    return f"{names[field]} is missing" + (f" ({hint})" if hint else "")


def _incomplete_reason(names: Mapping[str, str], has_lat: bool) -> str:
    given, absent = ("lat", "lon") if has_lat else ("lon", "lat")
    return f"{names[given]} is given but {names[absent]} is missing"


# ------------------------------------------------------------------------------------------- column-wise


def _parse_columns(s: _Setup, table: pd.DataFrame) -> ParsedBatch:
    """The batch path: every rule as whole-column operations (1M rows in a few seconds)."""
    n = len(table)
    names, fields = s.names, s.fields
    texts = [_texts(table.iloc[:, j]) for j in range(len(s.headers))]
    empty = pd.Series([""] * n, dtype=_STR)

    def col(name: str) -> pd.Series:
        return texts[fields[name]] if name in fields else empty

    nonblank = np.zeros(n, dtype=bool)
    for t in texts:
        nonblank |= (t != "").to_numpy(dtype=bool)
    ids = col("external_id")
    has_id = (ids != "").to_numpy(dtype=bool)
    dup = ids.duplicated(keep="last").to_numpy(dtype=bool) & has_id
    active = nonblank & ~dup

    problems: list[tuple[str, np.ndarray, Callable[[int], str]]] = []  # (code, mask, message for a row)

    def problem(code: str, mask: np.ndarray, message: Callable[[int], str]) -> None:
        mask = mask & active
        if mask.any():
            problems.append((code, mask, message))

    problem("external_id_missing", ~has_id, lambda i: _missing_reason(names, "external_id"))

    # -- times
    seconds: dict[str, np.ndarray] = {}
    valid_time: dict[str, np.ndarray] = {}
    received_text = col("received_at")
    for f in TIME_FIELDS:
        t, label = col(f), names[f]
        present = (t != "").to_numpy(dtype=bool)
        secs, ok = _parse_times(t, s.tz) if present.any() else (np.zeros(n, "int64"), np.zeros(n, bool))
        seconds[f], valid_time[f] = secs, ok
        if f == "received_at":
            problem("received_at_missing", ~present, lambda i: _missing_reason(names, "received_at"))
        problem(f"{f}_invalid", present & ~ok, _said(label, t, _INVALID_TIME))
        problem(f"{f}_future", ok & (secs > s.latest), _said(label, t, f"is in the future ({s.local_now})"))
        problem(f"{f}_before_2015", ok & (secs < s.earliest), _said(label, t, f"is before {EARLIEST}"))
        if f != "received_at":
            # a negative response time would corrupt the recap's medians (issue 4 "Recap")
            before = ok & valid_time["received_at"] & (secs < seconds["received_at"])
            problem(f"{f}_before_received", before, _said(
                label, t, lambda i: f"is before {names['received_at']} {_quote(received_text.iat[i])}"))

    # -- vocabulary
    call_text = col("call_type")
    call_type = _map_words(call_text, lambda u: CALL_TYPE_WORDS.get(_fold_word(u)))
    has_call = (call_text != "").to_numpy(dtype=bool)
    problem("call_type_missing", ~has_call, lambda i: _missing_reason(names, "call_type"))
    problem("call_type_unknown", has_call & ~_given(call_type), _said(names["call_type"], call_text,
                                                                       _UNKNOWN_CALL_TYPE))
    out_text = col("outcome")
    outcome = _map_words(out_text, lambda u: OUTCOME_WORDS.get(_fold_word(u)))
    has_outcome = (out_text != "").to_numpy(dtype=bool)
    problem("outcome_unknown", has_outcome & ~_given(outcome), _said(names["outcome"], out_text, _UNKNOWN_OUTCOME))
    genuine = call_type == str(CallType.GENUINE)
    outcome[~has_outcome] = np.where(genuine[~has_outcome], str(Outcome.OPEN), str(Outcome.RESOLVED))

    cat_text = col("category")
    has_cat = (cat_text != "").to_numpy(dtype=bool)
    category = _map_words(cat_text, lambda u: CATEGORY_WORDS.get(_fold_word(u)))
    category_label = np.full(n, None, dtype=object)
    unknown_cat = has_cat & ~_given(category)  # issue 4: an unknown category is other and keeps its label
    category[unknown_cat] = str(Category.OTHER)
    category_label[unknown_cat] = cat_text.to_numpy(dtype=object)[unknown_cat]
    category[~has_cat] = None

    agency_text = col("agency")
    agency = _text_or_none(agency_text)
    kind = _map_words(agency_text, lambda u: agency_kind(u) if u else None)

    src_text = col("location_source")
    has_src = (src_text != "").to_numpy(dtype=bool)
    loc_source = _map_words(src_text, lambda u: LOCATION_SOURCE_WORDS.get(_fold_word(u)))
    # an unknown source word is "unknown" with its label kept in attrs, as a category is
    src_unknown = has_src & ~_given(loc_source)

    # -- coordinates
    lat_text, lon_text = col("lat"), col("lon")
    has_lat = (lat_text != "").to_numpy(dtype=bool)
    has_lon = (lon_text != "").to_numpy(dtype=bool)
    lat = _parse_floats(lat_text) if has_lat.any() else np.full(n, np.nan)
    lon = _parse_floats(lon_text) if has_lon.any() else np.full(n, np.nan)
    for name, text, present, values in (("lat", lat_text, has_lat, lat), ("lon", lon_text, has_lon, lon)):
        finite = np.isfinite(values)
        bound = _BOUNDS[name]
        problem("coordinates_invalid", present & ~finite, _said(names[name], text, _NOT_A_NUMBER))
        with np.errstate(invalid="ignore"):
            outside = finite & (np.abs(values) > bound)
        problem("coordinates_out_of_range", outside, _said(names[name], text, f"is outside -{bound}..{bound}"))
    problem("coordinates_incomplete", has_lat ^ has_lon, lambda i: _incomplete_reason(names, bool(has_lat[i])))

    # -- desa named instead of coordinates: one lookup per distinct (code, desa, kecamatan)
    kode_text, desa_text, kec_text = col("kode_wilayah"), col("desa"), col("kecamatan")
    has_place = ((kode_text != "") | (desa_text != "") | (kec_text != "")).to_numpy(dtype=bool)
    placeable = active & has_place & ~has_lat & ~has_lon
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
        resolver = _resolver_for(s.region)
        results = [resolver.resolve(str(k), str(d), str(c), names) for k, d, c in uniques]
        desa_idx = np.array([-1 if r.desa is None else r.desa for r in results], dtype="int64")[codes]
        found = desa_idx >= 0
        if found.any():
            ok_rows, chosen = rows[found], desa_idx[found]
            points = resolver.points(chosen)
            lat[ok_rows], lon[ok_rows] = points[:, 1], points[:, 0]
            kode_desa[ok_rows] = np.array(resolver.codes, dtype=object)[chosen]
            flags[ok_rows] |= LocationFlag.APPROXIMATE
            placed[ok_rows] = True
        location_notes[rows] = np.array([r.note for r in results], dtype=object)[codes]
        reject_text = np.full(n, None, dtype=object)
        reject_text[rows] = np.array([r.reject for r in results], dtype=object)[codes]
        problem("desa_ambiguous", _given(reject_text), lambda i: str(reject_text[i]))
    loc_source[~has_src] = np.where(placed[~has_src], str(LocationSource.ADDRESS), str(LocationSource.UNKNOWN))
    loc_source[src_unknown] = str(LocationSource.UNKNOWN)

    # -- rejects: reasons joined per row, the first one's code counted
    rejected = np.zeros(n, dtype=bool)
    for _, mask, _ in problems:
        rejected |= mask
    reasons: dict[int, list[tuple[str, str]]] = {}
    for code, mask, message in problems:
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

    # -- accepted rows
    keep = np.flatnonzero(active & ~rejected)
    caller_hash = np.full(len(keep), None, dtype=object)
    caller_last3 = np.full(len(keep), None, dtype=object)
    if "caller_number" in fields:
        numbers = _canonical_numbers(col("caller_number").iloc[keep])
        if (numbers != "").any():
            hcodes, uniques = pd.factorize(numbers)
            distinct = np.asarray(uniques, dtype=object).tolist()
            hashes = np.array([*_Hasher(s.caller_key).hex_digests(distinct), None], dtype=object)
            hashes[[i for i, u in enumerate(distinct) if not u]] = None
            caller_hash = hashes[hcodes]
            caller_last3 = _text_or_none(numbers.str.slice(-3))
    source_labels = np.full(n, None, dtype=object)
    source_labels[src_unknown] = src_text.to_numpy(dtype=object)[src_unknown]
    frame = _frame(s, {
        "external_id": ids.iloc[keep].to_numpy(dtype=object),
        "received_at": seconds["received_at"][keep],
        "call_type": call_type[keep],
        "category": category[keep],
        "category_label": category_label[keep],
        "outcome": outcome[keep],
        "agency": agency[keep],
        "agency_kind": kind[keep],
        "lat": lat[keep],
        "lon": lon[keep],
        "location_source": loc_source[keep],
        "kode_desa": kode_desa[keep],
        "flags": flags[keep],
        **{f: pd.arrays.IntegerArray(seconds[f][keep], ~valid_time[f][keep]) for f in TIME_FIELDS[1:]},
        "caller_hash": caller_hash,
        "caller_last3": caller_last3,
        "notes": _text_or_none(col("notes").iloc[keep]),
        "attrs": _attrs(s, table, texts, keep, address_unused=~(placeable[keep]),
                        location_notes=location_notes[keep], source_labels=source_labels[keep]),
        "row_number": s.row_numbers[keep],
    })
    return ParsedBatch(frame=frame, rejects=rejects, in_batch_duplicates=int(dup.sum()),
                       blank_rows=int((~nonblank).sum()))


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
    """The small-batch path: the same rules as ``_parse_columns``, one row at a time in plain Python."""
    n = len(s.row_numbers)
    names, fields = s.names, s.fields
    texts = [[_cell_text(v).strip() for v in column] for column in raw]
    blank = [""] * n

    def col(name: str) -> list[str]:
        return texts[fields[name]] if name in fields else blank

    ids = col("external_id")
    last = {v: i for i, v in enumerate(ids) if v}
    nonblank = [any(t[i] for t in texts) for i in range(n)]
    resolver: _DesaResolver | None = None
    places: dict[tuple[str, str, str], _Placement] = {}
    out: dict[str, list[Any]] = {name: [] for name in (
        "external_id", "received_at", "call_type", "category", "category_label", "outcome", "agency",
        "agency_kind", "lat", "lon", "location_source", "kode_desa", "flags", *TIME_FIELDS[1:], "caller_hash",
        "caller_last3", "notes", "attrs", "row_number")}
    rejects: list[dict[str, Any]] = []
    duplicates = 0
    hasher = None
    for i in range(n):
        if not nonblank[i]:
            continue
        if ids[i] and last[ids[i]] != i:
            duplicates += 1
            continue
        reasons: list[tuple[str, str]] = []
        if not ids[i]:
            reasons.append(("external_id_missing", _missing_reason(names, "external_id")))
        seconds: dict[str, int | None] = {}
        for f in TIME_FIELDS:
            t, label = col(f)[i], names[f]
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
                                f"{_quote(col('received_at')[i])}"))
        call_text = col("call_type")[i]
        call_type = CALL_TYPE_WORDS.get(_fold_word(call_text)) if call_text else None
        if not call_text:
            reasons.append(("call_type_missing", _missing_reason(names, "call_type")))
        elif call_type is None:
            reasons.append(("call_type_unknown", f"{names['call_type']} {_quote(call_text)} {_UNKNOWN_CALL_TYPE}"))
        out_text = col("outcome")[i]
        outcome = OUTCOME_WORDS.get(_fold_word(out_text)) if out_text else (
            str(Outcome.OPEN) if call_type == str(CallType.GENUINE) else str(Outcome.RESOLVED))
        if outcome is None:
            reasons.append(("outcome_unknown", f"{names['outcome']} {_quote(out_text)} {_UNKNOWN_OUTCOME}"))
        coords: dict[str, float] = {}
        for name in ("lat", "lon"):
            t = col(name)[i]
            value = _float_value(t) if t else None
            if not t:
                continue
            if value is None or not math.isfinite(value):
                reasons.append(("coordinates_invalid", f"{names[name]} {_quote(t)} {_NOT_A_NUMBER}"))
            elif abs(value) > _BOUNDS[name]:
                bound = _BOUNDS[name]
                reasons.append(("coordinates_out_of_range", f"{names[name]} {_quote(t)} is outside -{bound}..{bound}"))
            coords[name] = math.nan if value is None else value
        has_lat, has_lon = bool(col("lat")[i]), bool(col("lon")[i])
        if has_lat != has_lon:
            reasons.append(("coordinates_incomplete", _incomplete_reason(names, has_lat)))
        place_key = (col("kode_wilayah")[i], col("desa")[i], col("kecamatan")[i])
        placement = None
        if any(place_key) and not has_lat and not has_lon:
            if place_key not in places:
                resolver = resolver or _resolver_for(s.region)
                places[place_key] = resolver.resolve(*place_key, names)
            placement = places[place_key]
            if placement.reject:
                reasons.append(("desa_ambiguous", placement.reject))
        if reasons:
            original = {h: texts[j][i] for j, h in enumerate(s.headers)
                        if not s.raw_attrs or not _missing(raw[j][i])}
            rejects.append(_reject(s, i, reasons, original))
            continue

        # accepted
        cat_text = col("category")[i]
        category = CATEGORY_WORDS.get(_fold_word(cat_text)) if cat_text else None
        agency = col("agency")[i] or None
        src_text = col("location_source")[i]
        source = LOCATION_SOURCE_WORDS.get(_fold_word(src_text)) if src_text else None
        kode_desa, flags = None, 0
        lat, lon = coords.get("lat", math.nan), coords.get("lon", math.nan)
        if placement is not None and placement.desa is not None and resolver is not None:
            (lon, lat), = resolver.points(np.array([placement.desa])).tolist()
            kode_desa, flags = resolver.codes[placement.desa], LocationFlag.APPROXIMATE
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
        if src_text and source is None:
            attrs["_location_source_label"] = src_text
        number = _canonical_number(col("caller_number")[i])
        if number:
            hasher = hasher or _Hasher(s.caller_key)
            (digest,) = hasher.hex_digests([number])
        row = {
            "external_id": ids[i],
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
            "notes": col("notes")[i] or None,
            "attrs": attrs,
            "row_number": int(s.row_numbers[i]),
        }
        for name, item in row.items():
            out[name].append(item)
    return ParsedBatch(frame=_frame(s, out), rejects=rejects, in_batch_duplicates=duplicates,
                       blank_rows=n - sum(nonblank))
