"""Signal coverage (issue 7): desa shaded by their current signal status, the known towers with their range, and
the 112 calls a weak signal shows in (dropped or silent, or without a measured position).

- ``CoverageLayer`` (key ``coverage``): the desa polygons are static geometry served by URL
  (``/layers/coverage.geojson``: kode, nama, kecamatan); the status of each marked desa travels in ``hideout``
  (``coverage_hideout``: only the marked desa, kode -> status), and ``ntpd.coverageStyle`` (assets/ntpd.js) fills
  each desa from it. A planner's mark changes a few bytes of hideout, never the geometry.
- ``TowersLayer`` (key ``towers``): one point per known tower with its range (``ntpd.towerPoint`` draws the point
  and a circle of ``range_m`` metres; a tower without a range gets NTPD_TOWER_DEFAULT_RANGE_M, dashed).
- ``WeakCallsLayer`` (key ``weak-calls``, the coverage page only): the calls of a period that were dropped or
  silent (ghost), or whose position was not measured (placed by cell tower, a told address or a desa name), the
  same two groups the BTS index counts (``putus_kosong``, ``lokasi_tidak_tepat``); calls at one spot are drawn as
  one mark with their count, so the many calls placed at a desa's centre stay readable.

Nothing personal travels: statuses, tower parameters, call counts per spot. Never who marked, the evidence note
or a caller (those are on the coverage page's panel, for a signed-in planner's screen, not the wall).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

import dash_leaflet as dl
import numpy as np

from layers.base import LayerContext, View, js, layer_id
from layers.boundaries import geojson_from_frame
from ntpd_map.domain import CallType, LocationFlag, LocationSource, SignalStatus
from ntpd_map.geo.coverage import tower_ranges_m
from ntpd_map.geo.signal import is_missing
from ntpd_map.i18n import t

if TYPE_CHECKING:
    import pandas as pd
    from dash.development.base_component import Component

#: Fill per status: OrRd for the three statuses that make a desa a BTS candidate (darker = worse, so the order
#: reads in greyscale print too) and a blue for "baik". Every pair stays at least 20 CIELAB units apart under
#: simulated protanopia, deuteranopia and tritanopia (tests/test_coverage_layer.py), unlike a red/green scale.
STATUS_COLORS = {
    str(SignalStatus.NONE): "#7f0000",
    str(SignalStatus.WEAK): "#e34a33",
    str(SignalStatus.ONLY_2G): "#fdbb84",
    str(SignalStatus.GOOD): "#2b8cbe",
}
#: A desa nobody has marked yet: faint grey (unknown is not "good").
UNMARKED_COLOR = "#d9d9d9"
FILL_OPACITY = 0.7
UNMARKED_OPACITY = 0.25
#: Worst first: the legend's order and the summary's.
STATUS_ORDER = (SignalStatus.NONE, SignalStatus.WEAK, SignalStatus.ONLY_2G, SignalStatus.GOOD)
TOWER_COLOR = "#1f2937"
#: on the wall's dark map
WALL_TOWER_COLOR = "#e5e7eb"
#: Weak-signal calls: dropped or silent (filled purple), without a measured position (hollow dashed ring).
PUTUS_COLOR = "#542788"
APPROX_COLOR = "#111827"
#: Call types that a weak signal produces (the BTS index's putus_kosong)
PUTUS_TYPES = (str(CallType.DROPPED), str(CallType.GHOST))
#: Location sources that are not a measured position (the BTS index's lokasi_tidak_tepat, analytics/columns.py)
IMPRECISE_SOURCES = (str(LocationSource.CELL), str(LocationSource.ADDRESS), str(LocationSource.UNKNOWN))
#: Indonesian operators by MNC (mcc 510), for the tower tooltips
OPERATORS = {1: "Indosat", 8: "Axis", 9: "Smartfren", 10: "Telkomsel", 11: "XL", 21: "IM3", 28: "Smartfren",
             89: "Tri"}
#: Leaflet pane of the coverage shading and towers on the operations map: below the incidents and units (whose
#: canvas stays on top whatever is toggled when, so a tower or a desa never swallows a click on an incident).
UNDERLAY_PANE = "ntpdunder"
EMPTY: dict[str, Any] = {"type": "FeatureCollection", "features": []}
#: decimals of the served coordinates (about 1 m)
COORD_DECIMALS = 5
#: what a call overlay reads of an incident
CALL_COLUMNS = ("lat", "lon", "call_type", "location_source", "flags")


# ------------------------------------------------------------------------------------------------- the desa
def status_labels(lang: str) -> dict[str, str]:
    """status -> label in the language, and ``unmarked``."""
    labels = {str(s): s.label(lang) for s in STATUS_ORDER}
    labels["unmarked"] = t("cov_unmarked", lang)
    return labels


def coverage_geojson(desa: pd.DataFrame, names: dict[str, str]) -> dict[str, Any]:
    """The desa polygons (not the desa known only as a point) with kode, nama and their kecamatan's name."""
    shaped = desa[desa.geometry.geom_type != "Point"].copy()
    shaped["kecamatan"] = [names.get(str(k), str(k)) for k in shaped["kode_kec"]]
    return geojson_from_frame(shaped, ("kode", "nama", "kecamatan"))


