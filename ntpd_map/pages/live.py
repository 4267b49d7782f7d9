"""The live refresh of an incident map, written once for every live view (the operations page, the wall, ...).

Each tick asks the store for its data version first, and then sends one of:

- **nothing** (``LiveLayer.read`` answers None): the version is the one the page holds and no redraw is due;
  the callback sends nothing (204), so an idle page costs a few hundred bytes a tick;
- **a Patch of new incidents** (``Delta.new``): rows written since the page's version, appended to the small
  "new" layer, drawn ringed. A tick's answer then grows with what is new, not with the window;
- **the whole window** (``Delta.whole``): on the first tick, when the view changed (filters), after an
  outage, when a row the page has drawn was updated (its outcome restyles it), and every ``full_s`` so the
  window slides. It is read and encoded a batch at a time (``Store.incident_batches``), so what a redraw
  holds besides its answer does not grow with the window; with ``share_s`` one read serves every page of
  this process redrawing the same view within that many seconds (fifty walls opened together).

The version a page holds is taken from the rows it read (their ``rev``), not only from ``data_version()``
read before them: a row committed in between is drawn once and not taken for an update at the next tick.

When the store is down, ``LiveLayer.down`` marks the page's sync so: a page that has drawn data keeps it under
the banner; a page opened during the outage is drawn from the last good view this process (or another worker)
kept in the shared cache (``remember`` / ``recall``), with the banner saying when that data was read (issue 8).
"""

from __future__ import annotations

import json
import random
import threading
import time
import weakref
from dataclasses import astuple, dataclass, replace
from typing import TYPE_CHECKING, Any, cast

from layers.base import LayerContext
from layers.incidents import geobuf_from_batches
from ntpd_map.store.model import POINT_COLUMNS, IncidentQuery
from ntpd_map.views import ACTIVE_LIMIT, Headline, active_rows, local_time

if TYPE_CHECKING:
    from collections.abc import Iterator

    import pandas as pd
    from flask_caching import Cache

    from ntpd_map.runtime import Runtime
    from ntpd_map.store.base import Store

#: The window slides: the whole of it is redrawn at least this often.
FULL_REFRESH_S = 300
#: How long a page's last good data stays in the shared cache for a browser that opens the page while the store
#: is down: past a day, the "last 24 h" it shows would lie wholly outside its window.
LAST_GOOD_TTL_S = 86_400
#: A page's last good data is written to the shared cache at most this often per process and cache.
REMEMBER_EVERY_S = 30
#: What a map's incident layers read: the points and the version each was written at.
LIVE_COLUMNS = ("rev", *POINT_COLUMNS)


@dataclass(frozen=True)
class Whole:
    """The whole window as the bulk layer draws it: base64 geobuf, the data version and largest id it holds, and
    the bounds of its located points ([[south, west], [north, east]], None when none is located)."""

    at: int
    version: int
    max_id: int
    data: str
    bounds: list[list[float]] | None


@dataclass(frozen=True)
class Delta:
    """What one tick sends of the incident layer: ``whole`` (a redraw) or ``new`` (rows to append)."""

    version: int
    whole: Whole | None = None
    new: pd.DataFrame | None = None


def read_whole(store: Store, query: IncidentQuery, now: int) -> Whole:
    """The window read and encoded a batch at a time (bench/README.md, "Load")."""
    # rows written after data_version() was read are in it too: its version says so, and they are not sent again
    top = {"rev": store.data_version(), "id": 0}
    box = [90.0, 180.0, -90.0, -180.0]

    def batches() -> Iterator[pd.DataFrame]:
        for frame in store.incident_batches(replace(query, columns=LIVE_COLUMNS)):
            top.update(rev=max(top["rev"], int(frame["rev"].max())), id=max(top["id"], int(frame["id"].max())))
            lat, lon = frame["lat"].dropna(), frame["lon"].dropna()
            if len(lat) and len(lon):
                box[:] = [min(box[0], float(lat.min())), min(box[1], float(lon.min())),
                          max(box[2], float(lat.max())), max(box[3], float(lon.max()))]
            yield frame

    data = geobuf_from_batches(batches())
    pad = 0.01
    bounds = [[box[0] - pad, box[1] - pad], [box[2] + pad, box[3] + pad]] if box[0] <= box[2] else None
    return Whole(now, top["rev"], top["id"], data, bounds)


