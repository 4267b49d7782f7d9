"""Responders (issue 6): each unit at its latest position, icon by agency kind, heading when moving, its name,
greyed with its age when stale and faint when offline; the selected unit's track and the lines from an incident
to its nearest available units.

Python sends the features; how they look is decided by ``ntpd.responderPoint`` (assets/ntpd.js) from the
parameters in ``hideout``. Freshness (live, stale, offline) comes from ``ntpd_map.geo.responders``.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import TYPE_CHECKING, Any

import dash_leaflet as dl

from layers.base import LayerContext, View, js, layer_id
from ntpd_map.domain import AgencyKind, UnitStatus
from ntpd_map.geo.responders import LIVE, Staleness, responder_features
from ntpd_map.i18n import t, vocabulary_labels

if TYPE_CHECKING:
    import pandas as pd
    from dash.development.base_component import Component

#: Short glyph per agency kind, drawn inside the marker (no icon files: works offline).
KIND_GLYPHS = {
    "police": "P", "fire": "D", "medical": "A", "disaster": "B", "sar": "S",
    "electricity": "L", "social": "So", "transport": "H", "military": "T", "other": "?",
}
#: Units carry no hue (issue 18): the incident categories own every hue of the map, so a unit is never
#: mistaken for a call. The letter says the kind; the fill and the shape say the status (assets/ntpd.css
#: ``.unit-st-<status>``): white available (the unit a dispatcher looks for), black dispatched, a black diamond on
#: scene, grey returning, pale and dotted off duty; stale dashed with its age, offline faint and hollow.
STATUS_ORDER = ("available", "dispatched", "on_scene", "returning", "off_duty")
#: On the ops map unit names show from this zoom (a kab/kota of 90 km fits at about 10-11; further out, around a
#: provinsi, names of far-apart units pile up). The selected unit is always named.
LABEL_ZOOM = 11
#: The wall (a whole kab/kota, read across the room) names only the units at work.
WALL_NAMED_STATUSES = ("dispatched", "on_scene", "returning")
#: Below this speed a bearing means little (a parked phone's GPS wanders): no heading arrow.
MOVING_KMH = 3.0
#: The track shown for a selected unit.
TRACK_S = 30 * 60
#: What a wall's features carry: enough to draw them. No device id (a tracker's IMEI), battery, source or
#: exact report time on a screen across the room.
WALL_PROPERTIES = ("unit", "agency", "kind", "status", "age_s", "state", "stale", "offline", "bearing", "speed_kmh")
#: The ops map draws the same and picks a unit by its device; the unit panel reads the rest from the store, so
#: the layer re-sent when an age badge rolls over stays small (an idle refresh under 5 KB).
OPS_PROPERTIES = ("device", *WALL_PROPERTIES)
EMPTY: dict[str, Any] = {"type": "FeatureCollection", "features": []}
LEGEND_KINDS = ("police", "fire", "medical", "disaster", "sar")


#: What a wall leaves to the ops map: a unit off duty is no help to the room, and its pale mark beside a stale one
#: (dashed, with its age) was one more thing to tell apart at 5 m.
WALL_HIDDEN_STATUSES = ("off_duty",)


def features_for_view(features: list[dict[str, Any]], wall: bool) -> list[dict[str, Any]]:
    """The features as a page needs them: a wall's keep only WALL_PROPERTIES and the units on duty, the ops map's
    OPS_PROPERTIES."""
    keep = WALL_PROPERTIES if wall else OPS_PROPERTIES
    return [{**f, "properties": {k: f["properties"].get(k) for k in keep}} for f in features
            if not (wall and f["properties"].get("status") in WALL_HIDDEN_STATUSES)]


def drawn_signature(data: dict[str, Any]) -> str:
    """A digest of what the map draws of the responder features: position, status, freshness, the age badge of
    a stale or offline unit (to the minute) and the heading of a moving one. Ages change every second; a
    refresh sends the layer again only when this changes."""
    drawn = []
    for f in data.get("features", []):
        p = f["properties"]
        moving = p["state"] == LIVE and p.get("bearing") is not None and (p.get("speed_kmh") or 0) >= MOVING_KMH
        drawn.append((f["geometry"]["coordinates"], p.get("device"), p["unit"], p["kind"], p["status"], p["state"],
                      0 if p["state"] == LIVE else p["age_s"] // 60, p.get("bearing") if moving else None))
    return hashlib.sha256(json.dumps(drawn).encode()).hexdigest()


def track_from_positions(frame: pd.DataFrame, device: str) -> dict[str, Any]:
    """A device's fixes (``Store.track``, oldest first) as one LineString; nothing for fewer than two fixes
    (the unit's marker already shows a single one)."""
    if len(frame) < 2:
        return EMPTY
    coords = [[round(float(lon), 6), round(float(lat), 6)] for lat, lon in zip(frame["lat"], frame["lon"], strict=True)]
    return {"type": "FeatureCollection", "features": [{
        "type": "Feature",
        "geometry": {"type": "LineString", "coordinates": coords},
        "properties": {"device": device, "fixes": len(coords), "from": int(frame["recorded_at"].iloc[0]),
                       "to": int(frame["recorded_at"].iloc[-1])},
    }]}


def lines_to_units(lat: float, lon: float, nearest: list[dict[str, Any]],
                   features: list[dict[str, Any]]) -> dict[str, Any]:
    """Straight lines from an incident to each of its nearest units (``nearest_available``), nearest first."""
    where = {f["properties"]["device"]: f["geometry"]["coordinates"] for f in features}
    lines = [{"type": "Feature",
              "geometry": {"type": "LineString", "coordinates": [[lon, lat], where[n["device"]]]},
              "properties": {"device": n["device"], "rank": i + 1, "distance_km": n["distance_km"]}}
             for i, n in enumerate(nearest) if n["device"] in where]
    return {"type": "FeatureCollection", "features": lines}


class RespondersLayer:
    key = "responders"
    static = False
    default_visible = True

    def title(self, lang: str) -> str:
        return t("layers_responders", lang)

    def hideout(self, lang: str, wall: bool) -> dict[str, Any]:
        """Everything ``ntpd.responderPoint`` needs, sent once; ``zoom`` and ``selected`` change on the ops map."""
        return {
            "glyphs": KIND_GLYPHS,
            "labels": vocabulary_labels(lang),
            "strings": {"stale": t("stale", lang), "offline": t("offline", lang), "min": t("minutes", lang),
                        "hour": t("hours", lang), "day": t("days", lang)},
            "wall": wall,
            "labelZoom": LABEL_ZOOM,
            "namedStatuses": list(WALL_NAMED_STATUSES) if wall else [],
            "movingKmh": MOVING_KMH,
            "zoom": 0,
            "selected": None,
        }

    def component(self, ctx: LayerContext) -> Component:
        return dl.GeoJSON(id=layer_id(self.key), data=EMPTY, pointToLayer=js("responderPoint"),
                          hideout=self.hideout(ctx.lang, ctx.wall))

    def data(self, ctx: LayerContext, view: View | None) -> dict[str, Any]:
        store = ctx.runtime.store
        now = view.now if view else int(time.time())
        features = responder_features(store.latest_positions(), store.units(), now,
                                      Staleness.from_settings(ctx.runtime.settings))
        return {"type": "FeatureCollection", "features": features_for_view(features, ctx.wall)}

    def legend(self, lang: str) -> list[tuple[str, str]]:
        return []  # no colours of its own: drawn as marks (``legend_marks``)

    def legend_marks(self, lang: str) -> list[tuple[str, str, str]]:
        """(marker classes, letter, label) rows, drawn with the map's own marker styles (assets/ntpd.css): each
        kind as an available unit, then each status, then stale and offline."""
        kinds = [("unit-st-available", KIND_GLYPHS[str(k)], k.label(lang)) for k in AgencyKind
                 if str(k) in LEGEND_KINDS]
        statuses = [(f"unit-st-{s}", "", UnitStatus(s).label(lang)) for s in STATUS_ORDER]
        freshness = [("unit-st-available ntpd-unit-stale", "", t("legend_stale", lang)),
                     ("unit-st-available ntpd-unit-offline", "", t("legend_offline", lang))]
        return kinds + statuses + freshness
