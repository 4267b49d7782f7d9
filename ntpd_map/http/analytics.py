"""The analytics over HTTP (read key): ``/api/priorities`` (issue 5) as JSON, CSV or XLSX, ``/api/hexes`` (issue 5)
and ``/api/bts-proposal.csv|.xlsx`` (issue 7). Answers are cached as bytes per period, data version and
reference data, so every worker answers a repeated question from the cache."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from datetime import date

import orjson
from flask import Response, request

from ntpd_map.access.roles import KEY_READ
from ntpd_map.analytics.export import formula, rows_json, to_csv, to_xlsx
from ntpd_map.analytics.periods import period, window_text
from ntpd_map.analytics.priority import METRICS
from ntpd_map.analytics.proposal import proposal_file
from ntpd_map.geo.hexes import RESOLUTIONS
from ntpd_map.http.openapi import ERROR, PERIOD, XLSX, answer, file_answer
from ntpd_map.http.routes import KEY, Call, Route, fail
from ntpd_map.store.model import StoreUnavailable

log = logging.getLogger(__name__)

MIME = {"json": "application/json", "csv": "text/csv; charset=utf-8", "xlsx": XLSX}


def cached(call: Call, key: str, make: Callable[[], bytes], fmt: str, filename: str | None = None) -> Response:
    digest = hashlib.sha256(key.encode()).hexdigest()
    body: bytes | None = call.cache.get(f"analytics:{digest}")
    if body is None:
        body = make()
        call.cache.set(f"analytics:{digest}", body, timeout=3600)
    response = Response(body, mimetype=MIME[fmt])
    if filename:
        response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def read_period(call: Call) -> tuple[date, date, int, int] | Response:
    """The request's period, or the answer to give instead (bad dates)."""
    try:
        return period(request.args, call.runtime.settings.tz)
    except ValueError as exc:
        return fail(400, f"give from and to as local dates YYYY-MM-DD, from <= to ({exc})")


def priorities(call: Call, fmt: str = "json") -> Response:
    asked = read_period(call)
    if isinstance(asked, Response):
        return asked
    date_from, date_to, start, end = asked
    metric = request.args.get("metric", "socialisation")
    level = request.args.get("level", "kecamatan")
    if metric not in METRICS:
        return fail(400, f"metric must be one of {', '.join(METRICS)}")
    if level not in ("kecamatan", "desa") or (metric == "socialisation" and level != "kecamatan"):
        return fail(400, "level is kecamatan (both metrics) or desa (bts only)")
    runtime = call.runtime
    analytics = runtime.analytics
    try:
        version = runtime.store.data_version()
        key = f"prio:{runtime.region.code}:{metric}:{level}:{start}:{end}:{version}:" \
              f"{analytics.reference_signature()}:{fmt}"
        simulated = runtime.is_simulated()

        def make() -> bytes:
            prio = analytics.priorities(metric, start, end, level)
            if fmt == "csv":
                return to_csv(prio, simulated)
            if fmt == "xlsx":
                return to_xlsx(prio, simulated, window_text(date_from, date_to, runtime.zone))
            return orjson.dumps({
                "metric": metric, "level": level, "from": date_from.isoformat(), "to": date_to.isoformat(),
                "region": runtime.region.code, "formula": formula(metric), "simulated": simulated,
                "population_estimated": prio.population_estimated, "towers_known": prio.towers_known,
                "rows": rows_json(prio)})

        name = f"prioritas_{metric}_{level}_{runtime.region.code}_{date_from}_{date_to}" \
               f"{'_SIMULASI' if simulated else ''}.{fmt}"
        return cached(call, key, make, fmt, None if fmt == "json" else name)
    except StoreUnavailable:
        return fail(503, "store unavailable, retry later")


def proposal(call: Call, fmt: str) -> Response:
    asked = read_period(call)
    if isinstance(asked, Response):
        return asked
    try:
        body, name = proposal_file(call.runtime, call.cache, fmt, *asked)
    except StoreUnavailable:
        return fail(503, "store unavailable, retry later")
    response = Response(body, mimetype=MIME[fmt])
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def hexes(call: Call) -> Response:
    asked = read_period(call)
    if isinstance(asked, Response):
        return asked
    date_from, date_to, start, end = asked
    runtime = call.runtime
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
            out.update({"from": date_from.isoformat(), "to": date_to.isoformat(), "simulated": runtime.is_simulated()})
            return orjson.dumps(out)

        response = cached(call, key, make, "json")
        response.mimetype = "application/geo+json"
        return response
    except StoreUnavailable:
        return fail(503, "store unavailable, retry later")


PRIORITY_PARAMETERS = [*PERIOD, {"name": "metric", "in": "query",
                                 "schema": {"type": "string", "enum": ["socialisation", "bts"]}},
                       {"name": "level", "in": "query", "schema": {"type": "string", "enum": ["kecamatan", "desa"]}}]
FILE_NAME = "the file (named ..._SIMULASI when the data is simulated)"

ROUTES = (
    Route("GET", "/api/priorities", priorities, KEY, KEY_READ, doc={
        "summary": "Socialisation or BTS priority per kecamatan (or desa), every component of each score",
        "parameters": PRIORITY_PARAMETERS,
        "responses": {"200": answer("one row per kecamatan: kode, nama, score, rank, components",
                                    {"type": "object", "required": ["metric", "from", "to", "rows"]}),
                      "400": answer("bad parameters", ERROR)}}),
    *(Route("GET", f"/api/priorities.{fmt}", lambda call, fmt=fmt: priorities(call, fmt), KEY, KEY_READ, doc={
        "summary": f"The same ranking as {fmt.upper()}, with Indonesian headers, for the Bupati's briefing",
        "parameters": PRIORITY_PARAMETERS,
        "responses": {"200": file_answer(FILE_NAME, MIME[fmt].split(";")[0]),
                      "400": answer("bad parameters", ERROR)}}) for fmt in ("csv", "xlsx")),
    *(Route("GET", f"/api/bts-proposal.{fmt}", lambda call, fmt=fmt: proposal(call, fmt), KEY, KEY_READ, doc={
        "summary": f"The BTS proposal for Komdigi as {fmt.upper()}: one row per blank-spot desa, sorted by the "
                   "desa-level BTS index, with its evidence (read key)",
        "parameters": PERIOD,
        "responses": {"200": file_answer(FILE_NAME, MIME[fmt].split(";")[0]), "400": answer("bad dates", ERROR)}})
      for fmt in ("xlsx", "csv")),
    Route("GET", "/api/hexes", hexes, KEY, KEY_READ, doc={
        "summary": "H3 hexagons clipped to kecamatan with a count per call type (GeoJSON)",
        "parameters": [*PERIOD,
                       {"name": "res", "in": "query", "schema": {"type": "integer", "minimum": 7, "maximum": 9}},
                       {"name": "empty", "in": "query", "schema": {"type": "boolean"},
                        "description": "include pieces without calls"}],
        "responses": {"200": {"description": "a FeatureCollection", "content": {"application/geo+json": {
            "schema": {"type": "object", "required": ["type", "features"]}}}},
                      "400": answer("bad parameters", ERROR)}}),
)
