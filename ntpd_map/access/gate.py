"""Signing in, and the gate every request passes (issue 8).

- **People** sign in on ``/login`` (a plain HTML form, no JavaScript needed) with a name and password
  (``ntpd_map.access.users``); Flask-Login keeps ``<id>:<session version>`` in the signed session cookie, so a new
  password, a new role or a disabled account ends every session of that user at its next request. A sign-in
  lasts at most ``NTPD_SESSION_HOURS``; failed attempts are limited per address and name (Flask-Limiter,
  ``NTPD_LOGIN_LIMIT``, shared through Redis when ``NTPD_REDIS_URL`` is set).
- **Wall displays** open ``/wall?token=wall_...``: the token's id goes into the session, which lasts as long
  as the token is unrevoked (checked again at least every ``DISPLAY_RECHECK_S`` per worker).
- **The gate** (``before_request``) lets through only: static files (``/assets``, Dash's component scripts),
  ``/login``, ``/api/health``, and the HTTP API, whose every endpoint checks its own API key
  (``api.check_key``). Everything else needs a signed-in person or display whose role may see that page
  (``permissions.PAGE_ROLES``) or call that callback (``/_dash-update-component``: the callback's concern,
  ``permissions.CALLBACK_ROLES``; a callback without one is refused). Anonymous page requests are sent to
  ``/login``; other anonymous requests get 401.
- **CSRF**: every state-changing request with a session (the login form, ``/logout``, every Dash callback)
  carries a token (Flask-WTF). dash-renderer sends the cookie ``_csrf_token`` back as ``X-CSRFToken``.
- **Headers**: a Content-Security-Policy that lets the map work (scripts from this server and Dash's own
  inline scripts by hash; tiles from ``NTPD_TILE_URL``'s host), no framing, nosniff, no referrer (a wall's
  URL carries its token), HSTS with ``NTPD_SECURE_COOKIES``.
- When the store is down, a session already signed in is trusted as its signed cookie says (role and name),
  so a wall keeps its last good data and its banner, and recovers by itself; new sign-ins wait for the store.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

from ntpd_map import audit
from ntpd_map.access import roles as permissions
from ntpd_map.access import users

if TYPE_CHECKING:
    from dash import Dash
    from flask import Flask, Response

    from ntpd_map.runtime import Runtime

log = logging.getLogger(__name__)

LOGIN_PATH = "/login"
LOGOUT_PATH = "/logout"
CSRF_COOKIE = "_csrf_token"  # the cookie dash-renderer reads and sends back as X-CSRFToken
DISPLAY_RECHECK_S = 15
TOUCH_EVERY_S = 60  # a display's "last seen" is written at most this often per worker
#: failed sign-ins from one address, whatever the names tried (NTPD_LOGIN_LIMIT counts per address and name)
ADDRESS_LIMIT = "60 per hour"
#: paths anyone may fetch: code and styles (no data), the sign-in page, the health check
PUBLIC_PREFIXES = ("/assets/", "/_dash-component-suites/")
PUBLIC_PATHS = ("/_favicon.ico", "/favicon.ico", LOGIN_PATH, "/api/health")
#: Dash's own routes every signed-in page needs (they hold no data: the layout shell and the callback list)
DASH_SHELL = ("/_dash-layout", "/_dash-dependencies", "/_reload-hash")
CALLBACK_PATH = "/_dash-update-component"

#: the sign-in page's texts (``i18n.STRINGS["login_<key>"]``)
TEXT_KEYS = ("title", "heading", "user", "password", "submit", "bad", "expired", "out", "down", "limited", "revoked",
             "forbidden", "home", "logout", "lang", "note")


def texts(lang: str) -> dict[str, str]:
    from ntpd_map.i18n import t

    return {key: t(f"login_{key}", lang) for key in TEXT_KEYS}


PAGE = """<!doctype html>
<html lang="{{ lang }}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{{ text.title }}</title><link rel="stylesheet" href="/assets/ntpd.css"></head>
<body class="login-page"><main class="login-box">
<h1>{{ text.heading }}</h1>
{% if message %}<p class="login-msg" id="login-msg">{{ message }}</p>{% endif %}
{% if form %}<form method="post" action="{{ action }}" id="login-form">
<input type="hidden" name="csrf_token" value="{{ csrf }}"><input type="hidden" name="next" value="{{ next }}">
<input type="hidden" name="lang" value="{{ lang }}">
<label for="username">{{ text.user }}</label>
<input id="username" name="username" autocomplete="username" autofocus required maxlength="64">
<label for="password">{{ text.password }}</label>
<input id="password" name="password" type="password" autocomplete="current-password" required maxlength="200">
<button type="submit" id="login-submit">{{ text.submit }}</button></form>{% endif %}
{% if home %}<p><a href="{{ home }}" id="login-home">{{ text.home }}</a></p>
<form method="post" action="/logout"><input type="hidden" name="csrf_token" value="{{ csrf }}">
<button type="submit" id="logout-submit">{{ text.logout }}</button></form>{% endif %}
<p class="login-note">{{ text.note }}</p>
<p><a href="{{ switch }}">{{ text.lang }}</a></p>
</main></body></html>
"""


def session_secret(secret: bytes) -> bytes:
    """The key that signs session cookies and CSRF tokens: HMAC-SHA256 of the installation's secret, so the
    caller-number hash key itself never signs anything, and every worker signs alike."""
    return hmac.new(secret, b"session", hashlib.sha256).digest()


class User:
    """A signed-in person as Flask-Login holds them; ``key`` is ``<id>:<session version>``."""

    is_authenticated = True
    is_active = True
    is_anonymous = False

    def __init__(self, key: str, name: str, role: str, uid: int) -> None:
        self.key, self.name, self.role, self.uid = key, name, role, uid

    def get_id(self) -> str:
        return self.key


@dataclass(frozen=True)
class Identity:
    """Who makes a request: a person (``kind`` user) or a wall display (``kind`` display)."""

    kind: str
    id: int
    name: str
    role: str

    @property
    def actor(self) -> str:
        return f"{'user' if self.kind == 'user' else 'display'}:{self.name}"


def current_identity() -> Identity | None:
    """The identity the gate found for this request (None outside a request or for anonymous ones)."""
    from flask import g, has_request_context

    return getattr(g, "ntpd_identity", None) if has_request_context() else None


def current_role() -> str | None:
    who = current_identity()
    return who.role if who else None


def safe_next(target: str | None) -> str | None:
    """A local path to go back to after signing in, never another site (``//evil``, ``https://...``)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    return None if parts.scheme or parts.netloc else target


class Access:
    """The gate of one app. ``assign(concern, outputs)`` tells it which callbacks belong to which concern."""

    def __init__(self, app: Dash, runtime: Runtime) -> None:
        self.app = app
        self.server: Flask = app.server
        self.runtime = runtime
        self.concerns: dict[str, str] = {}
        self._displays: dict[int, tuple[float, bool]] = {}
        self._touched: dict[int, float] = {}
        self._script_hashes: list[str] = []
        self._csp: str | None = None

    # wiring ----------------------------------------------------------------------------------------------
    def assign(self, concern: str, outputs: set[str]) -> None:
        if concern not in permissions.CALLBACK_ROLES:
            raise ValueError(f"unknown callback concern {concern!r}")
        for output in outputs:
            self.concerns[output] = concern

    def register(self) -> None:
        from flask_limiter import Limiter
        from flask_limiter.util import get_remote_address
        from flask_login import LoginManager
        from flask_wtf.csrf import CSRFProtect

        server: Flask = self.server
        settings = self.runtime.settings
        server.secret_key = session_secret(self.runtime.secret_key)
        secure = settings.get("NTPD_SECURE_COOKIES") in ("1", "true", "yes")
        server.config.update(
            SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_SECURE=secure,
            SESSION_COOKIE_NAME="ntpd_session", SESSION_REFRESH_EACH_REQUEST=True,
            PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.int("NTPD_SESSION_HOURS")),
            # a wall refreshes for months on one page: its token must not age; a session ends it instead
            WTF_CSRF_TIME_LIMIT=None, WTF_CSRF_CHECK_DEFAULT=False, WTF_CSRF_SSL_STRICT=secure,
        )
        self.secure = secure
        self.csrf = CSRFProtect(server)
        manager = LoginManager(server)
        manager.session_protection = None  # walls behind a proxy change address; the cookie is signed
        manager.user_loader(self._load_user)
        redis = settings.get("NTPD_REDIS_URL").strip()
        self.limiter = Limiter(get_remote_address, app=server, storage_uri=redis or "memory://",
                               default_limits=[], headers_enabled=True, key_prefix="ntpd-login",
                               # Redis down: count in this worker's memory rather than refuse every sign-in
                               swallow_errors=True, in_memory_fallback_enabled=True)
        self._routes()
        server.before_request(self._gate)
        server.after_request(self._headers)

    def seal(self) -> None:
        """Called once every callback is registered: the hashes of Dash's inline scripts go into the CSP."""
        self._script_hashes = list(self.app.csp_hashes())
        self._csp = None

    # identities ------------------------------------------------------------------------------------------
    def _load_user(self, user_key: str) -> Any:
        """Flask-Login's loader: ``<id>:<version>`` -> the user, if still enabled with that session version.
        With the store down, the session's own signed copy of name and role stands in."""
        from flask import session

        from ntpd_map.store.base import StoreUnavailable

        try:
            uid, version = (int(part) for part in user_key.split(":", 1))
        except ValueError:
            return None
        try:
            user = self.runtime.store.get_user(uid)
        except StoreUnavailable:
            held = session.get("ntpd_user") or {}
            if held.get("key") == user_key and held.get("role") in permissions.USER_ROLES:
                return User(user_key, str(held["name"]), str(held["role"]), uid)
            return None
        if user is None or user["disabled"] or int(user["session_version"]) != version:
            return None
        return User(user_key, str(user["username"]), str(user["role"]), uid)

    def _display(self) -> Identity | None:
        """The wall display this session was opened with, while its token stays unrevoked."""
        from flask import session

        from ntpd_map.store.base import StoreUnavailable

        held = session.get("ntpd_display")
        if not isinstance(held, dict) or not isinstance(held.get("id"), int):
            return None
        token_id = int(held["id"])
        checked = self._displays.get(token_id)
        now = time.monotonic()
        if checked is None or now - checked[0] > DISPLAY_RECHECK_S:
            try:
                active = self.runtime.store.display_token_active(token_id)
                if active and now - self._touched.get(token_id, -TOUCH_EVERY_S) >= TOUCH_EVERY_S:
                    self.runtime.store.touch_display_token(token_id, int(time.time()))  # "last seen", a write
                    self._touched[token_id] = now
            except StoreUnavailable:
                active = checked[1] if checked else True  # signed cookie; rechecked when the store is back
            else:
                checked = (now, active)
                self._displays[token_id] = checked
        else:
            active = checked[1]
        if not active:
            session.pop("ntpd_display", None)
            return None
        return Identity("display", token_id, str(held.get("name", "?")), "wall")

    def _identity(self) -> Identity | None:
        from flask_login import current_user

        if current_user.is_authenticated:
            from flask import session

            started = session.get("ntpd_login_at")
            hours = self.runtime.settings.int("NTPD_SESSION_HOURS")
            if not isinstance(started, int) or time.time() - started > hours * 3600:
                self._sign_out(expired=True)
                return None
            return Identity("user", current_user.uid, current_user.name, current_user.role)
        return self._display()

    def _sign_out(self, expired: bool = False) -> None:
        from flask import session
        from flask_login import logout_user

        logout_user()
        for key in ("ntpd_user", "ntpd_login_at", "ntpd_display", "csrf_token"):
            session.pop(key, None)
        if expired:
            session["ntpd_expired"] = True

    # the gate --------------------------------------------------------------------------------------------
    def _gate(self) -> Response | None:
        from flask import g, request

        path = request.path
        if path.startswith(PUBLIC_PREFIXES) or path in PUBLIC_PATHS or path == LOGOUT_PATH:
            if request.method == "POST" and path in (LOGIN_PATH, LOGOUT_PATH):
                self.csrf.protect()
            return None
        if path.startswith("/api/"):
            return None  # the API's own key check (api.check_key) answers every endpoint
        if path == "/wall" and request.args.get("token"):
            opened = self._open_display(request.args.get("token"))
            if opened is not None:
                return opened
        who = self._identity()
        if who is None:
            return self._anonymous()
        g.ntpd_identity = who
        g.ntpd_actor = who.actor
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            self.csrf.protect()
        if path == CALLBACK_PATH:
            body = request.get_json(silent=True) or {}
            concern = self.concerns.get(str(body.get("output", "")))
            if not permissions.may_call(who.role, concern):
                log.warning("callback refused: %s (%s) may not call %s", who.actor, who.role,
                            str(body.get("output", ""))[:200])
                return self._json(403, f"role {who.role} may not do this")
            return None
        if path in DASH_SHELL or path.startswith("/layers/"):
            return None
        if not permissions.may_view(who.role, path):
            return self._page(403, permissions.home(who.role), forbidden=who.role)
        return None

    def _open_display(self, token: str | None) -> Response | None:
        """``/wall?token=``: a valid token signs this browser in as that display (the URL keeps working after
        a reboot); an unknown or revoked one gets the sign-in page saying so."""
        from flask import session

        from ntpd_map.store.base import StoreUnavailable

        try:
            found = users.find_display_token(self.runtime.store, token)
        except StoreUnavailable:
            return None  # a session already opened with it keeps working; otherwise the gate says sign in
        if found is None:
            session.pop("ntpd_display", None)
            log.warning("wall display refused: unknown or revoked token")
            return self._page(403, None, message="revoked")
        session["ntpd_display"] = {"id": int(found["id"]), "name": str(found["name"])}
        session.permanent = True
        self._displays[int(found["id"])] = (time.monotonic(), True)
        return None

    def _anonymous(self) -> Any:
        from flask import redirect, request, session

        if request.method == "GET" and request.path != CALLBACK_PATH and "text/html" in request.headers.get(
                "Accept", "text/html"):
            query = {"next": request.full_path.rstrip("?")}
            if request.args.get("lang") in ("id", "en"):
                query["lang"] = str(request.args["lang"])
            if session.pop("ntpd_expired", False):
                query["m"] = "expired"
            return redirect(f"{LOGIN_PATH}?{urlencode(query)}", code=302)
        return self._json(401, "sign in first (masuk dulu)")

    # pages -----------------------------------------------------------------------------------------------
    def _routes(self) -> None:
        from flask import redirect, request, session
        from flask_limiter.util import get_remote_address
        from flask_login import login_user

        from ntpd_map.store.base import StoreUnavailable

        limits = self.runtime.settings.get("NTPD_LOGIN_LIMIT")

        def attempt_key() -> str:
            return f"{get_remote_address()}|{(request.form.get('username') or '').strip().lower()[:64]}"

        @self.server.get(LOGIN_PATH)
        def login_page() -> Any:
            message = request.args.get("m")
            return self._page(200, None, message=message if message in ("expired", "out", "bad", "down")
                              else None, form=True)

        failed = lambda response: response.status_code != 303  # noqa: E731 - only failed attempts count

        @self.server.post(LOGIN_PATH)
        @self.limiter.limit(limits, key_func=attempt_key, deduct_when=failed)
        @self.limiter.limit(ADDRESS_LIMIT, key_func=get_remote_address, deduct_when=failed)
        def login_submit() -> Any:
            lang = "en" if request.form.get("lang") == "en" else "id"
            target = safe_next(request.form.get("next"))
            name = (request.form.get("username") or "").strip().lower()[:64]
            try:
                user = users.verify_login(self.runtime.store, name, request.form.get("password") or "")
            except StoreUnavailable:
                return self._page(503, None, message="down", form=True, lang=lang)
            if user is None:
                log.warning("sign-in failed for %r from %s", name, request.remote_addr)
                audit.record(self.runtime.store, f"user:{name or '?'}", "login.fail", name or None,
                             address=request.remote_addr)
                return self._page(401, None, message="bad", form=True, lang=lang, next_=target)
            session.clear()  # a fresh session (and CSRF token) for the signed-in person
            key = f"{int(user['id'])}:{int(user['session_version'])}"
            session["ntpd_user"] = {"key": key, "name": str(user["username"]), "role": str(user["role"])}
            session["ntpd_login_at"] = int(time.time())
            session.permanent = True
            login_user(User(key, str(user["username"]), str(user["role"]), int(user["id"])))
            audit.record(self.runtime.store, f"user:{user['username']}", "login.ok", str(user["username"]),
                         role=str(user["role"]), address=request.remote_addr)
            log.info("signed in: %s (%s)", user["username"], user["role"])
            landing = target if target and permissions.may_view(user["role"], urlsplit(target).path) else None
            return redirect(landing or f"{permissions.home(str(user['role']))}?lang={lang}", code=303)

        @self.server.post(LOGOUT_PATH)
        def logout() -> Any:
            who = self._identity()
            if who is not None:
                audit.record(self.runtime.store, who.actor, "logout", who.name)
            self._sign_out()
            return redirect(f"{LOGIN_PATH}?m=out", code=303)

        @self.server.errorhandler(429)
        def too_many(_error: Any) -> Any:
            if request.path == LOGIN_PATH:
                return self._page(429, None, message="limited", form=True)
            return self._json(429, "too many requests")

    def _page(self, status: int, home: str | None, *, message: str | None = None, form: bool = False,
              forbidden: str | None = None, lang: str | None = None, next_: str | None = None) -> Response:
        from flask import Response, render_template_string, request
        from flask_wtf.csrf import generate_csrf

        lang = lang or ("en" if (request.args.get("lang") or self.runtime.settings.lang) == "en" else "id")
        text = texts(lang)
        shown = text["forbidden"].format(role=forbidden) if forbidden else (text[message] if message else "")
        target = next_ or safe_next(request.args.get("next")) or ""
        body = render_template_string(
            PAGE, lang=lang, text=text, message=shown, form=form, csrf=generate_csrf(), next=target,
            action=LOGIN_PATH, home=f"{home}?lang={lang}" if home else None,
            switch=f"{LOGIN_PATH}?{urlencode({'lang': 'id' if lang == 'en' else 'en', 'next': target})}")
        return Response(body, status=status, mimetype="text/html")

    @staticmethod
    def _json(status: int, message: str) -> Response:
        from flask import jsonify

        response = jsonify({"error": message})
        response.status_code = status
        return response

    # headers ---------------------------------------------------------------------------------------------
    def csp(self) -> str:
        if self._csp is None:
            tiles = urlsplit(self.runtime.settings.get("NTPD_TILE_URL").replace("{s}", "a"))
            tile_src = f"{tiles.scheme}://{tiles.netloc}" if tiles.netloc else ""
            if tile_src and "{s}" in self.runtime.settings.get("NTPD_TILE_URL"):
                tile_src = f"{tiles.scheme}://*.{tiles.netloc.split('.', 1)[1]}"
            self._csp = "; ".join([
                "default-src 'self'",
                "script-src " + " ".join(["'self'", *self._script_hashes]),
                "style-src 'self' 'unsafe-inline'",  # React and Leaflet position elements with inline styles
                "img-src " + " ".join(filter(None, ["'self'", "data:", "blob:", tile_src])),
                "font-src 'self' data:",
                "connect-src 'self'",
                "object-src 'none'",
                "base-uri 'self'",
                "form-action 'self'",
                "frame-ancestors 'none'",
            ])
        return self._csp

    def _headers(self, response: Response) -> Response:
        from flask import request

        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "no-referrer")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        headers.setdefault("Permissions-Policy", "geolocation=(), camera=(), microphone=()")
        if self.secure:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        if response.mimetype == "text/html":
            headers["Content-Security-Policy"] = self.csp()
        path = request.path
        if not path.startswith(PUBLIC_PREFIXES) and not path.startswith("/layers/"):
            response.cache_control.no_store = True  # personal data never sits in a browser or proxy cache
        who = current_identity()
        if who is not None and response.mimetype == "text/html" and request.method == "GET":
            from flask_wtf.csrf import generate_csrf

            token = generate_csrf()
            if request.cookies.get(CSRF_COOKIE) != token:
                response.set_cookie(CSRF_COOKIE, token, samesite="Strict", secure=self.secure, httponly=False,
                                    max_age=int(self.server.permanent_session_lifetime.total_seconds()))
        return response


