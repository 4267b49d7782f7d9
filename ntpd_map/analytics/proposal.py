"""The BTS proposal for Komdigi (issue 7): one row per blank-spot desa, every number traceable to its evidence.

A desa is proposed when its current signal status (``coverage.desa_signal``: its desa-wide mark, else its most
severe cell mark) is tidak ada sinyal, lemah or 2G saja. Rows are sorted by the desa-level BTS index
(``priority.bts``) and carry its rank, score and components, so the order is the index's. Columns:

- where: Kemendagri code, desa, kecamatan, kab/kota, the desa's representative point (a point inside the
  polygon, as the index measures from; ``shapely.point_on_surface``) as latitude/longitude;
- evidence: the status, what it rests on (a desa-wide mark or cell marks), who marked it and when, the survey
  date, operators seen (the mark's and the survey's), the mark's evidence note, and the field-survey samples in
  the desa (count, with no signal, very weak, median dBm);
- distance to the nearest known tower (km, from that point: ``priority.tower_distance_km``) and the desa's share
  outside every tower's range (``geo.coverage.uncovered_area``);
- population (a Dukcapil figure where imported, else an estimate, flagged), 112 calls located in the desa in
  the period (all, dropped + ghost, without a measured position);
- empty columns the planner fills: land availability, electricity (PLN/solar), access road.

Pure pandas: the inputs come from ``Analytics.bts_proposal``.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import numpy as np

from ntpd_map.analytics.export import csv_bytes, formula, xlsx_as_text
from ntpd_map.analytics.periods import window_text
from ntpd_map.analytics.priority import BTS_WEIGHTS, FAR_KM, PRIOR_CALLS, SIGNAL_WEIGHT
from ntpd_map.domain import SignalStatus
from ntpd_map.geo.signal import NO_SIGNAL_DBM, PROPOSED_STATUSES, WEAK_DBM

if TYPE_CHECKING:
    import pandas as pd
    from flask_caching import Cache

    from ntpd_map.geo.boundaries import Region
    from ntpd_map.runtime import Runtime

#: Column -> header in the exports (Bahasa Indonesia, as the Dinas sends it to Komdigi), in export order.
HEADERS = {
    "no": "No.",
    "peringkat_bts": "Peringkat indeks BTS (semua desa)",
    "kode": "Kode Kemendagri",
    "desa": "Desa/Kelurahan",
    "kecamatan": "Kecamatan",
    "kabkota": "Kabupaten/Kota",
    "lintang": "Lintang (titik tengah desa)",
    "bujur": "Bujur (titik tengah desa)",
    "status_sinyal": "Status sinyal",
    "dasar_tanda": "Dasar tanda",
    "ditandai_oleh": "Ditandai oleh",
    "tanggal_tanda": "Tanggal tanda",
    "tanggal_survei": "Tanggal survei",
    "operator_terlihat": "Operator terlihat",
    "bukti": "Bukti/keterangan",
    "sampel_survei": "Titik ukur survei",
    "sampel_tanpa_sinyal": f"Titik ukur tanpa sinyal (<= {NO_SIGNAL_DBM:g} dBm atau 0 bar)",
    "sampel_sangat_lemah": f"Titik ukur sangat lemah (<= {WEAK_DBM:g} dBm atau 1 bar)",
    "median_dbm": "Median sinyal survei (dBm)",
    "jarak_menara_km": "Jarak ke menara terdekat (km)",
    "porsi_tak_terjangkau": "Porsi wilayah desa di luar jangkauan menara (perkiraan, 0-1)",
    "jumlah_penduduk": "Jumlah penduduk",
    "penduduk_perkiraan": "Penduduk perkiraan?",
    "panggilan_112": "Panggilan 112 dari desa (periode)",
    "panggilan_terputus_kosong": "Panggilan terputus + kosong",
    "panggilan_tanpa_lokasi_tepat": "Panggilan tanpa lokasi tepat",
    "score": "Skor indeks BTS (0-100)",
    "blank_spot": "Komponen: tanda blank spot (0-1)",
    "lokasi_tidak_tepat": "Komponen: panggilan tanpa lokasi tepat (0-1)",
    "putus_kosong": "Komponen: panggilan terputus + kosong (0-1)",
    "jarak_menara": "Komponen: jarak ke menara (0-1)",
    "penduduk": "Komponen: penduduk (0-1)",
    "ketersediaan_lahan": "Ketersediaan lahan (diisi perencana)",
    "listrik": "Listrik PLN/surya (diisi perencana)",
    "akses_jalan": "Akses jalan (diisi perencana)",
}
COLUMNS = tuple(HEADERS)
PLANNER_COLUMNS = ("ketersediaan_lahan", "listrik", "akses_jalan")


@dataclass(frozen=True)
class Proposal:
    rows: pd.DataFrame  # COLUMNS, one row per proposed desa, sorted by the BTS index
    region_code: str
    region_name: str
    start: int
    end: int
    desa_in_index: int
    marked_desa: int  # desa with a current status (any)
    towers_by_source: dict[str, int] = field(default_factory=dict)
    simulated_towers: int = 0
    simulated_marks: int = 0  # proposed desa whose mark is simulated
    samples: int = 0
    simulated_samples: int = 0
    simulated_calls: bool = False  # the store holds the simulated scenario
    default_range_m: float = 0.0
    population_estimated: bool = False

    @property
    def towers_known(self) -> int:
        return sum(self.towers_by_source.values())

    @property
    def simulated(self) -> bool:
        """Whether any evidence behind the table is simulated: then it is labelled SIMULASI everywhere."""
        return bool(self.simulated_calls or self.simulated_marks or self.simulated_towers or self.simulated_samples)


def proposal_rows(prio_rows: pd.DataFrame, region: Region, marks: pd.DataFrame, survey: pd.DataFrame,
                  uncovered: pd.DataFrame | None, tz: str) -> pd.DataFrame:
    """The proposal table (COLUMNS) from the desa-level BTS index rows, the desa's current marks
    (``desa_signal``), the survey summary per desa (``survey_summary``) and the desa's uncovered shares."""
    import pandas as pd
    import shapely

    proposed = {str(s) for s in PROPOSED_STATUSES}
    marks = marks.set_index("kode_desa") if len(marks) else marks.assign(kode_desa=[]).set_index("kode_desa")
    wanted = [k for k in prio_rows["kode"] if k in marks.index and marks.at[k, "status"] in proposed]
    prio = prio_rows.set_index("kode").loc[wanted].sort_values("rank", kind="stable")
    desa = region.desa.set_index("kode").loc[prio.index]
    pts = shapely.point_on_surface(desa.geometry.to_numpy())
    kec_names = dict(zip(region.kecamatan["kode"], region.kecamatan["nama"], strict=True))
    kab_names = dict(zip(region.kabkota["kode"], region.kabkota["nama"], strict=True))
    m = marks.loc[prio.index] if len(prio) else marks.iloc[0:0]
    s = survey.reindex(prio.index)
    share = (uncovered.set_index("kode")["porsi_tak_terjangkau"].reindex(prio.index)
             if uncovered is not None else pd.Series(np.nan, index=prio.index))

    def operators(k: str) -> str:
        seen: list[str] = []
        for text in (m.at[k, "operators"], s.at[k, "operator_survei"] if k in s.index else None):
            if isinstance(text, str):
                seen += [o.strip() for o in text.split(",") if o.strip()]
        return ", ".join(dict.fromkeys(seen))

    def basis(k: str) -> str:
        cells = int(m.at[k, "sel_ditandai"])
        if m.at[k, "dasar"] == "h3":
            return f"tanda sel H3 ({cells} sel; status terparah)"
        return "tanda desa" + (f" (+{cells} sel H3 bertanda)" if cells else "")

    def text(value: Any) -> str:
        return value if isinstance(value, str) else ""

    created = pd.to_datetime(m["created_at"].astype("int64"), unit="s", utc=True).dt.tz_convert(tz)
    out = pd.DataFrame({
        "no": np.arange(1, len(prio) + 1),
        "peringkat_bts": prio["rank"].to_numpy(),
        "kode": prio.index.to_numpy(),
        "desa": prio["nama"].to_numpy(),
        "kecamatan": [kec_names.get(k, k) for k in desa["kode_kec"]],
        "kabkota": [kab_names.get(k, k) for k in desa["kode_kab"]],
        "lintang": np.round(shapely.get_y(pts), 6),
        "bujur": np.round(shapely.get_x(pts), 6),
        "status_sinyal": [SignalStatus(v).label_id for v in m["status"]],
        "dasar_tanda": [basis(k) for k in prio.index],
        "ditandai_oleh": m["author"].to_numpy(),
        "tanggal_tanda": created.dt.strftime("%Y-%m-%d").to_numpy(),
        "tanggal_survei": [text(v) for v in m["surveyed_on"]],
        "operator_terlihat": [operators(k) for k in prio.index],
        "bukti": [text(v) for v in m["evidence"]],
        "sampel_survei": s["sampel"].fillna(0).astype("int64").to_numpy(),
        "sampel_tanpa_sinyal": s["sampel_tanpa_sinyal"].fillna(0).astype("int64").to_numpy(),
        "sampel_sangat_lemah": s["sampel_sangat_lemah"].fillna(0).astype("int64").to_numpy(),
        "median_dbm": s["median_dbm"].astype("float64").round(1).to_numpy(),
        "jarak_menara_km": prio["jarak_menara_km"].to_numpy(),
        "porsi_tak_terjangkau": share.astype("float64").round(3).to_numpy(),
        "jumlah_penduduk": prio["jumlah_penduduk"].to_numpy(),
        "penduduk_perkiraan": prio["penduduk_perkiraan"].to_numpy(),
        "panggilan_112": prio["semua_panggilan"].to_numpy(),
        "panggilan_terputus_kosong": prio["terputus_kosong"].to_numpy(),
        "panggilan_tanpa_lokasi_tepat": prio["tanpa_lokasi_tepat"].to_numpy(),
        "score": prio["score"].to_numpy(),
        **{c: prio[c].to_numpy() for c in BTS_WEIGHTS},
        **{c: "" for c in PLANNER_COLUMNS},
    })
    return out[list(COLUMNS)]