def desa_statuses(signal: pd.DataFrame | None) -> tuple[dict[str, str], dict[str, int]]:
    """From ``coverage.desa_signal`` (one row per marked desa): kode -> status, and kode -> how many H3 cells
    carry a mark, for the desa whose status comes from cell marks only."""
    if signal is None or not len(signal):
        return {}, {}
    status = {str(k): str(s) for k, s in zip(signal["kode_desa"], signal["status"], strict=True)
              if isinstance(s, str) and s}
    cells = {str(k): int(n) for k, b, n in zip(signal["kode_desa"], signal["dasar"], signal["sel_ditandai"],
                                               strict=True) if b == "h3" and str(k) in status}
    return status, cells


def coverage_hideout(signal: pd.DataFrame | None, lang: str = "id", wall: bool = False) -> dict[str, Any]:
    """What ``ntpd.coverageStyle`` and ``ntpd.coverageTooltip`` need: the status of each marked desa (absent:
    not marked), which of them rest on cell marks, the colours and the labels. ``signal``: ``desa_signal`` of the
    current marks (None: nothing loaded yet, every desa drawn as not marked)."""
    status, cells = desa_statuses(signal)
    return {
        "status": status,
        "cells": cells,
        "colors": STATUS_COLORS,
        "unmarked": UNMARKED_COLOR,
        "fill": FILL_OPACITY,
        "faint": UNMARKED_OPACITY,
        "labels": {**status_labels(lang), "cells": t("cov_from_cells", lang), "status": t("cov_status", lang)},
        "wall": wall,
        "loaded": signal is not None,
        # beneath the incidents (a map with this pane) the signal is hatched, not coloured (assets/ntpd.js)
        "underlayPane": UNDERLAY_PANE,
    }


def status_counts(status: dict[str, str], n_desa: int) -> dict[str, int]:
    """How many desa have each status, and how many of the ``n_desa`` are not marked."""
    counts = {str(s): 0 for s in STATUS_ORDER}
    for value in status.values():
        if value in counts:
            counts[value] += 1
    counts["unmarked"] = max(n_desa - sum(counts.values()), 0)
    return counts


def coverage_legend(lang: str) -> list[tuple[str, str]]:
    return [(STATUS_COLORS[str(s)], s.label(lang)) for s in STATUS_ORDER] + [(UNMARKED_COLOR,
                                                                                 t("cov_unmarked", lang))]


def coverage_hatch_legend(lang: str) -> list[tuple[str, str]]:
    """(class, label) rows of the signal as a map of incidents draws it beneath them: hatched in grey ink, no hue
    (assets/ntpd.js ``hatchPattern``, assets/ntpd.css ``.hatch-*``)."""
    return [(f"hatch-{s}", s.label(lang)) for s in STATUS_ORDER] + [("hatch-unmarked", t("cov_unmarked", lang))]


