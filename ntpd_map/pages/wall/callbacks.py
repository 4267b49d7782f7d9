"""Wall display callbacks: the live refresh, the rotation of panels and the clock.

The incident map follows the store through the live refresh (``pages/live.py``): nothing when nothing changed,
new incidents appended to the ringed layer with a Patch, the whole 24 h redrawn about every five minutes (each
wall up to a fifth sooner, so walls opened together do not redraw together; one read serves every wall of the
process redrawing within ``WHOLE_S``). The counters and the kecamatan table are counted by the store at every
change and at least every ``COUNTS_S``; the units' layer is computed every tick and sent when it changed, so a
move shows within one refresh. A wall (re)opened while the store is down draws the last good view from the
shared cache under the banner (issue 8).
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from dash import Input, Output, Patch, State, html, no_update
from dash.exceptions import PreventUpdate

from layers.base import LayerContext, View, layer_id
from layers.incidents import ACTIVE_LAYER, EMPTY, NEW_LAYER, features_from_active, features_from_incidents
from layers.responders import drawn_signature
from ntpd_map import ids
from ntpd_map.fmt import number
from ntpd_map.i18n import t
from ntpd_map.pages.common import active_panel, region_bounds
from ntpd_map.pages.live import LiveLayer, data_time, last_good_key, open_emergencies, plain_headline, remember
from ntpd_map.pages.wall.layout import PANELS
from ntpd_map.store.model import IncidentQuery, StoreUnavailable
from ntpd_map.views import Headline, active_incidents, duration_text, headline_from_store

if TYPE_CHECKING:
    import pandas as pd

    from ntpd_map.pages.page import Callbacks, PageDeps
    from ntpd_map.store.base import Store

DAY = 86400
#: the counters and the table are counted again at every change, and at least this often (the window slides)
COUNTS_S = 60
#: one read and encoding of the whole 24 h serves every wall of this process that redraws within this many seconds
#: (the incidents written since reach each wall with its next Patch)
WHOLE_S = 30


def kecamatan_rows(g24: dict[str, int], c24: dict[str, int], g7: dict[str, int], names: dict[str, str],
                   kecamatan: list[str]) -> list[dict[str, Any]]:
    """Per kecamatan: genuine and all calls in 24 h, genuine in 7 days (counts by kode_kec); busiest first.
    Every kecamatan of the region, none left out."""
    rows: list[dict[str, Any]] = [
        {"kode": k, "nama": names.get(k, k), "genuine_24h": int(g24.get(k, 0)), "calls_24h": int(c24.get(k, 0)),
         "genuine_7d": int(g7.get(k, 0))}
        for k in kecamatan
    ]
    rows.sort(key=lambda r: (-r["genuine_24h"], -r["genuine_7d"], -r["calls_24h"], r["nama"]))
    return rows


#: the kecamatan view shows every kecamatan in this many columns side by side (24 rows of TTU in two of 12)
TABLE_COLUMNS = 2


def kecamatan_table(rows: list[dict[str, Any]], lang: str) -> Any:
    """Every kecamatan, busiest first, down one column then the next; numbers right-aligned under their headers,
    the 7-day bars scaled to the largest value."""
    top = max([r["genuine_7d"] for r in rows] + [1])
    head = html.Thead(html.Tr([
        html.Th(t("kecamatan", lang)),
        html.Th([t("genuine", lang), html.Br(), t("w_24h", lang)], className="num"),
        html.Th([t("calls", lang), html.Br(), t("w_24h", lang)], className="num"),
        html.Th([t("genuine", lang), html.Br(), t("w_7d", lang)], colSpan=2),
    ]))
    per = -(-len(rows) // TABLE_COLUMNS) if rows else 0
    tables = []
    for start in range(0, len(rows), per or 1):
        body = html.Tbody([html.Tr([
            html.Td(r["nama"]), html.Td(r["genuine_24h"], className="num"), html.Td(r["calls_24h"], className="num"),
            html.Td(r["genuine_7d"], className="num"),
            html.Td(html.Span(className="bar", style={"width": f"{100 * r['genuine_7d'] / top:.1f}%"}),
                    className="bar-cell"),
        ]) for r in rows[start:start + per]])
        tables.append(html.Table([head, body], className="wall-table"))
    return html.Div(tables, className="wall-tables")


def wall_view(h: Headline, rows: list[dict[str, Any]], lang: str) -> tuple[list[Any], Any]:
    """The counters and the kecamatan view of the wall, from the headline and ``kecamatan_rows``."""
    counters = [
        (t("calls", lang), number(h.calls, lang), False),
        (t("genuine", lang), str(h.genuine), False),
        (t("open_incidents", lang), str(h.open), h.open > 0),
        (t("noise_share", lang), f"{100 * h.noise_share:.0f}%", False),
        (t("oldest_open", lang), duration_text(h.oldest_open_s, lang), (h.oldest_open_s or 0) > 3600),
    ]
    counter_divs = [html.Div([html.B(v), html.Span(label)], className="wall-counter" + (" alert" if alert else ""))
                    for label, v, alert in counters]
    return counter_divs, kecamatan_table(rows, lang)


def counts(store: Store, runtime: Any, day: IncidentQuery, now: int,
           open_rows: pd.DataFrame | None = None) -> tuple[Headline, list[dict[str, Any]]]:
    """The wall's counters and kecamatan rows, counted by the store (``open_rows``: the day's
    ``active_incidents``, when read already)."""
    week = IncidentQuery(start=now - 7 * DAY, end=now + 1, call_types=("genuine",))
    head = headline_from_store(store, day, now, open_rows)
    rows = kecamatan_rows(store.count_by("kode_kec", replace(day, call_types=("genuine",))),
                          store.count_by("kode_kec", day), store.count_by("kode_kec", week), runtime.names,
                          list(runtime.region.kecamatan["kode"]))
    return head, rows


#: the outputs of the wall's refresh, in order
OUTPUTS = ("bulk", "format", "new", "responders", "counters", "table", "sync", "banner", "resize", "viewport",
           "active", "active_panel")


def answer(**sent: Any) -> tuple[Any, ...]:
    """The refresh's outputs by name; what is not named is not sent."""
    return tuple(sent.get(name, no_update) for name in OUTPUTS)


