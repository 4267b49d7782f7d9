"""Analytics page callbacks (issue 5): the hexagon map of a period and metric, the ranking table, its export.

The work is done by plain functions (``map_view``, ``table_view``, ``export_file``) that take the runtime and
the page's inputs, so tests call them without a browser; ``register`` only wires them to the page.

The map callback also watches a slow timer: when the store's data version moved it refreshes the map and
publishes the new version (``AN_VERSION``), which refreshes the table; when nothing moved it sends nothing. A
store that stops answering turns into a banner, and the last good view stays.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from dash import Input, Output, State, callback_context, dcc, html, no_update
from dash.dash_table.Format import Format, Scheme
from dash.exceptions import PreventUpdate

from layers.base import layer_id
from layers.hexes import HEX_COMPONENT_ID, PRIORITY_METRICS, HexLayer, hideout_from_counts, legend_items
from ntpd_map import ids
from ntpd_map.analytics.export import COMPONENTS, HEADERS, WEIGHTS, formula, to_csv, to_xlsx
from ntpd_map.analytics.periods import period, window_text
from ntpd_map.fmt import decimal, number
from ntpd_map.geo.hexes import RESOLUTIONS
from ntpd_map.i18n import COLUMNS_EN, t
from ntpd_map.pages.analytics.layout import LEVELS, default_period
from ntpd_map.pages.common import area_bounds
from ntpd_map.store.model import StoreUnavailable
from ntpd_map.views import local_time

if TYPE_CHECKING:
    import pandas as pd

    from ntpd_map.analytics import Priorities
    from ntpd_map.pages.page import Callbacks, PageDeps
    from ntpd_map.runtime import Runtime

#: constant over a region, so said once in the footnote rather than repeated on every row
FOOTNOTE_COLUMNS = ("darurat_per_10rb_30hari_wilayah",)
#: decimals of the float columns (components and shares 3, like the back end rounds them)
DECIMALS = {"score": 1, "darurat_harapan": 1, "darurat_per_10rb_30hari": 2, "jarak_menara_km": 2,
            "salah_guna_sebelumnya": 3}
#: a component at or above this is shaded in the table: what drives a rank stands out
HIGH_COMPONENT = 0.6


@dataclass(frozen=True)
class Period:
    date_from: date
    date_to: date
    start: int  # Unix seconds, inclusive
    end: int  # Unix seconds, exclusive


def period_from_dates(start_date: str | None, end_date: str | None, tz: str) -> Period:
    """The period of the date picker (local dates, inclusive; empty: the last 30 days). ValueError when
    the dates are not valid or reversed."""
    args = {"from": (start_date or "")[:10], "to": (end_date or "")[:10]}
    date_from, date_to, start, end = period(args, tz)
    return Period(date_from, date_to, start, end)


def period_text(p: Period, zone: str, lang: str) -> str:
    if lang == "id":
        return window_text(p.date_from, p.date_to, zone)
    return f"{p.date_from:%d/%m/%Y} - {p.date_to:%d/%m/%Y} ({zone} time)"


def _count(n: int, lang: str) -> str:
    return number(n, lang)


# the map ---------------------------------------------------------------------------------------------------
def map_view(runtime: Runtime, p: Period, metric: str, res: int, lang: str) -> dict[str, Any]:
    """The hexagon layer's url and hideout, the legend and the status line for a period and metric."""
    analytics = runtime.analytics
    pieces = analytics.pieces(int(res))
    counts = analytics.counts(p.start, p.end, pieces.res)
    prio = analytics.priorities(metric, p.start, p.end).rows if metric in PRIORITY_METRICS else None
    hideout = hideout_from_counts(counts, pieces, metric, lang, prio)
    located = int(counts.piece_type.sum())
    status = [period_text(p, runtime.zone, lang), f"{_count(located, lang)} {t('calls', lang).lower()}"]
    unplaced = int(counts.unplaced_type.sum())
    if unplaced:
        status.append(t("unplaced", lang, n=_count(unplaced, lang)))
    return {"url": HexLayer(pieces.res).url(), "hideout": hideout, "legend": legend(hideout, lang),
            "status": " · ".join(status), "located": located}


def legend(hideout: dict[str, Any], lang: str) -> list[Any]:
    note = {"count": "legend_count_note", "share": "legend_share_note", "score": "legend_score_note"}
    items: list[Any] = [html.B(hideout["labels"]["metric"]),
                        html.Div(t(note[hideout["format"]], lang), className="legend-note")]
    for color, label, opacity in legend_items(hideout, lang):
        items.append(html.Div([html.Span(className="swatch square", style={"background": color,
                                                                            "opacity": opacity}), label],
                              className="legend-row"))
    return items


