"""ReferenceStore, on every backend: population and towers."""

from __future__ import annotations

import pandas as pd
import pytest

from ntpd_map.domain import (
    PopulationFigure,
    Tower,
)
from tests.store.fixtures import T0, opencellid

# population and towers (issue 5) ------------------------------------------------------------------------------


def test_population_round_trip_with_level_from_the_code(store) -> None:
    assert list(store.population().columns) == ["kode", "level", "population", "year", "source", "updated_at"]
    result = store.set_population([
        PopulationFigure("53.03.06.2001", 1_234, year=2024, source="Dukcapil 2024-S1"),
        PopulationFigure("53.03.06", 12_345, source="Dukcapil"),
        PopulationFigure("53.03.01.1001", 0),  # an empty desa is a figure, not a missing one
    ])
    assert (result.inserted, result.updated, result.unchanged) == (3, 0, 0)
    got = store.population()
    assert list(got["kode"]) == ["53.03.01.1001", "53.03.06", "53.03.06.2001"]
    assert list(got["level"]) == ["desa", "kecamatan", "desa"]
    assert got["population"].dtype == "int64" and list(got["population"]) == [0, 12_345, 1_234]
    assert got["year"].dtype == "Int64" and got["year"].isna().tolist() == [True, True, False]
    assert int(got["year"].iloc[2]) == 2024
    assert list(got["source"]) == ["import", "Dukcapil", "Dukcapil 2024-S1"]
    assert got["updated_at"].dtype == "int64" and (got["updated_at"] > T0).all()

def test_population_upsert_counts_and_reimport_changes_nothing(store, monkeypatch) -> None:
    clock = iter(range(T0, T0 + 100))
    monkeypatch.setattr("ntpd_map.store.model.now_s", lambda: next(clock))
    figures = [PopulationFigure(f"53.03.06.20{i:02d}", 100 * i, year=2024) for i in range(1, 6)]
    store.set_population(figures)
    stamped = store.population()
    assert (stamped["updated_at"] == T0).all()
    again = store.set_population(figures)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 5)
    pd.testing.assert_frame_equal(store.population(), stamped)  # updated_at too: nothing was written

    changed = [
        PopulationFigure("53.03.06.2001", 999, year=2024),  # another number
        PopulationFigure("53.03.06.2002", 200, year=2025),  # another year only
        PopulationFigure("53.03.06.2003", 300, year=2024, source="survei"),  # another source only
        figures[3],  # as stored
        PopulationFigure("53.03.07", 5_000),  # new
    ]
    result = store.set_population(changed)
    assert (result.inserted, result.updated, result.unchanged) == (1, 3, 1)
    got = store.population().set_index("kode")
    assert len(got) == 6
    assert got.loc["53.03.06.2001", "population"] == 999
    assert got.loc["53.03.06.2002", "year"] == 2025
    assert got.loc["53.03.06.2003", "source"] == "survei"
    assert got["updated_at"].to_dict() == {**dict.fromkeys(got.index, T0 + 2), "53.03.06.2004": T0,
                                           "53.03.06.2005": T0}  # only rows written now are stamped now

    # one kode twice in a batch: the last figure is written, the earlier counts as unchanged
    result = store.set_population([PopulationFigure("53.03.07", 1), PopulationFigure("53.03.07", 5_001)])
    assert (result.inserted, result.updated, result.unchanged) == (0, 1, 1)
    assert store.population().set_index("kode").loc["53.03.07", "population"] == 5_001

def test_population_figure_checks_its_code_and_number() -> None:
    assert PopulationFigure("53.03.06", 1).level == "kecamatan"
    assert PopulationFigure("53.03.06.2001", 1).level == "desa"
    for kode in ("53.03", "5303062001", "53"):
        with pytest.raises(ValueError, match="kecamatan"):
            PopulationFigure(kode, 1)
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match="whole number"):
            PopulationFigure("53.03.06", bad)  # type: ignore[arg-type]

def test_towers_round_trip(store) -> None:
    assert list(store.towers().columns) == ["id", "source", "radio", "mcc", "net", "area", "cell", "lat", "lon",
                                            "range_m", "samples", "updated_at", "simulated"]
    big = 2**35 + 7  # a 5G NR cell id (36 bits) needs a 64-bit column
    result = store.add_towers([
        opencellid(big, radio="NR"),
        Tower(-9.50, 124.60, "simulasi", "GSM", 510, 11, 501, 77, range_m=2_500.5, simulated=True),
        Tower(-9.40, 124.70, "survey"),  # a mast seen in the field, no cell ids
    ])
    assert (result.inserted, result.updated, result.unchanged) == (3, 0, 0)
    got = store.towers()
    assert got["id"].is_unique and got["id"].is_monotonic_increasing
    assert list(got["source"]) == ["opencellid", "simulasi", "survey"]
    assert got["cell"].dtype == "Int64" and int(got["cell"].iloc[0]) == big
    assert got["radio"].iloc[0] == "NR" and pd.isna(got["radio"].iloc[2])
    assert got[["mcc", "net", "area", "cell", "samples", "updated_at"]].iloc[2].isna().all()
    assert list(got["simulated"]) == [False, True, False] and got["simulated"].dtype == bool
    assert list(got["lat"]) == [-9.45, -9.50, -9.40] and list(got["lon"]) == [124.48, 124.60, 124.70]
    assert got["range_m"].iloc[1] == 2_500.5 and pd.isna(got["range_m"].iloc[2])
    assert int(got["updated_at"].iloc[0]) == T0 and int(got["samples"].iloc[0]) == 12

def test_towers_upsert_on_the_cell_key(store) -> None:
    towers = [opencellid(c) for c in range(1, 5)]
    store.add_towers(towers)
    ids = store.towers()["id"].tolist()
    again = store.add_towers(towers)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 4)

    result = store.add_towers([
        opencellid(1, lat=-9.46, samples=40, updated_at=T0 + 86_400),  # measured again, moved a little
        opencellid(2),  # as stored
        opencellid(3, net=11),  # another operator's cell: another tower
        opencellid(3, radio="GSM"),  # same number on another radio: another tower
        opencellid(4, source="survey"),  # same cell from another source: kept apart
    ])
    assert (result.inserted, result.updated, result.unchanged) == (3, 1, 1)
    got = store.towers()
    assert len(got) == 7
    first = got[got["id"] == ids[0]].iloc[0]
    assert (first["lat"], first["samples"], first["cell"]) == (-9.46, 40, 1)  # updated in place, same id
    assert got["id"].tolist()[:4] == ids

    # the same key twice in one batch: the last one is written
    result = store.add_towers([opencellid(2, range_m=1.0), opencellid(2, range_m=2.0)])
    assert (result.inserted, result.updated, result.unchanged) == (0, 1, 1)
    assert store.towers().set_index("id").loc[ids[1], "range_m"] == 2.0

def test_towers_without_cell_ids_are_matched_by_position(store) -> None:
    masts = [Tower(-9.40, 124.70, "survey", radio="GSM"), Tower(-9.41, 124.71, "survey")]
    assert store.add_towers(masts).inserted == 2
    again = store.add_towers(masts)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 2)
    result = store.add_towers([Tower(-9.40, 124.70, "survey", radio="LTE"), Tower(-9.42, 124.72, "survey")])
    assert (result.inserted, result.updated, result.unchanged) == (1, 1, 0)
    got = store.towers()
    assert len(got) == 3 and got["radio"].iloc[0] == "LTE"
