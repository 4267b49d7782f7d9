"""The sign-in page's HTML: the form, or a message (signed out, expired, refused, the store down), the
language switch, and for a signed-in person without access to a page the way home and Keluar."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Response, render_template_string, request
from flask_wtf.csrf import generate_csrf

from ntpd_map.access.identity import safe_next
from ntpd_map.i18n import LANG_COOKIE, pick_lang, t

LOGIN_PATH = "/login"
LOGOUT_PATH = "/logout"
#: the sign-in page's texts (``i18n.STRINGS["login_<key>"]``)
TEXT_KEYS = ("title", "heading", "user", "password", "submit", "bad", "expired", "out", "down", "limited", "revoked",
             "unknown_token", "forbidden", "home", "logout", "lang", "note")

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


def texts(lang: str) -> dict[str, str]:
    return {key: t(f"login_{key}", lang) for key in TEXT_KEYS}


def render(status: int, default_lang: str, home: str | None = None, *, message: str | None = None,
           form: bool = False, forbidden: str | None = None, lang: str | None = None,
           next_: str | None = None) -> Response:
    """The page as a response: ``message`` a TEXT_KEYS key, ``forbidden`` the role refused a page (with the
    way ``home``), ``form`` the sign-in form."""
    lang = lang or pick_lang(request.args.get("lang"), request.cookies.get(LANG_COOKIE), default_lang)
    text = texts(lang)
    shown = text["forbidden"].format(role=forbidden) if forbidden else (text[message] if message else "")
    target = next_ or safe_next(request.args.get("next")) or ""
    body = render_template_string(
        PAGE, lang=lang, text=text, message=shown, form=form, csrf=generate_csrf(), next=target,
        action=LOGIN_PATH, home=f"{home}?lang={lang}" if home else None,
        switch=f"{LOGIN_PATH}?{urlencode({'lang': 'id' if lang == 'en' else 'en', 'next': target})}")
    return Response(body, status=status, mimetype="text/html")
