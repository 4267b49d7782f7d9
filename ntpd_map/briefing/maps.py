"""The briefing's static maps and charts (issue 9), drawn on the server: PNG bytes at print resolution.

Matplotlib draws on its Agg canvas through ``matplotlib.figure.Figure`` (never pyplot: no global figure state
shared by a server's threads, no display needed); no tiles, no internet, no browser. Geometry is drawn in the
region's UTM zone, so a kilometre is as long east-west as north-south and the scale bar is true; north is up
and the axes carry no latitude or longitude. Palettes are ColorBrewer sequential ones (Blues, OrRd), readable
with colour-blind eyes and on a grey photocopy; a kecamatan without a value is grey and hatched.

Pure functions: a region (``ntpd_map.geo.boundaries.Region``) and pandas Series keyed by Kemendagri code in,
bytes out. Nothing here knows about Dash, the store or the briefing model.
"""

from __future__ import annotations

import io
import math
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np

from ntpd_map.fmt import decimal, month_short, number
from ntpd_map.i18n import t

if TYPE_CHECKING:
    import geopandas as gpd
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from ntpd_map.geo.boundaries import Region

DPI = 200
#: a map's width in inches: the A4 text width of the PDF (210 mm less two 18 mm margins is 174 mm)
WIDTH_IN = 6.8
NO_DATA = "#d4d4d4"
#: Okabe-Ito colours (distinguishable with every common colour-vision deficiency) for the charts' series
OKABE_ITO = {"blue": "#0072B2", "orange": "#E69F00", "vermillion": "#D55E00", "sky": "#56B4E9",
             "green": "#009E73", "grey": "#999999", "purple": "#CC79A7", "yellow": "#F0E442"}
#: above this many kecamatan (a whole provinsi) the names are left off: they would cover the map
LABEL_MAX = 60
LABEL_GAP_PX = 5  # at 200 dpi about 0.6 mm kept clear around a name
BTS_FILL = "#7a0177"  # RdPu's darkest: stands out against the grey desa and is not a signal-status colour
SIMPLIFY_M = 40.0  # far below a printed pixel (about 60 m at this scale), so outlines look the same
CLOSE_M = 250.0  # gaps between upstream kecamatan narrower than twice this are closed in the kab/kota outline


def _figure(width: float, height: float) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(fig)
    fig.patch.set_facecolor("white")
    return fig


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, facecolor="white", metadata={"Software": None})
    return buf.getvalue()


def _path(geom: Any) -> Any:
    """A shapely (Multi)Polygon as one matplotlib Path, holes included (even-odd: a hole is not filled)."""
    from matplotlib.path import Path

    vertices, codes = [], []
    for polygon in _polygons(geom):
        if polygon.is_empty:
            continue
        for ring in (polygon.exterior, *polygon.interiors):
            xy = np.asarray(ring.coords)[:, :2]
            if len(xy) < 3:
                continue
            kinds = np.full(len(xy), Path.LINETO, dtype=np.uint8)
            kinds[0], kinds[-1] = Path.MOVETO, Path.CLOSEPOLY
            vertices.append(xy)
            codes.append(kinds)
    if not vertices:
        return None
    return Path(np.concatenate(vertices), np.concatenate(codes))


def _polygons(geom: Any) -> Any:
    """The polygons of a geometry, collections flattened, points and lines left out."""
    if geom.geom_type == "Polygon":
        yield geom
    else:
        for part in getattr(geom, "geoms", ()):
            yield from _polygons(part)


def _draw(ax: Axes, geoms: gpd.GeoSeries, *, face: Any = "none", edge: str = "#555555", width: float = 0.4,
          hatch: str | None = None, z: float = 1) -> None:
    from matplotlib.collections import PathCollection

    faces = list(face) if isinstance(face, list | np.ndarray) else [face] * len(geoms)
    pairs = [(p, f) for p, f in zip((_path(g) for g in geoms), faces, strict=True) if p is not None]
    if not pairs:
        return
    coll = PathCollection([p for p, _ in pairs], facecolors=[f for _, f in pairs], edgecolors=edge,
                          linewidths=width, zorder=z, hatch=hatch)
    ax.add_collection(coll)


