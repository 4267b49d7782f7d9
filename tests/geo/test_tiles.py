"""Basemap tiles with no internet (issue 18): the MBTiles reader and the cached upstream."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ntpd_map.geo.tiles import USER_AGENT, MBTiles, MBTilesError, TileProxy
from tests.geo.mbtiles import png, write_mbtiles

RED, BLUE = png((200, 30, 30)), png((30, 30, 200))


def test_a_tile_is_read_at_its_xyz_address_from_the_tms_rows(tmp_path: Path) -> None:
    # z=2: TMS row = 3 - y, so (2, 1, 0) is stored in row 3; a reader that forgot the flip returns BLUE
    path = write_mbtiles(tmp_path / "b.mbtiles", {(2, 1, 0): RED, (2, 1, 3): BLUE},
                         {"name": "TTU", "format": "png", "minzoom": "2", "maxzoom": "2",
                          "attribution": "© OpenStreetMap contributors"})
    tiles = MBTiles(path)
    assert tiles.tile(2, 1, 0).data == RED and tiles.tile(2, 1, 3).data == BLUE
    assert tiles.tile(2, 1, 0).media_type == "image/png"
    assert tiles.tile(2, 0, 0) is None  # not in the file
    assert tiles.tile(2, 4, 0) is None and tiles.tile(-1, 0, 0) is None  # no such tile anywhere
    assert (tiles.min_zoom, tiles.max_zoom, tiles.attribution) == (2, 2, "© OpenStreetMap contributors")


def test_a_file_whose_metadata_omits_the_format_is_recognised_by_its_tiles(tmp_path: Path) -> None:
    tiles = MBTiles(write_mbtiles(tmp_path / "b.mbtiles", {(0, 0, 0): RED}, {"name": "x"}))
    assert tiles.media_type == "image/png" and (tiles.min_zoom, tiles.max_zoom) == (0, 0)


@pytest.mark.parametrize(("make", "says"), [
    (lambda p: p / "none.mbtiles", "no such file"),
    (lambda p: (p / "t.mbtiles").write_bytes(b"not sqlite at all" * 100) and p / "t.mbtiles", "not an MBTiles"),
    (lambda p: write_mbtiles(p / "v.mbtiles", {(0, 0, 0): b"\x1a\x02"}, {"format": "pbf"}), "vector tiles"),
])
def test_a_file_that_cannot_be_served_is_refused_saying_why(tmp_path: Path, make, says: str) -> None:
    with pytest.raises(MBTilesError, match=says):
        MBTiles(make(tmp_path))


class Upstream:
    """A real HTTP tile server on loopback, counting requests and keeping their User-Agent."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str]] = []
        self.answer: tuple[int, str, bytes] = (200, "image/png", RED)
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                upstream.requests.append((self.path, self.headers.get("User-Agent", "")))
                status, media, body = upstream.answer
                self.send_response(status)
                self.send_header("Content-Type", media)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/{{z}}/{{x}}/{{y}}.png"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    server = Upstream()
    yield server
    server.stop()


def test_an_upstream_tile_is_fetched_once_naming_the_app_and_kept_when_the_internet_goes(
        upstream: Upstream, tmp_path: Path) -> None:
    proxy = TileProxy(upstream.url, tmp_path / "tiles", 50 * 2**20)
    assert proxy.tile(12, 3301, 1971).data == RED
    assert proxy.tile(12, 3301, 1971).data == RED  # from the disk cache
    assert upstream.requests == [("/12/3301/1971.png", USER_AGENT)]
    upstream.stop()  # the room loses its internet
    again = TileProxy(upstream.url, tmp_path / "tiles", 50 * 2**20)  # another worker, or after a restart
    assert again.tile(12, 3301, 1971).data == RED
    assert again.tile(12, 3302, 1971) is None  # never seen: nothing to show, no error
    # and the next tiles not in the cache are not asked for while the upstream is known to be down
    asked: list[str] = []
    real_get = again.session.get
    again.session.get = lambda url, **kw: asked.append(url) or real_get(url, **kw)
    assert again.tile(12, 3303, 1971) is None and again.tile(12, 3304, 1971) is None and asked == []
    assert again.tile(12, 3301, 1971).data == RED  # the cache still serves


@pytest.mark.parametrize("answer", [(404, "image/png", b""), (200, "text/html", b"<html>Login Wi-Fi</html>")])
def test_what_is_not_a_tile_is_neither_served_nor_kept(upstream: Upstream, tmp_path: Path, answer) -> None:
    # a captive portal answers every URL with its sign-in page: it must not become the map
    upstream.answer = answer
    proxy = TileProxy(upstream.url, tmp_path / "tiles", 50 * 2**20)
    assert proxy.tile(5, 1, 1) is None
    upstream.answer = (200, "image/png", BLUE)
    assert proxy.tile(5, 1, 1).data == BLUE
    assert len(upstream.requests) == 2


def test_the_cache_stays_within_its_size_and_keeps_the_tiles_last_used(upstream: Upstream, tmp_path: Path) -> None:
    tile_bytes = 100_000
    proxy = TileProxy(upstream.url, tmp_path / "tiles", 5 * tile_bytes)
    upstream.answer = (200, "image/png", b"\x89PNG" + b"\0" * (tile_bytes - 4))
    proxy.tile(10, 0, 0)  # the first tile, looked at again and again
    for x in range(1, 12):
        proxy.tile(10, x, 0)
        proxy.tile(10, 0, 0)
        # the limit, the one tile just written (culled at the next write) and the index's own pages
        assert proxy.cache.volume() <= 6 * tile_bytes + 64 * 1024, proxy.cache.volume()
    fetched = len(upstream.requests)
    assert fetched == 12  # the tile in use never left the cache
    assert proxy.tile(10, 1, 0) is not None and len(upstream.requests) == 13  # an old one did
    smaller = TileProxy(upstream.url, tmp_path / "tiles", 2 * tile_bytes)  # the setting lowered, a restart
    assert smaller.cache.volume() <= 2 * tile_bytes  # met at once (diskcache culls the oldest ten at a time)
