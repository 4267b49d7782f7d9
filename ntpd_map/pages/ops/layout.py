"""The operations page: filters on the left, the map in the middle, counters and the incident list right."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import dash_leaflet as dl
from dash import dcc, html

from layers.base import js
from layers.responders import EMPTY
from ntpd_map import ids
from ntpd_map.domain import AgencyKind, CallType, Category, Outcome, UnitStatus
from ntpd_map.i18n import t
from ntpd_map.pages.common import alert_parts, coverage_stores, leaflet_map, legend, simulation_banner
from ntpd_map.pages.live import last_good_key, offline_context
from ntpd_map.store.model import StoreUnavailable
from ntpd_map.views import local_today

if TYPE_CHECKING:
    from dash.development.base_component import Component

    from layers.base import Layer, LayerContext
    from ntpd_map.pages.page import PageRequest

WINDOW_CHOICES = ("1h", "6h", "24h", "7d", "30d", "custom")


#: the noise calls an operator logs with one key (issue 19): nothing but the time is needed for them
NOISE_KEYS = (("1", CallType.PRANK), ("2", CallType.GHOST), ("3", CallType.DROPPED), ("4", CallType.WRONG_NUMBER),
              ("5", CallType.INFO), ("6", CallType.TEST))


def log_call_bar(lang: str) -> Component:
    """"Catat panggilan": one button per kind of noise call, each with its key (assets/ntpd.js presses it when
    the key is typed anywhere but in a field), and a line saying what was saved."""
    def key_of(key: str) -> dict[str, Any]:
        return {"data-key": key}

    buttons = [html.Button([html.Kbd(key), call_type.label(lang)], id={"type": ids.LOG_CALL, "ct": str(call_type)},
                           n_clicks=0, className="log-call", **key_of(key))
               for key, call_type in NOISE_KEYS]
    return html.Div([html.B(t("log_call", lang)), html.Div(buttons, className="log-call-buttons"),
                     html.Div(id=ids.LOG_CALL_STATUS, className="log-call-status", role="status")],
                    className="log-call-bar")


def page(request: PageRequest) -> Component:
    """The page for the router. Built without the store, except whether the data is simulated: while the store
    is down that comes from the last good data, and the refresh draws it (pages/live.py)."""
    try:
        return layout(request.ctx, request.layers)
    except StoreUnavailable:
        ctx = request.ctx
        key = last_good_key("ops", ctx.runtime.settings.region, ctx.lang)
        return layout(offline_context(ctx.runtime, request.cache, ctx.lang, key), request.layers)


def layout(ctx: LayerContext, layers: list[Layer]) -> Component:
    lang = ctx.lang
    region = ctx.runtime.region
    kec_options = [{"label": n, "value": k} for k, n in
                   sorted(zip(region.kecamatan["kode"], region.kecamatan["nama"], strict=True), key=lambda x: x[1])]
    other_lang = "en" if lang == "id" else "id"
    filters = html.Div([
        html.Label(t("window", lang), className="group"),
        dcc.RadioItems(id=ids.WINDOW, value="24h",
                       options=[{"label": t(f"w_{w}", lang), "value": w} for w in WINDOW_CHOICES]),
        # Monday first and nothing after today, as on every other page (issue 18)
        dcc.DatePickerRange(id=ids.CUSTOM_RANGE, display_format="DD/MM/YYYY", clearable=True, first_day_of_week=1,
                            max_date_allowed=local_today(ctx.runtime.settings.tz).isoformat(),
                            start_date_placeholder_text=t("from", lang), end_date_placeholder_text=t("to", lang)),
        html.Label(t("call_type", lang), className="group"),
        dcc.Checklist(id=ids.CALL_TYPES, value=[],
                      options=[{"label": c.label(lang), "value": str(c)} for c in CallType]),
        html.Label(t("category", lang), className="group"),
        dcc.Dropdown(id=ids.CATEGORIES, multi=True, placeholder=t("all", lang),
                     options=[{"label": c.label(lang), "value": str(c)} for c in Category]),
        html.Label(t("outcome", lang), className="group"),
        dcc.Dropdown(id=ids.OUTCOMES, multi=True, placeholder=t("all", lang),
                     options=[{"label": o.label(lang), "value": str(o)} for o in Outcome]),
        html.Label(t("agency", lang), className="group"),
        dcc.Dropdown(id=ids.AGENCIES, multi=True, placeholder=t("all", lang),
                     options=[{"label": a.label(lang), "value": str(a)} for a in AgencyKind]),
        html.Label(t("kecamatan", lang), className="group"),
        dcc.Dropdown(id=ids.KECAMATAN, multi=True, placeholder=t("all", lang), options=kec_options),
        html.Label(" ", className="group"),
        dcc.Checklist(id=ids.LOCK, value=[], options=[{"label": t("lock_view", lang), "value": "lock"}]),
    ], className="filters")

    incident_list = html.Div(id=ids.LIST, className="incident-list")
    # the selected unit: shown while one is picked on the map; the status buttons are always in the layout, so
    # their callback never fires because a panel was drawn
    unit_panel = html.Div([
        html.Div([html.B(t("unit_title", lang)),
                  html.Button("×", id=ids.UNIT_CLOSE, title=t("close", lang), className="unit-close", n_clicks=0)],
                 className="unit-head"),
        html.Div(id=ids.UNIT_INFO),
        html.Div(t("set_status", lang), className="unit-set"),
        html.Div([html.Button(s.label(lang), id=f"{ids.UNIT_STATUS_PREFIX}{s}", n_clicks=0, className="unit-status")
                  for s in UnitStatus], className="unit-statuses"),
        html.Div(id=ids.UNIT_MSG, className="unit-msg"),
    ], id=ids.UNIT_PANEL, className="unit-panel hidden")
    return html.Div([
        html.Div([
            html.H1(f"{t('app_title', lang)} - {region.name}"),
            simulation_banner(ctx),
            html.A(t("language", lang), href=f"/?lang={other_lang}"),
            html.A("Wall", href=f"/wall?lang={lang}"),
            html.A(t("analytics_link", lang), href=f"/analitik?lang={lang}", id="ops-analytics-link"),
            html.A(t("coverage_link", lang), href=f"/cakupan?lang={lang}", id="ops-coverage-link"),
            html.A(t("briefing_link", lang), href=f"/briefing?lang={lang}", id="ops-briefing-link"),
            html.Span(id=ids.CLOCK, className="clock"),
        ], className="ops-header"),
        filters,
        html.Div([
            html.Div(id=ids.DOWN_BANNER, className="down-banner"),
            leaflet_map(ids.MAP, ctx, layers, extra=[
                # the selected incident: a yellow ring drawn above everything, moved by the select callback
                dl.CircleMarker(id=ids.SELECTED, center=[0, 0], radius=20, interactive=False,
                                pathOptions={"color": "#facc15", "weight": 5, "opacity": 0, "fill": False}),
                # the selected unit's last 30 minutes, and lines from the selected incident to its nearest units
                dl.GeoJSON(id=ids.TRACK, data=EMPTY, style=js("trackStyle"), interactive=False),
                dl.GeoJSON(id=ids.NEAREST_LINES, data=EMPTY, style=js("nearestStyle"), interactive=False),
            ]),
            legend(ctx, layers, extra={"coverage": html.Div(id=ids.COV_SUMMARY, className="legend-note")},
                   hatched={"coverage"}),  # beneath the incidents: hatched, the hues are the categories'
            *alert_parts(lang, ackable=True),  # over the top of the map, never over the SIMULASI label
        ], className="map-wrap"),
        html.Div([
            html.Div(id=ids.COUNTERS, className="counters"),
            log_call_bar(lang),
            # the open emergencies first, oldest on top (issue 18); a row selects its incident on the map
            html.Div(id=ids.OPS_ACTIVE, className="active-panel"),
            unit_panel,
            html.Div([html.B(t("details", lang)), html.Div(t("pick_incident", lang), id=ids.DETAILS)],
                     className="details"),
            html.Div(t("incident_list", lang), className="list-title"),
            incident_list,
            html.Div(id=ids.STATUS, className="status-line"),
        ], className="side"),
        dcc.Interval(id=ids.TICK, interval=ctx.runtime.settings.int("NTPD_REFRESH_SECONDS") * 1000),
        dcc.Store(id=ids.SYNC, data={}),
        dcc.Store(id=ids.PICKED, data=None),
        dcc.Store(id=ids.RESPONDER_SIG, data=""),
        dcc.Store(id=ids.UNIT_PICKED, data=None),
        dcc.Store(id=ids.UNIT_REV, data=0),
        dcc.Store(id=ids.UNIT_SIG, data=""),
        dcc.Store(id=ids.TRACK_RAW, data=None),
        dcc.Store(id="ops-config", data={"tz": ctx.runtime.settings.tz, "lang": lang}),
        # layer title -> key, for the legend blocks that follow the layers control
        dcc.Store(id="ops-layer-keys", data={layer.title(lang): layer.key for layer in layers}),
        # coverage and towers start switched off: loaded when a dispatcher switches one on
        *coverage_stores(ctx, shown=any(layer.default_visible for layer in layers
                                        if getattr(layer, "underlay", False))),
    ], className="ops")
