"""Who may mark coverage on the page (issue 7), the seam before user accounts (issue 8): a planner or admin API
key signed in through the form keeps only its id, name and role in the signed session, and is checked against
the store again on every mark and undo (no session, a read key, a revoked key are refused; see
tests/test_coverage_page.py for what the page then writes)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from ntpd_map.auth import create_api_key
from ntpd_map.signin import (
    SESSION_KEY,
    coverage_access,
    key_from_form,
    key_in_session,
    register_signin,
    session_secret,
)
from ntpd_map.store.base import StoreUnavailable


@pytest.fixture
def store(tmp_path: Path):
    from ntpd_map.store import open_store

    s = open_store(f"sqlite:///{tmp_path / 'keys.sqlite'}")
    s.migrate()
    yield s
    s.close()


def session_of(key_id: int, name: str, role: str | None) -> dict:
    return {SESSION_KEY: {"id": key_id, "name": name, "role": role}}


def test_session_secret_is_derived_not_the_secret_itself() -> None:
    a = session_secret(b"s3cret")
    assert a == session_secret(b"s3cret") and a != b"s3cret" and len(a) == 32
    assert session_secret(b"other") != a


def test_access_without_a_session_with_a_read_role_planner_admin_and_revoked(store) -> None:
    planner_id, _ = create_api_key(store, "budi", "planner")
    admin_id, _ = create_api_key(store, "kabid", "admin")
    read_id, _ = create_api_key(store, "dashboard", "read")

    for empty in ({}, {SESSION_KEY: "budi"}, {SESSION_KEY: {"id": "1", "name": "budi", "role": "planner"}},
                  {SESSION_KEY: {"id": True, "name": "budi", "role": "planner"}}):
        access = coverage_access(store, empty)
        assert access.reason == "anonymous" and not access.may_edit and key_in_session(empty) is None

    read = coverage_access(store, session_of(read_id, "dashboard", "read"))
    assert (read.reason, read.may_edit, read.role) == ("role", False, "read")
    no_role = coverage_access(store, session_of(planner_id, "budi", None))
    assert no_role.reason == "role" and not no_role.may_edit

    ok = coverage_access(store, session_of(planner_id, "budi", "planner"))
    assert ok.may_edit and ok.editor == {"id": planner_id, "name": "budi", "role": "planner"}
    assert coverage_access(store, session_of(admin_id, "kabid", "admin")).may_edit
    # the cookie says planner, but that id is a read key in the store: the store wins
    assert coverage_access(store, session_of(read_id, "dashboard", "planner")).reason == "role"
    # an id no key has, and a key revoked after signing in
    assert coverage_access(store, session_of(9999, "ghost", "planner")).reason == "revoked"
    assert store.revoke_api_key(planner_id)
    revoked = coverage_access(store, session_of(planner_id, "budi", "planner"))
    assert (revoked.reason, revoked.may_edit, revoked.editor) == ("revoked", False, None)


def test_a_key_typed_into_the_form_is_looked_up_like_a_header(store) -> None:
    key_id, key = create_api_key(store, "budi", "planner")
    assert key_from_form(store, f"  {key}\n") == {"id": key_id, "name": "budi", "role": "planner"}
    for bad in (None, "", "budi", key[:-1], "ntpd_" + "x" * 300, 12345):
        assert key_from_form(store, bad) is None
    store.revoke_api_key(key_id)
    assert key_from_form(store, key) is None


@pytest.fixture
def client(store):
    """The sign-in routes on a bare Flask app, with the store above."""
    from flask import Flask

    app = Flask("t")
    register_signin(app, SimpleNamespace(store=store, secret_key=b"installation-secret"))
    return app, app.test_client()


def session_in(client) -> dict:
    with client.session_transaction() as sess:
        return dict(sess)


def test_sign_in_keeps_only_id_name_and_role_in_the_signed_session(client, store) -> None:
    app, http = client
    assert app.secret_key == session_secret(b"installation-secret")
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax" and app.config["SESSION_COOKIE_HTTPONLY"]
    key_id, key = create_api_key(store, "budi", "planner")
    answer = http.post("/cakupan/masuk", data={"key": key, "lang": "en"})
    assert answer.status_code == 303 and answer.headers["Location"] == "/cakupan?lang=en&masuk=in"
    assert session_in(http) == {SESSION_KEY: {"id": key_id, "name": "budi", "role": "planner"}, "_permanent": True}
    cookie = answer.headers["Set-Cookie"]
    assert key not in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    out = http.get("/cakupan/keluar?lang=en")
    assert out.status_code == 303 and out.headers["Location"] == "/cakupan?lang=en&masuk=out"
    assert SESSION_KEY not in session_in(http)


def test_sign_in_refuses_unknown_revoked_and_read_keys_and_a_store_that_is_down(client, store) -> None:
    _app, http = client
    planner_id, planner = create_api_key(store, "budi", "planner")
    _read_id, read = create_api_key(store, "dashboard", "read")
    answer = http.post("/cakupan/masuk", data={"key": read})
    assert answer.headers["Location"] == "/cakupan?lang=id&masuk=role&peran=read"
    assert SESSION_KEY not in session_in(http)
    assert http.post("/cakupan/masuk", data={"key": "ntpd_nope"}).headers["Location"].endswith("masuk=unknown")
    http.post("/cakupan/masuk", data={"key": planner})
    store.revoke_api_key(planner_id)
    # a new attempt with the revoked key also drops the session it had
    assert http.post("/cakupan/masuk", data={"key": planner}).headers["Location"].endswith("masuk=unknown")
    assert SESSION_KEY not in session_in(http)

    def down(_hash: str) -> None:
        raise StoreUnavailable("test")

    store.find_api_key = down
    assert http.post("/cakupan/masuk", data={"key": planner}).headers["Location"].endswith("masuk=down")


def test_an_app_that_has_a_secret_key_keeps_it(store) -> None:
    from flask import Flask

    app = Flask("t")
    app.secret_key = "set-by-the-operator"
    register_signin(app, SimpleNamespace(store=store, secret_key=b"x"))
    assert app.secret_key == "set-by-the-operator"
