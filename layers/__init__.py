"""Map layers, one module each, all behind the Layer protocol of layers/base.py."""

from __future__ import annotations

from typing import TYPE_CHECKING

from layers.boundaries import DesaLayer, KabKotaLayer, KecamatanLayer
from layers.coverage import CoverageLayer, TowersLayer
from layers.incidents import IncidentsLayer
from layers.responders import RespondersLayer

if TYPE_CHECKING:
    from layers.base import Layer


def default_layers() -> list[Layer]:
    """The built-in layers, registered the way a new one would be, bottom to top."""
    return [KabKotaLayer(), KecamatanLayer(), DesaLayer(), CoverageLayer(), TowersLayer(), IncidentsLayer(),
            RespondersLayer()]
