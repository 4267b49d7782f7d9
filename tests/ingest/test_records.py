"""Parsing and validating incident records (issue 4: "The record format", "Reject, do not guess")."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import re
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ntpd_map.domain import INCIDENT_COLUMNS, LocationFlag
from ntpd_map.ingest import (
    REASON_CODES,
    caller_fields,
    field_for_header,
    incidents_from_records,
    incidents_from_table,
)
from ntpd_map.ingest.callers import _canonical_number, _canonical_numbers
from ntpd_map.ingest.cells import _STR
from ntpd_map.ingest.vocabulary import (
    CALL_TYPE_WORDS,
    CATEGORY_WORDS,
    LOCATION_SOURCE_WORDS,
    OUTCOME_WORDS,
    agency_kind,
)

NOW = datetime(2025, 10, 1, 12, 0, tzinfo=UTC)
KEY = b"test-key-0123456789abcdef"
TZ = "Asia/Makassar"  # WITA, UTC+8: TTU
OK = {"id": "A1", "waktu": "2025-05-01 10:00", "jenis_panggilan": "darurat"}


def table(rows: list[dict[str, str]]) -> pd.DataFrame:
    """Rows as a CSV reads them: every value a string, "" where a row lacks the column."""
    columns = list(dict.fromkeys(k for r in rows for k in r))
    return pd.DataFrame([{c: r.get(c, "") for c in columns} for r in rows], columns=columns).astype(_STR)


def parse(rows: list[dict[str, str]], region=None, **kw):
    kw = {"source": "ttu", "tz": TZ, "region": region, "caller_key": KEY, "now": NOW, **kw}
    return incidents_from_table(table(rows), **kw)


def one(row: dict[str, str], region=None, **kw) -> dict:
    """The single accepted row parsed from ``OK`` updated with ``row``."""
    batch = parse([{**OK, **row}], region=region, **kw)
    assert batch.rejects == [], batch.rejects
    assert len(batch.frame) == 1
    return batch.frame.iloc[0].to_dict()


def reject(row: dict[str, str], **kw) -> dict:
    batch = parse([{**OK, **row}], **kw)
    assert len(batch.frame) == 0 and len(batch.rejects) == 1
    return batch.rejects[0]


@pytest.fixture(params=["row-wise", "column-wise"])
def both_paths(request, monkeypatch) -> str:
    """Run a test through both parsing paths (small batches go row by row, large ones column-wise)."""
    from ntpd_map.ingest import records

    monkeypatch.setattr(records, "SMALL_BATCH", 10**9 if request.param == "row-wise" else -1)
    return request.param


def wita(text: str) -> int:
    return int(pd.Timestamp(text, tz=TZ).timestamp())


# ------------------------------------------------------------------------------------------- columns


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("id", "external_id"), ("external_id", "external_id"), ("External-ID", "external_id"),
        ("waktu", "received_at"), ("Received At", "received_at"),
        ("Jenis Panggilan", "call_type"), ("JENIS-PANGGILAN", "call_type"), ("call_type", "call_type"),
        ("kategori", "category"), ("Category", "category"), ("instansi", "agency"), ("agency", "agency"),
        ("status", "outcome"), ("Outcome", "outcome"), ("lat", "lat"), ("Latitude", "lat"),
        ("lon", "lon"), ("longitude", "lon"), ("lng", "lon"), ("desa", "desa"), ("Kecamatan", "kecamatan"),
        ("kode_wilayah", "kode_wilayah"), ("Kode Wilayah", "kode_wilayah"),
        ("lokasi_sumber", "location_source"), ("location source", "location_source"),
        ("waktu_dispatch", "dispatched_at"), ("dispatched_at", "dispatched_at"), ("Waktu Tiba", "arrived_at"),
        ("arrived_at", "arrived_at"), ("waktu_selesai", "resolved_at"), ("resolved_at", "resolved_at"),
        ("nomor_penelepon", "caller_number"), ("Nomor Penelepon", "caller_number"), ("caller_number", "caller_number"),
        ("No. HP", "caller_number"), ("keterangan", "notes"), ("notes", "notes"),
        ("operator", None), ("shift", None),
    ],
)
def test_headers_in_either_language_any_case_spacing_dashes(header: str, field: str | None) -> None:
    assert field_for_header(header) == field


def test_columns_in_any_order_with_english_aliases() -> None:
    rows = [{"Call Type": "genuine", "Received-At": "2025-05-01 10:00", "External_ID": "X", "LNG": "124.5",
             "Latitude": "-9.4"}]
    row = parse(rows).frame.iloc[0]
    assert (row["external_id"], row["call_type"], row["lat"], row["lon"]) == ("X", "genuine", -9.4, 124.5)


def test_column_map_names_a_users_own_columns_first() -> None:
    rows = [{"No Tiket": "T-1", "Tanggal Jam": "01/05/2025 10:00", "Jenis": "iseng", "lat": "-9.4", "Y": "-9.5",
             "lon": "124.5"}]
    batch = parse(rows, column_map={"No Tiket": "id", "Tanggal Jam": "waktu", "jenis": "call_type", "Y": "lat"})
    row = batch.frame.iloc[0]
    assert (row["external_id"], row["received_at"], row["call_type"]) == ("T-1", wita("2025-05-01 10:00"), "prank")
    assert row["lat"] == -9.5 and row["attrs"] == {"lat": "-9.4"}  # the mapped column wins; nothing is lost


@pytest.mark.parametrize(
    ("columns", "column_map", "message"),
    [
        (["id", "waktu"], None, "no column for jenis_panggilan (call_type)"),
        (["waktu", "jenis_panggilan"], None, "no column for id (external_id)"),
        (["id", "external_id", "waktu", "jenis_panggilan"], None, "'id' and 'external_id' both mean id"),
        (["id", "waktu", "jenis_panggilan", "lat", "latitude"], None, "both mean lat"),
        (["id", "waktu", "jenis_panggilan"], {"X": "waktu"}, "the file has no column 'X'"),
        (["id", "waktu", "jenis_panggilan"], {"id": "priority"}, "'priority' is not a field"),
        (["id", "waktu", "jenis_panggilan", "a"], {"a": "id", "id": "external_id"}, "two columns for id"),
        (["id", "waktu", "jenis_panggilan", "No HP", "hp2"], {"hp2": "nomor_penelepon"},
         "column 'No HP' holds nomor_penelepon (caller_number) but --map chose 'hp2'"),
    ],
)
def test_table_level_problems_raise_with_the_fix(columns, column_map, message) -> None:
    frame = pd.DataFrame([["x"] * len(columns)], columns=columns)
    with pytest.raises(ValueError, match=re.escape(message)):
        incidents_from_table(frame, source="s", tz=TZ, region=None, caller_key=KEY, now=NOW, column_map=column_map)


def test_bad_settings_raise() -> None:
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        parse([OK], tz="Mars/Olympus")
    with pytest.raises(ValueError, match="source is empty"):
        parse([OK], source=" ")
    with pytest.raises(ValueError, match="caller_key is empty"):
        parse([{**OK, "nomor_penelepon": "0812"}], caller_key=b"")
    assert len(parse([OK], caller_key=b"").frame) == 1  # no number, no key needed


def test_frame_has_the_store_columns_and_types(both_paths) -> None:
    batch = parse([{**OK, "waktu_dispatch": "2025-05-01 10:05"}, {**OK, "id": "A2"}])
    frame = batch.frame
    assert list(frame.columns) == [*INCIDENT_COLUMNS, "row_number"]
    assert frame["received_at"].dtype == "int64" and frame["flags"].dtype == "int64"
    assert str(frame["dispatched_at"].dtype) == "Int64"
    assert frame["dispatched_at"].tolist() == [wita("2025-05-01 10:05"), pd.NA]
    assert frame["h3"].isna().all() and frame["kode_kec"].isna().all() and frame["kode_kab"].isna().all()
    assert frame["row_number"].tolist() == [2, 3]
    assert (frame["source"] == "ttu").all() and not frame["simulated"].any()
    assert frame["lat"].dtype == "float64" and frame["lat"].isna().all()


# ------------------------------------------------------------------------------------------- vocabulary

CALL_TYPES = {
    "genuine": ["darurat", "asli", "genuine", "Darurat"],
    "prank": ["prank", "iseng", "palsu", "Iseng/palsu"],
    "ghost": ["ghost", "diam", "blank call", "panggilan kosong", "Panggilan  Kosong"],
    "dropped": ["terputus", "drop", "dropped"],
    "wrong_number": ["salah sambung", "wrong_number", "wrong number", "Salah-Sambung"],
    "info": ["informasi", "info", "tanya"],
    "test": ["uji", "tes", "test", "uji coba"],
}
CATEGORIES = {
    "medical": ["medis", "kesehatan", "ambulans", "medical"],
    "fire": ["kebakaran", "fire"],
    "traffic_accident": ["kecelakaan", "laka lantas", "kecelakaan lalu lintas", "traffic_accident"],
    "crime": ["kriminal", "keamanan", "gangguan keamanan", "kamtibmas", "crime"],
    "disaster": ["bencana", "bencana alam", "banjir", "longsor"],
    "domestic_violence": ["kdrt", "KDRT", "kekerasan dalam rumah tangga", "domestic violence"],
    "utility": ["listrik", "pln", "lampu jalan"],
    "animal": ["hewan", "animal"],
    "social": ["sosial", "odgj"],
    "other": ["lainnya", "other"],
}
OUTCOMES = {
    "resolved": ["selesai", "tuntas", "resolved", "SELESAI"],
    "not_followed_up": ["tidak ditindaklanjuti", "tidak ditangani", "not_followed_up", "Tidak ditindak lanjuti"],
    "open": ["proses", "dalam penanganan", "open"],
    "dispatched": ["dispatched", "dikirim"],
    "on_scene": ["on_scene", "on scene", "di lokasi"],
}
SOURCES = {
    "gps": ["gps", "GPS"],
    "cell": ["cell", "bts", "BTS (sel)"],
    "address": ["address", "alamat", "alamat disebutkan"],
    "unknown": ["unknown", "tidak diketahui"],
}
AGENCIES = {
    "police": ["Polres TTU", "Polsek Insana", "Satlantas Polres TTU", "Kepolisian"],
    "fire": ["Damkar TTU", "Dinas Pemadam Kebakaran"],
    "medical": ["RSUD Kefamenanu", "Puskesmas Eban", "Dinkes TTU", "Ambulans 118", "Rumah Sakit Leona"],
    "disaster": ["BPBD TTU"],
    "sar": ["Basarnas Kupang", "Pos SAR Atambua"],
    "electricity": ["PLN ULP Kefamenanu"],
    "social": ["Dinsos TTU", "Dinas Sosial"],
    "transport": ["Dishub TTU", "Dinas Perhubungan"],
    "military": ["Kodim 1618/TTU", "Koramil Insana", "TNI AD"],
    "other": ["Kominfo TTU", "Pengelola Pasar Baru", "Kantor Camat"],
}


def cases(table_: dict[str, list[str]]) -> list[tuple[str, str]]:
    return [(word, value) for value, words in table_.items() for word in words]


@pytest.mark.parametrize(("word", "value"), cases(CALL_TYPES))
def test_call_types(word: str, value: str) -> None:
    assert one({"jenis_panggilan": word})["call_type"] == value


@pytest.mark.parametrize(("word", "value"), cases(CATEGORIES))
def test_categories(word: str, value: str) -> None:
    row = one({"kategori": word})
    assert (row["category"], row["category_label"]) == (value, None)


def test_unknown_category_is_other_and_keeps_its_label(both_paths) -> None:
    row = one({"kategori": "Pohon tumbang"})
    assert (row["category"], row["category_label"]) == ("other", "Pohon tumbang")
    assert one({"kategori": ""})["category"] is None


@pytest.mark.parametrize(("word", "value"), cases(OUTCOMES))
def test_outcomes(word: str, value: str) -> None:
    assert one({"status": word})["outcome"] == value


@pytest.mark.parametrize(("call_type", "outcome"), [("darurat", "open"), ("iseng", "resolved"),
                                                     ("terputus", "resolved"), ("informasi", "resolved")])
def test_missing_outcome_is_open_for_genuine_else_resolved(call_type: str, outcome: str) -> None:
    assert one({"jenis_panggilan": call_type})["outcome"] == outcome


@pytest.mark.parametrize(("word", "value"), cases(SOURCES))
def test_location_sources(word: str, value: str) -> None:
    assert one({"lokasi_sumber": word, "lat": "-9.4", "lon": "124.5"})["location_source"] == value


def test_location_source_defaults_and_unknown_words() -> None:
    assert one({"lat": "-9.4", "lon": "124.5"})["location_source"] == "unknown"  # not guessed to be GPS
    row = one({"lokasi_sumber": "satelit", "lat": "-9.4", "lon": "124.5"})
    assert row["location_source"] == "unknown" and row["attrs"] == {"_location_source_label": "satelit"}


@pytest.mark.parametrize(("agency", "kind"), cases(AGENCIES))
def test_agency_kept_as_written_and_kind_by_keyword(agency: str, kind: str) -> None:
    row = one({"instansi": f"  {agency} "})
    assert (row["agency"], row["agency_kind"]) == (agency, kind)
    assert agency_kind(agency) == kind


def test_no_agency() -> None:
    row = one({"instansi": ""})
    assert row["agency"] is None and row["agency_kind"] is None


def _respell(draw, word: str) -> str:
    out = []
    for ch in word:
        if ch == " ":
            out.append(draw(st.sampled_from([" ", "  ", "_", "-", ""])))
        else:
            out.append(ch.upper() if draw(st.booleans()) else ch.lower())
    pad = st.sampled_from(["", " ", "  ", "\t"])
    return draw(pad) + "".join(out) + draw(pad)


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_property_any_casing_or_spacing_of_a_known_word_maps_the_same(data) -> None:
    vocab, column = data.draw(st.sampled_from([
        (CALL_TYPE_WORDS, "jenis_panggilan"), (CATEGORY_WORDS, "kategori"), (OUTCOME_WORDS, "status"),
        (LOCATION_SOURCE_WORDS, "lokasi_sumber"),
    ]))
    words = [w for table_ in (CALL_TYPES, CATEGORIES, OUTCOMES, SOURCES) for ws in table_.values() for w in ws]
    word = data.draw(st.sampled_from([w for w in words if _fold(w) in vocab]))
    spelled = _respell(data.draw, word)
    field = {"jenis_panggilan": "call_type", "kategori": "category", "status": "outcome",
             "lokasi_sumber": "location_source"}[column]
    row = one({column: spelled, "lat": "-9.4", "lon": "124.5"})
    assert row[field] == vocab[_fold(word)]


def _fold(word: str) -> str:
    return "".join(word.replace("_", " ").replace("-", " ").split()).casefold()


# ------------------------------------------------------------------------------------------- times


@pytest.mark.parametrize(
    ("text", "local"),
    [
        ("2025-05-01 10:00", "2025-05-01 10:00:00"),
        ("2025-05-01 10:00:30", "2025-05-01 10:00:30"),
        ("2025-5-1 9:05", "2025-05-01 09:05:00"),
        ("01/05/2025 10:00", "2025-05-01 10:00:00"),  # DD/MM: 1 May, not 5 January
        ("1/5/2025 10:00:59", "2025-05-01 10:00:59"),
        ("2025-05-01T10:00:00", "2025-05-01 10:00:00"),
        ("2025-05-01T10:00", "2025-05-01 10:00:00"),
        ("2025-05-01 10:00:00.7", "2025-05-01 10:00:00"),
    ],
)
def test_local_times_are_in_the_centers_zone(text: str, local: str) -> None:
    assert one({"waktu": text})["received_at"] == wita(local)
    jakarta = one({"waktu": text}, tz="Asia/Jakarta")["received_at"]
    assert jakarta - one({"waktu": text})["received_at"] == 3600  # WIB is an hour behind WITA


@pytest.mark.parametrize(
    ("text", "utc"),
    [
        ("2025-05-01T02:00:00Z", "2025-05-01 02:00:00"),
        ("2025-05-01T10:00:00+08:00", "2025-05-01 02:00:00"),
        ("2025-05-01 10:00+0800", "2025-05-01 02:00:00"),
        ("2025-05-01T09:00:00+07:00", "2025-05-01 02:00:00"),
        ("2025-05-01T02:00:00.250Z", "2025-05-01 02:00:00"),
    ],
)
def test_iso_times_with_an_offset(text: str, utc: str) -> None:
    assert one({"waktu": text})["received_at"] == int(pd.Timestamp(utc, tz="UTC").timestamp())


def test_spreadsheet_datetime_cells_are_local_time(both_paths) -> None:
    frame = pd.DataFrame({"id": ["A", "B"], "jenis_panggilan": ["darurat", "darurat"],
                          "waktu": [datetime(2025, 5, 1, 10, 0), datetime(2025, 5, 1, 9, 59, 59, 999_600)],
                          "waktu_tiba": [pd.Timestamp("2025-05-01 10:30"), None]}, dtype=object)
    batch = incidents_from_table(frame, source="s", tz=TZ, region=None, caller_key=KEY, now=NOW)
    assert batch.frame["received_at"].tolist() == [wita("2025-05-01 10:00")] * 2  # Excel's float-day rounding
    assert batch.frame["arrived_at"].tolist() == [wita("2025-05-01 10:30"), pd.NA]


def test_future_and_2015_boundaries() -> None:
    now_local = pd.Timestamp(NOW).tz_convert(TZ)
    ok_future = (now_local + timedelta(minutes=5)).strftime("%Y-%m-%d %H:%M")
    bad_future = (now_local + timedelta(minutes=6)).strftime("%Y-%m-%d %H:%M")
    assert one({"waktu": ok_future})["received_at"] == int(NOW.timestamp()) + 300
    assert reject({"waktu": bad_future})["code"] == "received_at_future"
    assert one({"waktu": "2015-01-01 00:00"})["received_at"] == wita("2015-01-01 00:00")
    assert reject({"waktu": "2014-12-31 23:59"})["code"] == "received_at_before_2015"


# hypothesis: any time from 2015 to now, in every accepted format, comes back as the same UTC second

LOCAL_FORMATS = ["%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S",
                 "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "unpadded"]


@settings(max_examples=100, deadline=None)
@given(
    moment=st.datetimes(min_value=datetime(2015, 1, 1), max_value=datetime(2025, 9, 30)),
    fmt=st.sampled_from(LOCAL_FORMATS),
    tz=st.sampled_from(["Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura"]),
)
def test_property_local_times_round_trip(moment: datetime, fmt: str, tz: str) -> None:
    moment = moment.replace(microsecond=0)
    if "%S" not in fmt:
        moment = moment.replace(second=0)
    if fmt == "unpadded":
        text = f"{moment.day}/{moment.month}/{moment.year} {moment.hour}:{moment:%M:%S}"
    else:
        text = moment.strftime(fmt)
    expected = int(pd.Timestamp(moment, tz=tz).timestamp())
    assert one({"waktu": text}, tz=tz)["received_at"] == expected


@settings(max_examples=100, deadline=None)
@given(
    instant=st.datetimes(min_value=datetime(2015, 1, 2), max_value=datetime(2025, 9, 30), timezones=st.just(UTC)),
    offset_min=st.integers(-12 * 60, 14 * 60).map(lambda m: m - m % 15),
    style=st.sampled_from(["iso", "compact", "Z", "space"]),
)
def test_property_times_with_offsets_round_trip(instant: datetime, offset_min: int, style: str) -> None:
    instant = instant.replace(microsecond=0)
    local = instant.astimezone(timezone(timedelta(minutes=offset_min)))
    text = {
        "iso": local.isoformat(),
        "compact": local.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "Z": instant.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "space": local.isoformat(sep=" "),
    }[style]
    assert one({"waktu": text})["received_at"] == int(instant.timestamp())


# ------------------------------------------------------------------------------------------- coordinates


@pytest.mark.parametrize(("lat", "lon", "expected"), [
    ("-9,45", "124,48", (-9.45, 124.48)),
    ("-9.45", "124.48", (-9.45, 124.48)),
    (" -9.45 ", "+124.5", (-9.45, 124.5)),
    ("-90", "180", (-90.0, 180.0)),
    ("-6.2", "106.8", (-6.2, 106.8)),  # Jakarta: valid, outside TTU, accepted as given
])
def test_coordinates(lat: str, lon: str, expected: tuple[float, float]) -> None:
    row = one({"lat": lat, "lon": lon})
    assert (row["lat"], row["lon"]) == expected


@settings(max_examples=100, deadline=None)
@given(
    lat=st.floats(-90, 90, allow_nan=False),
    lon=st.floats(-180, 180, allow_nan=False),
    comma=st.booleans(),
    style=st.sampled_from(["repr", "6dp"]),
)
def test_property_coordinates_round_trip(lat: float, lon: float, comma: bool, style: str) -> None:
    def render(x: float) -> str:
        text = repr(x) if style == "repr" else f"{x:.6f}"
        return text.replace(".", ",") if comma else text

    row = one({"lat": render(lat), "lon": render(lon)})
    assert row["lat"] == float(render(lat).replace(",", "."))
    assert row["lon"] == float(render(lon).replace(",", "."))


# ------------------------------------------------------------------------------------------- rejects

BAD_ROWS = [  # (row, code, reason) in spreadsheet rows 2.. ; rows 2, 9 and 25 are fine
    ({**OK, "id": "ok-1"}, None, None),
    ({**OK, "id": ""}, "external_id_missing", "row 3: id is missing"),
    ({**OK, "id": "t-missing", "waktu": ""}, "received_at_missing",
     "row 4: waktu is missing (use YYYY-MM-DD HH:MM or DD/MM/YYYY HH:MM)"),
    ({**OK, "id": "t-bad", "waktu": "kemarin"}, "received_at_invalid",
     'row 5: waktu "kemarin" is not a valid time (use YYYY-MM-DD HH:MM or DD/MM/YYYY HH:MM)'),
    ({**OK, "id": "t-future", "waktu": "2026-01-01 00:00"}, "received_at_future",
     'row 6: waktu "2026-01-01 00:00" is in the future (now is 2025-10-01 20:00 Asia/Makassar)'),
    ({**OK, "id": "t-old", "waktu": "2014-06-01 10:00"}, "received_at_before_2015",
     'row 7: waktu "2014-06-01 10:00" is before 2015-01-01'),
    ({**OK, "id": "t-feb", "waktu": "31/02/2025 10:00"}, "received_at_invalid",
     'row 8: waktu "31/02/2025 10:00" is not a valid time (use YYYY-MM-DD HH:MM or DD/MM/YYYY HH:MM)'),
    ({**OK, "id": "ok-2", "lat": "-9,4", "lon": "124,5"}, None, None),
    ({**OK, "id": "ct-missing", "jenis_panggilan": ""}, "call_type_missing", "row 10: jenis_panggilan is missing"),
    ({**OK, "id": "ct-unknown", "jenis_panggilan": "marah"}, "call_type_unknown",
     'row 11: jenis_panggilan "marah" is not a known call type (use darurat, iseng'),
    ({**OK, "id": "lat-bad", "lat": "9°27'S", "lon": "124.5"}, "coordinates_invalid",
     'row 12: lat "9°27\'S" is not a number'),
    ({**OK, "id": "lon-far", "lat": "-9.4", "lon": "224.5"}, "coordinates_out_of_range",
     'row 13: lon "224.5" is outside -180..180'),
    ({**OK, "id": "lat-far", "lat": "-91", "lon": "124.5"}, "coordinates_out_of_range",
     'row 14: lat "-91" is outside -90..90'),
    ({**OK, "id": "lat-only", "lat": "-9.4"}, "coordinates_incomplete", "row 15: lat is given but lon is missing"),
    ({**OK, "id": "lon-only", "lon": "124.5"}, "coordinates_incomplete", "row 16: lon is given but lat is missing"),
    ({**OK, "id": "st-bad", "status": "entahlah"}, "outcome_unknown",
     'row 17: status "entahlah" is not a known outcome (use selesai, tidak ditindaklanjuti, proses'),
    ({**OK, "id": "d-bad", "waktu_dispatch": "nanti"}, "dispatched_at_invalid",
     'row 18: waktu_dispatch "nanti" is not a valid time'),
    ({**OK, "id": "d-early", "waktu_tiba": "2025-05-01 09:00"}, "arrived_at_before_received",
     'row 19: waktu_tiba "2025-05-01 09:00" is before waktu "2025-05-01 10:00"'),
    ({**OK, "id": "two", "waktu": "x", "jenis_panggilan": "y"}, "received_at_invalid",
     'row 20: waktu "x" is not a valid time (use YYYY-MM-DD HH:MM or DD/MM/YYYY HH:MM); jenis_panggilan "y"'),
    ({**OK, "id": "nan", "lat": "nan", "lon": "inf"}, "coordinates_invalid", 'row 21: lat "nan" is not a number'),
    # the steps in the order they happen (issue 19): a unit cannot arrive before it was sent, nor a call close
    # before the unit arrived
    ({**OK, "id": "arr-early", "waktu_dispatch": "2025-05-01 10:20", "waktu_tiba": "2025-05-01 10:10"},
     "arrived_at_before_dispatched",
     'row 22: waktu_tiba "2025-05-01 10:10" is before waktu_dispatch "2025-05-01 10:20"'),
    ({**OK, "id": "res-early", "waktu_tiba": "2025-05-01 10:30", "waktu_selesai": "2025-05-01 10:25"},
     "resolved_at_before_arrived", 'row 23: waktu_selesai "2025-05-01 10:25" is before waktu_tiba "2025-05-01 10:30"'),
    ({**OK, "id": "res-undispatched", "waktu_dispatch": "2025-05-01 10:30", "waktu_selesai": "2025-05-01 10:25"},
     "resolved_at_before_dispatched",
     'row 24: waktu_selesai "2025-05-01 10:25" is before waktu_dispatch "2025-05-01 10:30"'),
    ({**OK, "id": "ok-3", "waktu_dispatch": "2025-05-01 10:05", "waktu_tiba": "2025-05-01 10:05",
      "waktu_selesai": "2025-05-01 11:00"}, None, None),
]


def test_each_reject_reason_with_its_row_number(both_paths) -> None:
    batch = parse([row for row, _, _ in BAD_ROWS])
    expected = {i + 2: (code, reason) for i, (_, code, reason) in enumerate(BAD_ROWS) if code}
    assert {r["row_number"]: r["code"] for r in batch.rejects} == {k: c for k, (c, _) in expected.items()}
    for r in batch.rejects:
        assert r["reason"].startswith(expected[r["row_number"]][1]), r["reason"]
        assert r["code"] in REASON_CODES
    assert batch.frame["external_id"].tolist() == ["ok-1", "ok-2", "ok-3"]
    assert batch.frame["row_number"].tolist() == [2, 9, 25]
    summary = batch.summary()
    assert summary["rows"] == len(BAD_ROWS) and summary["valid"] == 3 and summary["rejected"] == len(BAD_ROWS) - 3
    assert summary["reasons"]["received_at_invalid"] == 3 and sum(summary["reasons"].values()) == summary["rejected"]


def test_reject_keeps_the_original_values_but_not_the_caller_number(both_paths) -> None:
    r = reject({"waktu": "31/02/2025 10:00", "nomor_penelepon": "0812-3456-7890", "operator": "Yanti"})
    assert r["original"] == {"id": "A1", "waktu": "31/02/2025 10:00", "jenis_panggilan": "darurat",
                             "nomor_penelepon": "***890", "operator": "Yanti"}
    assert "3456" not in json.dumps(r)


def test_the_issue_example_reason_verbatim() -> None:
    rows = [{**OK, "id": f"r{i}"} for i in range(5)] + [{**OK, "id": "bad", "waktu": "31/02/2025 10:00"}]
    (r,) = parse(rows).rejects
    assert r["reason"] == (
        'row 7: waktu "31/02/2025 10:00" is not a valid time (use YYYY-MM-DD HH:MM or DD/MM/YYYY HH:MM)')


def test_first_row_number_and_reasons_name_the_files_own_header() -> None:
    rows = [{"ID": "A", "Waktu Panggilan": "?", "Jenis": "darurat"}]
    batch = parse(rows, column_map={"Waktu Panggilan": "waktu", "Jenis": "jenis_panggilan"}, first_row_number=5)
    assert batch.rejects[0]["reason"].startswith('row 5: Waktu Panggilan "?" is not a valid time')


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.fixed_dictionaries({
    "id": st.text(max_size=8), "waktu": st.text(max_size=25), "jenis_panggilan": st.text(max_size=12),
    "kategori": st.text(max_size=10), "instansi": st.text(max_size=10), "status": st.text(max_size=10),
    "lat": st.text(max_size=10), "lon": st.text(max_size=10), "lokasi_sumber": st.text(max_size=6),
    "waktu_dispatch": st.text(max_size=20), "nomor_penelepon": st.text(max_size=16), "desa": st.text(max_size=8),
    "kecamatan": st.text(max_size=8), "kode_wilayah": st.text(max_size=14), "catatan": st.text(max_size=8),
}), min_size=1, max_size=8))
def test_property_arbitrary_text_never_raises_only_rejects(rows) -> None:
    batch = parse(rows)
    summary = batch.summary()
    assert summary["rows"] + summary["blank_rows"] == len(rows)
    assert summary["rows"] == summary["valid"] + summary["rejected"] + summary["in_batch_duplicates"]
    frame = batch.frame
    assert frame["received_at"].between(int(datetime(2014, 12, 31, tzinfo=UTC).timestamp()),
                                        int(NOW.timestamp()) + 300).all()
    assert frame["call_type"].isin(list(CALL_TYPES)).all()
    assert (frame["lat"].isna() | frame["lat"].between(-90, 90)).all()
    for r in batch.rejects:
        assert r["reason"].startswith(f"row {r['row_number']}: ") and r["code"] in REASON_CODES
    json.dumps(batch.rejects)
    json.dumps(frame["attrs"].tolist())


# ------------------------------------------------------------------------------------------- duplicates, attrs


def test_in_batch_duplicates_keep_the_last_occurrence(both_paths) -> None:
    rows = [
        {**OK, "id": "A", "status": "proses"},
        {**OK, "id": "B"},
        {**OK, "id": "A", "status": "selesai"},
        {**OK, "id": "C", "waktu": "bad"},
        {**OK, "id": "A", "status": "tidak ditindaklanjuti"},
        {**OK, "id": "C"},  # the last C is fine: the earlier bad one is a repeat, not a reject
        {**OK, "id": "D"},
        {**OK, "id": "D", "waktu": "bad"},  # the last D is bad: rejected, the earlier one is not imported
    ]
    batch = parse(rows)
    assert batch.in_batch_duplicates == 4
    frame = batch.frame.set_index("external_id")
    assert sorted(frame.index) == ["A", "B", "C"]
    assert frame.loc["A", "outcome"] == "not_followed_up" and frame.loc["A", "row_number"] == 6
    assert [r["row_number"] for r in batch.rejects] == [9]
    assert batch.summary() | {"reasons": None} == {"rows": 8, "valid": 3, "rejected": 1, "in_batch_duplicates": 4,
                                                    "blank_rows": 0, "reasons": None}


def test_blank_rows_are_skipped_but_row_numbers_hold(both_paths) -> None:
    batch = parse([{**OK, "id": "A"}, {k: "" for k in OK}, {**OK, "id": "B", "waktu": "?"}])
    assert batch.blank_rows == 1 and batch.rejects[0]["row_number"] == 4 and len(batch.frame) == 1


def test_extra_columns_go_to_attrs_notes_to_notes_caller_nowhere(both_paths) -> None:
    row = one({"operator": "Yanti", "shift": "", "keterangan": "korban 2 orang",
               "nomor_penelepon": "+62 812-3456-7890"})
    assert row["attrs"] == {"operator": "Yanti"}
    assert row["notes"] == "korban 2 orang"
    assert (row["caller_hash"], row["caller_last3"]) == caller_fields("081234567890", KEY)
    assert row["caller_last3"] == "890"
    assert not any("3456" in str(v) for v in row.values())


# ------------------------------------------------------------------------------------------- desa


def test_desa_by_code_dotted_or_not(both_paths, ttu) -> None:
    desa = ttu.desa.iloc[10]
    point = desa.geometry.representative_point()
    for code in (desa["kode"], desa["kode"].replace(".", ""), f" {desa['kode']} "):
        row = one({"kode_wilayah": code}, region=ttu)
        assert row["kode_desa"] == desa["kode"]
        assert (row["lat"], row["lon"]) == (point.y, point.x)
        assert row["flags"] == LocationFlag.APPROXIMATE and row["location_source"] == "address"


def test_desa_by_name_case_and_spacing_insensitive(both_paths, ttu) -> None:
    desa = ttu.desa.iloc[20]
    kec = ttu.kecamatan.set_index("kode").loc[desa["kode_kec"], "nama"]
    for name, kec_name in ((desa["nama"], ""), (f"  {desa['nama'].upper()} ", kec.lower()),
                           (f"Desa {desa['nama']}", f"Kecamatan {kec}")):
        row = one({"desa": name, "kecamatan": kec_name, "lokasi_sumber": "bts"}, region=ttu)
        assert row["kode_desa"] == desa["kode"] and row["flags"] == LocationFlag.APPROXIMATE
        assert row["location_source"] == "cell"  # a given source is kept


def test_coordinates_win_over_a_named_desa_which_is_kept_in_attrs(both_paths, ttu) -> None:
    desa = ttu.desa.iloc[20]
    row = one({"desa": desa["nama"], "lat": "-9.4", "lon": "124.5"}, region=ttu)
    assert (row["lat"], row["lon"], row["kode_desa"], row["flags"]) == (-9.4, 124.5, None, 0)
    assert row["attrs"] == {"desa": desa["nama"]}


@pytest.mark.parametrize(("place", "note"), [
    ({"desa": "Atlantis"}, 'desa "Atlantis" is not a desa of'),
    ({"kode_wilayah": "53.03.99.2999"}, 'kode_wilayah "53.03.99.2999" is not a desa of'),
    ({"kode_wilayah": "53.03.06"}, 'kode_wilayah "53.03.06" is not a desa code'),
    ({"kecamatan": "Insana"}, 'kecamatan "Insana" given without a desa'),
    ({"desa": "Bokon", "kecamatan": "Narnia"}, 'kecamatan "Narnia" is not a kecamatan of'),
    ({"desa": "Bokon", "kecamatan": "Insana"}, 'desa "Bokon" is not in kecamatan "Insana" (it is in Miomaffo Timur)'),
])
def test_unknown_desa_is_kept_without_location_and_a_note(ttu, place, note) -> None:
    row = one(place, region=ttu)
    assert pd.isna(row["lat"]) and row["kode_desa"] is None and row["flags"] == 0
    assert row["attrs"]["_location_note"].startswith(note), row["attrs"]
    assert row["location_source"] == "unknown"


def test_without_a_region_a_desa_is_noted_not_placed() -> None:
    row = one({"desa": "Bokon"})
    assert row["attrs"]["_location_note"].startswith("no region boundaries are loaded")


@pytest.fixture(scope="module")
def ttu_twins(ttu):
    """TTU with a second desa named like the first, in another kecamatan (real names repeat across a
    provinsi: the region may be one)."""
    desa = ttu.desa.copy()
    other = desa.index[desa["kode_kec"] != desa["kode_kec"].iloc[0]][0]
    desa.loc[other, "nama"] = desa["nama"].iloc[0]
    return dataclasses.replace(ttu, desa=desa), desa.iloc[0], desa.loc[other]


def test_ambiguous_desa_name_is_rejected_listing_the_kecamatan(both_paths, ttu_twins) -> None:
    region, first, second = ttu_twins
    kec = region.kecamatan.set_index("kode")["nama"]
    batch = parse([{**OK, "desa": first["nama"]}], region=region)
    (r,) = batch.rejects
    assert r["code"] == "desa_ambiguous"
    names = sorted([kec[first["kode_kec"]], kec[second["kode_kec"]]])
    assert r["reason"] == (f'row 2: desa "{first["nama"]}" is in more than one kecamatan ({", ".join(names)}); '
                           "add kecamatan to choose")
    row = one({"desa": first["nama"], "kecamatan": kec[second["kode_kec"]]}, region=region)
    assert row["kode_desa"] == second["kode"]


def test_placed_rows_survive_locate_frame(ttu, ttu_locator) -> None:
    from ntpd_map.ingest.write import locate_frame

    desa = ttu.desa.iloc[5]
    batch = parse([{**OK, "id": "named", "kode_wilayah": desa["kode"]},
                   {**OK, "id": "far", "lat": "-6.2", "lon": "106.8"},
                   {**OK, "id": "none"}], region=ttu)
    located = locate_frame(batch.frame, ttu_locator).set_index("external_id")
    assert located.loc["named", "kode_desa"] == desa["kode"]
    assert located.loc["named", "kode_kec"] == desa["kode_kec"]
    assert located.loc["named", "flags"] & LocationFlag.APPROXIMATE
    assert located.loc["far", "flags"] & LocationFlag.OUT_OF_REGION
    assert (located.loc["far", "lat"], located.loc["far", "lon"]) == (-6.2, 106.8)  # never moved
    assert located.loc["none", "flags"] & LocationFlag.NO_LOCATION


# ------------------------------------------------------------------------------------------- records (API)


def test_records_row_numbers_are_list_indexes_and_json_values_kept(both_paths) -> None:
    records = [
        {"external_id": "X1", "received_at": "2025-05-01T10:00:00+08:00", "call_type": "genuine",
         "latitude": -9.4, "longitude": 124.5, "priority": 1, "tags": ["a"], "caller_number": "081234567890"},
        "not an object",
        {"external_id": "X3", "received_at": "2025-05-01T10:00:00+08:00"},
        {"id": "X4", "external_id": "X5", "received_at": "2025-05-01 10:00", "call_type": "prank"},
        {"id": "X6", "waktu": "2025-05-01 10:00", "jenis_panggilan": "iseng", "lat": None},
    ]
    batch = incidents_from_records(records, source="api", tz=TZ, region=None, caller_key=KEY, now=NOW)
    assert [(r["row_number"], r["code"]) for r in batch.rejects] == [
        (1, "not_an_object"), (2, "call_type_missing"), (3, "conflicting_fields")]
    assert batch.rejects[1]["reason"].startswith("record 2: call_type is missing")
    assert batch.rejects[1]["original"] == {"external_id": "X3", "received_at": "2025-05-01T10:00:00+08:00"}
    assert batch.rejects[2]["reason"] == 'record 3: "id" and "external_id" give different values for external_id'
    frame = batch.frame.set_index("external_id")
    assert frame["row_number"].to_dict() == {"X1": 0, "X6": 4}
    assert frame.loc["X1", "attrs"] == {"priority": 1, "tags": ["a"]}
    assert (frame.loc["X1", "lat"], frame.loc["X1", "lon"]) == (-9.4, 124.5)
    assert frame.loc["X1", "caller_last3"] == "890" and frame.loc["X6", "attrs"] == {}


def test_records_single_and_empty() -> None:
    kw = {"source": "api", "tz": TZ, "region": None, "caller_key": KEY, "now": NOW}
    assert incidents_from_records([], **kw).summary()["rows"] == 0
    batch = incidents_from_records([{"external_id": 7, "received_at": "2025-05-01 10:00", "call_type": "info"}], **kw)
    assert batch.frame["external_id"].tolist() == ["7"]


# ------------------------------------------------------------------------------------------- caller numbers

NSN = st.from_regex(r"8[1-9][0-9]{7,10}", fullmatch=True)  # an Indonesian mobile number without its 0


def formats(nsn: str) -> list[str]:
    spaced = f"{nsn[:3]} {nsn[3:7]} {nsn[7:]}"
    return [f"0{nsn}", f"+62{nsn}", f"62{nsn}", f"+62 {spaced}", f"0{spaced}", f"(+62) {nsn[:3]}-{nsn[3:7]}-{nsn[7:]}",
            f"+62 (0){nsn}", f"0062 {nsn}", nsn, f" 0{nsn[:3]}.{nsn[3:]} "]


def test_caller_fields_known_values() -> None:
    expected = hmac.new(KEY, b"6281234567890", hashlib.sha256).hexdigest()
    for text in ("+62 812-3456-7890", "0812 3456 7890", "6281234567890"):
        assert caller_fields(text, KEY) == (expected, "890")
    assert caller_fields(None, KEY) == (None, None) and caller_fields(" - ", KEY) == (None, None)
    assert caller_fields("112", KEY)[1] == "112"
    assert caller_fields("+61 412 345 678", KEY) != caller_fields("0412 345 678", KEY)  # Australia is not Indonesia


@settings(max_examples=100, deadline=None)
@given(nsn=NSN)
def test_property_formats_of_one_number_hash_the_same(nsn: str) -> None:
    results = {caller_fields(text, KEY) for text in formats(nsn)}
    assert len(results) == 1
    (digest, last3), = results
    assert last3 == nsn[-3:]
    assert nsn not in digest and f"0{nsn}" not in digest and f"62{nsn}" not in digest
    assert caller_fields(f"0{nsn}", b"another key")[0] != digest


@settings(max_examples=100, deadline=None)
@given(a=NSN, b=NSN)
def test_property_different_numbers_hash_differently(a: str, b: str) -> None:
    assume(a != b)
    assert caller_fields(a, KEY)[0] != caller_fields(b, KEY)[0]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(st.text(max_size=20), st.text(alphabet="0123456789+-() ", max_size=18),
                          NSN.map(lambda n: formats(n)[hash(n) % 10])), min_size=1, max_size=20))
def test_property_column_normalisation_matches_the_scalar_one(texts: list[str]) -> None:
    column = _canonical_numbers(pd.Series([t.strip() for t in texts], dtype=_STR))
    assert column.tolist() == [_canonical_number(t.strip()) for t in texts]


@pytest.mark.parametrize("key", [b"k", b"x" * 64, b"a much longer key than one sha256 block " * 3])
def test_hash_is_hmac_sha256_for_any_key_length(both_paths, key: bytes) -> None:
    batch = parse([{**OK, "nomor_penelepon": "0812 3456 7890"}], caller_key=key)
    expected = hmac.new(key, b"6281234567890", hashlib.sha256).hexdigest()
    assert batch.frame["caller_hash"].tolist() == [expected] == [caller_fields("081234567890", key)[0]]
    with pytest.raises(ValueError, match="caller_key is empty"):
        caller_fields("081234567890", b"")


def test_column_hashes_match_caller_fields(both_paths) -> None:
    numbers = ["0812 3456 7890", "+62 813-1111-2222", "", "081234567890", "12"]
    batch = parse([{**OK, "id": str(i), "nomor_penelepon": n} for i, n in enumerate(numbers)])
    got = list(zip(batch.frame["caller_hash"], batch.frame["caller_last3"], strict=True))
    assert got == [caller_fields(n, KEY) for n in numbers]
    assert got[0] == got[3] and got[2] == (None, None)
    assert "nomor_penelepon" not in json.dumps(batch.frame["attrs"].tolist())


def test_many_rows_are_parsed_column_wise() -> None:
    """A smoke check of the vectorised paths on 50k rows (the 1M-row rate is measured by the bench)."""
    n = 50_000
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({
        "id": [f"R{i}" for i in range(n)],
        "waktu": pd.to_datetime(rng.integers(1_600_000_000, 1_700_000_000, n), unit="s").strftime("%d/%m/%Y %H:%M"),
        "jenis_panggilan": rng.choice(["terputus", "Iseng", "DARURAT", "diam"], n),
        "lat": rng.uniform(-10, -9, n).round(5).astype(str),
        "lon": rng.uniform(124, 125, n).round(5).astype(str),
    }).astype(_STR)
    frame.loc[::1000, "waktu"] = "31/02/2020 10:00"
    batch = incidents_from_table(frame, source="s", tz=TZ, region=None, caller_key=KEY, now=NOW)
    assert batch.summary()["rejected"] == 50 and len(batch.frame) == n - 50


# ------------------------------------------------------------------------------------------- both paths agree

TIMES = ["2025-05-01 10:00", "2025-05-01 10:00:59", "1/5/2025 9:05", "31/02/2025 10:00", "2024-02-29 10:00",
         "2025-02-29 10:00", "2025-05-01T10:00", "2025-05-01T02:00:00Z", "2025-05-01 10:00+0800",
         "2025-05-01T10:00:00+24:00", "2025-05-01T10:00:00+08:60", "2025-05-01 24:00", "2025-05-01 10:00:60",
         "2025-05-01 10:00:00.999999", "2030-01-01 00:00", "2014-12-31 23:59", "2015-01-01 00:00",
         "0001-01-01 00:00", "9999-12-31 23:59", "2025-10-01 20:04", "2025-10-01 20:06", "٢٠٢٥-05-01 10:00"]
WORDS = [w for t in (CALL_TYPES, CATEGORIES, OUTCOMES, SOURCES) for ws in t.values() for w in ws]
NUMBERS = ["-9.4", "-9,4", "124,5", "124.5", "91", "-180", "nan", "inf", "1e999", "abc", "5.", ".5", "+1", "٣"]
PLACES = ["Bokon", "bokon", "Desa Bitefa", "Atlantis", "Miomaffo Timur", "Insana", "53.03.01.2005",
          "5303012005", "53.03.06", "53.03.99.2999"]
CALLERS = ["0812 3456 7890", "+62 812-3456-7890", "112", "+61 412 345 678", "-"]


def cell(values: list[str]) -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(["", *values]), st.text(max_size=10))


RANDOM_ROW = st.fixed_dictionaries({
    "id": st.sampled_from(["A", "B", " A ", "C", "", "D"]),
    "waktu": cell(TIMES), "waktu_dispatch": cell(TIMES), "waktu_tiba": cell(TIMES),
    "jenis_panggilan": cell(WORDS), "status": cell(WORDS), "kategori": cell(WORDS), "lokasi_sumber": cell(WORDS),
    "instansi": cell([a for ws in AGENCIES.values() for a in ws]),
    "lat": cell(NUMBERS), "lon": cell(NUMBERS),
    "desa": cell(PLACES), "kecamatan": cell(PLACES), "kode_wilayah": cell(PLACES),
    "nomor_penelepon": cell(CALLERS), "keterangan": cell(["korban 2"]), "operator": cell(["Yanti"]),
})


def assert_same(a, b) -> None:
    assert a.rejects == b.rejects
    assert (a.in_batch_duplicates, a.blank_rows) == (b.in_batch_duplicates, b.blank_rows)
    pd.testing.assert_frame_equal(a.frame, b.frame)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(rows=st.lists(RANDOM_ROW, min_size=1, max_size=40), blank=st.booleans())
def test_property_row_wise_and_column_wise_paths_agree(ttu, rows, blank) -> None:
    from ntpd_map.ingest import records

    if blank:
        rows = [*rows, {k: "" for k in rows[0]}]
    frame = table(rows)
    kw = {"source": "ttu", "tz": TZ, "region": ttu, "caller_key": KEY, "now": NOW}
    recs = [{k: v for k, v in r.items() if v != ""} for r in rows]
    saved = records.SMALL_BATCH
    try:
        records.SMALL_BATCH = 10**9
        by_rows = incidents_from_table(frame, **kw), incidents_from_records(recs, **kw)
        records.SMALL_BATCH = -1
        by_columns = incidents_from_table(frame, **kw), incidents_from_records(recs, **kw)
    finally:
        records.SMALL_BATCH = saved
    for a, b in zip(by_rows, by_columns, strict=True):
        assert_same(a, b)


def test_a_place_holding_any_character_is_looked_up_as_written(ttu) -> None:
    """The column path groups rows by (code, desa, kecamatan): a unit separator typed into a cell is a character
    like any other, not a boundary between the three (hypothesis found "\\x1f" in a desa name)."""
    row = {"id": "X1", "waktu": "2025-05-01 10:00", "jenis_panggilan": "darurat", "desa": "Bo\x1fkon",
           "kecamatan": "In\x1fsana", "kode_wilayah": "53\x1f03"}
    from ntpd_map.ingest import records

    kw = {"source": "ttu", "tz": TZ, "region": ttu, "caller_key": KEY, "now": NOW}
    frame = table([row, {**row, "id": "X2"}])
    saved = records.SMALL_BATCH
    try:
        records.SMALL_BATCH = -1
        by_columns = incidents_from_table(frame, **kw)
        records.SMALL_BATCH = 10**9
        by_rows = incidents_from_table(frame, **kw)
    finally:
        records.SMALL_BATCH = saved
    assert_same(by_rows, by_columns)
