"""The analytics page without a browser (issue 5, "On the map"): the hexagon layer's static GeoJSON, the
hideout that colours it, the ranking table and its export, on TTU's simulated scenario."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest

from layers.base import LayerContext
from layers.hexes import (
    HEX_COMPONENT_ID,
    METRICS,
    SHARE_BREAKS,
    HexLayer,
    count_classes,
    hex_layers,
    hideout_from_counts,
    score_classes,
)
from ntpd_map.analytics.columns import CALL_TYPES
from ntpd_map.analytics.export import COMPONENTS, HEADERS
from ntpd_map.pages.analytics.callbacks import (
    Period,
    export_file,
    kecamatan_of,
    map_view,
    period_from_dates,
    table_view,
)
from ntpd_map.store.model import IncidentQuery
from tests.conftest import sign_in

PIECE_PROPERTIES = {"i", "h3", "kode_kecamatan", "kecamatan", "area_km2"}


@pytest.fixture(scope="module")
def sim(runtime):
    """TTU's runtime with the labelled simulated scenario loaded (as create_app does on an empty store)."""
    runtime.ensure_scenario()
    assert runtime.is_simulated()
    return runtime


@pytest.fixture(scope="module")
def month(sim) -> Period:
    return period_from_dates(None, None, sim.settings.tz)  # the default: the last 30 local days


@pytest.fixture(scope="module")
def client(sim):
    from ntpd_map.factory import create_app

    client = create_app(runtime=sim).server.test_client()
    sign_in(client, sim.store, "admin")  # every page and layer needs signing in (issue 8)
    return client


def located_in_window(runtime, p: Period) -> pd.DataFrame:
    """The window's incidents that lie in a kecamatan of the region, read from the store (not the analytics)."""
    frame = runtime.store.incidents(IncidentQuery(start=p.start, end=p.end))
    return frame[frame["kode_kec"].isin(set(runtime.region.kecamatan["kode"]))]


def test_hex_layers_follow_the_protocol_and_are_served_by_url(sim, client) -> None:
    assert [layer.key for layer in hex_layers()] == ["hexes-7", "hexes-8", "hexes-9"]
    ctx = LayerContext(sim)
    for layer in hex_layers():
        assert layer.static and layer.title("id") and layer.title("en") and layer.legend("id") == []
        comp = layer.component(ctx)
        assert comp.id == HEX_COMPONENT_ID  # one component on the page; the resolution is in its url
        assert comp.url == f"/layers/{layer.key}.geojson" and not getattr(comp, "data", None)
        assert comp.style == {"variable": "ntpd.hexStyle"} and comp.onEachFeature == {"variable": "ntpd.hexTooltip"}
    first = client.get("/layers/hexes-8.geojson")
    assert first.status_code == 200 and first.headers["Cache-Control"].startswith("public")
    assert client.get("/layers/hexes-8.geojson", headers={"If-None-Match": first.headers["ETag"]}).status_code == 304
    assert client.get("/layers/hexes-6.geojson").status_code == 404
    assert len(json.loads(first.data)["features"]) == len(sim.analytics.pieces(8))


def test_static_geojson_has_one_feature_per_piece(sim) -> None:
    import h3

    pieces = sim.analytics.pieces(8)
    data = HexLayer(8).data(LayerContext(sim))
    features = data["features"]
    assert len(features) == len(pieces) > 1000
    names = set(sim.region.kecamatan["nama"])
    for i, feature in enumerate(features):
        props = feature["properties"]
        assert set(props) == PIECE_PROPERTIES
        assert props["i"] == i  # the index of every hideout array
        assert props["h3"] == h3.int_to_str(int(pieces.cell[i]))
        assert props["kode_kecamatan"] == pieces.kode_kec[pieces.kec[i]]
        assert props["kecamatan"] in names
        assert props["area_km2"] == round(float(pieces.area_km2[i]), 3)
        assert feature["geometry"]["type"] in ("Polygon", "MultiPolygon")
    # every kecamatan is covered by its pieces, and the pieces add up to its area
    assert {f["properties"]["kode_kecamatan"] for f in features} == set(sim.region.kecamatan["kode"])
    json.dumps(data)  # serialisable as served


