"""Signal coverage callbacks (issue 7): the coverage layers on every page that shows them, and the coverage page
(/cakupan): its period, the area out of tower range per kecamatan, the BTS proposal's downloads, the picked
desa's panel and audit trail, and marking and undoing for a signed-in planner.

The work is done by plain functions of the runtime and the page's inputs (``coverage_view``, ``desa_panel``,
``save_mark``, ``undo_latest``, ...), so tests call them without a browser; ``register`` only wires them.

Who may mark is asked again in every marking and undo callback, server-side (``access.identity.coverage_access``):
a page without the form, a hand-made request to the callback, an account disabled since signing in, are
all refused with a message, and nothing is written.
"""

from __future__ import annotations

import hashlib
import json
import time
from datetime import date
from typing import TYPE_CHECKING, Any

from dash import Input, Output, State, callback_context, dcc, html, no_update
from dash.exceptions import PreventUpdate

from layers.base import LayerContext, View, layer_id
from layers.boundaries import geojson_from_frame
from layers.coverage import (
    EMPTY,
    STATUS_COLORS,
    STATUS_ORDER,
    UNMARKED_COLOR,
    WeakCallsLayer,
    coverage_hideout,
    desa_statuses,
    status_counts,
    tower_features,
)
from ntpd_map import audit, ids
from ntpd_map.access.identity import coverage_access, current_role
from ntpd_map.analytics.proposal import proposal_file
from ntpd_map.domain import SignalStatus
from ntpd_map.fmt import number
from ntpd_map.geo.signal import PROPOSED_STATUSES, desa_signal, is_missing, mark_from_fields, survey_summary
from ntpd_map.i18n import t
from ntpd_map.pages.analytics.callbacks import kecamatan_bounds, period_from_dates
from ntpd_map.pages.common import area_bounds
from ntpd_map.pages.coverage.layout import LEGEND_PX
from ntpd_map.store.model import IncidentQuery, StaleChange, StoreUnavailable, UnknownChange
from ntpd_map.views import decimal_text, local_time

if TYPE_CHECKING:
    import pandas as pd

    from ntpd_map.access.identity import CoverageAccess
    from ntpd_map.pages.page import Callbacks, PageDeps
    from ntpd_map.runtime import Runtime

#: audit-trail rows shown in the panel (the API and the CLI give the rest)
TRAIL_ROWS = 20


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def status_label(value: Any, lang: str) -> str:
    """A status as the page says it; no status (no mark, or a mark undone to nothing) is "not marked yet"."""
    text = _text(value)
    return SignalStatus(text).label(lang) if text else t("cov_unmarked", lang)


def date_text(value: Any) -> str:
    """An ISO date as the page writes dates (DD/MM/YYYY), "-" when there is none."""
    text = _text(value)
    if not text:
        return "-"
    try:
        return date.fromisoformat(text[:10]).strftime("%d/%m/%Y")
    except ValueError:
        return text


def _count(n: int, lang: str) -> str:
    return number(n, lang)


# the layers -------------------------------------------------------------------------------------------------
def summary_text(counts: dict[str, int], towers: int, lang: str) -> str:
    return t("cov_summary", lang, none=counts["none"], weak=counts["weak"], g2=counts["2g_only"],
             good=counts["good"], unmarked=counts["unmarked"], towers=_count(towers, lang))


def coverage_view(runtime: Runtime, lang: str, wall: bool) -> dict[str, Any]:
    """The coverage layer's hideout (each marked desa's status), the towers layer's data and the summary line,
    with a digest of them all. Raises StoreUnavailable."""
    store = runtime.store
    signal = desa_signal(store.coverage_marks())
    hideout = coverage_hideout(signal, lang, wall)
    towers = store.towers()
    default = float(runtime.settings.get("NTPD_TOWER_DEFAULT_RANGE_M"))
    tower_data = {"type": "FeatureCollection", "features": tower_features(towers, default)}
    counts = status_counts(hideout["status"], len(runtime.region.desa))
    summary = summary_text(counts, len(towers), lang)
    sig = hashlib.sha256(json.dumps([hideout, tower_data, summary], sort_keys=True).encode()).hexdigest()
    return {"hideout": hideout, "towers": tower_data, "summary": summary, "counts": counts, "sig": sig}


