"""Read MySQL ``INSERT ... VALUES`` dumps (the upstream boundary format) without a database.

``parse_sql_dump`` returns every value tuple plus the tuples it could not read, each with its line number,
so a broken row is reported instead of vanishing. ``geometry_from_path`` turns the upstream ``path`` column
(JSON, vertices in [lat, lng] order) into a valid shapely (Multi)Polygon in lon/lat.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # numpy and shapely load on first geometry, so reading codes and names stays light
    import numpy as np
    from shapely.geometry import MultiPolygon, Polygon
    from shapely.geometry.base import BaseGeometry

SqlValue = str | int | float | None

# A quoted string is written as an "unrolled loop" so the regex engine runs through long runs of plain
# characters in C; the kel dumps hold paths of tens of kilobytes inside one string.
_STRING = r"'([^'\\]*(?:(?:\\.|'')[^'\\]*)*)'"
_NUMBER = r"([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"
# One whitespace character per repetition: "(?:\s+)*" backtracks exponentially on a long blank run.
_SKIP = r"(?:\s|--[^\n]*|#[^\n]*|/\*.*?\*/)*"
_VALUE_RE = re.compile(
    rf"{_SKIP}(?:{_STRING}|{_NUMBER}|(NULL|TRUE|FALSE)\b){_SKIP}([,)])", re.IGNORECASE | re.DOTALL
)
_SKIP_RE = re.compile(_SKIP, re.DOTALL)
_OPEN_RE = re.compile(rf"{_SKIP}\(", re.DOTALL)
_AFTER_TUPLE_RE = re.compile(rf"{_SKIP}([,;]|\Z)", re.DOTALL)
_IDENT = r"(?:`[^`]+`|\"[^\"]+\"|[\w$.]+)"
# Statement level: comments and strings are skipped so that "INSERT" inside them is not taken for a statement.
_TOP_RE = re.compile(
    rf"/\*.*?\*/|--[^\n]*|#[^\n]*|{_STRING}|\"(?:[^\"\\]|\\.)*\""
    rf"|\b(?:INSERT|REPLACE)\s+(?:(?:LOW_PRIORITY|DELAYED|HIGH_PRIORITY|IGNORE)\s+)*(?:INTO\s+)?"
    rf"({_IDENT})\s*(?:\(([^)]*)\))?\s*VALUES?\b",
    re.IGNORECASE | re.DOTALL,
)
# Where to pick up after a malformed tuple: the next "),(" or the next line that opens a tuple (the
# upstream dumps put one tuple on each line), or the end of the statement.
_RESYNC_RE = re.compile(r"\)\s*,\s*(?=\()|\n[ \t]*(?=\()|\)\s*;|\n(?=\s*[A-Za-z])")
_ESCAPE_RE = re.compile(r"\\(.)|''", re.DOTALL)
_ESCAPES = {"0": "\0", "b": "\b", "n": "\n", "r": "\r", "t": "\t", "Z": "\x1a"}


@dataclass(frozen=True)
class DumpParseError:
    """One tuple (or geometry) that could not be read. ``line`` is 1-based, in ``source``."""

    line: int
    message: str
    source: str = "<text>"
    snippet: str = ""

    def __str__(self) -> str:
        tail = f" near {self.snippet!r}" if self.snippet else ""
        return f"{self.source} line {self.line}: {self.message}{tail}"


@dataclass
class DumpParseResult:
    """Rows of every INSERT in a dump, the line each row starts on, and the tuples that failed."""

    rows: list[tuple[SqlValue, ...]] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    errors: list[DumpParseError] = field(default_factory=list)
    columns: tuple[str, ...] | None = None


class SqlDumpError(ValueError):
    """A malformed tuple met by ``rows_from_sql_dump`` when no error list was given to collect it."""


def _unescape(raw: str) -> str:
    if "\\" not in raw and "''" not in raw:
        return raw

    def repl(m: re.Match[str]) -> str:
        ch = m.group(1)
        if ch is None:
            return "'"
        # MySQL keeps the backslash of \% and \_ (they only mean something inside LIKE patterns).
        if ch in "%_":
            return "\\" + ch
        return _ESCAPES.get(ch, ch)

    return _ESCAPE_RE.sub(repl, raw)


def _number(text: str) -> int | float:
    if "." in text or "e" in text or "E" in text:
        return float(text)
    return int(text)


class _LineCounter:
    """Line number of a text position; positions come in increasing order, so counting is incremental."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.line = 1

    def at(self, pos: int) -> int:
        if pos < self.pos:
            self.pos, self.line = 0, 1
        self.line += self.text.count("\n", self.pos, pos)
        self.pos = pos
        return self.line


