"""The briefing page (/briefing, issue 9) through the real app and its gate, with the Flask test client: who opens
it, the exact TTU figures its callback renders, the Dinas's notes (planners and admins write, operators read,
both audited), periods that cannot be read, a store that is down, and the PDF and XLSX downloads."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from ntpd_map.briefing import Period, read_notes
from ntpd_map.ingest.simulate import REPORTED, load_scenario
from ntpd_map.store.model import StoreUnavailable
from tests.conftest import sign_in

TTU = REPORTED["ttu-2025"]
TTU_KEY = "2025-05-01..2025-09-30"


@pytest.fixture(scope="module")
def app(runtime, tmp_path_factory: pytest.TempPathFactory):
    """The real app on a store holding TTU's published May-September 2025 totals (simulated details)."""
    from ntpd_map.config import Settings
    from ntpd_map.factory import create_app
    from ntpd_map.runtime import Runtime

    path: Path = tmp_path_factory.mktemp("briefing-page")
    rt = Runtime(Settings.from_env(NTPD_DATA_DIR=str(path), NTPD_REGION="53.03", NTPD_SIMULATE="off",
                                   NTPD_TILE_URL="", NTPD_DATABASE_URL=f"sqlite:///{path / 'ttu.sqlite'}"))
    rt.__dict__["region"] = runtime.region
    rt.__dict__["locator"] = runtime.locator
    load_scenario(rt.store, rt.region, rt.locator, reported=TTU)
    built = create_app(runtime=rt)
    client = built.server.test_client()
    sign_in(client, rt.store, "admin")
    built.ntpd_deps = {d["output"]: d for d in client.get("/_dash-dependencies").get_json()}  # type: ignore[attr-defined]
    return built


@pytest.fixture(scope="module")
def rt(app):
    return app.server.extensions["ntpd_runtime"]


def client_as(app: Any, role: str) -> tuple[Any, str]:
    client = app.server.test_client()
    return client, sign_in(client, app.server.extensions["ntpd_runtime"].store, role)


def call(app: Any, client: Any, csrf: str, marker: str, values: dict[str, Any],
         changed: str | None = None) -> Any:
    """Post the callback whose output names ``marker`` as dash-renderer does, inputs and states from ``values``
    (``"id.prop"`` -> value, else None); the response."""
    output = next(o for o in app.ntpd_deps if marker in o)
    dep = app.ntpd_deps[output]

    def spec(d: dict[str, Any]) -> dict[str, Any]:
        return {"id": d["id"], "property": d["property"], "value": values.get(f"{d['id']}.{d['property']}")}

    def parse(part: str) -> dict[str, Any]:
        component, prop = part.rsplit(".", 1)
        return {"id": component, "property": prop.split("@")[0]}

    outputs: Any = [parse(p) for p in output.strip(".").split("...")] if output.startswith("..") else parse(output)
    body = {"output": output, "outputs": outputs, "inputs": [spec(d) for d in dep["inputs"]],
            "state": [spec(d) for d in dep["state"]], "changedPropIds": [changed] if changed else []}
    return client.post("/_dash-update-component", json=body, headers={"X-CSRFToken": csrf})


def fill(app: Any, client: Any, csrf: str, key: str, lang: str = "id", sync: dict[str, Any] | None = None) -> Any:
    return call(app, client, csrf, "br-headline.children",
                {"br-period.data": key, "br-config.data": {"lang": lang}, "br-sync.data": sync or {}},
                changed="br-period.data")


def texts(component: Any) -> list[str]:
    """Every text in a serialized Dash component tree, in order."""
    if isinstance(component, str):
        return [component]
    if isinstance(component, (int, float)):
        return [str(component)]
    if isinstance(component, list):
        return [s for c in component for s in texts(c)]
    if isinstance(component, dict):
        return texts(component.get("props", {}).get("children"))
    return []


def by_id(component: Any, wanted: str) -> Any:
    """The serialized component with id ``wanted`` in a tree, or None."""
    if isinstance(component, list):
        return next((found for c in component if (found := by_id(c, wanted)) is not None), None)
    if isinstance(component, dict):
        props = component.get("props", {})
        if props.get("id") == wanted:
            return component
        return by_id(props.get("children"), wanted)
    return None


