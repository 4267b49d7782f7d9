"""create_app(settings): builds Dash, binds the cache and the store, and serves the page table (``pages/table.py``)
and the route table (``http/table.py``) behind one gate (``access/gate.py``)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import dash_leaflet  # noqa: F401 - component libraries must be imported before the first request
from dash import Dash, dcc, html

from layers import default_layers
from layers.hexes import hex_layers
from ntpd_map import ids
from ntpd_map.access import users
from ntpd_map.access.gate import Access
from ntpd_map.cache import make_cache
from ntpd_map.config import PROJECT_ROOT, Settings
from ntpd_map.http import table as http_table
from ntpd_map.http.routes import Call
from ntpd_map.pages import table as page_table
from ntpd_map.pages.page import Callbacks, PageDeps
from ntpd_map.privacy import install_log_redaction
from ntpd_map.runtime import Runtime
from ntpd_map.store.model import StoreUnavailable

if TYPE_CHECKING:
    from layers.base import Layer

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, *, runtime: Runtime | None = None,
               layers: list[Layer] | None = None) -> Dash:
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
        suppress_callback_exceptions=True,  # pages are rendered by the router
        serve_locally=True,  # every script from this server: no call outside it (3T command rooms)
    )
    cache = make_cache(app.server, settings)
    app.server.extensions["ntpd_runtime"] = runtime
    # the gate every request passes: sign-in, roles, CSRF, secure headers (issue 8)
    access = Access(app, runtime, http_table.ROUTES, lambda path: page_table.page_for(path).roles,
                    page_table.concern_roles())
    access.register()
    app.server.extensions["ntpd_access"] = access

    # Boundaries and the store are opened here, once per process, never at import time.
    runtime.region  # noqa: B018 - load (or build and cache) the region's boundaries now, not on a request
    runtime.basemap  # noqa: B018 - a basemap file that cannot be served is refused now, with the reason
    settings.dispatch_kinds  # noqa: B018 - so is a malformed NTPD_DISPATCH_KINDS
    try:
        runtime.ensure_scenario()
        first = users.bootstrap_admin(runtime.store, settings.data_dir / "initial-admin-password")
        if first:
            log.warning("no user yet: created %r (admin); its password is in %s - sign in, then change it with "
                        "`.venv/bin/python -m ntpd_map users passwd %s`", first,
                        settings.data_dir / "initial-admin-password", first)
    except StoreUnavailable as exc:
        log.error("store unavailable at start: %s (pages will say so and retry)", exc)

    # the hexagons of the analytics page are static layers too (/layers/hexes-<res>.geojson), on that page only
    http_table.serve(app.server, Call(runtime, cache, access, (*layers, *hex_layers()), http_table.ROUTES))

    app.layout = html.Div([dcc.Location(id=ids.URL, refresh=False), html.Div(id=ids.PAGE)])
    deps = PageDeps(runtime, layers, cache)
    for group in page_table.GROUPS:
        group.register(Callbacks(app, access, group.key), deps)
    for page in page_table.PAGES:
        page.register(Callbacks(app, access, page.key), deps)
    access.seal()
    return app
