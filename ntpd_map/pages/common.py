"""Pieces the pages share: the map with its layers, the legend, the simulation banner, who is signed in."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any

import dash_leaflet as dl
from dash import Input, Output, dcc, html
from flask_wtf.csrf import generate_csrf

from layers.base import js, layer_id
from layers.coverage import UNDERLAY_PANE
from layers.incidents import ACTIVE_LAYER, HOLLOW
from ntpd_map import ids
from ntpd_map.access.identity import current_identity
from ntpd_map.access.roles import home
from ntpd_map.i18n import t
from ntpd_map.pages.login.layout import LOGOUT_PATH, texts

if TYPE_CHECKING:
    from dash.development.base_component import Component

    from layers.base import Layer, LayerContext


def leaflet_bounds(frame: Any) -> list[list[float]]:
    """[[south, west], [north, east]] of a GeoDataFrame, as Leaflet takes them."""
    minx, miny, maxx, maxy = (float(v) for v in frame.total_bounds)
    return [[miny, minx], [maxy, maxx]]


def region_bounds(ctx: LayerContext) -> list[list[float]]:
    return leaflet_bounds(ctx.runtime.region.kabkota)


def area_bounds(areas: Any, kode: str) -> list[list[float]] | None:
    """The bounds of the kecamatan or desa ``kode`` in ``areas`` (region.kecamatan or region.desa); None when
    it is not there."""
    shape = areas[areas["kode"] == kode]
    return None if shape.empty else leaflet_bounds(shape)


def layers_control_id(map_id: str) -> str:
    return f"{map_id}-layers"


#: the credit of the boundaries (README "Data sources and licenses")
BOUNDARY_CREDIT = ('Batas wilayah: <a href="https://github.com/cahyadsn/wilayah_boundaries">'
                   "cahyadsn/wilayah_boundaries</a> (MIT)")
#: the pane of the plain basemap's land: under the tiles (200), the signal coverage (350) and every overlay
LAND_PANE = "ntpdland"
#: the basemap's credit shows only once one of its tiles is drawn (assets/ntpd.js ``tileCredit``)
TILE_CREDIT = {event: js("tileCredit") for event in ("tileloadstart", "tileerror", "tileload")}
#: a wall's labels are placed again whenever its view or its layers change (assets/ntpd.js ``declutter``)
DECLUTTER = {event: js("declutter") for event in ("moveend", "zoomend", "layeradd", "resize")}
#: the other maps fan out units at one spot whenever their view or layers change (assets/ntpd.js ``spread``)
SPREAD = {event: js("spread") for event in ("moveend", "zoomend", "layeradd", "resize")}


def basemap_layer(ctx: LayerContext, opacity: float) -> list[Component]:
    """The basemap and its credit, for a map made with ``attributionControl=False``. The tiles are served by the
    app at its own /tiles (issue 18: a local MBTiles file, or the upstream through a disk cache), credited as
    their source says once one of them is drawn (offline with an empty cache, none is). Under them, always, a
    plain basemap from what the app has: the region's land filled against the sea colour of `.map`, under the
    boundary layers (their lines and names), so a map whose tiles cannot be had (no basemap configured, or
    offline and never seen) is still a map. The boundaries are drawn on every map, so they are always
    credited."""
    source = ctx.runtime.basemap
    credit = dl.AttributionControl(prefix=f'<a href="https://leafletjs.com">Leaflet</a> | {BOUNDARY_CREDIT}',
                                   position="bottomright")
    # the region's land, under the tiles (200): where no tile could be had (offline, never seen) it still shows
    land = dl.Pane(dl.GeoJSON(url="/layers/kabkota.geojson", style=js("landStyle"), hideout={"wall": ctx.wall},
                              interactive=False), name=LAND_PANE, style={"zIndex": 150})
    if source is None:
        return [land, credit]
    # the credit's control first: it is on the map before the tiles' first events, which take their credit back
    return [land, credit, dl.TileLayer(url="/tiles/{z}/{x}/{y}", maxZoom=18, maxNativeZoom=source.max_zoom,
                                       opacity=opacity, attribution=source.attribution,
                                       eventHandlers=TILE_CREDIT)]


def leaflet_map(map_id: str, ctx: LayerContext, layers: list[Layer], extra: list[Component] | None = None,
                **props: Any) -> Component:
    """A Leaflet map with every layer loaded once; the layers control flips visibility (no re-send).

    Layers that say ``underlay = True`` (signal coverage, towers) go in a pane below the others: whenever one is
    switched on, the incidents and units stay drawn above it and keep their clicks. The control's ``overlays``
    starts as the names switched on (dash-leaflet only keeps it up to date from there), so a page can follow
    which layers are shown (the legend does).

    The basemap comes from the app's own ``/tiles`` (``basemap_layer``).
    """
    children: list[Component] = basemap_layer(ctx, 0.55 if ctx.wall else 0.9)
    # nobody touches a wall: the layers it shows are drawn as they are, with no control over them
    items: list[Component] = []
    under: list[Component] = []
    for layer in layers:
        if ctx.wall and not layer.default_visible:
            continue
        item = layer.component(ctx)
        if not ctx.wall:
            item = dl.Overlay(item, name=layer.title(ctx.lang), checked=layer.default_visible)
        (under if getattr(layer, "underlay", False) else items).append(item)
    if under:
        items.append(dl.Pane(under, name=UNDERLAY_PANE, style={"zIndex": 350}))
    if ctx.wall:
        children += items
    else:
        checked = [layer.title(ctx.lang) for layer in layers if layer.default_visible]
        children.append(dl.LayersControl(items, id=layers_control_id(map_id), overlays=checked,
                                         position="topright", collapsed=False, sortLayers=True))
    children.append(dl.ScaleControl(position="bottomleft", imperial=False))
    children.extend(extra or [])
    (south, west), (north, east) = region_bounds(ctx)
    # dash-leaflet compares against center and zoom after load, so both are set; the region is fitted
    # through `viewport`, which callbacks also use to move the view later.
    view: dict[str, Any] = {
        "center": [(south + north) / 2, (west + east) / 2],
        "zoom": 9,
        "viewport": {"bounds": [[south, west], [north, east]], "options": {"padding": [8, 8]}},
        "trackViewport": not ctx.wall,  # the wall never pans
    }
    return dl.Map(children, id=map_id, className="map", preferCanvas=True, zoomSnap=0.25,
                  attributionControl=False,
                  zoomControl=not ctx.wall, eventHandlers=DECLUTTER if ctx.wall else SPREAD, **view, **props)


def legend_block_id(key: str) -> str:
    return f"legend-{key}"


def unit_key(classes: str, glyph: str) -> Component:
    """A unit's marker as the map draws it (assets/ntpd.css: the same classes), for a legend."""
    return html.Span(html.B(glyph), className=f"unit-key {classes}")