# the kecamatan table ----------------------------------------------------------------------------------------
def kecamatan_rows(runtime: Runtime, signal: pd.DataFrame) -> list[dict[str, Any]]:
    """Per kecamatan: its area, the area in and out of every known tower's range (``Analytics.uncovered``) and
    how many of its desa have each status; the least covered first."""
    region = runtime.region
    uncovered = runtime.analytics.uncovered("kecamatan")
    status, _cells = desa_statuses(signal)
    kec_of = dict(zip(region.desa["kode"].astype(str), region.desa["kode_kec"].astype(str), strict=True))
    per_kec: dict[str, dict[str, int]] = {}
    rows: list[dict[str, Any]] = []
    for kode, kec in kec_of.items():
        counts = per_kec.setdefault(kec, {str(s): 0 for s in STATUS_ORDER} | {"unmarked": 0, "desa": 0})
        counts[status.get(kode, "unmarked")] += 1
        counts["desa"] += 1
    for rec in uncovered.itertuples(index=False):
        share = float(rec.porsi_tak_terjangkau)
        counts = per_kec.get(str(rec.kode), {})
        rows.append({
            "id": str(rec.kode), "kode": str(rec.kode), "nama": runtime.names.get(str(rec.kode), str(rec.nama)),
            "luas_km2": round(float(rec.luas_km2), 1), "terjangkau_km2": round(float(rec.terjangkau_km2), 1),
            "tak_terjangkau_km2": round(float(rec.tak_terjangkau_km2), 1),
            "porsi_tak_terjangkau": None if share != share else round(share, 3),
            **{f"desa_{s}": int(counts.get(str(s), 0)) for s in STATUS_ORDER},
            "desa_unmarked": int(counts.get("unmarked", 0)), "desa": int(counts.get("desa", 0)),
        })
    rows.sort(key=lambda r: (-(r["porsi_tak_terjangkau"] or 0.0), r["nama"]))
    return rows


# the picked desa --------------------------------------------------------------------------------------------
def trail_rows(history: pd.DataFrame, tz: str, lang: str) -> list[dict[str, str]]:
    """The audit trail as shown: when (the center's zone), who, old -> new, the change and its target, the
    evidence the change left; newest first."""
    rows = []
    for rec in history.itertuples(index=False):
        action = f"#{int(rec.id)}"
        if rec.action == "undo" and not is_missing(rec.undoes):
            action += " " + t("cov_action_undo", lang, id=int(rec.undoes))
        cell = _text(rec.h3)
        rows.append({
            "id": str(int(rec.id)),
            "when": local_time(int(rec.created_at), tz, "%d/%m/%Y %H:%M"),
            "who": str(rec.author),
            "change": f"{status_label(rec.old_status, lang)} → {status_label(rec.status, lang)}",
            "action": action,
            "target": t("cov_target_cell", lang, cell=cell) if cell else t("cov_target_desa", lang),
            "evidence": _text(rec.evidence) or "",
        })
    return rows


def desa_info(runtime: Runtime, kode: str, lang: str) -> dict[str, Any]:
    """What the panel says of one desa: its current status (``desa_signal``) with what it rests on and its
    evidence, the field survey in it, its share out of tower range, and its audit trail. Raises
    StoreUnavailable; KeyError for a code that is not a desa of the region."""
    region = runtime.region
    desa = region.desa[region.desa["kode"] == kode]
    if desa.empty:
        raise KeyError(kode)
    store = runtime.store
    signal = desa_signal(store.coverage_marks())
    mine = signal[signal["kode_desa"] == kode]
    current = mine.iloc[0].to_dict() if len(mine) else None
    survey = survey_summary(store.signal_samples(kode))
    uncovered = runtime.analytics.uncovered("desa")
    share = uncovered.loc[uncovered["kode"] == kode, "porsi_tak_terjangkau"]
    history = store.coverage_history(kode, limit=TRAIL_ROWS)
    return {
        "kode": kode, "nama": str(desa["nama"].iloc[0]),
        "kecamatan": runtime.names.get(str(desa["kode_kec"].iloc[0]), str(desa["kode_kec"].iloc[0])),
        "current": current,
        "survey": survey.loc[kode].to_dict() if kode in survey.index else None,
        "uncovered": float(share.iloc[0]) if len(share) and share.iloc[0] == share.iloc[0] else None,
        "trail": trail_rows(history, runtime.settings.tz, lang),
        "latest": history.iloc[0].to_dict() if len(history) else None,
    }


