"""AuditStore, on every backend: the append-only log."""

from __future__ import annotations

import pandas as pd

from tests.store.fixtures import T0


def test_audit_log_is_newest_first_and_filters(store, monkeypatch) -> None:
    import json

    entries = [
        (T0, "cli:ana", "import.incidents", "kejadian.csv", {"inserted": 3, "updated": 1, "rejected": 0}),
        (T0 + 10, "api:simrs", "api.incidents", None, {"inserted": 2}),
        (T0 + 20, "cli:ana", "unit.add", "hp-01", None),
        (T0 + 20, "user:budi", "coverage.mark", "53.03.06.2001", {"change": 7, "status": "none"}),
    ]
    ids = []
    for at, actor, action, target, detail in entries:
        monkeypatch.setattr("ntpd_map.store.model.now_s", lambda at=at: at)
        ids.append(store.audit(actor, action, target, detail))
    assert ids == sorted(ids) and len(set(ids)) == 4

    log = store.audit_log()
    assert list(log.columns) == ["id", "at", "actor", "action", "target", "detail"]
    assert list(log["id"]) == ids[::-1]
    assert list(log["at"]) == [T0 + 20, T0 + 20, T0 + 10, T0]
    assert list(log["action"]) == ["coverage.mark", "unit.add", "api.incidents", "import.incidents"]
    first = log.iloc[-1]
    assert (first["actor"], first["target"]) == ("cli:ana", "kejadian.csv")
    assert json.loads(first["detail"]) == {"inserted": 3, "updated": 1, "rejected": 0}
    assert first["detail"] == '{"inserted": 3, "rejected": 0, "updated": 1}', "detail is JSON with sorted keys"
    assert pd.isna(log.iloc[1]["detail"]) and pd.isna(log.iloc[2]["target"])

    assert list(store.audit_log(since=T0 + 10)["id"]) == ids[:0:-1]
    assert list(store.audit_log(action="unit.add")["id"]) == [ids[2]]
    assert list(store.audit_log(actor="cli:ana")["id"]) == [ids[2], ids[0]]
    assert list(store.audit_log(actor="cli:ana", since=T0 + 1)["id"]) == [ids[2]]
    assert list(store.audit_log(actor="cli:ana", action="api.incidents")["id"]) == []
    assert list(store.audit_log(limit=2)["id"]) == [ids[3], ids[2]]
    assert store.audit_log(limit=0).empty
    assert store.audit_log(actor="x' OR '1'='1").empty  # filter values are parameters, never SQL

    monkeypatch.setattr("ntpd_map.store.model.now_s", lambda: T0 - 3600)  # a clock set back
    late = store.audit("cli:ana", "unit.remove", "hp-01", {})
    assert store.audit_log(limit=1)["id"].tolist() == [late], "newest is the last appended, whatever the clock"
    assert store.audit_log(limit=1)["detail"].iloc[0] == "{}"
