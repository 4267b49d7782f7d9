"""BookkeepingStore, on every backend: rejects and metadata."""

from __future__ import annotations


def test_rejects_are_kept_for_review(store) -> None:
    store.add_rejects("b1", [{"row_number": 7, "reason": "row 7: time missing", "original": {"id": "X", "lat": "?"}}])
    store.add_rejects("b2", [{"row_number": 2, "reason": "bad", "original": {}}])
    got = store.rejects("b1")
    assert list(got["row_number"]) == [7]
    assert got["original"].iloc[0] == {"id": "X", "lat": "?"}
    assert len(store.rejects()) == 2

def test_meta(store) -> None:
    assert store.get_meta("scenario") is None
    store.set_meta("scenario", "simulated")
    store.set_meta("scenario", "real")
    assert store.get_meta("scenario") == "real"