class CoverageLayer:
    """Each desa shaded by its current signal status (``coverage.desa_signal``: its desa-wide mark, else its
    most severe cell mark)."""

    key = "coverage"
    static = True
    default_visible = False  # the operations map shows incidents; a dispatcher turns this on when needed
    underlay = True  # on the operations map: below the incidents (``ui.common.leaflet_map``)

    def title(self, lang: str) -> str:
        return t("layers_coverage", lang)

    def component(self, ctx: LayerContext) -> Component:
        return dl.GeoJSON(
            id=layer_id(self.key),
            url=f"/layers/{self.key}.geojson",
            style=js("coverageStyle"),
            hoverStyle=None if ctx.wall else js("coverageHover"),
            onEachFeature=None if ctx.wall else js("coverageTooltip"),
            hideout=coverage_hideout(None, ctx.lang, ctx.wall),
            interactive=not ctx.wall,
        )

    def data(self, ctx: LayerContext, view: View | None = None) -> dict[str, Any]:
        return coverage_geojson(ctx.runtime.region.desa, ctx.runtime.names)

    def legend(self, lang: str) -> list[tuple[str, str]]:
        return coverage_legend(lang)

    def legend_hatches(self, lang: str) -> list[tuple[str, str]]:
        return coverage_hatch_legend(lang)


# ------------------------------------------------------------------------------------------------- towers
def operator_name(mcc: Any, net: Any) -> str | None:
    if is_missing(net):
        return None
    net = int(net)
    if not is_missing(mcc) and int(mcc) != 510:
        return f"MCC {int(mcc)} MNC {net}"
    return OPERATORS.get(net, f"MNC 510-{net:02d}")


def tower_features(towers: pd.DataFrame, default_range_m: float) -> list[dict[str, Any]]:
    """One point per tower: its range in metres (``geo.coverage.tower_ranges_m``: its own, else the default,
    at most 35 km), whether that range is the default, radio, operator and source."""
    if towers is None or not len(towers):
        return []
    ranges = tower_ranges_m(towers, default_range_m)
    given = towers["range_m"].astype("float64").to_numpy()
    defaulted = ~(np.isfinite(given) & (given > 0))
    lat = np.round(towers["lat"].astype("float64").to_numpy(), COORD_DECIMALS)
    lon = np.round(towers["lon"].astype("float64").to_numpy(), COORD_DECIMALS)
    features = []
    for i, row in enumerate(towers[["radio", "mcc", "net", "source"]].itertuples(index=False)):
        props: dict[str, Any] = {"range_m": round(float(ranges[i])), "default": bool(defaulted[i]),
                                 "radio": row.radio if isinstance(row.radio, str) else None,
                                 "op": operator_name(row.mcc, row.net), "source": str(row.source)}
        features.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": [float(lon[i]),
                                                                                           float(lat[i])]},
                         "properties": props})
    return features


class TowersLayer:
    """Known cell towers as points, each with a circle of its range."""

    key = "towers"
    static = False
    default_visible = False  # a toggle, off on the operations map (issue 7)
    underlay = True

    def title(self, lang: str) -> str:
        return t("layers_towers", lang)

    def hideout(self, lang: str, wall: bool, default_range_m: float) -> dict[str, Any]:
        return {"color": WALL_TOWER_COLOR if wall else TOWER_COLOR, "wall": wall,
                "labels": {"tower": t("cov_tower", lang), "range": t("cov_range", lang),
                           "default": t("cov_default_range", lang), "source": t("cov_source", lang)},
                "defaultRange": default_range_m}

    def component(self, ctx: LayerContext) -> Component:
        default = float(ctx.runtime.settings.get("NTPD_TOWER_DEFAULT_RANGE_M"))
        return dl.GeoJSON(id=layer_id(self.key), data=EMPTY, pointToLayer=js("towerPoint"),
                          hideout=self.hideout(ctx.lang, ctx.wall, default), interactive=not ctx.wall)

    def data(self, ctx: LayerContext, view: View | None = None) -> dict[str, Any]:
        default = float(ctx.runtime.settings.get("NTPD_TOWER_DEFAULT_RANGE_M"))
        return {"type": "FeatureCollection", "features": tower_features(ctx.runtime.store.towers(), default)}

    def legend(self, lang: str) -> list[tuple[str, str]]:
        return [(TOWER_COLOR, t("legend_tower", lang))]


