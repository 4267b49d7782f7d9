"""H3 hexagons clipped to kecamatan (issue 5, "On the map"): static geometry by URL, per-window values in hideout.

The pieces of a region at one resolution never change, so their geometry is a static layer served at
``/layers/hexes-<res>.geojson`` (ETag, cached by the browser) with only what identifies a piece: its index
``i``, ``h3``, ``kode_kecamatan``, ``kecamatan`` and ``area_km2``. What changes with the period and the metric
travels in the GeoJSON component's ``hideout`` (``hideout_from_counts``): arrays indexed by piece, the class
breaks and colours, the labels. ``ntpd.hexStyle`` in assets/ntpd.js colours each piece from them and
``ntpd.hexTooltip`` reads them when a tooltip opens, so switching the period or the metric sends a few
kilobytes, never the geometry again.

The page shows one hexagon component (id ``HEX_COMPONENT_ID``) whatever the resolution: switching the
resolution swaps its ``url`` between the three static layers, and each of them is registered (``hex_layers``)
only so the server can serve it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import dash_leaflet as dl
import numpy as np

from layers.base import LayerContext, View, js, layer_id
from ntpd_map.analytics.columns import CALL_TYPES
from ntpd_map.analytics.counts import GENUINE, MISUSE
from ntpd_map.domain import CallType
from ntpd_map.fmt import number
from ntpd_map.geo.hexes import RESOLUTIONS
from ntpd_map.i18n import t

if TYPE_CHECKING:
    import pandas as pd
    from dash.development.base_component import Component

    from ntpd_map.analytics.counts import WindowCounts
    from ntpd_map.geo.hexes import HexPieces

#: the one hexagon component of the analytics page; its url says which resolution it shows
HEX_COMPONENT_ID = layer_id("hexes")
#: decimals of the served coordinates: 1e-5 degrees is about 1 m, far below what a hexagon border needs
COORD_DECIMALS = 5

#: what colours the pieces (issue 5 item 4): two counts, one share, and the two priority indices, for which a
#: piece takes its kecamatan's score
METRICS = ("total", "genuine", "misuse_share", "socialisation", "bts")
PRIORITY_METRICS = ("socialisation", "bts")

# Colours: ColorBrewer sequential ramps (6-class, without their near-white first colour, which would not stand
# out from the faint pieces), colour-blind safe and legible in greyscale print: light = low, dark = high.
# Counts and shares use YlOrRd; the priority indices YlGnBu, so a planner never mistakes a score map for a
# count map at a glance.
YLORRD = ("#fed976", "#feb24c", "#fd8d3c", "#f03b20", "#bd0026")
YLGNBU = ("#c7e9b4", "#7fcdbb", "#41b6c4", "#2c7fb8", "#253494")
#: pieces without a value (no calls in the period): drawn faint but visible, since no calls from a place is
#: itself a socialisation signal
EMPTY_COLOR = "#d1d5db"
#: fixed breaks of the prank+ghost share (0-1): the same colour means the same share in every period
#: fill opacity of a piece with calls, and of a faint one (no calls): the basemap stays readable beneath
FILL_OPACITY = 0.75
FAINT_OPACITY = 0.3
SHARE_BREAKS = (0.0, 0.2, 0.4, 0.6, 0.8)
QUANTILES = (0.2, 0.4, 0.6, 0.8)


class HexLayer:
    """The clipped pieces of the region at one H3 resolution, served by URL (key ``hexes-<res>``)."""

    static = True
    default_visible = True

    def __init__(self, res: int) -> None:
        self.res = res
        self.key = f"hexes-{res}"

    def title(self, lang: str) -> str:
        return t("hex_layer", lang, res=self.res)

    def url(self) -> str:
        return f"/layers/{self.key}.geojson"

    def component(self, ctx: LayerContext) -> Component:
        return dl.GeoJSON(
            id=HEX_COMPONENT_ID,
            url=self.url(),
            style=js("hexStyle"),
            hoverStyle=js("hexHover"),
            onEachFeature=js("hexTooltip"),
            hideout={"res": self.res},  # no values yet: every piece drawn faint until the first window arrives
        )

    def data(self, ctx: LayerContext, view: View | None = None) -> dict[str, Any]:
        pieces = ctx.runtime.analytics.pieces(self.res)
        return geojson_from_pieces(pieces, ctx.runtime.names)

    def legend(self, lang: str) -> list[tuple[str, str]]:
        return []  # the legend depends on the metric and the period: the page builds it (legend_items)


def hex_layers() -> list[HexLayer]:
    """One static layer per resolution the analytics offer, so /layers/hexes-<res>.geojson is served."""
    return [HexLayer(res) for res in RESOLUTIONS]


def geojson_from_pieces(pieces: HexPieces, names: dict[str, str]) -> dict[str, Any]:
    """One feature per piece, in piece order (feature ``i`` is piece ``i``, the index of every hideout array)."""
    import shapely

    geoms = shapely.transform(pieces.geometry, lambda xy: np.round(xy, COORD_DECIMALS)) if len(pieces) else []
    texts = shapely.to_geojson(geoms) if len(pieces) else []
    kodes = pieces.kode_kec[pieces.kec] if len(pieces) else []
    features = []
    for i, (cell, kode, area, text) in enumerate(zip(pieces.cell, kodes, pieces.area_km2, texts, strict=True)):
        kode = str(kode)
        features.append({"type": "Feature", "properties": {
            "i": i, "h3": f"{int(cell):x}", "kode_kecamatan": kode, "kecamatan": names.get(kode, kode),
            "area_km2": round(float(area), 3),
        }, "geometry": json.loads(text)})
    return {"type": "FeatureCollection", "features": features}


@dataclass(frozen=True)
class Classes:
    """Class breaks of a metric: ``breaks[k]`` is the lower bound of class k (the last class is open-ended)."""

    breaks: list[float]
    colors: list[str]
    labels: list[str]


def _pick(ramp: tuple[str, ...], n: int) -> list[str]:
    """n colours of a 5-colour ramp, spread to keep its lightest and darkest."""
    if n <= 1:
        return [ramp[-1]]
    return [ramp[round(float(k))] for k in np.linspace(0, len(ramp) - 1, n)]


def _num(value: float, decimals: int, lang: str) -> str:
    return number(value, lang, decimals)


def count_classes(values: np.ndarray, lang: str) -> Classes:
    """Classes of a count over the pieces that have calls (zero is no class: those pieces are drawn faint).

    Up to five distinct counts: one class each. Otherwise quantiles (0/20/40/60/80 %) of the counts, as whole
    numbers, so each colour holds about a fifth of the pieces; counts per hexagon are very skewed (most pieces
    with calls have one or two), so when those quantiles collapse into fewer than five classes, quantiles of the
    distinct counts are used instead, which spread the classes over the whole range up to the busiest piece.
    """
    positive = np.asarray(values)[np.asarray(values) > 0]
    distinct = np.unique(positive)
    if not len(distinct):
        breaks = [1]
    elif len(distinct) <= len(QUANTILES) + 1:
        breaks = [int(v) for v in distinct]
    else:
        levels = (0.0, *QUANTILES)
        breaks = sorted({int(np.ceil(q)) for q in np.quantile(positive, levels)})
        if len(breaks) < len(levels):
            breaks = sorted({int(np.ceil(q)) for q in np.quantile(distinct, levels)})
    labels = []
    for k, low in enumerate(breaks):
        if k + 1 < len(breaks):
            high = breaks[k + 1] - 1
            labels.append(_num(low, 0, lang) if high == low else f"{_num(low, 0, lang)}-{_num(high, 0, lang)}")
        else:
            labels.append(f"≥ {_num(low, 0, lang)}" if len(breaks) > 1 or low > 1 or len(distinct) > 1
                          else _num(low, 0, lang))
    return Classes([float(b) for b in breaks], _pick(YLORRD, len(breaks)), labels)


def share_classes(lang: str) -> Classes:
    """Fixed fifths of a share (0-1), comparable across periods and regions."""
    labels = [f"{round(100 * low)}-{round(100 * (low + 0.2))}%" for low in SHARE_BREAKS]
    return Classes(list(SHARE_BREAKS), list(YLORRD), labels)


def score_classes(scores: np.ndarray, lang: str) -> Classes:
    """Classes of a priority score (0-100): quantiles of the kecamatan scores, so each colour holds about a fifth
    of the kecamatan (a ranking is what a planner reads from this map; scores of one period sit in a narrow
    band, e.g. 30-70, which fixed breaks would paint in two colours)."""
    scores = np.asarray(scores, dtype="float64")
    scores = scores[np.isfinite(scores)]
    if not len(scores):
        return Classes([0.0], [YLGNBU[-1]], ["0-100"])
    lows = [float(np.floor(scores.min() * 10) / 10)]
    lows += [round(float(q), 1) for q in np.quantile(scores, QUANTILES)]
    breaks = sorted(set(lows))
    top = float(scores.max())
    labels = [f"{_num(low, 1, lang)}-{_num(breaks[k + 1] if k + 1 < len(breaks) else top, 1, lang)}"
              for k, low in enumerate(breaks)]
    return Classes(breaks, _pick(YLGNBU, len(breaks)), labels)


def hideout_from_counts(counts: WindowCounts, pieces: HexPieces, metric: str, lang: str = "id",
                        priorities: pd.DataFrame | None = None) -> dict[str, Any]:
    """What ``ntpd.hexStyle`` and ``ntpd.hexTooltip`` need for one window: arrays indexed by piece (the metric's
    ``value``, ``total``, ``genuine``, ``misuse`` = prank + ghost), the counts by call type of the pieces that
    have calls (``types``, sparse), for the priority metrics each kecamatan's score and rank (``kec``), the
    classes and the labels in the page's language.

    ``priorities``: the rows of ``Analytics.priorities(metric, ...)`` (kode, score, rank), for the two priority
    metrics, where each piece takes its kecamatan's score.
    """
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {', '.join(METRICS)}, not {metric!r}")
    per_type = counts.piece_type
    if per_type.shape[0] != len(pieces):
        raise ValueError(f"counts are for {per_type.shape[0]} pieces, the layer has {len(pieces)} (another res?)")
    total = per_type.sum(axis=1)
    genuine = per_type[:, GENUINE]
    misuse = per_type[:, list(MISUSE)].sum(axis=1)
    kec_info: dict[str, dict[str, Any]] = {}
    value: list[Any]
    if metric == "total":
        value, classes, fmt = total.tolist(), count_classes(total, lang), "count"
    elif metric == "genuine":
        value, classes, fmt = genuine.tolist(), count_classes(genuine, lang), "count"
    elif metric == "misuse_share":
        share = np.divide(misuse, total, out=np.zeros(len(total)), where=total > 0)
        value = [round(float(s), 3) if n else None for s, n in zip(share, total, strict=True)]
        classes, fmt = share_classes(lang), "share"
    else:
        if priorities is None:
            raise ValueError(f"metric {metric!r} needs the kecamatan priorities")
        score = dict(zip(priorities["kode"].astype(str), priorities["score"].astype(float), strict=True))
        rank = dict(zip(priorities["kode"].astype(str), priorities["rank"].astype(int), strict=True))
        kec_info = {k: {"score": round(score[k], 1), "rank": rank[k]} for k in score}
        piece_kode = pieces.kode_kec[pieces.kec] if len(pieces) else np.array([], dtype=object)
        value = [kec_info[str(k)]["score"] if str(k) in kec_info else None for k in piece_kode]
        classes, fmt = score_classes(np.array(list(score.values())), lang), "score"
    with_calls = np.flatnonzero(total > 0)
    return {
        "res": pieces.res,
        "metric": metric,
        "format": fmt,
        "value": value,
        "total": total.tolist(),
        "genuine": genuine.tolist(),
        "misuse": misuse.tolist(),
        "types": {str(i): per_type[i].tolist() for i in with_calls},
        "kec": kec_info,
        "nKec": len(pieces.kode_kec),
        "breaks": classes.breaks,
        "colors": classes.colors,
        "classLabels": classes.labels,
        "empty": EMPTY_COLOR,
        "fill": FILL_OPACITY,
        "faint": FAINT_OPACITY,
        "locale": "id-ID" if lang == "id" else "en-GB",
        "labels": {
            "metric": t(f"metric_{metric}", lang), "total": t("all_calls", lang), "score": t("kec_score", lang),
            "rank": t("rank_word", lang), "of": t("of_word", lang), "area": t("area_word", lang),
            "noCalls": t("no_calls", lang),
            "types": [CallType(c).label(lang) for c in CALL_TYPES],
        },
    }


def legend_items(hideout: dict[str, Any], lang: str) -> list[tuple[str, str, float]]:
    """(colour, label, fill opacity) rows of the legend of a hideout: its classes, then the faint pieces."""
    classes = zip(hideout["colors"], hideout["classLabels"], strict=True)
    rows = [(color, label, FILL_OPACITY) for color, label in classes]
    if hideout["format"] == "score":
        rows.append((hideout["colors"][-1], t("legend_faint_score", lang), FAINT_OPACITY))
    else:
        rows.append((hideout["empty"], t("no_calls", lang), FAINT_OPACITY))
    return rows
