"""The sign-in page's handlers: the form (GET), signing in (POST, rate limited per address and name), and
signing out (POST with the session's CSRF token). The gate does the signing in and out itself
(``Access.sign_in``); these read the form, answer and audit."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from flask import redirect, request

from ntpd_map import audit
from ntpd_map.access import users
from ntpd_map.access.identity import safe_next
from ntpd_map.access.roles import home
from ntpd_map.http.routes import PUBLIC, Call, Route
from ntpd_map.pages.login.layout import LOGIN_PATH, LOGOUT_PATH, render
from ntpd_map.store.model import StoreUnavailable

log = logging.getLogger(__name__)


def show(call: Call) -> Any:
    message = request.args.get("m")
    return render(200, call.runtime.settings.lang, message=message if message in ("expired", "out", "bad", "down")
                  else None, form=True)


def submit(call: Call) -> Any:
    default = call.runtime.settings.lang
    lang = "en" if request.form.get("lang") == "en" else "id"
    target = safe_next(request.form.get("next"))
    name = (request.form.get("username") or "").strip().lower()[:64]
    try:
        user = users.verify_login(call.runtime.store, name, request.form.get("password") or "")
    except StoreUnavailable:
        return render(503, default, message="down", form=True, lang=lang)
    if user is None:
        log.warning("sign-in failed for %r from %s", name, request.remote_addr)
        audit.record(call.runtime.store, f"user:{name or '?'}", "login.fail", name or None,
                     address=request.remote_addr)
        return render(401, default, message="bad", form=True, lang=lang, next_=target)
    role = call.access.sign_in(user)
    landing = target if target and call.access.may_view(role, urlsplit(target).path) else None
    return redirect(landing or f"{home(role)}?lang={lang}", code=303)


def sign_out(call: Call) -> Any:
    call.access.sign_out()
    return redirect(f"{LOGIN_PATH}?m=out", code=303)


ROUTES = (
    Route("GET", LOGIN_PATH, show, PUBLIC),
    Route("POST", LOGIN_PATH, submit, PUBLIC, limited=True),
    Route("POST", LOGOUT_PATH, sign_out, PUBLIC),
)
