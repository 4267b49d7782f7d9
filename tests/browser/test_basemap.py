"""The basemap in headless Chromium (issue 18): with NTPD_BASEMAP_FILE every tile comes from the app's own
origin and nothing is asked of any other host; offline with an empty cache no tile is drawn and none is
credited. The live app's basemap is swapped for each test (Runtime.basemap is read per request)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

from ntpd_map.geo.tiles import MBTiles, TileProxy
from tests.geo.mbtiles import png, write_mbtiles

if TYPE_CHECKING:
    from ntpd_map.geo.tiles import TileSource
    from tests.browser.conftest import Browser, LiveApp

pytestmark = pytest.mark.browser

FILE_CREDIT = "Peta dasar uji (MBTiles)"
UPSTREAM_CREDIT = "Ubin hulu uji"
LAND = (221, 214, 190)
MAX_ZOOM = 12

#: what the map's credit says and every basemap tile in the page: whether it was drawn, and its URL
TILES_JS = """
var el = document.getElementById(arguments[0]);
var credit = el.querySelector('.leaflet-control-attribution');
return {credit: credit ? credit.textContent : null,
        tiles: Array.prototype.map.call(el.querySelectorAll('img.leaflet-tile'), function (img) {
          return {src: img.src, loaded: img.classList.contains('leaflet-tile-loaded') && img.complete
                  && img.naturalWidth === 256};
        })};
"""


def tile_xy(lon: float, lat: float, z: int) -> tuple[int, int]:
    """The XYZ tile holding a point (Web Mercator, as Leaflet numbers tiles)."""
    n = 1 << z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return min(x, n - 1), min(y, n - 1)


@pytest.fixture
def swap_basemap(live_app: LiveApp) -> Iterator[Callable[[TileSource], None]]:
    def swap(source: TileSource) -> None:
        live_app.runtime.__dict__["basemap"] = source

    yield swap
    live_app.runtime.__dict__.pop("basemap", None)


def region_file(live_app: LiveApp, path: Path) -> Path:
    """An MBTiles file of the region at zooms 5..MAX_ZOOM, one land-coloured PNG, with a margin of six tiles (a
    screen's half-width) around it."""
    minx, miny, maxx, maxy = (float(v) for v in live_app.runtime.region.kabkota.total_bounds)
    tile = png(LAND)
    tiles = {}
    for z in range(5, MAX_ZOOM + 1):
        m = 6 * 360 / (1 << z)
        (x0, y0), (x1, y1) = tile_xy(minx - m, maxy + m, z), tile_xy(maxx + m, miny - m, z)
        tiles.update({(z, x, y): tile for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)})
    return write_mbtiles(path, tiles, {"name": "uji", "format": "png", "minzoom": "5",
                                       "maxzoom": str(MAX_ZOOM), "attribution": FILE_CREDIT})


def basemap_state(browser: Browser, map_id: str) -> dict[str, Any]:
    state: dict[str, Any] = browser.js(TILES_JS, map_id)
    return state


@pytest.mark.parametrize(("page", "map_id"), [("/wall", "wall-map"), ("/", "ops-map")], ids=["wall", "ops"])
def test_tiles_of_a_basemap_file_come_from_the_apps_own_origin(
        browser: Browser, live_app: LiveApp, swap_basemap: Callable[[TileSource], None], tmp_path: Path, page: str,
        map_id: str) -> None:
    swap_basemap(MBTiles(region_file(live_app, tmp_path / "region.mbtiles")))
    browser.resize(1920, 1080)
    browser.open(page)

    def drawn() -> dict[str, Any] | None:
        state = basemap_state(browser, map_id)
        tiles = state["tiles"]
        # a 1920x1080 map holds at least 8x5 tiles of 256 px; fewer is a view still being fitted
        return state if len(tiles) >= 40 and all(t["loaded"] for t in tiles) else None

    state = browser.wait(drawn, 30, "the basemap file's tiles were never all drawn")
    time.sleep(1)  # let any late request show in the log
    origin = urlsplit(live_app.base_url).netloc
    tiles = state["tiles"]
    assert {urlsplit(t["src"]).netloc for t in tiles} == {origin}
    assert all(urlsplit(t["src"]).path.startswith("/tiles/") for t in tiles)
    assert FILE_CREDIT in str(state["credit"]), state["credit"]
    assert "wilayah_boundaries" in str(state["credit"])
    # no internet in a 3T command room: the page asks nothing of any other host (tiles, fonts, scripts)
    asked = {urlsplit(e["params"]["request"]["url"]).netloc for e in browser.network()
             if e["method"] == "Network.requestWillBeSent"
             and urlsplit(e["params"]["request"]["url"]).scheme in ("http", "https")}
    assert asked == {origin}, asked
    served = [e for e in browser.network() if e["method"] == "Network.responseReceived"
              and "/tiles/" in e["params"]["response"]["url"]]
    statuses = {(urlsplit(e["params"]["response"]["url"]).path, e["params"]["response"]["status"]) for e in served}
    assert served and all(status == 200 for _, status in statuses), {s for s in statuses if s[1] != 200}
    assert all(e["params"]["response"]["mimeType"] == "image/png" for e in served)
    browser.screenshot()


def test_offline_with_an_empty_cache_no_tile_is_drawn_or_credited(
        browser: Browser, live_app: LiveApp, swap_basemap: Callable[[TileSource], None], tmp_path: Path) -> None:
    # an upstream that cannot be reached (nothing listens on port 9) and an empty disk cache
    swap_basemap(TileProxy("http://127.0.0.1:9/{z}/{x}/{y}.png", tmp_path / "tiles",
                           2**20, attribution=UPSTREAM_CREDIT))
    browser.resize(1920, 1080)
    browser.open("/wall")

    def failed() -> dict[str, Any] | None:
        state = basemap_state(browser, "wall-map")
        errors = [e for e in browser.network() if e["method"] == "Network.responseReceived"
                  and "/tiles/" in e["params"]["response"]["url"]]
        return state if state["tiles"] and state["credit"] is not None and len(errors) >= 4 else None

    state = browser.wait(failed, 30, "the wall never asked for its tiles")
    time.sleep(1)
    state = basemap_state(browser, "wall-map")
    assert not any(t["loaded"] for t in state["tiles"])
    assert UPSTREAM_CREDIT not in str(state["credit"]), state["credit"]
    assert "wilayah_boundaries" in str(state["credit"])  # what is drawn is still credited
    browser.screenshot()