class _Frame:
    """The region projected to its UTM zone and simplified for print, and a figure sized to its shape."""

    def __init__(self, region: Region, legend_in: float, width_in: float = WIDTH_IN,
                 max_height_in: float = 7.0) -> None:
        crs = region.kecamatan.estimate_utm_crs()
        self.crs = crs
        kecamatan = region.kecamatan.to_crs(crs)
        # the kab/kota outline is the kecamatan dissolved: the upstream kab/kota polygon is drawn more coarsely
        # than its kecamatan, and on paper the difference shows as slivers along the coast
        self.kabkota = _outline(kecamatan.dissolve(by="kode_kab").geometry)
        self.kecamatan = kecamatan.assign(geometry=kecamatan.geometry.simplify(SIMPLIFY_M))
        x0, y0, x1, y1 = self.kecamatan.total_bounds
        pad = 0.03 * max(x1 - x0, y1 - y0)
        self.bounds = (x0 - pad, y0 - pad, x1 + pad, y1 + pad)
        dx, dy = self.bounds[2] - self.bounds[0], self.bounds[3] - self.bounds[1]
        map_h = min(width_in * dy / dx, max_height_in - legend_in)
        map_w = map_h * dx / dy
        self.fig = _figure(width_in, map_h + legend_in)
        # the map keeps its true aspect, centred, above the legend strip
        height = map_h / (map_h + legend_in)
        self.ax = self.fig.add_axes(((1 - map_w / width_in) / 2, legend_in / (map_h + legend_in), map_w / width_in,
                                     height))
        self.ax.set_xlim(self.bounds[0], self.bounds[2])
        self.ax.set_ylim(self.bounds[1], self.bounds[3])
        self.ax.set_aspect("equal")
        self.ax.set_axis_off()

    def outline(self) -> None:
        _draw(self.ax, self.kabkota, edge="#222222", width=1.1, z=4)

    def labels(self, color: str = "#111111", size: float = 6.0, avoid: Any = None, keep_clear: Any = ()) -> None:
        """Each kecamatan's name inside it. ``avoid`` (a shapely geometry, e.g. buffered markers) pushes a name
        to another spot of its kecamatan when its usual spot falls there; then a name that would touch one set
        before it (or a box of ``keep_clear``, in pixels) moves a little up, down or sideways within its
        kecamatan, to the first spot where it touches nothing. Smaller kecamatan are named first: they have the
        fewest spots to choose from."""
        if len(self.kecamatan) > LABEL_MAX:
            return
        import shapely
        from matplotlib import patheffects

        halo = [patheffects.withStroke(linewidth=1.6, foreground="white")]
        geoms = self.kecamatan.geometry
        points = geoms.representative_point()
        if avoid is not None and not avoid.is_empty:
            hit = points.intersects(avoid).to_numpy()
            if hit.any():
                elsewhere = geoms[hit].difference(avoid)
                points[hit] = [p if not g.is_empty else q for p, g, q in
                               zip(elsewhere.representative_point(), elsewhere, points[hit], strict=True)]
        renderer = self.fig.canvas.get_renderer()  # type: ignore[attr-defined]
        x0, y0, x1, y1 = self.bounds
        dx, dy = 0.035 * (x1 - x0), 0.022 * (y1 - y0)
        moves = [(0, 0)] + [(k * mx, k * my) for k in (1, 2) for mx, my in
                            ((0, dy), (0, -dy), (dx, 0), (-dx, 0), (dx, dy), (-dx, dy), (dx, -dy), (-dx, -dy))]
        placed = list(keep_clear)

        def overlap(box: Any) -> float:
            return sum(max(0.0, min(box.x1, o.x1) - max(box.x0, o.x0)) * max(0.0, min(box.y1, o.y1) - max(box.y0, o.y0))
                       for o in placed)

        for i in np.argsort(geoms.area.to_numpy(), kind="stable"):
            name, geom, point = self.kecamatan["nama"].iloc[i], geoms.iloc[i], points.iloc[i]
            text = self.ax.text(point.x, point.y, _wrap(str(name)), ha="center", va="center", fontsize=size,
                                color=color, path_effects=halo, zorder=6, linespacing=0.95)
            best: tuple[float, Any, Any] | None = None
            for mx, my in moves:
                if (mx or my) and not geom.contains(shapely.Point(point.x + mx, point.y + my)):
                    continue
                text.set_position((point.x + mx, point.y + my))
                box = text.get_window_extent(renderer).padded(LABEL_GAP_PX)
                covered = overlap(box)
                if best is None or covered < best[0]:
                    best = (covered, (point.x + mx, point.y + my), box)
                if covered == 0:
                    break
            assert best is not None  # the first move (none) is always tried
            text.set_position(best[1])
            placed.append(best[2])

    def scale_and_north(self, lang: str) -> None:
        x0, y0, x1, y1 = self.bounds
        _scale_bar(self.ax, x0 + 0.03 * (x1 - x0), y0 + 0.04 * (y1 - y0), x1 - x0, lang)
        _north(self.ax, x1 - 0.05 * (x1 - x0), y1 - 0.13 * (y1 - y0), (y1 - y0) * 0.08, lang)


