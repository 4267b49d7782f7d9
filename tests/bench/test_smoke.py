"""Benchmarks can't rot (issue 17, part 8): every `python -m bench` subcommand runs here, as a subprocess, with
tiny sizes.

Each test runs one bench the way a person does (``python -m bench <cmd> ...`` from the project's root), writing
its results into a temporary folder (``--results-dir``; never bench/results), and asserts that it exited 0 and
that its results file holds the figures it should: the keys, counts equal to the sizes asked for, positive
numbers, and the bench's own checks (nothing lost, nothing refused that should pass). No performance target is
judged: figures from a shared 2-core machine with tiny sizes say nothing about performance.

Every bench finds the region's boundaries and locator index already built in the session's data dir
(``NTPD_DATA_DIR``, the ``runtime`` fixture's), so none builds them from the mirror again; the store bench still
builds its locator index itself (its build time is one of its figures). PostGIS comes from
``NTPD_TEST_DATABASE_URL``, Chromium and redis-server from the machine; a missing component skips loudly on a
developer machine and fails with ``CI=true`` (``tests.conftest.missing``).

``test_every_subcommand_has_a_smoke_test`` fails when the bench's command line gains a subcommand without one.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.conftest import ROOT, missing, postgres_url

F = TypeVar("F", bound=Callable[..., Any])

#: subcommand -> the smoke tests that run it
SMOKED: dict[str, list[str]] = {}
#: the longest a tiny bench may take before it counts as hung (the whole set takes about 2 minutes)
TIMEOUT_S = 240
#: environment a bench may take from the developer's shell; every other NTPD_* setting is dropped, so a local
#: NTPD_DATABASE_URL or NTPD_REDIS_URL cannot point a bench at real data
KEEP_ENV = ("NTPD_TEST_DATABASE_URL", "NTPD_TEST_CHROMIUM", "NTPD_TEST_CHROMEDRIVER", "NTPD_MIRROR_DIR")


def smoke(command: str) -> Callable[[F], F]:
    """Registers a test as the smoke run of a bench subcommand."""

    def register(fn: F) -> F:
        SMOKED.setdefault(command, []).append(fn.__name__)
        return fn

    return register


def subcommands() -> dict[str, argparse.ArgumentParser]:
    """The subcommands of `python -m bench`, from its own argparse."""
    from bench.run import build_parser

    parser = build_parser()
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert len(actions) == 1, "python -m bench should have one set of subcommands"
    return dict(actions[0].choices)


def test_every_subcommand_has_a_smoke_test() -> None:
    commands = subcommands()
    assert commands, "no subcommand found in bench.run.build_parser()"
    untested = sorted(set(commands) - set(SMOKED))
    assert not untested, f"bench subcommands without a smoke test in {__file__}: {', '.join(untested)}"
    stale = sorted(set(SMOKED) - set(commands))
    assert not stale, f"smoke tests for subcommands the bench no longer has: {', '.join(stale)}"
    for name, sub in commands.items():
        assert "--results-dir" in sub._option_string_actions, f"bench {name} has no --results-dir"


# --- running a bench ------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def bench_data_dir(runtime: Any, data_dir: Path) -> Path:
    """The session's data dir with the region's boundaries and locator index built (once for every test that
    needs them): the benches copy them from here (``NTPD_DATA_DIR``) instead of building them again."""
    runtime.region  # noqa: B018
    runtime.locator  # noqa: B018
    assert list((data_dir / "boundaries").glob("locator_53.03.npz")), "the locator index was not cached"
    return data_dir


def _listing(folder: Path) -> list[tuple[str, int]]:
    if not folder.is_dir():
        return []
    return sorted((str(p.relative_to(folder)), p.stat().st_mtime_ns) for p in folder.rglob("*"))


def run_bench(command: str, *args: str, tmp_path: Path, data_dir: Path) -> Path:
    """Run `python -m bench <command> <args> --results-dir <tmp>` from the project's root; assert it exited 0
    and left bench/results as it was. Returns the results folder."""
    results = tmp_path / "results"
    env = {k: v for k, v in os.environ.items() if not k.startswith("NTPD_") or k in KEEP_ENV}
    env.update(NTPD_DATA_DIR=str(data_dir), NTPD_ALLOW_DOWNLOAD="0", NTPD_TILE_URL="")
    cmd = [sys.executable, "-m", "bench", command, *args, "--results-dir", str(results)]
    before = _listing(ROOT / "bench" / "results")
    try:
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"`python -m bench {command}` did not finish in {TIMEOUT_S} s:\n{_tail(exc.stderr)}")
    assert proc.returncode == 0, (f"`{' '.join(cmd[1:])}` exited {proc.returncode}\n--- stdout\n"
                                  f"{_tail(proc.stdout)}\n--- stderr\n{_tail(proc.stderr)}")
    assert _listing(ROOT / "bench" / "results") == before, "the bench wrote into bench/results"
    assert results.is_dir(), f"bench {command} wrote no results folder"
    return results


def _tail(text: str | bytes | None, lines: int = 40) -> str:
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    return "\n".join((text or "").splitlines()[-lines:])


def results_file(results: Path, pattern: str) -> dict[str, Any]:
    found = sorted(results.glob(pattern))
    assert len(found) == 1, f"expected one {pattern} in {results}, found {[p.name for p in found]}"
    data = json.loads(found[0].read_text())
    assert isinstance(data, dict)
    return data


def positive(record: dict[str, Any], *keys: str) -> None:
    """Each key present and a positive number."""
    for key in keys:
        assert key in record, f"{key} missing from {sorted(record)}"
        value = record[key]
        assert isinstance(value, int | float) and not isinstance(value, bool), f"{key} = {value!r} is not a number"
        assert value > 0, f"{key} = {value!r} is not positive"


def machine_recorded(report: dict[str, Any]) -> None:
    assert report["machine"]["cores"] >= 1
    assert report["machine"]["python"]


@pytest.fixture(scope="session")
def pg_url() -> str:
    """PostGIS for the benches that use it, checked before anything is built (skips, or fails in CI)."""
    url = postgres_url()  # skips (fails in CI) without NTPD_TEST_DATABASE_URL
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=5):
            pass
    except psycopg.OperationalError as exc:
        missing(f"PostGIS at NTPD_TEST_DATABASE_URL does not answer: {exc}")
    return url


def bench_schemas(url: str) -> set[str]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE %s", ("bench\\_%",)).fetchall()
    return {str(r[0]) for r in rows}


# --- store (issue 2) ------------------------------------------------------------------------------------------

STORE_N = 3000


def check_store_case(r: dict[str, Any], backend: str) -> None:
    assert r["backend"] == backend
    assert r["n"] == STORE_N
    assert r["region"] == "53.03"
    positive(r, "locator_index_s", "interior_cells", "locate_rows_per_s", "insert_rows_per_s",
             "count_30d_by_kecamatan_ms", "store_bytes", "peak_rss_mb")
    # 30 of the 150 days: about a fifth of the rows (the count is of the rows the bench wrote)
    assert 0.15 * STORE_N < r["rows_in_30d_window"] < 0.25 * STORE_N, r["rows_in_30d_window"]


@smoke("store")
def test_store_sqlite(tmp_path: Path, bench_data_dir: Path) -> None:
    results = run_bench("store", "--n", str(STORE_N), "--backend", "sqlite", "--baseline-n", "1000",
                        tmp_path=tmp_path, data_dir=bench_data_dir)
    report = results_file(results, "store.json")
    machine_recorded(report)
    (r,) = report["results"]
    check_store_case(r, "sqlite")
    positive(r, "sjoin_rows_per_s", "sjoin_plus_h3_loop_rows_per_s")  # the reference, on the first case


@smoke("store")
def test_store_postgis(pg_url: str, tmp_path: Path, bench_data_dir: Path) -> None:
    url = pg_url
    schemas = bench_schemas(url)
    results = run_bench("store", "--n", str(STORE_N), "--backend", "postgis", "--baseline-n", "0", "--pg-url", url,
                        tmp_path=tmp_path, data_dir=bench_data_dir)
    (r,) = results_file(results, "store.json")["results"]
    check_store_case(r, "postgis")
    assert "sjoin_rows_per_s" not in r  # --baseline-n 0: no reference
    assert bench_schemas(url) == schemas, "the store bench left its schema behind"


# --- the operations page (issue 3) ----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def chromium() -> None:
    """Chromium and its driver where bench/ui.py looks for them (NTPD_TEST_CHROMIUM, NTPD_TEST_CHROMEDRIVER)."""
    from bench.ui import CHROMEDRIVER, CHROMIUM

    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not Path(path).is_file():
            missing(f"{path} not found (Debian: apt-get install {package})")


@smoke("ui")
@pytest.mark.browser
def test_ui(chromium: None, tmp_path: Path, bench_data_dir: Path) -> None:
    from bench.ui import BENCH_USER

    stored, window, new, runs = 1000, 200, 10, 2
    results = run_bench("ui", "--window-n", str(window), "--stored", str(stored), "--runs", str(runs),
                        "--new-n", str(new), "--warm-loads", "1", "--idle-seconds", "4", "--timeout", "60",
                        "--cache-dir", str(tmp_path / "cache"), tmp_path=tmp_path, data_dir=bench_data_dir)
    r = results_file(results, "ui.json")
    machine_recorded(r)
    assert r["store"]["stored"] == stored and r["store"]["window_n"] == window and r["new_n"] == new
    positive(r["store"], "responders", "store_bytes")

    # in process, signed in: every refresh answered (200, or 204 for an idle tick), never 401/403
    s = r["server"]
    expected = {"first_load": (runs, [200]), "steady_full": (runs, [200]), "idle": (max(runs, 100), [204]),
                "patch": (runs, [200])}
    for kind, (count, status) in expected.items():
        assert s[kind]["runs"] == count, (kind, s[kind]["runs"])
        assert s[kind]["status"] == status, (kind, s[kind]["status"])
        positive(s[kind]["total"], "p50_ms", "p95_ms")
        assert s[kind]["inclusive"], f"{kind}: no timed function was called"
    positive(s["first_load"], "response_bytes")
    assert "store.data_version" in s["idle"]["inclusive"]

    # in Chromium, signed in through the form
    b = r["browser"]
    assert b["sign_in"]["user"] == BENCH_USER and b["sign_in"]["landed"] == "/api/health"
    assert "error" not in b, b.get("error")
    assert [load["label"] for load in b["loads"]] == ["cold", "warm1"]
    for load in b["loads"]:
        assert load["expected"] == window
        positive(load, "drawn_ms")
        positive(load["geobuf_response"], "transfer_size", "server_ttfb_ms")
    assert b["idle"]["requests"] > 0
    assert set(b["idle"]["statuses"]) <= {"200", "204"}, b["idle"]["statuses"]
    assert b["new"]["written"] == new and b["new"]["inserted"] == new and b["new"]["drawn"]
    assert b["new"]["carrier_requests"] >= 1
    positive(b["new"], "write_to_drawn_ms", "transfer_bytes")
    assert b["console_errors"] == []
    assert r["table"].count("\n") >= 8


# --- H3 analytics (issue 5) -----------------------------------------------------------------------------------


@smoke("hexes")
def test_hexes(tmp_path: Path, bench_data_dir: Path) -> None:
    n = 2000
    r = results_file(run_bench("hexes", "--n", str(n), "--res", "8", tmp_path=tmp_path, data_dir=bench_data_dir),
                     "hexes.json")
    machine_recorded(r)
    assert r["n"] == n and r["res"] == 8 and r["stored"] == n
    assert r["counted_in_window"] == n  # every stored incident lies in the 30-day window
    assert 0.9 * n <= r["counted_in_pieces"] <= n  # a few fall outside every kecamatan piece
    positive(r, "pieces", "pieces_build_s", "ours_process_cold_ms", "ours_cold_counts_ms", "api_hexes_uncached_ms",
             "api_hexes_full_window_features", "api_hexes_full_window_bytes", "api_hexes_cached_ms",
             "speedup_cold_vs_naive", "speedup_process_cold_vs_naive", "peak_rss_mb")
    positive(r["naive"], "total_ms", "groups")
    assert r["api_hexes_full_window_features"] <= r["pieces"]


# --- responders' positions (issue 6) --------------------------------------------------------------------------

UNITS, HISTORY_HOURS = 5, 0.1


def positions_args(*extra: str) -> list[str]:
    return ["--units", str(UNITS), "--history-hours", str(HISTORY_HOURS), "--duration", "2", "--warmup", "1",
            "--connections", "2", "--servers", "gthread:1x2", "--repeats", "20", "--layer-runs", "3",
            "--wait-idle", "0", *extra]


def check_positions(r: dict[str, Any], backend: str) -> None:
    assert r["backend"] == backend
    assert r["setup"]["units"] == UNITS
    assert r["setup"]["history_rows"] == UNITS * int(HISTORY_HOURS * 3600 / 10)
    (run,) = r["runs"]
    assert run["server"] == "gthread:1x2" and run["connections"] == 2
    positive(run, "ok_total", "reports_per_s", "p50_ms", "server_ready_s")
    assert run["failed_connections"] == 0 and run["non_200_measured"] == 0
    assert run["stored_equals_200"] and run["stored_added"] == run["ok_total"]
    assert run["repeats_sent"] == 20 and run["repeats_by_status"] == {"200": 20} and run["repeats_stored"] == 0
    assert run["bad_reports"] and all(status in (400, 403) for status in run["bad_reports"].values()), \
        run["bad_reports"]
    assert run["bad_reports_stored"] == 0
    assert run["responders_http"]["status"] == 200 and run["responders_http"]["features"] == UNITS
    layer = r["layer"]
    assert layer["units"] == UNITS and layer["features"] == UNITS and layer["api_status"] == 200
    positive(layer["layer"], "median_ms")
    positive(layer["api"], "median_ms")
    assert r["stored_total"] == r["setup"]["history_rows"] + run["ok_total"]
    assert r["best"]["server"] == "gthread:1x2"


@smoke("positions")
def test_positions_sqlite(tmp_path: Path, bench_data_dir: Path) -> None:
    results = run_bench("positions", *positions_args(), tmp_path=tmp_path, data_dir=bench_data_dir)
    r = results_file(results, "positions.json")
    machine_recorded(r)
    check_positions(r, "sqlite")


@smoke("positions")
def test_positions_postgis(pg_url: str, tmp_path: Path, bench_data_dir: Path) -> None:
    url = pg_url
    schemas = bench_schemas(url)
    results = run_bench("positions", *positions_args("--backend", "postgis", "--pg-url", url), tmp_path=tmp_path,
                        data_dir=bench_data_dir)
    check_positions(results_file(results, "positions.json"), "postgis")
    assert bench_schemas(url) == schemas, "the positions bench left its schema behind"


# --- walls and ingest under gunicorn (issue 8) ----------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_server() -> None:
    if shutil.which("redis-server") is None:
        missing("redis-server is not installed (Debian: apt-get install redis-server)")


@smoke("load")
def test_load(redis_server: None, tmp_path: Path, bench_data_dir: Path) -> None:
    walls, rate, warmup, minutes = 2, 2, 2, 0.1
    results = run_bench("load", "--minutes", str(minutes), "--walls", str(walls), "--rate", str(rate),
                        "--refresh", "2", "--warmup", str(warmup), "--server", "gthread:1x2", "--ingest-threads", "1",
                        "--wait-idle", "0", "--smoke", tmp_path=tmp_path, data_dir=bench_data_dir)
    r = results_file(results, "load-*.json")
    machine_recorded(r)
    c, s = r["config"], r["summary"]
    assert c["smoke"] and c["walls"] == walls and c["cache"] == "redis" and c["tokens"]
    assert s["judged"] is False
    assert s["checks_passed"], s["checks"]
    assert s["checks"] == {"errors": 0, "walls_failed": 0, "version_regressions": 0, "stored_equals_accepted": True,
                           "server_tracebacks": 0}
    sent = int(rate * (warmup + 60 * minutes))  # the i-th incident is due at i / rate s
    assert r["ingest"]["sent"] == sent and r["ingest"]["accepted"] == sent and r["ingest"]["stored"] == sent
    assert len(r["walls"]) == walls
    for wall in r["walls"]:
        assert wall["failed"] == "" and wall["ticks"] >= 1 and wall["versions_seen"] >= 1
    for kind in ("page", "wall", "ingest"):
        positive(s["latency"][kind], "n", "p50_ms")
        assert s["latency"][kind]["errors"] == 0
    assert s["rss"]["samples"] >= 1
    positive(s["rss"], "start_mb", "end_mb")
    assert set(s["targets"]) >= {"p95_under_300ms", "no_errors", "memory_flat"}  # reported, not judged


# --- the Bupati's briefing (issue 9) --------------------------------------------------------------------------


@smoke("briefing")
def test_briefing(tmp_path: Path, bench_data_dir: Path) -> None:
    from ntpd_map.ingest.simulate import REPORTED

    n = 2000
    results = run_bench("briefing", "--n", str(n), "--wait-idle", "0", "--runs", "1", tmp_path=tmp_path,
                        data_dir=bench_data_dir)
    r = results_file(results, "briefing-*.json")
    machine_recorded(r)
    calls = REPORTED["ttu-2025"].calls
    assert r["n"] == n and r["runs"] == 1
    assert r["ttu_fill"]["stored"] == calls and r["ttu"]["stored"] == calls
    assert r["big_fill"]["stored"] == n and r["big"]["stored"] == n
    positive(r["big_fill"], "towers", "marks")
    assert len(r["ttu"]["periods"]) == 1 and len(r["big"]["periods"]) == 2
    assert r["ttu"]["periods"][0]["in_period"] == calls
    assert r["ttu"]["periods"][0]["headline"]["calls"] == calls
    for case in ("ttu", "big"):
        for p in r[case]["periods"]:
            positive(p, "build_warm_s", "page_view_s", "pdf_first_s", "pdf_s", "pdf_pages", "pdf_bytes", "xlsx_s",
                     "xlsx_bytes", "after_prints_peak_rss_mb")
            assert len(p["build_warm_runs"]) == len(p["pdf_runs"]) == len(p["xlsx_runs"]) == 1
        assert 0 < r[case]["periods"][-1]["in_period"] <= r[case]["stored"]
        assert set(r["targets"][case]) == {"build_warm_s", "pdf_s"}  # reported, not judged


# --- CSV import and single-incident posts (issue 4) -----------------------------------------------------------


@smoke("ingest")
def test_ingest(tmp_path: Path, bench_data_dir: Path) -> None:
    rows, posts = 2000, 40
    results = run_bench("ingest", "--rows", str(rows), "--posts", str(posts), "--concurrency", "2",
                        tmp_path=tmp_path, data_dir=bench_data_dir)
    r = results_file(results, "ingest.json")
    machine_recorded(r)
    csv = r["csv_import"]
    assert csv["rows"] == rows and csv["accepted"] == rows and csv["rejected"] == 0  # recap_table: valid calls
    positive(csv, "csv_mb", "seconds", "rows_per_s")
    api = r["api_posts"]
    assert api["posts"] == posts and api["concurrency"] == 2
    assert api["errors"] == 0 and api["stored"] == posts
    positive(api, "posts_per_s", "p50_ms", "p99_ms")
