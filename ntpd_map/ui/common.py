"""Pieces both pages share: the map with its layers, the legend, the simulation banner."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ntpd_map.i18n import t

if TYPE_CHECKING:
    from dash.development.base_component import Component

    from layers.base import Layer, LayerContext


def region_bounds(ctx: LayerContext) -> list[list[float]]:
    minx, miny, maxx, maxy = ctx.runtime.region.kabkota.total_bounds
    return [[float(miny), float(minx)], [float(maxy), float(maxx)]]


def leaflet_map(map_id: str, ctx: LayerContext, layers: list[Layer], extra: list[Component] | None = None,
                **props: Any) -> Component:
    """A Leaflet map with every layer loaded once; the layers control flips visibility (no re-send).

    The basemap is drawn by the browser from NTPD_TILE_URL when reachable; without internet the map still
    shows boundaries, names and data on the plain background colour of `.map`.
    """
    import dash_leaflet as dl

    tile_url = ctx.runtime.settings.get("NTPD_TILE_URL")
    children: list[Component] = []
    if tile_url:
        children.append(dl.TileLayer(url=tile_url, maxZoom=18, opacity=0.55 if ctx.wall else 0.9,
                                     attribution="&copy; OpenStreetMap contributors"))
    overlays = [dl.Overlay(layer.component(ctx), name=layer.title(ctx.lang), checked=layer.default_visible)
                for layer in layers]
    children.append(dl.LayersControl(overlays, position="topright", collapsed=ctx.wall))
    children.append(dl.ScaleControl(position="bottomleft", imperial=False))
    children.extend(extra or [])
    (south, west), (north, east) = region_bounds(ctx)
    # dash-leaflet compares against center and zoom after load, so both are set; the region is fitted
    # through `viewport`, which callbacks also use to move the view later.
    view: dict[str, Any] = {
        "center": [(south + north) / 2, (west + east) / 2],
        "zoom": 9,
        "viewport": {"bounds": [[south, west], [north, east]], "options": {"padding": [8, 8]}},
        "trackViewport": not ctx.wall,  # the wall never pans
    }
    return dl.Map(children, id=map_id, className="map", preferCanvas=True, zoomSnap=0.25,
                  zoomControl=not ctx.wall, **view, **props)


def legend(ctx: LayerContext, layers: list[Layer]) -> Component:
    """One block per layer that explains itself (incidents, responders), side by side: a short, wide legend
    leaves more of the map free than one long column."""
    from dash import html

    blocks: list[Component] = []
    for layer in layers:
        rows = [html.Div([html.Span(className="swatch", style={"background": color}), label])
                for color, label in layer.legend(ctx.lang)]
        if rows:
            blocks.append(html.Div([html.Div(layer.title(ctx.lang), className="legend-head"), *rows],
                                   className="legend-block"))
    return html.Div([html.B(t("legend", ctx.lang)), html.Div(blocks, className="legend-blocks")], className="legend")


def simulation_banner(ctx: LayerContext) -> Component | None:
    from dash import html

    if not ctx.runtime.is_simulated():
        return None
    return html.Div(t("simulation_banner", ctx.lang), className="sim-banner", id="sim-banner")
