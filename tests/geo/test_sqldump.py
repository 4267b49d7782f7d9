"""The MySQL dump reader and the [lat, lng] path parser, on tiny hand-written dumps."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import shapely
from hypothesis import given
from hypothesis import strategies as st
from shapely.geometry import MultiPolygon, Polygon

from ntpd_map.geo.sqldump import (
    SqlDumpError,
    geometry_from_path,
    parse_sql_dump,
    rows_from_sql_dump,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "geo"
SQUARE = "[[[-9.1,124.0],[-9.0,124.0],[-9.0,124.1],[-9.1,124.1],[-9.1,124.0]]]"
BOWTIE = "[[[-9.1,124.2],[-9.0,124.3],[-9.1,124.3],[-9.0,124.2],[-9.1,124.2]]]"


@pytest.fixture(scope="module")
def cases() -> str:
    return (FIXTURES / "dump_cases.sql").read_text(encoding="utf-8")


def test_reads_every_tuple_of_every_insert(cases: str) -> None:
    result = parse_sql_dump(cases, source="dump_cases.sql")
    codes = [r[0] for r in result.rows]
    assert codes == ["53.99.01", "53.99.02", "53.99.03", "53.99.04", "53.99.06", "53.99.07", "53.99.08"]
    assert result.columns == ("kode", "nama", "lat", "lng", "path")
    assert result.lines == [7, 8, 9, 10, 12, 13, 13]


def test_comments_mentioning_insert_are_not_statements(cases: str) -> None:
    rows = parse_sql_dump(cases).rows
    assert all(str(r[0]).startswith("53.99.") for r in rows)


def test_values_are_typed_and_unescaped(cases: str) -> None:
    rows = {r[0]: r for r in parse_sql_dump(cases).rows}
    assert rows["53.99.04"] == ("53.99.04", "Ki'e O'Ana", -9.1, 124.1, None)
    assert rows["53.99.07"][2:4] == (0.15, -2)
    assert isinstance(rows["53.99.07"][3], int)
    assert rows["53.99.01"][4] == SQUARE


def test_malformed_tuple_is_reported_with_its_line_and_parsing_goes_on(cases: str) -> None:
    result = parse_sql_dump(cases, source="dump_cases.sql")
    assert len(result.errors) == 1
    err = result.errors[0]
    assert err.line == 11
    assert "4 values" in err.message and "5 columns" in err.message
    assert "Rusak" in err.snippet
    assert str(err).startswith("dump_cases.sql line 11:")


def test_rows_from_sql_dump_raises_unless_errors_are_collected(cases: str) -> None:
    with pytest.raises(SqlDumpError, match=r"line 11: .*pass errors=\[\]"):
        list(rows_from_sql_dump(cases))
    errors: list = []
    rows = list(rows_from_sql_dump(cases, errors=errors))
    assert len(rows) == 7 and len(errors) == 1


@pytest.mark.parametrize(
    ("text", "good", "bad_lines", "reason"),
    [
        # one tuple per line, a value that is not a value
        (
            "INSERT INTO t (a,b) VALUES\n(1,'x'),\n(2,oops),\n(3,'z');",
            [1, 3],
            [3],
            "expected a quoted string",
        ),
        # a line cut short (no closing parenthesis): the next line is still read
        ("INSERT INTO t (a,b) VALUES\n(1,'x'),\n(2,'y',\n(3,'z');", [1, 3], [3], "expected a quoted string"),
        # everything on one line, as mysqldump writes it
        ("INSERT INTO t VALUES (1,'a'),(2,b),(3,'c');", [1, 3], [1], "expected a quoted string"),
        # an unterminated string at the end of the file
        ("INSERT INTO t (a,b) VALUES\n(1,'x'),\n(2,'never closed", [1], [3], "expected a quoted string"),
        ("INSERT INTO t (a,b) VALUES ();", [], [1], "empty tuple"),
        ("INSERT INTO t (a,b) VALUES (1,'a') (2,'b');", [1], [1], "expected ',' or ';'"),
    ],
)
def test_malformations(text: str, good: list[int], bad_lines: list[int], reason: str) -> None:
    result = parse_sql_dump(text)
    assert [r[0] for r in result.rows] == good
    assert [e.line for e in result.errors] == bad_lines
    assert reason in result.errors[0].message


def test_crlf_escapes_and_statement_variants() -> None:
    text = (
        "INSERT INTO `t` (`a`, `b`)\r\nVALUES\r\n('x\\ny\\t\\\\z','it''s'),\r\n"
        "('\\%\\_', NULL);\r\nREPLACE INTO t VALUES (-1.5e3, +2, .5, TRUE);\r\n"
    )
    result = parse_sql_dump(text)
    assert not result.errors
    assert result.rows == [("x\ny\t\\z", "it's"), ("\\%\\_", None), (-1500.0, 2, 0.5, True)]


_values = st.one_of(
    st.none(),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=30),
)


def _sql(value: object, doubled: bool) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\")
        escaped = escaped.replace("'", "''" if doubled else "\\'")
        return f"'{escaped}'"
    return repr(value)


@given(st.lists(st.lists(_values, min_size=1, max_size=5).map(tuple), min_size=1, max_size=5), st.booleans())
def test_any_rendered_tuples_round_trip(rows: list[tuple[object, ...]], doubled: bool) -> None:
    body = ",\n".join("(" + ",".join(_sql(v, doubled) for v in row) + ")" for row in rows)
    result = parse_sql_dump(f"INSERT INTO t VALUES\n{body};\n")
    assert not result.errors
    assert result.rows == rows


# ------------------------------------------------------------------------------------- geometry


def test_path_vertices_become_lon_lat() -> None:
    geom = geometry_from_path(SQUARE)
    assert isinstance(geom, Polygon)
    assert geom.bounds == pytest.approx((124.0, -9.1, 124.1, -9.0))


def test_bow_tie_is_repaired_into_both_lobes() -> None:
    assert not Polygon([(124.2, -9.1), (124.3, -9.0), (124.3, -9.1), (124.2, -9.0)]).is_valid
    geom = geometry_from_path(BOWTIE)
    assert geom.is_valid
    assert isinstance(geom, MultiPolygon) and len(geom.geoms) == 2
    assert geom.area == pytest.approx(0.1 * 0.1 / 2)


def test_multipolygon_ring_and_holes() -> None:
    multi = geometry_from_path(
        "[[[[-9.02,124.30],[-9.00,124.30],[-9.00,124.32],[-9.02,124.32],[-9.02,124.30]]],"
        "[[[-9.05,124.35],[-9.03,124.35],[-9.03,124.37],[-9.05,124.37],[-9.05,124.35]]]]"
    )
    assert isinstance(multi, MultiPolygon) and len(multi.geoms) == 2
    # a bare ring (depth 2), left open: closed for us
    ring = geometry_from_path("[[-9.1,124.0],[-9.0,124.0],[-9.0,124.1],[-9.1,124.1]]")
    assert ring.area == pytest.approx(0.01)
    holed = geometry_from_path(
        "[[[-9.1,124.0],[-9.0,124.0],[-9.0,124.1],[-9.1,124.1],[-9.1,124.0]],"
        "[[-9.06,124.04],[-9.05,124.04],[-9.05,124.05],[-9.06,124.05],[-9.06,124.04]]]"
    )
    assert holed.area == pytest.approx(0.01 - 0.0001)


def test_overlapping_multipolygon_parts_are_unioned_not_cut() -> None:
    geom = geometry_from_path("[[[[0,0],[0,2],[2,2],[2,0],[0,0]]],[[[1,1],[1,3],[3,3],[3,1],[1,1]]]]")
    assert geom.is_valid
    assert geom.area == pytest.approx(7.0)


def test_ring_outside_its_shell_is_kept_as_an_island() -> None:
    geom = geometry_from_path("[[[0,0],[0,1],[1,1],[1,0],[0,0]],[[2,2],[2,3],[3,3],[3,2],[2,2]]]")
    assert geom.area == pytest.approx(2.0)
    assert shapely.get_num_geometries(geom) == 2


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("", "path is empty"),
        ("bukan json", "not valid JSON"),
        ("{}", "must be a JSON list"),
        ("[]", "empty list"),
        ("[[[[[1,2]]]]]", "nested 5 deep"),
        ('[[["a","b"]]]', "coordinate number"),
        ("[[[1,2],[1,3]]]", "at least 3 distinct vertices"),
        ("[[[124.0,-9.1],[124.0,-9.0],[124.1,-9.0]]]", "[lat, lng]"),
        ("[[[-9.1,200],[-9.0,124.0],[-9.0,124.1]]]", "longitude 200"),
        ("[[[1,2,3],[4,5,6],[7,8,9]]]", "shape (3, 3)"),
        ("[[[0,0],[1,1],[2,2],[0,0]]]", "no area left"),
    ],
)
def test_garbage_paths_raise_clear_errors(path: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        geometry_from_path(path)


def test_long_blank_runs_do_not_backtrack_and_errors_show_the_token() -> None:
    result = parse_sql_dump("INSERT INTO t VALUES (1," + " " * 50_000 + "oops);")
    assert result.errors[0].message.endswith("found 'oops);'")