def notes(p: Proposal, window_text: str, generated: str) -> list[tuple[str, str]]:
    """(label, text) lines of the explanation sheet: sources, period, formula, caveats."""
    towers = ", ".join(f"{n} dari {src}" for src, n in sorted(p.towers_by_source.items())) or "belum ada"
    lines = [
        ("Judul", f"Usulan lokasi BTS (desa blank spot) - {p.region_name} ({p.region_code})"),
        ("Dibuat", generated),
        ("Periode panggilan 112", window_text),
        ("Desa diusulkan", f"{len(p.rows)} desa berstatus tidak ada sinyal, lemah atau 2G saja (dari {p.marked_desa} "
                           f"desa bertanda; {p.desa_in_index} desa dalam indeks)"),
        ("Urutan", "menurut indeks BTS tingkat desa (peringkat 1 = paling dibutuhkan)"),
        ("Rumus indeks BTS", formula("bts")),
        ("Komponen blank_spot", ", ".join(f"{k}={v:g}" for k, v in SIGNAL_WEIGHT.items()) + ", belum ditandai=0"),
        ("Komponen jarak_menara", f"min(jarak km / {FAR_KM:g}, 1)"),
        ("Komponen lain", f"porsi panggilan ditarik ke porsi wilayah sebesar {PRIOR_CALLS:g} panggilan; "
                          "penduduk = penduduk desa / penduduk desa terbanyak"),
        ("Status sinyal", "tanda perencana (audit: siapa, kapan, sebelum -> sesudah); tanda desa didahulukan, "
                          "desa yang hanya bertanda sel H3 memakai status sel terparah"),
        ("Titik tengah desa", "titik di dalam poligon desa (representative point), sama dengan titik ukur jarak"),
        ("Menara diketahui", f"{p.towers_known} menara: {towers}"
                             + (f"; {p.simulated_towers} SIMULASI" if p.simulated_towers else "")),
        ("Jangkauan menara", f"lingkaran sejauh range menara (tanpa range: {p.default_range_m:g} m; maks 35 km), "
                             "perkiraan kasar tanpa memperhitungkan bukit"),
        ("Survei lapangan", f"{p.samples} titik ukur; tanpa sinyal <= {NO_SIGNAL_DBM:g} dBm atau 0 bar, sangat lemah "
                            f"<= {WEAK_DBM:g} dBm atau 1 bar"),
        ("Panggilan 112", "panggilan yang lokasinya (GPS, sel BTS, alamat atau nama desa) jatuh di desa itu"),
        ("Batas wilayah", "Kemendagri, cahyadsn/wilayah_boundaries (MIT)"),
        ("Kolom perencana", "ketersediaan lahan, listrik (PLN/surya), akses jalan: diisi sebelum dikirim"),
    ]
    if "opencellid" in p.towers_by_source:
        lines.append(("Lisensi data menara", "OpenCelliD Project (opencellid.org), CC BY-SA 4.0"))
    if p.population_estimated:
        lines.append(("Penduduk", "sebagian PERKIRAAN dari penduduk kab/kota (kolom 'Penduduk perkiraan?'); impor "
                                  "data Dukcapil: .venv/bin/python -m ntpd_map import population FILE"))
    if p.simulated:
        parts = [what for what, n in (("panggilan 112", p.simulated_calls), (f"{p.simulated_marks} tanda desa",
                                      p.simulated_marks), (f"{p.simulated_towers} menara", p.simulated_towers),
                                      (f"{p.simulated_samples} titik survei", p.simulated_samples)) if n]
        lines.append(("SIMULASI", f"DATA SIMULASI - bukan data nyata ({', '.join(parts)}); jangan dikirim ke "
                                  "Komdigi"))
    return lines