def legend_rows(layer: Layer, lang: str) -> list[Component]:
    """A layer's legend rows: a swatch per (colour, label) of ``legend``; a layer drawn as marks (units) gives
    ``legend_marks`` instead, each drawn as the map draws it."""
    marks = getattr(layer, "legend_marks", None)
    if marks is not None:
        return [html.Div([unit_key(classes, glyph), label], className="legend-mark")
                for classes, glyph, label in marks(lang)]
    return [html.Div([swatch(color), label]) for color, label in layer.legend(lang)]


def swatch(color: str, classes: str = "swatch") -> Component:
    """A legend's colour: a dot, or a hollow ring for what the map draws hollow (noise calls)."""
    if color in HOLLOW:
        return html.Span(className=f"{classes} hollow", style={"borderColor": color})
    return html.Span(className=classes, style={"background": color})


def legend(ctx: LayerContext, layers: list[Layer], extra: Mapping[str, Component] | None = None,
           shown: Collection[str] | None = None, hatched: Collection[str] = ()) -> Component:
    """One block per layer that explains itself (incidents, responders), side by side: a short, wide legend
    leaves more of the map free than one long column. A layer switched off by default starts with its block
    hidden (``legend_block_id``: the page shows it when the layer is switched on). ``extra``: more content for a
    layer's block, by key. ``shown``: the keys of the layers the page shows at first (default: each layer's
    ``default_visible``). ``hatched``: the keys of the layers the map draws hatched beneath its incidents."""
    blocks: list[Component] = []
    for layer in layers:
        hatches = getattr(layer, "legend_hatches", None) if layer.key in hatched else None
        rows = ([html.Div([html.Span(className=f"swatch square {cls}"), label]) for cls, label in hatches(ctx.lang)]
                if hatches else legend_rows(layer, ctx.lang))
        if rows:
            more = (extra or {}).get(layer.key)
            blocks.append(html.Div([html.Div(layer.title(ctx.lang), className="legend-head"), *rows,
                                    *([more] if more is not None else [])],
                                   id=legend_block_id(layer.key), className="legend-block",
                                   hidden=not (layer.key in shown if shown is not None else layer.default_visible)))
    # a <details>: a click on "Keterangan" folds it away and gives the map back (issue 18), with no callback
    return html.Details([html.Summary(t("legend", ctx.lang), className="legend-summary"),
                         html.Div(blocks, className="legend-blocks")], open=True, className="legend")


def simulation_banner(ctx: LayerContext) -> Component | None:
    if not ctx.runtime.is_simulated():
        return None
    return html.Div(t("simulation_banner", ctx.lang), className="sim-banner", id="sim-banner")


