"""Places named instead of coordinates (issue 4): a desa by its Kemendagri code or by its name (with its
kecamatan when the name is not unique), resolved within the region, and the desa's representative point.

A name that fits no desa is a note, not a reject (the row keeps no location); a name that fits more than one is
a reject that says what to add. Names are folded the same way for the coverage marks (``blankspots``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ntpd_map.ingest.cells import _quote

if TYPE_CHECKING:
    from ntpd_map.geo.boundaries import Region


def _fold_name(text: str, prefixes: Sequence[str] = ()) -> str:
    t = " ".join(re.sub(r"[_\-]+", " ", text.replace("’", "'")).casefold().split())
    for p in prefixes:
        if t.startswith(p):
            return t[len(p):].strip()
    return t


_DESA_PREFIXES = ("desa ", "kelurahan ", "kel. ", "kel ", "ds. ", "ds ")
_KEC_PREFIXES = ("kecamatan ", "kec. ", "kec ")
_DESA_CODE = re.compile(r"\d{2}\.\d{2}\.\d{2}\.\d{4}")


_RESOLVERS: dict[int, _DesaResolver] = {}


def _resolver_for(region: Region | None) -> _DesaResolver:
    """One resolver per region object (name indexes and points are built once, not per API post)."""
    cached = _RESOLVERS.get(id(region))
    if cached is None or cached.region is not region:
        if len(_RESOLVERS) > 8:
            _RESOLVERS.clear()
        cached = _RESOLVERS[id(region)] = _DesaResolver(region)
    return cached


@dataclass
class _Placement:
    desa: int | None = None  # positional index into region.desa
    note: str | None = None  # why a named place was not placed
    reject: str | None = None  # why the row cannot be accepted (an ambiguous desa name)


class _DesaResolver:
    """Desa by code or by (folded) name within a region, and their representative points."""

    def __init__(self, region: Region | None) -> None:
        self.region = region
        self.codes: list[str] = []
        self._points: dict[int, tuple[float, float]] = {}
        if region is None:
            return
        desa = region.desa
        self.codes = desa["kode"].astype(str).tolist()
        self.names = desa["nama"].astype(str).tolist()
        self.kec_of = desa["kode_kec"].astype(str).tolist()
        self.by_code = {c: i for i, c in enumerate(self.codes)}
        self.by_name: dict[str, list[int]] = {}
        for i, name in enumerate(self.names):
            self.by_name.setdefault(_fold_name(name, _DESA_PREFIXES), []).append(i)
        kec = region.kecamatan
        self.kec_name = dict(zip(kec["kode"].astype(str), kec["nama"].astype(str), strict=True))
        self.kec_by_name: dict[str, set[str]] = {}
        for code, name in self.kec_name.items():
            self.kec_by_name.setdefault(_fold_name(name, _KEC_PREFIXES), set()).add(code)

    def resolve(self, code: str, desa: str, kec: str, names: Mapping[str, str]) -> _Placement:
        if self.region is None:
            return _Placement(note="no region boundaries are loaded, so the desa was not placed")
        where = self.region.name
        code_note = None
        if code:
            compact = re.sub(r"\s+", "", code)
            if re.fullmatch(r"\d{10}", compact):
                compact = f"{compact[:2]}.{compact[2:4]}.{compact[4:6]}.{compact[6:]}"
            if compact in self.by_code:
                return _Placement(desa=self.by_code[compact])
            if _DESA_CODE.fullmatch(compact):
                code_note = f"{names['kode_wilayah']} {_quote(code)} is not a desa of {where}"
            else:
                code_note = f"{names['kode_wilayah']} {_quote(code)} is not a desa code (like 53.03.06.2001)"
            if not desa:
                return _Placement(note=code_note)
        if not desa:
            return _Placement(note=f"{names['kecamatan']} {_quote(kec)} given without a desa; not placed")
        found = self.by_name.get(_fold_name(desa, _DESA_PREFIXES), [])
        label = f"{names['desa']} {_quote(desa)}"
        if kec:
            kec_codes = self.kec_by_name.get(_fold_name(kec, _KEC_PREFIXES))
            if kec_codes is None:
                return self._note(code_note, f"{names['kecamatan']} {_quote(kec)} is not a kecamatan of {where}")
            inside = [i for i in found if self.kec_of[i] in kec_codes]
            if len(inside) == 1:
                return _Placement(desa=inside[0])
            if len(inside) > 1:
                listed = ", ".join(f"{self.codes[i]}" for i in inside)
                return _Placement(reject=f"{label} in kecamatan {_quote(kec)} is more than one desa ({listed}); "
                                  f"give {names['kode_wilayah']}")
            if found:
                elsewhere = ", ".join(sorted({self.kec_name.get(self.kec_of[i], self.kec_of[i]) for i in found}))
                return self._note(code_note, f"{label} is not in kecamatan {_quote(kec)} (it is in {elsewhere})")
            return self._note(code_note, f"{label} is not a desa of kecamatan {_quote(kec)} in {where}")
        if len(found) == 1:
            return _Placement(desa=found[0])
        if len(found) > 1:
            listed = ", ".join(sorted(self.kec_name.get(self.kec_of[i], self.kec_of[i]) for i in found))
            return _Placement(reject=f"{label} is in more than one kecamatan ({listed}); "
                              f"add {names['kecamatan']} to choose")
        return self._note(code_note, f"{label} is not a desa of {where}")

    def points(self, idx: np.ndarray) -> np.ndarray:
        """(lon, lat) of each desa index: its representative point, as the simulator places named desa."""
        import shapely

        assert self.region is not None
        wanted = np.unique(idx)
        todo = [int(w) for w in wanted if int(w) not in self._points]
        if todo:
            geoms = np.asarray(self.region.desa.geometry.array, dtype=object)[todo]
            xy = shapely.get_coordinates(shapely.point_on_surface(geoms))
            self._points.update({w: (float(x), float(y)) for w, (x, y) in zip(todo, xy, strict=True)})
        table = np.array([self._points[int(w)] for w in wanted], dtype="float64").reshape(-1, 2)
        return table[np.searchsorted(wanted, idx)]

    @staticmethod
    def _note(code_note: str | None, note: str) -> _Placement:
        return _Placement(note=f"{code_note}; {note}" if code_note else note)