def _outline(dissolved: gpd.GeoSeries) -> gpd.GeoSeries:
    """The outside of dissolved kecamatan: neighbouring kecamatan do not tile exactly upstream, and the slivers
    between them would print as stray lines inside the kab/kota; closing gaps narrower than 2 x CLOSE_M and
    dropping holes leaves the outline alone."""
    import geopandas as gpd
    import shapely

    closed = dissolved.buffer(CLOSE_M).buffer(-CLOSE_M)
    filled = [shapely.union_all([shapely.Polygon(p.exterior) for p in getattr(g, "geoms", [g]) if not p.is_empty])
              for g in closed]
    return gpd.GeoSeries(filled, crs=dissolved.crs).simplify(SIMPLIFY_M)


def _wrap(name: str) -> str:
    """Two lines for a long name ("Miomaffo\\nTimur"), so neighbouring labels collide less."""
    words = name.split()
    if len(name) <= 10 or len(words) < 2:
        return name
    best = min(range(1, len(words)), key=lambda i: abs(len(" ".join(words[:i])) - len(" ".join(words[i:]))))
    return " ".join(words[:best]) + "\n" + " ".join(words[best:])


def _scale_bar(ax: Axes, x: float, y: float, span_m: float, lang: str) -> None:
    """A bar of a round length near a quarter of the map's width, in two halves, labelled in km."""
    from matplotlib.patches import Rectangle

    target = span_m / 4 / 1000
    step = 10 ** math.floor(math.log10(target))
    km = max((m * step for m in (1, 2, 2.5, 5, 10) if m * step <= target), default=step)
    length, height = km * 1000, span_m * 0.008
    for i, fill in enumerate(("#222222", "white")):
        ax.add_patch(Rectangle((x + i * length / 2, y), length / 2, height, facecolor=fill, edgecolor="#222222",
                               linewidth=0.6, zorder=7))
    for dx, label in ((0, "0"), (length / 2, decimal(km / 2, lang)), (length, f"{decimal(km, lang)} km")):
        ax.text(x + dx, y + height * 1.8, label, ha="center", va="bottom", fontsize=5.5, zorder=7)