def register_access(app: Dash, runtime: Runtime) -> Access:
    access = Access(app, runtime)
    access.register()
    return access


@dataclass(frozen=True)
class CoverageAccess:
    """What the signed-in person may do on the coverage page. ``reason``: ``ok`` (``editor`` is who to record
    as author), ``anonymous`` or ``role`` (their role may not mark)."""

    reason: str
    editor: dict[str, Any] | None = None
    name: str | None = None
    role: str | None = None

    @property
    def may_edit(self) -> bool:
        return self.reason == "ok" and self.editor is not None


def coverage_access() -> CoverageAccess:
    """Whether this request's person may mark coverage now. The gate has already checked, for this very
    request, that the account is enabled with an unchanged password and role."""
    who = current_identity()
    if who is None:
        return CoverageAccess("anonymous")
    if who.kind != "user" or not permissions.can_edit_coverage(who.role):
        return CoverageAccess("role", name=who.name, role=who.role)
    return CoverageAccess("ok", editor={"id": who.id, "name": who.name, "role": who.role}, name=who.name,
                          role=who.role)


def signout_form(lang: str) -> Any:
    """Keluar: a POST with this session's CSRF token (a link could be followed by another site)."""
    from dash import dcc, html
    from flask_wtf.csrf import generate_csrf

    return html.Form([dcc.Input(type="hidden", name="csrf_token", value=generate_csrf()),
                      html.Button(texts(lang)["logout"], type="submit", id="signout", className="signout")],
                     action=LOGOUT_PATH, method="POST", className="signout-form")


def account_bar(lang: str) -> Any:
    """Who is signed in, and Keluar: in a corner of every page but the wall."""
    from dash import html

    who = current_identity()
    if who is None or who.kind != "user":
        return html.Div()
    return html.Div([html.Span(f"{who.name} ({who.role})", className="who"), signout_form(lang)],
                    className="account-bar", id="account-bar")


def with_account(page: Any, lang: str) -> Any:
    from dash import html

    return html.Div([account_bar(lang), page])


def forbidden(role: str | None, lang: str) -> Any:
    """What the router shows for a page the role may not open."""
    from dash import dcc, html

    text = texts(lang)
    return html.Div([html.P(text["forbidden"].format(role=role or "-"), className="forbidden"),
                     dcc.Link(text["home"], href=f"{permissions.home(role)}?lang={lang}", refresh=True)],
                    className="login-box")
