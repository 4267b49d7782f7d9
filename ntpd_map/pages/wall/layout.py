"""The wall display (/wall): dark, large type, no controls, rotating between the incident map, the kecamatan view
and the signal coverage (issue 7: the planners' marks and the towers, read-only).

It shows no personal details: incident points carry only time, call type, category and outcome; the coverage
view only each desa's status and the towers, never who marked a desa or the evidence.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import dash_leaflet as dl
from dash import dcc, html

from layers.base import js
from layers.coverage import UNMARKED_COLOR, UNMARKED_OPACITY, coverage_legend
from layers.responders import WALL_HIDDEN_STATUSES, RespondersLayer
from ntpd_map import ids
from ntpd_map.i18n import t
from ntpd_map.pages.common import (
    DECLUTTER,
    alert_parts,
    basemap_layer,
    coverage_stores,
    leaflet_map,
    region_bounds,
    simulation_banner,
    swatch,
)
from ntpd_map.pages.live import last_good_key, offline_context
from ntpd_map.store.model import StoreUnavailable

if TYPE_CHECKING:
    from dash.development.base_component import Component

    from layers.base import Layer, LayerContext
    from ntpd_map.pages.page import PageRequest

WALL_LAYERS = ("kabkota", "kecamatan", "incidents", "responders")
#: the coverage view's layers (its own map: the wall never shows a layers control)
COVERAGE_LAYERS = ("coverage", "towers")
#: the views the wall rotates through, in order (pages/wall/callbacks.py)
PANELS = (ids.WALL_PANEL_MAP, ids.WALL_PANEL_TABLE, ids.WALL_PANEL_COVERAGE)


def wall_layers(layers: list[Layer]) -> list[Layer]:
    return [layer for layer in layers if layer.key in WALL_LAYERS]


def coverage_panel(ctx: LayerContext, layers: list[Layer]) -> Component:
    """Desa shaded by their signal status and the towers with their range, on a map nobody can move or click,
    with a legend legible from across the room and the counts per status."""
    children: list[Component] = basemap_layer(ctx, 0.55)
    children += [layer.component(ctx) for layer in layers if layer.key in COVERAGE_LAYERS]
    # the outlines under their own ids: the incident map of the wall already holds layer-kabkota/-kecamatan
    children.append(dl.GeoJSON(id="wall-cov-kabkota", url="/layers/kabkota.geojson", style=js("kabkotaStyle"),
                               hideout={"wall": True}, interactive=False))
    children.append(dl.GeoJSON(id="wall-cov-kecamatan", url="/layers/kecamatan.geojson",
                               style=js("kecamatanStyle"), onEachFeature=js("boundaryLabel"),
                               hideout={"wall": True}, interactive=False))
    (south, west), (north, east) = region_bounds(ctx)
    still = {"dragging": False, "scrollWheelZoom": False, "doubleClickZoom": False, "boxZoom": False,
             "keyboard": False, "touchZoom": False, "zoomControl": False}
    cov_map = dl.Map(children, id=ids.WALL_COVERAGE_MAP, className="map", preferCanvas=True, zoomSnap=0.25,
                     attributionControl=False,
                     center=[(south + north) / 2, (west + east) / 2], zoom=9, trackViewport=False,
                     viewport={"bounds": [[south, west], [north, east]], "options": {"padding": [8, 8]}},
                     style={"height": "100%"}, eventHandlers=DECLUTTER, **still)
    # the swatch of "not marked" as faint as those desa are drawn
    rows = [html.Div([html.Span(className="wall-swatch", style={"background": color, "opacity": (
        UNMARKED_OPACITY if color == UNMARKED_COLOR else 1)}), label], className="wall-legend-row")
        for color, label in coverage_legend(ctx.lang)]
    rows.append(html.Div([html.Span(className="wall-swatch wall-swatch-tower"), t("legend_tower", ctx.lang)],
                         className="wall-legend-row"))
    return html.Div([
        html.Div(t("wall_coverage", ctx.lang), className="wall-title"),
        html.Div([
            html.Div(cov_map, className="wall-cov-map"),
            html.Div([*rows, html.Div(id=ids.COV_SUMMARY, className="wall-cov-summary")], className="wall-cov-legend"),
        ], className="wall-cov-body"),
    ], id=ids.WALL_PANEL_COVERAGE, className="wall-panel wall-hidden")


def map_legend(ctx: LayerContext, layers: list[Layer]) -> Component:
    """The wall map's legend, drawn as the map draws: the open emergency's mark, a cluster of calls, one dot per
    incident category (and the noise calls), one square per kind of unit with its letter."""
    lang = ctx.lang
    keys = [html.Div([html.Span("!", className="key-mark key-active"), t("open_incidents", lang)],
                     className="wall-key"),
            html.Div([html.Span("3", className="key-mark key-cluster"), t("calls", lang)], className="wall-key")]
    for layer in layers:
        if layer.key == "incidents":
            items = layer.legend(lang)  # the categories, then the noise calls: a long name, across both columns
            keys += [html.Div([swatch(color, "key-mark key-dot"), label],
                              className="wall-key" + (" wide" if i == len(items) - 1 else ""))
                     for i, (color, label) in enumerate(items)]
        elif isinstance(layer, RespondersLayer):
            # the kinds (drawn as available units), the statuses a wall shows and a stale position, with the
            # map's own unit styles (off duty and offline are for ops: the active panel needs the room)
            hidden = {"ntpd-unit-offline", *(f"unit-st-{s}" for s in WALL_HIDDEN_STATUSES)}
            marks = [(classes, glyph, label) for classes, glyph, label in layer.legend_marks(lang)
                     if (glyph or classes != "unit-st-available") and not hidden & set(classes.split())]
            keys += [html.Div([html.Span(html.B(glyph), className=f"key-mark key-unit unit-key {classes}"), label],
                              className="wall-key" + (" wide" if "stale" in classes else ""))  # a long label
                     for classes, glyph, label in marks]
    return html.Div(keys, className="wall-map-legend")


def page(request: PageRequest) -> Component:
    """The page for the router; while the store is down, built as it was when last good (pages/live.py)."""
    try:
        return layout(request.ctx, request.layers)
    except StoreUnavailable:
        ctx = request.ctx
        key = last_good_key("wall", ctx.runtime.settings.region)
        return layout(offline_context(ctx.runtime, request.cache, ctx.lang, key, wall=True), request.layers)


def layout(ctx: LayerContext, layers: list[Layer]) -> Component:
    lang = ctx.lang
    settings = ctx.runtime.settings
    # the open emergencies' panel turns its page with the wall's rotation (assets/ntpd.js)
    page_seconds: dict[str, Any] = {"data-seconds": str(settings.int("NTPD_WALL_ROTATE_SECONDS"))}
    return html.Div([
        simulation_banner(ctx),
        html.Div(id=ids.WALL_DOWN, className="down-banner"),
        html.Div([
            html.H1(f"NTPD 112 - {ctx.runtime.region.name}"),
            html.Span(t("last_24h", lang), className="wall-sub"),
            html.Span(id=ids.WALL_CLOCK, className="wall-clock"),
        ], className="wall-header"),
        html.Div(id=ids.WALL_COUNTERS, className="wall-counters"),
        html.Div([
            html.Div(html.Div([
                html.Div(leaflet_map(ids.WALL_MAP, ctx, wall_layers(layers), style={"height": "100%"}),
                         className="wall-map-cell"),
                # the open emergencies beside the map, oldest on top, and what the map's marks mean (issue 18)
                html.Div([html.Div(id=ids.WALL_ACTIVE, className="active-panel", **page_seconds),
                          map_legend(ctx, layers)],
                         className="wall-side"),
            ], className="wall-map-row"), id=ids.WALL_PANEL_MAP, className="wall-panel"),
            html.Div(id=ids.WALL_PANEL_TABLE, className="wall-panel wall-hidden",
                     children=[html.Div(t("wall_kecamatan", lang), className="wall-title"),
                               html.Div(id=ids.WALL_TABLE)]),
            coverage_panel(ctx, layers),
            *alert_parts(lang, ackable=False),  # over the top of the map, never over the SIMULASI label
        ], className="wall-body"),
        dcc.Interval(id=ids.WALL_TICK, interval=settings.int("NTPD_REFRESH_SECONDS") * 1000),
        dcc.Interval(id=ids.WALL_ROTATE, interval=settings.int("NTPD_WALL_ROTATE_SECONDS") * 1000),
        dcc.Store(id=ids.WALL_SYNC, data={}),
        dcc.Store(id="wall-config", data={"tz": settings.tz, "lang": lang}),
        *coverage_stores(ctx, 30),
    ], className="wall")