def desa_panel(runtime: Runtime, info: dict[str, Any], lang: str) -> Any:
    tz, zone = runtime.settings.tz, runtime.zone
    current = info["current"]
    status = _text(current["status"]) if current else None
    swatch = html.Span(className="swatch square", style={"background": STATUS_COLORS.get(status or "",
                                                                                           UNMARKED_COLOR)})
    rows: list[tuple[str, Any]] = [(t("cov_status", lang), html.Span([swatch, status_label(status, lang)],
                                                                      id="cov-panel-status"))]
    if current:
        basis = (t("cov_basis_cells", lang, n=int(current["sel_ditandai"])) if current["dasar"] == "h3"
                 else t("cov_basis_desa", lang))
        rows += [
            (t("cov_basis", lang), basis),
            (t("cov_marked_by", lang),
             f"{current['author']}, {local_time(int(current['created_at']), tz, '%d/%m/%Y %H:%M')} {zone}"),
            (t("cov_surveyed_on", lang), date_text(current["surveyed_on"])),
            (t("cov_operators", lang), _text(current["operators"]) or "-"),
            (t("cov_evidence", lang), _text(current["evidence"]) or "-"),
        ]
    survey = info["survey"]
    if survey and int(survey["sampel"]):
        dbm = survey["median_dbm"]
        rows.append((t("cov_survey", lang), t(
            "cov_samples", lang, n=int(survey["sampel"]), none=int(survey["sampel_tanpa_sinyal"]),
            weak=int(survey["sampel_sangat_lemah"]),
            dbm="-" if dbm != dbm else f"{decimal_text(float(dbm), lang, 0)} dBm",
            when=f"{local_time(int(survey['survei_terakhir']), tz, '%d/%m/%Y')}")
            + (f"; {survey['operator_survei']}" if survey["operator_survei"] else "")))
    else:
        rows.append((t("cov_survey", lang), t("cov_no_survey", lang)))
    if info["uncovered"] is not None:
        rows.append((t("cov_uncovered", lang), t("cov_uncovered_value", lang,
                                                 p=f"{decimal_text(100 * info['uncovered'], lang, 0)}%")))
    trail = info["trail"]
    if trail:
        # one entry per change, newest first: a list reads better than a six-column table in a side panel
        table: Any = html.Ol([html.Li([
            html.Div([html.Span(f"{r['when']} {zone}", className="when"), " · ",
                      html.Span(r["who"], className="who"), " · ",
                      html.Span(f"{r['action']} ({r['target']})", className="what")]),
            html.Div(r["change"], className="change"),
            html.Div(r["evidence"], className="evidence") if r["evidence"] else None,
        ], **{"data-change": r["id"]}) for r in trail], className="cov-trail", id="cov-trail")
    else:
        table = html.Div(t("cov_no_trail", lang), id="cov-trail", className="cov-note")
    return [
        html.H2(info["nama"], id="cov-panel-name"),
        html.Div(f"{info['kecamatan']} · {info['kode']}", className="cov-panel-where"),
        html.Table([html.Tr([html.Th(label), html.Td(value)]) for label, value in rows],
                   className="details-table cov-details"),
        html.H3(t("cov_trail", lang)),
        table,
    ]


def form_values(info: dict[str, Any]) -> dict[str, Any]:
    """The form filled with the desa's own (desa-wide) mark, so a planner corrects it rather than retypes it.
    A desa marked only through cells starts empty: saving marks the whole desa."""
    current = info["current"]
    if not current or current["dasar"] != "desa":
        return {"status": None, "operators": "", "surveyed_on": None, "evidence": ""}
    return {"status": _text(current["status"]), "operators": _text(current["operators"]) or "",
            "surveyed_on": _text(current["surveyed_on"]), "evidence": _text(current["evidence"]) or ""}


