"""The briefing for the Bupati (/briefing, issue 9): one period of the 112 service on one page, laid out like
the printed report (the PDF is the real print).

Top to bottom: the period chooser (month, quarter or custom dates) with the downloads; the headline numbers with
their change against the period before; handling per agency; the kecamatan map coloured by a chosen metric and
the table of every kecamatan; the weekly trend; where to socialise 112 and where to propose a BTS, with reasons;
the Dinas's notes (written by planners and admins, read by operators).

Layout only, and built without the store, so the page stands even while the database is down (it says so);
ntpd_map/callbacks/briefing.py fills it from ``ntpd_map.briefing.build``.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import dash_leaflet as dl
from dash import dcc, html

from layers.choropleth import METRICS, TITLES, KecamatanChoropleth
from ntpd_map import ids
from ntpd_map.access.roles import can_edit_briefing_notes
from ntpd_map.briefing import NOTES_MAX, PERIOD_KINDS, Period, default_period
from ntpd_map.i18n import t
from ntpd_map.pages.common import BOUNDARY_CREDIT, region_bounds
from ntpd_map.views import local_today

if TYPE_CHECKING:
    from dash.development.base_component import Component

    from layers.base import Layer, LayerContext
    from ntpd_map.pages.page import PageRequest

PATH = "/briefing"
#: how far back the month and quarter lists reach (a custom range reaches anywhere)
MONTHS_BACK = 36
QUARTERS_BACK = 12
#: the map's height in pixels (also the legend's room)
MAP_HEIGHT = 520


def month_options(today: date, lang: str, also: Period | None = None) -> list[dict[str, str]]:
    """The months up to this one, newest first (and ``also``'s month when it is older)."""
    periods, year, month = [], today.year, today.month
    for _ in range(MONTHS_BACK):
        periods.append(Period.month(year, month))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    if also is not None and also.kind == "month" and also not in periods:
        periods.append(also)
    return [{"label": p.label(lang), "value": p.key} for p in sorted(periods, key=lambda p: p.first, reverse=True)]


def quarter_options(today: date, lang: str, also: Period | None = None) -> list[dict[str, str]]:
    """The quarters up to this one, newest first (and ``also``'s quarter when it is older)."""
    periods, current = [], Period.quarter(today.year, (today.month - 1) // 3 + 1)
    for _ in range(QUARTERS_BACK):
        periods.append(current)
        current = current.previous()
    if also is not None and also.kind == "quarter" and also not in periods:
        periods.append(also)
    return [{"label": p.label(lang), "value": p.key} for p in sorted(periods, key=lambda p: p.first, reverse=True)]


def period_from_search(search: str | None, tz: str, lang: str) -> tuple[Period, str | None]:
    """The period of ``/briefing?period=...`` (default: the last complete month in the center's zone), and a
    message when the one asked for cannot be read (the default is shown instead)."""
    fallback = default_period(local_today(tz))
    asked = parse_qs((search or "").lstrip("?")).get("period", [])
    if not asked:
        return fallback, None
    try:
        return Period.parse(asked[0]), None
    except ValueError:
        return fallback, t("brief_bad_period", lang, text=asked[0][:40])


def briefing_map(ctx: LayerContext, layers: list[Layer]) -> Component:
    """The kecamatan choropleth with the kab/kota outline above it, drawn as SVG (a few dozen polygons; crisp
    in a print of the page), without a basemap: the shading is the subject."""
    children: list[Component] = [KecamatanChoropleth().component(ctx)]
    children += [layer.component(ctx) for layer in layers if layer.key == "kabkota"]
    children.append(dl.ScaleControl(position="bottomleft", imperial=False))
    children.append(dl.AttributionControl(prefix=BOUNDARY_CREDIT, position="bottomright"))
    (south, west), (north, east) = region_bounds(ctx)
    return dl.Map(children, id=ids.BR_MAP, attributionControl=False, className="map br-map", preferCanvas=False,
                  zoomSnap=0.25,
                  center=[(south + north) / 2, (west + east) / 2], zoom=9, scrollWheelZoom=False,
                  viewport={"bounds": [[south, west], [north, east]], "options": {"padding": [10, 10]}})


def page(request: PageRequest) -> Component:
    """Built without the store; the notes are editable for planners and admins only."""
    ctx = request.ctx
    period, notice = period_from_search(request.search, ctx.runtime.settings.tz, ctx.lang)
    return layout(ctx, request.layers, period, can_edit_briefing_notes(request.role), notice)


def layout(ctx: LayerContext, layers: list[Layer], period: Period, may_edit: bool,
           notice: str | None = None) -> Component:
    """The page for ``period`` (its controls set to it). ``may_edit``: the Dinas's notes can be saved (planner,
    admin). ``notice``: a message shown under the chooser (a period in the URL that could not be read)."""
    lang = ctx.lang
    runtime = ctx.runtime
    region = runtime.region
    today = local_today(runtime.settings.tz)
    default_month = period if period.kind == "month" else Period.month(period.last.year, period.last.month)
    default_quarter = period if period.kind == "quarter" else Period.quarter(
        period.last.year, (period.last.month - 1) // 3 + 1)
    kind_label = {"month": t("brief_month", lang), "quarter": t("brief_kind_quarter", lang),
                  "custom": t("brief_custom", lang)}

    chooser = html.Div([
        html.Label(t("brief_choose", lang), className="group"),
        dcc.RadioItems(id=ids.BR_KIND, value=period.kind, inline=True, className="br-kinds",
                       options=[{"label": kind_label[k], "value": k} for k in PERIOD_KINDS]),
        html.Div(dcc.Dropdown(id=ids.BR_MONTH, options=month_options(today, lang, default_month),
                              value=default_month.key, clearable=False, searchable=True),
                 id=ids.BR_MONTH_WRAP, className="br-pick" + ("" if period.kind == "month" else " hidden")),
        html.Div(dcc.Dropdown(id=ids.BR_QUARTER, options=quarter_options(today, lang, default_quarter),
                              value=default_quarter.key, clearable=False, searchable=True),
                 id=ids.BR_QUARTER_WRAP,
                 className="br-pick" + ("" if period.kind == "quarter" else " hidden")),
        html.Div(dcc.DatePickerRange(id=ids.BR_RANGE, start_date=period.first.isoformat(),
                                     end_date=period.last.isoformat(), display_format="DD/MM/YYYY",
                                     first_day_of_week=1, minimum_nights=0, clearable=False,
                                     max_date_allowed=local_today(ctx.runtime.settings.tz).isoformat(),
                                     start_date_placeholder_text=t("from", lang),
                                     end_date_placeholder_text=t("to", lang)),
                 id=ids.BR_RANGE_WRAP, className="br-pick" + ("" if period.kind == "custom" else " hidden")),
        html.Div(notice or "", id=ids.BR_PERIOD_MSG, className="br-error"),
        html.Div([
            html.A(t("brief_pdf", lang), id=ids.BR_PDF, className="br-download", href="#"),
            html.A(t("brief_xlsx", lang), id=ids.BR_XLSX, className="br-download", href="#"),
        ], className="br-downloads"),
    ], className="br-controls")

    def section(title: str | None, *children: Any, cls: str = "") -> Component:
        return html.Section([html.H3(title) if title else None, *children], className=f"br-section {cls}".strip())

    def table_box(box_id: str) -> Component:
        return html.Div(id=box_id, className="br-table-box")

    map_block = html.Div([
        html.Div([
            html.Label(t("brief_map_metric", lang), className="group", htmlFor=ids.BR_MAP_METRIC),
            dcc.RadioItems(id=ids.BR_MAP_METRIC, value=METRICS[0], inline=True, className="br-metrics",
                           options=[{"label": t(TITLES[m], lang), "value": m} for m in METRICS]),
        ], className="br-map-head"),
        html.Div(briefing_map(ctx, layers), className="map-wrap br-map-wrap", style={"height": f"{MAP_HEIGHT}px"}),
        # under the map, not over it: nothing of the region is hidden, and it prints with the map
        html.Div(id=ids.BR_LEGEND, className="br-legend"),
    ], className="br-map-block")

    graph_config: Any = {"displayModeBar": False, "responsive": True}
    notes_block: list[Any] = [
        html.Div(t("brief_notes_hint", lang), className="br-hint"),
        dcc.Textarea(id=ids.BR_NOTES, value="", maxLength=NOTES_MAX, readOnly=not may_edit,
                     className="br-notes" + ("" if may_edit else " readonly"),
                     placeholder="" if may_edit else t("brief_notes_empty", lang)),
    ]
    if may_edit:
        notes_block.append(html.Div([
            html.Button(t("brief_notes_save", lang), id=ids.BR_NOTES_SAVE, n_clicks=0, className="br-save"),
            html.Span(id=ids.BR_NOTES_MSG, className="br-notes-msg"),
        ], className="br-notes-bar"))
    else:
        notes_block.append(html.Div(t("brief_notes_readonly", lang), className="br-hint br-readonly",
                                    id="br-notes-readonly"))

    other_lang = "en" if lang == "id" else "id"
    return html.Div([
        html.Div([
            html.H1(f"{t('briefing_title', lang)} - {region.name}"),
            html.A(t("ops_link", lang), href=f"/?lang={lang}", id="br-ops-link"),
            html.A(t("analytics_link", lang), href=f"/analitik?lang={lang}", id="br-analytics-link"),
            html.A(t("coverage_link", lang), href=f"/cakupan?lang={lang}", id="br-coverage-link"),
            html.A("Wall", href=f"/wall?lang={lang}"),
            html.A(t("language", lang), href=f"{PATH}?lang={other_lang}&period={period.key}", id=ids.BR_LANG_LINK),
        ], className="ops-header br-header"),
        html.Div(id=ids.BR_SIM),
        html.Div(id=ids.BR_DOWN, className="down-banner br-down"),
        html.Div([
            html.Div([
                html.Div([
                    html.H2(t("brief_heading", lang, region=region.name)),
                    html.Div([html.Span(t("brief_period", lang) + ": "), html.B(period.label(lang), id=ids.BR_LABEL)],
                             className="br-period"),
                    html.Div(id=ids.BR_PREVIOUS, className="br-sub"),
                    html.Div(id=ids.BR_PRODUCED, className="br-sub"),
                ], className="br-title"),
                chooser,
            ], className="br-top"),
            section(None, html.Div(id=ids.BR_HEADLINE, className="br-headline")),
            section(t("brief_agencies", lang), html.Div(t("brief_agencies_note", lang), className="br-hint"),
                    table_box(ids.BR_AGENCIES)),
            section(t("brief_kecamatan", lang), html.Div([
                map_block,
                html.Div([table_box(ids.BR_KECAMATAN), html.Div(id=ids.BR_KEC_NOTE, className="br-hint")],
                         className="br-kec-table"),
            ], className="br-kec")),
            section(t("brief_weekly", lang), html.Div([
                dcc.Graph(id=ids.BR_WEEKLY_CALLS, config=graph_config, className="br-graph"),
                dcc.Graph(id=ids.BR_WEEKLY_GENUINE, config=graph_config, className="br-graph"),
            ], className="br-graphs"), html.Div(t("bchart_note", lang), className="br-hint")),
            html.Div([
                section(t("brief_socialisation", lang), table_box(ids.BR_TOP_SOCIALISATION)),
                section(t("brief_bts", lang), table_box(ids.BR_TOP_BTS)),
            ], className="br-two"),
            section(t("brief_notes", lang), *notes_block, cls="br-notes-section"),
        ], className="br-paper"),
        # a report follows new data slowly; the same timer retries while the store is down
        dcc.Interval(id=ids.BR_TICK, interval=runtime.settings.int("NTPD_REFRESH_SECONDS") * 6 * 1000),
        dcc.Store(id=ids.BR_PERIOD, data=period.key),
        dcc.Store(id=ids.BR_SYNC, data={}),
        dcc.Store(id=ids.BR_MAP_DATA, data=None),
        dcc.Store(id=ids.BR_CONFIG, data={"lang": lang}),
    ], className="briefing")
