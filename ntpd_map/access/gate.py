"""The gate every request passes (issue 8), and signing in and out.

- **People** sign in on ``/login`` (``pages/login``) with a name and password (``access/users.py``); Flask-Login
  keeps ``<id>:<session version>`` in the signed session cookie, so a new password, a new role or a disabled
  account ends every session of that user at its next request. A sign-in lasts at most ``NTPD_SESSION_HOURS``;
  failed attempts are limited per address and name (Flask-Limiter, ``NTPD_LOGIN_LIMIT``, shared through Redis
  when ``NTPD_REDIS_URL`` is set).
- **Wall displays** open ``/wall?token=wall_...``: the token's id goes into the session, which lasts as long
  as the token is unrevoked (checked again at least every ``DISPLAY_RECHECK_S`` per worker).
- **The gate** (``before_request``) reads the route table (``http/table.py``): ``PUBLIC`` routes (the sign-in
  page, the health check) pass, and so do ``KEY`` and ``DEVICE`` routes, whose key or device the route checks
  itself; a ``SESSION`` route needs a signed-in person or display with one of its roles. Of Dash's own routes,
  static files pass; a page needs a role that may open it (the page table, ``pages/table.py``) and a callback
  (``/_dash-update-component``) a role that may call its concern (a callback with no concern is refused).
  Anonymous page requests are sent to ``/login``; other anonymous requests get 401.
- **CSRF**: every state-changing request that carries no key (the login form, ``/logout``, every Dash
  callback) carries a token (Flask-WTF). dash-renderer sends the cookie ``_csrf_token`` back as ``X-CSRFToken``.
- **Headers**: a Content-Security-Policy that lets the map work (scripts from this server and Dash's own
  inline scripts by hash; images, tiles included, from the app only), no framing, nosniff, no referrer (a wall's
  URL carries its token), HSTS with ``NTPD_SECURE_COOKIES``.
- When the store is down, a session already signed in is trusted as its signed cookie says (role and name),
  so a wall keeps its last good data and its banner, and recovers by itself; new sign-ins wait for the store.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from flask import g, jsonify, redirect, request, session
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager, current_user, login_user, logout_user
from flask_wtf.csrf import CSRFProtect, generate_csrf

from ntpd_map import audit
from ntpd_map.access import displays
from ntpd_map.access.identity import Identity, User, current_identity, session_secret
from ntpd_map.access.roles import USER_ROLES, home
from ntpd_map.http.routes import DEVICE, KEY, PUBLIC
from ntpd_map.i18n import LANG_COOKIE
from ntpd_map.pages.login.layout import LOGIN_PATH, render
from ntpd_map.store.model import StoreUnavailable

if TYPE_CHECKING:
    from dash import Dash
    from flask import Flask, Response

    from ntpd_map.http.routes import Route
    from ntpd_map.runtime import Runtime

log = logging.getLogger(__name__)

CSRF_COOKIE = "_csrf_token"  # the cookie dash-renderer reads and sends back as X-CSRFToken
LANG_COOKIE_S = 365 * 86400  # a language chosen is kept a year
DISPLAY_RECHECK_S = 15
TOUCH_EVERY_S = 60  # a display's "last seen" is written at most this often per worker
#: failed sign-ins from one address, whatever the names tried (NTPD_LOGIN_LIMIT counts per address and name)
ADDRESS_LIMIT = "60 per hour"
#: Dash's files anyone may fetch: code and styles, no data
PUBLIC_PREFIXES = ("/assets/", "/_dash-component-suites/")
PUBLIC_FILES = ("/_favicon.ico", "/favicon.ico")
#: Dash's own routes every signed-in page needs (they hold no data: the layout shell and the callback list)
DASH_SHELL = ("/_dash-layout", "/_dash-dependencies", "/_reload-hash")
CALLBACK_PATH = "/_dash-update-component"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class Access:
    """The gate of one app, built from the route table, the page roles (``page_roles(path)``) and the roles of
    each concern of callbacks; ``assign(concern, outputs)`` tells it which callbacks belong to a concern."""

    def __init__(self, app: Dash, runtime: Runtime, routes: tuple[Route, ...],
                 page_roles: Callable[[str | None], frozenset[str]], concern_roles: dict[str, frozenset[str]]) -> None:
        self.app = app
        self.server: Flask = app.server
        self.runtime = runtime
        self.page_roles = page_roles
        self.concern_roles = concern_roles
        self.concerns: dict[str, str] = {}
        self.routes = {route.endpoint: route for route in routes}
        self.route_roles = {route.endpoint: route.roles or page_roles(route.page) for route in routes
                            if route.access not in (PUBLIC, KEY, DEVICE)}
        self._displays: dict[int, tuple[float, bool]] = {}
        self._touched: dict[int, float] = {}
        self._script_hashes: list[str] = []
        self._csp: str | None = None

    # wiring ----------------------------------------------------------------------------------------------
    def assign(self, concern: str, outputs: set[str]) -> None:
        if concern not in self.concern_roles:
            raise ValueError(f"unknown callback concern {concern!r}")
        for output in outputs:
            self.concerns[output] = concern

    def register(self) -> None:
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
        server.before_request(self._gate)
        server.after_request(self._headers)

        @server.errorhandler(429)
        def too_many(_error: Any) -> Any:
            if request.path == LOGIN_PATH:
                return self.page(429, message="limited", form=True)
            return self._json(429, "too many requests")

    def seal(self) -> None:
        """Called once every callback is registered: the hashes of Dash's inline scripts go into the CSP."""
        self._script_hashes = list(self.app.csp_hashes())
        self._csp = None

    def may_view(self, role: str | None, path: str | None) -> bool:
        return role in self.page_roles(path)

    def limit_sign_in(self, view: Callable[..., Any]) -> Callable[..., Any]:
        """Failed sign-ins limited per address and name (NTPD_LOGIN_LIMIT) and per address (ADDRESS_LIMIT)."""

        def attempt_key() -> str:
            return f"{get_remote_address()}|{(request.form.get('username') or '').strip().lower()[:64]}"

        failed = lambda response: response.status_code != 303  # noqa: E731 - only failed attempts count
        limits = self.runtime.settings.get("NTPD_LOGIN_LIMIT")
        view = self.limiter.limit(ADDRESS_LIMIT, key_func=get_remote_address, deduct_when=failed)(view)
        return self.limiter.limit(limits, key_func=attempt_key, deduct_when=failed)(view)

    # signing in and out ----------------------------------------------------------------------------------
    def sign_in(self, user: dict[str, Any]) -> str:
        """Start a fresh session (and CSRF token) for a person whose password was checked; their role."""
        session.clear()
        key = f"{int(user['id'])}:{int(user['session_version'])}"
        session["ntpd_user"] = {"key": key, "name": str(user["username"]), "role": str(user["role"])}
        session["ntpd_login_at"] = int(time.time())
        session.permanent = True
        login_user(User(key, str(user["username"]), str(user["role"]), int(user["id"])))
        audit.record(self.runtime.store, f"user:{user['username']}", "login.ok", str(user["username"]),
                     role=str(user["role"]), address=request.remote_addr)
        log.info("signed in: %s (%s)", user["username"], user["role"])
        return str(user["role"])

    def sign_out(self, expired: bool = False) -> None:
        if not expired:
            who = self._identity()
            if who is not None:
                audit.record(self.runtime.store, who.actor, "logout", who.name)
        logout_user()
        for key in ("ntpd_user", "ntpd_login_at", "ntpd_display", "csrf_token"):
            session.pop(key, None)
        if expired:
            session["ntpd_expired"] = True

    # identities ------------------------------------------------------------------------------------------
    def _load_user(self, user_key: str) -> Any:
        """Flask-Login's loader: ``<id>:<version>`` -> the user, if still enabled with that session version.
        With the store down, the session's own signed copy of name and role stands in."""
        try:
            uid, version = (int(part) for part in user_key.split(":", 1))
        except ValueError:
            return None
        try:
            user = self.runtime.store.get_user(uid)
        except StoreUnavailable:
            held = session.get("ntpd_user") or {}
            if held.get("key") == user_key and held.get("role") in USER_ROLES:
                return User(user_key, str(held["name"]), str(held["role"]), uid)
            return None
        if user is None or user["disabled"] or int(user["session_version"]) != version:
            return None
        return User(user_key, str(user["username"]), str(user["role"]), uid)

    def _display(self) -> Identity | None:
        """The wall display this session was opened with, while its token stays unrevoked."""
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
        if current_user.is_authenticated:
            started = session.get("ntpd_login_at")
            hours = self.runtime.settings.int("NTPD_SESSION_HOURS")
            if not isinstance(started, int) or time.time() - started > hours * 3600:
                self.sign_out(expired=True)
                return None
            return Identity("user", current_user.uid, current_user.name, current_user.role)
        return self._display()

    # the gate --------------------------------------------------------------------------------------------
    def _gate(self) -> Response | None:
        path = request.path
        if path.startswith(PUBLIC_PREFIXES) or path in PUBLIC_FILES:
            return None
        route = self.routes.get(str(request.endpoint))
        if route is not None and route.access in (PUBLIC, KEY, DEVICE):
            if route.access == PUBLIC and request.method not in SAFE_METHODS:
                self.csrf.protect()  # the sign-in form and Keluar
            return None  # a KEY route checks its key itself (http/routes.py)
        if path == "/wall" and request.args.get("token"):
            opened = self._open_display(request.args.get("token"))
            if opened is not None:
                return opened
        who = self._identity()
        if who is None:
            return self._anonymous()
        g.ntpd_identity = who
        g.ntpd_actor = who.actor
        if request.method not in SAFE_METHODS:
            self.csrf.protect()
        if path == CALLBACK_PATH:
            return self._callback(who)
        if route is not None:
            if who.role not in self.route_roles[route.endpoint]:
                return self.page(403, home(who.role), forbidden=who.role)
            return None
        if path in DASH_SHELL:
            return None
        if not self.may_view(who.role, path):
            return self.page(403, home(who.role), forbidden=who.role)
        return None

    def _callback(self, who: Identity) -> Response | None:
        body = request.get_json(silent=True) or {}
        output = str(body.get("output", ""))
        concern = self.concerns.get(output)
        if concern is None or who.role not in self.concern_roles[concern]:
            log.warning("callback refused: %s (%s) may not call %s", who.actor, who.role, output[:200])
            return self._json(403, f"role {who.role} may not do this")
        return None

    def _open_display(self, token: str | None) -> Response | None:
        """``/wall?token=``: a valid token signs this browser in as that display (the URL keeps working after
        a reboot); an unknown or a revoked one gets the sign-in page saying which."""
        try:
            found = displays.find_display_token(self.runtime.store, token)
            revoked = found is None and displays.display_token_revoked(self.runtime.store, token)
        except StoreUnavailable:
            return None  # a session already opened with it keeps working; otherwise the gate says sign in
        if found is None:
            session.pop("ntpd_display", None)
            log.warning("wall display refused: %s token", "revoked" if revoked else "unknown")
            # the sign-in page, saying why: a person at the screen may sign in instead
            return self.page(403, None, message="revoked" if revoked else "unknown_token", form=True,
                             next_="/wall")
        session["ntpd_display"] = {"id": int(found["id"]), "name": str(found["name"])}
        session.permanent = True
        self._displays[int(found["id"])] = (time.monotonic(), True)
        return None

    def _anonymous(self) -> Any:
        if request.method == "GET" and request.path != CALLBACK_PATH and "text/html" in request.headers.get(
                "Accept", "text/html"):
            query = {"next": request.full_path.rstrip("?")}
            if request.args.get("lang") in ("id", "en"):
                query["lang"] = str(request.args["lang"])
            if session.pop("ntpd_expired", False):
                query["m"] = "expired"
            return redirect(f"{LOGIN_PATH}?{urlencode(query)}", code=302)
        return self._json(401, "sign in first (masuk dulu)")

    def page(self, status: int, home_path: str | None = None, **kwargs: Any) -> Response:
        """The sign-in page's HTML with a message (``pages/login/layout.py``)."""
        return render(status, self.runtime.settings.lang, home_path, **kwargs)

    @staticmethod
    def _json(status: int, message: str) -> Response:
        response = jsonify({"error": message})
        response.status_code = status
        return response

    # headers ---------------------------------------------------------------------------------------------
    def csp(self) -> str:
        if self._csp is None:
            self._csp = "; ".join([
                "default-src 'self'",
                "script-src " + " ".join(["'self'", *self._script_hashes]),
                "style-src 'self' 'unsafe-inline'",  # React and Leaflet position elements with inline styles
                "img-src 'self' data: blob:",  # basemap tiles too: the app serves them (/tiles, issue 18)
                "font-src 'self' data:",
                "connect-src 'self'",
                "object-src 'none'",
                "base-uri 'self'",
                "form-action 'self'",
                "frame-ancestors 'none'",
            ])
        return self._csp

    def _headers(self, response: Response) -> Response:
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
        asked = request.args.get("lang")
        if response.mimetype == "text/html" and asked in ("id", "en") and request.cookies.get(LANG_COOKIE) != asked:
            # the language chosen is kept for the next pages and visits (pages/router.py ``lang_of``)
            response.set_cookie(LANG_COOKIE, asked, max_age=LANG_COOKIE_S, samesite="Lax", secure=self.secure,
                                httponly=True)
        path = request.path
        if not path.startswith(PUBLIC_PREFIXES) and not path.startswith("/layers/"):
            response.cache_control.no_store = True  # personal data never sits in a browser or proxy cache
        who = current_identity()
        if who is not None and response.mimetype == "text/html" and request.method == "GET":
            token = generate_csrf()
            if request.cookies.get(CSRF_COOKIE) != token:
                response.set_cookie(CSRF_COOKIE, token, samesite="Strict", secure=self.secure, httponly=False,
                                    max_age=int(self.server.permanent_session_lifetime.total_seconds()))
        return response
