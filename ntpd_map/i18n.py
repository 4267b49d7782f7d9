"""Interface strings, Bahasa Indonesia first. ``t(key, lang)`` falls back to Indonesian."""

from __future__ import annotations

from typing import Any

from ntpd_map.domain import AgencyKind, CallType, Category, LocationSource, Outcome, UnitStatus

STRINGS: dict[str, dict[str, str]] = {
    "app_title": {"id": "NTPD 112 - Peta Situasi", "en": "NTPD 112 - Situation Map"},
    "simulation_banner": {
        "id": "SIMULASI - data contoh buatan komputer, bukan kejadian nyata",
        "en": "SIMULATION - computer-generated sample data, not real incidents",
    },
    "simulation_short": {"id": "SIMULASI", "en": "SIMULATION"},
    "window": {"id": "Rentang waktu", "en": "Time window"},
    "w_1h": {"id": "1 jam", "en": "1 hour"},
    "w_6h": {"id": "6 jam", "en": "6 hours"},
    "w_24h": {"id": "24 jam", "en": "24 hours"},
    "w_7d": {"id": "7 hari", "en": "7 days"},
    "w_30d": {"id": "30 hari", "en": "30 days"},
    "w_custom": {"id": "Pilih tanggal", "en": "Custom"},
    "call_type": {"id": "Jenis panggilan", "en": "Call type"},
    "category": {"id": "Kategori", "en": "Category"},
    "outcome": {"id": "Status", "en": "Outcome"},
    "agency": {"id": "Instansi", "en": "Agency"},
    "kecamatan": {"id": "Kecamatan", "en": "Kecamatan"},
    "desa": {"id": "Desa/Kelurahan", "en": "Village"},
    "all": {"id": "Semua", "en": "All"},
    "calls": {"id": "Panggilan", "en": "Calls"},
    "genuine": {"id": "Darurat", "en": "Genuine"},
    "noise_share": {"id": "Iseng+kosong+terputus", "en": "Prank+ghost+dropped"},
    "open_incidents": {"id": "Kejadian aktif", "en": "Open incidents"},
    "oldest_open": {"id": "Aktif terlama", "en": "Oldest open"},
    "incident_list": {"id": "Daftar kejadian (terbaru di atas)", "en": "Incidents (newest first)"},
    "time": {"id": "Waktu", "en": "Time"},
    "location_source": {"id": "Sumber lokasi", "en": "Location source"},
    "approximate": {"id": "perkiraan (pusat desa)", "en": "approximate (village centre)"},
    "lock_view": {"id": "Kunci tampilan peta", "en": "Lock map view"},
    "layers_kabkota": {"id": "Batas kab/kota", "en": "Kab/kota boundary"},
    "layers_kecamatan": {"id": "Batas kecamatan", "en": "Kecamatan boundaries"},
    "layers_desa": {"id": "Batas desa (zoom dekat)", "en": "Village boundaries (zoomed in)"},
    "layers_incidents": {"id": "Kejadian 112", "en": "112 incidents"},
    "layers_responders": {"id": "Petugas/unit", "en": "Responders"},
    "legend": {"id": "Keterangan", "en": "Legend"},
    "stale": {"id": "posisi lama", "en": "stale position"},
    "age": {"id": "umur posisi", "en": "position age"},
    "store_down": {
        "id": "Basis data tidak terjangkau - data terakhir {time}. Mencoba lagi otomatis.",
        "en": "Database unreachable - last data {time}. Retrying automatically.",
    },
    "updated": {"id": "Diperbarui", "en": "Updated"},
    "no_incidents": {"id": "Tidak ada kejadian pada rentang ini.", "en": "No incidents in this window."},
    "wall_map": {"id": "Peta kejadian", "en": "Incident map"},
    "wall_kecamatan": {"id": "Per kecamatan", "en": "By kecamatan"},
    "last_24h": {"id": "24 jam terakhir", "en": "last 24 hours"},
    "last_7d": {"id": "7 hari terakhir", "en": "last 7 days"},
    "minutes": {"id": "mnt", "en": "min"},
    "hours": {"id": "jam", "en": "h"},
    "days": {"id": "hari", "en": "d"},
    "none": {"id": "-", "en": "-"},
    "language": {"id": "English", "en": "Bahasa Indonesia"},
    "from": {"id": "Dari", "en": "From"},
    "to": {"id": "Sampai", "en": "To"},
    "unit_status": {"id": "Status unit", "en": "Unit status"},
    "dispatched": {"id": "Waktu dispatch", "en": "Dispatched"},
    "arrived": {"id": "Tiba di lokasi", "en": "Arrived"},
    "details": {"id": "Detail kejadian", "en": "Incident details"},
    "pick_incident": {"id": "Klik kejadian di peta atau daftar.", "en": "Click an incident on the map or list."},
    "new_since": {"id": "Baru masuk", "en": "New"},
    # analytics page (/analitik, issue 5)
    "analytics_title": {"id": "Analitik H3", "en": "H3 analytics"},
    "analytics_link": {"id": "Analitik H3", "en": "H3 analytics"},
    "ops_link": {"id": "Peta operasi", "en": "Operations map"},
    "hex_layer": {"id": "Heksagon H3 (resolusi {res})", "en": "H3 hexagons (resolution {res})"},
    "period": {"id": "Periode (tanggal setempat)", "en": "Period (local dates)"},
    "q_7": {"id": "7 hari", "en": "7 days"},
    "q_30": {"id": "30 hari", "en": "30 days"},
    "q_90": {"id": "90 hari", "en": "90 days"},
    "map_metric": {"id": "Warna heksagon", "en": "Hexagon colour"},
    "metric_total": {"id": "Jumlah panggilan", "en": "Number of calls"},
    "metric_genuine": {"id": "Panggilan darurat", "en": "Genuine emergency calls"},
    "metric_misuse_share": {"id": "Porsi iseng + kosong", "en": "Share of prank + ghost calls"},
    "metric_socialisation": {"id": "Prioritas sosialisasi 112", "en": "112 socialisation priority"},
    "metric_bts": {"id": "Prioritas usulan BTS", "en": "BTS proposal priority"},
    "h3_res": {"id": "Resolusi H3", "en": "H3 resolution"},
    "res_7": {"id": "7 (± 5 km² per heksagon)", "en": "7 (about 5 km² a hexagon)"},
    "res_8": {"id": "8 (± 0,7 km² per heksagon)", "en": "8 (about 0.7 km² a hexagon)"},
    "res_9": {"id": "9 (± 0,1 km² per heksagon)", "en": "9 (about 0.1 km² a hexagon)"},
    "table_index": {"id": "Tabel peringkat", "en": "Ranking table"},
    "level": {"id": "Tingkat (usulan BTS)", "en": "Level (BTS proposal)"},
    "level_kecamatan": {"id": "Kecamatan", "en": "Kecamatan"},
    "level_desa": {"id": "Desa/kelurahan", "en": "Village"},
    "table_title": {"id": "{index} per {level}", "en": "{index} by {level}"},
    "export_csv": {"id": "Unduh CSV", "en": "Download CSV"},
    "export_xlsx": {"id": "Unduh XLSX (Excel)", "en": "Download XLSX (Excel)"},
    "all_calls": {"id": "Semua panggilan", "en": "All calls"},
    "kec_score": {"id": "Skor kecamatan", "en": "Kecamatan score"},
    "rank_word": {"id": "peringkat", "en": "rank"},
    "of_word": {"id": "dari", "en": "of"},
    "area_word": {"id": "luas", "en": "area"},
    "weight_word": {"id": "bobot", "en": "weight"},
    "no_calls": {"id": "tanpa panggilan", "en": "no calls"},
    "legend_faint_score": {"id": "pucat: heksagon tanpa panggilan", "en": "faint: hexagon without calls"},
    "legend_score_note": {"id": "warna = skor kecamatan (kelas kuantil)",
                          "en": "colour = kecamatan score (quantile classes)"},
    "legend_count_note": {"id": "kelas kuantil heksagon berpanggilan", "en": "quantile classes of hexagons with calls"},
    "legend_share_note": {"id": "(iseng + kosong) / semua panggilan", "en": "(prank + ghost) / all calls"},
    "hint_click_row": {
        "id": "Klik baris untuk menyorot kecamatannya di peta. Klik judul kolom untuk mengurutkan.",
        "en": "Click a row to highlight its kecamatan on the map. Click a column title to sort.",
    },
    "note_formula": {"id": "Rumus", "en": "Formula"},
    "note_period": {"id": "Periode", "en": "Period"},
    "note_population": {
        "id": "Penduduk perkiraan dari penduduk kab/kota (kolom 'Penduduk perkiraan?' = ya); impor data "
              "Dukcapil: python -m ntpd_map import population FILE",
        "en": "Population estimated from the kab/kota population ('Population estimated?' = yes); import the "
              "Dukcapil figures: python -m ntpd_map import population FILE",
    },
    "note_no_towers": {
        "id": "Belum ada data menara: komponen jarak_menara bernilai 0 untuk semua wilayah (impor data menara).",
        "en": "No tower data yet: the jarak_menara (tower distance) component is 0 everywhere (import the towers).",
    },
    "note_towers": {"id": "{n} menara diketahui.", "en": "{n} towers known."},
    "note_region_rate": {
        "id": "Rata-rata wilayah: {rate} panggilan darurat per 10.000 penduduk per 30 hari.",
        "en": "Region average: {rate} genuine calls per 10,000 people per 30 days.",
    },
    "note_smoothing": {
        "id": "Porsi dihaluskan ke porsi wilayah, agar kecamatan dengan sedikit panggilan tidak tampak ekstrem.",
        "en": "Shares are pulled towards the region's share, so a kecamatan with few calls does not look extreme.",
    },
    "unplaced": {
        "id": "{n} panggilan tanpa lokasi di kecamatan mana pun tidak tampil di heksagon.",
        "en": "{n} calls located in no kecamatan are not in the hexagons.",
    },
    "bad_period": {"id": "Periode tidak sah: {error}", "en": "Invalid period: {error}"},
    "yes": {"id": "ya", "en": "yes"},
    "no": {"id": "tidak", "en": "no"},
}

