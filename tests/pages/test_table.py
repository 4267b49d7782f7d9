"""The page table is the truth (issue 17): the router, who may open a page and who may call its callbacks all
follow from its rows, so adding a page is one package and one row."""

from __future__ import annotations

from typing import Any

import pytest
from dash import Input, Output, html

from ntpd_map.access.roles import EVERYONE, OPERATIONS, STAFF
from ntpd_map.pages import table
from ntpd_map.pages.page import Callbacks, Page, PageDeps, PageRequest
from tests.conftest import sign_in


def test_the_table_names_every_page_once_with_its_roles() -> None:
    paths = [page.path for page in table.PAGES]
    assert paths == ["/", "/wall", "/analitik", "/cakupan", "/briefing"]
    assert len({page.key for page in table.PAGES}) == len(table.PAGES)
    assert table.page_for("/").roles == OPERATIONS and table.page_for("/wall").roles == EVERYONE
    assert table.page_for("/briefing/").roles == STAFF  # a trailing slash is the same page
    assert table.page_for("/apa-saja") is table.PAGES[0]  # unknown paths show the operations page
    roles = table.concern_roles()
    assert roles["router"] == EVERYONE and roles["coverage-shared"] == EVERYONE
    assert {key: roles[key] for key in ("ops", "wall", "analytics", "coverage", "briefing")} == {
        page.key: page.roles for page in table.PAGES}


def layout(request: PageRequest) -> Any:
    return html.Div([html.Button("Hitung", id="demo-go"), html.Div(id="demo-out")],
                    id="demo-page", title=request.role or "")


def register(cb: Callbacks, _deps: PageDeps) -> None:
    @cb.callback(Output("demo-out", "children"), Input("demo-go", "n_clicks"))
    def count(clicks: int | None) -> str:
        return f"{clicks or 0}x"


@pytest.fixture
def app_with_a_new_page(runtime, monkeypatch):
    """The real app with one more row in the table: a page planners alone may open."""
    from ntpd_map.factory import create_app

    row = Page("/demo", "demo", "app_title", frozenset({"planner"}), layout, register)
    monkeypatch.setattr(table, "PAGES", (*table.PAGES, row))
    return create_app(runtime=runtime)


def test_adding_a_page_is_one_row(app_with_a_new_page, runtime) -> None:
    app = app_with_a_new_page
    access = app.server.extensions["ntpd_access"]
    assert access.concerns["demo-out.children"] == "demo"  # its callback belongs to it...
    planner, operator = app.server.test_client(), app.server.test_client()
    csrf = {"planner": sign_in(planner, runtime.store, "planner"), "operator": sign_in(operator, runtime.store,
                                                                                         "operator")}
    # ...the gate opens it to its roles only...
    assert planner.get("/demo", headers={"Accept": "text/html"}).status_code == 200
    assert operator.get("/demo", headers={"Accept": "text/html"}).status_code == 403
    # ...the router draws it for them...
    route = {"output": "page.children", "outputs": {"id": "page", "property": "children"},
             "inputs": [{"id": "url", "property": "pathname", "value": "/demo"},
                        {"id": "url", "property": "search", "value": ""}], "changedPropIds": ["url.pathname"]}
    drawn = planner.post("/_dash-update-component", json=route, headers={"X-CSRFToken": csrf["planner"]})
    assert drawn.status_code == 200 and "demo-page" in drawn.text and "account-bar" in drawn.text
    refused = operator.post("/_dash-update-component", json=route, headers={"X-CSRFToken": csrf["operator"]})
    assert "demo-page" not in refused.text and "forbidden" in refused.text
    # ...and its callbacks answer the roles that may open it, and no one else
    body = {"output": "demo-out.children", "outputs": {"id": "demo-out", "property": "children"},
            "inputs": [{"id": "demo-go", "property": "n_clicks", "value": 2}], "changedPropIds": ["demo-go.n_clicks"]}
    answer = planner.post("/_dash-update-component", json=body, headers={"X-CSRFToken": csrf["planner"]})
    assert answer.status_code == 200 and "2x" in answer.text
    assert operator.post("/_dash-update-component", json=body,
                         headers={"X-CSRFToken": csrf["operator"]}).status_code == 403


def test_every_date_picker_starts_the_week_on_monday_and_offers_no_future_day(runtime) -> None:
    """Issue 18: the same calendar on every page, as Indonesia writes it (Senin first), and nothing after today in
    the center's zone (no call has been made tomorrow)."""
    from flask import Flask
    from flask_caching import Cache

    from layers import default_layers
    from layers.base import LayerContext
    from ntpd_map.views import local_today

    server = Flask(__name__)
    server.config["SECRET_KEY"] = "uji"
    cache = Cache(server, config={"CACHE_TYPE": "SimpleCache"})
    today = local_today(runtime.settings.tz).isoformat()
    pickers = []
    with server.test_request_context("/"):
        for page in table.PAGES:
            tree = page.layout(PageRequest(LayerContext(runtime, "id", wall=page.wall), default_layers(), "",
                                           "admin", cache)).to_plotly_json()
            pickers += [(page.path, p) for p in found(tree, ("DatePickerRange", "DatePickerSingle"))]
    assert {path for path, _p in pickers} >= {"/", "/analitik", "/cakupan", "/briefing"}
    for path, picker in pickers:
        assert picker.get("first_day_of_week") == 1, (path, picker.get("id"))
        assert picker.get("max_date_allowed") == today, (path, picker.get("id"))


def found(tree: Any, kinds: tuple[str, ...]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if hasattr(tree, "to_plotly_json"):
        tree = tree.to_plotly_json()
    if isinstance(tree, dict):
        if tree.get("type") in kinds:
            out.append(tree["props"])
        for value in tree.values():
            out += found(value, kinds)
    elif isinstance(tree, (list, tuple)):
        for value in tree:
            out += found(value, kinds)
    return out