def _snippet(text: str, pos: int) -> str:
    end = text.find("\n", pos, pos + 80)
    return text[pos : end if end != -1 else pos + 80].strip()


def _parse_tuple(text: str, pos: int) -> tuple[tuple[SqlValue, ...], int] | tuple[None, str]:
    """Read one tuple whose "(" is at ``pos``; return (values, end) or (None, reason)."""
    values: list[SqlValue] = []
    i = pos + 1
    while True:
        m = _VALUE_RE.match(text, i)
        if m is None:
            blank = _SKIP_RE.match(text, i)
            j = blank.end() if blank else i
            rest = text[j : j + 12].split("\n", 1)[0]
            if not values and rest.startswith(")"):
                return None, "empty tuple"
            what = repr(rest) if rest else "end of text"
            return None, f"value {len(values) + 1}: expected a quoted string, a number or NULL, found {what}"
        s, num, word, sep = m.group(1, 2, 3, 4)
        if s is not None:
            values.append(_unescape(s))
        elif num is not None:
            values.append(_number(num))
        else:
            upper = word.upper()
            values.append(None if upper == "NULL" else upper == "TRUE")
        i = m.end()
        if sep == ")":
            return tuple(values), i


def parse_sql_dump(text: str, *, source: str = "<text>") -> DumpParseResult:
    """Every value tuple of every INSERT statement in ``text``; malformed tuples go to ``errors``.

    Strings are unescaped (\\' and '' both mean a quote), numbers become int or float, NULL becomes None.
    A tuple whose value count differs from the INSERT's column list is an error too.
    """
    result = DumpParseResult()
    lines = _LineCounter(text)
    pos = 0
    n = len(text)
    while pos < n:
        top = _TOP_RE.search(text, pos)
        if top is None:
            break
        pos = top.end()
        if top.group(2) is None:  # a comment or a string outside any INSERT
            continue
        columns = None
        if top.group(3) is not None:
            columns = tuple(c.strip().strip('`"') for c in top.group(3).split(","))
            result.columns = columns
        while True:
            opened = _OPEN_RE.match(text, pos)
            if opened is None:
                line = lines.at(pos)
                result.errors.append(
                    DumpParseError(line, "expected '(' to open a tuple", source, _snippet(text, pos))
                )
                break
            start = opened.end() - 1
            parsed, info = _parse_tuple(text, start)
            problem = info if parsed is None else None
            if parsed is not None and columns is not None and len(parsed) != len(columns):
                problem = f"tuple has {len(parsed)} values but the INSERT names {len(columns)} columns"
            if problem is None and parsed is not None:
                assert isinstance(info, int)
                result.rows.append(parsed)
                result.lines.append(lines.at(start))
                after = _AFTER_TUPLE_RE.match(text, info)
                if after is None:
                    line = lines.at(info)
                    result.errors.append(
                        DumpParseError(
                            line, "expected ',' or ';' after a tuple", source, _snippet(text, info)
                        )
                    )
                    pos = info
                    break
                pos = after.end()
                if after.group(1) != ",":
                    break
                continue
            line = lines.at(start)
            result.errors.append(DumpParseError(line, str(problem), source, _snippet(text, start)))
            sync = _RESYNC_RE.search(text, start + 1)
            if sync is None:
                pos = n
                break
            pos = sync.end()
            if not text.startswith("(", pos):
                break
    return result


def rows_from_sql_dump(
    text: str, *, errors: list[DumpParseError] | None = None, source: str = "<text>"
) -> Iterator[tuple[SqlValue, ...]]:
    """Yield the value tuples of every INSERT in ``text``.

    Malformed tuples are appended to ``errors`` when a list is given; without one, the first malformed
    tuple raises ``SqlDumpError`` (so nothing is lost silently).
    """
    result = parse_sql_dump(text, source=source)
    if result.errors and errors is None:
        first = result.errors[0]
        msg = f"{first} ({len(result.errors)} malformed tuple(s); pass errors=[] to collect them and go on)"
        raise SqlDumpError(msg)
    if errors is not None:
        errors.extend(result.errors)
    yield from result.rows


def _depth(node: Any) -> int:
    depth = 0
    while isinstance(node, list):
        if not node:
            raise ValueError("path holds an empty list where coordinates were expected")
        node = node[0]
        depth += 1
    if isinstance(node, bool) or not isinstance(node, (int, float)):
        raise ValueError(f"path holds {node!r} where a coordinate number was expected")
    return depth