def _north(ax: Axes, x: float, y: float, size: float, lang: str) -> None:
    ax.annotate("", xy=(x, y + size), xytext=(x, y), zorder=7,
                arrowprops={"arrowstyle": "-|>,head_width=0.35,head_length=0.7", "color": "#222222", "lw": 1.2})
    ax.text(x, y + size * 1.12, t("bmap_north", lang), ha="center", va="bottom", fontsize=7, fontweight="bold",
            zorder=7)


def classes(values: np.ndarray, k: int = 5, digits: int = 1) -> list[float]:
    """Class breaks for a choropleth: quantiles of the known values (so each class holds about as many
    kecamatan), rounded to ``digits`` and made distinct. The first is the minimum, the last the maximum."""
    known = values[np.isfinite(values)]
    if not len(known):
        return []
    low, high = math.floor(known.min() * 10**digits) / 10**digits, math.ceil(known.max() * 10**digits) / 10**digits
    inner = [round(float(q), digits) for q in np.quantile(known, np.linspace(0, 1, k + 1)[1:-1])]
    breaks = sorted({low, *[b for b in inner if low < b < high], high})
    return breaks if len(breaks) > 1 else [low, low + 10**-digits]


def _colours(cmap_name: str, n: int) -> list[Any]:
    from matplotlib import colormaps

    cmap = colormaps[cmap_name]
    # the lightest class stays visibly coloured (not paper white); the darkest stays readable under a label
    return [cmap(x) for x in np.linspace(0.18, 0.88, n)] if n > 1 else [cmap(0.5)]


def choropleth_png(region: Region, values: pd.Series, *, legend_title: str, lang: str = "id",
                   cmap: str = "Blues", digits: int = 1, k: int = 5, width_in: float = WIDTH_IN,
                   max_height_in: float = 7.5) -> bytes:
    """A map of ``values`` (keyed by kecamatan kode) in ``k`` classes, the kab/kota outlined, kecamatan named,
    a legend with its unit, a scale bar and a north arrow. Kecamatan without a value are grey and hatched.
    The picture is ``width_in`` wide and at most ``max_height_in`` high: print it at that size, so its text
    is the size it was set in (6 to 7 pt)."""
    from matplotlib.patches import Patch

    frame = _Frame(region, 0.55, width_in, max_height_in)
    v = frame.kecamatan["kode"].map(values).astype("float64").to_numpy()
    breaks = classes(v, k, digits)
    colours = _colours(cmap, len(breaks) - 1) if breaks else []
    known = np.isfinite(v)
    idx = np.clip(np.searchsorted(breaks, v, side="left") - 1, 0, len(colours) - 1) if breaks else v
    faces = [colours[int(i)] if ok else NO_DATA for i, ok in zip(idx, known, strict=True)]
    _draw(frame.ax, frame.kecamatan.geometry, face=faces, edge="#ffffff", width=0.6, z=2)
    if not known.all():
        _draw(frame.ax, frame.kecamatan.geometry[~known], face="none", edge="#8a8a8a", width=0, hatch="////", z=3)
    frame.outline()
    frame.labels()
    frame.scale_and_north(lang)
    handles = [Patch(facecolor=c, edgecolor="#777777", linewidth=0.4,
                     label=f"{number(breaks[i], lang, digits)} – {number(breaks[i + 1], lang, digits)}")
               for i, c in enumerate(colours)]
    if not known.all():
        handles.append(Patch(facecolor=NO_DATA, edgecolor="#8a8a8a", hatch="////", linewidth=0.4,
                             label=t("bmap_no_data", lang)))
    frame.fig.legend(handles=handles, title=legend_title, loc="lower center", ncol=len(handles), fontsize=6.5,
                     title_fontsize=7, frameon=False, handlelength=1.6, handleheight=1.0, columnspacing=1.2,
                     bbox_to_anchor=(0.5, 0.0))
    return _png(frame.fig)