def coverage_stores(ctx: LayerContext, every_s: int = 60, shown: bool = True) -> list[Component]:
    """What the coverage layers' refresh needs on a page that shows them (ntpd_map/callbacks/coverage.py): a
    slow timer (marks and towers change by hand, not every second), the last drawn state, a revision a mark or
    undo bumps, the page's language and kind, and whether a coverage layer is shown (``shown=False``: not
    until the page switches one on, so a page that never does never loads them)."""
    return [dcc.Interval(id=ids.COV_TICK, interval=every_s * 1000),
            dcc.Store(id=ids.COV_SYNC, data={}),
            dcc.Store(id=ids.COV_REV, data=0),
            dcc.Store(id=ids.COV_ON, data=shown),
            dcc.Store(id=ids.COV_CONFIG, data={"lang": ctx.lang, "wall": ctx.wall})]


def signout_form(lang: str) -> Any:
    """Keluar: a POST with this session's CSRF token (a link could be followed by another site)."""
    return html.Form([dcc.Input(type="hidden", name="csrf_token", value=generate_csrf()),
                      html.Button(texts(lang)["logout"], type="submit", id="signout", className="signout")],
                     action=LOGOUT_PATH, method="POST", className="signout-form")


def account_bar(lang: str) -> Any:
    """Who is signed in, and Keluar: in a corner of every page but the wall."""
    who = current_identity()
    if who is None or who.kind != "user":
        return html.Div()
    return html.Div([html.Span(f"{who.name} ({who.role})", className="who"), signout_form(lang)],
                    className="account-bar", id="account-bar")


def with_account(page: Any, lang: str) -> Any:
    return html.Div([account_bar(lang), page])


def forbidden(role: str | None, lang: str) -> Any:
    """What the router shows for a page the role may not open."""
    text = texts(lang)
    return html.Div([html.P(text["forbidden"].format(role=role or "-"), className="forbidden"),
                     dcc.Link(text["home"], href=f"{home(role)}?lang={lang}", refresh=True)],
                    className="login-box")


#: the pattern id of a clickable row of the "Kejadian aktif" panel (the ops page selects it on the map)
ACTIVE_ROW = "active-row"


def active_panel(rows: list[dict[str, Any]], lang: str, *, clickable: bool) -> list[Any]:
    """The "Kejadian aktif" panel (issue 18): the open emergencies oldest first, each with its category, desa and
    kecamatan, minutes since the call (amber, red past NTPD_ACTIVE_AMBER_MIN / _RED_MIN) and agency."""
    heading = html.H3(f"{t('open_incidents', lang)} ({len(rows)})")
    if not rows:
        return [heading, html.Div(t("no_open_incidents", lang), className="active-none")]
    items = []
    for row in rows:
        where = row["where"] or t("no_location", lang)
        body = [html.Span(row["category"], className="what"),
                html.Span(f"{row['minutes']} {t('minutes', lang)}", className=f"mins {row['level']}".strip()),
                html.Span(where, className="where")]
        if row["agency"]:
            body.append(html.Span(row["agency"], className="who"))
        attrs: dict[str, Any] = {"id": {"type": ACTIVE_ROW, "id": row["id"]}, "n_clicks": 0} if clickable else {}
        items.append(html.Div(body, className=f"active-row {row['level']}".strip(), **attrs))
    if not clickable:  # the wall: whole rows only, a page at a time (the pager in assets/ntpd.js), and how many more
        more: dict[str, Any] = {"data-more": t("active_more", lang)}
        items.append(html.Div(className="active-more", **more))
    return [heading, *items]


def alert_parts(lang: str, *, ackable: bool) -> list[Any]:
    """The new-emergency alert (issue 18): a flashing banner naming it (with "Akui" on the operations page), the
    sound from assets/ (repeating until acknowledged) and a notice when the browser keeps the sound off."""
    banner = [html.B(t("alert_new", lang)), html.Span(id=ids.ALERT_TEXT)]
    if ackable:
        banner.append(html.Button(t("alert_ack", lang), id=ids.ALERT_ACK, n_clicks=0, className="alert-ack"))
    data: dict[str, Any] = {"data-minutes": t("minutes", lang)}  # the unit the browser writes the age in
    return [html.Div(banner, id=ids.ALERT, className="alert-banner", **data),
            html.Audio(id=ids.ALERT_AUDIO, src="/assets/alert.wav", preload="auto"),
            html.Div(t("sound_off", lang), id=ids.SOUND_OFF, className="sound-off hidden")]


def register_alert(cb: Any, _deps: Any) -> None:
    """The alert follows the active layer in the browser (assets/ntpd.js ``ntpdAlert``): it flashes and sounds
    while a feature says ``alert``. One callback for every live page (they share the ids)."""
    cb.clientside_callback(
        """function(data) { return window.ntpdAlert ? window.ntpdAlert(data) : ["alert-banner", ""]; }""",
        Output(ids.ALERT, "className"), Output(ids.ALERT_TEXT, "children"),
        Input(layer_id(ACTIVE_LAYER), "data"))
