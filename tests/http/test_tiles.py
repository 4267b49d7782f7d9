"""/tiles: the basemap at the app's own origin (issue 18), from an MBTiles file, for signed-in people only."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import sign_in
from tests.geo.mbtiles import png, write_mbtiles

TILE = png((10, 120, 40))
#: the tile over Kefamenanu at zoom 12
Z, X, Y = 12, 3301, 2157


@pytest.fixture(scope="module")
def app(runtime, tmp_path_factory: pytest.TempPathFactory) -> Any:
    from ntpd_map.config import Settings
    from ntpd_map.factory import create_app
    from ntpd_map.runtime import Runtime

    data = tmp_path_factory.mktemp("tiles")
    basemap = write_mbtiles(data / "ttu.mbtiles", {(Z, X, Y): TILE},
                            {"name": "TTU", "format": "png", "minzoom": "12", "maxzoom": "12",
                             "attribution": "© OpenStreetMap contributors"})
    rt = Runtime(Settings.from_env(NTPD_DATA_DIR=str(data), NTPD_REGION="53.03", NTPD_BASEMAP_FILE=str(basemap),
                                   NTPD_SIM_DAYS="2", NTPD_DATABASE_URL=f"sqlite:///{data / 't.sqlite'}"))
    rt.__dict__["region"] = runtime.region
    rt.__dict__["locator"] = runtime.locator
    return create_app(runtime=rt)


def test_a_signed_in_page_gets_the_files_tiles_from_the_app_itself(app: Any) -> None:
    client = app.server.test_client()
    anonymous = client.get(f"/tiles/{Z}/{X}/{Y}")  # not an open tile server
    assert anonymous.status_code == 302 and anonymous.location.startswith("/login")
    sign_in(client, app.server.extensions["ntpd_runtime"].store, "wall")
    answer = client.get(f"/tiles/{Z}/{X}/{Y}")
    assert answer.status_code == 200 and answer.mimetype == "image/png" and answer.data == TILE
    assert answer.cache_control.max_age >= 86400 and answer.cache_control.public
    assert client.get(f"/tiles/{Z}/{X}/{Y}", headers={"If-None-Match": answer.get_etag()[0]}).status_code == 304
    missing = client.get(f"/tiles/{Z}/{X + 1}/{Y}")
    assert missing.status_code == 404 and "no-store" in missing.headers["Cache-Control"]
    assert client.get("/tiles/3/9/0").status_code == 404  # no such tile in the world


def test_the_pages_ask_the_app_for_tiles_and_allow_images_from_nowhere_else(app: Any) -> None:
    client = app.server.test_client()
    sign_in(client, app.server.extensions["ntpd_runtime"].store, "operator")
    page = client.get("/")
    img_src = next(p for p in page.headers["Content-Security-Policy"].split("; ") if p.startswith("img-src"))
    assert img_src == "img-src 'self' data: blob:"
    answer = client.post("/_dash-update-component", headers={"X-CSRFToken": client.get_cookie("_csrf_token").value},
                         json={"output": "page.children", "outputs": {"id": "page", "property": "children"},
                               "changedPropIds": [], "inputs": [{"id": "url", "property": "pathname", "value": "/"},
                                                                {"id": "url", "property": "search", "value": ""}]})
    tree = answer.get_json()
    assert any(p.get("url") == "/layers/kabkota.geojson" for p in components(tree, "GeoJSON"))  # land beneath
    tile_layers = list(components(tree, "TileLayer"))
    assert [(c["url"], c["maxNativeZoom"], c["attribution"]) for c in tile_layers] == [
        ("/tiles/{z}/{x}/{y}", 12, "© OpenStreetMap contributors")]  # the file's zooms, enlarged beyond them


def components(tree: Any, kind: str) -> Iterator[dict[str, Any]]:
    """The props of every component of type ``kind`` in a Dash JSON tree."""
    if isinstance(tree, dict):
        if tree.get("type") == kind:
            yield tree["props"]
        for value in tree.values():
            yield from components(value, kind)
    elif isinstance(tree, list):
        for value in tree:
            yield from components(value, kind)


def test_with_no_basemap_the_land_is_drawn_from_the_boundaries_crediting_only_them(runtime) -> None:
    from layers.base import LayerContext
    from ntpd_map.pages.common import BOUNDARY_CREDIT, LAND_PANE, basemap_layer

    assert runtime.basemap is None  # the session runtime has neither a file nor an upstream
    ctx = LayerContext(runtime)
    pane, credit = basemap_layer(ctx, 0.9)
    assert pane.name == LAND_PANE and pane.style["zIndex"] < 200  # under tiles, the signal coverage and all else
    assert pane.children.url == "/layers/kabkota.geojson" and pane.children.interactive is False
    assert not list(components(pane.to_plotly_json(), "TileLayer"))
    assert BOUNDARY_CREDIT in credit.prefix and "OpenStreetMap" not in str(pane.to_plotly_json()) + credit.prefix


def test_a_basemap_file_that_cannot_be_served_stops_the_start_saying_why(runtime, tmp_path) -> None:
    from ntpd_map.config import Settings
    from ntpd_map.factory import create_app
    from ntpd_map.geo.tiles import MBTilesError
    from ntpd_map.runtime import Runtime

    vector = write_mbtiles(tmp_path / "vektor.mbtiles", {(0, 0, 0): b"\x1a\x02"}, {"format": "pbf"})
    rt = Runtime(Settings.from_env(NTPD_DATA_DIR=str(tmp_path), NTPD_REGION="53.03", NTPD_BASEMAP_FILE=str(vector),
                                   NTPD_DATABASE_URL=f"sqlite:///{tmp_path / 'v.sqlite'}"))
    rt.__dict__["region"] = runtime.region
    with pytest.raises(MBTilesError, match="vector tiles"):
        create_app(runtime=rt)
