"""The wall display (/wall): dark, large type, no controls, rotating between the map and the kecamatan view.

It shows no personal details: incident points carry only time, call type, category and outcome.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ntpd_map import ids
from ntpd_map.i18n import t
from ntpd_map.ui.common import leaflet_map, simulation_banner

if TYPE_CHECKING:
    from dash.development.base_component import Component

    from layers.base import Layer, LayerContext

WALL_LAYERS = ("kabkota", "kecamatan", "incidents", "responders")


def wall_layers(layers: list[Layer]) -> list[Layer]:
    return [layer for layer in layers if layer.key in WALL_LAYERS]


def layout(ctx: LayerContext, layers: list[Layer]) -> Component:
    from dash import dcc, html

    lang = ctx.lang
    settings = ctx.runtime.settings
    return html.Div([
        simulation_banner(ctx),
        html.Div(id=ids.WALL_DOWN, className="down-banner"),
        html.Div([
            html.H1(f"NTPD 112 - {ctx.runtime.region.name}"),
            html.Span(t("last_24h", lang), style={"fontSize": "26px", "color": "#9ca3af"}),
            html.Span(id=ids.WALL_CLOCK, className="wall-clock"),
        ], className="wall-header"),
        html.Div(id=ids.WALL_COUNTERS, className="wall-counters"),
        html.Div([
            html.Div(leaflet_map(ids.WALL_MAP, ctx, wall_layers(layers), style={"height": "100%"}),
                     id=ids.WALL_PANEL_MAP, className="wall-panel"),
            html.Div(id=ids.WALL_PANEL_TABLE, className="wall-panel wall-hidden",
                     children=[html.Div(t("wall_kecamatan", lang), className="wall-title"),
                               html.Div(id=ids.WALL_TABLE)]),
        ], className="wall-body"),
        dcc.Interval(id=ids.WALL_TICK, interval=settings.int("NTPD_REFRESH_SECONDS") * 1000),
        dcc.Interval(id=ids.WALL_ROTATE, interval=settings.int("NTPD_WALL_ROTATE_SECONDS") * 1000),
        dcc.Store(id=ids.WALL_SYNC, data={}),
        dcc.Store(id="wall-config", data={"tz": settings.tz, "lang": lang}),
    ], className="wall")
