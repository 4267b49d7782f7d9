"""The router: draws the page of the URL, from the page table, for whoever may open it.

The gate has already checked the first path a browser asked for; a link followed inside the app reaches only
this callback, so the page's roles are checked here again. A page whose layout needs the store while it is down
says so and reloads itself every ``RETRY_S``; the live pages draw their last good data instead (their
``page()`` catches that themselves, ntpd_map/pages/live.py).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qs

from dash import Input, Output, dcc, html

from layers.base import LayerContext
from ntpd_map import ids
from ntpd_map.access.identity import current_role
from ntpd_map.fmt import calendar
from ntpd_map.i18n import LANG_COOKIE, pick_lang, t
from ntpd_map.pages.common import forbidden, with_account
from ntpd_map.pages.page import Callbacks, Page, PageDeps, PageRequest
from ntpd_map.store.model import StoreUnavailable

log = logging.getLogger(__name__)

RETRY_S = 10


def lang_of(search: str | None, default: str) -> str:
    """The page's language: ``?lang=`` in its URL, else the one this browser chose before (the cookie the access
    gate sets on any page asked for with ``?lang=``), else NTPD_LANG."""
    from flask import request

    asked = parse_qs((search or "").lstrip("?")).get("lang", [None])[0]
    return pick_lang(asked, request.cookies.get(LANG_COOKIE) if request else None, default)


def in_language(content: Any, lang: str) -> Any:
    """The page inside an element that says its language (for screen readers and the browser) and carries the
    calendar names its date pickers show (assets/ntpd.js hands them to Dash's pickers as a date-fns locale)."""
    names: dict[str, Any] = {"data-calendar": json.dumps(calendar(lang))}
    return html.Div(content, lang=lang, className="page-root", **names)


def choose(pages: Sequence[Page], path: str | None) -> Page:
    """The page of a path: unknown paths show the first page (the operations page)."""
    path = (path or "/").rstrip("/") or "/"
    return next((page for page in pages if page.path == path), pages[0])


def store_down(lang: str) -> Any:
    return html.Div([html.Div(t("store_down", lang, time="-"), className="down-banner"),
                     dcc.Location(id="retry", refresh=True),
                     dcc.Interval(id="retry-tick", interval=RETRY_S * 1000)])


def register(cb: Callbacks, deps: PageDeps, pages: Sequence[Page]) -> None:
    runtime, layers, cache = deps.runtime, deps.layers, deps.cache

    @cb.callback(Output(ids.PAGE, "children"), Input(ids.URL, "pathname"), Input(ids.URL, "search"))
    def route(pathname: str | None, search: str | None) -> Any:
        lang = lang_of(search, runtime.settings.lang)
        role = current_role()
        page = choose(pages, pathname)
        if role not in page.roles:
            return in_language(forbidden(role, lang), lang)
        request = PageRequest(LayerContext(runtime, lang, wall=page.wall), layers, search or "", role, cache)
        try:
            drawn = page.layout(request)
        except StoreUnavailable as exc:
            log.error("store unavailable while rendering %s: %s", pathname, exc)
            return in_language(store_down(lang), lang)
        return in_language(drawn if page.wall else with_account(drawn, lang), lang)

    cb.clientside_callback(
        "function(n) { if (n) { window.location.reload(); } return window.dash_clientside.no_update; }",
        Output("retry", "href"),
        Input("retry-tick", "n_intervals"),
    )
