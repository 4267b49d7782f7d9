"""Briefing page callbacks (issue 9): the chosen period, everything the page shows of it, the map's metric and
the Dinas's notes.

Every figure comes from one ``ntpd_map.briefing.Briefing`` (``build``), the model the PDF and the XLSX print,
whose recap is what ``/api/recap`` answers: the page, the prints, the API and the wall cannot disagree. The work
is done by plain functions (``period_from_controls``, ``page_view``, ``save_page_notes``, ...) that tests call
without a browser; ``register`` only wires them to the page.

The page refreshes on a slow timer when the store's data moved, and a store that stops answering turns into a
banner over the last good view (or over the empty page), retried by the same timer. Saving the notes asks who
is signed in again, server-side: only planners and admins write (``permissions.EDIT_BRIEFING_NOTES_ROLES``).
"""

from __future__ import annotations

import logging
import time
from datetime import date
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from dash import Input, Output, State, callback_context, html, no_update
from dash.exceptions import PreventUpdate

from layers.choropleth import CHOROPLETH_ID, METRICS, hideout_from_values, legend_items
from ntpd_map import audit, ids
from ntpd_map.access.identity import current_identity
from ntpd_map.access.roles import can_edit_briefing_notes
from ntpd_map.briefing import (
    AGENCY_COLUMNS,
    GOOD_WHEN_UP,
    HEADLINE,
    NOTES_MAX,
    Period,
    build,
    change_text,
    save_notes,
)
from ntpd_map.briefing.maps import OKABE_ITO as C
from ntpd_map.fmt import month_short, number
from ntpd_map.i18n import t
from ntpd_map.store.model import StoreUnavailable
from ntpd_map.views import local_time

if TYPE_CHECKING:
    from ntpd_map.briefing import Briefing, Change
    from ntpd_map.pages.page import Callbacks, PageDeps
    from ntpd_map.runtime import Runtime

log = logging.getLogger(__name__)

#: the page's font (assets/ntpd.css), for the charts too
FONT = '"DejaVu Sans", "Noto Sans", Arial, sans-serif'
#: columns of the kecamatan table, in order (``Briefing.kecamatan``); the code stays in the XLSX
KECAMATAN_SHOWN = ("kecamatan", "calls", "genuine", "prank", "ghost_dropped", "resolved", "not_followed_up",
                   "prank_share", "genuine_per_10k")
#: decimals of the float columns of the tables
DECIMALS = {"prank_share": 1, "genuine_per_10k": 2, "score": 1, "dispatch_median": 1, "dispatch_p90": 1,
            "arrival_median": 1, "arrival_p90": 1}
TEXT_COLUMNS = ("agency", "kecamatan", "desa", "reason")


def short_day(day: date, lang: str) -> str:
    """5 Mei / 5 May: a week's first day under a chart's bar."""
    return f"{day.day} {month_short(day.month, lang)}"


# the period -----------------------------------------------------------------------------------------------
def period_from_controls(kind: str | None, month: str | None, quarter: str | None, start: str | None,
                         end: str | None) -> Period:
    """The period the chooser shows: the picked month or quarter, or the custom dates (both included).
    ValueError, saying what is wrong, when it cannot be read."""
    if kind == "month":
        return Period.parse(month or "")
    if kind == "quarter":
        return Period.parse(quarter or "")
    if kind == "custom":
        if not start or not end:
            raise ValueError("pick both dates")
        return Period.custom(date.fromisoformat(str(start)[:10]), date.fromisoformat(str(end)[:10]))
    raise ValueError(f"period kind must be month, quarter or custom, not {kind!r}")


def download_href(fmt: str, period: Period, lang: str) -> str:
    return f"/briefing/{fmt}?{urlencode({'period': period.key, 'lang': lang})}"


# the headline ----------------------------------------------------------------------------------------------
def change_class(key: str, change: Change) -> str:
    """good (green), bad (red), neutral (grey: a change that is neither) or same."""
    if change.delta == 0:
        return "same"
    up_is_good = GOOD_WHEN_UP.get(key)
    if up_is_good is None:
        return "neutral"
    return "good" if (change.delta > 0) == up_is_good else "bad"


