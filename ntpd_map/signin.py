"""Signing in to mark signal coverage with a planner's API key, without user accounts (issue 7).

Issue 8 brings user accounts (Flask-Login); until then the seam is this small:

- ``POST /cakupan/masuk`` takes an API key from the page's form, looks it up like an ``Authorization`` header
  (``store.find_api_key(hash_key(key))``: unknown and revoked keys are refused) and keeps only ``{id, name,
  role}`` of a planner or admin key in Flask's signed session cookie; never the key itself.
  ``GET /cakupan/keluar`` forgets it.
- ``coverage_access(store, session)``: whether the session may mark now. Every marking and undo callback asks
  again, server-side: the session's role must pass ``permissions.can_edit_coverage`` and its key must still be
  unrevoked in the store (a revoked key stops working at the next click, not when the cookie expires). The
  author recorded with a change is the key's name.

The session is signed with ``server.secret_key``; when the app has none it is derived from the app's secret
(``session_secret``), so every worker of one installation signs alike and the key file is never used as is.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from ntpd_map.auth import ROLES, hash_key
from ntpd_map.permissions import can_edit_coverage

if TYPE_CHECKING:
    from flask import Flask

    from ntpd_map.runtime import Runtime
    from ntpd_map.store.base import Store

log = logging.getLogger(__name__)

#: where the coverage page lives, and its two routes
PAGE_PATH = "/cakupan"
SIGNIN_PATH = "/cakupan/masuk"
SIGNOUT_PATH = "/cakupan/keluar"
#: the session's entry: {"id", "name", "role"} of the key signed in with
SESSION_KEY = "coverage_key"
#: a signed-in browser left open on a shared office computer stops being able to mark after this
SESSION_HOURS = 12
#: what the page says after a sign-in attempt (``?masuk=``): a fixed set, so no text from a URL reaches the page
SIGNIN_OUTCOMES = ("in", "unknown", "role", "down", "out")


def session_secret(secret: bytes) -> bytes:
    """The session-signing key of an installation: HMAC-SHA256 of its secret, so the caller-number hash key
    itself never signs cookies."""
    return hmac.new(secret, b"session", hashlib.sha256).digest()


@dataclass(frozen=True)
class Access:
    """What a session may do on the coverage page. ``reason``: ``ok`` (``editor`` is the key to record as
    author), ``anonymous`` (not signed in), ``role`` (the key's role may not mark) or ``revoked`` (the key is
    revoked or gone). ``name`` and ``role``: of the session's key, for the messages."""

    reason: str
    editor: dict[str, Any] | None = None
    name: str | None = None
    role: str | None = None

    @property
    def may_edit(self) -> bool:
        return self.reason == "ok" and self.editor is not None


def key_in_session(session: Mapping[str, Any]) -> dict[str, Any] | None:
    """The key a session was signed in with ({"id", "name", "role"}), or None when it holds none (or something
    else under our name)."""
    held = session.get(SESSION_KEY)
    if not isinstance(held, Mapping):
        return None
    key_id, name, role = held.get("id"), held.get("name"), held.get("role")
    if not isinstance(key_id, int) or isinstance(key_id, bool) or not isinstance(name, str):
        return None
    return {"id": key_id, "name": name, "role": role if isinstance(role, str) else None}


def active_key(store: Store, key_id: int) -> dict[str, Any] | None:
    """{"id", "name", "role"} of an unrevoked key by its id, as the store has it now; None when revoked or
    unknown. Raises StoreUnavailable."""
    import pandas as pd

    keys = store.api_keys()
    row = keys[keys["id"].astype("int64") == int(key_id)]
    if not len(row):
        return None
    rec = row.iloc[0]
    if not pd.isna(rec["revoked_at"]):
        return None
    return {"id": int(rec["id"]), "name": str(rec["name"]), "role": str(rec["role"])}


def coverage_access(store: Store, session: Mapping[str, Any]) -> Access:
    """Whether a session may mark coverage now: signed in with a key whose role may (``can_edit_coverage``),
    still unrevoked in the store (whose role and name count, not the cookie's). Raises StoreUnavailable."""
    held = key_in_session(session)
    if held is None:
        return Access("anonymous")
    if not can_edit_coverage(held["role"]):
        return Access("role", name=held["name"], role=held["role"])
    current = active_key(store, held["id"])
    if current is None:
        return Access("revoked", name=held["name"], role=held["role"])
    if not can_edit_coverage(current["role"]):
        return Access("role", name=current["name"], role=current["role"])
    return Access("ok", editor=current, name=current["name"], role=current["role"])


def key_from_form(store: Store, text: Any) -> dict[str, Any] | None:
    """The unrevoked key ({"id", "name", "role"}) typed into the sign-in form, or None (empty, malformed,
    unknown, revoked). Raises StoreUnavailable."""
    if not isinstance(text, str):
        return None
    key = text.strip()
    if not key.startswith("ntpd_") or len(key) > 200:
        return None
    return store.find_api_key(hash_key(key))


def page_url(lang: str, outcome: str | None = None, role: str | None = None) -> str:
    query: dict[str, str] = {"lang": "en" if lang == "en" else "id"}
    if outcome in SIGNIN_OUTCOMES:
        query["masuk"] = str(outcome)
    if role in ROLES:
        query["peran"] = str(role)
    return f"{PAGE_PATH}?{urlencode(query)}"


def register_signin(server: Flask, runtime: Runtime) -> None:
    """The sign-in and sign-out routes of the coverage page, and the session's signing key and cookie."""
    from flask import redirect, request, session

    from ntpd_map.store.base import StoreUnavailable

    if not server.secret_key:
        server.secret_key = session_secret(runtime.secret_key)
    # the cookie goes only with requests from this site's own pages (the page's callbacks), never with a
    # request another site makes the browser send
    if not server.config.get("SESSION_COOKIE_SAMESITE"):  # Flask's default is None (no attribute)
        server.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    server.config["SESSION_COOKIE_HTTPONLY"] = True
    server.permanent_session_lifetime = timedelta(hours=SESSION_HOURS)

    def back(lang: str, outcome: str, role: str | None = None) -> Any:
        # 303: the browser follows with a GET, so a reload never posts the key again
        return redirect(page_url(lang, outcome, role), code=303)

    @server.post(SIGNIN_PATH)
    def sign_in() -> Any:
        lang = "en" if request.form.get("lang") == "en" else "id"
        try:
            key = key_from_form(runtime.store, request.form.get("key"))
        except StoreUnavailable:
            return back(lang, "down")
        if key is None:
            session.pop(SESSION_KEY, None)
            log.warning("coverage sign-in refused: unknown or revoked key")
            return back(lang, "unknown")
        if not can_edit_coverage(key["role"]):
            session.pop(SESSION_KEY, None)
            log.warning("coverage sign-in refused: key %s (%s) has role %s", key["id"], key["name"], key["role"])
            return back(lang, "role", key["role"])
        session[SESSION_KEY] = {"id": int(key["id"]), "name": str(key["name"]), "role": str(key["role"])}
        session.permanent = True
        log.info("coverage sign-in: key %s (%s, %s)", key["id"], key["name"], key["role"])
        return back(lang, "in")

    @server.get(SIGNOUT_PATH)
    def sign_out() -> Any:
        session.pop(SESSION_KEY, None)
        return back("en" if request.args.get("lang") == "en" else "id", "out")