def register(cb: Callbacks, deps: PageDeps) -> None:
    runtime, cache = deps.runtime, deps.cache
    responders = next((layer for layer in deps.layers if layer.key == "responders"), None)
    live = LiveLayer("wall", share_s=WHOLE_S, spread=True)

    @cb.callback(
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
        Output(layer_id(ACTIVE_LAYER), "data", allow_duplicate=True),  # the ops page has it too
        Output(ids.WALL_ACTIVE, "children"),
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
        ctx = LayerContext(runtime, lang, wall=True)
        region_view = {"bounds": region_bounds(ctx), "options": {"padding": [8, 8]}}
        last_key = last_good_key("wall", runtime.settings.region)  # counts and names only: one for every language
        day = IncidentQuery(start=now - DAY, end=now + 1)
        try:
            delta = live.read(store, sync, day, "wall", now)
            # units move without any incident changing: their layer is computed every tick and sent alone
            # when only it changed, so a move shows within one refresh
            units = responders.data(ctx, View(IncidentQuery(), now)) if responders else None
            units_sig = drawn_signature(units) if units else None
            moved = units_sig != sync.get("responders")
            sync["responders"] = units_sig
            if delta is None and now - sync.get("ok_at", 0) < COUNTS_S:
                if not moved:
                    raise PreventUpdate
                return answer(responders=units, sync=sync)
            # the open emergencies, read with the counters: at every change and every minute (their ages)
            open_rows = active_incidents(store, day)
            head, rows = counts(store, runtime, day, now, open_rows)
            active = open_emergencies(runtime, store, open_rows, lang, now)
            simulated = runtime.is_simulated() if delta is not None and delta.whole is not None else None
        except StoreUnavailable:
            sync.pop("responders", None)  # drawn again once the store answers
            last = live.down(sync, cache, last_key)
            # the banner takes room from the map: Leaflet re-measures, then the region is fitted again
            if last is not None:  # a wall (re)opened while the store is down: the last good data, said to be so
                counter_divs, table = wall_view(Headline(*last["head"]), last["rows"], lang)
                shown = last.get("active") or []
                return answer(bulk=last["points"], format="geobuf", new=EMPTY, responders=last.get("responders")
                              or no_update, counters=counter_divs, table=table, sync=sync,
                              active=features_from_active(shown), active_panel=active_panel(shown, lang,
                                                                                             clickable=False),
                              banner=t("store_down", lang, time=data_time(last["at"], now, tz)), resize=now,
                              viewport=region_view)
            shown_at = data_time(sync.get("ok_at") or sync.get("cached_at"), now, tz)
            return answer(sync=sync, banner=t("store_down", lang, time=shown_at), resize=now, viewport=region_view)
        counter_divs, table = wall_view(head, rows, lang)
        drawn_active = {"active": features_from_active(active), "active_panel": active_panel(active, lang,
                                                                                             clickable=False)}
        whole = delta.whole if delta is not None else None
        units_out = units if units is not None and (whole is not None or moved) else no_update
        sync = live.sent(sync, delta, "wall", now)
        if whole is None:  # the new incidents join the ring layer; the bulk and the view stay
            fresh: Any = no_update
            if delta is not None and delta.new is not None and len(delta.new):
                fresh = Patch()
                fresh["features"].extend(features_from_incidents(delta.new))
            return answer(new=fresh, responders=units_out, counters=counter_divs, table=table, sync=sync, banner="",
                          **drawn_active)
        remember(cache, last_key, {"at": whole.at, "points": whole.data, "head": plain_headline(head), "rows": rows,
                                   "responders": units, "simulated": simulated, "active": active})
        # counters, clock and banner change the map's height after Leaflet measured it: re-measure, re-fit
        return answer(bulk=whole.data, format="geobuf", new=EMPTY, responders=units_out, counters=counter_divs,
                      table=table, sync=sync, banner="", resize=now, viewport=region_view, **drawn_active)


    # the views in turn: incident map, kecamatan table, signal coverage (pages/wall/layout.py PANELS)
    cb.clientside_callback(
        """function(n) {
            var k = (n || 0) % __N__;
            var out = [];
            for (var i = 0; i < __N__; i++) { out.push(i === k ? "wall-panel" : "wall-panel wall-hidden"); }
            return out;
        }""".replace("__N__", str(len(PANELS))),
        *[Output(panel, "className") for panel in PANELS],
        Input(ids.WALL_ROTATE, "n_intervals"),
    )
    cb.clientside_callback(
        """function(_n, config) { return window.ntpdClock ? window.ntpdClock(config) : ""; }""",
        Output(ids.WALL_CLOCK, "children"),
        Input(ids.WALL_TICK, "n_intervals"),
        State("wall-config", "data"),
    )
