"""Kecamatan shaded by one value each (issue 9, the briefing page): genuine calls per 10,000 people, the prank
share of calls, or the socialisation score.

The geometry is the kecamatan boundary layer's own static GeoJSON (``/layers/kecamatan.geojson``, already in
the browser's cache from the other pages), so this layer sends no geometry of its own. What changes with the
period and the metric travels in ``hideout`` (``hideout_from_values``): the value per kecamatan code, the class
breaks and colours, the labels. ``ntpd.choroplethStyle`` and ``ntpd.choroplethTooltip`` in assets/ntpd.js read
them.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import dash_leaflet as dl
import numpy as np

from layers.base import LayerContext, View, js, layer_id
from layers.boundaries import KecamatanLayer
from ntpd_map.fmt import number
from ntpd_map.i18n import t

if TYPE_CHECKING:
    from dash.development.base_component import Component

KEY = "kecamatan-choropleth"
CHOROPLETH_ID = layer_id(KEY)
#: what can colour the kecamatan, and the title of each (i18n key)
METRICS = ("genuine_per_10k", "prank_share", "socialisation")
TITLES = {"genuine_per_10k": "brief_map_genuine", "prank_share": "brief_map_prank",
          "socialisation": "brief_map_socialisation"}
DECIMALS = {"genuine_per_10k": 2, "prank_share": 1, "socialisation": 1}
# ColorBrewer sequential ramps without their near-white first colour (colour-blind safe, legible in greyscale):
# prank share in YlOrRd like the analytics page's shares; the socialisation score in YlGnBu like its priority
# indices; genuine calls per 10,000 in BuPu, so it is never read as either of them.
RAMPS = {
    "genuine_per_10k": ("#bfd3e6", "#9ebcda", "#8c96c6", "#8856a7", "#810f7c"),
    "prank_share": ("#fed976", "#feb24c", "#fd8d3c", "#f03b20", "#bd0026"),
    "socialisation": ("#c7e9b4", "#7fcdbb", "#41b6c4", "#2c7fb8", "#253494"),
}
EMPTY_COLOR = "#e5e7eb"
FILL_OPACITY = 0.8
QUANTILES = (0.2, 0.4, 0.6, 0.8)


class KecamatanChoropleth:
    """The region's kecamatan, each filled by its value (Layer protocol, layers/base.py)."""

    key = KEY
    static = True  # its geometry is static, served by the kecamatan layer's URL
    default_visible = True

    def title(self, lang: str) -> str:
        return t("brief_map", lang)

    def url(self) -> str:
        return "/layers/kecamatan.geojson"

    def component(self, ctx: LayerContext) -> Component:
        return dl.GeoJSON(
            id=CHOROPLETH_ID,
            url=self.url(),
            style=js("choroplethStyle"),
            hoverStyle=js("choroplethHover"),
            onEachFeature=js("choroplethTooltip"),
            hideout={"values": {}},  # every kecamatan grey until the period's values arrive
        )

    def data(self, ctx: LayerContext, view: View | None = None) -> dict[str, Any]:
        return KecamatanLayer().data(ctx, view)

    def legend(self, lang: str) -> list[tuple[str, str]]:
        return []  # depends on the metric and the period: the page builds it (``legend_items``)


def _num(value: float, decimals: int, lang: str) -> str:
    return number(value, lang, decimals)


def _pick(ramp: tuple[str, ...], n: int) -> list[str]:
    """n colours of a 5-colour ramp, spread to keep its lightest and darkest."""
    if n <= 1:
        return [ramp[-1]]
    return [ramp[round(float(k))] for k in np.linspace(0, len(ramp) - 1, n)]


def classes(values: list[float | None], ramp: tuple[str, ...], decimals: int,
            lang: str) -> tuple[list[float], list[str], list[str]]:
    """Quantile classes of the values that exist: (lower bounds, colours, labels). Each colour holds about a
    fifth of the kecamatan, so the map reads as a ranking whatever the period's spread; equal values collapse
    into fewer classes."""
    finite = np.array([v for v in values if v is not None and math.isfinite(v)], dtype="float64")
    if not len(finite):
        return [], [], []
    step = 10.0 ** -decimals
    lows = [math.floor(float(finite.min()) / step) * step]
    lows += [round(float(q), decimals) for q in np.quantile(finite, QUANTILES)]
    breaks = sorted({round(b, decimals) for b in lows})
    top = float(finite.max())
    labels = []
    for k, low in enumerate(breaks):
        high = breaks[k + 1] if k + 1 < len(breaks) else top
        labels.append(_num(low, decimals, lang) if high <= low else f"{_num(low, decimals, lang)} - "
                                                                   f"{_num(high, decimals, lang)}")
    return breaks, _pick(ramp, len(breaks)), labels


def hideout_from_values(values: dict[str, float | None], metric: str, lang: str = "id",
                        details: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """What ``ntpd.choroplethStyle`` and ``ntpd.choroplethTooltip`` need: the value per kecamatan code (None:
    no value, drawn grey), the classes, and the labels. ``details``: more lines for a kecamatan's tooltip
    (label -> text, already formatted), by code."""
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {', '.join(METRICS)}, not {metric!r}")
    decimals = DECIMALS[metric]
    clean = {str(k): (None if v is None or not math.isfinite(float(v)) else round(float(v), decimals))
             for k, v in values.items()}
    breaks, colors, labels = classes(list(clean.values()), RAMPS[metric], decimals, lang)
    return {
        "metric": metric,
        "values": clean,
        "breaks": breaks,
        "colors": colors,
        "classLabels": labels,
        "decimals": decimals,
        "suffix": "%" if metric == "prank_share" else "",
        "empty": EMPTY_COLOR,
        "fill": FILL_OPACITY,
        "locale": "id-ID" if lang == "id" else "en-GB",
        "details": details or {},
        "labels": {"metric": t(TITLES[metric], lang), "none": t("bmap_no_data", lang)},
    }


def legend_items(hideout: dict[str, Any]) -> list[tuple[str, str]]:
    """(colour, label) rows of the legend: the classes, then the kecamatan without a value if any."""
    rows = [(c, f"{label}{hideout['suffix']}") for c, label in zip(hideout["colors"], hideout["classLabels"],
                                                                     strict=True)]
    if any(v is None for v in hideout["values"].values()):
        rows.append((hideout["empty"], hideout["labels"]["none"]))
    return rows
