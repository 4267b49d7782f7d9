"""Kemendagri codes and the names they carry: what a code means and which region a code or name selects.

A code's level, a desa's kind and a provinsi's time zone follow from the code alone; names and the list of
codes come from ``wilayah/db/wilayah.sql`` (every Kemendagri 2025 code, with or without a polygon upstream).
No geometry here: ``ntpd_map.geo.boundaries`` builds the polygons of a region these codes select.
"""

from __future__ import annotations

import difflib
import functools
import math
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ntpd_map.geo.mirror import DataSource
from ntpd_map.geo.sqldump import DumpParseError, parse_sql_dump

WILAYAH_SQL = "wilayah/db/wilayah.sql"

LEVELS = {1: "provinsi", 2: "kabkota", 3: "kecamatan", 4: "desa"}
_CODE_RE = re.compile(r"^\d{2}(?:\.\d{2}(?:\.\d{2}(?:\.\d{4})?)?)?$")
_UNDOTTED_RE = re.compile(r"^\d{2}(?:\d{2}(?:\d{2}(?:\d{4})?)?)?$")

# Time zones by provinsi (Permendagri zones: WIB UTC+7, WITA UTC+8, WIT UTC+9).
_WIB = (
    "11",
    "12",
    "13",
    "14",
    "15",
    "16",
    "17",
    "18",
    "19",
    "21",
    "31",
    "32",
    "33",
    "34",
    "35",
    "36",
    "61",
    "62",
)
_WITA = ("51", "52", "53", "63", "64", "65", "71", "72", "73", "74", "75", "76")
_WIT = ("81", "82", "91", "92", "93", "94", "95", "96")
PROVINCE_TZ: dict[str, str] = {
    **dict.fromkeys(_WIB, "Asia/Jakarta"),
    **dict.fromkeys(_WITA, "Asia/Makassar"),
    **dict.fromkeys(_WIT, "Asia/Jayapura"),
}
_ZONE_ABBREV = {
    "Asia/Jakarta": "WIB",
    "Asia/Pontianak": "WIB",
    "Asia/Makassar": "WITA",
    "Asia/Jayapura": "WIT",
}
_OFFSET_ABBREV = {7: "WIB", 8: "WITA", 9: "WIT"}


class UnknownRegion(ValueError):
    """A region code or name that names no provinsi or kab/kota; ``suggestions`` holds (code, name) pairs."""

    def __init__(self, message: str, suggestions: Sequence[tuple[str, str]] = ()) -> None:
        super().__init__(message)
        self.suggestions = list(suggestions)


# --------------------------------------------------------------------------------------------- codes


def normalise_code(text: str) -> str:
    """A Kemendagri code in dotted form: "5303062001" -> "53.03.06.2001"; dotted codes pass unchanged.

    Raises ValueError when ``text`` is neither form.
    """
    code = str(text).strip()
    if _CODE_RE.match(code):
        return code
    if _UNDOTTED_RE.match(code):
        parts = [code[0:2], code[2:4], code[4:6], code[6:10]]
        return ".".join(p for p in parts if p)
    raise ValueError(
        f"{text!r} is not a Kemendagri code (53, 53.03, 53.03.06, 53.03.06.2001 or undotted 5303)"
    )


def code_level(code: str) -> str:
    """ "provinsi", "kabkota", "kecamatan" or "desa" for a dotted code."""
    return LEVELS[normalise_code(code).count(".") + 1]


def desa_kind(code: str) -> str:
    """ "kelurahan" for 4th part 1xxx, else "desa" (2xxx; the 3xxx desa adat of Papua are desa too)."""
    return "kelurahan" if code.rsplit(".", 1)[-1].startswith("1") else "desa"


def timezone_for_code(code: str) -> str:
    """The IANA time zone of a region code's provinsi (Asia/Jakarta, Asia/Makassar or Asia/Jayapura)."""
    try:
        prov = normalise_code(code)[:2]
    except ValueError:
        msg = f"{code!r} is not a region code; resolve names first with resolve_region_code()"
        raise ValueError(msg) from None
    if prov not in PROVINCE_TZ:
        raise ValueError(
            f"provinsi {prov} (from {code!r}) is not a Kemendagri provinsi code; known: "
            f"{', '.join(sorted(PROVINCE_TZ))}"
        )
    return PROVINCE_TZ[prov]


def zone_abbrev(tz: str) -> str:
    """ "WIB", "WITA" or "WIT" for an IANA zone in Indonesia's UTC+7..+9 (e.g. Asia/Makassar -> WITA)."""
    if tz in _ZONE_ABBREV:
        return _ZONE_ABBREV[tz]

    try:
        offset = datetime.now(ZoneInfo(tz)).utcoffset()
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {tz!r}; use Asia/Jakarta, Asia/Makassar or Asia/Jayapura"
        ) from None
    hours = offset.total_seconds() / 3600 if offset is not None else math.nan
    if hours not in _OFFSET_ABBREV:
        raise ValueError(
            f"time zone {tz!r} is UTC{hours:+g}, not one of Indonesia's zones: use Asia/Jakarta (WIB), "
            "Asia/Makassar (WITA) or Asia/Jayapura (WIT)"
        )
    return _OFFSET_ABBREV[int(hours)]