def rows(table: Any, part: str) -> list[list[str]]:
    """The cell texts of each row of a serialized table's Thead, Tbody or Tfoot."""
    section = next(c for c in table["props"]["children"] if c["type"] == part)
    body = section["props"]["children"]
    return [[" ".join(texts(cell)) for cell in row["props"]["children"]] for row in
            (body if isinstance(body, list) else [body])]


def route(app: Any, client: Any, csrf: str, search: str = "") -> Any:
    body = {"output": "page.children", "outputs": {"id": "page", "property": "children"},
            "inputs": [{"id": "url", "property": "pathname", "value": "/briefing"},
                       {"id": "url", "property": "search", "value": search}], "changedPropIds": ["url.pathname"]}
    return client.post("/_dash-update-component", json=body, headers={"X-CSRFToken": csrf})


# who opens it ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("role", ["operator", "planner", "admin", "wall"])
def test_the_page_opens_for_operators_planners_and_admins_not_for_a_wall(app, role: str) -> None:
    client, csrf = client_as(app, role)
    answer = client.get("/briefing", headers={"Accept": "text/html"})
    assert answer.status_code == (403 if role == "wall" else 200)
    page = route(app, client, csrf, f"?period={TTU_KEY}")
    assert page.status_code == 200
    if role == "wall":
        assert "forbidden" in page.text and "br-headline" not in page.text
        return
    layout = page.get_json()["response"]["page"]["children"]
    assert by_id(layout, "br-headline") is not None and by_id(layout, "br-map") is not None
    assert by_id(layout, "br-label")["props"]["children"] == "1 Mei 2025 - 30 September 2025"
    assert by_id(layout, "br-period")["props"]["data"] == TTU_KEY
    notes = by_id(layout, "br-notes")["props"]
    # planners and admins write the notes; an operator reads them, without a save button
    assert (by_id(layout, "br-notes-save") is not None) == (role != "operator")
    assert notes["readOnly"] == (role == "operator")


def test_the_default_period_is_the_last_complete_month_in_the_centers_zone(app, rt) -> None:
    from ntpd_map.briefing import default_period
    from ntpd_map.views import local_today

    client, csrf = client_as(app, "operator")
    layout = route(app, client, csrf).get_json()["response"]["page"]["children"]
    expected = default_period(local_today(rt.settings.tz))
    assert by_id(layout, "br-period")["props"]["data"] == expected.key
    assert by_id(layout, "br-kind")["props"]["value"] == "month"
    assert by_id(layout, "br-month")["props"]["value"] == expected.key


# the figures -------------------------------------------------------------------------------------------------
def test_the_page_shows_ttu_published_figures_exactly(app, rt) -> None:
    client, csrf = client_as(app, "operator")
    answer = fill(app, client, csrf, TTU_KEY)
    assert answer.status_code == 200, answer.text[:500]
    out = answer.get_json()["response"]
    cards = out["br-headline"]["children"]
    shown = {key: " ".join(texts(by_id(cards, f"br-h-{key}"))) for key in
             ("calls", "genuine", "resolved", "not_followed_up", "open")}
    assert shown == {"calls": "4.428", "genuine": "167", "resolved": "144", "not_followed_up": "23", "open": "0"}
    assert out["br-label"]["children"] == "1 Mei 2025 - 30 September 2025"
    assert out["br-previous"]["children"] == "dibanding 29 November 2024 - 30 April 2025"
    assert out["br-sim"]["children"]["props"]["children"].startswith("SIMULASI")
    assert out["br-down"]["children"] == ""

    # the agency table: one row per agency of the recap (what /api/recap answers), then the total
    from ntpd_map.analytics.recap import recap

    by_agency = recap(rt.store, Period.parse(TTU_KEY).first, Period.parse(TTU_KEY).last, rt.settings.tz)[
        "genuine"]["by_agency"]
    assert len(by_agency) == 6
    table = out["br-agencies"]["children"]
    body = rows(table, "Tbody")
    assert len(body) == len(by_agency)
    for name, received, resolved, nfu, still_open, *minutes in body:
        a = by_agency[name]
        assert [received, resolved, nfu, still_open] == [str(a["total"]), str(a["resolved"]),
                                                         str(a["not_followed_up"]), str(a["open"])]
        assert minutes == [f"{a[k][m]:.1f}".replace(".", ",") for k in ("dispatch", "arrival")
                           for m in ("median", "p90")]
    assert sum(int(r[1]) for r in body) == 167
    assert rows(table, "Tfoot")[0][:5] == ["Jumlah", "167", "144", "23", "0"]
    assert rows(table, "Thead")[0][:3] == ["Instansi", "Diterima", "Selesai"]

    # every kecamatan, in the table and on the map
    kecamatan = rows(out["br-kecamatan"]["children"], "Tbody")
    assert len(kecamatan) == len(rt.region.kecamatan) == 24
    assert set(out["br-map-data"]["data"]["values"]["genuine_per_10k"]) == set(rt.region.kecamatan["kode"])
    # the weekly charts count every call and every genuine call of the period
    calls, genuine = out["br-weekly-calls"]["figure"], out["br-weekly-genuine"]["figure"]
    assert sum(sum(trace["y"]) for trace in calls["data"]) == 4428
    assert sum(sum(trace["y"]) for trace in genuine["data"]) == 167
    # ten kecamatan and ten desa, each with its reason
    for key in ("br-top-socialisation", "br-top-bts"):
        top = rows(out[key]["children"], "Tbody")
        assert len(top) == 10 and all(r[-1] for r in top)
    assert out["br-pdf"]["href"] == f"/briefing/pdf?period={TTU_KEY}&lang=id"
    assert out["br-xlsx"]["href"] == f"/briefing/xlsx?period={TTU_KEY}&lang=id"

    english = fill(app, client, csrf, TTU_KEY, lang="en").get_json()["response"]
    assert " ".join(texts(by_id(english["br-headline"]["children"], "br-h-calls"))) == "4,428"
    assert rows(english["br-agencies"]["children"], "Tfoot")[0][0] == "Total"