def _table(p: Proposal) -> pd.DataFrame:
    frame = p.rows.copy()
    frame["penduduk_perkiraan"] = frame["penduduk_perkiraan"].map({True: "ya", False: "tidak"})
    if p.simulated:
        frame.insert(0, "data", "SIMULASI")
    return frame.rename(columns=HEADERS)


def to_csv(p: Proposal) -> bytes:
    """UTF-8 with a BOM (Excel opens Indonesian names right); a SIMULASI column when anything is simulated; text
    that would start a formula (``=``, ``+``, ``-``, ``@``) with a leading ``'``."""
    return csv_bytes(_table(p))


def to_xlsx(p: Proposal, window_text: str, generated: str) -> bytes:
    """Two sheets: 'Usulan BTS' (the table) and 'Keterangan' (sources, period, formula, caveats). Text is
    stored as text: an evidence note or an operator typed as ``=...`` never becomes a formula."""
    import pandas as pd

    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as writer:
        table = _table(p)
        table.to_excel(writer, sheet_name="Usulan BTS", index=False)
        pd.DataFrame(notes(p, window_text, generated), columns=["Keterangan", "Isi"]).to_excel(
            writer, sheet_name="Keterangan", index=False)
        sheet = writer.sheets["Usulan BTS"]
        sheet.freeze_panes = "D2"
        for i, column in enumerate(table.columns, start=1):
            sheet.column_dimensions[sheet.cell(row=1, column=i).column_letter].width = min(
                max(10, len(str(column)) * 0.8), 36)
        writer.sheets["Keterangan"].column_dimensions["A"].width = 24
        writer.sheets["Keterangan"].column_dimensions["B"].width = 110
        xlsx_as_text(writer.book)
    return buf.getvalue()