def test_hideout_arrays_add_up_to_the_window(sim, month) -> None:
    analytics = sim.analytics
    pieces = analytics.pieces(8)
    counts = analytics.counts(month.start, month.end, 8)
    truth = located_in_window(sim, month)
    assert len(truth) > 100

    h = hideout_from_counts(counts, pieces, "total", "id")
    n = len(pieces)
    assert all(len(h[key]) == n for key in ("value", "total", "genuine", "misuse"))
    assert sum(h["total"]) == len(truth)  # every located call of the window is in one piece
    assert h["value"] == h["total"]
    assert sum(h["genuine"]) == int((truth["call_type"] == "genuine").sum())
    assert sum(h["misuse"]) == int(truth["call_type"].isin(["prank", "ghost"]).sum())
    # counts by type, sparse: exactly the pieces with calls, each adding up to its total
    assert {int(i) for i in h["types"]} == {i for i, v in enumerate(h["total"]) if v}
    assert all(sum(types) == h["total"][int(i)] and len(types) == len(CALL_TYPES) for i, types in h["types"].items())
    per_kec = pd.Series(h["total"]).groupby(pieces.kode_kec[pieces.kec]).sum()
    assert per_kec.reindex(sim.region.kecamatan["kode"], fill_value=0).tolist() == \
        truth["kode_kec"].value_counts().reindex(sim.region.kecamatan["kode"], fill_value=0).tolist()
    assert len(h["colors"]) == len(h["breaks"]) == len(h["classLabels"]) and h["breaks"] == sorted(h["breaks"])
    assert h["labels"]["types"][0] == "Darurat" and len(h["labels"]["types"]) == len(CALL_TYPES)

    share = hideout_from_counts(counts, pieces, "misuse_share", "en")
    for value, total, misuse in zip(share["value"], share["total"], share["misuse"], strict=True):
        assert (value is None) == (total == 0)
        if total:
            assert value == pytest.approx(misuse / total, abs=5e-4)
    assert share["breaks"] == list(SHARE_BREAKS) and share["labels"]["metric"] == "Share of prank + ghost calls"


@pytest.mark.parametrize("metric", ["socialisation", "bts"])
def test_priority_metrics_colour_each_piece_by_its_kecamatan(sim, month, metric) -> None:
    analytics = sim.analytics
    pieces = analytics.pieces(8)
    rows = analytics.priorities(metric, month.start, month.end).rows
    h = hideout_from_counts(analytics.counts(month.start, month.end, 8), pieces, metric, "id", rows)
    assert h["format"] == "score" and len(h["kec"]) == 24
    score = dict(zip(rows["kode"], rows["score"], strict=True))
    for i in range(0, len(pieces), 97):
        kode = pieces.kode_kec[pieces.kec[i]]
        assert h["value"][i] == pytest.approx(score[kode], abs=0.05)
        assert h["kec"][kode]["rank"] == int(rows.loc[rows["kode"] == kode, "rank"].iloc[0])
    assert h["breaks"][0] <= min(score.values()) and h["breaks"] == sorted(h["breaks"])
    with pytest.raises(ValueError, match="needs the kecamatan priorities"):
        hideout_from_counts(analytics.counts(month.start, month.end, 8), pieces, metric, "id")


def test_class_breaks() -> None:
    assert count_classes(np.array([0, 0, 1, 1, 2, 3]), "id").labels == ["1", "2", "≥ 3"]
    many = count_classes(np.array([0] * 50 + [1] * 40 + [2] * 10 + list(range(3, 40))), "id")
    assert len(many.breaks) == 5 and many.breaks[0] == 1 and many.breaks == sorted(many.breaks)
    assert many.labels[-1].startswith("≥ ") and len(set(many.colors)) == 5
    big = count_classes(np.arange(0, 3000), "id")
    assert big.labels[-1] == f"≥ {int(big.breaks[-1]):,}".replace(",", ".")  # Indonesian thousands
    scores = score_classes(np.linspace(20.0, 60.0, 24), "en")
    assert len(scores.breaks) == 5 and scores.breaks[0] == 20.0 and scores.labels[-1].endswith("-60.0")
    with pytest.raises(ValueError, match="metric must be one of"):
        hideout_from_counts(None, None, "nope")  # type: ignore[arg-type]


def test_map_view_for_every_metric_and_resolution(sim, month) -> None:
    for metric in METRICS:
        view = map_view(sim, month, metric, 8, "id")
        assert view["url"] == "/layers/hexes-8.geojson" and view["hideout"]["metric"] == metric
        assert view["located"] == len(located_in_window(sim, month))
        assert "WITA" in view["status"]
    assert map_view(sim, month, "total", 7, "en")["url"] == "/layers/hexes-7.geojson"