class LiveLayer:
    """The live incident layer of one page (``page`` names its sync and its last good view)."""

    def __init__(self, page: str, *, full_s: int = FULL_REFRESH_S, share_s: int = 0, spread: bool = False) -> None:
        """``share_s``: one whole read serves the page's views of this process within that many seconds;
        ``spread``: each view's next whole redraw comes up to a fifth of ``full_s`` sooner, so views opened
        together do not redraw together."""
        self.page = page
        self.full_s = full_s
        self.share_s = share_s
        self.spread = spread
        self._shared: dict[str, Whole] = {}
        self._reading = threading.Lock()

    def read(self, store: Store, sync: dict[str, Any], query: IncidentQuery, key: str, now: int, *,
             force: bool = False) -> Delta | None:
        """What this tick sends; None when nothing changed and no redraw is due. ``key`` names the view (its
        filters): another key than the page's is a new view. ``force``: the whole, whatever else. Raises
        StoreUnavailable."""
        version = store.data_version()
        held = sync.get("version")
        due = (force or held is None or sync.get("down") or sync.get("key") != key
               or now - sync.get("full_at", 0) >= self.full_s)
        if held == version and not due:
            return None
        new = None if due else store.incidents(replace(query, since_rev=held, columns=LIVE_COLUMNS))
        updated = new is not None and bool((new["id"] <= sync.get("max_id", 0)).any())
        if new is not None and not updated:
            return Delta(max(version, int(new["rev"].max())) if len(new) else version, new=new)
        # a view just opened, or an update to show: nothing older than now; a timed redraw: nothing older than
        # what the view has shown (what came since reaches it with its next Patch)
        at_least = held if held is not None and not updated and sync.get("key") == key else version
        whole = self._whole(store, query, key, now, at_least)
        return Delta(whole.version, whole=whole)

    def _whole(self, store: Store, query: IncidentQuery, key: str, now: int, at_least: int) -> Whole:
        if not self.share_s:
            return read_whole(store, query, now)
        with self._reading:  # views waiting here take the read that was running
            last = self._shared.get(key)
            if last is None or now - last.at >= self.share_s or last.version < at_least:
                last = self._shared[key] = read_whole(store, query, now)
            return last

    def sent(self, sync: dict[str, Any], delta: Delta | None, key: str, now: int) -> dict[str, Any]:
        """The page's sync once this tick's answer is drawn (``delta`` None: counters only)."""
        sync.update(key=key, ok_at=now, down=False)
        sync.pop("cached_at", None)
        if delta is None:
            return sync
        sync["version"] = delta.version
        if delta.whole is not None:
            sync["max_id"] = delta.whole.max_id
            sync["full_at"] = now - (random.randrange(self.full_s // 5) if self.spread else 0)
        elif delta.new is not None and len(delta.new):
            sync["max_id"] = max(int(delta.new["id"].max()), sync.get("max_id", 0))
        return sync

    def down(self, sync: dict[str, Any], cache: Cache, last_key: str, *,
             may_recall: bool = True) -> dict[str, Any] | None:
        """Mark the page's sync as down; the last good view to draw when the page has shown nothing yet (and
        ``may_recall``), else None (the page keeps what it shows, under the banner)."""
        sync["down"] = True
        if not may_recall or sync.get("ok_at") or sync.get("cached_at"):
            return None
        last = recall(cache, last_key)
        if last is not None:
            sync["cached_at"] = last["at"]
        return last


def last_good_key(page: str, region: str, lang: str = "") -> str:
    return f"last-good:{page}:{region}:{lang}"


#: per cache, key -> when this process last kept it there: fifty walls refreshing the same data write it once
_REMEMBERED: weakref.WeakKeyDictionary[Cache, dict[str, float]] = weakref.WeakKeyDictionary()


def remember(cache: Cache, key: str, payload: dict[str, Any]) -> None:
    """Keep a page's last good data in the shared cache as JSON text (plain values only: every worker and
    machine reads it back without unpickling objects), at most every REMEMBER_EVERY_S per process; the
    payload's ``at`` says how old it is when a page is drawn from it."""
    now = time.monotonic()
    kept = _REMEMBERED.setdefault(cache, {})
    if now - kept.get(key, -REMEMBER_EVERY_S) < REMEMBER_EVERY_S:
        return
    kept[key] = now
    cache.set(key, json.dumps(payload, separators=(",", ":")), timeout=LAST_GOOD_TTL_S)


def recall(cache: Cache, key: str) -> dict[str, Any] | None:
    """A page's last good data from the shared cache; None when there is none (or it cannot be read)."""
    raw = cache.get(key)
    if not raw:
        return None
    try:
        payload = json.loads(raw)
    except ValueError:
        return None
    return payload if isinstance(payload, dict) and payload.get("at") else None


#: a new emergency sounds and flashes (issue 18) while it is this young and no operator has acknowledged it
ALERT_MAX_AGE_S = 15 * 60
#: the store's metadata key holding the largest incident id an operator has acknowledged
ALERT_ACK_KEY = "alert_ack_id"


def open_emergencies(runtime: Runtime, store: Store, frame: pd.DataFrame, lang: str, now: int) -> list[dict[str, Any]]:
    """The rows of the "Kejadian aktif" panel (and the active layer) from a view's ``active_incidents``: the
    oldest ACTIVE_LIMIT, oldest first. ``alert``: a new one, received within ALERT_MAX_AGE_S and not yet
    acknowledged on the operations page."""
    settings = runtime.settings
    rows = active_rows(frame.head(ACTIVE_LIMIT), runtime.names, lang, now,
                       60 * settings.int("NTPD_ACTIVE_AMBER_MIN"), 60 * settings.int("NTPD_ACTIVE_RED_MIN"))
    acked = int(store.get_meta(ALERT_ACK_KEY) or 0)
    for row in rows:
        row["alert"] = row["id"] > acked and 60 * row["minutes"] < ALERT_MAX_AGE_S
    return rows


def acknowledge(store: Store, ids: list[int]) -> int:
    """An operator has seen the new emergencies ``ids``: they stop sounding on every screen. The largest id
    acknowledged so far (it never moves back)."""
    acked = max([int(store.get_meta(ALERT_ACK_KEY) or 0), *ids])
    store.set_meta(ALERT_ACK_KEY, str(acked))
    return acked


def plain_headline(h: Headline) -> list[Any]:
    """The counters as plain JSON values, in Headline's field order (``Headline(*values)`` rebuilds them)."""
    return [None if v is None else (float(v) if isinstance(v, float) else int(v)) for v in astuple(h)]


def data_time(at: int | None, now: int, tz: str) -> str:
    """When the data on screen was read, as the banner says it: the local time, with the date when it is from
    an earlier day (a wall rebooted during a long outage)."""
    if not at:
        return "-"
    same_day = local_time(at, tz, "%Y-%m-%d") == local_time(now, tz, "%Y-%m-%d")
    return local_time(at, tz, "%H:%M" if same_day else "%d/%m %H:%M")


class OfflineRuntime:
    """The runtime as a page layout sees it while the store is down: all of it, except that whether the data is
    simulated comes from the last good data (the simulation banner must not vanish from a simulated wall)."""

    def __init__(self, runtime: Runtime, simulated: bool) -> None:
        self._runtime = runtime
        self._simulated = simulated

    def __getattr__(self, name: str) -> Any:
        return getattr(self._runtime, name)

    def is_simulated(self) -> bool:
        return self._simulated


def offline_context(runtime: Runtime, cache: Cache, lang: str, last_key: str, *, wall: bool = False) -> LayerContext:
    """A LayerContext to build a live page's layout while the store is down (the router); its refresh then draws
    the last good data from the cache."""
    last = recall(cache, last_key) or {}
    offline = cast("Runtime", OfflineRuntime(runtime, bool(last.get("simulated"))))
    return LayerContext(offline, lang, wall=wall)
