"""The Bupati's briefing (issue 9): what a user waits for after one click, on the TTU period and on a big store.

    python -m bench briefing [--n 1000000] [--region 53.03] [--wait-idle 300] [--runs N] [--results-dir DIR]

Two stores, each in its own data dir under a temp dir (the region's cached boundaries copied from
data/boundaries, SQLite), each filled in one process and measured in a fresh one (so the figures and the peak
memory are those of a worker that only draws briefings):

- ``ttu``: ``simulate.load_scenario(reported=REPORTED["ttu-2025"])`` (4,428 calls, 167 genuine, 144 resolved,
  23 not followed up), period 2025-05-01..2025-09-30;
- ``big``: the scenario's reference data (towers, signal marks, units; no incidents) plus ``--n`` simulated
  incidents over 150 days ending now (``bench.run.incident_chunk``, genuine ones given a category, an agency,
  an outcome and response times), periods: the 91 days ending today (custom, about 60% of the rows) and the
  last complete month (the page's default).

Per period, in the measuring process: ``briefing.build`` cold (the first in the process: loads the analytics
columns from the store; region, store and modules already open as in a started worker), warm (median of 5),
the page's whole callback (``callbacks.briefing.page_view``, median of 3), ``briefing.pdf.render`` (the first
one, then the median of 3; pages by pypdf, bytes) and ``briefing.xlsx.render`` (median of 3; bytes); peak RSS.
When a target is missed, cProfile's top 15 by cumulative time of a warm build and of a PDF go with the result.
Before measuring, it waits up to ``--wait-idle`` s (default 300) for the 1-minute load average to drop under 1.5.
Results: bench/results/briefing-<UTC timestamp>.json (or ``--results-dir``); a markdown table and the README row
on stdout.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DAY = 86400
#: what a user waits for after one click (seconds): the briefing on screen (build, warm) and the PDF
TARGETS = {"ttu": {"build_warm_s": 2.0, "pdf_s": 10.0}, "big": {"build_warm_s": 5.0, "pdf_s": 15.0}}
BUSY_LOAD = 1.5
WAIT_S = 300


def _settings(data_dir: Path, region: str) -> Any:
    from ntpd_map.config import Settings

    return Settings.from_env(NTPD_DATA_DIR=str(data_dir), NTPD_REGION=region, NTPD_SIMULATE="never",
                             NTPD_DATABASE_URL="", NTPD_TILE_URL="")


def _rss_mb() -> dict[str, int]:
    now = 0
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            now = int(line.split()[1]) // 1024
    return {"rss_mb": now, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024}


def _timed(fn: Any, repeat: int) -> tuple[list[float], Any]:
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(round(time.perf_counter() - t, 3))
    return times, out


def _median(times: list[float]) -> float:
    return round(statistics.median(times), 3)


def _profile(fn: Any, top: int = 15) -> str:
    prof = cProfile.Profile()
    prof.enable()
    fn()
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).strip_dirs().sort_stats("cumulative").print_stats(top)
    text = out.getvalue()
    return text[text.find("   ncalls"):].rstrip() if "   ncalls" in text else text


# --- filling the stores (one process each, not timed) --------------------------------------------------------


def fill_ttu(data_dir: Path, region_code: str) -> dict[str, Any]:
    from ntpd_map.ingest.simulate import REPORTED, load_scenario
    from ntpd_map.runtime import Runtime

    runtime = Runtime(_settings(data_dir, region_code))
    t = time.perf_counter()
    summary = load_scenario(runtime.store, runtime.region, runtime.locator, reported=REPORTED["ttu-2025"],
                            actor="bench")
    return {"stored": runtime.store.count_incidents(), "fill_s": round(time.perf_counter() - t, 1),
            "calls": summary["calls"]}


def enrich(frame: Any, rng: np.random.Generator, kab_short: str) -> Any:
    """Give the genuine calls of a bench chunk what the briefing reads of them: a category and its agency, an
    outcome (about 86% resolved, 14% not followed up, as in TTU) and dispatch/arrival/resolution times."""
    from ntpd_map.ingest.simulate import AGENCY_BY_CATEGORY, CATEGORY_MIX, RESOLVED_SHARE

    genuine = (frame["call_type"] == "genuine").to_numpy()
    idx = np.flatnonzero(genuine)
    k = len(idx)
    cats = np.array(list(CATEGORY_MIX))
    p = np.array(list(CATEGORY_MIX.values()))
    pick = rng.choice(len(cats), k, p=p / p.sum())
    category = cats[pick]
    agency = np.array([AGENCY_BY_CATEGORY[c][0].format(kab=kab_short).strip() for c in cats], dtype=object)
    kind = np.array([str(AGENCY_BY_CATEGORY[c][1]) for c in cats], dtype=object)
    outcome = np.where(rng.random(k) < RESOLVED_SHARE, "resolved", "not_followed_up").astype(object)
    received = frame["received_at"].to_numpy()[idx].astype("float64")
    dispatch = received + rng.lognormal(np.log(240), 0.5, k)
    arrival = np.where(outcome == "resolved", dispatch + rng.lognormal(np.log(1800), 0.6, k), np.nan)
    resolved = arrival + rng.lognormal(np.log(3600), 0.7, k)
    dispatch[(outcome == "not_followed_up") & (rng.random(k) < 0.5)] = np.nan
    for column, values in (("category", category.astype(object)), ("agency", agency[pick]),
                           ("agency_kind", kind[pick]), ("outcome", outcome)):
        col = frame[column].to_numpy(dtype=object).copy()
        col[idx] = values
        frame[column] = col
    for column, values in (("dispatched_at", dispatch), ("arrived_at", arrival), ("resolved_at", resolved)):
        col = np.full(len(frame), np.nan)
        col[idx] = values
        frame[column] = [None if v != v else int(v) for v in col]
    return frame


def fill_big(data_dir: Path, region_code: str, n: int) -> dict[str, Any]:
    from bench.run import CHUNK, incident_chunk
    from ntpd_map.ingest.simulate import short_name, simulate
    from ntpd_map.ingest.write import locate_frame
    from ntpd_map.runtime import Runtime

    runtime = Runtime(_settings(data_dir, region_code))
    store, region = runtime.store, runtime.region
    t = time.perf_counter()
    scenario = simulate(region)  # its reference data only: the incidents are the bench's
    store.upsert_units(scenario.units)
    store.add_coverage_marks(scenario.marks)
    store.add_towers(scenario.towers)
    store.set_meta("scenario", "simulated")
    store.set_meta("scenario_region", region.code)
    rng = np.random.default_rng(9)
    t0 = int(time.time())
    kab_short = short_name(region.name) if region.level == "kabkota" else ""
    for start in range(0, n, CHUNK):
        size = min(CHUNK, n - start)
        chunk = enrich(incident_chunk(region, size, start, rng, t0, (start / n, (start + size) / n)), rng, kab_short)
        store.write_incidents(locate_frame(chunk, runtime.locator))
    stored = store.count_incidents()
    assert stored == n, (stored, n)
    return {"stored": stored, "fill_s": round(time.perf_counter() - t, 1), "t0": t0,
            "towers": len(scenario.towers), "marks": len(scenario.marks)}


# --- measuring (a fresh process per store) -------------------------------------------------------------------


def measure_period(runtime: Any, period: Any, cold: bool, profile_on_miss: dict[str, float] | None,
                   lang: str = "id", runs: int | None = None) -> dict[str, Any]:
    """One period's figures; ``runs`` (None: 5 warm builds, 3 of each other step) how often each timed step runs
    after its first."""
    import pypdf

    from ntpd_map.briefing import build, pdf, xlsx
    from ntpd_map.pages.briefing.callbacks import page_view
    from ntpd_map.views import window_bounds

    out: dict[str, Any] = {"period": period.key, "kind": period.kind, "days": period.days}
    start, end = window_bounds("custom", 0, period.first.isoformat(), period.last.isoformat(), runtime.settings.tz)
    first, b = _timed(lambda: build(runtime, period), 1)
    out["build_cold_s" if cold else "build_first_s"] = first[0]
    warm, b = _timed(lambda: build(runtime, period), runs or 5)
    out.update(build_warm_s=_median(warm), build_warm_runs=warm)
    out["in_period"] = b.recap["calls"]["total"]
    out["in_previous"] = b.previous_headline["calls"]
    out["headline"] = {k: c.value for k, c in b.headline.items()}
    out["window"] = [start, end]
    views, _ = _timed(lambda: page_view(runtime, period, lang), runs or 3)
    out["page_view_s"] = _median(views)
    out.update({f"after_build_{k}": v for k, v in _rss_mb().items()})

    first_pdf, doc = _timed(lambda: pdf.render(b, runtime.region, lang), 1)
    times, doc = _timed(lambda: pdf.render(b, runtime.region, lang), runs or 3)
    reader = pypdf.PdfReader(io.BytesIO(doc))
    out.update(pdf_first_s=first_pdf[0], pdf_s=_median(times), pdf_runs=times, pdf_pages=len(reader.pages),
               pdf_bytes=len(doc))
    assert pdf.page_count(doc) == len(reader.pages)
    times, book = _timed(lambda: xlsx.render(b, lang), runs or 3)
    out.update(xlsx_s=_median(times), xlsx_runs=times, xlsx_bytes=len(book))
    out.update({f"after_prints_{k}": v for k, v in _rss_mb().items()})

    if profile_on_miss is not None:
        missed = {k: out[k] for k, limit in profile_on_miss.items() if out[k] >= limit}
        out["missed"] = sorted(missed)
        if "build_warm_s" in missed:
            out["profile_build"] = _profile(lambda: build(runtime, period))
            out["build_parts"] = build_parts(runtime, period)
        if "pdf_s" in missed:
            out["profile_pdf"] = _profile(lambda: pdf.render(b, runtime.region, lang))
    return out


#: the incident columns ``recap`` uses (it reads them all)
RECAP_COLUMNS = ("received_at", "call_type", "category", "outcome", "agency", "kode_kec", "dispatched_at",
                 "arrived_at", "resolved_at")


def build_parts(runtime: Any, period: Any) -> dict[str, Any]:
    """Where a build's time goes, each part timed alone (median of 3): the recap of the period (of which the read
    of its rows, every column), the same read with only the columns the recap uses, the two priority rankings."""
    from ntpd_map.analytics.recap import recap, recap_bounds
    from ntpd_map.store.model import IncidentQuery
    from ntpd_map.views import window_bounds

    tz, store, analytics = runtime.settings.tz, runtime.store, runtime.analytics
    start, end = recap_bounds(period.first, period.last, tz)
    a, b = window_bounds("custom", 0, period.first.isoformat(), period.last.isoformat(), tz)
    parts = {
        "recap_of_period_s": lambda: recap(store, period.first, period.last, tz),
        "read_period_all_columns_s": lambda: store.incidents(IncidentQuery(start=start, end=end)),
        "read_period_recap_columns_s": lambda: store.incidents(IncidentQuery(start=start, end=end,
                                                                             columns=RECAP_COLUMNS)),
        "priorities_both_s": lambda: (analytics.priorities("socialisation", a, b),
                                      analytics.priorities("bts", a, b, level="desa")),
    }
    return {name: _median(_timed(fn, 3)[0]) for name, fn in parts.items()}


def measure(case: str, data_dir: Path, region_code: str, runs: int | None = None) -> dict[str, Any]:
    # what a started worker already holds: the modules, the region, the open store, the names
    from ntpd_map.briefing import Period, default_period
    from ntpd_map.runtime import Runtime

    t = time.perf_counter()
    runtime = Runtime(_settings(data_dir, region_code))
    runtime.region  # noqa: B018
    runtime.store  # noqa: B018
    runtime.names  # noqa: B018
    out: dict[str, Any] = {"case": case, "stored": runtime.store.count_incidents(),
                           "worker_setup_s": round(time.perf_counter() - t, 2), **_rss_mb()}
    if case == "ttu":
        from ntpd_map.ingest.simulate import REPORTED

        reported = REPORTED["ttu-2025"]
        period = Period.custom(reported.first_day, reported.last_day)
        out["periods"] = [measure_period(runtime, period, True, TARGETS["ttu"], runs=runs)]
        h = out["periods"][0]["headline"]
        assert (h["calls"], h["genuine"], h["resolved"], h["not_followed_up"]) == (
            reported.calls, reported.genuine, reported.resolved, reported.not_followed_up), h
    else:
        from zoneinfo import ZoneInfo

        today = datetime.now(ZoneInfo(runtime.settings.tz)).date()
        quarter = Period.custom(today - timedelta(days=90), today)
        month = default_period(today)
        out["periods"] = [measure_period(runtime, quarter, True, TARGETS["big"], runs=runs),
                          measure_period(runtime, month, False, TARGETS["big"], runs=runs)]
    out.update(_rss_mb())
    return out


# --- the run -------------------------------------------------------------------------------------------------


class LoadWatch:
    """Samples the 1-minute load average every 5 s while the cases run (other jobs share the machine)."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append(round(os.getloadavg()[0], 2))
            self._stop.wait(5)

    def __enter__(self) -> LoadWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()

    def summary(self) -> dict[str, Any]:
        s = self.samples or [0.0]
        return {"min": min(s), "median": round(statistics.median(s), 2), "max": max(s)}