# ------------------------------------------------------------------------------------------------- calls
def weak_call_features(frame: pd.DataFrame) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """The calls a weak signal shows in, one point per spot and kind with its count ``n``:

    - ``putus``: dropped or silent (ghost) calls, wherever they were placed;
    - ``approx``: other calls without a measured position (``LocationFlag.APPROXIMATE``, or placed by a cell
      tower, a told address or nothing known: ``IMPRECISE_SOURCES``).

    Also the counts: ``putus`` and ``approx`` drawn, and ``unplaced``: calls of either kind without
    coordinates (``LocationFlag.NO_LOCATION`` and the like), which no map can show. ``frame``: incidents with
    ``CALL_COLUMNS``."""
    counts = {"putus": 0, "approx": 0, "unplaced": 0}
    if frame is None or not len(frame):
        return [], counts
    call_type = frame["call_type"].astype(str).to_numpy()
    flags = frame["flags"].fillna(0).astype("int64").to_numpy()
    source = frame["location_source"].astype(str).to_numpy()
    putus = np.isin(call_type, PUTUS_TYPES)
    imprecise = (((flags & (LocationFlag.APPROXIMATE | LocationFlag.NO_LOCATION)) != 0)
                 | np.isin(source, IMPRECISE_SOURCES))
    approx = imprecise & ~putus
    lat = frame["lat"].astype("float64").to_numpy()
    lon = frame["lon"].astype("float64").to_numpy()
    located = np.isfinite(lat) & np.isfinite(lon)
    counts["unplaced"] = int(((putus | approx) & ~located).sum())
    features: list[dict[str, Any]] = []
    for kind, chosen in (("approx", approx & located), ("putus", putus & located)):  # putus drawn on top
        counts[kind] = int(chosen.sum())
        if not chosen.any():
            continue
        spots = np.round(np.column_stack([lon[chosen], lat[chosen]]), COORD_DECIMALS)
        unique, n = np.unique(spots, axis=0, return_counts=True)
        order = np.argsort(-n, kind="stable")  # the busiest spot first, drawn beneath the single calls
        for (x, y), k in zip(unique[order], n[order], strict=True):
            features.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": [float(x), float(y)]},
                             "properties": {"kind": kind, "n": int(k)}})
    return features, counts


class WeakCallsLayer:
    """The 112 calls of a period a weak signal shows in (see ``weak_call_features``), on the coverage page."""

    key = "weak-calls"
    static = False
    default_visible = True

    def title(self, lang: str) -> str:
        return t("layers_weak_calls", lang)

    def hideout(self, lang: str) -> dict[str, Any]:
        return {"colors": {"putus": PUTUS_COLOR, "approx": APPROX_COLOR},
                "labels": {"putus": t("cov_tip_putus", lang), "approx": t("cov_tip_approx", lang)}}

    def component(self, ctx: LayerContext) -> Component:
        return dl.GeoJSON(id=layer_id(self.key), data=EMPTY, pointToLayer=js("weakCallPoint"),
                          hideout=self.hideout(ctx.lang))

    def data(self, ctx: LayerContext, view: View | None) -> dict[str, Any]:
        if view is None:
            return {**EMPTY, "counts": {"putus": 0, "approx": 0, "unplaced": 0}}
        frame = ctx.runtime.store.incidents(replace(view.query, columns=CALL_COLUMNS))
        features, counts = weak_call_features(frame)
        return {"type": "FeatureCollection", "features": features, "counts": counts}

    def legend(self, lang: str) -> list[tuple[str, str]]:
        return [(PUTUS_COLOR, t("legend_putus", lang)), (APPROX_COLOR, t("legend_approx", lang))]


def coverage_layers() -> list[Any]:
    """The coverage page's own layers beside the registered ones: the weak-signal calls of its period."""
    return [WeakCallsLayer()]
