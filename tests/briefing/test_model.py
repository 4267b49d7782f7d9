"""The briefing's model (issue 9): periods, the recap it reads, TTU's published figures shown exactly."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ntpd_map.analytics.recap import NO_AGENCY, recap_from_frame
from ntpd_map.briefing import HEADLINE, Change, Period, build, default_period, read_notes, save_notes
from ntpd_map.ingest.simulate import REPORTED, Reported, load_scenario

TTU = REPORTED["ttu-2025"]
TTU_PERIOD = Period.parse("2025-05-01..2025-09-30")


@pytest.fixture(scope="module")
def ttu_rt(runtime, tmp_path_factory: pytest.TempPathFactory):
    """A runtime whose store holds TTU's published May-September 2025 totals (simulated details), sharing the
    session's TTU boundaries and locator."""
    from ntpd_map.config import Settings
    from ntpd_map.runtime import Runtime

    path: Path = tmp_path_factory.mktemp("ttu-2025")
    rt = Runtime(Settings.from_env(NTPD_DATA_DIR=str(path), NTPD_REGION="53.03", NTPD_SIMULATE="off",
                                   NTPD_DATABASE_URL=f"sqlite:///{path / 'ttu.sqlite'}"))
    rt.__dict__["region"] = runtime.region
    rt.__dict__["locator"] = runtime.locator
    load_scenario(rt.store, rt.region, rt.locator, reported=TTU)
    return rt


@pytest.fixture(scope="module")
def ttu_briefing(ttu_rt):
    return build(ttu_rt, TTU_PERIOD, now=int(datetime(2025, 10, 6, 1, 0, tzinfo=UTC).timestamp()))


# --- periods ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "kind", "first", "last", "before"), [
    ("2025-05", "month", date(2025, 5, 1), date(2025, 5, 31), ("2025-04-01", "2025-04-30")),
    ("2024-03", "month", date(2024, 3, 1), date(2024, 3, 31), ("2024-02-01", "2024-02-29")),  # leap year
    ("2025-01", "month", date(2025, 1, 1), date(2025, 1, 31), ("2024-12-01", "2024-12-31")),
    ("2025-Q2", "quarter", date(2025, 4, 1), date(2025, 6, 30), ("2025-01-01", "2025-03-31")),
    ("2025-q1", "quarter", date(2025, 1, 1), date(2025, 3, 31), ("2024-10-01", "2024-12-31")),
    ("2025-05-01..2025-09-30", "custom", date(2025, 5, 1), date(2025, 9, 30), ("2024-11-29", "2025-04-30")),
    ("2025-06-01..2025-06-30", "month", date(2025, 6, 1), date(2025, 6, 30), ("2025-05-01", "2025-05-31")),
    ("2025-07-01..2025-09-30", "quarter", date(2025, 7, 1), date(2025, 9, 30), ("2025-04-01", "2025-06-30")),
    ("2025-06-10..2025-06-10", "custom", date(2025, 6, 10), date(2025, 6, 10), ("2025-06-09", "2025-06-09")),
])
def test_period_parse_and_previous(text, kind, first, last, before) -> None:
    period = Period.parse(text)
    assert (period.kind, period.first, period.last) == (kind, first, last)
    assert Period.parse(period.key) == period  # the key reads back (URLs, file names, notes)
    prev = period.previous()
    assert (prev.first.isoformat(), prev.last.isoformat()) == before
    assert prev.days == period.days or kind != "custom"


@pytest.mark.parametrize("text", ["", "2025", "2025-13", "2025-Q5", "2025-05-10..2025-05-01", "mei 2025",
                                  "2025-02-30..2025-03-01"])
def test_bad_periods_are_refused_with_the_accepted_forms(text) -> None:
    with pytest.raises(ValueError, match=r"write 2025-05 \(a month\), 2025-Q2 \(a quarter\) or 2025-05-01\.\.20"):
        Period.parse(text)