@pytest.mark.parametrize("index", ["socialisation", "bts"])
def test_ranking_table_lists_every_kecamatan_with_every_component(sim, month, index) -> None:
    view = table_view(sim, month, index, "kecamatan", "id")
    data, columns = view["data"], [c["id"] for c in view["columns"]]
    assert len(data) == 24  # TTU has 24 kecamatan: every one is ranked, none left out
    assert {row["nama"] for row in data} == set(sim.region.kecamatan["nama"])
    assert [row["rank"] for row in data] == list(range(1, 25))
    assert columns[:4] == ["rank", "kode", "nama", "score"]
    assert set(COMPONENTS[index]) <= set(columns)  # every component of the score, beside it
    assert {"penduduk_perkiraan", "semua_panggilan"} <= set(columns)
    for row in data:
        assert row["id"] == row["kode"]
        assert all(0.0 <= row[c] <= 1.0 for c in COMPONENTS[index])
        assert row["penduduk_perkiraan"] in ("ya", "tidak")
    headers = {c["id"]: c["name"] for c in view["columns"]}
    assert headers["score"] == HEADERS["score"] and "bobot" in headers[COMPONENTS[index][0]]
    text = "\n".join(view["notes"])
    assert len(view["footnote"].children) == len(view["notes"])
    assert "skor = 100 x" in text and "SIMULASI" in text
    assert "python -m ntpd_map import population FILE" in text  # no Dukcapil figures imported: estimates
    if index == "bts":
        towers = view["priorities"].towers_known
        assert ("Belum ada data menara" in text) == (towers == 0)
        assert towers == 0 or f"{towers} menara diketahui" in text
        assert {"blank_spot", "jarak_menara_km", "jumlah_penduduk"} <= set(columns)
    else:
        assert {"darurat", "darurat_harapan", "penduduk"} <= set(columns)


def test_bts_table_per_desa_and_in_english(sim, month) -> None:
    view = table_view(sim, month, "bts", "desa", "en")
    assert len(view["data"]) == len(sim.region.desa)
    assert {"kecamatan", "status_sinyal"} <= {c["id"] for c in view["columns"]}
    assert view["title"] == "BTS proposal priority by village"
    assert view["data"][0]["penduduk_perkiraan"] in ("yes", "no")
    assert kecamatan_of(sim, view["data"][0]["kode"]) == view["data"][0]["kode"][:8]
    # the socialisation index has no desa level: the table stays per kecamatan
    assert len(table_view(sim, month, "socialisation", "desa", "en")["data"]) == 24


def test_csv_and_xlsx_export_parse_back_with_indonesian_headers(sim, month) -> None:
    body, name = export_file(sim, "csv", month, "socialisation", "kecamatan")
    assert name == f"prioritas_socialisation_kecamatan_53.03_{month.date_from}_{month.date_to}_SIMULASI.csv"
    assert body.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads the names right
    table = pd.read_csv(io.BytesIO(body), encoding="utf-8-sig")
    assert len(table) == 24
    for key in ("rank", "kode", "nama", "score", *COMPONENTS["socialisation"], "penduduk_perkiraan"):
        assert HEADERS[key] in table.columns
    assert set(table["data"]) == {"SIMULASI"}
    shown = table_view(sim, month, "socialisation", "kecamatan", "id")["data"]
    assert table[HEADERS["nama"]].tolist() == [row["nama"] for row in shown]  # the same ranking as on screen

    body, name = export_file(sim, "xlsx", month, "bts", "desa")
    assert name.endswith("_SIMULASI.xlsx") and "_bts_desa_" in name
    sheets = pd.read_excel(io.BytesIO(body), sheet_name=None)
    assert set(sheets) == {"Peringkat", "Keterangan"} and len(sheets["Peringkat"]) == len(sim.region.desa)
    with pytest.raises(ValueError, match="csv or xlsx"):
        export_file(sim, "pdf", month, "bts", "desa")


def test_period_from_dates(sim) -> None:
    p = period_from_dates("2025-05-01", "2025-05-31T00:00:00", "Asia/Makassar")
    assert (p.end - p.start) == 31 * 86400 and p.start % 3600 == 16 * 3600 % 3600
    with pytest.raises(ValueError):
        period_from_dates("2025-06-01", "2025-05-01", "Asia/Makassar")


def test_pages_link_each_other(sim, client) -> None:
    from dash import dash_table

    from layers import default_layers
    from ntpd_map.pages.analytics import layout as analytics
    from ntpd_map.pages.ops import layout as ops

    assert client.get("/analitik").status_code == 200
    page = analytics.layout(LayerContext(sim, "id"), default_layers())
    found = {getattr(c, "id", None): c for c in _walk(page)}
    assert {"an-map", "an-table", "an-csv", "an-xlsx", "sim-banner", HEX_COMPONENT_ID, "layer-kecamatan"} <= set(found)
    assert isinstance(found["an-table"], dash_table.DataTable) and found["an-table"].sort_action == "native"
    assert found["an-ops-link"].href == "/?lang=id"
    ops_page = ops.layout(LayerContext(sim, "en"), default_layers())
    link = next(c for c in _walk(ops_page) if getattr(c, "id", None) == "ops-analytics-link")
    assert link.href == "/analitik?lang=en" and link.children == "H3 analytics"


def _walk(component):
    yield component
    children = getattr(component, "children", None)
    for child in children if isinstance(children, list) else [children]:
        if child is not None and hasattr(child, "to_plotly_json"):
            yield from _walk(child)
