"""The analytics page (/analitik, issue 5 "On the map"): H3 hexagons coloured by a metric for a period, the
kecamatan priority rankings with every component of their scores, and their export for the Bupati's briefing.

Layout only; the data arrives through ntpd_map/callbacks/analytics.py.
"""

from __future__ import annotations

import warnings
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import dash_leaflet as dl
from dash import dcc, html
from dash.dash_table.DataTable import DataTable

from layers.hexes import HexLayer
from ntpd_map import ids
from ntpd_map.i18n import t
from ntpd_map.pages.common import basemap_layer, region_bounds, simulation_banner
from ntpd_map.views import local_today

if TYPE_CHECKING:
    from dash.development.base_component import Component

    from layers.base import Layer, LayerContext
    from ntpd_map.pages.page import PageRequest

PATH = "/analitik"
QUICK_DAYS = (7, 30, 90)
DEFAULT_DAYS = 30
MAP_METRICS = ("total", "genuine", "misuse_share", "socialisation", "bts")
TABLE_INDICES = ("socialisation", "bts")
LEVELS = ("kecamatan", "desa")
#: boundaries drawn over the hexagons, in their own pane (see ``analytics_map``)
LINE_LAYERS = ("kabkota", "kecamatan")
LINES_PANE = "ntpdlines"
#: the page's font (assets/ntpd.css): DataTable would otherwise set its cells in monospace
TABLE_FONT = '"DejaVu Sans", "Noto Sans", Arial, sans-serif'


def default_period(tz: str, days: int = DEFAULT_DAYS) -> tuple[date, date]:
    """The last ``days`` local dates, today included."""
    today = local_today(tz)
    return today - timedelta(days=days - 1), today


