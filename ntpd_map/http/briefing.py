"""The briefing's downloads (issue 9): ``GET /briefing/pdf`` and ``GET /briefing/xlsx`` with
``?period=<Period.key>&lang=id|en``.

They build the same ``ntpd_map.briefing.Briefing`` the page shows and hand it to the printers
(``ntpd_map.briefing.pdf.render``, ``ntpd_map.briefing.xlsx.render``; reportlab and matplotlib load only when
one is asked for). They take the roles of the ``/briefing`` page (their rows below name it): anonymous
people are sent to the sign-in page, a wall gets 403.

Answers: the file as an attachment named ``briefing_<region>_<period>[_SIMULASI].<ext>``, never cached; a period
that cannot be read: 400 saying how to write one; the store down: 503 with Retry-After.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from flask import Response, request

from ntpd_map.briefing import Period, build, pdf, xlsx
from ntpd_map.http.routes import RETRY_AFTER_S, SESSION, Route
from ntpd_map.i18n import t
from ntpd_map.store.model import StoreUnavailable

if TYPE_CHECKING:
    from ntpd_map.briefing import Briefing
    from ntpd_map.runtime import Runtime

log = logging.getLogger(__name__)

MIME = {"pdf": "application/pdf",
        "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def download_name(briefing: Briefing, fmt: str) -> str:
    """briefing_53.03_2025-05_SIMULASI.pdf; a custom period as its two dates (2025-05-01_2025-09-30)."""
    period = briefing.period.key.replace("..", "_")
    return f"briefing_{briefing.region_code}_{period}{'_SIMULASI' if briefing.simulated else ''}.{fmt}"


def render(runtime: Runtime, briefing: Briefing, fmt: str, lang: str) -> bytes:
    if fmt == "pdf":
        return pdf.render(briefing, runtime.region, lang)
    if fmt == "xlsx":
        return xlsx.render(briefing, lang)
    raise ValueError(f"format must be pdf or xlsx, not {fmt!r}")


def _plain(status: int, message: str) -> Response:
    response = Response(message + "\n", status=status, mimetype="text/plain")
    response.cache_control.no_store = True
    return response


def download(runtime: Runtime, fmt: str, args: Any) -> Response:
    """The answer to a download request with query ``args`` (period, lang)."""
    lang = "en" if str(args.get("lang", "")).lower().startswith("en") else "id"
    asked = str(args.get("period", ""))
    try:
        period = Period.parse(asked)
    except ValueError:
        return _plain(400, t("brief_bad_period", lang, text=asked[:40]))
    try:
        briefing = build(runtime, period)
        body = render(runtime, briefing, fmt, lang)
    except StoreUnavailable as exc:
        log.error("store unavailable for the briefing %s of %s: %s", fmt, period.key, exc)
        response = _plain(503, t("brief_download_down", lang, s=RETRY_AFTER_S))
        response.headers["Retry-After"] = str(RETRY_AFTER_S)
        return response
    response = Response(body, mimetype=MIME[fmt])
    response.headers["Content-Disposition"] = f'attachment; filename="{download_name(briefing, fmt)}"'
    response.cache_control.no_store = True
    return response


ROUTES = tuple(
    Route("GET", f"/briefing/{fmt}", lambda call, fmt=fmt: download(call.runtime, fmt, request.args), SESSION,
          page="/briefing")
    for fmt in ("pdf", "xlsx")
)