def undo_text(latest: dict[str, Any] | None, lang: str) -> str:
    if not latest:
        return t("cov_undo_none", lang)
    return t("cov_undo_what", lang, id=int(latest["id"]), who=latest["author"],
             old=status_label(latest["old_status"], lang), new=status_label(latest["status"], lang))


# marking ----------------------------------------------------------------------------------------------------
def refusal(access: CoverageAccess, lang: str) -> str:
    if access.reason == "role":
        return t("cov_refused_role", lang, name=access.name or "?", role=access.role or "?")
    return t("cov_refused_anonymous", lang)


def save_mark(runtime: Runtime, kode: str | None, values: dict[str, Any],
              lang: str) -> tuple[bool, str]:
    """Mark a desa for the signed-in person (``values``: status, operators, surveyed_on, evidence, as the
    form has them). Returns (written, message). Nothing is written unless they may mark now."""
    tz = runtime.settings.tz
    try:
        access = coverage_access()
        if not access.may_edit or access.editor is None:
            return False, refusal(access, lang)
        if not kode:
            return False, t("cov_pick_first", lang)
        if not values.get("status"):
            return False, t("cov_not_saved", lang, error=t("cov_pick_status", lang))
        fields = {"kode_desa": kode, "status": values["status"],
                  "operators": (values.get("operators") or "").strip() or None,
                  "surveyed_on": (values.get("surveyed_on") or "")[:10] or None,
                  "evidence": (values.get("evidence") or "").strip() or None}
        try:
            mark = mark_from_fields(runtime.region, fields, author=access.editor["name"])
        except ValueError as exc:
            return False, t("cov_not_saved", lang, error=exc)
        marks = runtime.store.coverage_marks()
        own = marks[(marks["kode_desa"] == mark.kode_desa) & marks["h3"].isna()]
        old = own.iloc[-1].to_dict() if len(own) else None
        if old is not None and (_text(old["status"]), _text(old["surveyed_on"]), _text(old["operators"]),
                                _text(old["evidence"])) == (str(mark.status), mark.surveyed_on, mark.operators,
                                                            mark.evidence):
            return False, t("cov_no_change", lang)
        change = runtime.store.mark_coverage(mark)
        audit.record(runtime.store, audit.request_actor(), "coverage.mark", mark.kode_desa, change=change,
                     status=str(mark.status))
    except StoreUnavailable:
        return False, t("cov_write_down", lang)
    name = runtime.names.get(mark.kode_desa, mark.kode_desa)
    return True, t("cov_saved", lang, desa=name, old=status_label(old["status"] if old else None, lang),
                   new=status_label(str(mark.status), lang), id=change,
                   time=f"{local_time(int(time.time()), tz, '%H:%M:%S')} {runtime.zone}")


def undo_latest(runtime: Runtime, change_id: Any, lang: str) -> tuple[bool, str]:
    """Undo a change (the latest of the picked desa, as the page showed it) for the signed-in person. Returns
    (written, message); a change that is no longer the latest (someone marked since) is refused, naming the
    later one."""
    try:
        access = coverage_access()
        if not access.may_edit or access.editor is None:
            return False, refusal(access, lang)
        if change_id is None:
            return False, t("cov_undo_none", lang)
        try:
            new = runtime.store.undo_coverage_change(int(change_id), access.editor["name"])
        except (UnknownChange, StaleChange, ValueError) as exc:
            return False, t("cov_not_undone", lang, error=exc)
        audit.record(runtime.store, audit.request_actor(), "coverage.undo", str(change_id), change=new)
    except StoreUnavailable:
        return False, t("cov_write_down", lang)
    return True, t("cov_undone", lang, undone=int(change_id), id=new,
                   time=f"{local_time(int(time.time()), runtime.settings.tz, '%H:%M:%S')} {runtime.zone}")


