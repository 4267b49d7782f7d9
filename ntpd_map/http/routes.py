"""The route table's machinery (issue 17): what a route is, how it is served, how its key is checked.

Every Flask route beside the Dash pages is a ``Route`` row in one module a concern (``http/incidents.py``,
``http/positions.py``, ...); ``http/table.py`` joins them into ``ROUTES``. From that one table come:

- the Flask rules (``register``), and the OsmAnd endpoint as WSGI middleware in front of Flask;
- who may call each (``access``): ``PUBLIC`` (anyone: the sign-in page, the health check), ``SESSION`` (a
  signed-in person or display whose role is in ``roles``, or in the roles of the page named by ``page``),
  ``KEY`` (an API key whose role is in ``roles``: checked here, before the handler runs), ``DEVICE`` (a
  phone: the registered device id is the credential). The access gate (``access/gate.py``) reads it;
- the OpenAPI document of ``/api`` (``http/openapi.py``) from each row's ``doc``.

A handler is ``handler(call, **view_args)``: ``call`` carries the runtime, the cache, the gate, the layers, the
route table and, for a ``KEY`` route, the key that was checked.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from flask import jsonify, request

from ntpd_map.access.keys import key_from_header
from ntpd_map.access.roles import KEY_ROLES
from ntpd_map.store.model import StoreUnavailable

if TYPE_CHECKING:
    from flask import Flask, Response
    from flask_caching import Cache

    from layers.base import Layer
    from ntpd_map.access.gate import Access
    from ntpd_map.runtime import Runtime

log = logging.getLogger(__name__)

PUBLIC, SESSION, KEY, DEVICE = "public", "session", "key", "device"
#: seconds a client is asked to wait before trying again while the store is down
RETRY_AFTER_S = 30


@dataclass(frozen=True)
class Call:
    """What a handler works with: one process's runtime, cache, gate, layers and route table, and the API key of a
    KEY route."""

    runtime: Runtime
    cache: Cache
    access: Access
    layers: tuple[Layer, ...] = ()
    routes: tuple[Route, ...] = ()
    key: dict[str, Any] | None = None

    @property
    def actor(self) -> str:
        """Who the audit log names for this request's key."""
        return f"api:{self.key['name']}" if self.key else "api:?"


@dataclass(frozen=True)
class Route:
    """A row of the route table. ``path`` is a Flask rule; ``doc`` the OpenAPI operation of an ``/api`` route
    (its 401/403/503 answers and security are added for KEY routes); ``wsgi`` serves the path as middleware
    in front of Flask (the hot OsmAnd path); ``limited``: attempts are rate limited (sign-in)."""

    method: str
    path: str
    handler: Callable[..., Any] | None  # a Flask view's answer: a Response, or (body, status)
    access: str
    roles: frozenset[str] = frozenset()
    page: str | None = None
    doc: dict[str, Any] | None = None
    wsgi: Callable[[Any, Call], Any] | None = None
    limited: bool = False
    name: str = field(default="")

    @property
    def endpoint(self) -> str:
        return self.name or f"{self.method.lower()}:{self.path}"


def fail(status: int, message: str) -> Response:
    """A JSON error; 503 carries Retry-After."""
    response = jsonify({"error": message})
    response.status_code = status
    if status == 503:
        response.headers["Retry-After"] = str(RETRY_AFTER_S)
    return response


def roles_text(roles: frozenset[str]) -> str:
    """"read, planner or admin": the key roles in their usual order."""
    names = [r for r in KEY_ROLES if r in roles]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def check_key(call: Call, roles: frozenset[str]) -> tuple[dict[str, Any] | None, Response | None]:
    """The request's API key, or the error to answer: 401 unknown, 403 wrong role, 503 store down."""
    try:
        key = key_from_header(call.runtime.store, request.headers.get("Authorization"))
    except StoreUnavailable:
        return None, fail(503, "store unavailable: cannot check the API key, retry later")
    if key is None:
        return None, fail(401, "send a valid API key as 'Authorization: Bearer KEY'")
    if key["role"] not in roles:
        return None, fail(403, f"this key's role ({key['role']}) may not do this; it needs {roles_text(roles)}")
    return key, None


def view_of(route: Route, call: Call) -> Callable[..., Any]:
    """The Flask view of a route: the key checked first for KEY routes, then the handler."""
    handler = route.handler
    assert handler is not None, route.path

    def view(**args: Any) -> Any:
        if route.access != KEY:
            return handler(call, **args)
        key, denied = check_key(call, route.roles)
        if denied is not None:
            return denied
        return handler(replace(call, key=key), **args)

    view.__name__ = route.endpoint
    return view


def register(server: Flask, routes: tuple[Route, ...], call: Call) -> None:
    """Serve every route of the table; each middleware once, outermost last in the table."""
    wrapped: set[int] = set()
    for route in routes:
        if route.wsgi is not None:
            if id(route.wsgi) not in wrapped:
                wrapped.add(id(route.wsgi))
                server.wsgi_app = route.wsgi(server.wsgi_app, call)  # type: ignore[method-assign]
            continue
        view = view_of(route, call)
        if route.limited:
            view = call.access.limit_sign_in(view)
        server.add_url_rule(route.path, endpoint=route.endpoint, view_func=view, methods=[route.method])
