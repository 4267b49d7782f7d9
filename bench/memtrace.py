"""What grows in a gunicorn worker: a gunicorn config file for ``python -m bench load --memtrace``.

    gunicorn -c bench/memtrace.py ... ntpd_map.wsgi:app      (NTPD_MEMTRACE_DIR set; the bench does both)

Only the load bench passes this file: the app itself never imports it, so it costs nothing when off.

Each worker, once it has loaded the app (``post_worker_init``), starts ``tracemalloc`` (``NTPD_MEMTRACE_FRAMES``
frames, 1 by default; 0: no tracemalloc, which also leaves pymalloc's figures readable and the heap undisturbed
by snapshots) and a thread that watches ``NTPD_MEMTRACE_DIR`` for ``take-<label>`` files the bench
touches (``warm`` at the end of the warm-up, ``end`` at the end); every 10 s it also appends RSS and the
allocators' figures below to ``<pid>-series.jsonl``. For each label the worker writes
``<pid>-<label>.json``: its RSS (and anonymous RSS), what glibc's malloc holds (``mallinfo2``: bytes in use,
free bytes kept in the arenas, mmapped bytes, arenas), what Python's own small-object allocator holds
(``sys._debugmallocstats``: its arenas, bytes in use and free in them), what tracemalloc traces, the number
of objects per type (``gc.get_objects``, after a ``gc.collect``), and from the second label on, the 25 largest
differences from the first one by line (and by traceback when more than one frame is kept). At ``end`` it then calls
``malloc_trim(0)`` and writes the RSS after it: memory glibc held free but had not returned to the system
comes back then, memory still in use does not.

Taking a snapshot holds the GIL for a second or more: a run with ``--memtrace`` is for finding what grows,
not for latency figures (tracemalloc also slows every allocation).
"""

from __future__ import annotations

import ctypes
import gc
import json
import os
import re
import sys
import tempfile
import threading
import time
import tracemalloc
from collections import Counter
from pathlib import Path
from typing import Any

TOP = 25
SERIES_S = 10.0


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]


def _libc() -> Any:
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:
        return None


def malloc_stats() -> dict[str, float] | None:
    """glibc's view, MB: ``in_use`` (allocated and not freed), ``free_in_arenas`` (freed, kept by malloc),
    ``mmapped`` (large blocks mapped on their own), ``arena`` (bytes from sbrk/heaps in all arenas)."""
    libc = _libc()
    if libc is None or not hasattr(libc, "mallinfo2"):
        return None
    libc.mallinfo2.restype = _MallInfo2
    m = libc.mallinfo2()
    mb = 1024 * 1024
    return {"arena": round(m.arena / mb, 2), "in_use": round(m.uordblks / mb, 2),
            "free_in_arenas": round(m.fordblks / mb, 2), "mmapped": round(m.hblkhd / mb, 2),
            "mmapped_blocks": m.hblks, "free_chunks": m.ordblks, "top_releasable": round(m.keepcost / mb, 2)}


def pymalloc_stats() -> dict[str, float] | None:
    """Python's small-object allocator (objects up to 512 bytes, in 1 MiB arenas mapped on their own, outside
    malloc), MB: ``arenas`` mapped, ``in_use`` (allocated blocks), ``free`` (free blocks and unused pools in
    those arenas). ``sys._debugmallocstats`` writes to fd 2, which is borrowed for the moment of the call."""
    try:
        with tempfile.TemporaryFile() as tmp:
            sys.stderr.flush()
            saved = os.dup(2)
            try:
                os.dup2(tmp.fileno(), 2)
                sys._debugmallocstats()
            finally:
                os.dup2(saved, 2)
                os.close(saved)
            tmp.seek(0)
            text = tmp.read().decode(errors="replace")
    except (OSError, AttributeError):
        return None

    def figure(pattern: str) -> float:
        found = re.search(pattern + r"[^=]*=\s*([\d,]+)", text)
        return int(found[1].replace(",", "")) / 2**20 if found else float("nan")

    return {"arenas": round(figure(r"arenas \* \d+ bytes/arena"), 2),
            "in_use": round(figure(r"# bytes in allocated blocks"), 2),
            "free": round(figure(r"# bytes in available blocks") + figure(r"unused pools \* \d+ bytes"), 2)}


def arrow_stats() -> dict[str, Any] | None:
    """pyarrow's default memory pool (pandas' Arrow-backed columns allocate there, outside malloc), MB; None
    when pyarrow is not loaded."""
    pa = sys.modules.get("pyarrow")
    if pa is None:
        return None
    pool = pa.default_memory_pool()
    return {"backend": pool.backend_name, "allocated": round(pool.bytes_allocated() / 2**20, 2),
            "max": round(pool.max_memory() / 2**20, 2) if pool.max_memory() is not None else None}


def rss() -> dict[str, float]:
    out: dict[str, float] = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "RssAnon", "RssFile", "VmHWM"):
            out[name] = round(int(value.split()[0]) / 1024, 1)
    return out


#: glibc maps each arena but the main one as a heap aligned to HEAP_MAX_SIZE (64 MB on 64-bit)
_THREAD_HEAP_ALIGN = 64 * 1024 * 1024