# the page ---------------------------------------------------------------------------------------------------
def page_view(runtime: Runtime, start_date: str | None, end_date: str | None, lang: str) -> dict[str, Any]:
    """The period's weak-signal calls, the line under the map, how many desa the proposal holds, and the
    kecamatan table. ValueError for a bad period; raises StoreUnavailable."""
    p = period_from_dates(start_date, end_date, runtime.settings.tz)
    calls = WeakCallsLayer().data(LayerContext(runtime, lang), View(IncidentQuery(start=p.start, end=p.end),
                                                                    int(time.time())))
    counts = calls["counts"]
    note = t("cov_calls_note", lang, putus=_count(counts["putus"], lang), approx=_count(counts["approx"], lang),
             unplaced=_count(counts["unplaced"], lang))
    signal = desa_signal(runtime.store.coverage_marks())
    proposed = {str(s) for s in PROPOSED_STATUSES}
    n = int(signal["status"].isin(proposed).sum()) if len(signal) else 0
    return {"calls": calls, "note": note, "proposal": t("cov_proposal_count", lang, n=n),
            "kecamatan": kecamatan_rows(runtime, signal), "period": p}


def desa_outline(runtime: Runtime, kode: str | None) -> dict[str, Any]:
    """The picked desa's polygon, for its highlight (empty when none is picked)."""
    if not kode:
        return EMPTY
    desa = runtime.region.desa
    shape = desa[(desa["kode"] == kode) & (desa.geometry.geom_type != "Point")]
    return geojson_from_frame(shape, ("kode",)) if len(shape) else EMPTY


# wiring -----------------------------------------------------------------------------------------------------
def lang_of(runtime: Runtime, config: dict[str, Any] | None) -> str:
    return (config or {}).get("lang", runtime.settings.lang)


def register_layers(cb: Callbacks, deps: PageDeps) -> None:
    """The coverage layers on every page that shows them: the ops map (as toggles), the wall, /cakupan."""
    runtime = deps.runtime

    @cb.callback(
        Output(layer_id("coverage"), "hideout"),
        Output(layer_id("towers"), "data"),
        Output(ids.COV_SUMMARY, "children"),
        Output(ids.COV_SYNC, "data"),
        Input(ids.COV_TICK, "n_intervals"),
        Input(ids.COV_REV, "data"),
        Input(ids.COV_ON, "data"),
        State(ids.COV_SYNC, "data"),
        State(ids.COV_CONFIG, "data"),
    )
    def refresh_coverage(_tick: Any, _rev: Any, shown: bool | None, sync: dict[str, Any] | None,
                         config: dict[str, Any] | None) -> tuple:
        if not shown:
            raise PreventUpdate  # the ops map with coverage and towers switched off: nothing to load
        config = config or {}
        try:
            # a wall display gets the wall's view whatever its page claims (no author, no evidence)
            wall = bool(config.get("wall")) or current_role() == "wall"
            view = coverage_view(runtime, lang_of(runtime, config), wall)
        except StoreUnavailable as exc:  # each page's banner says so; the last coverage stays drawn
            raise PreventUpdate from exc
        if (sync or {}).get("sig") == view["sig"]:
            raise PreventUpdate  # nothing changed: nothing goes over the wire
        return view["hideout"], view["towers"], view["summary"], {"sig": view["sig"]}


def register(cb: Callbacks, deps: PageDeps) -> None:
    """The coverage page: its period and table, the proposal's downloads, the picked desa, marking."""
    register_period(cb, deps)
    register_downloads(cb, deps)
    register_desa(cb, deps.runtime)
    register_marking(cb, deps.runtime)


