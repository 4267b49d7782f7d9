"""create_app(settings): builds Dash, binds the cache and the store, registers pages, routes and callbacks."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from ntpd_map import ids
from ntpd_map.config import PROJECT_ROOT, Settings
from ntpd_map.runtime import Runtime

if TYPE_CHECKING:
    from dash import Dash

    from layers.base import Layer

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, *, runtime: Runtime | None = None,
               layers: list[Layer] | None = None) -> Dash:
    import dash_leaflet  # noqa: F401 - component libraries must be imported before the first request
    from dash import Dash, Input, Output, dash_table, dcc, html  # noqa: F401

    from layers import default_layers
    from layers.base import LayerContext
    from layers.hexes import hex_layers
    from ntpd_map.analytics.api import register as register_analytics_api
    from ntpd_map.api import register_api
    from ntpd_map.cache import make_cache
    from ntpd_map.callbacks import analytics as analytics_callbacks
    from ntpd_map.callbacks import coverage as coverage_callbacks
    from ntpd_map.callbacks import ops as ops_callbacks
    from ntpd_map.callbacks import wall as wall_callbacks
    from ntpd_map.coverage_api import register_coverage_api
    from ntpd_map.positions_api import register_positions_api
    from ntpd_map.server import register_routes
    from ntpd_map.signin import register_signin
    from ntpd_map.store.base import StoreUnavailable
    from ntpd_map.ui import analytics, coverage, ops, wall

    runtime = runtime or Runtime(settings)
    settings = runtime.settings
    logging.basicConfig(level=settings.get("NTPD_LOG_LEVEL"), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    layers = layers if layers is not None else default_layers()

    app = Dash(
        __name__,
        assets_folder=str(PROJECT_ROOT / "assets"),
        title="NTPD 112",
        update_title="",  # the tab title never flickers to "Updating..."
        suppress_callback_exceptions=True,  # pages are rendered by the router below
        serve_locally=True,  # every script from this server: no call outside it (3T command rooms)
    )
    cache = make_cache(app.server, settings)
    app.server.extensions["ntpd_runtime"] = runtime

    # Boundaries and the store are opened here, once per process, never at import time.
    runtime.region  # noqa: B018 - load (or build and cache) the region's boundaries now, not on a request
    try:
        runtime.ensure_scenario()
    except StoreUnavailable as exc:
        log.error("store unavailable at start: %s (pages will say so and retry)", exc)

    # the hexagons of the analytics page are static layers too (/layers/hexes-<res>.geojson), on that page only
    register_routes(app.server, runtime, [*layers, *hex_layers()], cache)
    register_api(app.server, runtime)
    register_positions_api(app.server, runtime)
    register_analytics_api(app.server, runtime, cache)
    register_coverage_api(app.server, runtime)
    register_signin(app.server, runtime)

    app.layout = html.Div([dcc.Location(id=ids.URL, refresh=False), html.Div(id=ids.PAGE)])

    @app.callback(Output(ids.PAGE, "children"), Input(ids.URL, "pathname"), Input(ids.URL, "search"))
    def route(pathname: str | None, search: str | None) -> Any:
        lang = _lang(search, settings.lang)
        try:
            path = (pathname or "/").rstrip("/")
            if path == "/wall":
                return wall.layout(LayerContext(runtime, lang, wall=True), layers)
            if path == analytics.PATH:
                return analytics.layout(LayerContext(runtime, lang), layers)
            if path == coverage.PATH:
                from flask import session

                from ntpd_map.signin import coverage_access

                # read-only unless this session signed in with a planner or admin key that is still valid
                access = coverage_access(runtime.store, session)
                query = {k: v[0] for k, v in parse_qs((search or "").lstrip("?")).items() if v}
                return coverage.layout(LayerContext(runtime, lang), layers, access, query)
            return ops.layout(LayerContext(runtime, lang), layers)
        except StoreUnavailable as exc:
            log.error("store unavailable while rendering %s: %s", pathname, exc)
            from ntpd_map.i18n import t

            return html.Div([html.Div(t("store_down", lang, time="-"), className="down-banner"),
                             dcc.Location(id="retry", refresh=True),
                             dcc.Interval(id="retry-tick", interval=10_000)])

    ops_callbacks.register(app, runtime, layers, cache)
    wall_callbacks.register(app, runtime, layers, cache)
    analytics_callbacks.register(app, runtime, cache)
    coverage_callbacks.register(app, runtime, layers, cache)
    app.clientside_callback(
        "function(n) { if (n) { window.location.reload(); } return window.dash_clientside.no_update; }",
        Output("retry", "href"),
        Input("retry-tick", "n_intervals"),
    )
    return app


def _lang(search: str | None, default: str) -> str:
    values = parse_qs((search or "").lstrip("?")).get("lang", [])
    return "en" if values and values[0].lower().startswith("en") else ("id" if values else default)