def test_period_labels_and_default() -> None:
    assert Period.parse("2025-05").label("id") == "Mei 2025"
    assert Period.parse("2025-05").label("en") == "May 2025"
    assert Period.parse("2025-Q3").label("id") == "Triwulan III 2025"
    assert TTU_PERIOD.label("id") == "1 Mei 2025 - 30 September 2025"
    assert default_period(date(2026, 1, 23)) == Period.month(2025, 12)
    assert default_period(date(2026, 3, 1)) == Period.month(2026, 2)


def test_change_percent() -> None:
    assert (Change(120, 100).delta, Change(120, 100).percent) == (20, 20.0)
    assert Change(5, 0).percent is None and Change(0, 0).delta == 0
    assert Change(23, 30).percent == -23.3


# --- the recap the briefing reads ------------------------------------------------------------------------------

def frame(rows: list[dict]) -> pd.DataFrame:
    base = {"call_type": "genuine", "outcome": "resolved", "agency": "Damkar TTU", "category": "fire",
            "kode_kec": "53.03.01", "received_at": 0, "dispatched_at": pd.NA, "arrived_at": pd.NA,
            "resolved_at": pd.NA}
    out = pd.DataFrame([{**base, **r} for r in rows])
    for col in ("dispatched_at", "arrived_at", "resolved_at"):
        out[col] = out[col].astype("Int64")
    return out


def test_recap_response_minutes_per_agency_are_percentiles_of_that_agency() -> None:
    t0 = 1_750_000_000
    damkar = [3, 5, 8, 13, 21]
    polres = [2, 4]
    rows = [{"received_at": t0, "dispatched_at": t0 + 60 * m, "arrived_at": t0 + 600 * m} for m in damkar]
    rows += [{"agency": "Polres TTU", "received_at": t0, "dispatched_at": t0 + 60 * m} for m in polres]
    rows += [{"agency": None, "outcome": "not_followed_up"}, {"call_type": "prank", "agency": None}]
    out = recap_from_frame(frame(rows))
    by = out["genuine"]["by_agency"]
    assert by["Damkar TTU"]["dispatch"] == {"n": 5, "median": 8.0, "p90": round(float(np.percentile(damkar, 90)), 1)}
    assert by["Damkar TTU"]["arrival"]["median"] == 80.0
    assert by["Polres TTU"]["dispatch"] == {"n": 2, "median": 3.0, "p90": 3.8}
    assert by["Polres TTU"]["arrival"] == {"n": 0, "median": None, "p90": None}
    assert by[NO_AGENCY] | {"dispatch": None, "arrival": None} == {
        "total": 1, "resolved": 0, "not_followed_up": 1, "open": 0, "dispatch": None, "arrival": None}
    assert "prank" not in str(by)  # only genuine calls are given to an agency


def test_recap_counts_per_kecamatan() -> None:
    rows = [{"kode_kec": "53.03.01"}, {"kode_kec": "53.03.01", "call_type": "prank"},
            {"kode_kec": "53.03.02", "call_type": "ghost"}, {"kode_kec": "53.03.02", "call_type": "dropped"},
            {"kode_kec": "53.03.02", "outcome": "not_followed_up"}, {"kode_kec": None}]
    kec = recap_from_frame(frame(rows))["kecamatan"]
    assert kec == {
        "53.03.01": {"calls": 2, "genuine": 1, "prank": 1, "ghost_dropped": 0, "resolved": 1, "not_followed_up": 0},
        "53.03.02": {"calls": 3, "genuine": 1, "prank": 0, "ghost_dropped": 2, "resolved": 0, "not_followed_up": 1},
    }


# --- TTU's published figures -----------------------------------------------------------------------------------