def filename(p: Proposal, date_from: Any, date_to: Any, fmt: str) -> str:
    """usulan_bts_<region>_<from>_<to>[_SIMULASI].<fmt>, like the priorities export."""
    return f"usulan_bts_{p.region_code}_{date_from}_{date_to}{'_SIMULASI' if p.simulated else ''}.{fmt}"


def proposal_file(runtime: Runtime, cache: Cache, fmt: str, date_from: date, date_to: date, start: int,
                  end: int) -> tuple[bytes, str]:
    """The BTS proposal of a period as XLSX or CSV bytes and its file name, cached per period, data version and
    reference data: ``/api/bts-proposal.*`` and the coverage page's buttons serve the same bytes. Raises
    StoreUnavailable."""
    if fmt not in ("csv", "xlsx"):
        raise ValueError(f"the BTS proposal is csv or xlsx, not {fmt!r}")
    analytics = runtime.analytics
    key = f"proposal:{runtime.region.code}:{start}:{end}:{runtime.store.data_version()}:" \
          f"{analytics.reference_signature()}:{runtime.is_simulated()}:{fmt}"
    digest = hashlib.sha256(key.encode()).hexdigest()
    # one bytes value, the file name before a NUL and the file after it: the cache takes serialized payloads
    # only (ntpd_map/cache.py), and one entry cannot pair a name with another entry's file
    hit = cache.get(f"analytics:{digest}")
    if not isinstance(hit, bytes):  # also an entry of an older version, which held a (file, name) tuple
        made = analytics.bts_proposal(start, end)
        if fmt == "csv":
            body = to_csv(made)
        else:
            generated = datetime.now(ZoneInfo(runtime.settings.tz)).strftime("%d/%m/%Y %H:%M")
            body = to_xlsx(made, window_text(date_from, date_to, runtime.zone), f"{generated} {runtime.zone}")
        hit = filename(made, date_from, date_to, fmt).encode() + b"\0" + body
        cache.set(f"analytics:{digest}", hit, timeout=3600)
    name, _, body = hit.partition(b"\0")
    return body, name.decode()