def data_table(**props: Any) -> Component:
    """A dash_table.DataTable (sortable, formatted, the row id in ``active_cell``).

    Dash 4 warns at every construction that DataTable will leave its built-in components in a future major
    version (dash-ag-grid is not a dependency here); requirements.txt pins dash<5, where it stays. The warning is
    silenced for this construction only, by its message, so any other warning still surfaces.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"\s*The dash_table.DataTable will be removed",
                                category=DeprecationWarning)
        return DataTable(**props)


def analytics_map(ctx: LayerContext, layers: list[Layer], res: int) -> Component:
    """The map: hexagons in the overlay pane, kab/kota and kecamatan outlines (with names) above them.

    The outlines live in a pane of their own above the overlay pane, so they stay on top when the hexagons are
    redrawn (a redraw re-adds them, and on one shared canvas re-added paths are painted last), and that pane
    lets the mouse through (CSS ``.leaflet-ntpdlines-pane``), so hovering a hexagon opens its tooltip.
    """
    children: list[Component] = basemap_layer(ctx, 0.8)
    children.append(HexLayer(res).component(ctx))
    lines = [layer.component(ctx) for key in LINE_LAYERS for layer in layers if layer.key == key]
    children.append(dl.Pane(lines, name=LINES_PANE, style={"zIndex": 450}))
    children.append(dl.ScaleControl(position="bottomleft", imperial=False))
    (south, west), (north, east) = region_bounds(ctx)
    return dl.Map(children, id=ids.AN_MAP, className="map an-map", preferCanvas=True, zoomSnap=0.25,
                  attributionControl=False,
                  center=[(south + north) / 2, (west + east) / 2], zoom=9, trackViewport=True,
                  viewport={"bounds": [[south, west], [north, east]], "options": {"padding": [8, 8]}})


def page(request: PageRequest) -> Component:
    return layout(request.ctx, request.layers)


def layout(ctx: LayerContext, layers: list[Layer]) -> Component:
    lang = ctx.lang
    runtime = ctx.runtime
    tz = runtime.settings.tz
    res = runtime.analytics.default_res
    date_from, date_to = default_period(tz)
    other_lang = "en" if lang == "id" else "id"
    level_options = [{"label": t(f"level_{lv}", lang), "value": lv, "disabled": True} for lv in LEVELS]

    controls = html.Div([
        html.Label(t("period", lang), className="group"),
        dcc.DatePickerRange(id=ids.AN_RANGE, start_date=date_from.isoformat(), end_date=date_to.isoformat(),
                            max_date_allowed=local_today(tz).isoformat(), display_format="DD/MM/YYYY",
                            first_day_of_week=1, minimum_nights=0, clearable=False,
                            start_date_placeholder_text=t("from", lang), end_date_placeholder_text=t("to", lang)),
        html.Div([html.Button(t(f"q_{d}", lang), id=getattr(ids, f"AN_QUICK_{d}"), n_clicks=0,
                              className="quick") for d in QUICK_DAYS], className="quick-row"),
        html.Label(t("map_metric", lang), className="group"),
        dcc.RadioItems(id=ids.AN_METRIC, value="total",
                       options=[{"label": t(f"metric_{m}", lang), "value": m} for m in MAP_METRICS]),
        html.Label(t("h3_res", lang), className="group"),
        dcc.RadioItems(id=ids.AN_RES, value=res,
                       options=[{"label": t(f"res_{r}", lang), "value": r} for r in (7, 8, 9)]),
        html.Label(t("table_index", lang), className="group"),
        dcc.RadioItems(id=ids.AN_INDEX, value="socialisation",
                       options=[{"label": t(f"metric_{m}", lang), "value": m} for m in TABLE_INDICES]),
        html.Label(t("level", lang), className="group"),
        dcc.RadioItems(id=ids.AN_LEVEL, value="kecamatan", options=level_options),
    ], className="filters an-controls")

    table = data_table(
        id=ids.AN_TABLE, data=[], columns=[], sort_action="native", sort_by=[], page_action="none",
        cell_selectable=True, style_as_list_view=True,
        style_table={"overflowX": "auto"},
        style_header={"whiteSpace": "normal", "height": "auto", "fontWeight": "700", "backgroundColor": "#f3f4f6",
                      "color": "#111827", "fontSize": "12px", "lineHeight": "1.25", "minWidth": "90px"},
        style_cell={"fontFamily": TABLE_FONT, "fontSize": "13px", "padding": "4px 6px", "color": "#111827",
                    "minWidth": "90px", "maxWidth": "220px", "whiteSpace": "normal"},
        style_cell_conditional=[
            {"if": {"column_id": "nama"}, "textAlign": "left", "minWidth": "150px"},
            *({"if": {"column_id": c}, "textAlign": "left"} for c in ("kode", "kecamatan", "status_sinyal")),
        ],
        css=[{"selector": ".dash-spreadsheet td div", "rule": "font-variant-numeric: tabular-nums;"}],
    )
    return html.Div([
        html.Div([
            html.H1(f"{t('analytics_title', lang)} - {runtime.region.name}"),
            simulation_banner(ctx),
            html.A(t("ops_link", lang), href=f"/?lang={lang}", id="an-ops-link"),
            html.A("Wall", href=f"/wall?lang={lang}"),
            html.A(t("coverage_link", lang), href=f"/cakupan?lang={lang}", id="an-coverage-link"),
            html.A(t("briefing_link", lang), href=f"/briefing?lang={lang}", id="an-briefing-link"),
            html.A(t("language", lang), href=f"{PATH}?lang={other_lang}"),
        ], className="ops-header an-header"),
        html.Div(id=ids.AN_DOWN, className="down-banner an-down"),
        controls,
        html.Div([
            html.Div([analytics_map(ctx, layers, res), html.Div(id=ids.AN_LEGEND, className="legend an-legend")],
                     className="map-wrap an-map-wrap"),
            html.Div(id=ids.AN_STATUS, className="status-line"),
            html.Div([
                html.Div([
                    html.H2(id=ids.AN_TABLE_TITLE),
                    html.Button(t("export_csv", lang), id=ids.AN_CSV, n_clicks=0, className="export"),
                    html.Button(t("export_xlsx", lang), id=ids.AN_XLSX, n_clicks=0, className="export"),
                    dcc.Download(id=ids.AN_DOWNLOAD_CSV),
                    dcc.Download(id=ids.AN_DOWNLOAD_XLSX),
                ], className="an-table-head"),
                html.Div(t("hint_click_row", lang), className="an-hint"),
                table,
                html.Div(id=ids.AN_FOOTNOTE, className="an-footnote"),
            ], className="an-table-wrap"),
        ], className="an-main"),
        # a planning page: it follows new data, but need not poll as often as the operations page
        dcc.Interval(id=ids.AN_TICK, interval=runtime.settings.int("NTPD_REFRESH_SECONDS") * 6 * 1000),
        dcc.Store(id=ids.AN_SYNC, data={}),
        dcc.Store(id=ids.AN_VERSION, data=None),
        dcc.Store(id=ids.AN_CONFIG, data={"lang": lang}),
    ], className="analytics")