def _ring(coords: Any) -> np.ndarray | None:
    """A ring given as [[lat, lng], ...] as an (n, 2) lon/lat array; None when it has no area to give."""
    import numpy as np

    try:
        arr = np.asarray(coords, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"path holds a ring that is not a list of [lat, lng] pairs: {exc}") from None
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"path holds a ring of shape {arr.shape}; expected a list of [lat, lng] pairs")
    if not np.isfinite(arr).all():
        raise ValueError("path holds a coordinate that is not a finite number")
    lat, lng = arr[:, 0], arr[:, 1]
    if (np.abs(lat) > 90).any():
        bad = float(lat[np.abs(lat) > 90][0])
        raise ValueError(
            f"latitude {bad} is outside -90..90: vertices must be [lat, lng] (upstream order), not [lng, lat]"
        )
    if (np.abs(lng) > 180).any():
        raise ValueError(f"longitude {float(lng[np.abs(lng) > 180][0])} is outside -180..180")
    if not np.array_equal(arr[0], arr[-1]):
        arr = np.vstack([arr, arr[:1]])
    if len(arr) < 4:
        return None  # fewer than 3 distinct vertices: a line or a point, no area
    return arr[:, ::-1]


def _polygon(rings: list[Any]) -> Polygon | None:
    from shapely.geometry import Polygon

    arrays = [_ring(r) for r in rings]
    if arrays[0] is None:
        return None
    holes = [a for a in arrays[1:] if a is not None]
    return Polygon(arrays[0], holes)


def polygonal_part(geom: BaseGeometry) -> Polygon | MultiPolygon | None:
    """The polygons of ``geom`` (make_valid may add lines or points); None when there are none."""
    import shapely
    from shapely.geometry import MultiPolygon, Polygon

    if geom.is_empty:
        return None
    if isinstance(geom, (Polygon, MultiPolygon)):
        return geom
    parts = [
        p
        for g in shapely.get_parts(geom)
        for p in (shapely.get_parts(g) if isinstance(g, MultiPolygon) else [g])
        if isinstance(p, Polygon) and not p.is_empty
    ]
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else MultiPolygon(parts)


def repair_polygon(geom: BaseGeometry) -> Polygon | MultiPolygon | None:
    """``geom`` made valid with only its polygonal parts kept; None when no area is left.

    The "structure" method is what the upstream dumps mean: both lobes of a bow-tie are kept, parts of a
    multipolygon that overlap are unioned (about 260 upstream kecamatan have such parts; the default
    "linework" method would cut their overlap out as a hole), and a ring lying outside its shell is kept as
    an island.
    """
    import shapely

    if not geom.is_valid:
        geom = shapely.make_valid(geom, method="structure", keep_collapsed=False)
    return polygonal_part(geom)


def geometry_from_path(path_json: str | list[Any]) -> Polygon | MultiPolygon:
    """The upstream ``path`` column ([lat, lng] JSON ring, polygon or multipolygon) as a valid lon/lat shape.

    Invalid shapes (self-intersections, bow-ties) are repaired with ``shapely.make_valid`` and only their
    polygonal parts are kept. Raises ValueError, saying what is wrong, when nothing with an area comes out.
    """
    from shapely.geometry import MultiPolygon

    if isinstance(path_json, str):
        if not path_json.strip():
            raise ValueError("path is empty")
        try:
            data = json.loads(path_json)
        except json.JSONDecodeError as exc:
            raise ValueError(f"path is not valid JSON ({exc.msg} at character {exc.pos})") from None
    else:
        data = path_json
    if not isinstance(data, list):
        raise ValueError(f"path must be a JSON list of rings, got {type(data).__name__}")
    depth = _depth(data)
    polygons: list[Polygon | None]
    if depth == 2:  # a bare ring
        polygons = [_polygon([data])]
    elif depth == 3:  # [ring, ring, ...]: shell then holes; make_valid sorts out rings that are islands
        polygons = [_polygon(data)]
    elif depth == 4:  # multipolygon
        for part in data:
            if not isinstance(part, list) or not part:
                raise ValueError("path holds an empty or non-list polygon inside a multipolygon")
        polygons = [_polygon(part) for part in data]
    else:
        raise ValueError(f"path is nested {depth} deep; expected 2 (ring), 3 (polygon) or 4 (multipolygon)")
    kept = [p for p in polygons if p is not None]
    if not kept:
        raise ValueError("path has no ring with at least 3 distinct vertices")
    shape: BaseGeometry = kept[0] if len(kept) == 1 else MultiPolygon(kept)
    repaired = repair_polygon(shape)
    if repaired is None:
        raise ValueError("path has no area left after repair (all rings are lines or points)")
    return repaired
