"""Wall display callbacks: refresh when the data changes, rotate panels, keep the last good view on faults.

As on the operations page, a tick asks the store for its data version first. Nothing new: nothing is sent (204).
New incidents only: they are appended to the small "new" layer with a Patch (drawn with a ring), and the
counters and the kecamatan table, counted by the store, are sent again. Updated incidents, a store that was
down, or a window that slid for ``FULL_REFRESH_S``: the whole 24 h is sent again. So a tick costs the same
whatever the size of the window, and no worker builds window-sized answers for fifty walls every ten seconds
(bench/README.md, "Load").

Each full refresh also keeps what it drew in the shared cache (``callbacks.ops.remember``): a wall rebooted while
the store is down shows that data with the banner saying when it was read, not an empty map (issue 8).
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from ntpd_map import ids
from ntpd_map.i18n import t
from ntpd_map.pages.ops.callbacks import data_time, last_good_key, plain_headline, recall, remember
from ntpd_map.store.base import POINT_COLUMNS, IncidentQuery, StoreUnavailable
from ntpd_map.views import Headline, duration_text, headline_from_store

if TYPE_CHECKING:
    from collections.abc import Iterator

    import pandas as pd
    from dash import Dash
    from flask_caching import Cache

    from layers.base import Layer
    from ntpd_map.runtime import Runtime

DAY = 86400
#: The 24 h window slides: the points are redrawn whole about this often (each wall up to a fifth sooner, so
#: walls opened together do not all redraw at once); the counters and the table are counted again at every
#: change, and at least once a minute.
FULL_REFRESH_S = 300
COUNTS_S = 60
#: One read and encoding of the whole 24 h serves every wall of this process that redraws within this many
#: seconds (the incidents written since reach each wall with its next Patch).
WHOLE_S = 30


@dataclass(frozen=True)
class Whole:
    """The whole 24 h window as the wall's bulk layer draws it, and the data version it holds."""

    at: int
    version: int
    max_id: int
    data: str  # base64 geobuf


def read_whole(store: Any, now: int) -> Whole:
    """The window read and encoded a batch at a time: what a redraw holds besides its answer stays the same
    however large the window (bench/README.md, "Load")."""
    from layers.incidents import geobuf_from_batches

    # rows written after data_version() was read are in it too: its version says so, and they are not sent again
    top = {"rev": store.data_version(), "id": 0}

    def batches() -> Iterator[pd.DataFrame]:
        query = IncidentQuery(start=now - DAY, end=now + 1, columns=("rev", *POINT_COLUMNS))
        for frame in store.incident_batches(query):
            top.update(rev=max(top["rev"], int(frame["rev"].max())), id=max(top["id"], int(frame["id"].max())))
            yield frame

    data = geobuf_from_batches(batches())
    return Whole(now, top["rev"], top["id"], data)


def kecamatan_rows(g24: dict[str, int], c24: dict[str, int], g7: dict[str, int], names: dict[str, str],
                   kecamatan: list[str], limit: int = 12) -> list[dict[str, Any]]:
    """Per kecamatan: genuine and all calls in 24 h, genuine in 7 days (counts by kode_kec); busiest first.
    Every kecamatan is counted; the wall shows the top rows."""
    rows: list[dict[str, Any]] = [
        {"kode": k, "nama": names.get(k, k), "genuine_24h": int(g24.get(k, 0)), "calls_24h": int(c24.get(k, 0)),
         "genuine_7d": int(g7.get(k, 0))}
        for k in kecamatan
    ]
    rows.sort(key=lambda r: (-r["genuine_24h"], -r["genuine_7d"], -r["calls_24h"], r["nama"]))
    return rows[:limit]


