"""create_app(settings): builds Dash, binds the cache and the store, registers pages, routes and callbacks."""

from __future__ import annotations

import logging
from collections.abc import Callable
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
    from ntpd_map.access import users
    from ntpd_map.access.gate import coverage_access, current_role, forbidden, register_access, with_account
    from ntpd_map.access.roles import can_edit_briefing_notes, may_view
    from ntpd_map.cache import make_cache
    from ntpd_map.http.analytics import register as register_analytics_api
    from ntpd_map.http.briefing import register_briefing_routes
    from ntpd_map.http.coverage import register_coverage_api
    from ntpd_map.http.incidents import register_api
    from ntpd_map.http.layers import register_routes
    from ntpd_map.http.positions import register_positions_api
    from ntpd_map.pages.analytics import callbacks as analytics_callbacks
    from ntpd_map.pages.analytics import layout as analytics
    from ntpd_map.pages.briefing import callbacks as briefing_callbacks
    from ntpd_map.pages.briefing import layout as briefing
    from ntpd_map.pages.coverage import callbacks as coverage_callbacks
    from ntpd_map.pages.coverage import layout as coverage
    from ntpd_map.pages.ops import callbacks as ops_callbacks
    from ntpd_map.pages.ops import layout as ops
    from ntpd_map.pages.wall import callbacks as wall_callbacks
    from ntpd_map.pages.wall import layout as wall
    from ntpd_map.privacy import install_log_redaction
    from ntpd_map.store.base import StoreUnavailable

    runtime = runtime or Runtime(settings)
    settings = runtime.settings
    logging.basicConfig(level=settings.get("NTPD_LOG_LEVEL"), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    install_log_redaction()  # no caller's number reaches a log line, whoever logs it (issue 8)
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
    # the gate every request passes: sign-in, roles, CSRF, secure headers (issue 8)
    access = register_access(app, runtime)
    app.server.extensions["ntpd_access"] = access

    # Boundaries and the store are opened here, once per process, never at import time.
    runtime.region  # noqa: B018 - load (or build and cache) the region's boundaries now, not on a request
    try:
        runtime.ensure_scenario()
        first = users.bootstrap_admin(runtime.store, settings.data_dir / "initial-admin-password")
        if first:
            log.warning("no user yet: created %r (admin); its password is in %s - sign in, then change it with "
                        "`python -m ntpd_map users passwd %s`", first, settings.data_dir / "initial-admin-password",
                        first)
    except StoreUnavailable as exc:
        log.error("store unavailable at start: %s (pages will say so and retry)", exc)

    # the hexagons of the analytics page are static layers too (/layers/hexes-<res>.geojson), on that page only
    register_routes(app.server, runtime, [*layers, *hex_layers()], cache)
    register_api(app.server, runtime)
    register_positions_api(app.server, runtime)
    register_analytics_api(app.server, runtime, cache)
    register_coverage_api(app.server, runtime)
    register_briefing_routes(app.server, runtime)

    app.layout = html.Div([dcc.Location(id=ids.URL, refresh=False), html.Div(id=ids.PAGE)])

    @app.callback(Output(ids.PAGE, "children"), Input(ids.URL, "pathname"), Input(ids.URL, "search"))
    def route(pathname: str | None, search: str | None) -> Any:
        lang = _lang(search, settings.lang)
        role = current_role()
        if not may_view(role, pathname):  # a link followed inside the page: the gate saw only the first path
            return forbidden(role, lang)
        try:
            path = (pathname or "/").rstrip("/")
            if path == "/wall":
                return wall.layout(LayerContext(runtime, lang, wall=True), layers)
            if path == analytics.PATH:
                return with_account(analytics.layout(LayerContext(runtime, lang), layers), lang)
            if path == coverage.PATH:
                # read-only unless the signed-in person may mark (planner, admin)
                return coverage.layout(LayerContext(runtime, lang), layers, coverage_access())
            if path == briefing.PATH:
                # built without the store; the notes are editable for planners and admins only
                period, notice = briefing.period_from_search(search, runtime.settings.tz, lang)
                return with_account(briefing.layout(LayerContext(runtime, lang), layers, period,
                                                    can_edit_briefing_notes(role), notice), lang)
            return with_account(ops.layout(LayerContext(runtime, lang), layers), lang)
        except StoreUnavailable as exc:
            log.error("store unavailable while rendering %s: %s", pathname, exc)
            from ntpd_map.i18n import t
            from ntpd_map.pages.ops.callbacks import offline_context

            # The wall and the operations page are built without the store: their refresh draws the last good
            # data from the shared cache with the banner, and recovers by itself (issue 8). Other pages wait.
            down_path = (pathname or "/").rstrip("/")
            if down_path not in (analytics.PATH, coverage.PATH, briefing.PATH):
                try:
                    if down_path == "/wall":
                        return wall.layout(offline_context(runtime, cache, lang, wall=True), layers)
                    return with_account(ops.layout(offline_context(runtime, cache, lang), layers), lang)
                except StoreUnavailable:
                    pass
            return html.Div([html.Div(t("store_down", lang, time="-"), className="down-banner"),
                             dcc.Location(id="retry", refresh=True),
                             dcc.Interval(id="retry-tick", interval=10_000)])

    access.assign("router", {key for key in app.callback_map})

    def concern(name: str, register: Callable[[], None]) -> set[str]:
        before = set(app.callback_map)
        register()
        added = set(app.callback_map) - before
        access.assign(name, added)
        return added

    concern("ops", lambda: ops_callbacks.register(app, runtime, layers, cache))
    concern("wall", lambda: wall_callbacks.register(app, runtime, layers, cache))
    concern("analytics", lambda: analytics_callbacks.register(app, runtime, cache))
    concern("briefing", lambda: briefing_callbacks.register(app, runtime))
    added = concern("coverage", lambda: coverage_callbacks.register(app, runtime, layers, cache))
    # the coverage layers' refresh serves every page, the wall's too (wall-safe for a wall: callbacks.coverage)
    access.assign("coverage-shared", {key for key in added if f"{ids.COV_SUMMARY}.children" in key})
    app.clientside_callback(
        "function(n) { if (n) { window.location.reload(); } return window.dash_clientside.no_update; }",
        Output("retry", "href"),
        Input("retry-tick", "n_intervals"),
    )
    from dash.exceptions import DependencyException

    @app.server.errorhandler(DependencyException)
    def no_such_script(_error: Exception) -> Any:  # /_dash-component-suites/<unknown>: a 404, not a traceback
        return {"error": "not found"}, 404

    @app.server.route("/api/<path:_rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    def no_such_endpoint(_rest: str) -> Any:  # never Dash's page shell under /api/
        return {"error": "no such API endpoint (see /api/openapi.json)"}, 404

    access.assign("router", {"retry.href"})  # runs in the browser; named so the map of concerns is complete
    access.seal()
    return app


def _lang(search: str | None, default: str) -> str:
    values = parse_qs((search or "").lstrip("?")).get("lang", [])
    return "en" if values and values[0].lower().startswith("en") else ("id" if values else default)
