"""The wall's refresh (pages/wall/callbacks.py over pages/live.py): the whole 24 h goes out on the first tick and
then only every few minutes; in between, new incidents are appended to the ring layer with a Patch and the
counters are counted again, so a tick's answer does not grow with the window (bench/README.md, "Load"). An
updated incident redraws the whole; a row written while a tick reads is sent once, not twice."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.test_faults import call, dep_with, dependencies, private_data_dir, text_of

WALL = {"wall-config.data": {"lang": "id", "tz": "Asia/Makassar"}, "wall-tick.n_intervals": 1}
TICK = ["wall-tick.n_intervals"]


@pytest.fixture
def wall(tmp_path: Path, runtime, data_dir: Path) -> Iterator[dict[str, Any]]:
    """An app on its own SQLite store with three incidents of the last hour, signed in as a wall."""
    from ntpd_map.config import Settings
    from ntpd_map.factory import create_app
    from ntpd_map.runtime import Runtime
    from tests.conftest import sign_in

    runtime.locator  # noqa: B018 - built once per session, shared through the data dir
    own = private_data_dir(tmp_path, data_dir)
    rt = Runtime(Settings.from_env(NTPD_DATA_DIR=str(own), NTPD_DATABASE_URL=f"sqlite:///{own / 'wall.sqlite'}",
                                   NTPD_REGION="53.03", NTPD_SIMULATE="never", NTPD_TZ=""))
    rt.store.migrate()
    write(rt, range(3))
    app = create_app(runtime=rt)
    client = app.server.test_client()
    csrf = sign_in(client, rt.store, "wall")
    yield {"rt": rt, "client": client, "csrf": csrf, "refresh": dep_with(dependencies(client), "wall-counters")}
    rt.store.close()


def write(rt: Any, numbers: Any, outcome: str = "open") -> None:
    import pandas as pd

    from ntpd_map.domain import INCIDENT_COLUMNS
    from ntpd_map.ingest.write import write_incidents

    now = int(time.time())
    rows = []
    for i in numbers:
        row: dict[str, Any] = dict.fromkeys(INCIDENT_COLUMNS)
        row.update(source="wall-test", external_id=f"W-{i}", received_at=now - 60 * (10 - i), call_type="genuine",
                   category="fire", outcome=outcome, lat=-9.45 + 0.01 * i, lon=124.48, location_source="gps",
                   flags=0, simulated=False, attrs={})
        rows.append(row)
    write_incidents(rt.store, rt.locator, pd.DataFrame(rows, columns=list(INCIDENT_COLUMNS)))


def tick(w: dict[str, Any], sync: dict[str, Any]) -> dict[str, Any]:
    return call(w["client"], w["csrf"], w["refresh"], {**WALL, "wall-sync.data": sync}, TICK)


def appended(value: Any) -> list[int]:
    """The ids a Patch of the ring layer appends (dash.Patch serialised: one Extend of "features")."""
    assert value.get("__dash_patch_update") == "__dash_patch_update", value
    (op,) = value["operations"]
    assert op["operation"] == "Extend" and op["location"] == ["features"], op
    return [f["properties"]["id"] for f in op["params"]["value"]]


def calls_shown(answer: dict[str, Any]) -> int:
    return int(text_of(answer["wall-counters"]["children"]).split()[0].replace(".", ""))


def ids_of(rt: Any) -> dict[str, int]:
    from ntpd_map.store.model import IncidentQuery

    frame = rt.store.incidents(IncidentQuery(columns=("id", "external_id")))
    return dict(zip(frame["external_id"], frame["id"].astype(int), strict=True))


def test_new_incidents_are_appended_and_the_whole_is_sent_only_when_due(wall) -> None:
    from layers.incidents import EMPTY
    from tests.browser.conftest import geojson_from_layer_data

    rt = wall["rt"]
    first = tick(wall, {})
    drawn = geojson_from_layer_data(first["layer-incidents"]["data"])
    assert sorted(f["properties"]["id"] for f in drawn["features"]) == sorted(ids_of(rt).values())
    assert first["layer-incidents-new"]["data"] == EMPTY and calls_shown(first) == 3
    sync = first["wall-sync"]["data"]
    assert tick(wall, sync) == {}, "an idle wall was sent something"

    write(rt, [3, 4])
    second = tick(wall, sync)
    assert "layer-incidents" not in second, "the whole 24 h was sent again for two new incidents"
    assert sorted(appended(second["layer-incidents-new"]["data"])) == sorted([ids_of(rt)["W-3"], ids_of(rt)["W-4"]])
    assert calls_shown(second) == 5
    sync = second["wall-sync"]["data"]
    assert tick(wall, sync) == {}, "the same incidents were sent again"

    write(rt, [0], outcome="resolved")  # an update restyles a point already drawn: the whole goes out
    third = tick(wall, sync)
    redrawn = geojson_from_layer_data(third["layer-incidents"]["data"])
    assert {f["properties"]["id"]: f["properties"]["out"] for f in redrawn["features"]}[ids_of(rt)["W-0"]] == \
        "resolved"
    assert len(redrawn["features"]) == 5 and third["layer-incidents-new"]["data"] == EMPTY
    sync = third["wall-sync"]["data"]

    # the counters are counted again at least once a minute (the window slides), without the points...
    recount = tick(wall, {**sync, "ok_at": sync["ok_at"] - 61})
    assert calls_shown(recount) == 5 and "layer-incidents" not in recount and "layer-incidents-new" not in recount
    # ...and the whole is sent again every FULL_REFRESH_S, so incidents older than 24 h leave the map
    due = tick(wall, {**sync, "full_at": sync["full_at"] - 301})
    assert len(geojson_from_layer_data(due["layer-incidents"]["data"])["features"]) == 5


def test_a_row_written_while_the_wall_reads_is_sent_once(wall, monkeypatch) -> None:
    """data_version() is read before the rows: a row committed in between is in the answer, and the next tick
    must not send it again (nor redraw the whole because it looks like an update)."""
    rt = wall["rt"]
    sync = tick(wall, {})["wall-sync"]["data"]
    write(rt, [5])
    read = rt.store.data_version()  # the tick reads the version...
    write(rt, [6])  # ...then this row lands before it reads the rows
    monkeypatch.setattr(rt.store, "data_version", lambda: read)
    racing = tick(wall, sync)
    assert sorted(appended(racing["layer-incidents-new"]["data"])) == sorted([ids_of(rt)["W-5"], ids_of(rt)["W-6"]])
    monkeypatch.undo()
    assert tick(wall, racing["wall-sync"]["data"]) == {}, "a row was sent twice, or taken for an update"


def test_walls_that_redraw_together_share_one_read_and_never_go_back(wall, monkeypatch) -> None:
    """Fifty walls opened together redraw together: one read of the whole window serves them (WHOLE_S), the
    incidents written since reach each with its next Patch, a wall that has shown newer data than that
    read gets a fresh one, and so does a wall that opens after the data changed."""
    from tests.browser.conftest import geojson_from_layer_data

    rt = wall["rt"]
    reads: list[Any] = []
    batches = rt.store.incident_batches

    def counting(query: Any, *args: Any) -> Any:
        reads.append(query)
        return batches(query, *args)

    monkeypatch.setattr(rt.store, "incident_batches", counting)
    a, b = tick(wall, {}), tick(wall, {})
    assert len(reads) == 1 and a["layer-incidents"]["data"] == b["layer-incidents"]["data"]

    write(rt, [7])
    caught_up = tick(wall, a["wall-sync"]["data"])  # a wall already open gets W-7 with a Patch, no read
    assert appended(caught_up["layer-incidents-new"]["data"]) == [ids_of(rt)["W-7"]] and len(reads) == 1
    # its timed whole redraw: never from the read that lacks W-7
    sync = caught_up["wall-sync"]["data"]
    again = tick(wall, {**sync, "full_at": sync["full_at"] - 301})
    assert len(reads) == 2
    assert ids_of(rt)["W-7"] in {f["properties"]["id"] for f in
                                 geojson_from_layer_data(again["layer-incidents"]["data"])["features"]}
    # a wall that opens after a new call draws it at once
    write(rt, [8])
    opened = tick(wall, {})
    assert len(reads) == 3
    assert ids_of(rt)["W-8"] in {f["properties"]["id"] for f in
                                 geojson_from_layer_data(opened["layer-incidents"]["data"])["features"]}