def mappings() -> dict[str, float]:
    """Resident anonymous memory by where it lives, MB: ``brk`` (the main arena, [heap]), ``thread_arenas``
    (the heaps of malloc's other arenas), ``other_anon`` (pymalloc's arenas, malloc's mmapped blocks, thread
    stacks, other allocators); and ``thread_arena_count``."""
    out = {"brk": 0.0, "thread_arenas": 0.0, "other_anon": 0.0, "thread_arena_count": 0}
    kind = None
    try:
        text = Path("/proc/self/smaps").read_text()
    except OSError:
        return out
    for line in text.splitlines():
        head = line.split()
        if head and "-" in head[0] and len(head) >= 5 and not head[0].endswith(":"):
            start = int(head[0].split("-")[0], 16)
            path = head[5] if len(head) > 5 else ""
            if path == "[heap]":
                kind = "brk"
            elif path:
                kind = None  # files, stacks, vdso
            elif start % _THREAD_HEAP_ALIGN == 0 and head[1].startswith("rw"):
                kind = "thread_arenas"
                out["thread_arena_count"] += 1
            else:
                kind = "other_anon"
        elif kind and line.startswith("Rss:"):
            out[kind] += int(head[1]) / 1024
    return {k: round(v, 1) if isinstance(v, float) else v for k, v in out.items()}


def _type_counts() -> Counter[str]:
    counts: Counter[str] = Counter()
    for obj in gc.get_objects():
        kind = type(obj)
        counts[f"{kind.__module__}.{kind.__qualname__}"] += 1
    return counts


def _stat_rows(stats: list[Any]) -> list[dict[str, Any]]:
    return [{"size_diff_kb": round(s.size_diff / 1024, 1), "size_kb": round(s.size / 1024, 1),
             "count_diff": s.count_diff, "count": s.count,
             "where": [f"{f.filename}:{f.lineno}" for f in s.traceback]} for s in stats[:TOP]]


class Tracer:
    def __init__(self, folder: Path, frames: int) -> None:
        self.folder = folder
        self.frames = frames
        self.first: tuple[str, Counter[str]] | None = None  # the first snapshot waits on disk, not in memory
        self.done: set[str] = set()

    def watch(self) -> None:
        series = self.folder / f"{os.getpid()}-series.jsonl"
        next_sample = 0.0
        while True:
            if time.time() >= next_sample:  # the allocators' figures every SERIES_S, cheap beside a snapshot
                next_sample = time.time() + SERIES_S
                traced = tracemalloc.get_traced_memory()[0] / 2**20
                with series.open("a") as out:
                    out.write(json.dumps({"time": round(time.time(), 1), "rss_mb": rss(), "malloc_mb": malloc_stats(),
                                          "pymalloc_mb": pymalloc_stats(), "traced_mb": round(traced, 2),
                                          "maps_mb": mappings(), "arrow_mb": arrow_stats()}) + "\n")
            for path in sorted(self.folder.glob("take-*")):
                label = path.name.removeprefix("take-")
                if label not in self.done:
                    self.done.add(label)
                    try:
                        self.take(label)
                    except Exception as exc:  # a diagnostic must never take the worker down
                        (self.folder / f"{os.getpid()}-{label}.json").write_text(json.dumps({"error": repr(exc)}))
            time.sleep(0.5)

    def take(self, label: str) -> None:
        t = time.perf_counter()
        gc.collect()
        report: dict[str, Any] = {
            "pid": os.getpid(), "label": label, "time": time.time(), "rss_mb": rss(), "malloc_mb": malloc_stats(),
            "pymalloc_mb": pymalloc_stats(), "maps_mb": mappings(), "arrow_mb": arrow_stats(),
            "threads": threading.active_count()}
        snap = None
        if tracemalloc.is_tracing():
            snap = tracemalloc.take_snapshot().filter_traces([
                tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, __file__)])
            traced, peak = tracemalloc.get_traced_memory()
            report["tracemalloc_mb"] = {"traced": round(traced / 2**20, 2), "peak": round(peak / 2**20, 2),
                                        "overhead": round(tracemalloc.get_tracemalloc_memory() / 2**20, 2)}
        counts = _type_counts()
        report.update(gc_objects=sum(counts.values()), top_types=counts.most_common(TOP))
        first_path = self.folder / f"{os.getpid()}-first.snapshot"
        if self.first is None:
            if snap is not None:
                snap.dump(str(first_path))
            self.first = (label, counts)
        else:
            since, first_counts = self.first
            report["since"] = since
            if snap is not None:
                first = tracemalloc.Snapshot.load(str(first_path))
                report["top_lines"] = _stat_rows(snap.compare_to(first, "lineno"))
                if self.frames > 1:
                    report["top_tracebacks"] = _stat_rows(snap.compare_to(first, "traceback"))
            diff = Counter(counts)
            diff.subtract(first_counts)
            report["type_diffs"] = sorted(((k, v) for k, v in diff.items() if v), key=lambda kv: -abs(kv[1]))[:TOP]
        del snap, counts
        report["seconds"] = round(time.perf_counter() - t, 2)
        if label == "end":
            libc = _libc()
            if libc is not None:
                t = time.perf_counter()
                libc.malloc_trim(0)
                report["after_malloc_trim"] = {"ms": round(1000 * (time.perf_counter() - t), 2), "rss_mb": rss(),
                                               "malloc_mb": malloc_stats(), "pymalloc_mb": pymalloc_stats()}
        (self.folder / f"{os.getpid()}-{label}.json").write_text(json.dumps(report, indent=1))


def post_worker_init(worker: Any) -> None:
    folder = Path(os.environ["NTPD_MEMTRACE_DIR"])
    frames = int(os.environ.get("NTPD_MEMTRACE_FRAMES", "1"))
    if frames > 0:  # 0: the allocators' figures and object counts only (pymalloc's figures need it off)
        tracemalloc.start(frames)
    tracer = Tracer(folder, frames)
    threading.Thread(target=tracer.watch, name="memtrace", daemon=True).start()
