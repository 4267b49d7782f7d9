"""The OpenAPI document of ``/api``, generated from the route table (issue 17): every ``/api`` route is in it,
with its parameters, body and answers from its row; KEY routes say which key roles they take and answer 401,
403 and 503; PUBLIC and DEVICE routes need no key. ``tests/http/test_openapi.py`` fails for an ``/api`` rule of
the app that the document lacks, and schemathesis fuzzes every operation in it."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from ntpd_map.http.routes import KEY, roles_text

if TYPE_CHECKING:
    from ntpd_map.http.routes import Route

ERROR: dict[str, Any] = {"type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]}
PERIOD: list[dict[str, Any]] = [
    {"name": "from", "in": "query", "schema": {"type": "string", "format": "date"},
     "description": "first local date (default: 29 days before to)"},
    {"name": "to", "in": "query", "schema": {"type": "string", "format": "date"},
     "description": "last local date, inclusive (default: today)"},
]
PLAIN: dict[str, Any] = {"content": {"text/plain": {"schema": {"type": "string"}}}}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: the routes that are not an API operation: the answer for an unknown /api path
UNDOCUMENTED = ("/api/<path:_rest>",)


def answer(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def file_answer(description: str, mime: str) -> dict[str, Any]:
    return {"description": description, "content": {mime: {"schema": {"type": "string", "format": "binary"}}}}


AUTH_ERRORS = {"401": answer("missing or unknown key", ERROR), "403": answer("the key's role may not", ERROR),
               "503": answer("store unavailable, retry after the Retry-After seconds", ERROR)}


def openapi_path(rule: str) -> str:
    """A Flask rule as an OpenAPI path: ``/api/units/<device>/status`` -> ``/api/units/{device}/status``."""
    return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule)


def operation(route: Route) -> dict[str, Any]:
    op = dict(route.doc or {})
    if route.access == KEY:
        op["description"] = " ".join(filter(None, [op.get("description"),
                                                   f"API key role: {roles_text(route.roles)}."]))
        op["responses"] = {**op.get("responses", {}), **{k: v for k, v in AUTH_ERRORS.items()
                                                          if k not in op.get("responses", {})}}
    else:
        op["security"] = []
    return op


def openapi_document(routes: tuple[Route, ...]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        if route.path.startswith("/api/") and route.path not in UNDOCUMENTED:
            paths.setdefault(openapi_path(route.path), {})[route.method.lower()] = operation(route)
    return {
        "openapi": "3.0.3",
        "info": {"title": "ntpd-map API", "version": "1"},
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}],
        "paths": paths,
    }