def test_changes_against_the_period_before_are_coloured_by_whether_up_is_good(app, rt) -> None:
    from ntpd_map.briefing import build

    client, csrf = client_as(app, "operator")
    cards = fill(app, client, csrf, "2025-08").get_json()["response"]["br-headline"]["children"]
    headline = build(rt, Period.parse("2025-08")).headline
    for key, change in headline.items():
        element = by_id(cards, f"br-h-{key}-change")["props"]
        if change.delta == 0:
            assert "same" in element["className"] and element["children"] == "tetap"
            continue
        up_good = {"resolved": True, "prank": False, "ghost_dropped": False, "not_followed_up": False,
                   "open": False}.get(key)
        expected = "neutral" if up_good is None else "good" if (change.delta > 0) == up_good else "bad"
        assert expected in element["className"], (key, change, element)
        sign = "+" if change.delta > 0 else ""
        assert element["children"].startswith(("▲ " if change.delta > 0 else "▼ ") + f"{sign}{change.delta}")


def test_a_refresh_with_nothing_new_sends_nothing_and_never_overwrites_the_notes_being_typed(app) -> None:
    client, csrf = client_as(app, "planner")
    first = fill(app, client, csrf, TTU_KEY).get_json()["response"]
    sync = first["br-sync"]["data"]
    tick = call(app, client, csrf, "br-headline.children",
                {"br-period.data": TTU_KEY, "br-tick.n_intervals": 1, "br-sync.data": sync,
                 "br-config.data": {"lang": "id"}}, changed="br-tick.n_intervals")
    assert tick.status_code == 204
    # data moved: the page is refreshed, but the notes box is left as the person has it
    again = call(app, client, csrf, "br-headline.children",
                 {"br-period.data": TTU_KEY, "br-tick.n_intervals": 2, "br-sync.data": {**sync, "version": -1},
                  "br-config.data": {"lang": "id"}}, changed="br-tick.n_intervals").get_json()["response"]
    assert "br-headline" in again and "br-notes" not in again