def test_reported_totals_are_validated_and_tied_to_their_region(ttu_rt, runtime) -> None:
    with pytest.raises(ValueError, match="must equal genuine"):
        Reported("x", "53.03", date(2025, 5, 1), date(2025, 5, 31), calls=10, genuine=5, resolved=3,
                 not_followed_up=1, source="-")
    from ntpd_map.ingest.simulate import simulate

    with pytest.raises(ValueError, match=r"for region 35\.07, not 53\.03"):
        simulate(runtime.region, reported=Reported("y", "35.07", date(2025, 5, 1), date(2025, 5, 31), calls=10,
                                          genuine=2, resolved=1, not_followed_up=1, source="-"))


def test_ttu_briefing_shows_the_published_figures_exactly(ttu_briefing) -> None:
    b = ttu_briefing
    assert b.simulated  # the details are simulated and said to be
    assert {k: b.headline[k].value for k in ("calls", "genuine", "resolved", "not_followed_up", "open")} == {
        "calls": 4428, "genuine": 167, "resolved": 144, "not_followed_up": 23, "open": 0}
    by_type = b.recap["calls"]["by_call_type"]
    assert b.headline["prank"].value == by_type["prank"] > 0
    assert b.headline["ghost_dropped"].value == by_type["ghost"] + by_type["dropped"]
    assert list(b.headline) == list(HEADLINE)
    # nothing before May 2025: every change is against zero
    assert all(c.previous == 0 and c.percent is None for c in b.headline.values())


def test_ttu_agency_table_is_the_recap_per_agency(ttu_briefing) -> None:
    b = ttu_briefing
    table = b.agencies()
    by = b.recap["genuine"]["by_agency"]
    assert len(table) == len(by) >= 5
    assert table["received"].sum() == 167
    assert table["resolved"].sum() == 144 and table["not_followed_up"].sum() == 23
    for row in table.itertuples(index=False):
        a = by[row.agency]
        assert (row.received, row.resolved, row.not_followed_up) == (a["total"], a["resolved"], a["not_followed_up"])
        assert (row.dispatch_median, row.arrival_p90) == (a["dispatch"]["median"], a["arrival"]["p90"])
    assert list(table["received"]) == sorted(table["received"], reverse=True)
    total = b.agency_total()
    assert (total["received"], total["resolved"], total["not_followed_up"]) == (167, 144, 23)
    assert total["dispatch_median"] == b.recap["response_minutes"]["dispatch"]["median"]


def test_ttu_kecamatan_and_weekly_tables_add_up_to_the_recap(ttu_briefing, ttu_rt) -> None:
    b = ttu_briefing
    kec = b.kecamatan()
    assert sorted(kec["kode"]) == sorted(ttu_rt.region.kecamatan["kode"])  # every kecamatan, none left out
    g = b.recap["genuine"]
    assert kec["genuine"].sum() + g["without_location"] == 167
    assert dict(zip(kec["kode"], kec["genuine"], strict=True)) == {
        k: g["by_kecamatan"].get(k, 0) for k in kec["kode"]}
    week = b.weekly()
    assert (week["week"].iloc[0], week["from"].iloc[0], week["to"].iloc[-1]) == ("2025-04-28", "2025-05-01",
                                                                               "2025-09-30")
    assert len(week) == 23 and week["calls"].sum() == 4428 and week["genuine"].sum() == 167
    assert week["resolved"].sum() == 144 and week["not_followed_up"].sum() == 23
    row = kec.iloc[0]
    assert row["prank_share"] == round(100 * row["prank"] / row["calls"], 1)


def test_ttu_top_lists_come_with_reasons(ttu_briefing) -> None:
    b = ttu_briefing
    social = b.top_socialisation("id")
    assert list(social["rank"]) == list(range(1, 11))
    assert all("panggilan" in r for r in social["reason"])
    first = b.socialisation.iloc[0]  # its numbers, as the ranking has them
    assert f"{first['darurat']} panggilan darurat" in social["reason"][0]
    assert f"{first['iseng_kosong']} dari {first['semua_panggilan']}" in social["reason"][0]
    bts = b.top_bts("en")
    assert len(bts) == 10 and list(bts["rank"]) == list(range(1, 11))
    assert all(k for k in bts["kecamatan"])
    marked = b.bts.head(10)["status_sinyal"].notna()
    assert all(("signal:" in r) == m for r, m in zip(bts["reason"], marked, strict=True))


