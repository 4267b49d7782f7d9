"""The OpenAPI document is generated from the route table (issue 17): every /api rule the app serves is in it,
with the roles its row names, so schemathesis (tests/http/test_api.py) fuzzes every API route."""

from __future__ import annotations

import re

import pytest

from ntpd_map.access.roles import KEY_READ
from ntpd_map.http import table
from ntpd_map.http.openapi import UNDOCUMENTED, openapi_document, openapi_path
from ntpd_map.http.routes import KEY, Route


@pytest.fixture(scope="module")
def app(runtime):
    from ntpd_map.factory import create_app

    return create_app(runtime=runtime)


def served_api_operations(server) -> set[tuple[str, str]]:
    """(method, OpenAPI path) of every /api rule in Flask's url_map and of the WSGI endpoints in front of it."""
    out = set()
    for rule in server.url_map.iter_rules():
        if rule.rule.startswith("/api/") and rule.rule not in UNDOCUMENTED:
            out |= {(m.lower(), openapi_path(rule.rule)) for m in rule.methods - {"HEAD", "OPTIONS"}}
    # the OsmAnd endpoint is served before Flask: it is in the table, not in url_map
    out |= {(r.method.lower(), r.path) for r in table.ROUTES if r.wsgi is not None}
    return out


def test_every_api_route_the_app_serves_is_in_the_document(app) -> None:
    doc = app.server.test_client().get("/api/openapi.json").get_json()
    documented = {(method, path) for path, item in doc["paths"].items() for method in item}
    served = served_api_operations(app.server)
    assert served, "no /api route found in url_map"
    missing = served - documented
    assert not missing, f"/api routes the OpenAPI document lacks: {sorted(missing)}"
    assert documented == served, f"documented but not served: {sorted(documented - served)}"
    # the ones that had drifted out of the hand-written document
    assert {("get", "/api/priorities.csv"), ("get", "/api/priorities.xlsx")} <= documented


def test_a_route_missing_from_the_document_is_caught(runtime) -> None:
    """The check above can fail: an /api rule added beside the table is not in the document."""
    from flask import Flask

    from ntpd_map.http import routes

    server = Flask(__name__)
    api = tuple(r for r in table.ROUTES if r.path.startswith("/api/"))
    routes.register(server, api, routes.Call(runtime, cache=None, access=None, routes=api))
    server.add_url_rule("/api/beside-the-table", "beside", lambda: "")
    doc = openapi_document(table.ROUTES)
    documented = {(m, p) for p, item in doc["paths"].items() for m in item}
    assert served_api_operations(server) - documented == {("get", "/api/beside-the-table")}


def test_key_routes_say_their_roles_and_answer_401_403_503() -> None:
    doc = openapi_document(table.ROUTES)
    for route in table.ROUTES:
        if not route.path.startswith("/api/") or route.path in UNDOCUMENTED:
            continue
        op = doc["paths"][openapi_path(route.path)][route.method.lower()]
        if route.access == KEY:
            assert {"401", "403", "503"} <= set(op["responses"]), route.path
            assert re.search(r"API key role: [a-z, ]+\.$", op["description"]), op["description"]
            assert "security" not in op  # the document's bearer security applies
        else:
            assert op["security"] == [], route.path  # phones and the health check send no key


def test_a_route_row_is_all_it_takes() -> None:
    """A new /api row appears in the document with its path parameters in OpenAPI form."""
    extra = Route("GET", "/api/units/<device>/battery", lambda call, device: "", KEY, KEY_READ,
                  doc={"summary": "battery", "responses": {"200": {"description": "ok"}}})
    doc = openapi_document((*table.ROUTES, extra))
    op = doc["paths"]["/api/units/{device}/battery"]["get"]
    assert op["summary"] == "battery" and op["description"] == "API key role: read, planner or admin."
