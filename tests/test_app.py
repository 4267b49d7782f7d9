"""The app's own HTTP surface: static layers by URL with browser caching, health, page routing."""

from __future__ import annotations

import json

import pytest

from tests.conftest import sign_in


@pytest.fixture(scope="module")
def client(runtime):
    from ntpd_map.factory import create_app

    app = create_app(runtime=runtime)
    client = app.server.test_client()
    sign_in(client, runtime.store, "admin")  # every page and layer needs signing in (issue 8)
    return client


def test_static_layer_is_sent_gzipped_to_browsers_that_take_it(client) -> None:
    import gzip

    plain = client.get("/layers/kecamatan.geojson")
    packed = client.get("/layers/kecamatan.geojson", headers={"Accept-Encoding": "gzip, deflate, br"})
    assert "Content-Encoding" not in plain.headers and packed.headers["Content-Encoding"] == "gzip"
    assert json.loads(gzip.decompress(packed.data)) == plain.get_json()
    assert len(packed.data) < len(plain.data) / 3 and packed.headers["ETag"] == plain.headers["ETag"]
    assert "Accept-Encoding" in packed.headers["Vary"]


def test_static_layer_by_url_with_etag(client) -> None:
    first = client.get("/layers/kecamatan.geojson")
    assert first.status_code == 200
    assert first.headers["Cache-Control"].startswith("public")
    data = json.loads(first.data)
    assert len(data["features"]) == 24
    again = client.get("/layers/kecamatan.geojson", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and not again.data
    assert client.get("/layers/incidents.geojson").status_code == 404  # dynamic layers are not files
    sneaky = client.get("/layers/..%2F..%2Fntpd_map%2Fconfig.geojson")  # never a file from disk
    assert sneaky.mimetype != "application/geo+json" and b"NTPD_DATABASE_URL" not in sneaky.data


def test_health_reports_store_and_simulation(client, runtime) -> None:
    body = client.get("/api/health").get_json()
    assert body["status"] == "ok" and body["region"] == "53.03"
    assert body["simulated"] is True  # the empty store got the labelled scenario
    assert runtime.store.count_incidents() > 1000


def test_health_says_when_the_store_is_down(client, runtime, monkeypatch) -> None:
    from ntpd_map.store.model import StoreUnavailable

    def down() -> None:
        raise StoreUnavailable("database at 127.0.0.1 refused the connection")

    monkeypatch.setattr(runtime.store, "ping", down)
    response = client.get("/api/health")
    assert response.status_code == 503 and response.get_json()["status"] == "store_unavailable"


def test_pages_are_served_and_scripts_are_local(client) -> None:
    for path in ("/", "/wall"):
        page = client.get(path)
        assert page.status_code == 200
        html = page.data.decode()
        assert "unpkg.com" not in html and "cdn" not in html.lower()  # no call outside our own server