def test_the_map_is_coloured_by_the_chosen_metric(app) -> None:
    from layers.choropleth import RAMPS

    client, csrf = client_as(app, "operator")
    data = fill(app, client, csrf, TTU_KEY).get_json()["response"]["br-map-data"]["data"]
    for metric in ("genuine_per_10k", "prank_share", "socialisation"):
        values = {"br-map-metric.value": metric, "br-map-data.data": data, "br-config.data": {"lang": "id"}}
        out = call(app, client, csrf, "layer-kecamatan-choropleth.hideout", values).get_json()["response"]
        hideout = out["layer-kecamatan-choropleth"]["hideout"]
        assert hideout["metric"] == metric and len(hideout["values"]) == 24
        assert set(hideout["colors"]) <= set(RAMPS[metric]) and hideout["breaks"] == sorted(hideout["breaks"])
        legend = texts(out["br-legend"]["children"])
        assert legend[0] == hideout["labels"]["metric"] and len(legend) == len(hideout["colors"]) + 1
        # a share is written in percent, as the kecamatan table writes it
        assert all(label.endswith("%") for label in legend[1:]) == (metric == "prank_share")


# the notes ---------------------------------------------------------------------------------------------------
def save(app: Any, client: Any, csrf: str, key: str, text: str) -> Any:
    return call(app, client, csrf, "br-notes-msg.children",
                {"br-notes-save.n_clicks": 1, "br-notes.value": text, "br-period.data": key,
                 "br-config.data": {"lang": "id"}}, changed="br-notes-save.n_clicks")


def test_notes_are_saved_by_a_planner_refused_to_an_operator_and_both_are_audited(app, rt) -> None:
    store = rt.store
    period = Period.parse("2025-06")
    client, csrf = client_as(app, "planner")
    answer = save(app, client, csrf, period.key, "  Sosialisasi 112 di Biboki Tan Pah bersama camat.\r\n")
    assert answer.status_code == 200
    message = answer.get_json()["response"]["br-notes-msg"]["children"]
    assert message["props"]["className"] == "ok" and message["props"]["children"].startswith("Catatan disimpan")
    assert read_notes(store, period) == "Sosialisasi 112 di Biboki Tan Pah bersama camat."
    entry = store.audit_log(action="briefing.notes").iloc[0]
    assert (entry["actor"], entry["target"]) == ("user:planner-t", "2025-06")

    operator, op_csrf = client_as(app, "operator")
    refused = save(app, operator, op_csrf, period.key, "diganti operator").get_json()["response"]["br-notes-msg"]
    assert refused["children"]["props"]["children"] == ("Tidak tersimpan: operator-t (operator) hanya dapat membaca "
                                                        "catatan.")
    assert read_notes(store, period) == "Sosialisasi 112 di Biboki Tan Pah bersama camat."  # unchanged
    attempt = store.audit_log(action="briefing.notes.refused").iloc[0]
    assert (attempt["actor"], attempt["target"]) == ("user:operator-t", "2025-06")
    assert len(store.audit_log(action="briefing.notes")) == 1

    # the page shows the saved notes for that period, to the operator too (read-only)
    shown = fill(app, operator, op_csrf, period.key).get_json()["response"]
    assert shown["br-notes"]["value"] == "Sosialisasi 112 di Biboki Tan Pah bersama camat."

    too_long = save(app, client, csrf, period.key, "x" * 4001).get_json()["response"]["br-notes-msg"]
    assert too_long["children"]["props"]["children"].startswith("Tidak tersimpan: catatan paling banyak 4.000")
    assert read_notes(store, period).startswith("Sosialisasi")


# periods that cannot be read ---------------------------------------------------------------------------------
def test_a_period_that_cannot_be_read_is_named_with_the_forms_that_work(app) -> None:
    client, csrf = client_as(app, "operator")
    values = {"br-kind.value": "month", "br-month.value": "2025-13", "br-config.data": {"lang": "id"}}
    out = call(app, client, csrf, "br-period.data", values, changed="br-month.value").get_json()["response"]
    assert out["br-period"]["data"] is None
    assert out["br-period-msg"]["children"].startswith('Periode "2025-13" tidak dapat dibaca. Tulis 2025-05 (bulan)')
    # custom dates, the end before the start
    values = {"br-kind.value": "custom", "br-range.start_date": "2025-09-30", "br-range.end_date": "2025-05-01",
              "br-config.data": {"lang": "en"}}
    out = call(app, client, csrf, "br-period.data", values, changed="br-range.end_date").get_json()["response"]
    assert out["br-period"]["data"] is None
    assert out["br-period-msg"]["children"].startswith('The period "2025-09-30..2025-05-01" cannot be read')
    # a good choice: its key, the right picker shown
    values = {"br-kind.value": "quarter", "br-quarter.value": "2025-Q3", "br-config.data": {"lang": "id"}}
    out = call(app, client, csrf, "br-period.data", values, changed="br-kind.value").get_json()["response"]
    assert out["br-period"]["data"] == "2025-Q3" and out["br-period-msg"]["children"] == ""
    assert [out[f"br-{k}-wrap"]["className"] for k in ("month", "quarter", "range")] == [
        "br-pick hidden", "br-pick", "br-pick hidden"]
    # in the URL: the page opens on the default period and says why
    layout = route(app, client, csrf, "?period=kemarin").get_json()["response"]["page"]["children"]
    assert by_id(layout, "br-period-msg")["props"]["children"].startswith('Periode "kemarin" tidak dapat dibaca')
    # a download of it: 400, in words
    for path in ("/briefing/pdf?period=2025-13", "/briefing/xlsx?period=", "/briefing/pdf",
                 "/briefing/xlsx?period=2025-09-30..2025-05-01&lang=en"):
        answer = client.get(path)
        assert answer.status_code == 400, path
        assert answer.mimetype == "text/plain" and "2025-Q2" in answer.text, answer.text


