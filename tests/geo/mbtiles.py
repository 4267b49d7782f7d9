"""Build small MBTiles 1.3 files for the tests: real PNG tiles (Pillow), stored in TMS row order as the spec says."""

from __future__ import annotations

import io
import sqlite3
from collections.abc import Mapping
from pathlib import Path

from PIL import Image


def png(colour: tuple[int, int, int], size: int = 256) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(out, format="PNG")
    return out.getvalue()


def write_mbtiles(path: Path, tiles: Mapping[tuple[int, int, int], bytes], metadata: Mapping[str, str]) -> Path:
    """``tiles`` by XYZ (z, x, y), as Leaflet numbers them; written with the TMS row (2^z - 1 - y)."""
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE metadata (name TEXT, value TEXT)")
    conn.execute("CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, tile_data BLOB)")
    conn.execute("CREATE UNIQUE INDEX tile_index ON tiles (zoom_level, tile_column, tile_row)")
    conn.executemany("INSERT INTO metadata VALUES (?, ?)", metadata.items())
    conn.executemany("INSERT INTO tiles VALUES (?, ?, ?, ?)",
                     [(z, x, (1 << z) - 1 - y, data) for (z, x, y), data in tiles.items()])
    conn.commit()
    conn.close()
    return path
