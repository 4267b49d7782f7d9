"""Responders, without Dash: how fresh a unit's position is, its GeoJSON feature, the nearest available units.

Staleness depends on the source: a phone running Traccar Client reports every few seconds while it has
signal, a vehicle tracker behind a Traccar server reports less often. A unit silent for longer than
``offline_s`` is offline, whatever its source: drawn faint and never proposed for dispatch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

    from ntpd_map.config import Settings

#: Rough ETA: the straight line times a detour factor for rural roads, at an average speed with lights on.
#: Deliberately simple and said so on screen; there is no road graph offline.
ROAD_FACTOR = 1.5
AVERAGE_SPEED_KMH = 40.0
EARTH_RADIUS_KM = 6371.0088
LIVE, STALE, OFFLINE = "live", "stale", "offline"
SOURCES = ("osmand", "traccar", "sim")


@dataclass(frozen=True)
class Staleness:
    phone_s: int = 120
    traccar_s: int = 600
    offline_s: int = 1800

    @classmethod
    def from_settings(cls, settings: Settings) -> Staleness:
        return cls(settings.int("NTPD_STALE_PHONE_S"), settings.int("NTPD_STALE_TRACCAR_S"),
                   settings.int("NTPD_OFFLINE_AFTER_S"))

    def stale_after(self, source: str) -> int:
        return self.traccar_s if source == "traccar" else self.phone_s

    def state(self, age_s: int, source: str) -> str:
        if age_s > self.offline_s:
            return OFFLINE
        return STALE if age_s > self.stale_after(source) else LIVE


def _number(value: Any, digits: int = 0) -> float | int | None:
    if value is None or value != value:  # None or NaN
        return None
    return round(float(value), digits) if digits else round(float(value))


def responder_features(
    latest: pd.DataFrame, units: pd.DataFrame, now: int, staleness: Staleness
) -> list[dict[str, Any]]:
    """One GeoJSON Point per registered unit that has a position (``latest``: one row per device, as
    ``Store.latest_positions``), by unit name. Devices no longer registered are left out."""
    by_device = {u.device_id: u for u in units.itertuples(index=False)}
    features: list[dict[str, Any]] = []
    for p in latest.itertuples(index=False):
        unit = by_device.get(p.device_id)
        if unit is None:
            continue
        age = max(0, now - int(p.recorded_at))
        state = staleness.state(age, p.source)
        features.append({
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [round(float(p.lon), 6), round(float(p.lat), 6)]},
            "properties": {
                "device": p.device_id,
                "unit": unit.name,
                "agency": unit.agency,
                "kind": unit.kind,
                "status": unit.status,
                "source": p.source,
                "recorded_at": int(p.recorded_at),
                "age_s": age,
                "state": state,
                "stale": state != LIVE,
                "offline": state == OFFLINE,
                "bearing": _number(p.bearing),
                "speed_kmh": _number(p.speed_kmh),
                "battery": _number(p.battery),
                "simulated": bool(unit.simulated),
            },
        })
    features.sort(key=lambda f: (f["properties"]["unit"], f["properties"]["device"]))
    return features


def distances_km(lat: float, lon: float, lats: np.ndarray, lons: np.ndarray) -> np.ndarray:
    """Great-circle (haversine) distances from one point to many, in km."""
    p1, p2 = math.radians(lat), np.radians(lats)
    dphi, dlmb = p2 - p1, np.radians(lons) - math.radians(lon)
    a = np.sin(dphi / 2) ** 2 + math.cos(p1) * np.cos(p2) * np.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def eta_minutes(distance_km: float) -> int:
    """A rough ETA: straight line x ROAD_FACTOR at AVERAGE_SPEED_KMH, rounded up to a minute."""
    return max(1, math.ceil(distance_km * ROAD_FACTOR / AVERAGE_SPEED_KMH * 60))


def nearest_available(features: list[dict[str, Any]], lat: float, lon: float, n: int = 5,
                      kinds: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """The ``n`` units to propose: available, with a fresh position (stale and offline ones never), those of the
    ``kinds`` the incident needs first (``dispatch_table``), then the others; nearest first within each, with the
    straight-line distance and a rough ETA."""
    candidates = [f for f in features
                  if f["properties"]["status"] == "available" and not f["properties"]["stale"]
                  and not f["properties"]["offline"]]
    if not candidates:
        return []
    coords = np.array([f["geometry"]["coordinates"] for f in candidates], dtype=float)
    dist = distances_km(lat, lon, coords[:, 1], coords[:, 0])
    other = np.array([f["properties"]["kind"] not in kinds for f in candidates]) if kinds else np.zeros(len(dist))
    out = []
    for i in np.lexsort((dist, other))[:n]:  # the kinds needed first, then the others; nearest first in each
        props = candidates[int(i)]["properties"]
        d = float(dist[int(i)])
        out.append({"device": props["device"], "unit": props["unit"], "agency": props["agency"],
                    "kind": props["kind"], "stale": props["stale"], "age_s": props["age_s"],
                    "distance_km": round(d, 1), "eta_min": eta_minutes(d),
                    "needed": bool(kinds) and props["kind"] in kinds})
    return out