def wait_quiet(limit_s: float = WAIT_S) -> dict[str, Any]:
    """Wait up to ``limit_s`` for the 1-minute load average to drop under BUSY_LOAD; run anyway after that."""
    t = time.monotonic()
    first = os.getloadavg()
    while os.getloadavg()[0] > BUSY_LOAD and time.monotonic() - t < limit_s:
        print(f"load average {os.getloadavg()[0]:.2f} > {BUSY_LOAD}: waiting (up to {limit_s:.0f} s)",
              file=sys.stderr, flush=True)
        time.sleep(min(15.0, max(0.0, limit_s - (time.monotonic() - t))))
    last = os.getloadavg()
    return {"load_at_start": [round(x, 2) for x in first], "waited_s": round(time.monotonic() - t),
            "load_when_started": [round(x, 2) for x in last], "busy": last[0] > BUSY_LOAD}


def _case(args: list[str]) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "bench", "briefing", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if proc.returncode:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"{' '.join(args)} failed ({proc.returncode})")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _commit() -> str:
    proc = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT)
    return proc.stdout.strip()


def run(n: int, region_code: str, wait_idle_s: float = WAIT_S, runs: int | None = None) -> dict[str, Any]:
    from bench.run import copy_boundaries, machine

    work = Path(tempfile.mkdtemp(prefix="ntpd-bench-briefing-"))
    dirs = {case: work / case / "data" for case in ("ttu", "big")}
    for d in dirs.values():
        copy_boundaries(region_code, d)  # the region and its locator index when cached (filling is not timed)
    report: dict[str, Any] = {"n": n, "runs": runs, "region": region_code, "commit": _commit(), "machine": machine()}
    try:
        print("== filling the TTU store", file=sys.stderr, flush=True)
        report["ttu_fill"] = _case(["--case", "fill-ttu", "--data-dir", str(dirs["ttu"]), "--region", region_code])
        # the locator and any other cache built by the first fill: the second store need not build them again
        for f in (dirs["ttu"] / "boundaries").iterdir():
            if not (dirs["big"] / "boundaries" / f.name).exists():
                shutil.copy2(f, dirs["big"] / "boundaries" / f.name)
        print(f"== filling the big store ({n:,} incidents)", file=sys.stderr, flush=True)
        report["big_fill"] = _case(["--case", "fill-big", "--data-dir", str(dirs["big"]), "--region", region_code,
                                    "--n", str(n)])
        report["quiet"] = wait_quiet(wait_idle_s)
        report["when_utc"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
        with LoadWatch() as watch:
            for case in ("ttu", "big"):
                print(f"== measuring {case}", file=sys.stderr, flush=True)
                report[case] = _case(["--case", f"measure-{case}", "--data-dir", str(dirs[case]),
                                      *(["--runs", str(runs)] if runs else []),
                                      "--region", region_code])
        report["load_during"] = watch.summary()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report["targets"] = {case: {k: {"target_s": limit, "measured_s": report[case]["periods"][0][k],
                                    "met": report[case]["periods"][0][k] < limit}
                                for k, limit in TARGETS[case].items()} for case in TARGETS}
    return report


def _s(x: float) -> str:
    return f"{x:.2f} s" if x < 10 else f"{x:.1f} s"


def markdown(report: dict[str, Any]) -> str:
    head = ("| store | period | in period | build cold | build warm | page callback | PDF first / median | pages "
            "| PDF KB | XLSX | XLSX KB | peak RSS |\n"
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    rows = []
    for case in ("ttu", "big"):
        r = report[case]
        name = "TTU published" if case == "ttu" else "simulated"
        for p in r["periods"]:
            cold = _s(p["build_cold_s"]) if "build_cold_s" in p else f"({_s(p['build_first_s'])})"
            rows.append(
                f"| {name} ({r['stored']:,} stored) | {p['period']} ({p['days']} d) | {p['in_period']:,} | {cold} | "
                f"{_s(p['build_warm_s'])} | {_s(p['page_view_s'])} | {_s(p['pdf_first_s'])} / {_s(p['pdf_s'])} | "
                f"{p['pdf_pages']} | {p['pdf_bytes'] / 1024:,.0f} | {_s(p['xlsx_s'])} | "
                f"{p['xlsx_bytes'] / 1024:,.0f} | {p['after_prints_peak_rss_mb']:,} MB |")
    t, b = report["ttu"]["periods"][0], report["big"]["periods"][0]
    ok = {case: all(v["met"] for v in report["targets"][case].values()) for case in TARGETS}
    readme = (f"| Bupati briefing (issue 9): on screen (build, warm) / PDF, TTU period; 1M stored, 91-day period "
              f"| < 2 s / < 10 s; < 5 s / < 15 s | {_s(t['build_warm_s'])} / {_s(t['pdf_s'])} "
              f"({'met' if ok['ttu'] else 'missed'}); {_s(b['build_warm_s'])} / {_s(b['pdf_s'])} "
              f"({'met' if ok['big'] else 'missed'}) |")
    return "\n".join([head, *rows]) + "\n\nREADME row:\n" + readme


def add_parser(sub: Any) -> None:
    from bench.run import add_results_dir

    p = sub.add_parser("briefing", help="the Bupati briefing: build, page, PDF, XLSX; TTU period and 1M (issue 9)")
    p.add_argument("--n", type=int, default=1_000_000, help="incidents of the big store")
    p.add_argument("--region", default="53.03")
    p.add_argument("--wait-idle", type=float, default=WAIT_S,
                   help="before measuring, wait up to this many seconds for the load average to drop under "
                        f"{BUSY_LOAD} (0: do not wait)")
    p.add_argument("--runs", type=int, default=None,
                   help="runs of each timed step after its first (default: 5 warm builds, 3 page callbacks, PDFs "
                        "and XLSX)")
    add_results_dir(p)
    p.add_argument("--case", help=argparse.SUPPRESS)  # internal: fill-ttu, fill-big, measure-ttu, measure-big
    p.add_argument("--data-dir", help=argparse.SUPPRESS)


def main(args: Any) -> int:
    if args.case:
        data_dir = Path(args.data_dir)
        if args.case == "fill-ttu":
            result = fill_ttu(data_dir, args.region)
        elif args.case == "fill-big":
            result = fill_big(data_dir, args.region, args.n)
        elif args.case in ("measure-ttu", "measure-big"):
            result = measure(args.case.split("-")[1], data_dir, args.region, args.runs)
        else:
            raise SystemExit(f"unknown case {args.case}")
        print(json.dumps(result))
        return 0
    from bench.run import results_dir

    report = run(args.n, args.region, args.wait_idle, args.runs)
    out = results_dir(args)
    path = out / f"briefing-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.json"
    path.write_text(json.dumps(report, indent=2))
    for case in ("ttu", "big"):
        for p in report[case]["periods"]:
            for key in ("profile_build", "profile_pdf"):
                if key in p:
                    print(f"== {case} {p['period']}: {key} (cProfile, top 15 cumulative)\n{p[key]}\n", file=sys.stderr)
    summary = {k: report[k] for k in ("n", "region", "commit", "when_utc", "quiet", "load_during", "targets")}
    summary["figures"] = {case: [{k: v for k, v in p.items() if not k.startswith("profile") and not k.endswith("runs")}
                                 for p in report[case]["periods"]] for case in ("ttu", "big")}
    for case in ("ttu", "big"):
        summary["figures"][case].append({"stored": report[case]["stored"], "peak_rss_mb": report[case]["peak_rss_mb"]})
    print(json.dumps(summary, indent=2))
    print(markdown(report))
    print(f"raw results: {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}", file=sys.stderr)
    return 0