def test_the_period_before_is_compared(ttu_rt) -> None:
    """The period before is counted by the store (no rows read): the same numbers as its own recap."""
    from ntpd_map.analytics.recap import headline_counts, recap
    from ntpd_map.briefing import headline_numbers

    june = build(ttu_rt, Period.month(2025, 6))
    may = build(ttu_rt, Period.month(2025, 5))
    for key in HEADLINE:
        assert june.headline[key].previous == may.headline[key].value
    tz = ttu_rt.settings.tz
    for first, last in ((date(2025, 5, 1), date(2025, 9, 30)), (date(2025, 7, 14), date(2025, 7, 20))):
        counted = headline_counts(ttu_rt.store, first, last, tz)
        assert counted == headline_numbers(recap(ttu_rt.store, first, last, tz))
        assert counted["calls"] > 0 and counted["resolved"] > 0
    now, before = june.headline["calls"].value, may.headline["calls"].value
    assert june.headline["calls"].percent == round(100 * (now - before) / before, 1)
    assert build(ttu_rt, Period.quarter(2025, 3)).headline["calls"].value > now  # three months against one


def test_notes_are_kept_per_period_and_audited_without_their_text(ttu_rt) -> None:
    store = ttu_rt.store
    may, june = Period.month(2025, 5), Period.month(2025, 6)
    save_notes(store, may, "  Sosialisasi di Biboki Tan Pah\r\nminggu depan  ", "user:ani")
    assert read_notes(store, may) == "Sosialisasi di Biboki Tan Pah\nminggu depan"
    assert read_notes(store, june) == ""
    assert build(ttu_rt, may).notes.startswith("Sosialisasi")
    log = store.audit_log(action="briefing.notes")
    assert log.iloc[-1]["target"] == "2025-05" and "Biboki" not in str(log.iloc[-1]["detail"])
    with pytest.raises(ValueError, match="4000 characters"):
        save_notes(store, may, "x" * 4001, "user:ani")
    assert read_notes(store, may).startswith("Sosialisasi")


def test_briefing_api_and_wall_counters_agree(ttu_rt, ttu_briefing) -> None:
    """Issue 9 part 3: the briefing's recap is what /api/recap answers, and the wall's counters, counted by the
    store for the same window, are the recap's numbers."""
    import json

    from ntpd_map.access.keys import create_api_key
    from ntpd_map.factory import create_app
    from ntpd_map.store.model import IncidentQuery
    from ntpd_map.views import headline_from_store, window_bounds

    app = create_app(runtime=ttu_rt)
    key = create_api_key(ttu_rt.store, "briefing-test", "read")[1]
    answer = app.server.test_client().get("/api/recap?from=2025-05-01&to=2025-09-30",
                                          headers={"Authorization": f"Bearer {key}"})
    assert answer.status_code == 200
    assert answer.get_json() == json.loads(json.dumps(ttu_briefing.recap))
    for first, last in (("2025-05-01", "2025-09-30"), ("2025-07-14", "2025-07-14")):
        start, end = window_bounds("custom", 0, first, last, ttu_rt.settings.tz)
        wall = headline_from_store(ttu_rt.store, IncidentQuery(start=start, end=end), end)
        period = build(ttu_rt, Period.parse(f"{first}..{last}"))
        assert (wall.calls, wall.genuine, wall.open) == (period.headline["calls"].value,
                                                         period.headline["genuine"].value,
                                                         period.headline["open"].value)
        by_type = period.recap["calls"]["by_call_type"]
        noise = by_type["prank"] + by_type["ghost"] + by_type["dropped"]
        assert wall.noise_share == pytest.approx(noise / max(wall.calls, 1))