# the table -------------------------------------------------------------------------------------------------
def _header(column: str, metric: str, lang: str) -> str:
    if column == "penduduk" and metric == "bts":
        text = "Komponen: penduduk (0-1)" if lang == "id" else "Component: population (0-1)"
    elif column == "kecamatan":
        text = t("kecamatan", lang)
    else:
        text = HEADERS.get(column, column) if lang == "id" else COLUMNS_EN.get(column, column)
    weight = WEIGHTS[metric].get(column)
    if weight is not None:
        text += f" · {t('weight_word', lang)} {decimal(weight, lang)}"
    return text


def table_columns(rows: pd.DataFrame, metric: str, level: str) -> list[str]:
    """Rank, code, name (and kecamatan for desa), score, every component of the score, then every figure behind
    them, in the back end's order."""
    first = ["rank", "kode", "nama"] + (["kecamatan"] if level == "desa" else []) + ["score"]
    first += list(COMPONENTS[metric])
    skip = set(first) | set(FOOTNOTE_COLUMNS) | {"kode_kecamatan"}
    return first + [c for c in rows.columns if c not in skip]


def table_view(runtime: Runtime, p: Period, index: str, level: str, lang: str) -> dict[str, Any]:
    """The ranking table (rows, columns, styles), its title and footnote for a period and index."""
    level = level if index == "bts" else "kecamatan"  # the socialisation index is per kecamatan only
    prio = runtime.analytics.priorities(index, p.start, p.end, level)
    rows = prio.rows.copy()
    if level == "desa":
        rows["kecamatan"] = [runtime.names.get(str(k), str(k)) for k in rows["kode_kecamatan"]]
    order = table_columns(rows, index, level)
    yes, no = t("yes", lang), t("no", lang)
    columns = []
    for name in order:
        column: dict[str, Any] = {"id": name, "name": _header(name, index, lang)}
        dtype = rows[name].dtype
        if dtype.kind == "b":
            rows[name] = rows[name].map({True: yes, False: no})
            column["type"] = "text"
        elif dtype.kind in "iuf":
            decimals = 0 if dtype.kind in "iu" else DECIMALS.get(name, 3)
            fmt = Format(precision=decimals, scheme=Scheme.fixed, nully="-").group(True)
            if lang == "id":
                fmt = fmt.group_delimiter(".").decimal_delimiter(",")
            column.update(type="numeric", format=fmt)
        else:
            column["type"] = "text"
        columns.append(column)
    data = []
    for rec in rows[order].to_dict("records"):
        clean = {k: (None if isinstance(v, float) and math.isnan(v) else v.item() if hasattr(v, "item") else v)
                 for k, v in rec.items()}
        clean["id"] = clean["kode"]  # active_cell carries it: a click knows its kecamatan or desa
        data.append(clean)
    population = "jumlah_penduduk" if index == "bts" else "penduduk"
    styles: list[dict[str, Any]] = [
        {"if": {"column_id": "score"}, "fontWeight": "700"},
        {"if": {"column_id": "rank"}, "fontWeight": "700"},
        # estimated population: italic and brown, with "ya" in the 'Penduduk perkiraan?' column beside it
        *({"if": {"filter_query": f'{{penduduk_perkiraan}} = "{yes}"', "column_id": col},
           "fontStyle": "italic", "color": "#92400e"} for col in (population, "penduduk_perkiraan")),
        *({"if": {"filter_query": f"{{{c}}} >= {HIGH_COMPONENT}", "column_id": c}, "backgroundColor": "#fde2c8"}
          for c in COMPONENTS[index]),
    ]
    title = t("table_title", lang, index=t(f"metric_{index}", lang), level=t(f"level_{level}", lang).lower())
    notes = footnote_lines(runtime, prio, p, lang)
    return {"data": data, "columns": columns, "styles": styles, "title": title, "notes": notes,
            "footnote": footnote(notes), "priorities": prio}


def footnote_lines(runtime: Runtime, prio: Priorities, p: Period, lang: str) -> list[str]:
    lines = [f"{t('note_period', lang)}: {period_text(p, runtime.zone, lang)}",
             f"{t('note_formula', lang)}: {formula(prio.metric, lang)}", t("note_smoothing", lang)]
    if prio.metric == "socialisation" and len(prio.rows):
        rate = float(prio.rows["darurat_per_10rb_30hari_wilayah"].iloc[0])
        lines.append(t("note_region_rate", lang, rate=number(rate, lang, 2)))
    if prio.metric == "bts":
        lines.append(t("note_no_towers", lang) if not prio.towers_known else t("note_towers", lang,
                                                                                n=prio.towers_known))
    if prio.population_estimated:
        lines.append(t("note_population", lang))
    if runtime.is_simulated():
        lines.append(t("simulation_banner", lang))
    return lines


