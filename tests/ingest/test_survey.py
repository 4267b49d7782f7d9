"""Field-survey signal files (issue 7): dBm or bars, the desa each point lies in, bad rows rejected by row."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from ntpd_map.ingest.survey import samples_from_table, signal_value, time_value

TZ = "Asia/Makassar"
NOW = int(datetime(2025, 7, 1, tzinfo=UTC).timestamp())


def table(rows: list[list[object]], header=("waktu", "lat", "lon", "sinyal", "operator", "jaringan")) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(header))


@pytest.mark.parametrize(("cell", "expected"), [
    ("-113 dBm", (-113.0, None)), ("-95,5", (-95.5, None)), (-80, (-80.0, None)), ("3", (None, 3)),
    ("2 bar", (None, 2)), (0, (None, 0)), ("Tidak ada sinyal", (None, 0)), ("no service", (None, 0)),
    (4.0, (None, 4)), ("17", None), ("-5", None), ("-200", None), ("kuat", None), (True, None), (2.5, None),
])
def test_signal_values(cell: object, expected: object) -> None:
    assert signal_value(cell) == expected


def test_times() -> None:
    assert time_value("2025-06-01 09:00", TZ) == int(datetime(2025, 6, 1, 1, 0, tzinfo=UTC).timestamp())  # WITA
    assert time_value("01/06/2025 09:00", TZ) == time_value("2025-06-01 09:00", TZ)
    assert time_value("2025-06-01T01:00:00Z", TZ) == time_value("2025-06-01 09:00", TZ)
    assert time_value("1748739600", TZ) == 1748739600 and time_value("1748739600000", TZ) == 1748739600
    assert time_value(pd.Timestamp("2025-06-01 09:00"), TZ) == time_value("2025-06-01 09:00", TZ)
    assert time_value("31/02/2025 10:00", TZ) is None and time_value("kemarin", TZ) is None


def test_points_get_their_desa_and_bad_rows_are_rejected(ttu, ttu_locator) -> None:
    desa = ttu.desa[ttu.desa["has_polygon"]].iloc[[3, 50]]
    pts = desa.geometry.representative_point()
    (y0, x0), (y1, x1) = (pts.iloc[0].y, pts.iloc[0].x), (pts.iloc[1].y, pts.iloc[1].x)
    rows = [
        ["2025-06-01 09:00", str(y0).replace(".", ","), x0, "-113 dBm", "Telkomsel", "4G"],  # decimal comma
        ["2025-06-01 09:05", y1, x1, "tidak ada sinyal", "", ""],
        ["2025-06-01 09:10", y1, x1, 3, "XL", "2G"],
        ["2025-06-01 09:15", x0, y0, "-90", "Telkomsel", "4G"],  # lat and lon swapped
        ["2025-06-01 09:20", y0, x0, "17", "Telkomsel", ""],
        ["31/02/2025 10:00", y0, x0, "-95", "Telkomsel", ""],
        ["", y0, x0, "-95", "Telkomsel", ""],
        ["2025-06-01 09:30", -6.2, 106.8, "-95", "Telkomsel", ""],  # Jakarta: outside the region
        ["2025-06-01 09:35", y0, x0, "", "Telkomsel", ""],
        [None, None, None, None, None, None],
        ["2030-01-01 00:00", y0, x0, "-95", "Telkomsel", ""],
    ]
    got = samples_from_table(table(rows), ttu, ttu_locator, tz=TZ, source="survey:s.csv", now=NOW)
    assert [(s.kode_desa, s.dbm, s.bars, s.operator, s.network) for s in got.samples] == [
        (desa["kode"].iloc[0], -113.0, None, "Telkomsel", "4G"), (desa["kode"].iloc[1], None, 0, "", None),
        (desa["kode"].iloc[1], None, 3, "XL", "2G")]
    assert all(s.h3 and s.source == "survey:s.csv" and not s.simulated for s in got.samples)
    import h3

    assert h3.int_to_str(got.samples[0].h3) == h3.latlng_to_cell(y0, x0, 9)
    assert [(r["row_number"], r["code"]) for r in got.rejects] == [
        (5, "position_invalid"), (6, "signal_invalid"), (7, "time_invalid"), (8, "time_missing"),
        (9, "outside_region"), (10, "signal_missing"), (12, "time_implausible")]
    assert "swapped" in got.rejects[4]["reason"] and got.rejects[4]["original"]["operator"] == "Telkomsel"
    assert got.blank_rows == 1


def test_a_separate_bars_column_and_other_header_names(ttu, ttu_locator) -> None:
    p = ttu.desa[ttu.desa["has_polygon"]].geometry.representative_point().iloc[7]
    frame = table([[1748739600, p.y, p.x, "-104", 1, "Indosat"], [1748739660, p.y, p.x, "", 0, "Indosat"]],
                  header=("Timestamp", "Latitude", "Longitude", "RSRP", "Bars", "Provider"))
    got = samples_from_table(frame, ttu, ttu_locator, tz=TZ, source="app", now=NOW)
    assert [(s.dbm, s.bars, s.operator, s.recorded_at) for s in got.samples] == [
        (-104.0, 1, "Indosat", 1748739600), (None, 0, "Indosat", 1748739660)]
    with pytest.raises(ValueError, match="no column for the time"):
        samples_from_table(frame.drop(columns="Timestamp"), ttu, ttu_locator, tz=TZ, source="app")
    with pytest.raises(ValueError, match="no column for the signal"):
        samples_from_table(frame.drop(columns=["RSRP", "Bars"]), ttu, ttu_locator, tz=TZ, source="app")
    assert np.isfinite([s.lat for s in got.samples]).all()