def wall_view(h: Headline, rows: list[dict[str, Any]], lang: str) -> tuple[list[Any], Any]:
    """The counters and the kecamatan table of the wall, from the headline and ``kecamatan_rows``."""
    from dash import html

    counters = [
        (t("calls", lang), f"{h.calls:,}".replace(",", "."), False),
        (t("genuine", lang), str(h.genuine), False),
        (t("open_incidents", lang), str(h.open), h.open > 0),
        (t("noise_share", lang), f"{100 * h.noise_share:.0f}%", False),
        (t("oldest_open", lang), duration_text(h.oldest_open_s, lang), (h.oldest_open_s or 0) > 3600),
    ]
    counter_divs = [html.Div([html.B(v), html.Span(label)], className="wall-counter" + (" alert" if alert else ""))
                    for label, v, alert in counters]
    top = max([r["genuine_7d"] for r in rows] + [1])
    table = html.Table([
        html.Thead(html.Tr([html.Th(t("kecamatan", lang)), html.Th(f"{t('genuine', lang)} 24h"),
                            html.Th(f"{t('calls', lang)} 24h"), html.Th(f"{t('genuine', lang)} 7d")])),
        html.Tbody([html.Tr([
            html.Td(r["nama"]), html.Td(r["genuine_24h"], className="num"),
            html.Td(r["calls_24h"], className="num"),
            html.Td([html.Span(className="bar", style={"width": f"{int(300 * r['genuine_7d'] / top)}px"}),
                     f" {r['genuine_7d']}"]),
        ]) for r in rows]),
    ], className="wall-table")
    return counter_divs, table