def footnote(lines: list[str]) -> Any:
    return html.Ul([html.Li(line) for line in lines])


# export ----------------------------------------------------------------------------------------------------
def export_file(runtime: Runtime, fmt: str, p: Period, index: str, level: str) -> tuple[bytes, str]:
    """The ranking table as CSV or XLSX (ntpd_map.analytics.export, Indonesian headers), and its file name:
    index, level, region, period and SIMULASI when the data is simulated."""
    level = level if index == "bts" else "kecamatan"
    prio = runtime.analytics.priorities(index, p.start, p.end, level)
    simulated = runtime.is_simulated()
    if fmt == "csv":
        body = to_csv(prio, simulated)
    elif fmt == "xlsx":
        body = to_xlsx(prio, simulated, window_text(p.date_from, p.date_to, runtime.zone))
    else:
        raise ValueError(f"export format must be csv or xlsx, not {fmt!r}")
    name = (f"prioritas_{index}_{level}_{runtime.region.code}_{p.date_from}_{p.date_to}"
            f"{'_SIMULASI' if simulated else ''}.{fmt}")
    return body, name


def kecamatan_of(runtime: Runtime, kode: str) -> str | None:
    """The kecamatan of a row: itself, or the kecamatan of a desa."""
    region = runtime.region
    if kode in set(region.kecamatan["kode"]):
        return kode
    match = region.desa.loc[region.desa["kode"] == kode, "kode_kec"]
    return str(match.iloc[0]) if len(match) else None


def kecamatan_bounds(runtime: Runtime, kode: str) -> list[list[float]] | None:
    return area_bounds(runtime.region.kecamatan, kode)