def genuine_map(region: Region, per_10k: pd.Series, lang: str = "id", *, width_in: float = WIDTH_IN,
                max_height_in: float = 7.5) -> bytes:
    """Genuine emergency calls per 10,000 people, per kecamatan (``Briefing.kecamatan()["genuine_per_10k"]``)."""
    return choropleth_png(region, per_10k, legend_title=t("brief_map_genuine", lang), lang=lang, cmap="Blues",
                          width_in=width_in, max_height_in=max_height_in)


def socialisation_map(region: Region, score: pd.Series, lang: str = "id", *, width_in: float = WIDTH_IN,
                      max_height_in: float = 7.5) -> bytes:
    """The socialisation index (0-100) per kecamatan: darker where promoting 112 is needed first."""
    return choropleth_png(region, score, legend_title=t("bmap_socialisation_legend", lang), lang=lang,
                          cmap="OrRd", digits=0, width_in=width_in, max_height_in=max_height_in)


def bts_map(region: Region, ranks: pd.Series, lang: str = "id", *, width_in: float = WIDTH_IN,
            max_height_in: float = 7.5) -> bytes:
    """The kab/kota with its kecamatan and desa outlined and the desa of ``ranks`` (desa kode -> rank, 1 first)
    filled and numbered; a desa known only as a point gets its number there."""
    from matplotlib import patheffects
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    frame = _Frame(region, 0.5, width_in, max_height_in)
    desa = region.desa[region.desa["kode_kec"].isin(frame.kecamatan["kode"])].to_crs(frame.crs)
    chosen = desa[desa["kode"].isin(ranks.index)].copy()
    chosen["rank"] = chosen["kode"].map(ranks).astype(int)
    # the other desa are drawn inside the kab/kota outline (upstream desa and kecamatan polygons differ along
    # the edges, and desa poking out read as stray shapes); a chosen desa is drawn whole
    inside = frame.kabkota.union_all()
    background = desa[desa.geom_type != "Point"].geometry.intersection(inside)
    background = background[~background.is_empty]
    _draw(frame.ax, background.simplify(SIMPLIFY_M), face="#f4f4f4", edge="#c8c8c8", width=0.25, z=1)
    _draw(frame.ax, frame.kecamatan.geometry, edge="#777777", width=0.6, z=3)
    filled = chosen[chosen.geom_type != "Point"]
    _draw(frame.ax, filled.geometry, face=BTS_FILL, edge="#3f003c", width=0.4, z=4)
    frame.outline()
    import shapely

    halo = [patheffects.withStroke(linewidth=1.8, foreground="white")]
    renderer = frame.fig.canvas.get_renderer()  # type: ignore[attr-defined]
    boxes = []
    for rank, point in sorted(zip(chosen["rank"], chosen.geometry.representative_point(), strict=True)):
        marker = frame.ax.plot(point.x, point.y, marker="o", markersize=8.5 if rank < 10 else 10.5,
                               markerfacecolor="white", markeredgecolor=BTS_FILL, markeredgewidth=1.2, zorder=8)
        frame.ax.text(point.x, point.y, str(rank), ha="center", va="center", fontsize=5.8, fontweight="bold",
                      color="#111111", zorder=9, path_effects=halo)
        boxes.append(marker[0].get_window_extent(renderer))
    reach = frame.bounds[2] - frame.bounds[0]
    markers = shapely.union_all([*chosen.geometry.representative_point().buffer(0.06 * reach),
                                 *chosen.geometry.buffer(0.02 * reach)])
    frame.labels(color="#555555", size=5.6, avoid=markers, keep_clear=boxes)
    frame.scale_and_north(lang)
    handles = [Patch(facecolor=BTS_FILL, edgecolor="#3f003c", linewidth=0.4, label=t("bmap_bts_desa", lang)),
               Line2D([], [], marker="o", linestyle="", markersize=7, markerfacecolor="white",
                      markeredgecolor=BTS_FILL, label=t("bmap_bts_rank", lang)),
               Line2D([], [], color="#777777", linewidth=0.8, label=t("bmap_kecamatan", lang)),
               Line2D([], [], color="#222222", linewidth=1.4, label=region.name)]
    frame.fig.legend(handles=handles, loc="lower center", ncol=2, fontsize=6.5, frameon=False,
                     bbox_to_anchor=(0.5, 0.0), columnspacing=2.0)
    return _png(frame.fig)


