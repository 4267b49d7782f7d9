"""Faults (issue 8): every ingest endpoint answers 503 with Retry-After when the store cannot take the data (so
the sender keeps it and retries); SQLite runs in WAL with a busy timeout on every connection, and writers in
two processes at once both succeed; pages keep and show their last good data while the store is down."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from ntpd_map.store.model import StoreUnavailable

RETRY_AFTER = "30"


def private_data_dir(tmp_path: Path, data_dir: Path) -> Path:
    """A data dir of one's own (its store, cache, initial admin password) sharing the session's boundaries and
    locator, so nothing is built twice and the session's files are never overwritten."""
    own = tmp_path / "data"
    own.mkdir()
    (own / "boundaries").symlink_to(data_dir / "boundaries", target_is_directory=True)
    return own


class DownStore:
    """A store that cannot be reached at all: every method raises StoreUnavailable, as both backends do when
    their server or file is gone (tests/store/test_postgis_restart.py stops a real server)."""

    backend = "down"

    def __getattr__(self, name: str) -> Any:
        def unavailable(*_args: Any, **_kwargs: Any) -> Any:
            raise StoreUnavailable(f"test: the store is down ({name})")

        return unavailable


# --------------------------------------------------------------------------------------- ingest answers 503


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory, runtime, data_dir: Path) -> Iterator[dict[str, Any]]:
    """An app on its own SQLite file (busy timeout 300 ms), with API keys, a registered unit and a desa."""
    from ntpd_map.access.keys import create_api_key
    from ntpd_map.config import Settings
    from ntpd_map.domain import AgencyKind, Unit
    from ntpd_map.factory import create_app
    from ntpd_map.runtime import Runtime
    from ntpd_map.store.sqlite import SQLiteStore

    runtime.locator  # noqa: B018 - the session builds boundaries and locator once; this app shares them
    own = private_data_dir(tmp_path_factory.mktemp("faults"), data_dir)
    path = own / "faults.sqlite"
    rt = Runtime(Settings.from_env(NTPD_DATA_DIR=str(own), NTPD_DATABASE_URL=f"sqlite:///{path}",
                                   NTPD_REGION="53.03", NTPD_SIMULATE="never", NTPD_TZ=""))
    store = SQLiteStore(path, busy_timeout_ms=300)  # a locked file answers within a test's patience
    store.migrate()
    rt.__dict__["store"] = store  # Runtime.store is a cached_property: this is the store it hands out
    store.upsert_units([Unit("dev-fault", "Ambulans 1", "RSUD Kefamenanu", AgencyKind.MEDICAL)])
    keys = {role: create_api_key(store, f"fault-{role}", role)[1] for role in ("ingest", "planner")}
    app = create_app(runtime=rt)
    yield {"runtime": rt, "client": app.server.test_client(), "keys": keys, "path": path,
           "desa": str(rt.region.desa["kode"].iloc[0])}
    store.close()


def ingest_requests(faulty: dict[str, Any]) -> dict[str, Any]:
    """One valid request to each ingest endpoint: name -> a function that sends it and returns the answer."""
    client, keys = faulty["client"], faulty["keys"]
    ingest = {"Authorization": f"Bearer {keys['ingest']}"}
    planner = {"Authorization": f"Bearer {keys['planner']}"}
    now = datetime.now(UTC)
    incident = {"id": f"F-{time.time_ns()}", "waktu": now.isoformat(timespec="seconds"), "jenis_panggilan": "darurat",
                "kategori": "kebakaran", "status": "proses", "lat": "-9.45", "lon": "124.48"}
    traccar = {"device": {"uniqueId": "dev-fault"},
               "position": {"fixTime": now.isoformat(timespec="seconds"), "latitude": -9.4, "longitude": 124.5,
                            "valid": True}}
    osmand = urlencode({"id": "dev-fault", "timestamp": int(now.timestamp()), "lat": -9.4, "lon": 124.5})
    return {
        "/api/incidents": lambda: client.post("/api/incidents", json=incident, headers=ingest),
        "/api/positions/osmand": lambda: client.get(f"/api/positions/osmand?{osmand}"),
        "/api/positions/traccar": lambda: client.post("/api/positions/traccar", json=traccar, headers=ingest),
        "/api/units/<device>/status": lambda: client.post("/api/units/dev-fault/status",
                                                          json={"status": "dispatched"}, headers=ingest),
        "/api/coverage/marks": lambda: client.post("/api/coverage/marks", headers=planner,
                                                   json={"kode_desa": faulty["desa"], "status": "weak"}),
    }