# --------------------------------------------------------------------------------------------- names


@functools.lru_cache(maxsize=4)
def _names_from_file(
    path: str, size: int, mtime_ns: int
) -> tuple[Mapping[str, str], tuple[DumpParseError, ...]]:
    # Keyed on size and mtime so an updated mirror is re-read; the mapping is shared, hence read-only.

    text = Path(path).read_text(encoding="utf-8")
    result = parse_sql_dump(text, source=WILAYAH_SQL)
    names = MappingProxyType({str(r[0]).strip(): str(r[1]) for r in result.rows if len(r) == 2})
    bad = tuple(
        DumpParseError(line, f"expected (kode, nama), got {len(r)} values", WILAYAH_SQL)
        for r, line in zip(result.rows, result.lines, strict=True)
        if len(r) != 2
    )
    return names, tuple(result.errors) + bad


def names_and_errors_from_wilayah(source: DataSource) -> tuple[Mapping[str, str], tuple[DumpParseError, ...]]:
    """Every code -> name of wilayah.sql (read once per file version), and the rows it could not read."""
    path = source.fetch(WILAYAH_SQL)
    st = path.stat()
    return _names_from_file(str(path.resolve()), st.st_size, st.st_mtime_ns)


def _wilayah_names(source: DataSource) -> Mapping[str, str]:
    return names_and_errors_from_wilayah(source)[0]


def _fold(text: str) -> str:
    return " ".join(text.replace("’", "'").casefold().split())


def _name_keys(code: str, name: str) -> set[str]:
    """The spellings that select a region by exact name: full, and kabupaten without "Kabupaten"."""
    full = _fold(name)
    keys = {full}
    if full.startswith("kabupaten "):
        keys.add(full.removeprefix("kabupaten "))
    if code.count(".") == 0:
        keys.add(f"provinsi {full}")
    return keys


def _fold_query(text: str) -> str:
    q = _fold(text)
    for short in ("kab. ", "kab "):
        if q.startswith(short):
            return "kabupaten " + q[len(short) :]
    for short in ("prov. ", "prov "):
        if q.startswith(short):
            return "provinsi " + q[len(short) :]
    return q


def _suggestions(query: str, names: Mapping[str, str], n: int = 5) -> list[tuple[str, str]]:
    q = _fold_query(query)
    scored = []
    for code, name in names.items():
        if code.count(".") > 1:
            continue
        texts = [code, code.replace(".", ""), *_name_keys(code, name)]
        score = max(difflib.SequenceMatcher(None, q, t).ratio() for t in texts)
        scored.append((score, code, name))
    scored.sort(key=lambda s: (-s[0], s[1]))
    return [(code, name) for _, code, name in scored[:n]]


def _unknown(query: str, names: Mapping[str, str], why: str) -> UnknownRegion:
    close = _suggestions(query, names)
    listed = "; ".join(f"{c} {nm}" for c, nm in close)
    msg = (
        f"{why}. Closest: {listed}. Give a provinsi or kab/kota code (e.g. 53 or 53.03) or an exact "
        f"kab/kota name (e.g. Timor Tengah Utara, Kota Kendari)."
    )
    return UnknownRegion(msg, close)


def region_code_from_names(text: str, names: Mapping[str, str]) -> str:
    """``resolve_region_code`` against an already loaded code -> name mapping."""
    query = str(text).strip()
    try:
        code = normalise_code(query)
    except ValueError:
        code = ""
    if code:
        if code not in names:
            raise _unknown(query, names, f"region code {code} is not in the Kemendagri code list")
        level = code_level(code)
        if level in ("kecamatan", "desa"):
            kab = code[:5]
            raise UnknownRegion(
                f"{code} ({names[code]}) is a {level}; a region is a provinsi or kab/kota: use {kab} "
                f"({names.get(kab, '?')})",
                [(kab, names.get(kab, ""))],
            )
        return code
    if not query:
        raise _unknown(query, names, "no region given")
    q = _fold_query(query)
    hits = sorted(c for c, nm in names.items() if c.count(".") <= 1 and q in _name_keys(c, nm))
    if len(hits) == 1:
        return hits[0]
    if len(hits) > 1:
        listed = "; ".join(f"{c} {names[c]}" for c in hits)
        raise UnknownRegion(
            f"{query!r} names several regions ({listed}); give the code instead",
            [(c, names[c]) for c in hits],
        )
    raise _unknown(query, names, f"no provinsi or kab/kota is named {query!r}")


def resolve_region_code(
    text: str,
    *,
    search_dirs: Sequence[str | Path] = (),
    cache_dir: str | Path | None = None,
    allow_download: bool = True,
) -> str:
    """The dotted provinsi or kab/kota code for a code ("53.03", "5303") or exact name ("kota kendari").

    Names match case-insensitively, with or without "Kabupaten"/"Kab."; raises UnknownRegion naming the
    five closest regions otherwise.
    """
    source = DataSource(search_dirs, cache_dir, allow_download)
    return region_code_from_names(text, _wilayah_names(source))
