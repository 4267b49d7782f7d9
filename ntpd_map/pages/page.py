"""What a page is: a row of the page table (``pages/table.py``), what its layout is given, and how its callbacks
are registered so that the gate knows who may call each one.

A page's package holds its layout (``layout.py``, with ``page(request)`` building it for the router) and its
callbacks (``callbacks.py``, with ``register(callbacks, deps)``). The router, the roles per page and the roles
per callback are all derived from the table: adding a page is one package and one row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from dash import Dash
    from dash.development.base_component import Component
    from flask_caching import Cache

    from layers.base import Layer, LayerContext
    from ntpd_map.access.gate import Access
    from ntpd_map.runtime import Runtime

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class PageRequest:
    """What the router hands a page's layout: the context (runtime, language, wall or not), the map layers, the
    query string of the URL, the role of whoever asks, and the shared cache (a live page drawn while the store
    is down reads its last good data there)."""

    ctx: LayerContext
    layers: list[Layer]
    search: str
    role: str | None
    cache: Cache


@dataclass(frozen=True)
class PageDeps:
    """What a page's callbacks work with: the process's runtime, the map layers and the shared cache."""

    runtime: Runtime
    layers: list[Layer]
    cache: Cache


@dataclass(frozen=True)
class Page:
    """A row of the page table.

    ``key`` names the page's callbacks for the gate and its last good view in the cache; ``title`` is the i18n
    key of its name; ``roles`` may open it and call its callbacks; ``wall``: built for a room display (no account
    bar, read-only, no personal details). A layout that needs the store while it is down raises
    StoreUnavailable: the router then says so and retries (a live page draws its last good data instead)."""

    path: str
    key: str
    title: str
    roles: frozenset[str]
    layout: Callable[[PageRequest], Component]
    register: Callable[[Callbacks, PageDeps], None]
    wall: bool = False


@dataclass(frozen=True)
class CallbackGroup:
    """Callbacks that are no page's own (the router, the coverage layers every map shows), with their roles."""

    key: str
    roles: frozenset[str]
    register: Callable[[Callbacks, PageDeps], None]


class Callbacks:
    """Registers one page's (or group's) Dash callbacks, and tells the gate which concern each belongs to: the
    gate refuses any callback that belongs to no concern."""

    def __init__(self, app: Dash, access: Access, concern: str) -> None:
        self.app = app
        self.access = access
        self.concern = concern

    def _claim(self, register: Callable[[], Any]) -> Any:
        before = set(self.app.callback_map)
        out = register()
        self.access.assign(self.concern, set(self.app.callback_map) - before)
        return out

    def callback(self, *args: Any, **kwargs: Any) -> Callable[[F], F]:
        """``app.callback``: the decorated function becomes a callback of this page."""

        def decorate(fn: F) -> F:
            return self._claim(lambda: self.app.callback(*args, **kwargs)(fn))

        return decorate

    def clientside_callback(self, code: str, *args: Any, **kwargs: Any) -> None:
        """``app.clientside_callback``: runs in the browser, named for the gate so the map of concerns is whole."""
        self._claim(lambda: self.app.clientside_callback(code, *args, **kwargs))