# wiring ----------------------------------------------------------------------------------------------------
def register(cb: Callbacks, deps: PageDeps) -> None:
    runtime = deps.runtime
    tz = runtime.settings.tz

    def lang_of(config: dict[str, Any] | None) -> str:
        return (config or {}).get("lang", runtime.settings.lang)

    @cb.callback(
        Output(ids.AN_RANGE, "start_date"),
        Output(ids.AN_RANGE, "end_date"),
        Input(ids.AN_QUICK_7, "n_clicks"),
        Input(ids.AN_QUICK_30, "n_clicks"),
        Input(ids.AN_QUICK_90, "n_clicks"),
        prevent_initial_call=True,
    )
    def quick_period(*_clicks: int) -> tuple[str, str]:
        days = {ids.AN_QUICK_7: 7, ids.AN_QUICK_30: 30, ids.AN_QUICK_90: 90}.get(str(callback_context.triggered_id))
        if days is None:
            raise PreventUpdate
        date_from, date_to = default_period(tz, days)
        return date_from.isoformat(), date_to.isoformat()

    @cb.callback(
        Output(HEX_COMPONENT_ID, "url"),
        Output(HEX_COMPONENT_ID, "hideout"),
        Output(ids.AN_LEGEND, "children"),
        Output(ids.AN_STATUS, "children"),
        Output(ids.AN_DOWN, "children"),
        Output(ids.AN_SYNC, "data"),
        Output(ids.AN_VERSION, "data"),
        Input(ids.AN_RANGE, "start_date"),
        Input(ids.AN_RANGE, "end_date"),
        Input(ids.AN_METRIC, "value"),
        Input(ids.AN_RES, "value"),
        Input(ids.AN_TICK, "n_intervals"),
        State(ids.AN_SYNC, "data"),
        State(ids.AN_CONFIG, "data"),
        running=[(Output(ids.AN_TICK, "disabled"), True, False)],
    )
    def refresh_map(start_date: str | None, end_date: str | None, metric: str, res: int, _tick: Any,
                    sync: dict[str, Any] | None, config: dict[str, Any] | None) -> tuple:
        if not isinstance(metric, str) or res not in RESOLUTIONS:
            raise PreventUpdate  # not a request the page's controls can make
        sync = dict(sync or {})
        lang = lang_of(config)
        key = hashlib.sha256(json.dumps([start_date, end_date, metric, res]).encode()).hexdigest()
        now = int(time.time())
        try:
            p = period_from_dates(start_date, end_date, tz)
        except ValueError as exc:
            return (no_update, no_update, no_update, t("bad_period", lang, error=exc), no_update, no_update,
                    no_update)
        try:
            version = runtime.store.data_version()
            if (callback_context.triggered_id == ids.AN_TICK and sync.get("key") == key
                    and sync.get("version") == version and not sync.get("down")):
                raise PreventUpdate  # nothing new: nothing goes over the wire
            view = map_view(runtime, p, metric, int(res), lang)
        except StoreUnavailable:
            last = local_time(sync.get("ok_at"), tz, "%H:%M") or "-"
            sync["down"] = True
            return no_update, no_update, no_update, no_update, t("store_down", lang, time=last), sync, no_update
        published = version if sync.get("version") != version or sync.get("down") else no_update
        sync.update(key=key, version=version, ok_at=now, down=False)
        status = f"{view['status']} · {t('updated', lang)} {local_time(now, tz, '%H:%M:%S')} {runtime.zone}"
        return view["url"], view["hideout"], view["legend"], status, "", sync, published

    @cb.callback(
        Output(ids.AN_TABLE, "data"),
        Output(ids.AN_TABLE, "columns"),
        Output(ids.AN_TABLE, "style_data_conditional"),
        Output(ids.AN_TABLE_TITLE, "children"),
        Output(ids.AN_FOOTNOTE, "children"),
        Input(ids.AN_RANGE, "start_date"),
        Input(ids.AN_RANGE, "end_date"),
        Input(ids.AN_INDEX, "value"),
        Input(ids.AN_LEVEL, "value"),
        Input(ids.AN_VERSION, "data"),  # published by refresh_map: first load, and whenever the data moved
        State(ids.AN_CONFIG, "data"),
        prevent_initial_call=True,
    )
    def refresh_table(start_date: str | None, end_date: str | None, index: str, level: str, _version: Any,
                      config: dict[str, Any] | None) -> tuple:
        lang = lang_of(config)
        try:
            view = table_view(runtime, period_from_dates(start_date, end_date, tz), index, level, lang)
        except (ValueError, StoreUnavailable) as exc:  # the map's status line and banner say why
            raise PreventUpdate from exc
        return view["data"], view["columns"], view["styles"], view["title"], view["footnote"]

    @cb.callback(
        Output(ids.AN_LEVEL, "options"),
        Input(ids.AN_INDEX, "value"),
        State(ids.AN_CONFIG, "data"),
    )
    def level_options(index: str, config: dict[str, Any] | None) -> list[dict[str, Any]]:
        lang = lang_of(config)
        # the socialisation index is per kecamatan; the BTS index also per desa
        return [{"label": t(f"level_{lv}", lang), "value": lv, "disabled": index != "bts"} for lv in LEVELS]

    def download(fmt: str) -> Any:
        def send(_n: int, start_date: str | None, end_date: str | None, index: str, level: str) -> Any:
            try:
                body, name = export_file(runtime, fmt, period_from_dates(start_date, end_date, tz), index, level)
            except (ValueError, StoreUnavailable) as exc:
                raise PreventUpdate from exc
            return dcc.send_bytes(body, name)

        return send

    for fmt, button, target in (("csv", ids.AN_CSV, ids.AN_DOWNLOAD_CSV), ("xlsx", ids.AN_XLSX, ids.AN_DOWNLOAD_XLSX)):
        cb.callback(
            Output(target, "data"),
            Input(button, "n_clicks"),
            State(ids.AN_RANGE, "start_date"),
            State(ids.AN_RANGE, "end_date"),
            State(ids.AN_INDEX, "value"),
            State(ids.AN_LEVEL, "value"),
            prevent_initial_call=True,
        )(download(fmt))

    @cb.callback(
        Output(layer_id("kecamatan"), "hideout"),
        Output(ids.AN_MAP, "viewport"),
        Input(ids.AN_TABLE, "active_cell"),
        State(layer_id("kecamatan"), "hideout"),
        prevent_initial_call=True,
    )
    def highlight(cell: dict[str, Any] | None, hideout: dict[str, Any] | None) -> tuple:
        kode = kecamatan_of(runtime, str((cell or {}).get("row_id") or ""))
        if not kode:
            raise PreventUpdate
        bounds = kecamatan_bounds(runtime, kode)
        viewport = ({"bounds": bounds, "transition": "flyToBounds", "options": {"padding": [30, 30],
                                                                               "duration": 0.6}}
                    if bounds else no_update)
        return {**(hideout or {}), "selected": kode}, viewport
