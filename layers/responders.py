"""Responders: each unit at its latest position, icon by agency kind, greyed with its age when stale."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from layers.base import LayerContext, View, js, layer_id
from ntpd_map.domain import AgencyKind
from ntpd_map.i18n import t, vocabulary_labels

if TYPE_CHECKING:
    import pandas as pd
    from dash.development.base_component import Component

#: Short glyph per agency kind, drawn inside the marker (no icon files: works offline).
KIND_GLYPHS = {
    "police": "P", "fire": "D", "medical": "A", "disaster": "B", "sar": "S",
    "electricity": "L", "social": "So", "transport": "H", "military": "T", "other": "?",
}
KIND_COLORS = {
    "police": "#1d4ed8", "fire": "#dc2626", "medical": "#059669", "disaster": "#d97706", "sar": "#ea580c",
    "electricity": "#ca8a04", "social": "#7c3aed", "transport": "#0891b2", "military": "#4d7c0f", "other": "#6b7280",
}


def features_from_positions(
    latest: pd.DataFrame, units: pd.DataFrame, now: int, stale_after_s: int
) -> list[dict[str, Any]]:
    by_device = {r.device_id: r for r in units.itertuples(index=False)}
    features = []
    for p in latest.itertuples(index=False):
        unit = by_device.get(p.device_id)
        age = max(0, now - int(p.recorded_at))
        features.append({
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [round(float(p.lon), 5), round(float(p.lat), 5)]},
            "properties": {
                "device": p.device_id,
                "unit": unit.name if unit is not None else p.device_id,
                "agency": unit.agency if unit is not None else "",
                "kind": unit.kind if unit is not None else "other",
                "status": unit.status if unit is not None else "available",
                "age_s": age,
                "stale": age > stale_after_s,
                "bearing": None if p.bearing is None or p.bearing != p.bearing else round(float(p.bearing)),
            },
        })
    return features


class RespondersLayer:
    key = "responders"
    static = False
    default_visible = True

    def title(self, lang: str) -> str:
        return t("layers_responders", lang)

    def component(self, ctx: LayerContext) -> Component:
        import dash_leaflet as dl

        return dl.GeoJSON(
            id=layer_id(self.key),
            data={"type": "FeatureCollection", "features": []},
            pointToLayer=js("responderPoint"),
            hideout={
                "glyphs": KIND_GLYPHS,
                "colors": KIND_COLORS,
                "labels": vocabulary_labels(ctx.lang),
                "strings": {"stale": t("stale", ctx.lang), "age": t("age", ctx.lang)},
                "wall": ctx.wall,
            },
        )

    def data(self, ctx: LayerContext, view: View | None) -> dict[str, Any]:
        store = ctx.runtime.store
        now = view.now if view else 0
        stale = ctx.runtime.settings.int("NTPD_STALE_AFTER_S")
        features = features_from_positions(store.latest_positions(), store.units(), now, stale)
        return {"type": "FeatureCollection", "features": features}

    def legend(self, lang: str) -> list[tuple[str, str]]:
        return [(KIND_COLORS[str(k)], f"{KIND_GLYPHS[str(k)]} {k.label(lang)}") for k in AgencyKind
                if str(k) in ("police", "fire", "medical", "disaster", "sar")]
