"""Operations page callbacks: filters and the live refresh of incidents, counters and the list; picking an
incident (its details, the nearest available units) or a unit (its panel, track and status buttons).

The incident map follows the store through the live refresh (``pages/live.py``): nothing when nothing changed,
new incidents appended with a Patch, the window sent again when the filters change, a row on the map was
updated or five minutes passed. The view re-fits only when the filters change, or when a new incident lies
outside the current view, and never while the view is locked. The last good view of the default filters goes
to the shared cache, for a browser that opens the page while the store is down (issue 8).
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import pandas as pd
from dash import ALL, Input, Output, Patch, State, callback_context, html, no_update
from dash.exceptions import PreventUpdate

from layers.base import LayerContext, View, layer_id
from layers.incidents import ACTIVE_LAYER, EMPTY, NEW_LAYER, features_from_active, features_from_incidents
from layers.responders import EMPTY as EMPTY_LINES
from layers.responders import TRACK_S, drawn_signature, lines_to_units, track_from_positions
from ntpd_map import audit, ids
from ntpd_map.domain import INCIDENT_COLUMNS, CallType, UnitStatus
from ntpd_map.fmt import number
from ntpd_map.geo.responders import AVERAGE_SPEED_KMH, ROAD_FACTOR, Staleness, nearest_available, responder_features
from ntpd_map.i18n import t, vocabulary_labels
from ntpd_map.ingest.write import write_incidents
from ntpd_map.pages.common import (
    ACTIVE_ROW,
    active_panel,
    layers_control_id,
    legend_block_id,
    legend_rows,
    region_bounds,
)
from ntpd_map.pages.live import (
    LiveLayer,
    acknowledge,
    data_time,
    last_good_key,
    open_emergencies,
    plain_headline,
    remember,
)
from ntpd_map.store.model import IncidentQuery, StoreUnavailable
from ntpd_map.views import (
    Headline,
    active_incidents,
    decimal_text,
    duration_text,
    headline_from_store,
    incident_details,
    list_rows,
    local_time,
    nearest_rows,
    unit_details,
    window_bounds,
)

if TYPE_CHECKING:
    from layers.base import Layer
    from ntpd_map.pages.page import Callbacks, PageDeps
    from ntpd_map.runtime import Runtime

LIST_ROWS = 30  # the newest, a screenful; the rest are on the map (200 rows were 135 KB a refresh, bench/README.md)
ROW = "incident-row"
RING = {"color": "#facc15", "weight": 5, "opacity": 1, "fill": False}
#: the outputs of the refresh, in order
OUTPUTS = ("bulk", "format", "new", "counters", "list", "sync", "status", "banner", "viewport", "resize", "active",
           "active_panel")


def query_from_filters(
    window: str | None, start_date: str | None, end_date: str | None, call_types: list[str] | None,
    categories: list[str] | None, outcomes: list[str] | None, agencies: list[str] | None,
    kecamatan: list[str] | None, now: int, tz: str,
) -> IncidentQuery:
    start, end = window_bounds(window or "24h", now, start_date, end_date, tz)
    return IncidentQuery(
        start=start, end=end, call_types=tuple(call_types or ()), categories=tuple(categories or ()),
        outcomes=tuple(outcomes or ()), agency_kinds=tuple(agencies or ()), kode_kec=tuple(kecamatan or ()),
    )


def bounds_of(points: Any) -> list[list[float]] | None:
    """[[south, west], [north, east]] of the located incidents of a frame, padded; None when none is."""
    lat, lon = points["lat"].dropna(), points["lon"].dropna()
    if lat.empty or lon.empty:
        return None
    pad = 0.01
    return [[float(lat.min()) - pad, float(lon.min()) - pad], [float(lat.max()) + pad, float(lon.max()) + pad]]


def union_bounds(a: list[list[float]] | None, b: list[list[float]] | None) -> list[list[float]]:
    boxes = [x for x in (a, b) if x]
    return [[min(x[0][0] for x in boxes), min(x[0][1] for x in boxes)],
            [max(x[1][0] for x in boxes), max(x[1][1] for x in boxes)]]


def outside(features: list[dict[str, Any]], view: list[list[float]] | None) -> bool:
    if not view:
        return True
    (south, west), (north, east) = view
    return any(not (south <= f["geometry"]["coordinates"][1] <= north and west <= f["geometry"]["coordinates"][0]
                    <= east) for f in features)


def fit(bounds: list[list[float]]) -> dict[str, Any]:
    return {"bounds": bounds, "transition": "flyToBounds", "options": {"padding": [20, 20], "duration": 0.5}}


def counters(h: Headline, lang: str) -> list[Any]:
    items = [
        (t("calls", lang), number(h.calls, lang)),
        (t("genuine", lang), str(h.genuine)),
        (t("noise_share", lang), f"{100 * h.noise_share:.0f}%"),
        (t("open_incidents", lang), str(h.open)),
        (t("oldest_open", lang), duration_text(h.oldest_open_s, lang)),
    ]
    return [html.Div([html.B(value, id=f"counter-{i}"), html.Span(label)], className="counter")
            for i, (label, value) in enumerate(items)]


def list_options(rows: list[dict[str, Any]]) -> list[Any]:
    """The incident list: one clickable row per incident (plain children: Dash 4 cannot update components
    inside RadioItems option labels, plotly/dash#3286)."""
    options = []
    for row in rows:
        what = row["category"] or row["call_type"]
        if row["category"] and row["call_type"] != what:
            what = f"{row['call_type']}: {what}"
        place = ", ".join(p for p in (row["desa"], row["kecamatan"]) if p) or "-"
        label = html.Div([
            html.Span(row["time"], className="when"),
            html.Span(what, className="what"),
            html.Span(row["outcome"], className="out"),
            html.Span(f"{place}{' ~' if row['approximate'] else ''}", className="where"),
        ], className="row-body" + (" genuine" if row["genuine"] else "") + (" active" if row["active"] else ""))
        options.append(html.Div(label, id={"type": ROW, "id": row["id"]}, n_clicks=0, className="incident-row"))
    return options


def device_attr(device: str) -> dict[str, Any]:
    return {"data-device": device}


def nearest_section(nearest: list[dict[str, Any]] | None, lang: str, message: str | None = None,
                    needs: tuple[str, ...] = ()) -> Any:
    """The selected incident's "nearest available units" block: up to five, the kinds its category ``needs``
    first (said above the list), each with its kind, distance and rough ETA, and a note saying how rough; or a
    message saying why there is no list."""
    children: list[Any] = [html.B(t("nearest_title", lang))]
    if needs and message is None and nearest:
        kinds = vocabulary_labels(lang)["kind"]
        children.append(html.Div(t("nearest_needs", lang, kinds=", ".join(kinds.get(k, k) for k in needs)),
                                 className="nearest-needs"))
    if message is not None or not nearest:
        children.append(html.Div(message or t("nearest_none", lang), className="nearest-empty"))
    else:
        children.append(html.Ol([html.Li([
            html.Span(row["unit"], className="n-unit"),
            html.Span(row["kind"], className="n-kind"),
            html.Span(row["distance"], className="n-dist"),
            html.Span(row["eta"], className="n-eta"),
            html.Span(row["stale"], className="n-stale") if row["stale"] else None,
        ], **device_attr(row["device"])) for row in nearest_rows(nearest, lang)]))
        children.append(html.Div(t("nearest_note", lang, factor=decimal_text(ROAD_FACTOR, lang),
                                   speed=f"{AVERAGE_SPEED_KMH:g}"), className="nearest-note"))
    return html.Div(children, id=ids.NEAREST, className="nearest")


def status_buttons(current: str | None) -> list[str]:
    """Class names of the status buttons, the unit's current status marked."""
    return ["unit-status current" if str(s) == current else "unit-status" for s in UnitStatus]


def unit_panel(device: str, units: Any, latest: Any, track: Any, now: int, staleness: Staleness, tz: str,
               lang: str) -> tuple[Any, str | None, dict[str, Any]]:
    """The selected unit's panel content, its status (None when the device is no longer registered) and its
    track, from Store.units, Store.latest_positions and Store.track frames."""
    mine = units[units["device_id"] == device]
    if mine.empty:
        return html.Div(t("unit_gone", lang, device=device), className="unit-error"), None, EMPTY_LINES
    unit = mine.iloc[0].to_dict()
    features = responder_features(latest[latest["device_id"] == device], mine, now, staleness)
    props = features[0]["properties"] if features else None
    rows = unit_details(unit, props, len(track), tz, lang)
    info = [html.Div(unit["name"], className="unit-name"),
            html.Table([html.Tr([html.Th(label), html.Td(value)]) for label, value in rows],
                       className="details-table")]
    return info, str(unit["status"]), track_from_positions(track, device)


def answer(**sent: Any) -> tuple[Any, ...]:
    """The refresh's outputs by name; what is not named is not sent."""
    return tuple(sent.get(name, no_update) for name in OUTPUTS)


def register_alert(cb: Callbacks, runtime: Runtime) -> None:
    """A new emergency flashes and sounds (in the browser, from the active layer) until an operator presses
    "Akui": the acknowledgement is kept in the store, so every screen stops, and goes to the audit log."""

    @cb.callback(
        Output(layer_id(ACTIVE_LAYER), "data", allow_duplicate=True),
        Input(ids.ALERT_ACK, "n_clicks"),
        State(layer_id(ACTIVE_LAYER), "data"),
        prevent_initial_call=True,
    )
    def acknowledge_alert(clicks: int | None, data: dict[str, Any] | None) -> Any:
        features = (data or {}).get("features") or []
        seen = [int(f["properties"]["id"]) for f in features if f.get("properties", {}).get("alert")]
        if not clicks or not seen:
            raise PreventUpdate
        try:
            acknowledge(runtime.store, seen)
        except StoreUnavailable:
            raise PreventUpdate from None  # it keeps sounding: nobody's acknowledgement may be lost
        audit.record(runtime.store, audit.request_actor(), "alert.ack", ",".join(map(str, seen)), count=len(seen))
        for feature in features:
            feature["properties"]["alert"] = False
        return {"type": "FeatureCollection", "features": features}


def register(cb: Callbacks, deps: PageDeps) -> None:
    register_refresh(cb, deps)
    register_call_log(cb, deps.runtime)
    register_alert(cb, deps.runtime)
    responders = next((layer for layer in deps.layers if layer.key == "responders"), None)
    register_selection(cb, deps.runtime, responders)
    if responders is not None:
        register_responders(cb, deps.runtime, responders)
    register_map_controls(cb, deps.runtime, deps.layers)


#: the source of the calls operators log on this page (one external id each: every press is one call)
OPS_SOURCE = "ops"


def log_noise_call(runtime: Runtime, call_type: str, actor: str, now: int) -> str:
    """Store one noise call (prank, ghost, dropped, ...) received now, as an operator logs it: nothing else is
    needed; closed by the operator (resolved), no location. Its id; raises StoreUnavailable."""
    kind = CallType(call_type)
    if kind is CallType.GENUINE:
        raise ValueError("an emergency needs its category and location, not one key")
    external_id = uuid.uuid4().hex
    row: dict[str, Any] = dict.fromkeys(INCIDENT_COLUMNS)
    row.update(source=OPS_SOURCE, external_id=external_id, received_at=now, call_type=str(kind), outcome="resolved",
               location_source="unknown", flags=0, simulated=False, attrs={"logged_by": actor})
    write_incidents(runtime.store, runtime.locator, pd.DataFrame([row], columns=list(INCIDENT_COLUMNS)))
    audit.record(runtime.store, actor, "call.log", external_id, call_type=str(kind))
    return external_id


def register_call_log(cb: Callbacks, runtime: Runtime) -> None:
    """A noise call logged with one button or key (issue 19): stored at once, written to the audit log with the
    operator's name; the counters and the list follow at the next refresh."""

    @cb.callback(Output(ids.LOG_CALL_STATUS, "children"),
                 Input({"type": ids.LOG_CALL, "ct": ALL}, "n_clicks"),
                 State("ops-config", "data"), prevent_initial_call=True)
    def log_call(clicks: list[int | None], config: dict[str, Any] | None) -> Any:
        trigger = callback_context.triggered_id
        if not isinstance(trigger, dict) or not any(clicks):
            raise PreventUpdate
        lang = (config or {}).get("lang", runtime.settings.lang)
        now = int(time.time())
        try:
            log_noise_call(runtime, str(trigger["ct"]), audit.request_actor(), now)
        except StoreUnavailable:
            return html.Span(t("log_call_down", lang), className="log-call-error")
        what = vocabulary_labels(lang)["ct"].get(str(trigger["ct"]), str(trigger["ct"]))
        return t("log_call_saved", lang, time=local_time(now, runtime.settings.tz, "%H:%M:%S"), what=what)


def register_refresh(cb: Callbacks, deps: PageDeps) -> None:
    """The live refresh: incidents of the filters, counters, the list, the banner when the store is down."""
    runtime, cache = deps.runtime, deps.cache
    live = LiveLayer("ops")

    @cb.callback(
        Output(layer_id("incidents"), "data"),
        Output(layer_id("incidents"), "format"),
        Output(layer_id(NEW_LAYER), "data"),
        Output(ids.COUNTERS, "children"),
        Output(ids.LIST, "children"),
        Output(ids.SYNC, "data"),
        Output(ids.STATUS, "children"),
        Output(ids.DOWN_BANNER, "children"),
        Output(ids.MAP, "viewport"),
        Output(ids.MAP, "invalidateSize"),
        Output(layer_id(ACTIVE_LAYER), "data"),
        Output(ids.OPS_ACTIVE, "children"),
        Input(ids.TICK, "n_intervals"),
        Input(ids.WINDOW, "value"),
        Input(ids.CUSTOM_RANGE, "start_date"),
        Input(ids.CUSTOM_RANGE, "end_date"),
        Input(ids.CALL_TYPES, "value"),
        Input(ids.CATEGORIES, "value"),
        Input(ids.OUTCOMES, "value"),
        Input(ids.AGENCIES, "value"),
        Input(ids.KECAMATAN, "value"),
        State(ids.SYNC, "data"),
        State(ids.LOCK, "value"),
        State(ids.MAP, "bounds"),
        State("ops-config", "data"),
        # the timer pauses while a refresh runs: a slow full refresh must not pile up behind itself
        running=[(Output(ids.TICK, "disabled"), True, False)],
    )
    def refresh(_tick: Any, window: str, start_date: str | None, end_date: str | None, call_types: list[str],
                categories: list[str], outcomes: list[str], agencies: list[str], kecamatan: list[str],
                sync: dict[str, Any] | None, lock: list[str] | None, view: Any, config: dict[str, Any]) -> tuple:
        sync = dict(sync or {})
        lang = (config or {}).get("lang", runtime.settings.lang)
        tz = runtime.settings.tz
        now = int(time.time())
        query = query_from_filters(window, start_date, end_date, call_types, categories, outcomes, agencies,
                                   kecamatan, now, tz)
        filters = [window, start_date, end_date, call_types, categories, outcomes, agencies, kecamatan]
        key = hashlib.sha256(json.dumps(filters).encode()).hexdigest()
        # a reloaded page starts with these filters: only their view is worth keeping for the next reload
        default_view = (window or "24h") == "24h" and not (start_date or end_date) and not any(filters[3:])
        last_key = last_good_key("ops", runtime.settings.region, lang)
        store = runtime.store
        try:
            # a changed filter redraws the whole, even when it changed back to the same values
            delta = live.read(store, sync, query, key, now, force=callback_context.triggered_id != ids.TICK)
            minute = now // 60
            if delta is None:
                if sync.get("active_minute") == minute:
                    raise PreventUpdate  # idle: nothing goes over the wire
                # a minute passed: the open emergencies' ages, and nothing else
                sync["active_minute"] = minute
                active = open_emergencies(runtime, store, active_incidents(store, query), lang, now)
                return answer(sync=sync, active=features_from_active(active),
                              active_panel=active_panel(active, lang, clickable=True))
            sync["active_minute"] = minute
            # counters, the open emergencies and the list come from small queries
            open_rows = active_incidents(store, query)  # read once: the counters and the open emergencies
            head = headline_from_store(store, query, now, open_rows)
            active = open_emergencies(runtime, store, open_rows, lang, now)
            recent = store.incidents(replace(query, limit=LIST_ROWS))
            simulated = runtime.is_simulated() if delta.whole is not None and default_view else None
        except StoreUnavailable:
            last = live.down(sync, cache, last_key, may_recall=default_view)
            if last is not None:  # opened while the store is down: the last good data, said to be so
                sync["key"] = key
                status = f"{t('updated', lang)} {local_time(last['at'], tz, '%H:%M:%S')} {runtime.zone}"
                shown = last.get("active") or []
                return answer(bulk=last["bulk"], format="geobuf", new=EMPTY, active=features_from_active(shown),
                              active_panel=active_panel(shown, lang, clickable=True),
                              counters=counters(Headline(*last["head"]), lang), list=list_options(last["rows"]),
                              sync=sync, status=status,
                              banner=t("store_down", lang, time=data_time(last["at"], now, tz)),
                              viewport=fit(last["bounds"] or region_bounds(LayerContext(runtime, lang))), resize=now)
            shown_at = sync.get("ok_at") or sync.get("cached_at")
            return answer(sync=sync, banner=t("store_down", lang, time=data_time(shown_at, now, tz)))
        ctx = LayerContext(runtime, lang)
        locked = bool(lock)
        out: dict[str, Any] = {}
        whole = delta.whole
        if whole is not None:  # the bulk layer again; the new incidents' layer empties
            out.update(bulk=whole.data, format="geobuf", new=EMPTY, resize=now)
            if not locked and sync.get("key") != key:
                out["viewport"] = fit(whole.bounds or region_bounds(ctx))
        else:
            new_features = features_from_incidents(delta.new) if delta.new is not None else []
            fresh = Patch()
            fresh["features"].extend(new_features)
            out["new"] = fresh
            if not locked and new_features and outside(new_features, view):
                # widen the view just enough to take in the new incidents
                out["viewport"] = fit(union_bounds(bounds_of(delta.new), view))
        rows = list_rows(recent, runtime.names, tz, lang)
        sync = live.sent(sync, delta, key, now)
        if whole is not None and default_view:
            remember(cache, last_key, {"at": now, "bulk": whole.data, "head": plain_headline(head), "rows": rows,
                                       "bounds": whole.bounds, "simulated": simulated, "active": active})
        status = f"{t('updated', lang)} {local_time(now, tz, '%H:%M:%S')} {runtime.zone}"
        # the header settles (clock, wrapped title) after Leaflet measured the map: re-measure before any fit
        return answer(**out, counters=counters(head, lang), list=list_options(rows), sync=sync, status=status,
                      banner="", active=features_from_active(active),
                      active_panel=active_panel(active, lang, clickable=True))


def register_selection(cb: Callbacks, runtime: Runtime, responders: Layer | None) -> None:
    """Picking an incident, on the map or in the list: the ring, its details and its nearest available units."""
    # one thing is selected at a time: picking an incident drops the unit (and its track), and the reverse
    @cb.callback(
        Output(ids.PICKED, "data", allow_duplicate=True),
        Output(ids.UNIT_PICKED, "data", allow_duplicate=True),
        Input(layer_id("incidents"), "clickData"),
        Input(layer_id(NEW_LAYER), "clickData"),
        Input(layer_id(ACTIVE_LAYER), "clickData"),
        prevent_initial_call=True,
    )
    def pick_on_map(bulk_click: dict[str, Any] | None, new_click: dict[str, Any] | None,
                    active_click: dict[str, Any] | None) -> Any:
        clicked = {layer_id(NEW_LAYER): new_click, layer_id(ACTIVE_LAYER): active_click}.get(
            str(callback_context.triggered_id), bulk_click)
        props = (clicked or {}).get("properties") or {}
        if "id" not in props or props.get("cluster"):
            raise PreventUpdate
        return int(props["id"]), None

    @cb.callback(
        Output(ids.PICKED, "data", allow_duplicate=True),
        Output(ids.UNIT_PICKED, "data", allow_duplicate=True),
        Input({"type": ROW, "id": ALL}, "n_clicks"),
        Input({"type": ACTIVE_ROW, "id": ALL}, "n_clicks"),
        prevent_initial_call=True,
    )
    def pick_in_list(_clicks: list[int | None], _active_clicks: list[int | None]) -> Any:
        trigger = callback_context.triggered[0] if callback_context.triggered else {}
        if not trigger.get("value"):  # rows re-rendered, nobody clicked
            raise PreventUpdate
        return int(callback_context.triggered_id["id"]), None

    @cb.callback(
        Output(ids.MAP, "viewport", allow_duplicate=True),
        Output(ids.SELECTED, "center"),
        Output(ids.SELECTED, "pathOptions"),
        Output(ids.DETAILS, "children"),
        Output(ids.NEAREST_LINES, "data"),
        Input(ids.PICKED, "data"),
        State("ops-config", "data"),
        prevent_initial_call=True,
    )
    def select(incident_id: int | None, config: dict[str, Any]) -> tuple:
        lang = (config or {}).get("lang", runtime.settings.lang)
        if incident_id is None:  # a unit was picked instead: no ring, no lines, the hint
            return no_update, no_update, {**RING, "opacity": 0}, t("pick_incident", lang), EMPTY_LINES
        try:
            found = runtime.store.incidents(IncidentQuery(ids=(int(incident_id),)))
        except StoreUnavailable as exc:
            raise PreventUpdate from exc
        if found.empty:
            raise PreventUpdate
        row = next(found.itertuples(index=False))
        details = html.Table([html.Tr([html.Th(label), html.Td(value)])
                              for label, value in incident_details(row, runtime.names, runtime.settings.tz, lang)],
                             className="details-table")
        if pd.isna(row.lat):  # no location: details only, the ring hides
            near = nearest_section(None, lang, t("nearest_no_location", lang)) if responders else None
            return no_update, no_update, {**RING, "opacity": 0}, [details, near], EMPTY_LINES
        center = [float(row.lat), float(row.lon)]
        lines: Any = EMPTY_LINES
        near = None
        if responders is not None:
            try:
                features = responders.data(LayerContext(runtime, lang), View(IncidentQuery(), int(time.time())))
            except StoreUnavailable:
                near = nearest_section(None, lang, t("nearest_store_down", lang))
            else:
                needs = runtime.settings.dispatch_kinds.get(str(row.category), ())
                nearest = nearest_available(features["features"], center[0], center[1], kinds=needs)
                near = nearest_section(nearest, lang, needs=needs)
                lines = lines_to_units(center[0], center[1], nearest, features["features"])
        # never closer than the zoom where the map still says where this is (issue 18)
        zoom = runtime.settings.int("NTPD_SELECT_ZOOM")
        view: dict[str, Any] = {"center": center, "zoom": zoom, "transition": "flyTo"}
        if lines is not EMPTY_LINES and lines["features"]:
            # the dispatcher sees the incident and its nearest available unit together
            lon, lat = lines["features"][0]["geometry"]["coordinates"][-1]
            box = [[min(center[0], lat), min(center[1], lon)], [max(center[0], lat), max(center[1], lon)]]
            view = {"bounds": box, "transition": "flyToBounds", "options": {"padding": [60, 60], "maxZoom": zoom}}
        return view, center, RING, [details, near], lines


def register_map_controls(cb: Callbacks, runtime: Runtime, layers: list[Layer]) -> None:
    """What runs in the browser: desa names from a zoom level, the clock, the legend and the coverage layers
    following the layers control."""
    cb.clientside_callback(
        """function(zoom, hideout) {
            if (!hideout) { return window.dash_clientside.no_update; }
            return Object.assign({}, hideout, {zoom: zoom || 0});
        }""",
        Output(layer_id("desa"), "hideout"),
        Input(ids.MAP, "zoom"),
        State(layer_id("desa"), "hideout"),
    )

    cb.clientside_callback(
        """function(_n, config) {
            return window.ntpdClock ? window.ntpdClock(config) : "";
        }""",
        Output(ids.CLOCK, "children"),
        Input(ids.TICK, "n_intervals"),
        State("ops-config", "data"),
    )

    # a layer's legend block shows while the layer is switched on (coverage and towers start off)
    explained = [layer.key for layer in layers if legend_rows(layer, runtime.settings.lang)]
    if explained:
        cb.clientside_callback(
            """function(overlays, keys) {
                var on = {};
                (overlays || []).forEach(function (name) { if (keys && keys[name]) { on[keys[name]] = true; } });
                return __KEYS__.map(function (key) { return !on[key]; });
            }""".replace("__KEYS__", json.dumps(explained)),
            *[Output(legend_block_id(key), "hidden") for key in explained],
            Input(layers_control_id(ids.MAP), "overlays"),
            State("ops-layer-keys", "data"),
        )

    # the coverage layers (signal per desa, towers) are loaded once one of them is switched on
    under = [layer.key for layer in layers if getattr(layer, "underlay", False)]
    if under:
        cb.clientside_callback(
            """function(overlays, keys, shown) {
                var on = (overlays || []).some(function (name) { return __KEYS__.indexOf(keys[name]) >= 0; });
                return on === shown ? window.dash_clientside.no_update : on;
            }""".replace("__KEYS__", json.dumps(under)),
            Output(ids.COV_ON, "data"),
            Input(layers_control_id(ids.MAP), "overlays"),
            State("ops-layer-keys", "data"),
            State(ids.COV_ON, "data"),
        )


def register_responders(cb: Callbacks, runtime: Runtime, responders: Layer) -> None:
    """The responders on the ops map: the layer follows the store; a click on a unit shows its panel and its
    last 30 minutes of track; the panel's buttons set its status, which the layer shows at once."""
    buttons = [f"{ids.UNIT_STATUS_PREFIX}{s}" for s in UnitStatus]
    layer = layer_id(responders.key)

    def layer_data(now: int) -> dict[str, Any]:
        return responders.data(LayerContext(runtime), View(IncidentQuery(), now))

    @cb.callback(
        Output(layer, "data"),
        Output(ids.RESPONDER_SIG, "data"),
        Input(ids.TICK, "n_intervals"),
        State(ids.RESPONDER_SIG, "data"),
    )
    def refresh_responders(_tick: Any, signature: str | None) -> tuple:
        try:
            data = layer_data(int(time.time()))
        except StoreUnavailable as exc:  # the incidents refresh says so in the banner; the units stay drawn
            raise PreventUpdate from exc
        new_sig = drawn_signature(data)
        if new_sig == signature:
            raise PreventUpdate
        return data, new_sig

    @cb.callback(
        Output(ids.UNIT_PICKED, "data", allow_duplicate=True),
        Output(ids.PICKED, "data", allow_duplicate=True),
        Input(layer, "clickData"),
        prevent_initial_call=True,
    )
    def pick_unit(click: dict[str, Any] | None) -> tuple:
        device = ((click or {}).get("properties") or {}).get("device")
        if not device:
            raise PreventUpdate
        return device, None

    @cb.callback(
        Output(ids.UNIT_PICKED, "data", allow_duplicate=True),
        Input(ids.UNIT_CLOSE, "n_clicks"),
        prevent_initial_call=True,
    )
    def close_unit(clicks: int | None) -> Any:
        if not clicks:
            raise PreventUpdate
        return None

    # Callbacks answer in any order: a refresh of the panel asked for on a tick just before the dispatcher
    # picked an incident can arrive after the "nothing picked" answer. What shows therefore follows the
    # selection in the browser: the panel only while a unit is picked, the track only of the picked unit.
    cb.clientside_callback(
        """function(picked, _info, raw) {
            var track = {type: "FeatureCollection", features: []};
            if (picked && raw && raw.features) {
                track.features = raw.features.filter(function (f) { return f.properties.device === picked; });
            }
            return [picked ? "unit-panel" : "unit-panel hidden", track];
        }""",
        Output(ids.UNIT_PANEL, "className"),
        Output(ids.TRACK, "data"),
        Input(ids.UNIT_PICKED, "data"),
        Input(ids.UNIT_INFO, "children"),
        Input(ids.TRACK_RAW, "data"),
    )

    @cb.callback(
        Output(ids.UNIT_INFO, "children"),
        *[Output(b, "className") for b in buttons],
        Output(ids.TRACK_RAW, "data"),
        Output(ids.UNIT_SIG, "data"),
        Output(ids.UNIT_MSG, "children", allow_duplicate=True),
        Input(ids.UNIT_PICKED, "data"),
        Input(ids.TICK, "n_intervals"),
        Input(ids.UNIT_REV, "data"),
        State(ids.UNIT_SIG, "data"),
        State("ops-config", "data"),
        prevent_initial_call=True,
    )
    def show_unit(device: str | None, _tick: Any, _rev: Any, signature: str | None,
                  config: dict[str, Any]) -> tuple:
        lang = (config or {}).get("lang", runtime.settings.lang)
        picked = callback_context.triggered_id == ids.UNIT_PICKED
        message: Any = "" if picked else no_update  # a new selection clears the last status message
        if not device:
            if not picked:
                raise PreventUpdate
            return [], *status_buttons(None), EMPTY_LINES, "", message
        now = int(time.time())
        store = runtime.store
        try:
            units, latest = store.units(), store.latest_positions()
            track = store.track(device, now - TRACK_S)
        except StoreUnavailable:
            if signature == "down" and not picked:
                raise PreventUpdate from None
            down = html.Div(t("unit_store_down", lang), className="unit-error")
            return down, *([no_update] * len(buttons)), no_update, "down", message
        info, status, track_data = unit_panel(device, units, latest, track, now,
                                              Staleness.from_settings(runtime.settings), runtime.settings.tz, lang)
        new_sig = hashlib.sha256(json.dumps([device, repr(info), status, track_data]).encode()).hexdigest()
        if new_sig == signature and not picked:
            raise PreventUpdate
        return info, *status_buttons(status), track_data, new_sig, message

    @cb.callback(
        Output(ids.UNIT_MSG, "children", allow_duplicate=True),
        Output(layer, "data", allow_duplicate=True),
        Output(ids.RESPONDER_SIG, "data", allow_duplicate=True),
        Output(ids.UNIT_REV, "data"),
        *[Input(b, "n_clicks") for b in buttons],
        State(ids.UNIT_PICKED, "data"),
        State(ids.UNIT_REV, "data"),
        State("ops-config", "data"),
        prevent_initial_call=True,
    )
    def set_status(*args: Any) -> tuple:
        device, rev, config = args[-3:]
        trigger = callback_context.triggered_id
        clicked = callback_context.triggered[0].get("value") if callback_context.triggered else None
        if not device or not isinstance(trigger, str) or not clicked:
            raise PreventUpdate
        lang = (config or {}).get("lang", runtime.settings.lang)
        status = trigger.removeprefix(ids.UNIT_STATUS_PREFIX)
        now = int(time.time())
        try:
            found = runtime.store.set_unit_status(device, status)
        except StoreUnavailable:
            error = html.Span(t("status_store_down", lang), className="unit-error")
            return error, no_update, no_update, no_update
        except ValueError as exc:
            return html.Span(str(exc), className="unit-error"), no_update, no_update, no_update
        if not found:
            error = html.Span(t("unit_gone", lang, device=device), className="unit-error")
            return error, no_update, no_update, (rev or 0) + 1
        audit.record(runtime.store, audit.request_actor(), "unit.status", device, status=status)
        label = UnitStatus(status).label(lang)
        saved = t("status_saved", lang, status=label, time=local_time(now, runtime.settings.tz, "%H:%M:%S"))
        try:  # the map shows the new status now, not at the next tick
            data: Any = layer_data(now)
            sig: Any = drawn_signature(data)
        except StoreUnavailable:
            data = sig = no_update
        return saved, data, sig, (rev or 0) + 1

    cb.clientside_callback(
        """function(zoom, selected, hideout) {
            // names from a zoom level, and the selected unit ringed: redraw only when either changes
            if (!hideout) { return window.dash_clientside.no_update; }
            var z = zoom || 0, min = hideout.labelZoom || 0;
            if ((z >= min) === ((hideout.zoom || 0) >= min) && (selected || null) === (hideout.selected || null)) {
                return window.dash_clientside.no_update;
            }
            return Object.assign({}, hideout, {zoom: z, selected: selected || null});
        }""",
        Output(layer, "hideout"),
        Input(ids.MAP, "zoom"),
        Input(ids.UNIT_PICKED, "data"),
        State(layer, "hideout"),
    )
