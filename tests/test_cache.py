"""The shared cache (issue 8): one Redis for every worker, files without it, serialized payloads only, and a Redis
outage that costs cache misses, not 500s. Against a real redis-server started here on a free loopback port."""

from __future__ import annotations

import logging
import pickle
import re
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import missing

REGION = "53.03"
PREFIX = f"ntpd:{REGION}:"
LAYER_KEY = f"{PREFIX}layer:{REGION}:kecamatan"


# --- a real redis-server -----------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """A throwaway redis-server on loopback: no snapshots, no append-only file, its files in ``folder``."""

    def __init__(self, folder: Path, port: int | None = None) -> None:
        self.folder = folder
        self.port = port or _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> RedisServer:
        import redis

        binary = shutil.which("redis-server")
        if binary is None:
            missing("redis-server is not installed (Debian: apt-get install redis-server; scripts/test.sh does)")
        self.proc = subprocess.Popen(
            [str(binary), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        try:
            deadline = time.monotonic() + 15
            while True:
                try:
                    client.ping()
                    return self
                except redis.exceptions.ConnectionError:
                    if self.proc.poll() is not None or time.monotonic() > deadline:
                        self.stop()
                        raise RuntimeError(f"redis-server did not answer on port {self.port}") from None
                    time.sleep(0.05)
        finally:
            client.close()

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None

    def client(self) -> Any:
        import redis

        return redis.Redis(port=self.port)


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture
def rdb(redis_server: RedisServer) -> Iterator[Any]:
    """A client of the module's Redis, emptied before each test."""
    client = redis_server.client()
    client.flushdb()
    yield client
    client.close()


# --- apps over one store -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shared(runtime, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Settings of several apps over one store: the session's SQLite store (with the SIMULATED scenario) and a
    data dir of this module's own (its cache folder empty), the region's boundaries and locator copied in."""
    runtime.locator  # noqa: B018 - built and saved in the session data dir once
    runtime.ensure_scenario()
    folder = tmp_path_factory.mktemp("cache-data")
    shutil.copytree(runtime.settings.boundaries_dir, folder / "boundaries")
    return {"NTPD_DATA_DIR": str(folder), "NTPD_DATABASE_URL": runtime.settings.database_url,
            "NTPD_REGION": REGION, "NTPD_TILE_URL": "", "NTPD_REDIS_URL": ""}


def build_app(shared: dict[str, str], **overrides: str) -> Any:
    """A Dash app with its own Runtime (as a second gunicorn worker would have) on the shared settings."""
    from ntpd_map.config import Settings
    from ntpd_map.factory import create_app
    from ntpd_map.runtime import Runtime

    return create_app(runtime=Runtime(Settings.from_env(None, **{**shared, **overrides})))


@pytest.fixture(scope="module")
def redis_apps(shared: dict[str, str], redis_server: RedisServer) -> tuple[Any, Any]:
    return build_app(shared, NTPD_REDIS_URL=redis_server.url), build_app(shared, NTPD_REDIS_URL=redis_server.url)


@pytest.fixture(scope="module")
def file_apps(shared: dict[str, str]) -> tuple[Any, Any]:
    return build_app(shared), build_app(shared)


@pytest.fixture(scope="module")
def read_key(runtime) -> dict[str, str]:
    from ntpd_map.access.keys import create_api_key

    return {"Authorization": f"Bearer {create_api_key(runtime.store, 'cache-test', 'read')[1]}"}


def runtime_of(app: Any) -> Any:
    return app.server.extensions["ntpd_runtime"]


PASSWORD = "kata-sandi-cache-112"


@pytest.fixture(scope="module")
def admin(runtime) -> str:
    """An admin account in the shared store (every page and callback is behind the sign-in gate, issue 8)."""
    from ntpd_map.access import users

    name = f"cache-admin-{uuid.uuid4().hex[:8]}"
    users.add_user(runtime.store, name, "admin", PASSWORD, actor="test")
    return name


def signed_in(app: Any, account: str) -> tuple[Any, dict[str, str]]:
    """A test client of ``app`` signed in through the sign-in form, and the headers its Dash POSTs carry (the
    CSRF token dash-renderer sends back from the cookie the page set)."""
    client = app.server.test_client()
    form = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert csrf, "no CSRF token in the sign-in form"
    answer = client.post("/login", data={"username": account, "password": PASSWORD, "csrf_token": csrf[1],
                                         "next": "/"})
    assert answer.status_code == 303, answer.get_data(as_text=True)[:500]
    assert client.get("/").status_code == 200
    cookie = client.get_cookie("_csrf_token")
    return client, {"X-CSRFToken": cookie.value} if cookie else {}


def forbid_building(monkeypatch: pytest.MonkeyPatch, app: Any) -> None:
    """From now on the kecamatan layer and the hexagon counts raise if anything builds them (in every app:
    the first app has already built them)."""
    from layers.boundaries import KecamatanLayer

    def boom(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("built again instead of read from the shared cache")

    monkeypatch.setattr(KecamatanLayer, "data", boom)
    monkeypatch.setattr(runtime_of(app).analytics, "hexes", boom)


# --- configuration -----------------------------------------------------------------------------------------------


def test_config_picks_redis_with_a_url_and_files_without(tmp_path: Path) -> None:
    from flask import Flask
    from flask_caching.backends.filesystemcache import FileSystemCache
    from flask_caching.backends.rediscache import RedisCache

    from ntpd_map.cache import cache_config, make_cache
    from ntpd_map.config import Settings

    with_url = Settings.from_env(NTPD_DATA_DIR=str(tmp_path), NTPD_REGION=REGION,
                                 NTPD_REDIS_URL="redis://127.0.0.1:1/0")
    without = Settings.from_env(NTPD_DATA_DIR=str(tmp_path), NTPD_REGION=REGION, NTPD_REDIS_URL="  ")
    config = cache_config(with_url)
    assert config["CACHE_REDIS_URL"] == "redis://127.0.0.1:1/0" and config["CACHE_KEY_PREFIX"] == PREFIX
    assert cache_config(without)["CACHE_DIR"] == str(tmp_path / "cache")
    for settings, kind in ((with_url, RedisCache), (without, FileSystemCache)):
        server = Flask(__name__)
        cache = make_cache(server, settings)
        with server.app_context():
            assert isinstance(cache.cache, kind)
            assert cache.cache.default_timeout in (0, -1)  # never expires: keys carry the data version
    assert (tmp_path / "cache").is_dir()


@pytest.mark.parametrize("with_redis", [True, False])
def test_only_serialized_payloads_go_in(with_redis: bool, shared: dict[str, str], request) -> None:
    from flask import Flask

    from ntpd_map.cache import make_cache
    from ntpd_map.config import Settings

    url: str = request.getfixturevalue("redis_server").url if with_redis else ""
    server = Flask(__name__)
    cache = make_cache(server, Settings.from_env(None, **{**shared, "NTPD_REDIS_URL": url}))
    with server.app_context():
        for value in ({"type": "FeatureCollection", "features": []}, ("a.csv", b"x"), [1, 2], 3):
            with pytest.raises(TypeError, match="not a serialized payload"):
                cache.set("payload-check", value)
            with pytest.raises(TypeError, match="not a serialized payload"):
                cache.set_many({"payload-check": value})
        assert cache.set("payload-check", b"{}") and cache.get("payload-check") == b"{}"
        assert cache.set("payload-check", "{}") and cache.get("payload-check") == "{}"
        cache.delete("payload-check")


# --- sharing ----------------------------------------------------------------------------------------------------


def test_two_apps_share_entries_through_redis(redis_apps, rdb, read_key, admin, monkeypatch) -> None:
    (a, _), (b, _) = (signed_in(app, admin) for app in redis_apps)
    layer = a.get("/layers/kecamatan.geojson")
    hexes = a.get("/api/hexes?res=8", headers=read_key)
    assert layer.status_code == hexes.status_code == 200
    keys = {k.decode() for k in rdb.keys("*")}
    assert LAYER_KEY in keys
    assert any(k.startswith(f"{PREFIX}analytics:") for k in keys)

    forbid_building(monkeypatch, redis_apps[1])
    again = b.get("/layers/kecamatan.geojson")
    assert again.status_code == 200 and again.data == layer.data and again.headers["ETag"] == layer.headers["ETag"]
    hexes_again = b.get("/api/hexes?res=8", headers=read_key)
    assert hexes_again.status_code == 200 and hexes_again.data == hexes.data
    assert {k.decode() for k in rdb.keys("*")} == keys  # read, nothing written again


def test_two_apps_share_entries_through_files(file_apps, shared, read_key, admin, monkeypatch) -> None:
    cache_dir = Path(shared["NTPD_DATA_DIR"]) / "cache"
    (a, _), (b, _) = (signed_in(app, admin) for app in file_apps)
    layer = a.get("/layers/kecamatan.geojson")
    hexes = a.get("/api/hexes?res=8", headers=read_key)
    assert layer.status_code == hexes.status_code == 200
    files = set(cache_dir.iterdir())
    assert files

    forbid_building(monkeypatch, file_apps[1])
    again = b.get("/layers/kecamatan.geojson")
    assert again.status_code == 200 and again.data == layer.data
    assert b.get("/api/hexes?res=8", headers=read_key).data == hexes.data
    assert set(cache_dir.iterdir()) == files
    backend = next(iter(file_apps[0].server.extensions["cache"].values()))
    count_file = Path(backend._get_filename(backend._fs_count_file))  # cachelib's own count of its entries
    for path in files - {count_file}:
        # cachelib's file: a 4-byte expiry, then the pickled value
        assert isinstance(pickle.loads(path.read_bytes()[4:]), bytes | str), path.name


# --- what goes in ------------------------------------------------------------------------------------------------


def callback_body(deps: list[dict[str, Any]], output: str, values: dict[str, Any], changed: list[str]) -> dict:
    """What dash-renderer posts for the callback whose output names ``output`` (as captured from headless
    Chromium): ``values`` by "id.property"; a prop without a value yet (an Interval before its first tick) is
    sent without one."""
    dep = next(d for d in deps if output in d["output"])
    out = dep["output"]

    def spec(text: str) -> dict[str, str]:
        ident, prop = text.rsplit(".", 1)
        return {"id": ident, "property": prop}

    def with_value(item: dict[str, Any]) -> dict[str, Any]:
        key = f"{item['id']}.{item['property']}"
        return {"id": item["id"], "property": item["property"], **({"value": values[key]} if key in values else {})}

    outputs: Any = [spec(p) for p in out[2:-2].split("...")] if out.startswith("..") else spec(out)
    return {"output": out, "outputs": outputs, "inputs": [with_value(i) for i in dep["inputs"]],
            "changedPropIds": changed, "parsedChangedPropsIds": changed,
            "state": [with_value(i) for i in dep["state"]]}


def exercise(client: Any, csrf: dict[str, str], read_key: dict[str, str]) -> None:
    """The pages, their callbacks that talk to the server, every static layer and every cached API."""
    from layers import default_layers

    for path in ("/", "/wall", "/analitik", "/cakupan"):
        assert client.get(path).status_code == 200, path
        route = client.post("/_dash-update-component", headers=csrf, json={
            "output": "page.children", "outputs": {"id": "page", "property": "children"},
            "inputs": [{"id": "url", "property": "pathname", "value": path},
                       {"id": "url", "property": "search", "value": ""}],
            "changedPropIds": ["url.pathname"], "parsedChangedPropsIds": ["url.pathname"]})
        assert route.status_code == 200, path
    deps = client.get("/_dash-dependencies").get_json()
    config: dict[str, Any] = {"wall-config.data": {"tz": "Asia/Makassar", "lang": "id"}, "wall-sync.data": {}}
    first = client.post("/_dash-update-component", headers=csrf,
                        json=callback_body(deps, "wall-sync.data", config, []))
    assert first.status_code == 200
    config["wall-sync.data"] = first.get_json()["response"]["wall-sync"]["data"]
    config["wall-tick.n_intervals"] = 1
    tick = callback_body(deps, "wall-sync.data", config, ["wall-tick.n_intervals"])
    assert client.post("/_dash-update-component", headers=csrf, json=tick).status_code in (200, 204)
    coverage = {"cov-rev.data": 0, "cov-on.data": True, "cov-sync.data": {}, "cov-config.data": {"lang": "id",
                                                                                                 "wall": True}}
    assert client.post("/_dash-update-component", headers=csrf,
                       json=callback_body(deps, "cov-sync.data", coverage, [])).status_code == 200
    for key in [layer.key for layer in default_layers() if layer.static] + ["hexes-8"]:
        for encoding in ("", "gzip"):
            assert client.get(f"/layers/{key}.geojson", headers={"Accept-Encoding": encoding}).status_code == 200
    for path in ("/api/hexes?res=8", "/api/hexes?res=7&empty=1", "/api/priorities", "/api/priorities.csv",
                 "/api/priorities?metric=bts&level=desa", "/api/priorities.xlsx", "/api/bts-proposal.csv",
                 "/api/bts-proposal.xlsx"):
        assert client.get(path, headers=read_key).status_code == 200, path


def test_redis_holds_only_serialized_payloads(redis_apps, rdb, read_key, admin) -> None:
    """flask-caching pickles every value (b"!" + pickle, ints as digits): each must unpickle to bytes or str,
    never a dict or a frame whose unpickling costs every reader."""
    exercise(*signed_in(redis_apps[0], admin), read_key)
    keys = rdb.keys("*")
    assert len(keys) >= 10
    for key in keys:
        raw = rdb.get(key)
        assert raw.startswith(b"!"), key
        value = pickle.loads(raw[1:])
        assert isinstance(value, bytes | str), (key, type(value).__name__)


def test_the_bts_proposal_cached_is_the_file_and_its_name(redis_apps, rdb, read_key) -> None:
    a, b = (app.server.test_client() for app in redis_apps)  # the API: its key, no session
    first = a.get("/api/bts-proposal.csv", headers=read_key)
    second = b.get("/api/bts-proposal.csv", headers=read_key)
    assert first.status_code == second.status_code == 200 and first.data == second.data
    assert second.headers["Content-Disposition"] == first.headers["Content-Disposition"]
    assert 'filename="usulan_bts_53.03_' in first.headers["Content-Disposition"]


# --- Redis down --------------------------------------------------------------------------------------------------


def test_redis_down_costs_misses_not_errors(shared, read_key, admin, tmp_path, caplog, monkeypatch) -> None:
    from ntpd_map.cache import SharedRedisCache

    # Redis is asked again this long after a failure (a refused connect on loopback is quick: the log must
    # still say it once per outage)
    monkeypatch.setattr(SharedRedisCache, "retry_after_s", 0.2)
    server = RedisServer(tmp_path).start()
    try:
        app = build_app(shared, NTPD_REDIS_URL=server.url)
        client, _ = signed_in(app, admin)
        layer = client.get("/layers/kecamatan.geojson")
        assert layer.status_code == 200
        assert server.client().exists(LAYER_KEY)
        server.stop()

        caplog.set_level(logging.WARNING, logger="ntpd_map.cache")
        started = time.monotonic()
        again = client.get("/layers/kecamatan.geojson")
        assert again.status_code == 200 and again.data == layer.data  # computed as if never cached
        assert client.get("/layers/kabkota.geojson").status_code == 200
        assert client.get("/api/hexes?res=8", headers=read_key).status_code == 200
        assert client.get("/api/bts-proposal.csv", headers=read_key).status_code == 200
        assert client.get("/wall").status_code == 200
        assert time.monotonic() - started < 5  # no request waited for Redis beyond the first refused connect
        down = [r for r in caplog.records if "unavailable" in r.getMessage()]
        assert len(down) == 1, [r.getMessage() for r in caplog.records]

        # back on the same port: the next request after the retry delay uses it again, and says so once
        server.start()
        time.sleep(0.3)
        assert client.get("/layers/kecamatan.geojson").status_code == 200
        assert server.client().exists(LAYER_KEY)
        assert sum("available again" in r.getMessage() for r in caplog.records) == 1
    finally:
        server.stop()


def test_an_app_starts_and_serves_while_redis_is_unreachable(shared, file_apps, read_key, admin) -> None:
    app = build_app(shared, NTPD_REDIS_URL=f"redis://127.0.0.1:{_free_port()}/0")  # nothing listens there
    # signed in on another worker of the installation (same secret and store): signing in itself needs the
    # login limits, which live in that Redis too (see the next test)
    elsewhere, _ = signed_in(file_apps[0], admin)
    client = app.server.test_client()
    for name in (app.server.config["SESSION_COOKIE_NAME"], "_csrf_token"):
        cookie = elsewhere.get_cookie(name)
        if cookie is not None:
            client.set_cookie(name, cookie.value, domain=cookie.domain, path=cookie.path)
    assert client.get("/wall").status_code == 200
    assert client.get("/layers/kecamatan.geojson").status_code == 200
    assert client.get("/api/hexes?res=8", headers=read_key).status_code == 200


def test_signing_in_works_while_redis_is_unreachable(shared, admin) -> None:
    app = build_app(shared, NTPD_REDIS_URL=f"redis://127.0.0.1:{_free_port()}/0")
    signed_in(app, admin)