def headline_cards(b: Briefing, lang: str) -> list[Any]:
    """One card per headline number: its value, the change against the period before (coloured by whether
    going up is good news), and the value before."""
    cards = []
    for key in HEADLINE:
        change = b.headline[key]
        cards.append(html.Div([
            html.Div(t(f"brief_h_{key}", lang), className="br-card-label"),
            html.Div(number(change.value, lang), className="br-card-value", id=f"br-h-{key}"),
            html.Div(("" if change.delta == 0 else "▲ " if change.delta > 0 else "▼ ") + change_text(change, lang),
                     className=f"br-card-change {change_class(key, change)}",
                     id=f"br-h-{key}-change"),
            html.Div(t("brief_earlier", lang, n=number(change.previous, lang)),
                     className="br-card-prev"),
        ], className=f"br-card br-card-{key}"))
    return cards


# tables ----------------------------------------------------------------------------------------------------
def cell(column: str, value: Any, lang: str) -> str:
    if column in TEXT_COLUMNS:
        return "" if value is None else str(value)
    if value is None or (isinstance(value, float) and value != value):
        return "-"
    return number(float(value), lang, DECIMALS.get(column, 0))


def html_table(columns: list[str], rows: list[dict[str, Any]], lang: str, table_id: str,
               total: dict[str, Any] | None = None, row_key: str | None = None) -> Any:
    """A plain table with the bcol_ headers, numbers right-aligned in the page's language, an optional total
    row in the foot. Each row's ``data-kode`` is its code when ``row_key`` names it."""
    def kind(column: str) -> str:
        return "txt" if column in TEXT_COLUMNS else "num"

    head = html.Thead(html.Tr([html.Th(t(f"bcol_{c}", lang), className=kind(c)) for c in columns]))
    def tr(row: dict[str, Any]) -> Any:
        attrs: dict[str, Any] = {"data-kode": str(row[row_key])} if row_key else {}
        return html.Tr([html.Td(cell(c, row.get(c), lang), className=kind(c)) for c in columns], **attrs)

    body = html.Tbody([tr(row) for row in rows])
    parts = [head, body]
    if total is not None:
        parts.append(html.Tfoot(html.Tr([html.Td(cell(c, total.get(c), lang), className=kind(c))
                                         for c in columns])))
    return html.Table(parts, id=table_id, className="br-table")


def records(frame: Any) -> list[dict[str, Any]]:
    """A DataFrame's rows as plain Python values (NaN -> None)."""
    out = []
    for rec in frame.to_dict("records"):
        out.append({k: (None if isinstance(v, float) and v != v else v.item() if hasattr(v, "item") else v)
                    for k, v in rec.items()})
    return out


def agency_table(b: Briefing, lang: str) -> Any:
    total = b.agency_total(lang)
    return html_table(list(AGENCY_COLUMNS), records(b.agencies()), lang, "br-agency-table", total=total)


def kecamatan_table(b: Briefing, lang: str) -> Any:
    return html_table(list(KECAMATAN_SHOWN), records(b.kecamatan()), lang, "br-kecamatan-table", row_key="kode")


def top_tables(b: Briefing, lang: str) -> tuple[Any, Any]:
    social, bts = records(b.top_socialisation(lang)), records(b.top_bts(lang))
    return (html_table(["rank", "kecamatan", "score", "reason"], social, lang, "br-social-table", row_key="kode")
            if social else html.Div(t("brief_no_socialisation", lang), className="br-hint"),
            html_table(["rank", "desa", "kecamatan", "score", "reason"], bts, lang, "br-bts-table", row_key="kode")
            if bts else html.Div(t("brief_no_bts", lang), className="br-hint"))


# the map ---------------------------------------------------------------------------------------------------
def map_data(b: Briefing, lang: str) -> dict[str, Any]:
    """Each metric's value per kecamatan code, and the lines of each kecamatan's tooltip."""
    kec = records(b.kecamatan())
    score = {str(k): float(v) for k, v in zip(b.socialisation["kode"], b.socialisation["score"], strict=True)}
    values = {
        "genuine_per_10k": {r["kode"]: r["genuine_per_10k"] for r in kec},
        "prank_share": {r["kode"]: r["prank_share"] for r in kec},
        "socialisation": {r["kode"]: score.get(r["kode"]) for r in kec},
    }
    details = {r["kode"]: {t("bcol_calls", lang): number(r["calls"], lang),
                           t("bcol_genuine", lang): number(r["genuine"], lang),
                           t("bcol_not_followed_up", lang): number(r["not_followed_up"], lang)} for r in kec}
    return {"values": values, "details": details}