def register_period(cb: Callbacks, deps: PageDeps) -> None:
    """The period's weak-signal calls, the proposal count and the kecamatan table; a row flies the map there."""
    runtime = deps.runtime
    tz = runtime.settings.tz
    @cb.callback(
        Output(layer_id("weak-calls"), "data"),
        Output(ids.COV_CALLS_NOTE, "children"),
        Output(ids.COV_PROPOSAL_COUNT, "children"),
        Output(ids.COV_KEC_TABLE, "data"),
        Output(ids.COV_DOWN, "children"),
        Input(ids.COV_RANGE, "start_date"),
        Input(ids.COV_RANGE, "end_date"),
        Input(ids.COV_TICK, "n_intervals"),
        Input(ids.COV_REV, "data"),
        State(ids.COV_CONFIG, "data"),
    )
    def refresh_page(start_date: str | None, end_date: str | None, _tick: Any, _rev: Any,
                     config: dict[str, Any] | None) -> tuple:
        lang = lang_of(runtime, config)
        try:
            view = page_view(runtime, start_date, end_date, lang)
        except ValueError as exc:
            return no_update, t("bad_period", lang, error=exc), no_update, no_update, no_update
        except StoreUnavailable:
            now = local_time(int(time.time()), tz, "%H:%M")
            return no_update, no_update, no_update, no_update, t("store_down", lang, time=now)
        return view["calls"], view["note"], view["proposal"], view["kecamatan"], ""

    @cb.callback(
        Output(ids.COV_MAP, "viewport", allow_duplicate=True),
        Input(ids.COV_KEC_TABLE, "active_cell"),
        prevent_initial_call=True,
    )
    def to_kecamatan(cell: dict[str, Any] | None) -> Any:
        bounds = kecamatan_bounds(runtime, str((cell or {}).get("row_id") or ""))
        if not bounds:
            raise PreventUpdate
        return {"bounds": bounds, "transition": "flyToBounds", "options": {"padding": [30, 30], "duration": 0.6}}


def register_downloads(cb: Callbacks, deps: PageDeps) -> None:
    """The BTS proposal of the period as XLSX or CSV: the same bytes /api/bts-proposal.* serves."""
    runtime, cache = deps.runtime, deps.cache
    tz = runtime.settings.tz

    def download(fmt: str) -> Any:
        def send(_n: int, start_date: str | None, end_date: str | None, config: dict[str, Any] | None) -> tuple:
            lang = lang_of(runtime, config)
            try:
                p = period_from_dates(start_date, end_date, tz)
                body, name = proposal_file(runtime, cache, fmt, p.date_from, p.date_to, p.start, p.end)
            except ValueError as exc:
                return no_update, t("bad_period", lang, error=exc)
            except StoreUnavailable:
                return no_update, t("store_down", lang, time=local_time(int(time.time()), tz, "%H:%M"))
            return dcc.send_bytes(body, name), ""

        return send

    for fmt, button, target in (("xlsx", ids.COV_XLSX, ids.COV_DOWNLOAD_XLSX),
                                ("csv", ids.COV_CSV, ids.COV_DOWNLOAD_CSV)):
        cb.callback(
            Output(target, "data"),
            Output(ids.COV_PROPOSAL_MSG, "children", allow_duplicate=True),
            Input(button, "n_clicks"),
            State(ids.COV_RANGE, "start_date"),
            State(ids.COV_RANGE, "end_date"),
            State(ids.COV_CONFIG, "data"),
            prevent_initial_call=True,
        )(download(fmt))



