"""OpenCelliD exports (issue 7): Indonesian cells of the region kept, others skipped and counted, bad rows
rejected by line; gzipped or not, with or without header; importing again changes nothing."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from ntpd_map.domain import Tower
from ntpd_map.ingest.opencellid import COLUMNS, rows_from_file, towers_from_rows
from ntpd_map.store import open_store

HEADER = ",".join(COLUMNS)
INSIDE = "GSM,510,10,1001,11,0,124.48,-9.45,3000,12,1,1500000000,1700000000,0"  # Kefamenanu
NO_RANGE = "LTE,510,10,1001,12,0,124.60,-9.30,0,3,1,1500000000,1700000001,0"
SINGAPORE = "LTE,525,1,1,1,0,103.8,1.3,1000,1,1,1,1,0"
JAKARTA = "GSM,510,10,1001,13,0,106.8,-6.2,1000,1,1,1,1,0"


def write(tmp_path: Path, lines: list[str], name: str = "cells.csv", *, gz: bool = False) -> Path:
    path = tmp_path / name
    data = ("\n".join(lines) + "\n").encode()
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def parse(path: Path, ttu, default: float = 3000.0):
    names, rows = rows_from_file(path)
    return towers_from_rows(names, rows, ttu, default_range_m=default)


@pytest.mark.parametrize(("header", "gz"), [(True, False), (False, False), (True, True), (False, True)])
def test_cells_of_the_region_are_kept(tmp_path, ttu, header: bool, gz: bool) -> None:
    lines = ([HEADER] if header else []) + [INSIDE, NO_RANGE, SINGAPORE, JAKARTA]
    got = parse(write(tmp_path, lines, "510.csv.gz" if gz else "510.csv", gz=gz), ttu)
    assert got.towers == [
        Tower(-9.45, 124.48, "opencellid", radio="GSM", mcc=510, net=10, area=1001, cell=11, range_m=3000.0,
              samples=12, updated_at=1_700_000_000),
        Tower(-9.30, 124.60, "opencellid", radio="LTE", mcc=510, net=10, area=1001, cell=12, range_m=None,
              samples=3, updated_at=1_700_000_001),  # range 0: unknown
    ]
    assert (got.rows, got.skipped_other_mcc, got.skipped_outside_region, got.rejects) == (4, 1, 1, [])
    assert got.without_range == 1


def test_a_tower_across_the_border_is_kept_when_its_range_reaches_in(tmp_path, ttu) -> None:
    import geopandas as gpd
    import shapely

    # a point 2 km outside the region's polygons (measured in its UTM zone)
    utm = ttu.kecamatan.estimate_utm_crs()
    area = shapely.union_all(ttu.kecamatan.to_crs(utm).geometry.to_numpy())
    probe = shapely.Point(area.bounds[0] - 2000, area.centroid.y)
    while area.distance(probe) > 2000.5:  # walk east until 2 km from the border
        probe = shapely.Point(probe.x + 100, probe.y)
    pt = gpd.GeoSeries([probe], crs=utm).to_crs("EPSG:4326").iloc[0]
    near = f"LTE,510,10,1,21,0,{pt.x:.6f},{pt.y:.6f},{{}},1,1,1,1,0"
    lines = [near.format(5000), near.replace(",21,", ",22,").format(1000), near.replace(",21,", ",23,").format(0)]
    got = parse(write(tmp_path, lines), ttu, default=2500.0)
    assert [t.cell for t in got.towers] == [21, 23]  # 5 km reaches in; 1 km does not; no range: the default 2.5 km
    assert (got.kept_beyond_border, got.skipped_outside_region) == (2, 1)


def test_bad_rows_are_rejected_with_their_line(tmp_path, ttu) -> None:
    lines = [HEADER, INSIDE,
             "GSM,510,xx,1001,14,0,124.5,-9.4,1000,1,1,1,1,0",
             "WIFI,510,10,1001,15,0,124.5,-9.4,1000,1,1,1,1,0",
             "GSM,510,10,1001",
             ",510,10,1001,16,0,124.5,-9.4,1000,1,1,1,1,0",
             "GSM,5x0,10,1001,17,0,124.5,-9.4,1000,1,1,1,1,0",
             "GSM,510,10,1001,18,0,124.5,-99.4,1000,1,1,1,1,0",
             "GSM,510,10,1001,19,0,124.5,-9.4,-5,1,1,1,1,0",
             "",
             "GSM,510,10,1001,20,0,124.5,-9.4,1000,many,1,1,1,0"]
    got = parse(write(tmp_path, lines), ttu)
    assert [t.cell for t in got.towers] == [11]
    assert [(r["row_number"], r["code"]) for r in got.rejects] == [
        (3, "net_invalid"), (4, "radio_invalid"), (5, "fields"), (6, "radio_missing"), (7, "mcc_invalid"),
        (8, "coordinates_invalid"), (9, "range_invalid"), (11, "samples_invalid")]
    assert got.rejects[0]["reason"] == 'line 3: net "xx" is not a whole number >= 0'
    assert got.rejects[0]["original"]["cell"] == "14"
    assert got.rows == 9  # lines 2-11 but the blank one


def test_unreadable_files_say_why(tmp_path, ttu) -> None:
    (tmp_path / "empty.csv").write_bytes(b"")
    with pytest.raises(ValueError, match="empty"):
        rows_from_file(tmp_path / "empty.csv")
    (tmp_path / "broken.csv.gz").write_bytes(gzip.compress(b"radio,mcc\n")[:12])
    with pytest.raises(ValueError, match=r"broken\.csv\.gz"):
        _names, rows = rows_from_file(tmp_path / "broken.csv.gz")
        list(rows)
    with pytest.raises(ValueError, match="no column lat"):
        rows_from_file(write(tmp_path, ["radio,mcc,net,area,cell,lon"], "short.csv"))
    with pytest.raises(FileNotFoundError):
        rows_from_file(tmp_path / "missing.csv")


def test_reimport_changes_nothing_and_a_newer_export_updates(tmp_path, ttu) -> None:
    store = open_store(f"sqlite:///{tmp_path / 's.sqlite'}")
    store.migrate()
    first = store.add_towers(parse(write(tmp_path, [HEADER, INSIDE, NO_RANGE]), ttu).towers)
    again = store.add_towers(parse(write(tmp_path, [INSIDE, NO_RANGE]), ttu).towers)  # the same, headerless
    assert (first.inserted, again.inserted, again.updated, again.unchanged) == (2, 0, 0, 2)
    newer = store.add_towers(parse(write(tmp_path, [HEADER, INSIDE.replace(",3000,12,", ",3500,40,")]), ttu).towers)
    assert (newer.inserted, newer.updated) == (0, 1)
    assert store.towers().set_index("cell").loc[11, "range_m"] == 3500.0
