"""H3 analytics per kecamatan (issue 5): one entry point for the API, the analytics page and the CLI.

``Analytics(runtime)`` holds, per process, the clipped hexagons of the region at each resolution (built once,
cached on disk) and the in-memory incident columns kept in step with the store. Every answer is a pure
function of a snapshot, the window and the reference data (population, signal marks, towers).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ntpd_map.analytics import priority
from ntpd_map.analytics.columns import IncidentColumns
from ntpd_map.analytics.counts import count_window, hexes_geojson
from ntpd_map.analytics.priority import population
from ntpd_map.analytics.proposal import Proposal, proposal_rows
from ntpd_map.geo.coverage import uncovered_area
from ntpd_map.geo.hexes import load_pieces
from ntpd_map.geo.signal import desa_signal, survey_summary

if TYPE_CHECKING:
    import pandas as pd

    from ntpd_map.analytics.counts import WindowCounts
    from ntpd_map.analytics.priority import Population
    from ntpd_map.analytics.proposal import Proposal
    from ntpd_map.geo.hexes import HexPieces
    from ntpd_map.runtime import Runtime

DEFAULT_DAYS = 30


@dataclass(frozen=True)
class Priorities:
    metric: str  # socialisation | bts
    level: str  # kecamatan | desa
    start: int
    end: int
    rows: pd.DataFrame  # one row per kecamatan (or desa) of the region, sorted by rank
    population_estimated: bool  # at least one population figure is an estimate
    towers_known: int
    marks: int


class Analytics:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        region = runtime.region
        self.columns = IncidentColumns(region.kecamatan["kode"].to_numpy(), region.desa["kode"].to_numpy())
        self._pieces: dict[int, HexPieces] = {}
        self._uncovered: dict[tuple[str, str, float], pd.DataFrame] = {}
        self._lock = threading.Lock()

    @property
    def default_res(self) -> int:
        return self.runtime.settings.int("NTPD_H3_RES")

    def pieces(self, res: int | None = None) -> HexPieces:
        res = res or self.default_res
        if res not in self._pieces:
            with self._lock:
                if res not in self._pieces:
                    self._pieces[res] = load_pieces(self.runtime.region, res, self.runtime.settings.boundaries_dir)
        return self._pieces[res]

    def counts(self, start: int, end: int, res: int | None = None, *, hexes: bool = True) -> WindowCounts:
        region = self.runtime.region
        pieces = self.pieces(res) if hexes else None
        snap = self.columns.snapshot(self.runtime.store, pieces.res if pieces else None)
        return count_window(snap, start, end, len(region.kecamatan), len(region.desa), pieces)

    def hexes(self, start: int, end: int, res: int | None = None, *, include_empty: bool = False) -> dict[str, Any]:
        pieces = self.pieces(res)
        out = hexes_geojson(self.counts(start, end, pieces.res), pieces, self.runtime.names,
                            include_empty=include_empty)
        out["res"] = pieces.res
        return out

    def population(self) -> Population:
        return population(self.runtime.region, self.runtime.store.population())

    def priorities(self, metric: str, start: int, end: int, level: str = "kecamatan") -> Priorities:
        store = self.runtime.store
        region = self.runtime.region
        pop = self.population()
        now = self.counts(start, end, hexes=False)
        marks = desa_signal(store.coverage_marks())  # one status per desa: desa-wide mark, else its worst cell
        towers = store.towers()
        if metric == "socialisation":
            if level != "kecamatan":
                raise ValueError("the socialisation index is per kecamatan")
            before = self.counts(start - (end - start), start, hexes=False)
            rows = priority.socialisation(now, before, region, pop)
            estimated = bool(pop.kec_estimated.any())
        elif metric == "bts":
            rows = priority.bts(now, region, pop, marks, towers, level)
            estimated = bool((pop.desa_estimated if level == "desa" else pop.kec_estimated).any())
        else:
            raise ValueError(f"metric must be one of {', '.join(priority.METRICS)}, not {metric!r}")
        return Priorities(metric, level, start, end, rows, estimated, len(towers), len(marks))

    def reference_signature(self) -> str:
        """Changes whenever population, signal marks, towers or survey samples change: part of every cache key."""
        store = self.runtime.store
        parts = []
        for frame, col in ((store.population(), "updated_at"), (store.coverage_marks(current_only=False), "id"),
                           (store.towers(), "updated_at"), (store.signal_samples(), "id")):
            parts.append(f"{len(frame)}:{frame[col].max() if len(frame) else 0}")
        return "/".join(parts)

    def uncovered(self, level: str = "kecamatan") -> pd.DataFrame:
        """Per kecamatan (or desa) of the region: area (km2) inside and outside every known tower's range and the
        uncovered share (``geo.coverage.uncovered_area``; towers without a range get NTPD_TOWER_DEFAULT_RANGE_M).
        Kept per process until the towers change."""
        if level not in ("kecamatan", "desa"):
            raise ValueError(f"level must be kecamatan or desa, not {level!r}")
        towers = self.runtime.store.towers()
        default = float(self.runtime.settings.get("NTPD_TOWER_DEFAULT_RANGE_M"))
        key = (level, f"{len(towers)}:{towers['id'].sum() if len(towers) else 0}:"
                      f"{towers['updated_at'].max() if len(towers) else 0}:{towers['range_m'].sum()}", default)
        if key not in self._uncovered:
            region = self.runtime.region
            areas = region.kecamatan if level == "kecamatan" else region.desa
            out = uncovered_area(areas, towers, default)
            with self._lock:
                if len(self._uncovered) > 8:
                    self._uncovered.clear()
                self._uncovered[key] = out
        return self._uncovered[key]

    def bts_proposal(self, start: int, end: int) -> Proposal:
        """The BTS proposal (issue 7): every desa whose current signal status is tidak ada sinyal, lemah or 2G
        saja, sorted by the desa-level BTS index of [start, end), with its evidence (``analytics.proposal``)."""
        store = self.runtime.store
        region = self.runtime.region
        prio = self.priorities("bts", start, end, level="desa")
        marks = desa_signal(store.coverage_marks())
        samples = store.signal_samples()
        towers = store.towers()
        rows = proposal_rows(prio.rows, region, marks, survey_summary(samples), self.uncovered("desa"),
                             self.runtime.settings.tz)
        proposed_marks = marks[marks["kode_desa"].isin(set(rows["kode"]))] if len(marks) else marks
        return Proposal(
            rows=rows, region_code=region.code, region_name=region.name, start=start, end=end,
            desa_in_index=len(prio.rows), marked_desa=len(marks),
            towers_by_source={str(k): int(v) for k, v in towers["source"].value_counts().items()},
            simulated_towers=int(towers["simulated"].sum()),
            simulated_marks=int(proposed_marks["simulated"].astype(bool).sum()) if len(proposed_marks) else 0,
            samples=len(samples), simulated_samples=int(samples["simulated"].sum()),
            simulated_calls=self.runtime.is_simulated(),
            default_range_m=float(self.runtime.settings.get("NTPD_TOWER_DEFAULT_RANGE_M")),
            population_estimated=bool(rows["penduduk_perkiraan"].astype(bool).any()),
        )