def register(app: Dash, runtime: Runtime, layers: list[Layer], cache: Cache) -> None:
    from dash import Input, Output, Patch, State, no_update
    from dash.exceptions import PreventUpdate

    from layers.base import LayerContext, View, layer_id
    from layers.incidents import EMPTY, NEW_LAYER, features_from_incidents
    from layers.responders import drawn_signature
    from ntpd_map.pages.common import region_bounds
    from ntpd_map.pages.wall.layout import PANELS

    responders = next((layer for layer in layers if layer.key == "responders"), None)
    latest: list[Whole] = []
    building = threading.Lock()

    def whole(store: Any, now: int, at_least: int) -> Whole:
        """The whole window, read once for the walls that redraw together, never older than ``at_least`` (what
        the wall has shown, or an update it must show). Walls waiting here take the read that was running."""
        with building:
            if not (latest and now - latest[0].at < WHOLE_S and latest[0].version >= at_least):
                latest[:] = [read_whole(store, now)]
            return latest[0]

    @app.callback(
        Output(layer_id("incidents"), "data", allow_duplicate=True),
        Output(layer_id("incidents"), "format", allow_duplicate=True),
        Output(layer_id(NEW_LAYER), "data", allow_duplicate=True),
        Output(layer_id("responders"), "data", allow_duplicate=True),
        Output(ids.WALL_COUNTERS, "children"),
        Output(ids.WALL_TABLE, "children"),
        Output(ids.WALL_SYNC, "data"),
        Output(ids.WALL_DOWN, "children"),
        Output(ids.WALL_MAP, "invalidateSize"),
        Output(ids.WALL_MAP, "viewport"),
        Input(ids.WALL_TICK, "n_intervals"),
        State(ids.WALL_SYNC, "data"),
        State("wall-config", "data"),
        prevent_initial_call="initial_duplicate",
        running=[(Output(ids.WALL_TICK, "disabled"), True, False)],
    )
    def refresh_wall(_tick: Any, sync: dict[str, Any] | None, config: dict[str, Any]) -> tuple:
        sync = dict(sync or {})
        lang = (config or {}).get("lang", runtime.settings.lang)
        tz = runtime.settings.tz
        now = int(time.time())
        store = runtime.store
        region_view = {"bounds": region_bounds(LayerContext(runtime, lang, wall=True)), "options": {"padding": [8, 8]}}
        ctx = LayerContext(runtime, lang, wall=True)
        last_key = last_good_key("wall", runtime.settings.region)  # counts and names only: one for every language
        try:
            version = store.data_version()
            # units move without any incident changing: their layer is computed every tick and sent alone
            # when only it changed, so a move shows within one refresh
            responder_data = responders.data(ctx, View(IncidentQuery(), now)) if responders else None
            responder_sig = drawn_signature(responder_data) if responder_data else None
            moved = responder_sig != sync.get("responders")
            sync["responders"] = responder_sig
            due = sync.get("down") or sync.get("version") is None or now - sync.get("full_at", 0) >= FULL_REFRESH_S
            if sync.get("version") == version and not due and now - sync.get("ok_at", 0) < COUNTS_S:
                if not moved:
                    raise PreventUpdate
                return (no_update, no_update, no_update, responder_data, no_update, no_update, sync, no_update,
                        no_update, no_update)
            day = IncidentQuery(start=now - DAY, end=now + 1)
            week = IncidentQuery(start=now - 7 * DAY, end=now + 1, call_types=("genuine",))
            # new rows only, unless the whole is due; an updated row (its outcome restyles it) redraws the whole
            # (with their rev: rows written after data_version() was read are then not sent twice)
            points = None if due else store.incidents(replace(day, since_rev=sync["version"],
                                                               columns=("rev", *POINT_COLUMNS)))
            updated = points is not None and bool((points["id"] <= sync.get("max_id", 0)).any())
            # a wall just opened, or an update to show: nothing older than now; a timed redraw: nothing older than
            # what the wall has shown (what came since reaches it with its next Patch)
            fresh_needed = updated or sync.get("version") is None
            bulk = whole(store, now, version if fresh_needed else sync["version"]) \
                if points is None or updated else None
            h = headline_from_store(store, day, now)
            g24 = store.count_by("kode_kec", replace(day, call_types=("genuine",)))
            c24 = store.count_by("kode_kec", day)
            g7 = store.count_by("kode_kec", week)
            simulated = runtime.is_simulated() if bulk else None
        except StoreUnavailable:
            sync["down"] = True
            sync.pop("responders", None)  # drawn again once the store answers
            # the banner takes room from the map: Leaflet re-measures, then the region is fitted again
            last = recall(cache, last_key) if not (sync.get("ok_at") or sync.get("cached_at")) else None
            if last is not None:  # a wall (re)opened while the store is down: the last good data, said to be so
                sync["cached_at"] = last["at"]
                counter_divs, table = wall_view(Headline(*last["head"]), last["rows"], lang)
                return (last["points"], "geobuf", EMPTY, last.get("responders") or no_update, counter_divs, table,
                        sync, t("store_down", lang, time=data_time(last["at"], now, tz)), now, region_view)
            shown_at = data_time(sync.get("ok_at") or sync.get("cached_at"), now, tz)
            return (no_update, no_update, no_update, no_update, no_update, no_update, sync,
                    t("store_down", lang, time=shown_at), now, region_view)
        rows = kecamatan_rows(g24, c24, g7, runtime.names, list(runtime.region.kecamatan["kode"]))
        counter_divs, table = wall_view(h, rows, lang)
        responders_out = responder_data if responder_data is not None and (bulk or moved) else no_update
        sync.update(ok_at=now, down=False)
        if bulk is None and points is not None:  # the new incidents join the ring layer; the bulk and view stay
            fresh: Any = no_update
            if len(points):
                fresh = Patch()
                fresh["features"].extend(features_from_incidents(points))
                sync.update(version=max(version, int(points["rev"].max())), max_id=int(points["id"].max()))
            else:
                sync["version"] = version
            return (no_update, no_update, fresh, responders_out, counter_divs, table, sync, "", no_update, no_update)
        assert bulk is not None
        # the next whole redraw: FULL_REFRESH_S from now, up to a fifth sooner
        sync.update(version=bulk.version, max_id=bulk.max_id,
                    full_at=now - random.randrange(FULL_REFRESH_S // 5))  # spreads the load
        sync.pop("cached_at", None)
        remember(cache, last_key, {"at": bulk.at, "points": bulk.data, "head": plain_headline(h), "rows": rows,
                                   "responders": responder_data, "simulated": simulated})
        # counters, clock and banner change the map's height after Leaflet measured it: re-measure, re-fit
        return bulk.data, "geobuf", EMPTY, responders_out, counter_divs, table, sync, "", now, region_view

    # the views in turn: incident map, kecamatan table, signal coverage (ntpd_map.pages.wall.layout.PANELS)
    app.clientside_callback(
        """function(n) {
            var k = (n || 0) % __N__;
            var out = [];
            for (var i = 0; i < __N__; i++) { out.push(i === k ? "wall-panel" : "wall-panel wall-hidden"); }
            return out;
        }""".replace("__N__", str(len(PANELS))),
        *[Output(panel, "className") for panel in PANELS],
        Input(ids.WALL_ROTATE, "n_intervals"),
    )
    app.clientside_callback(
        """function(_n, config) { return window.ntpdClock ? window.ntpdClock(config) : ""; }""",
        Output(ids.WALL_CLOCK, "children"),
        Input(ids.WALL_TICK, "n_intervals"),
        State("wall-config", "data"),
    )