def map_view(data: dict[str, Any], metric: str, lang: str) -> tuple[dict[str, Any], list[Any]]:
    """The choropleth's hideout for a metric, and its legend."""
    hideout = hideout_from_values(data["values"][metric], metric, lang, data.get("details"))
    legend: list[Any] = [html.B(hideout["labels"]["metric"])]
    for color, label in legend_items(hideout):
        legend.append(html.Div([html.Span(className="swatch square", style={"background": color}), label],
                               className="legend-row"))
    return hideout, legend


# the weekly charts -----------------------------------------------------------------------------------------
def week_ticks(firsts: list[date], lang: str) -> dict[int, str]:
    """Which weeks a chart labels, and how: every week (5 Mei) when there are few; else the first week of
    each month, by the month's name (Mei; with the year in January and at the start), so labels never pile up."""
    if len(firsts) <= 9:
        return {i: short_day(day, lang) for i, day in enumerate(firsts)}
    out: dict[int, str] = {}
    for i, day in enumerate(firsts):
        if i == 0 or day.month != firsts[i - 1].month:
            name = month_short(day.month, lang)
            out[i] = f"{name} {day.year}" if i == 0 or day.month == 1 else name
    return out


def weekly_figures(b: Briefing, lang: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Two stacked bar charts per local week (plotly figures as plain dicts): the calls by kind, and the
    genuine calls by outcome."""
    weeks = records(b.weekly())
    x = [w["week"] for w in weeks]  # unique categories (a custom period may span more than a year)
    spans = [f"{short_day(date.fromisoformat(w['from']), lang)} - {short_day(date.fromisoformat(w['to']), lang)}"
             for w in weeks]
    ticks = week_ticks([date.fromisoformat(w["from"]) for w in weeks], lang)

    def bars(name: str, values: list[int], color: str) -> dict[str, Any]:
        return {"type": "bar", "name": name, "x": x, "y": values, "marker": {"color": color},
                "customdata": spans, "hovertemplate": "%{customdata}: %{y:,}<extra>" + name + "</extra>"}

    # the printed charts' series, names and colours (ntpd_map/briefing/maps.py weekly_png): screen and paper alike

    def column(key: str) -> list[int]:
        return [int(w[key]) for w in weeks]

    other = [w["calls"] - w["genuine"] - w["prank"] - w["ghost_dropped"] for w in weeks]
    calls = [bars(t("brief_h_genuine", lang), column("genuine"), C["blue"]),
             bars(t("brief_h_prank", lang), column("prank"), C["orange"]),
             bars(t("brief_h_ghost_dropped", lang), column("ghost_dropped"), C["sky"]),
             bars(t("bchart_other", lang), other, C["grey"])]
    still_open = [w["genuine"] - w["resolved"] - w["not_followed_up"] for w in weeks]
    genuine = [bars(t("brief_h_resolved", lang), column("resolved"), C["green"]),
               bars(t("brief_h_not_followed_up", lang), column("not_followed_up"), C["vermillion"]),
               bars(t("brief_h_open", lang), still_open, C["yellow"])]

    def figure(title: str, data: list[dict[str, Any]]) -> dict[str, Any]:
        return {"data": data, "layout": {
            "title": {"text": title, "x": 0, "xanchor": "left", "y": 0.97, "yanchor": "top", "font": {"size": 14}},
            "barmode": "stack", "height": 310, "margin": {"l": 44, "r": 10, "t": 76, "b": 28},
            "separators": ",." if lang == "id" else ".,", "font": {"family": FONT, "size": 12, "color": "#111827"},
            "paper_bgcolor": "#ffffff", "plot_bgcolor": "#ffffff", "bargap": 0.25,
            "legend": {"orientation": "h", "x": 0, "y": 1.0, "xanchor": "left", "yanchor": "bottom",
                       "traceorder": "normal"},
            "xaxis": {"type": "category", "tickangle": 0, "automargin": True, "tickvals": [x[i] for i in ticks],
                      "ticktext": [ticks[i] for i in ticks]},
            "yaxis": {"gridcolor": "#e5e7eb", "rangemode": "tozero", "tickformat": ",d", "automargin": True},
        }}

    return (figure(t("bchart_calls", lang), calls), figure(t("bchart_genuine", lang), genuine))


# the whole page --------------------------------------------------------------------------------------------
def page_view(runtime: Runtime, period: Period, lang: str, now: int | None = None) -> dict[str, Any]:
    """Everything the page shows of ``period`` (raises StoreUnavailable)."""
    b = build(runtime, period, now=now)
    tz = runtime.settings.tz
    social, bts = top_tables(b, lang)
    calls_figure, genuine_figure = weekly_figures(b, lang)
    unplaced = int(b.recap["genuine"]["without_location"])
    produced = f"{local_time(b.produced_at, tz, '%d/%m/%Y %H:%M')} {runtime.zone}"
    return {
        "briefing": b,
        "label": period.label(lang),
        "previous": t("brief_previous", lang, period=b.previous.label(lang)),
        "produced": t("brief_produced", lang, time=produced),
        "simulated": (html.Div(t("brief_simulated", lang), className="sim-banner", id="sim-banner")
                      if b.simulated else None),
        "headline": headline_cards(b, lang),
        "agencies": agency_table(b, lang),
        "kecamatan": kecamatan_table(b, lang),
        "kecamatan_note": t("brief_kecamatan_note", lang, n=number(unplaced, lang)) if unplaced else "",
        "map": map_data(b, lang),
        "weekly_calls": calls_figure,
        "weekly_genuine": genuine_figure,
        "socialisation": social,
        "bts": bts,
        "notes": b.notes,
        "pdf": download_href("pdf", period, lang),
        "xlsx": download_href("xlsx", period, lang),
        "lang_link": f"/briefing?{urlencode({'lang': 'en' if lang == 'id' else 'id', 'period': period.key})}",
    }


# the notes -------------------------------------------------------------------------------------------------
def save_page_notes(runtime: Runtime, key: str | None, text: str | None, lang: str) -> tuple[bool, str]:
    """Save the Dinas's notes of a period for the signed-in person. Returns (written, message). Only planners
    and admins write; anyone else's attempt writes nothing and is recorded in the audit log."""
    who = current_identity()
    if who is None:
        return False, t("brief_notes_anonymous", lang)
    try:
        period = Period.parse(key or "")
    except ValueError:
        return False, t("brief_bad_period", lang, text=(key or "")[:40])
    if who.kind != "user" or not can_edit_briefing_notes(who.role):
        log.warning("briefing notes refused: %s (%s) may not write them", who.actor, who.role)
        audit.record(runtime.store, who.actor, "briefing.notes.refused", period.key, role=who.role)
        return False, t("brief_notes_refused", lang, name=who.name, role=who.role)
    text = (text or "").replace("\r\n", "\n").strip()
    if len(text) > NOTES_MAX:
        return False, t("brief_notes_long", lang, max=number(NOTES_MAX, lang), n=number(len(text), lang))
    try:
        save_notes(runtime.store, period, text, who.actor)
    except StoreUnavailable:
        return False, t("brief_notes_down", lang)
    at = f"{local_time(int(time.time()), runtime.settings.tz, '%H:%M:%S')} {runtime.zone}"
    return True, t("brief_notes_saved", lang, time=at)


# wiring ----------------------------------------------------------------------------------------------------
#: what the fill callback writes, in order: (component id, property, key of ``page_view``'s answer)
FILLED = (
    (ids.BR_LABEL, "children", "label"),
    (ids.BR_PREVIOUS, "children", "previous"),
    (ids.BR_PRODUCED, "children", "produced"),
    (ids.BR_SIM, "children", "simulated"),
    (ids.BR_HEADLINE, "children", "headline"),
    (ids.BR_AGENCIES, "children", "agencies"),
    (ids.BR_KECAMATAN, "children", "kecamatan"),
    (ids.BR_KEC_NOTE, "children", "kecamatan_note"),
    (ids.BR_MAP_DATA, "data", "map"),
    (ids.BR_WEEKLY_CALLS, "figure", "weekly_calls"),
    (ids.BR_WEEKLY_GENUINE, "figure", "weekly_genuine"),
    (ids.BR_TOP_SOCIALISATION, "children", "socialisation"),
    (ids.BR_TOP_BTS, "children", "bts"),
    (ids.BR_PDF, "href", "pdf"),
    (ids.BR_XLSX, "href", "xlsx"),
    (ids.BR_LANG_LINK, "href", "lang_link"),
)


def register(cb: Callbacks, deps: PageDeps) -> None:
    runtime = deps.runtime


    def lang_of(config: dict[str, Any] | None) -> str:
        return "en" if (config or {}).get("lang") == "en" else "id"

    @cb.callback(
        Output(ids.BR_PERIOD, "data"),
        Output(ids.BR_PERIOD_MSG, "children"),
        Output(ids.BR_MONTH_WRAP, "className"),
        Output(ids.BR_QUARTER_WRAP, "className"),
        Output(ids.BR_RANGE_WRAP, "className"),
        Input(ids.BR_KIND, "value"),
        Input(ids.BR_MONTH, "value"),
        Input(ids.BR_QUARTER, "value"),
        Input(ids.BR_RANGE, "start_date"),
        Input(ids.BR_RANGE, "end_date"),
        State(ids.BR_CONFIG, "data"),
        prevent_initial_call=True,  # the layout starts with its period and the right picker shown
    )
    def choose_period(kind: str | None, month: str | None, quarter: str | None, start: str | None,
                      end: str | None, config: dict[str, Any] | None) -> tuple:
        lang = lang_of(config)
        shown = tuple("br-pick" + ("" if kind == k else " hidden") for k in ("month", "quarter", "custom"))
        if kind == "custom" and not (start and end):
            return (no_update, "", *shown)  # the second date is being picked
        try:
            period = period_from_controls(kind, month, quarter, start, end)
        except ValueError:
            asked = {"month": month, "quarter": quarter}.get(str(kind), f"{start or ''}..{end or ''}")
            return (None, t("brief_bad_period", lang, text=str(asked or "")[:40]), *shown)
        return (period.key, "", *shown)

    @cb.callback(
        *(Output(component, prop) for component, prop, _key in FILLED),
        Output(ids.BR_NOTES, "value"),
        Output(ids.BR_DOWN, "children"),
        Output(ids.BR_SYNC, "data"),
        Input(ids.BR_PERIOD, "data"),
        Input(ids.BR_TICK, "n_intervals"),
        State(ids.BR_SYNC, "data"),
        State(ids.BR_CONFIG, "data"),
        running=[(Output(ids.BR_TICK, "disabled"), True, False)],
    )
    def fill(key: str | None, _tick: Any, sync: dict[str, Any] | None, config: dict[str, Any] | None) -> tuple:
        lang = lang_of(config)
        try:
            period = Period.parse(key or "")
        except ValueError as exc:
            raise PreventUpdate from exc  # the chooser already says why
        sync = dict(sync or {})
        unchanged = (no_update,) * len(FILLED)
        try:
            version = runtime.store.data_version()
            if (callback_context.triggered_id == ids.BR_TICK and sync.get("key") == period.key
                    and sync.get("version") == version and not sync.get("down")):
                raise PreventUpdate  # nothing new: nothing goes over the wire
            view = page_view(runtime, period, lang)
        except StoreUnavailable as exc:
            log.error("store unavailable for the briefing of %s: %s", period.key, exc)
            sync["down"] = True
            return (*unchanged, no_update, t("brief_store_down", lang), sync)
        # the notes box is filled when the period changes, never under someone typing on a refresh
        notes = view["notes"] if sync.get("notes_key") != period.key else no_update
        sync.update(key=period.key, version=version, notes_key=period.key, down=False)
        return (*(view[k] for _c, _p, k in FILLED), notes, "", sync)

    @cb.callback(
        Output(CHOROPLETH_ID, "hideout"),
        Output(ids.BR_LEGEND, "children"),
        Input(ids.BR_MAP_METRIC, "value"),
        Input(ids.BR_MAP_DATA, "data"),
        State(ids.BR_CONFIG, "data"),
    )
    def colour_map(metric: str | None, data: dict[str, Any] | None, config: dict[str, Any] | None) -> tuple:
        if metric not in METRICS or not isinstance(data, dict) or metric not in data.get("values", {}):
            raise PreventUpdate
        return map_view(data, str(metric), lang_of(config))

    @cb.callback(
        Output(ids.BR_NOTES_MSG, "children"),
        Input(ids.BR_NOTES_SAVE, "n_clicks"),
        State(ids.BR_NOTES, "value"),
        State(ids.BR_PERIOD, "data"),
        State(ids.BR_CONFIG, "data"),
        prevent_initial_call=True,
    )
    def notes(n_clicks: int | None, text: str | None, key: str | None, config: dict[str, Any] | None) -> Any:
        if not n_clicks:
            raise PreventUpdate
        ok, message = save_page_notes(runtime, key, text, lang_of(config))
        return html.Span(message, className="ok" if ok else "br-error")