#: English headers of the ranking table (Indonesian: ntpd_map.analytics.export.HEADERS, as in the exports)
COLUMNS_EN: dict[str, str] = {
    "rank": "Rank", "kode": "Kemendagri code", "nama": "Name", "score": "Score (0-100)",
    "kode_kecamatan": "Kecamatan code", "kecamatan": "Kecamatan",
    "kurang_guna": "Component: under-use of 112 for emergencies (0-1)",
    "salah_guna": "Component: prank + ghost calls (0-1)",
    "tren_memburuk": "Component: worsening trend (0-1)",
    "blank_spot": "Component: blank-spot marks (0-1)",
    "lokasi_tidak_tepat": "Component: calls without a precise location (0-1)",
    "putus_kosong": "Component: dropped + ghost calls (0-1)",
    "jarak_menara": "Component: distance to a tower (0-1)",
    "penduduk": "Population", "jumlah_penduduk": "Population", "penduduk_perkiraan": "Population estimated?",
    "darurat": "Genuine calls", "darurat_harapan": "Expected genuine calls (at the region's rate)",
    "darurat_per_10rb_30hari": "Genuine per 10,000 people per 30 days",
    "darurat_per_10rb_30hari_wilayah": "Region average (per 10,000 per 30 days)",
    "iseng_kosong": "Prank + ghost calls", "semua_panggilan": "All calls",
    "darurat_sebelumnya": "Genuine calls, previous period",
    "salah_guna_sebelumnya": "Prank + ghost share, previous period",
    "jarak_menara_km": "Distance to the nearest tower (km)", "tanpa_lokasi_tepat": "Calls without a precise location",
    "terputus_kosong": "Dropped + ghost calls", "desa_ditandai": "Villages with a signal mark",
    "status_sinyal": "Signal status",
}


def t(key: str, lang: str = "id", **params: Any) -> str:
    entry = STRINGS[key]
    text = entry.get(lang) or entry["id"]
    return text.format(**params) if params else text


def vocabulary_labels(lang: str = "id") -> dict[str, dict[str, str]]:
    """Labels of every vocabulary, for dropdowns and for the map's JS (sent once in ``hideout``)."""
    return {
        "ct": {str(m): m.label(lang) for m in CallType},
        "cat": {str(m): m.label(lang) for m in Category},
        "out": {str(m): m.label(lang) for m in Outcome},
        "kind": {str(m): m.label(lang) for m in AgencyKind},
        "src": {str(m): m.label(lang) for m in LocationSource},
        "unit": {str(m): m.label(lang) for m in UnitStatus},
    }
