"""Basemap tiles for a room with no internet (issue 18). The app serves every tile at its own
``/tiles/{z}/{x}/{y}``, so a browser never leaves the app's origin:

- ``MBTiles``: a local MBTiles 1.3 file of raster tiles (PNG, JPEG or WebP), read-only (``NTPD_BASEMAP_FILE``);
- ``TileProxy``: an upstream tile server (``NTPD_TILE_URL``) through a bounded disk cache (diskcache, least
  recently used out, ``NTPD_TILE_CACHE_MB``), so a room that loses its internet keeps the map it has seen. Tiles
  are fetched one at a time as browsers ask for them, never prefetched in bulk, with a User-Agent naming this
  application (the OpenStreetMap tile usage policy); a stored tile is served as it is, however old, when the
  upstream cannot be reached.

Pure Python and sqlite3; Flask serves them in ``http/tiles.py``.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import requests
from diskcache import Cache

log = logging.getLogger(__name__)

MEDIA_TYPES = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "webp": "image/webp"}
#: the first bytes of each raster format, for files whose metadata does not say
_MAGIC = ((b"\x89PNG\r\n\x1a\n", "png"), (b"\xff\xd8\xff", "jpg"), (b"RIFF", "webp"))
USER_AGENT = "ntpd-map/0.1 (NTPD 112 situational-awareness dashboard; tiles fetched as viewed, cached)"
FETCH_TIMEOUT_S = (3.05, 10.0)  # connect, read: a room without internet learns it in about 3 s
#: after an upstream failure, tiles not in the cache are not asked for again for this long: a room that lost its
#: internet must not hold a worker thread for the connect timeout of every tile on its screens
UPSTREAM_BACKOFF_S = 30.0


@dataclass(frozen=True)
class Tile:
    data: bytes
    media_type: str


class TileSource(Protocol):
    attribution: str
    max_zoom: int

    def tile(self, z: int, x: int, y: int) -> Tile | None:
        """The tile at z/x/y (XYZ, as Leaflet numbers them), or None when there is none."""


def valid_tile(z: int, x: int, y: int) -> bool:
    return 0 <= z <= 24 and 0 <= x < 2**z and 0 <= y < 2**z


class MBTilesError(ValueError):
    """The file is not an MBTiles file of raster tiles we can serve; the message says why."""


class MBTiles:
    """A read-only MBTiles 1.3 file. Tiles are stored in TMS order (row 0 at the south); Leaflet asks in XYZ."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise MBTilesError(f"NTPD_BASEMAP_FILE {self.path}: no such file")
        self._local = threading.local()
        try:
            rows = self._connection().execute("SELECT name, value FROM metadata").fetchall()
            self.metadata: dict[str, str] = {str(name): str(value) for name, value in rows}
            zooms = self._connection().execute("SELECT MIN(zoom_level), MAX(zoom_level) FROM tiles").fetchone()
        except sqlite3.DatabaseError as exc:
            raise MBTilesError(f"NTPD_BASEMAP_FILE {self.path} is not an MBTiles file ({exc})") from exc
        fmt = self.metadata.get("format", "").lower() or self._sniff()
        if fmt == "pbf":
            raise MBTilesError(f"NTPD_BASEMAP_FILE {self.path} holds vector tiles (pbf); use a raster MBTiles file")
        if fmt not in MEDIA_TYPES:
            raise MBTilesError(f"NTPD_BASEMAP_FILE {self.path}: unknown tile format {fmt!r} (png, jpg or webp)")
        self.media_type = MEDIA_TYPES[fmt]
        self.min_zoom = int(self.metadata.get("minzoom", zooms[0] or 0))
        self.max_zoom = int(self.metadata.get("maxzoom", zooms[1] or 0))
        self.attribution = self.metadata.get("attribution", "")
        self.name = self.metadata.get("name", self.path.stem)

    def _connection(self) -> sqlite3.Connection:
        # one connection per thread (gunicorn gthread serves a request per thread); read-only, never locking
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(f"file:{self.path}?mode=ro&immutable=1", uri=True, check_same_thread=False)
            self._local.conn = conn
        return conn

    def _sniff(self) -> str:
        row = self._connection().execute("SELECT tile_data FROM tiles LIMIT 1").fetchone()
        head = bytes(row[0][:8]) if row else b""
        return next((fmt for magic, fmt in _MAGIC if head.startswith(magic)), "")

    def tile(self, z: int, x: int, y: int) -> Tile | None:
        if not valid_tile(z, x, y):
            return None
        row = self._connection().execute(
            "SELECT tile_data FROM tiles WHERE zoom_level = ? AND tile_column = ? AND tile_row = ?",
            (z, x, (1 << z) - 1 - y),
        ).fetchone()
        return Tile(bytes(row[0]), self.media_type) if row else None


class TileProxy:
    """An upstream XYZ tile server behind a bounded disk cache."""

    def __init__(self, template: str, cache_dir: str | Path, size_limit: int, *, attribution: str = "",
                 max_zoom: int = 18, session: Any = None) -> None:
        self.template = template
        self.attribution = attribution
        self.max_zoom = max_zoom
        # diskcache: SQLite-indexed files, safe across gunicorn workers; past size_limit (bytes) the least
        # recently used tile goes, one per tile written (its default, ten, would drop tiles still in view);
        # a limit lowered since the last start is met at once (the oldest go ten at a time)
        self.cache = Cache(str(cache_dir), size_limit=size_limit, eviction_policy="least-recently-used",
                           cull_limit=1)
        self.cache.cull()
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT
        self._down_until = 0.0

    def url(self, z: int, x: int, y: int) -> str:
        parts = {"{s}": "abc"[(x + y) % 3], "{z}": str(z), "{x}": str(x), "{y}": str(y), "{r}": ""}
        url = self.template
        for name, value in parts.items():
            url = url.replace(name, value)
        return url

    def tile(self, z: int, x: int, y: int) -> Tile | None:
        if not valid_tile(z, x, y) or z > self.max_zoom:
            return None
        key = f"{z}/{x}/{y}"
        cached = self.cache.get(key)
        if cached is not None:
            media_type, data = cached
            return Tile(data, media_type)
        if time.monotonic() < self._down_until:
            return None  # the upstream failed moments ago: the cache is all there is for now
        try:
            answer = self.session.get(self.url(z, x, y), timeout=FETCH_TIMEOUT_S)
        except requests.RequestException as exc:
            self._down_until = time.monotonic() + UPSTREAM_BACKOFF_S
            log.info("basemap tile %s not fetched (%s): upstream unreachable, cache only for %.0f s", key,
                     type(exc).__name__, UPSTREAM_BACKOFF_S)
            return None
        media_type = answer.headers.get("Content-Type", "").split(";")[0].strip()
        if answer.status_code != 200 or media_type not in MEDIA_TYPES.values():
            log.info("basemap tile %s: upstream answered %s %s", key, answer.status_code, media_type)
            return None
        self.cache.set(key, (media_type, answer.content))
        return Tile(answer.content, media_type)

    def volume_mb(self) -> float:
        return float(self.cache.volume()) / 2**20
