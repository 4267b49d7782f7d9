"""Incidents: clustered points, colour by category, marker style by outcome, a popup in the center's time."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from layers.base import LayerContext, View, js, layer_id
from ntpd_map.domain import Category, LocationFlag
from ntpd_map.i18n import t, vocabulary_labels

if TYPE_CHECKING:
    import pandas as pd
    from dash.development.base_component import Component

#: Colour per category (ColorBrewer Set1/Dark2, distinguishable on light and dark backgrounds).
CATEGORY_COLORS = {
    "medical": "#e41a1c",
    "fire": "#ff7f00",
    "traffic_accident": "#984ea3",
    "crime": "#377eb8",
    "disaster": "#a65628",
    "domestic_violence": "#f781bf",
    "utility": "#dede00",
    "animal": "#4daf4a",
    "social": "#66c2a5",
    "other": "#999999",
}
#: Calls that are not emergencies (prank, ghost, ...) have no category: a small grey dot.
NO_CATEGORY_COLOR = "#6b7280"


def features_from_incidents(
    frame: pd.DataFrame, names: dict[str, str], tz: str, *, wall: bool = False
) -> list[dict[str, Any]]:
    """GeoJSON features for the incidents that have coordinates. Properties are short keys the JS reads;
    no caller number, no notes (personal data never leaves the store)."""
    import pandas as pd

    located = frame[frame["lat"].notna() & frame["lon"].notna()]
    if located.empty:
        return []
    when = (
        pd.to_datetime(located["received_at"].astype("int64"), unit="s", utc=True)
        .dt.tz_convert(tz)
        .dt.strftime("%d/%m/%Y %H:%M")
        .to_numpy()
    )
    approx = (located["flags"].to_numpy(dtype="int64") & LocationFlag.APPROXIMATE) > 0
    cols = {c: located[c].to_numpy(dtype=object) for c in
            ("id", "call_type", "category", "category_label", "outcome", "agency", "location_source", "kode_desa",
             "kode_kec")}
    lat = np.round(located["lat"].to_numpy(dtype="float64"), 5)
    lon = np.round(located["lon"].to_numpy(dtype="float64"), 5)
    features = []
    for i in range(len(located)):
        props: dict[str, Any] = {
            "id": int(cols["id"][i]),
            "t": when[i],
            "ct": cols["call_type"][i],
            "cat": cols["category"][i],
            "out": cols["outcome"][i],
        }
        if not wall:
            props.update({
                "ag": cols["agency"][i],
                "desa": names.get(cols["kode_desa"][i] or "", ""),
                "kec": names.get(cols["kode_kec"][i] or "", ""),
                "src": cols["location_source"][i],
                "ap": bool(approx[i]),
                "lbl": cols["category_label"][i],
            })
        features.append({
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [float(lon[i]), float(lat[i])]},
            "properties": props,
        })
    return features


class IncidentsLayer:
    key = "incidents"
    static = False
    default_visible = True

    def title(self, lang: str) -> str:
        return t("layers_incidents", lang)

    def hideout(self, lang: str, wall: bool) -> dict[str, Any]:
        """Everything the JS styles need, sent once: colours, labels, whether this is a wall display."""
        labels = vocabulary_labels(lang)
        return {
            "colors": CATEGORY_COLORS,
            "noCategory": NO_CATEGORY_COLOR,
            "labels": labels,
            "strings": {k: t(k, lang) for k in ("time", "call_type", "category", "outcome", "agency", "desa",
                                               "kecamatan", "location_source", "approximate")},
            "wall": wall,
            "selected": None,
        }

    def component(self, ctx: LayerContext) -> Component:
        import dash_leaflet as dl

        return dl.GeoJSON(
            id=layer_id(self.key),
            data={"type": "FeatureCollection", "features": []},
            cluster=True,
            zoomToBoundsOnClick=True,
            superClusterOptions={"radius": 60, "maxZoom": 15},
            pointToLayer=js("incidentPoint"),
            clusterToLayer=js("incidentCluster"),
            onEachFeature=None if ctx.wall else js("incidentPopup"),
            hideout=self.hideout(ctx.lang, ctx.wall),
        )

    def data(self, ctx: LayerContext, view: View | None) -> dict[str, Any]:
        if view is None:
            return {"type": "FeatureCollection", "features": []}
        frame = ctx.runtime.store.incidents(view.query)
        return {
            "type": "FeatureCollection",
            "features": features_from_incidents(frame, ctx.runtime.names, ctx.runtime.settings.tz, wall=ctx.wall),
        }

    def legend(self, lang: str) -> list[tuple[str, str]]:
        return [(CATEGORY_COLORS[str(c)], c.label(lang)) for c in Category] + [
            (NO_CATEGORY_COLOR, t("noise_share", lang))
        ]
