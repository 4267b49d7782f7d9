"""Ingest tests. ``recap_table`` is shared with the bench: a TTU-like recap of n calls, all strings."""

from __future__ import annotations

import numpy as np
import pandas as pd

# the share of call types in a center's traffic (CONTEXT.md: 1-4% genuine; most dropped, ghost or prank)
CALL_MIX = {"terputus": 0.52, "Panggilan Kosong": 0.16, "iseng": 0.2, "darurat": 0.03, "salah sambung": 0.04,
            "informasi": 0.04, "uji": 0.01}
CATEGORY_AGENCY = {
    "Kebakaran": "Damkar TTU", "medis": "RSUD Kefamenanu", "Laka Lantas": "Satlantas Polres TTU",
    "kamtibmas": "Polres TTU", "banjir": "BPBD TTU", "KDRT": "Polres TTU", "pohon tumbang": "BPBD TTU",
}
OUTCOMES = ("selesai", "tidak ditindaklanjuti", "proses")


def recap_table(
    n: int,
    desa: pd.DataFrame,
    bounds: tuple[float, float, float, float],
    *,
    seed: int = 0,
    time_format: str = "%Y-%m-%d %H:%M:%S",
    decimal_comma: bool = False,
) -> pd.DataFrame:
    """n valid calls in Indonesian recap columns (plus an extra "operator" column), as a CSV reads them.

    Genuine calls carry agency, outcome and response times; 70% of them GPS coordinates, 20% a desa name with
    its kecamatan (``desa``: columns nama, kecamatan) and 10% no location. Other calls: a third a cell fix.
    ``bounds`` is (min lon, min lat, max lon, max lat) of the coordinates drawn.
    """
    rng = np.random.default_rng(seed)
    words = np.array(list(CALL_MIX))
    p = np.array(list(CALL_MIX.values()))
    call = rng.choice(words, n, p=p / p.sum())
    genuine = call == "darurat"
    g = int(genuine.sum())
    start = pd.Timestamp("2025-05-01").value // 10**9
    received = start + rng.integers(0, 150 * 86400, n)
    waktu = _fmt(received, time_format)

    def blank() -> np.ndarray:
        return np.full(n, "", dtype=object)

    kategori, instansi, status = blank(), blank(), blank()
    cats = np.array(list(CATEGORY_AGENCY))
    kategori[genuine] = rng.choice(cats, g)
    instansi[genuine] = [CATEGORY_AGENCY[c] for c in kategori[genuine]]
    status[genuine] = rng.choice(OUTCOMES, g, p=[0.8, 0.12, 0.08])
    status[~genuine & (rng.random(n) < 0.5)] = "selesai"
    dispatch, arrive, done = blank(), blank(), blank()
    d_s = received + rng.integers(60, 900, n)
    a_s = d_s + rng.integers(300, 3600, n)
    r_s = a_s + rng.integers(600, 7200, n)
    followed = genuine & (status != "tidak ditindaklanjuti")
    dispatch[followed] = _fmt(d_s[followed], time_format)
    arrive[genuine & (status == "selesai")] = _fmt(a_s[genuine & (status == "selesai")], time_format)
    done[genuine & (status == "selesai")] = _fmt(r_s[genuine & (status == "selesai")], time_format)

    u = rng.random(n)
    coords = np.where(genuine, u < 0.7, u < 0.33)
    named = genuine & (u >= 0.7) & (u < 0.9)
    minx, miny, maxx, maxy = bounds
    lat, lon = blank(), blank()
    lat[coords] = np.round(rng.uniform(miny, maxy, int(coords.sum())), 6).astype(str)
    lon[coords] = np.round(rng.uniform(minx, maxx, int(coords.sum())), 6).astype(str)
    if decimal_comma:
        lat[coords] = [v.replace(".", ",") for v in lat[coords]]
        lon[coords] = [v.replace(".", ",") for v in lon[coords]]
    sumber = blank()
    sumber[coords] = np.where(genuine[coords], "gps", "bts")
    desa_col, kec_col = blank(), blank()
    pick = rng.integers(0, len(desa), int(named.sum()))
    desa_col[named] = desa["nama"].to_numpy(dtype=object)[pick]
    kec_col[named] = desa["kecamatan"].to_numpy(dtype=object)[pick]
    numbers = rng.integers(10**8, 10**10, n).astype(str)
    nomor = pd.Series(numbers).radd("0812").to_numpy(dtype=object)
    keterangan = blank()
    keterangan[genuine] = "korban dibawa ke RSUD"
    table = pd.DataFrame({
        "id": pd.Series(np.arange(n).astype(str)).radd("TTU-").to_numpy(dtype=object),
        "waktu": waktu,
        "jenis_panggilan": call.astype(object),
        "kategori": kategori,
        "instansi": instansi,
        "status": status,
        "lat": lat,
        "lon": lon,
        "desa": desa_col,
        "kecamatan": kec_col,
        "lokasi_sumber": sumber,
        "waktu_dispatch": dispatch,
        "waktu_tiba": arrive,
        "waktu_selesai": done,
        "nomor_penelepon": nomor,
        "keterangan": keterangan,
        "operator": rng.choice(np.array(["Yanti", "Budi", "Maria", "Yosef"], dtype=object), n),
    })
    return table.astype("str")


def _fmt(local_seconds: np.ndarray, time_format: str) -> np.ndarray:
    """Local wall-clock seconds (as if UTC) in ``time_format``."""
    return pd.to_datetime(local_seconds, unit="s").strftime(time_format).to_numpy(dtype=object)
