"""GET /api/priorities(.csv|.xlsx), /api/hexes (issue 5) and /api/bts-proposal(.csv|.xlsx) (issue 7): read key;
answers cached as bytes per data version and reference data."""

from __future__ import annotations

import hashlib
import logging
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask, Response
    from flask_caching import Cache

    from ntpd_map.runtime import Runtime

log = logging.getLogger(__name__)

MIME = {"json": "application/json", "csv": "text/csv; charset=utf-8",
        "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def period(args: Any, tz: str, today: date | None = None) -> tuple[date, date, int, int]:
    """(from, to, start, end) from ``from``/``to`` local dates (inclusive; default: the last 30 days)."""
    from zoneinfo import ZoneInfo

    from ntpd_map.analytics import DEFAULT_DAYS
    from ntpd_map.analytics.recap import recap_bounds

    today = today or datetime.now(ZoneInfo(tz)).date()
    date_to = date.fromisoformat(args["to"]) if args.get("to") else today
    try:
        date_from = date.fromisoformat(args["from"]) if args.get("from") else date_to - timedelta(days=DEFAULT_DAYS - 1)
    except OverflowError:  # to=0001-01-05 without from: the default start would be before year 1
        raise ValueError("from would be before year 1") from None
    if date_to < date_from:
        raise ValueError("from is after to")
    if (date_to - date_from).days > 3660:
        raise ValueError("a period of at most 10 years")
    start, end = recap_bounds(date_from, date_to, tz)
    return date_from, date_to, start, end


def window_text(date_from: date, date_to: date, zone: str) -> str:
    return f"{date_from:%d/%m/%Y} - {date_to:%d/%m/%Y} (waktu {zone})"


def proposal_file(runtime: Runtime, cache: Cache, fmt: str, date_from: date, date_to: date, start: int,
                  end: int) -> tuple[bytes, str]:
    """The BTS proposal of a period as XLSX or CSV bytes and its file name, cached per period, data version and
    reference data: ``/api/bts-proposal.*`` and the coverage page's buttons serve the same bytes. Raises
    StoreUnavailable."""
    from zoneinfo import ZoneInfo

    from ntpd_map.analytics.proposal import filename, to_csv, to_xlsx

    if fmt not in ("csv", "xlsx"):
        raise ValueError(f"the BTS proposal is csv or xlsx, not {fmt!r}")
    analytics = runtime.analytics
    key = f"proposal:{runtime.region.code}:{start}:{end}:{runtime.store.data_version()}:" \
          f"{analytics.reference_signature()}:{runtime.is_simulated()}:{fmt}"
    digest = hashlib.sha256(key.encode()).hexdigest()
    # one bytes value, the file name before a NUL and the file after it: the cache takes serialized payloads
    # only (ntpd_map/cache.py), and one entry cannot pair a name with another entry's file
    hit = cache.get(f"analytics:{digest}")
    if not isinstance(hit, bytes):  # also an entry of an older version, which held a (file, name) tuple
        made = analytics.bts_proposal(start, end)
        if fmt == "csv":
            body = to_csv(made)
        else:
            generated = datetime.now(ZoneInfo(runtime.settings.tz)).strftime("%d/%m/%Y %H:%M")
            body = to_xlsx(made, window_text(date_from, date_to, runtime.zone), f"{generated} {runtime.zone}")
        hit = filename(made, date_from, date_to, fmt).encode() + b"\0" + body
        cache.set(f"analytics:{digest}", hit, timeout=3600)
    name, _, body = hit.partition(b"\0")
    return body, name.decode()


def register(server: Flask, runtime: Runtime, cache: Cache) -> None:
    import orjson
    from flask import Response, request

    from ntpd_map.analytics.export import formula, rows_json, to_csv, to_xlsx
    from ntpd_map.analytics.priority import METRICS
    from ntpd_map.geo.hexes import RESOLUTIONS
    from ntpd_map.http.incidents import check_key, fail
    from ntpd_map.store.base import StoreUnavailable

    def cached(key: str, make: Any, fmt: str, filename: str | None = None) -> Response:
        digest = hashlib.sha256(key.encode()).hexdigest()
        body: bytes | None = cache.get(f"analytics:{digest}")
        if body is None:
            body = make()
            cache.set(f"analytics:{digest}", body, timeout=3600)
        response = Response(body, mimetype=MIME[fmt])
        if filename:
            response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response

    def read_period() -> tuple[date, date, int, int] | Response:
        """The request's period, or the answer to give instead (no read key, bad dates)."""
        _key, denied = check_key(runtime, "read")
        if denied:
            return denied
        try:
            return period(request.args, runtime.settings.tz)
        except ValueError as exc:
            return fail(400, f"give from and to as local dates YYYY-MM-DD, from <= to ({exc})")

    def answer(fmt: str) -> Response:
        asked = read_period()
        if isinstance(asked, Response):
            return asked
        date_from, date_to, start, end = asked
        metric = request.args.get("metric", "socialisation")
        level = request.args.get("level", "kecamatan")
        if metric not in METRICS:
            return fail(400, f"metric must be one of {', '.join(METRICS)}")
        if level not in ("kecamatan", "desa") or (metric == "socialisation" and level != "kecamatan"):
            return fail(400, "level is kecamatan (both metrics) or desa (bts only)")
        analytics = runtime.analytics
        try:
            version = runtime.store.data_version()
            key = f"prio:{runtime.region.code}:{metric}:{level}:{start}:{end}:{version}:" \
                  f"{analytics.reference_signature()}:{fmt}"
            simulated = runtime.is_simulated()

            def make() -> bytes:
                prio = analytics.priorities(metric, start, end, level)
                text = window_text(date_from, date_to, runtime.zone)
                if fmt == "csv":
                    return to_csv(prio, simulated)
                if fmt == "xlsx":
                    return to_xlsx(prio, simulated, text)
                return orjson.dumps({
                    "metric": metric, "level": level, "from": date_from.isoformat(), "to": date_to.isoformat(),
                    "region": runtime.region.code, "formula": formula(metric), "simulated": simulated,
                    "population_estimated": prio.population_estimated, "towers_known": prio.towers_known,
                    "rows": rows_json(prio)})

            name = f"prioritas_{metric}_{level}_{runtime.region.code}_{date_from}_{date_to}" \
                   f"{'_SIMULASI' if simulated else ''}.{fmt}"
            return cached(key, make, fmt, None if fmt == "json" else name)
        except StoreUnavailable:
            return fail(503, "store unavailable, retry later")

    @server.get("/api/priorities")
    def priorities() -> Response:
        return answer("json")

    @server.get("/api/priorities.csv")
    def priorities_csv() -> Response:
        return answer("csv")

    @server.get("/api/priorities.xlsx")
    def priorities_xlsx() -> Response:
        return answer("xlsx")

    def proposal(fmt: str) -> Response:
        asked = read_period()
        if isinstance(asked, Response):
            return asked
        try:
            body, name = proposal_file(runtime, cache, fmt, *asked)
        except StoreUnavailable:
            return fail(503, "store unavailable, retry later")
        response = Response(body, mimetype=MIME[fmt])
        response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
        return response

    @server.get("/api/bts-proposal.csv")
    def bts_proposal_csv() -> Response:
        return proposal("csv")

    @server.get("/api/bts-proposal.xlsx")
    def bts_proposal_xlsx() -> Response:
        return proposal("xlsx")

    @server.get("/api/hexes")
    def hexes() -> Response:
        asked = read_period()
        if isinstance(asked, Response):
            return asked
        date_from, date_to, start, end = asked
        try:
            res = int(request.args.get("res") or runtime.analytics.default_res)
        except ValueError:
            res = -1
        if res not in RESOLUTIONS:
            return fail(400, f"res must be one of {', '.join(map(str, RESOLUTIONS))}")
        empty = request.args.get("empty", "0").lower() in ("1", "true", "ya")
        try:
            version = runtime.store.data_version()
            key = f"hexes:{runtime.region.code}:{res}:{start}:{end}:{int(empty)}:{version}"

            def make() -> bytes:
                out = runtime.analytics.hexes(start, end, res, include_empty=empty)
                out.update({"from": date_from.isoformat(), "to": date_to.isoformat(),
                            "simulated": runtime.is_simulated()})
                return orjson.dumps(out)

            response = cached(key, make, "json")
            response.mimetype = "application/geo+json"
            return response
        except StoreUnavailable:
            return fail(503, "store unavailable, retry later")