# the store down ----------------------------------------------------------------------------------------------
def test_a_store_that_is_down_is_said_on_the_page_and_by_the_downloads(app, rt, monkeypatch) -> None:
    client, csrf = client_as(app, "operator")

    def down(*_args: object, **_kwargs: object) -> None:
        raise StoreUnavailable("test: the database stopped answering")

    monkeypatch.setattr(rt.store, "incidents", down)
    monkeypatch.setattr(rt.store, "data_version", down)
    # the page itself is built without the store
    page = route(app, client, csrf, f"?period={TTU_KEY}")
    assert page.status_code == 200 and by_id(page.get_json()["response"]["page"]["children"], "br-headline")
    answer = fill(app, client, csrf, TTU_KEY)
    assert answer.status_code == 200
    out = answer.get_json()["response"]
    assert out["br-down"]["children"] == ("Basis data tidak terjangkau - laporan belum dapat dibuat. Mencoba lagi "
                                          "otomatis.")
    assert out["br-sync"]["data"]["down"] is True and "br-headline" not in out  # the last good view stays
    for fmt in ("pdf", "xlsx"):
        download = client.get(f"/briefing/{fmt}?period={TTU_KEY}")
        assert download.status_code == 503 and download.headers["Retry-After"] == "30"
        assert "Basis data tidak terjangkau" in download.text and "Traceback" not in download.text
    monkeypatch.undo()
    back = fill(app, client, csrf, TTU_KEY, sync=out["br-sync"]["data"]).get_json()["response"]
    assert back["br-down"]["children"] == "" and "br-headline" in back


# the downloads -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("fmt", "key", "name", "magic"), [
    ("pdf", TTU_KEY, "briefing_53.03_2025-05-01_2025-09-30_SIMULASI.pdf", b"%PDF"),
    ("xlsx", "2025-05", "briefing_53.03_2025-05_SIMULASI.xlsx", b"PK"),
])
def test_downloads_are_attachments_named_by_region_and_period_never_cached(app, fmt: str, key: str, name: str,
                                                                        magic: bytes) -> None:
    client, _csrf = client_as(app, "operator")
    answer = client.get(f"/briefing/{fmt}?period={key}&lang=id")
    assert answer.status_code == 200, answer.text[:300]
    assert answer.headers["Content-Disposition"] == f'attachment; filename="{name}"'
    assert "no-store" in answer.headers["Cache-Control"]
    assert answer.data.startswith(magic)
    assert answer.mimetype == {"pdf": "application/pdf",
                               "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}[fmt]


def test_downloads_take_the_pages_roles(app) -> None:
    anonymous = app.server.test_client()
    answer = anonymous.get(f"/briefing/pdf?period={TTU_KEY}", headers={"Accept": "text/html"})
    assert answer.status_code == 302 and answer.location.startswith("/login?next=")
    assert anonymous.get("/briefing/xlsx", headers={"Accept": "application/json"}).status_code == 401
    wall, _csrf = client_as(app, "wall")
    for fmt in ("pdf", "xlsx"):
        refused = wall.get(f"/briefing/{fmt}?period={TTU_KEY}")
        assert refused.status_code == 403 and re.search(r"wall", refused.text)
