"""The coverage page (/cakupan, issue 7): where a planner marks the signal of each desa and takes the BTS
proposal for Komdigi.

Controls on the left (period, the proposal's downloads, the desa picker, who is signed in); the map in the middle
(desa shaded by their status, towers with their range, the calls a weak signal shows in) with the area out of
tower range per kecamatan beneath it; the picked desa on the right: its status, evidence, survey, audit trail,
and for a signed-in planner the marking form with Undo. Layout only; ntpd_map/callbacks/coverage.py fills it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import dash_leaflet as dl
from dash import dcc, html
from dash.dash_table.Format import Format, Scheme

from layers.base import js
from layers.coverage import EMPTY, STATUS_COLORS, STATUS_ORDER, coverage_layers
from ntpd_map import ids
from ntpd_map.access.identity import coverage_access
from ntpd_map.i18n import t
from ntpd_map.pages.analytics.layout import data_table, default_period
from ntpd_map.pages.common import basemap_layer, coverage_stores, legend, region_bounds, signout_form, simulation_banner
from ntpd_map.views import local_today

if TYPE_CHECKING:
    from dash.development.base_component import Component

    from layers.base import Layer, LayerContext
    from ntpd_map.access.identity import CoverageAccess
    from ntpd_map.pages.page import PageRequest

PATH = "/cakupan"
#: outlines drawn above the shading, in a pane that lets the mouse through to the desa (as on /analitik)
LINE_LAYERS = ("kabkota", "kecamatan")
LINES_PANE = "ntpdcovlines"
#: width of the legend over the map's left side (assets/ntpd.css .cov-legend), kept free when fitting the region
LEGEND_PX = 290
#: how often the page looks for other planners' marks and new towers
REFRESH_S = 30


def desa_options(ctx: LayerContext) -> list[dict[str, str]]:
    """Every desa of the region as 'Desa (Kecamatan)', by name: two desa may share a name."""
    region = ctx.runtime.region
    names = ctx.runtime.names
    rows = sorted(((str(n), names.get(str(k), str(k)), str(c))
                   for c, n, k in zip(region.desa["kode"], region.desa["nama"], region.desa["kode_kec"],
                                      strict=True)), key=lambda r: (r[0].casefold(), r[1]))
    return [{"label": f"{name} ({kec})", "value": code} for name, kec, code in rows]


def coverage_map(ctx: LayerContext, layers: list[Layer]) -> Component:
    """The desa shading (always on: it is the page's subject), towers and weak-signal calls as toggles above it,
    the picked desa's outline, and the kab/kota and kecamatan outlines with names in a pane above everything
    that lets the mouse through."""
    by_key = {layer.key: layer for layer in layers}
    children: list[Component] = basemap_layer(ctx, 0.8)
    children.append(by_key["coverage"].component(ctx))
    toggles = [by_key[k] for k in ("towers", "weak-calls") if k in by_key]
    children.append(dl.LayersControl(
        [dl.Overlay(layer.component(ctx), name=layer.title(ctx.lang), checked=True) for layer in toggles],
        id=f"{ids.COV_MAP}-layers", overlays=[layer.title(ctx.lang) for layer in toggles], position="topright",
        collapsed=False))
    children.append(dl.GeoJSON(id=ids.COV_SELECTED, data=EMPTY, style=js("selectedDesaStyle"), interactive=False))
    lines = [by_key[k].component(ctx) for k in LINE_LAYERS if k in by_key]
    children.append(dl.Pane(lines, name=LINES_PANE, style={"zIndex": 450}))
    children.append(dl.ScaleControl(position="bottomleft", imperial=False))
    (south, west), (north, east) = region_bounds(ctx)
    return dl.Map(children, id=ids.COV_MAP, className="map cov-map", preferCanvas=True, zoomSnap=0.25,
                  attributionControl=False,
                  center=[(south + north) / 2, (west + east) / 2], zoom=9, trackViewport=True,
                  # the region fitted beside the legend (lower left, ``.cov-legend``), not under it
                  viewport={"bounds": [[south, west], [north, east]],
                            "options": {"paddingTopLeft": [LEGEND_PX, 8], "paddingBottomRight": [8, 8]}})


def account_block(access: CoverageAccess, lang: str) -> Component:
    """Who is signed in, and Keluar; for a role that may not mark, that the page is read-only and who may."""
    who = html.Div(t("signed_in_as", lang, name=access.name or "-", role=access.role or "-"), className="cov-who")
    if access.may_edit:
        return html.Div([who, signout_form(lang)], id=ids.COV_ACCOUNT, className="cov-account")
    return html.Div([who, html.Div(t("read_only", lang), className="cov-readonly", id="cov-readonly"),
                     signout_form(lang)], id=ids.COV_ACCOUNT, className="cov-account")


def mark_form(ctx: LayerContext) -> Component:
    """The marking form and Undo, for a session that may mark (hidden until a desa is picked)."""
    lang = ctx.lang
    options: list[dict[str, Any]] = [{"label": html.Span([html.Span(className="swatch square", style={
        "background": STATUS_COLORS[str(s)]}), s.label(lang)]), "value": str(s)} for s in STATUS_ORDER]
    return html.Div([
        html.H3(t("cov_form_title", lang)),
        html.Label(t("cov_status", lang), className="group"),
        dcc.RadioItems(id=ids.COV_FORM_STATUS, options=options, value=None, className="cov-statuses"),
        html.Label(t("cov_form_operators", lang), className="group", htmlFor=ids.COV_FORM_OPERATORS),
        dcc.Input(id=ids.COV_FORM_OPERATORS, type="text", maxLength=200, className="cov-input"),
        html.Label(t("cov_surveyed_on", lang), className="group"),
        dcc.DatePickerSingle(id=ids.COV_FORM_SURVEY, display_format="DD/MM/YYYY", first_day_of_week=1,
                             max_date_allowed=local_today(ctx.runtime.settings.tz).isoformat(), clearable=True,
                             placeholder=t("cov_surveyed_on", lang)),
        html.Label(t("cov_form_evidence", lang), className="group", htmlFor=ids.COV_FORM_EVIDENCE),
        dcc.Textarea(id=ids.COV_FORM_EVIDENCE, maxLength=2000, className="cov-input cov-evidence"),
        html.Div([html.Button(t("cov_save", lang), id=ids.COV_SAVE, n_clicks=0, className="cov-save"),
                  html.Button(t("cov_undo", lang), id=ids.COV_UNDO, n_clicks=0, className="cov-undo",
                              disabled=True)], className="cov-buttons"),
        html.Div(id=ids.COV_UNDO_WHAT, className="cov-undo-what"),
        dcc.Store(id=ids.COV_LATEST, data=None),
    ], id=ids.COV_FORM, className="cov-form hidden")


def kecamatan_columns(lang: str) -> list[dict[str, Any]]:
    def number(decimals: int, scheme: Any = Scheme.fixed) -> Any:
        fmt = Format(precision=decimals, scheme=scheme, nully="-").group(True)
        return fmt.group_delimiter(".").decimal_delimiter(",") if lang == "id" else fmt

    columns: list[dict[str, Any]] = [
        {"id": "nama", "name": t("kecamatan", lang), "type": "text"},
        {"id": "luas_km2", "name": t("col_area", lang), "type": "numeric", "format": number(1)},
        {"id": "terjangkau_km2", "name": t("col_covered", lang), "type": "numeric", "format": number(1)},
        {"id": "tak_terjangkau_km2", "name": t("col_uncovered", lang), "type": "numeric", "format": number(1)},
        {"id": "porsi_tak_terjangkau", "name": t("col_uncovered_share", lang), "type": "numeric",
         "format": number(0, Scheme.percentage)},
    ]
    columns += [{"id": f"desa_{s}", "name": t("col_desa_status", lang, status=s.label(lang)), "type": "numeric"}
                for s in STATUS_ORDER]
    columns.append({"id": "desa_unmarked", "name": t("col_desa_status", lang, status=t("cov_unmarked", lang)),
                    "type": "numeric"})
    return columns


def page(request: PageRequest) -> Component:
    """Read-only unless the signed-in person may mark (planner, admin)."""
    return layout(request.ctx, request.layers, coverage_access())


def layout(ctx: LayerContext, layers: list[Layer], access: CoverageAccess) -> Component:
    lang = ctx.lang
    runtime = ctx.runtime
    tz = runtime.settings.tz
    date_from, date_to = default_period(tz)
    other_lang = "en" if lang == "id" else "id"
    page_layers = [*layers, *coverage_layers()]
    shown = [layer for layer in page_layers if layer.key in ("coverage", "towers", "weak-calls")]
    summary = {"coverage": html.Div(id=ids.COV_SUMMARY, className="legend-note")}

    controls = html.Div([
        html.Label(t("period", lang), className="group"),
        dcc.DatePickerRange(id=ids.COV_RANGE, start_date=date_from.isoformat(), end_date=date_to.isoformat(),
                            max_date_allowed=local_today(tz).isoformat(), display_format="DD/MM/YYYY",
                            first_day_of_week=1, minimum_nights=0, clearable=False,
                            start_date_placeholder_text=t("from", lang), end_date_placeholder_text=t("to", lang)),
        html.Div([
            html.Label(t("cov_proposal", lang), className="group"),
            html.Div(id=ids.COV_PROPOSAL_COUNT, className="cov-note"),
            html.Div([html.Button(t("proposal_xlsx", lang), id=ids.COV_XLSX, n_clicks=0, className="export"),
                      html.Button(t("proposal_csv", lang), id=ids.COV_CSV, n_clicks=0, className="export")],
                     className="cov-exports"),
            html.Div(id=ids.COV_PROPOSAL_MSG, className="cov-error"),
            dcc.Download(id=ids.COV_DOWNLOAD_XLSX),
            dcc.Download(id=ids.COV_DOWNLOAD_CSV),
        ], className="cov-proposal"),
        html.Label(t("cov_pick_desa", lang), className="group", htmlFor=ids.COV_DESA),
        dcc.Dropdown(id=ids.COV_DESA, options=desa_options(ctx), value=None, clearable=True, searchable=True,
                     placeholder=t("cov_pick_desa", lang),
                     labels={"search": t("search", lang), "no_options_found": t("no_desa_found", lang),
                             "clear_search": t("clear", lang), "clear_selection": t("clear", lang)}),
        account_block(access, lang),
    ], className="filters cov-controls")

    kec_table = data_table(
        id=ids.COV_KEC_TABLE, data=[], columns=kecamatan_columns(lang), sort_action="native", page_action="none",
        cell_selectable=True, style_as_list_view=True, style_table={"overflowX": "auto"},
        style_header={"whiteSpace": "normal", "height": "auto", "fontWeight": "700", "backgroundColor": "#f3f4f6",
                      "color": "#111827", "fontSize": "12px", "lineHeight": "1.25"},
        style_cell={"fontFamily": '"DejaVu Sans", "Noto Sans", Arial, sans-serif', "fontSize": "13px",
                    "padding": "4px 6px", "color": "#111827", "whiteSpace": "normal"},
        style_cell_conditional=[{"if": {"column_id": "nama"}, "textAlign": "left", "minWidth": "150px"}],
        css=[{"selector": ".dash-spreadsheet td div", "rule": "font-variant-numeric: tabular-nums;"}],
    )
    panel = html.Div([
        html.Div(t("cov_pick_hint", lang), id=ids.COV_PANEL, className="cov-panel-info"),
        mark_form(ctx) if access.may_edit else None,
        html.Div(id=ids.COV_MSG, className="cov-msg") if access.may_edit else None,
    ], className="side cov-side")
    return html.Div([
        html.Div([
            html.H1(f"{t('coverage_title', lang)} - {runtime.region.name}"),
            simulation_banner(ctx),
            html.A(t("ops_link", lang), href=f"/?lang={lang}", id="cov-ops-link"),
            html.A(t("analytics_link", lang), href=f"/analitik?lang={lang}", id="cov-analytics-link"),
            html.A(t("briefing_link", lang), href=f"/briefing?lang={lang}", id="cov-briefing-link"),
            html.A("Wall", href=f"/wall?lang={lang}"),
            html.A(t("language", lang), href=f"{PATH}?lang={other_lang}"),
        ], className="ops-header cov-header"),
        html.Div(id=ids.COV_DOWN, className="down-banner cov-down"),
        controls,
        html.Div([
            html.Div([coverage_map(ctx, page_layers),
                      html.Div(legend(ctx, shown, shown={"coverage", "towers", "weak-calls"}, extra=summary),
                               id=ids.COV_LEGEND, className="cov-legend")], className="map-wrap cov-map-wrap"),
            html.Div(id=ids.COV_CALLS_NOTE, className="status-line"),
            html.Div([
                html.H2(t("cov_kec_title", lang)),
                html.Div(t("cov_kec_note", lang, m=f"{float(runtime.settings.get('NTPD_TOWER_DEFAULT_RANGE_M')):g}"),
                         className="an-hint"),
                kec_table,
            ], className="an-table-wrap cov-kec"),
        ], className="cov-main"),
        panel,
        dcc.Store(id=ids.COV_CLICKED, data=None),
        *coverage_stores(ctx, REFRESH_S),
    ], className="coverage")
