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
