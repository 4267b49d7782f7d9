"""Who gets in, and to what (issue 8): anonymous requests get nothing but the sign-in page; each role opens
exactly its pages and calls exactly its callbacks; API keys keep their roles; CSRF, session end, password and
role changes, disabled accounts, revoked display tokens, the sign-in rate limit and the secure headers.

The expected matrix is written out here, from the issue and the README's role table, not read from
``ntpd_map.access.roles``: a change to who may do what has to change this test too.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import TEST_PASSWORD, sign_in

ROLES = ("wall", "operator", "planner", "admin")
EVERYONE = set(ROLES)
#: page -> roles that open it (others get 403; anonymous people are sent to /login)
PAGES = {
    "/": {"operator", "admin"},
    "/wall": EVERYONE,
    "/analitik": {"operator", "planner", "admin"},
    "/cakupan": {"operator", "planner", "admin"},
    "/briefing": {"operator", "planner", "admin"},
}
#: plain routes that take a page's roles: the briefing's downloads (a period that cannot be read: 400 once past
#: the gate, so nothing is built)
DOWNLOADS = {
    "/briefing/pdf?period=bulan-lalu": {"operator", "planner", "admin"},
    "/briefing/xlsx?period=bulan-lalu": {"operator", "planner", "admin"},
}
#: a concern of callbacks -> roles that may call them
CALLBACKS = {
    "router": EVERYONE,
    "wall": EVERYONE,
    "coverage-shared": EVERYONE,
    "alert": EVERYONE,  # clientside: it never reaches the server
    "ops": {"operator", "admin"},
    "analytics": {"operator", "planner", "admin"},
    "coverage": {"operator", "planner", "admin"},
    "briefing": {"operator", "planner", "admin"},
}


@pytest.fixture(scope="module")
def app(runtime, tmp_path_factory: pytest.TempPathFactory):
    """The real app on a fresh SQLite store with the simulated scenario (the session runtime's boundaries)."""
    from ntpd_map.config import Settings
    from ntpd_map.factory import create_app
    from ntpd_map.runtime import Runtime

    data = tmp_path_factory.mktemp("access")
    rt = Runtime(Settings.from_env(NTPD_DATA_DIR=str(data), NTPD_REGION="53.03", NTPD_TILE_URL="",
                                   NTPD_SIM_DAYS="10", NTPD_DATABASE_URL=f"sqlite:///{data / 'a.sqlite'}"))
    rt.__dict__["region"] = runtime.region
    rt.__dict__["locator"] = runtime.locator
    built = create_app(runtime=rt)
    load_dependencies(built)
    return built


@pytest.fixture
def store(app):
    return app.server.extensions["ntpd_runtime"].store


def client_as(app: Any, who: str | None) -> tuple[Any, str | None]:
    """A test client signed in as ``who`` (a role, "display" for a wall's token, None for anonymous) and its
    CSRF token."""
    client = app.server.test_client()
    store = app.server.extensions["ntpd_runtime"].store
    if who is None:
        return client, None
    if who == "display":
        from ntpd_map.access import displays

        _id, token = displays.create_display_token(store, f"layar-{time.monotonic_ns()}", actor="test")
        assert client.get(f"/wall?token={token}").status_code == 200
        return client, client.get_cookie("_csrf_token").value
    return client, sign_in(client, store, who)


def callback_body(app: Any, output: str) -> dict[str, Any]:
    """A request for one callback as dash-renderer sends it, every input and state empty."""
    dep = DEPENDENCIES[id(app)][output]

    def spec(d: dict[str, Any]) -> dict[str, Any]:
        return {"id": d["id"], "property": d["property"], "value": None}

    def parse(part: str) -> dict[str, Any]:
        component, prop = part.rsplit(".", 1)
        return {"id": component, "property": prop.split("@")[0]}

    if output.startswith(".."):
        outputs: Any = [parse(p) for p in output.strip(".").split("...")]
    else:
        outputs = parse(output)
    return {"output": output, "outputs": outputs, "inputs": [spec(d) for d in dep["inputs"]],
            "state": [spec(d) for d in dep["state"]], "changedPropIds": []}


DEPENDENCIES: dict[int, dict[str, dict[str, Any]]] = {}


def load_dependencies(app: Any) -> None:
    """The callbacks as the browser sees them (``/_dash-dependencies``), by output."""
    client, _csrf = client_as(app, "admin")
    DEPENDENCIES[id(app)] = {d["output"]: d for d in client.get("/_dash-dependencies").get_json()}


# anonymous ---------------------------------------------------------------------------------------------------
def test_anonymous_requests_get_nothing_but_the_sign_in_page(app) -> None:
    client = app.server.test_client()
    for path in ("/", "/wall", "/analitik", "/cakupan", "/briefing", "/briefing?period=2025-05",
                 "/briefing/pdf?period=2025-05", "/briefing/xlsx?period=2025-05", "/apa-saja", "/wall?token=",
                 "/_dash-layout", "/_dash-dependencies", "/layers/kecamatan.geojson", "/layers/desa.geojson"):
        answer = client.get(path, headers={"Accept": "text/html"})
        assert answer.status_code == 302 and answer.location.startswith("/login?next="), (path, answer.status)
    for path in ("/_dash-layout", "/layers/kecamatan.geojson"):
        assert client.get(path, headers={"Accept": "application/json"}).status_code == 401
    for output in app.callback_map:
        answer = client.post("/_dash-update-component", json=callback_body(app, output))
        assert answer.status_code == 401, output
    page = client.get("/login")
    assert page.status_code == 200 and 'id="login-form"' in page.text and "Masuk" in page.text
    # the API answers anonymous requests with 401 and nothing else, the health check with its status only
    for path in ("/api/recap", "/api/priorities", "/api/responders", "/api/coverage/history", "/api/hexes",
                 "/api/bts-proposal.csv", "/api/priorities.xlsx"):
        answer = client.get(path)
        assert answer.status_code == 401 and set(answer.get_json()) == {"error"}, path
    assert client.post("/api/incidents", json=[]).status_code == 401


# the matrix --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("who", ["display", *ROLES])
def test_each_role_opens_exactly_its_pages_and_calls_exactly_its_callbacks(app, who: str) -> None:
    role = "wall" if who == "display" else who
    client, csrf = client_as(app, who)
    for page, allowed in PAGES.items():
        answer = client.get(page, headers={"Accept": "text/html"})
        expected = 200 if role in allowed else 403
        assert answer.status_code == expected, (who, page, answer.status_code)
    for path, allowed in DOWNLOADS.items():
        answer = client.get(path, headers={"Accept": "text/html"})
        assert answer.status_code == (400 if role in allowed else 403), (who, path, answer.status_code)
    access = app.server.extensions["ntpd_access"]
    assert set(access.concerns) == set(app.callback_map), "a callback belongs to no concern"
    refused: list[str] = []
    for output in app.callback_map:
        concern = access.concerns[output]
        assert concern in CALLBACKS, f"{output}: unknown concern {concern}"
        if DEPENDENCIES[id(app)][output].get("clientside_function"):
            continue  # runs in the browser: Dash's server has no function to call
        answer = client.post("/_dash-update-component", json=callback_body(app, output),
                             headers={"X-CSRFToken": csrf})
        if role in CALLBACKS[concern]:
            assert answer.status_code in (200, 204), (who, output, answer.status_code, answer.text[:300])
        else:
            assert answer.status_code == 403, (who, output, answer.status_code)
            refused.append(output)
    # the router itself refuses a page the role may not open (a link followed inside the app)
    for page, allowed in PAGES.items():
        body = {"output": "page.children", "outputs": {"id": "page", "property": "children"},
                "inputs": [{"id": "url", "property": "pathname", "value": page},
                           {"id": "url", "property": "search", "value": ""}], "changedPropIds": ["url.pathname"]}
        answer = client.post("/_dash-update-component", json=body, headers={"X-CSRFToken": csrf})
        assert answer.status_code == 200
        assert ("forbidden" in answer.text) == (role not in allowed), (who, page)
    if role == "wall":
        assert refused, "a wall may call every callback"


def test_a_callback_the_gate_does_not_know_is_refused_to_everyone(app) -> None:
    client, csrf = client_as(app, "admin")
    body = {"output": "..ops-list.children...layer-incidents.data..", "inputs": [], "state": []}
    assert client.post("/_dash-update-component", json=body, headers={"X-CSRFToken": csrf}).status_code == 403


def test_api_keys_keep_their_roles_and_a_session_is_not_an_api_key(app, store) -> None:
    from ntpd_map.access.keys import create_api_key

    client = app.server.test_client()
    keys = {role: create_api_key(store, f"uji-{role}", role)[1] for role in ("ingest", "read", "planner", "admin")}
    # endpoint -> roles that may; everything else gets 403
    readers = {"read", "planner", "admin"}
    reads = {"/api/recap?from=2026-11-01&to=2026-11-20": readers, "/api/responders": readers,
             "/api/coverage/history": readers, "/api/responders/unknown": {"admin"}}
    for path, allowed in reads.items():
        for role, key in keys.items():
            answer = client.get(path, headers={"Authorization": f"Bearer {key}"})
            assert answer.status_code == (200 if role in allowed else 403), (path, role, answer.status_code)
    for role, key in keys.items():
        answer = client.post("/api/incidents", json=[], headers={"Authorization": f"Bearer {key}"})
        assert (answer.status_code == 403) == (role not in ("ingest", "admin")), (role, answer.status_code)
        mark = client.post("/api/coverage/marks", json={"status": "weak"}, headers={"Authorization": f"Bearer {key}"})
        assert (mark.status_code == 403) == (role not in ("planner", "admin")), (role, mark.status_code)
    # a signed-in admin's browser session opens no API endpoint: integrations use keys
    browser, _csrf = client_as(app, "admin")
    assert browser.get("/api/recap?from=2026-11-01&to=2026-11-20").status_code == 401


# CSRF and sessions -------------------------------------------------------------------------------------------
def test_state_changes_need_the_csrf_token(app, store) -> None:
    from ntpd_map.access import users

    users.add_user(store, "csrf-t", "planner", TEST_PASSWORD, actor="test")
    client = app.server.test_client()
    # the sign-in form without its token: refused before the password is even looked at
    assert client.post("/login", data={"username": "csrf-t", "password": TEST_PASSWORD}).status_code == 400
    csrf = sign_in(client, store, "planner", "csrf-t")
    body = {"output": "page.children", "outputs": {"id": "page", "property": "children"},
            "inputs": [{"id": "url", "property": "pathname", "value": "/cakupan"},
                       {"id": "url", "property": "search", "value": ""}], "changedPropIds": []}
    assert client.post("/_dash-update-component", json=body).status_code == 400
    assert client.post("/_dash-update-component", json=body, headers={"X-CSRFToken": "x" + csrf}).status_code == 400
    assert client.post("/_dash-update-component", json=body, headers={"X-CSRFToken": csrf}).status_code == 200
    # another person's token does not fit this session
    other = app.server.test_client()
    other_csrf = sign_in(other, store, "planner", "csrf-t")
    assert client.post("/_dash-update-component", json=body, headers={"X-CSRFToken": other_csrf}).status_code == 400
    assert client.post("/logout").status_code == 400  # signing out is a state change too
    assert client.post("/logout", data={"csrf_token": csrf}).status_code == 303
    assert client.get("/cakupan", headers={"Accept": "text/html"}).status_code == 302


def test_a_session_ends_after_its_hours_and_with_a_new_password_role_or_a_disabled_account(app, store) -> None:
    from ntpd_map.access import users

    def ends(client: Any) -> bool:
        return client.get("/analitik", headers={"Accept": "text/html"}).status_code == 302

    users.add_user(store, "sesi-t", "operator", TEST_PASSWORD, actor="test")
    client = app.server.test_client()
    sign_in(client, store, "operator", "sesi-t")
    assert not ends(client)
    with client.session_transaction() as session:  # signed in 13 hours ago (NTPD_SESSION_HOURS is 12)
        session["ntpd_login_at"] = int(time.time()) - 13 * 3600
    assert ends(client)
    redirect = client.get("/analitik", headers={"Accept": "text/html"}).location
    assert "m=expired" in redirect or "next=" in redirect

    for change in (lambda: users.set_password(store, "sesi-t", "kata-sandi-baru-12", actor="test"),
                   lambda: users.set_role(store, "sesi-t", "planner", actor="test"),
                   lambda: users.set_disabled(store, "sesi-t", True, actor="test")):
        client = app.server.test_client()
        password = TEST_PASSWORD if store.find_user("sesi-t")["password_hash"] else ""
        page = client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        for candidate in (password, "kata-sandi-baru-12"):
            client.post("/login", data={"username": "sesi-t", "password": candidate, "csrf_token": token})
        assert not ends(client)
        change()
        assert ends(client), "an old session outlived the change"
    # a disabled account cannot sign in again
    client = app.server.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    answer = client.post("/login", data={"username": "sesi-t", "password": "kata-sandi-baru-12", "csrf_token": token})
    assert answer.status_code == 401 and "salah" in answer.text


def test_a_revoked_display_token_locks_the_wall_out_at_its_next_refresh(app, store, monkeypatch) -> None:
    from ntpd_map.access import displays
    from ntpd_map.access import gate as accounts

    monkeypatch.setattr(accounts, "DISPLAY_RECHECK_S", 0)
    token_id, token = displays.create_display_token(store, "layar-cabut", actor="test")
    client = app.server.test_client()
    assert client.get(f"/wall?token={token}").status_code == 200
    csrf = client.get_cookie("_csrf_token").value
    body = {"output": "page.children", "outputs": {"id": "page", "property": "children"},
            "inputs": [{"id": "url", "property": "pathname", "value": "/wall"},
                       {"id": "url", "property": "search", "value": ""}], "changedPropIds": []}
    assert client.post("/_dash-update-component", json=body, headers={"X-CSRFToken": csrf}).status_code == 200
    assert client.get("/wall").status_code == 200  # the session holds; the URL may drop the token
    assert displays.revoke_display_token(store, token_id, actor="test")
    assert client.post("/_dash-update-component", json=body, headers={"X-CSRFToken": csrf}).status_code == 401
    again = client.get(f"/wall?token={token}")
    assert again.status_code == 403 and "dicabut" in again.text and "tidak dikenal" not in again.text
    unknown = client.get(f"/wall?token=wall_{'x' * 32}")
    assert unknown.status_code == 403 and "tidak dikenal" in unknown.text and "dicabut" not in unknown.text
    for answer in (again, unknown):  # the sign-in page itself, back to the wall once signed in
        assert 'id="login-form"' in answer.text and 'name="next" value="/wall"' in answer.text
    actions = set(store.audit_log(actor="test")["action"])
    assert {"display.create", "display.revoke"} <= actions


def test_sign_in_attempts_are_limited_per_address_and_name(app, store) -> None:
    from ntpd_map.access import users

    users.add_user(store, "batas-t", "operator", TEST_PASSWORD, actor="test")
    client = app.server.test_client()

    def attempt(name: str, password: str) -> int:
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
        answer = client.post("/login", data={"username": name, "password": password, "csrf_token": token},
                             environ_base={"REMOTE_ADDR": "10.1.1.7"})
        return int(answer.status_code)

    assert [attempt("batas-t", "salah-salah-1") for _ in range(5)] == [401] * 5  # NTPD_LOGIN_LIMIT: 5 a minute
    assert attempt("batas-t", TEST_PASSWORD) == 429  # even the right password waits now
    limited = client.get("/login")
    assert limited.status_code == 200
    assert attempt("operator-lain", "salah-salah-1") == 401  # another name from that address is still heard
    failures = store.audit_log(action="login.fail")
    assert (failures["target"] == "batas-t").sum() == 5


def test_after_sign_in_only_a_local_page_is_followed(app, store) -> None:
    from ntpd_map.access import users

    users.add_user(store, "arah-t", "planner", TEST_PASSWORD, actor="test")
    for target, landing in (("//evil.example/x", "/cakupan?lang=id"), ("https://evil.example/", "/cakupan?lang=id"),
                            ("/analitik?lang=en", "/analitik?lang=en"), ("/", "/cakupan?lang=id")):
        client = app.server.test_client()
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
        answer = client.post("/login", data={"username": "arah-t", "password": TEST_PASSWORD, "csrf_token": token,
                                             "next": target})
        assert answer.status_code == 303 and answer.location == landing, (target, answer.location)


def test_secure_headers_on_pages_callbacks_and_the_api(app) -> None:
    client, csrf = client_as(app, "operator")
    page = client.get("/")
    csp = page.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp and "'unsafe-eval'" not in csp
    script_src = next(part for part in csp.split("; ") if part.startswith("script-src"))
    assert "'unsafe-inline'" not in script_src and "'sha256-" in script_src  # Dash's inline scripts by hash
    for answer in (page, client.get("/login"), client.get("/api/recap"), client.get("/api/health")):
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert answer.headers["X-Frame-Options"] == "DENY"
        assert answer.headers["Referrer-Policy"] == "no-referrer"  # a wall's URL carries its token
    update = client.post("/_dash-update-component", headers={"X-CSRFToken": csrf}, json={
        "output": "page.children", "outputs": {"id": "page", "property": "children"}, "changedPropIds": [],
        "inputs": [{"id": "url", "property": "pathname", "value": "/"}, {"id": "url", "property": "search",
                                                                          "value": ""}]})
    assert "no-store" in update.headers["Cache-Control"]
    session_cookie = next(c for c in page.headers.getlist("Set-Cookie") if c.startswith("_csrf_token=")) if any(
        c.startswith("_csrf_token=") for c in page.headers.getlist("Set-Cookie")) else None
    if session_cookie is not None:
        assert "SameSite=Strict" in session_cookie


def test_the_first_start_makes_one_admin_whose_password_is_only_in_a_private_file(app, store) -> None:
    rt = app.server.extensions["ntpd_runtime"]
    path = Path(rt.settings.data_dir) / "initial-admin-password"
    assert path.stat().st_mode & 0o777 == 0o600
    password = re.search(r"password: (\S+)", path.read_text()).group(1)
    admin = store.find_user("admin")
    assert admin is not None and admin["role"] == "admin"
    from ntpd_map.access.users import check_password

    assert check_password(admin["password_hash"], password) and password not in admin["password_hash"]
