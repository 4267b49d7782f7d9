"""H3 analytics per kecamatan (issue 5): one entry point for the API, the analytics page and the CLI.

``Analytics(runtime)`` holds, per process, the clipped hexagons of the region at each resolution (built once,
cached on disk) and the in-memory incident columns kept in step with the store. Every answer is a pure
function of a snapshot, the window and the reference data (population, signal marks, towers).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from ntpd_map.analytics.counts import WindowCounts
    from ntpd_map.analytics.priority import Population
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
        from ntpd_map.analytics.columns import IncidentColumns

        self.runtime = runtime
        region = runtime.region
        self.columns = IncidentColumns(region.kecamatan["kode"].to_numpy(), region.desa["kode"].to_numpy())
        self._pieces: dict[int, HexPieces] = {}
        self._lock = threading.Lock()

    @property
    def default_res(self) -> int:
        return self.runtime.settings.int("NTPD_H3_RES")

    def pieces(self, res: int | None = None) -> HexPieces:
        from ntpd_map.geo.hexes import load_pieces

        res = res or self.default_res
        if res not in self._pieces:
            with self._lock:
                if res not in self._pieces:
                    self._pieces[res] = load_pieces(self.runtime.region, res, self.runtime.settings.boundaries_dir)
        return self._pieces[res]

    def counts(self, start: int, end: int, res: int | None = None, *, hexes: bool = True) -> WindowCounts:
        from ntpd_map.analytics.counts import count_window

        region = self.runtime.region
        pieces = self.pieces(res) if hexes else None
        snap = self.columns.snapshot(self.runtime.store, pieces.res if pieces else None)
        return count_window(snap, start, end, len(region.kecamatan), len(region.desa), pieces)

    def hexes(self, start: int, end: int, res: int | None = None, *, include_empty: bool = False) -> dict[str, Any]:
        from ntpd_map.analytics.counts import hexes_geojson

        pieces = self.pieces(res)
        out = hexes_geojson(self.counts(start, end, pieces.res), pieces, self.runtime.names,
                            include_empty=include_empty)
        out["res"] = pieces.res
        return out

    def population(self) -> Population:
        from ntpd_map.analytics.priority import population

        return population(self.runtime.region, self.runtime.store.population())

    def priorities(self, metric: str, start: int, end: int, level: str = "kecamatan") -> Priorities:
        from ntpd_map.analytics import priority

        store = self.runtime.store
        region = self.runtime.region
        pop = self.population()
        now = self.counts(start, end, hexes=False)
        marks = store.coverage_marks()
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
        """Changes whenever population, signal marks or towers change: part of every cache key."""
        store = self.runtime.store
        parts = []
        for frame, col in ((store.population(), "updated_at"), (store.coverage_marks(current_only=False), "id"),
                           (store.towers(), "updated_at")):
            parts.append(f"{len(frame)}:{frame[col].max() if len(frame) else 0}")
        return "/".join(parts)