def register_desa(cb: Callbacks, runtime: Runtime) -> None:
    """The picked desa (on the map or in the list): its panel, its outline, and the form filled with its mark."""
    @cb.callback(
        Output(ids.COV_DESA, "value"),
        Output(ids.COV_CLICKED, "data"),
        Input(layer_id("coverage"), "clickData"),
        prevent_initial_call=True,
    )
    def pick_on_map(click: dict[str, Any] | None) -> tuple[str, str]:
        kode = ((click or {}).get("properties") or {}).get("kode")
        if not kode:
            raise PreventUpdate
        return str(kode), str(kode)

    @cb.callback(
        Output(ids.COV_PANEL, "children"),
        Output(ids.COV_SELECTED, "data"),
        Output(ids.COV_MAP, "viewport"),
        Input(ids.COV_DESA, "value"),
        Input(ids.COV_REV, "data"),
        Input(ids.COV_TICK, "n_intervals"),
        State(ids.COV_CLICKED, "data"),
        State(ids.COV_CONFIG, "data"),
        prevent_initial_call=True,
    )
    def show_desa(kode: str | None, _rev: Any, _tick: Any, clicked: str | None,
                  config: dict[str, Any] | None) -> tuple:
        lang = lang_of(runtime, config)
        picked = callback_context.triggered_id == ids.COV_DESA
        if not kode:
            if not picked:
                raise PreventUpdate
            return t("cov_pick_hint", lang), EMPTY, no_update
        try:
            info = desa_info(runtime, kode, lang)
        except KeyError as exc:
            raise PreventUpdate from exc
        except StoreUnavailable:
            return html.Div(t("cov_panel_down", lang), className="cov-error"), no_update, no_update
        viewport: Any = no_update
        bounds = area_bounds(runtime.region.desa, kode)
        if picked and kode != clicked and bounds:  # picked in the list: go there; clicked on the map: stay
            viewport = {"bounds": bounds, "transition": "flyToBounds",
                        "options": {"paddingTopLeft": [LEGEND_PX + 40, 60], "paddingBottomRight": [60, 60],
                                    "maxZoom": 12, "duration": 0.6}}
        return desa_panel(runtime, info, lang), desa_outline(runtime, kode) if picked else no_update, viewport

    @cb.callback(
        Output(ids.COV_FORM, "className"),
        Output(ids.COV_FORM_STATUS, "value"),
        Output(ids.COV_FORM_OPERATORS, "value"),
        Output(ids.COV_FORM_SURVEY, "date"),
        Output(ids.COV_FORM_EVIDENCE, "value"),
        Output(ids.COV_UNDO, "disabled"),
        Output(ids.COV_UNDO_WHAT, "children"),
        Output(ids.COV_LATEST, "data"),
        Input(ids.COV_DESA, "value"),
        Input(ids.COV_REV, "data"),
        State(ids.COV_CONFIG, "data"),
    )
    def fill_form(kode: str | None, _rev: Any, config: dict[str, Any] | None) -> tuple:
        lang = lang_of(runtime, config)
        if not kode:
            return "cov-form hidden", None, "", None, "", True, "", None
        try:
            info = desa_info(runtime, kode, lang)
        except KeyError as exc:
            raise PreventUpdate from exc
        except StoreUnavailable:  # the panel says so; the form stays as it was
            return "cov-form", *([no_update] * 4), True, t("cov_panel_down", lang), no_update
        values = form_values(info)
        latest = info["latest"]
        return ("cov-form", values["status"], values["operators"], values["surveyed_on"], values["evidence"],
                latest is None, undo_text(latest, lang), int(latest["id"]) if latest else None)



def register_marking(cb: Callbacks, runtime: Runtime) -> None:
    """Saving a mark and undoing the latest change, for a signed-in planner (checked again at every write)."""
    @cb.callback(
        Output(ids.COV_MSG, "children"),
        Output(ids.COV_REV, "data"),
        Input(ids.COV_SAVE, "n_clicks"),
        State(ids.COV_DESA, "value"),
        State(ids.COV_FORM_STATUS, "value"),
        State(ids.COV_FORM_OPERATORS, "value"),
        State(ids.COV_FORM_SURVEY, "date"),
        State(ids.COV_FORM_EVIDENCE, "value"),
        State(ids.COV_REV, "data"),
        State(ids.COV_CONFIG, "data"),
        prevent_initial_call=True,
    )
    def save(clicks: int | None, kode: str | None, status: str | None, operators: str | None,
             surveyed_on: str | None, evidence: str | None, rev: int | None, config: dict[str, Any] | None) -> tuple:
        if not clicks:
            raise PreventUpdate
        ok, message = save_mark(runtime, kode, {"status": status, "operators": operators,
                                                                 "surveyed_on": surveyed_on, "evidence": evidence},
                                lang_of(runtime, config))
        return html.Span(message, className="cov-ok" if ok else "cov-error"), (rev or 0) + 1 if ok else no_update

    @cb.callback(
        Output(ids.COV_MSG, "children", allow_duplicate=True),
        Output(ids.COV_REV, "data", allow_duplicate=True),
        Input(ids.COV_UNDO, "n_clicks"),
        State(ids.COV_LATEST, "data"),
        State(ids.COV_REV, "data"),
        State(ids.COV_CONFIG, "data"),
        prevent_initial_call=True,
    )
    def undo(clicks: int | None, change_id: Any, rev: int | None, config: dict[str, Any] | None) -> tuple:
        if not clicks:
            raise PreventUpdate
        ok, message = undo_latest(runtime, change_id, lang_of(runtime, config))
        return html.Span(message, className="cov-ok" if ok else "cov-error"), (rev or 0) + 1 if ok else no_update
