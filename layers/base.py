"""The Layer protocol: every map layer, built-in or added later, says the same few things.

A layer has a key and a title, builds its dash-leaflet component once (styled by JS functions in
assets/ntpd.js, with parameters in ``hideout``), and produces its data for a view. Static layers (boundaries)
are served by URL and cached by the browser; dynamic ones (incidents, responders) are refreshed by callbacks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from dash.development.base_component import Component

    from ntpd_map.runtime import Runtime
    from ntpd_map.store.model import IncidentQuery


@dataclass(frozen=True)
class LayerContext:
    runtime: Runtime
    lang: str = "id"
    wall: bool = False  # wall displays: read-only, no personal details, larger marks


@dataclass(frozen=True)
class View:
    """What a dynamic layer is asked for: the incident filter and the current time (Unix seconds)."""

    query: IncidentQuery
    now: int
    extra: dict[str, Any] = field(default_factory=dict)


class Layer(Protocol):
    key: str
    static: bool
    default_visible: bool

    def title(self, lang: str) -> str: ...

    def component(self, ctx: LayerContext) -> Component:
        """The dash-leaflet component, with id ``layer_id(self.key)``."""

    def data(self, ctx: LayerContext, view: View | None) -> dict[str, Any]:
        """GeoJSON: served at /layers/<key>.geojson for static layers, sent by callbacks for dynamic ones."""

    def legend(self, lang: str) -> list[tuple[str, str]]:
        """(colour, label) pairs for the legend; empty when the layer explains itself."""


def layer_id(key: str) -> str:
    return f"layer-{key}"


def js(name: str) -> dict[str, str]:
    """A reference to a function of assets/ntpd.js, as dash-leaflet expects it."""
    return {"variable": f"ntpd.{name}"}
