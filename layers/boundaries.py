"""Static boundary layers: kab/kota outline, kecamatan with labels, desa at close zoom. Served by URL."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import dash_leaflet as dl

from layers.base import LayerContext, View, js, layer_id
from ntpd_map.i18n import t

if TYPE_CHECKING:
    import geopandas as gpd
    from dash.development.base_component import Component

#: Simplification tolerance in degrees (about 20 m): outlines stay faithful at zoom 14 and weigh a third.
SIMPLIFY_DEG = 0.0002


def geojson_from_frame(frame: gpd.GeoDataFrame, columns: tuple[str, ...]) -> dict[str, Any]:
    simplified = frame.geometry.simplify(SIMPLIFY_DEG, preserve_topology=True)
    out = frame[list(columns)].copy()
    out["geometry"] = simplified
    geo = json.loads(out.set_geometry("geometry").to_json(drop_id=True))
    return {"type": "FeatureCollection", "features": geo["features"]}


class _Boundary:
    static = True
    default_visible = True
    key = ""
    style = ""
    columns: tuple[str, ...] = ("kode", "nama")

    def title(self, lang: str) -> str:
        return t(f"layers_{self.key}", lang)

    def frame(self, ctx: LayerContext) -> gpd.GeoDataFrame:
        raise NotImplementedError

    def data(self, ctx: LayerContext, view: View | None = None) -> dict[str, Any]:
        frame = self.frame(ctx)
        return geojson_from_frame(frame[frame.geometry.geom_type != "Point"], self.columns)

    label: str | None = None  # onEachFeature function binding a label or tooltip
    min_zoom = 0

    def component(self, ctx: LayerContext) -> Component:
        return dl.GeoJSON(
            id=layer_id(self.key),
            url=f"/layers/{self.key}.geojson",
            style=js(self.style),
            onEachFeature=js(self.label) if self.label else None,
            hideout={"wall": ctx.wall, "minZoom": self.min_zoom, "zoom": 0},
            interactive=self.label is not None,
        )

    def legend(self, lang: str) -> list[tuple[str, str]]:
        return []



class KabKotaLayer(_Boundary):
    """The region's outline."""

    key = "kabkota"
    style = "kabkotaStyle"

    def frame(self, ctx: LayerContext) -> gpd.GeoDataFrame:
        return ctx.runtime.region.kabkota


class KecamatanLayer(_Boundary):
    key = "kecamatan"
    style = "kecamatanStyle"
    label = "boundaryLabel"

    def frame(self, ctx: LayerContext) -> gpd.GeoDataFrame:
        return ctx.runtime.region.kecamatan


class DesaLayer(_Boundary):
    """Desa outlines, drawn only from zoom 12 (the style reads the zoom from ``hideout``)."""

    key = "desa"
    style = "desaStyle"
    label = "desaTooltip"
    min_zoom = 12

    def frame(self, ctx: LayerContext) -> gpd.GeoDataFrame:
        return ctx.runtime.region.desa