def _week_axis(ax: Axes, weeks: list[str], lang: str) -> None:
    step = max(1, math.ceil(len(weeks) / 12))
    ticks = list(range(0, len(weeks), step))
    ax.set_xticks(ticks)
    labels = []
    for i in ticks:
        d = date.fromisoformat(weeks[i])
        labels.append(f"{d.day} {month_short(d.month, lang)}")
    ax.set_xticklabels(labels, fontsize=7.5)
    ax.set_xlim(-0.6, len(weeks) - 0.4)
    ax.tick_params(axis="y", labelsize=7.5)
    ax.grid(axis="y", color="#dddddd", linewidth=0.5)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _stacked(ax: Axes, weeks: list[str], series: list[tuple[str, np.ndarray, str]], lang: str) -> None:
    x = np.arange(len(weeks))
    bottom = np.zeros(len(weeks))
    for label, values, colour in series:
        ax.bar(x, values, bottom=bottom, width=0.78, color=colour, label=label, edgecolor="white", linewidth=0.3)
        bottom = bottom + values
    _week_axis(ax, weeks, lang)
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    ax.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=6))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: number(v, lang)))
    ax.legend(fontsize=7.5, frameon=False, ncol=len(series), loc="lower left", bbox_to_anchor=(0, 1.0),
              handlelength=1.2, columnspacing=1.2)


def weekly_png(weekly: pd.DataFrame, lang: str = "id", width_in: float = WIDTH_IN) -> bytes:
    """Two charts of the period's weeks (``Briefing.weekly()``): every call by type (stacked bars), and the
    genuine calls by outcome: resolved, not followed up and still open. A partial first or last week is
    marked with its dates in the table, not here: its bar is its own count."""
    weeks = [str(w) for w in weekly["from"]]  # a week cut by the period starts on the period's first day
    col = {c: weekly[c].to_numpy(dtype="float64") for c in ("calls", "genuine", "prank", "ghost_dropped",
                                                             "resolved", "not_followed_up")}
    other = col["calls"] - col["genuine"] - col["prank"] - col["ghost_dropped"]
    still_open = col["genuine"] - col["resolved"] - col["not_followed_up"]
    fig = _figure(width_in, 6.6)
    top = fig.add_axes((0.08, 0.565, 0.9, 0.35))
    _stacked(top, weeks, [
        (t("brief_h_genuine", lang), col["genuine"], OKABE_ITO["blue"]),
        (t("brief_h_prank", lang), col["prank"], OKABE_ITO["orange"]),
        (t("brief_h_ghost_dropped", lang), col["ghost_dropped"], OKABE_ITO["sky"]),
        (t("bchart_other", lang), other, OKABE_ITO["grey"]),
    ], lang)
    top.set_title(t("bchart_calls", lang), fontsize=9, loc="left", pad=22, fontweight="bold")
    bottom = fig.add_axes((0.08, 0.075, 0.9, 0.35))
    _stacked(bottom, weeks, [
        (t("brief_h_resolved", lang), col["resolved"], OKABE_ITO["green"]),
        (t("brief_h_not_followed_up", lang), col["not_followed_up"], OKABE_ITO["vermillion"]),
        (t("brief_h_open", lang), still_open, OKABE_ITO["yellow"]),
    ], lang)
    bottom.set_title(t("bchart_genuine", lang), fontsize=9, loc="left", pad=22, fontweight="bold")
    bottom.set_xlabel(t("brief_week", lang), fontsize=7.5)
    return _png(fig)