def test_every_ingest_endpoint_takes_data_while_the_store_is_up(faulty) -> None:
    """The requests below are valid: a 503 in the other tests is the store's doing, nothing else."""
    for name, send in ingest_requests(faulty).items():
        answer = send()
        assert answer.status_code in (200, 201), (name, answer.status_code, answer.get_data(as_text=True))


def test_every_ingest_endpoint_answers_503_while_the_file_is_locked(faulty) -> None:
    """A writer of another program holds the SQLite file (the key checks still read it, WAL): nothing is
    written, and each endpoint says 503 with Retry-After, so the sender keeps the data and retries."""
    store = faulty["runtime"].store
    before = (store.count_incidents(), len(store.track("dev-fault", 0)), len(store.coverage_history()))
    blocker = sqlite3.connect(faulty["path"], isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        for name, send in ingest_requests(faulty).items():
            t0 = time.monotonic()
            answer = send()
            assert answer.status_code == 503, (name, answer.status_code, answer.get_data(as_text=True))
            assert answer.headers.get("Retry-After") == RETRY_AFTER, (name, dict(answer.headers))
            assert time.monotonic() - t0 < 5, f"{name} waited {time.monotonic() - t0:.1f} s"
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert (store.count_incidents(), len(store.track("dev-fault", 0)), len(store.coverage_history())) == before


def test_every_ingest_endpoint_answers_503_while_the_store_is_unreachable(faulty, monkeypatch) -> None:
    """The whole store gone (even the API key cannot be checked): 503 with Retry-After, never 401 or 500."""
    monkeypatch.setattr(faulty["runtime"], "store", DownStore())
    for name, send in ingest_requests(faulty).items():
        answer = send()
        assert answer.status_code == 503, (name, answer.status_code, answer.get_data(as_text=True))
        assert answer.headers.get("Retry-After") == RETRY_AFTER, (name, dict(answer.headers))


# ------------------------------------------------------------------------------------------- SQLite settings


def _pragmas(store: Any) -> tuple[str, int]:
    conn = store._conn()
    return conn.execute("PRAGMA journal_mode").fetchone()[0], conn.execute("PRAGMA busy_timeout").fetchone()[0]


def test_every_sqlite_connection_is_wal_with_a_busy_timeout(tmp_path: Path) -> None:
    from ntpd_map.store import open_store

    store = open_store(f"sqlite:///{tmp_path / 'w.sqlite'}")
    store.migrate()
    seen = [_pragmas(store)]
    # one connection per thread: gunicorn's threads read and write through their own
    worker = threading.Thread(target=lambda: seen.append(_pragmas(store)))
    worker.start()
    worker.join(10)
    other = open_store(f"sqlite:///{tmp_path / 'w.sqlite'}")  # another worker process opens its own
    seen.append(_pragmas(other))
    assert seen == [("wal", 5000)] * 3
    store.close()
    other.close()


def _write_incidents(path: str, worker: int, batches: int, start: Any) -> int:
    """In a separate process: ``batches`` incident batches of 50 rows, then a meta value; rows written."""
    from ntpd_map.store import open_store
    from tests.store.fixtures import frame

    store = open_store(f"sqlite:///{path}")
    start.wait(30)  # both processes write at the same moment
    written = 0
    for b in range(batches):
        batch = frame(50, source=f"proc-{worker}", start=1_700_000_000 + 100_000 * b)
        batch["external_id"] = [f"P{worker}-{b}-{i}" for i in range(len(batch))]
        written += store.write_incidents(batch).inserted
        store.set_meta(f"proc-{worker}", str(b))
    store.close()
    return written


def test_two_processes_writing_incidents_at_once_both_succeed(tmp_path: Path) -> None:
    """Incident batches are not serialised by the position writers' lock file: two processes writing at once
    rely on WAL and the busy timeout, and neither loses a row or fails (the positions' own test is in
    tests/store/)."""
    from ntpd_map.store import open_store
    from ntpd_map.store.model import IncidentQuery

    path = str(tmp_path / "two.sqlite")
    open_store(f"sqlite:///{path}").migrate()
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager:
        start = manager.Event()
        with context.Pool(2) as pool:
            pending = pool.starmap_async(_write_incidents, [(path, w, 20, start) for w in range(2)])
            time.sleep(0.5)
            start.set()
            written = pending.get(120)
    assert written == [1000, 1000]
    store = open_store(f"sqlite:///{path}")
    assert store.count_incidents(IncidentQuery()) == 2000
    assert (store.get_meta("proc-0"), store.get_meta("proc-1")) == ("19", "19")
    store.close()


# ------------------------------------------------------------------------- pages keep their last good data


def dependencies(client: Any) -> dict[str, dict[str, Any]]:
    """The callbacks as the browser sees them (``/_dash-dependencies``), by output."""
    return {d["output"]: d for d in client.get("/_dash-dependencies").get_json()}


def call(client: Any, csrf: str, dep: dict[str, Any], values: dict[str, Any],
         changed: list[str] | None = None) -> dict[str, Any]:
    """POST one callback as dash-renderer does: inputs and states from ``values`` ("id.prop" -> value, missing
    ones None); the response's {component id: {prop: value}}, empty for a 204."""
    def spec(d: dict[str, Any]) -> dict[str, Any]:
        return {"id": d["id"], "property": d["property"], "value": values.get(f"{d['id']}.{d['property']}")}

    def parse(part: str) -> dict[str, Any]:
        component, prop = part.rsplit(".", 1)
        return {"id": component, "property": prop.split("@")[0]}

    output = dep["output"]
    outputs: Any = [parse(p) for p in output.strip(".").split("...")] if output.startswith("..") else parse(output)
    body = {"output": output, "outputs": outputs, "inputs": [spec(d) for d in dep["inputs"]],
            "state": [spec(d) for d in dep["state"]], "changedPropIds": changed or []}
    answer = client.post("/_dash-update-component", json=body, headers={"X-CSRFToken": csrf})
    assert answer.status_code in (200, 204), (output[:80], answer.status_code, answer.get_data(as_text=True)[:300])
    return {} if answer.status_code == 204 else answer.get_json()["response"]


def dep_with(deps: dict[str, dict[str, Any]], part: str) -> dict[str, Any]:
    (dep,) = [d for out, d in deps.items() if part in out]
    return dep


def text_of(component: Any) -> str:
    """All the text of a Dash component tree as JSON (a response's children)."""
    if isinstance(component, str | int | float):
        return str(component)
    if isinstance(component, list):
        return " ".join(text_of(c) for c in component)
    if isinstance(component, dict):
        return text_of(component.get("props", {}).get("children", ""))
    return ""


@pytest.fixture(scope="module")
def with_incidents(faulty) -> dict[str, Any]:
    """A few incidents of the last hour in the faulty app's store, and the simulation flag set."""
    import pandas as pd

    from ntpd_map.domain import INCIDENT_COLUMNS
    from ntpd_map.ingest.write import write_incidents

    rt = faulty["runtime"]
    now = int(time.time())
    rows = []
    for i in range(5):
        row: dict[str, Any] = dict.fromkeys(INCIDENT_COLUMNS)
        row.update(source="faults", external_id=f"LG-{i}", received_at=now - 600 * (i + 1), call_type="genuine",
                   category="fire", outcome="open", lat=-9.45 + 0.01 * i, lon=124.48, location_source="gps",
                   flags=0, simulated=False, attrs={})
        rows.append(row)
    write_incidents(rt.store, rt.locator, pd.DataFrame(rows, columns=list(INCIDENT_COLUMNS)))
    rt.store.set_meta("scenario", "simulated")  # the banner that must survive an outage
    return faulty


WALL_CONFIG = {"wall-config.data": {"lang": "id", "tz": "Asia/Makassar"}, "wall-tick.n_intervals": 1}


def test_a_wall_opened_while_the_store_is_down_shows_the_last_good_data(with_incidents, monkeypatch) -> None:
    from tests.conftest import sign_in

    rt, client = with_incidents["runtime"], with_incidents["client"]
    csrf = sign_in(client, rt.store, "wall")
    refresh = dep_with(dependencies(client), "wall-counters.children")
    good = call(client, csrf, refresh, {**WALL_CONFIG, "wall-sync.data": {}}, ["wall-tick.n_intervals"])
    assert good["wall-down"]["children"] == ""
    drawn = good["layer-incidents"]["data"]
    assert isinstance(drawn, str) and drawn, "no incidents drawn while the store is up"

    monkeypatch.setattr(rt, "store", DownStore())
    # the wall reboots: the router builds its layout without the store, simulation banner included...
    page = client.post("/_dash-update-component", headers={"X-CSRFToken": csrf}, json={
        "output": "page.children", "outputs": {"id": "page", "property": "children"},
        "inputs": [{"id": "url", "property": "pathname", "value": "/wall"},
                   {"id": "url", "property": "search", "value": ""}], "changedPropIds": ["url.pathname"]})
    assert page.status_code == 200
    assert '"wall-map"' in page.text and "retry-tick" not in page.text, "the wall's layout was not built"
    assert '"sim-banner"' in page.text, "a simulated wall lost its SIMULASI banner during the outage"
    # ...and its first refresh, with nothing drawn yet, shows the last good data with the banner
    down = call(client, csrf, refresh, {**WALL_CONFIG, "wall-sync.data": {}}, ["wall-tick.n_intervals"])
    assert down["layer-incidents"]["data"] == drawn
    assert text_of(down["wall-counters"]["children"]) == text_of(good["wall-counters"]["children"])
    assert text_of(down["wall-table"]["children"]) == text_of(good["wall-table"]["children"])
    banner = down["wall-down"]["children"]
    assert banner.startswith("Basis data tidak terjangkau - data terakhir "), banner
    import re

    assert re.search(r"data terakhir \d\d:\d\d\.", banner), banner
    # the next tick while still down changes nothing but the banner
    sync = down["wall-sync"]["data"]
    again = call(client, csrf, refresh, {**WALL_CONFIG, "wall-sync.data": sync}, ["wall-tick.n_intervals"])
    assert "layer-incidents" not in again and again["wall-down"]["children"] == banner

    monkeypatch.undo()  # the store is back: fresh data, no banner
    back = call(client, csrf, refresh, {**WALL_CONFIG, "wall-sync.data": sync}, ["wall-tick.n_intervals"])
    assert back["wall-down"]["children"] == "" and back["layer-incidents"]["data"] == drawn


def ops_values(**filters: Any) -> dict[str, Any]:
    values = {"ops-tick.n_intervals": 1, "f-window.value": "24h", "f-call-types.value": [], "f-lock.value": [],
              "ops-config.data": {"lang": "id", "tz": "Asia/Makassar"}, "ops-sync.data": {}}
    values.update(filters)
    return values


def test_an_ops_page_opened_while_the_store_is_down_shows_the_last_good_data(with_incidents, monkeypatch) -> None:
    from ntpd_map.cache import make_cache
    from tests.conftest import sign_in

    rt, client = with_incidents["runtime"], with_incidents["client"]
    csrf = sign_in(client, rt.store, "operator")
    refresh = dep_with(dependencies(client), "ops-counters.children")
    ids_ = {d["id"] for d in refresh["inputs"]} | {d["id"] for d in refresh["state"]}
    assert {"f-window", "f-call-types", "ops-sync", "ops-config"} <= ids_, ids_
    good = call(client, csrf, refresh, ops_values(), ["ops-tick.n_intervals"])
    assert good["down-banner"]["children"] == ""
    drawn = good["layer-incidents"]["data"]

    # what is kept is JSON text, small, in the shared cache every worker reads
    from flask import Flask

    kept = make_cache(Flask("probe"), rt.settings).get(f"last-good:ops:{rt.settings.region}:id")
    assert isinstance(kept, str) and len(kept) < 20_000, type(kept)

    monkeypatch.setattr(rt, "store", DownStore())
    down = call(client, csrf, refresh, ops_values(), ["ops-tick.n_intervals"])
    assert down["layer-incidents"]["data"] == drawn
    assert text_of(down["ops-counters"]["children"]) == text_of(good["ops-counters"]["children"])
    assert text_of(down["ops-list"]["children"]) == text_of(good["ops-list"]["children"])
    assert down["down-banner"]["children"].startswith("Basis data tidak terjangkau - data terakhir ")
    # other filters than a reloaded page starts with are not kept: the banner alone, nothing drawn
    other = call(client, csrf, refresh, ops_values(**{"f-call-types.value": ["prank"]}), ["ops-tick.n_intervals"])
    assert "layer-incidents" not in other and other["down-banner"]["children"].endswith("- data terakhir -. "
                                                                                              "Mencoba lagi otomatis.")

    monkeypatch.undo()
    back = call(client, csrf, refresh, ops_values(**{"ops-sync.data": down["ops-sync"]["data"]}),
                ["ops-tick.n_intervals"])
    assert back["down-banner"]["children"] == "" and back["layer-incidents"]["data"] == drawn


def test_a_unit_status_set_on_the_ops_page_is_audited(with_incidents) -> None:
    from tests.conftest import sign_in

    rt, client = with_incidents["runtime"], with_incidents["client"]
    csrf = sign_in(client, rt.store, "operator")
    set_status = dep_with(dependencies(client), "ops-unit-rev.data")
    since = int(time.time())
    answer = call(client, csrf, set_status, {"ops-unit-status-on_scene.n_clicks": 1,
                                             "ops-unit-picked.data": "dev-fault", "ops-unit-rev.data": 0,
                                             "ops-config.data": {"lang": "id"}}, ["ops-unit-status-on_scene.n_clicks"])
    assert answer["ops-unit-rev"]["data"] == 1, answer
    assert rt.store.units().set_index("device_id").loc["dev-fault", "status"] == "on_scene"
    log = rt.store.audit_log(since=since, action="unit.status")
    assert list(log["target"]) == ["dev-fault"] and list(log["actor"]) == ["user:operator-t"], log
    assert '"status":"on_scene"' in log["detail"].iloc[0].replace(" ", "")


def test_bookkeeping_writes_on_a_locked_file_say_the_store_is_unavailable(faulty) -> None:
    """Meta values (the briefing's notes), rejects and API keys go through the same write path as incidents: a
    locked file is StoreUnavailable (a 503 and a banner upstream), not a raw sqlite3 error, and nothing half-done."""
    from ntpd_map.store.model import StoreUnavailable

    store = faulty["runtime"].store
    keys_before, meta_before = len(store.api_keys()), store.get_meta("briefing_notes:2025-05")
    blocker = sqlite3.connect(faulty["path"], isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        for write in (lambda: store.set_meta("briefing_notes:2025-05", "catatan"),
                      lambda: store.add_rejects("locked", [{"row_number": 2, "reason": "x", "original": {}}]),
                      lambda: store.add_api_key("locked", "read", "h" * 64),
                      lambda: store.revoke_api_key(1)):
            with pytest.raises(StoreUnavailable, match="locked"):
                write()
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert (len(store.api_keys()), store.get_meta("briefing_notes:2025-05")) == (keys_before, meta_before)
    assert store.rejects("locked").empty
    store.set_meta("briefing_notes:2025-05", "catatan")  # and once the lock is gone, it lands
    assert store.get_meta("briefing_notes:2025-05") == "catatan"
