"""Coverage gaps (issue 7): signal words, survey samples, the current signal status of each desa and the
checks a mark goes through before the store keeps it. Pure functions of frames and the region: no Dash, no store.

- A mark's target is a desa, or one H3 cell kept with the desa it lies in (``mark_from_fields``).
- ``desa_signal``: a desa's status is its own (desa-wide) current mark; a desa with only cell marks takes the
  most severe of them (a blank spot in one dusun makes the desa a candidate), the newest on a tie.
- ``sample_class``: a survey measurement at or below ``NO_SIGNAL_DBM`` (or 0 bars) is "no signal", at or below
  ``WEAK_DBM`` (or 1 bar) "very weak"; the worse of dBm and bars when both are given.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from ntpd_map.domain import CoverageMark, SignalStatus
from ntpd_map.geo.codes import normalise_code
from ntpd_map.store.coverage import MARK_COLUMNS

if TYPE_CHECKING:
    import pandas as pd

    from ntpd_map.geo.boundaries import Region

#: Statuses that make a desa a BTS proposal candidate (issue 7: tidak ada sinyal / lemah / 2G saja).
PROPOSED_STATUSES = (SignalStatus.NONE, SignalStatus.WEAK, SignalStatus.ONLY_2G)
#: Most severe first: the order in which cell marks decide a desa without a desa-wide mark.
SEVERITY = {SignalStatus.NONE: 3, SignalStatus.WEAK: 2, SignalStatus.ONLY_2G: 1, SignalStatus.GOOD: 0}
#: A phone at or below this level (RSSI/RSRP, dBm) cannot hold a call: counted as "no signal".
NO_SIGNAL_DBM = -110.0
#: At or below this level (and above NO_SIGNAL_DBM) a call drops easily: counted as "very weak".
WEAK_DBM = -100.0
SAMPLE_CLASSES = ("none", "weak", "ok")
MAX_TEXT = {"operators": 200, "evidence": 2000}
#: Resolutions of the H3 cells a planner may mark (the hexagon analytics' resolutions).
MARK_RESOLUTIONS = (7, 8, 9)

_STATUS_WORDS: dict[str, SignalStatus] = {}
for _status, _words in {
    SignalStatus.NONE: ("none", "tidak ada sinyal", "tidak ada", "tanpa sinyal", "blank spot", "blankspot",
                        "no signal", "no service", "tidak ada jaringan"),
    SignalStatus.WEAK: ("weak", "lemah", "sinyal lemah", "weak signal"),
    SignalStatus.ONLY_2G: ("2g_only", "2g only", "2g saja", "2g", "hanya 2g", "edge"),
    SignalStatus.GOOD: ("good", "baik", "bagus", "kuat", "ada sinyal", "sinyal baik"),
}.items():
    for _w in (*_words, _status.label_id, _status.label_en, str(_status)):
        _STATUS_WORDS[" ".join(re.sub(r"[_\-]+", " ", _w).casefold().split())] = _status
STATUS_HINT = "tidak ada sinyal, lemah, 2G saja, baik (or none, weak, 2g_only, good)"


def status_from_text(text: Any) -> SignalStatus | None:
    """A signal status from a word in Indonesian or English (``None`` when it is not one)."""
    if isinstance(text, SignalStatus):
        return text
    key = " ".join(re.sub(r"[_\-]+", " ", str(text)).casefold().split())
    return _STATUS_WORDS.get(key)


def is_missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(value != value)  # NaN
    except TypeError:  # pd.NA
        return True


def sample_class(dbm: Any, bars: Any) -> str:
    """"none", "weak" or "ok" for one measurement (see the module docstring for the thresholds)."""
    worst = 2
    if not is_missing(dbm):
        worst = min(worst, 0 if float(dbm) <= NO_SIGNAL_DBM else 1 if float(dbm) <= WEAK_DBM else 2)
    if not is_missing(bars):
        worst = min(worst, 0 if int(bars) <= 0 else 1 if int(bars) == 1 else 2)
    return SAMPLE_CLASSES[worst]


def survey_summary(samples: pd.DataFrame) -> pd.DataFrame:
    """Per desa (index kode_desa): sampel, sampel_tanpa_sinyal, sampel_sangat_lemah (very weak, not counting
    no-signal ones), median_dbm (of the samples that carry dBm; NaN when none do), operator_survei (the operators
    seen, comma separated), survei_terakhir (the newest sample, Unix s). Samples in no desa are left out."""
    import pandas as pd

    cols = ["sampel", "sampel_tanpa_sinyal", "sampel_sangat_lemah", "median_dbm", "operator_survei",
            "survei_terakhir"]
    if samples is None or not len(samples):
        return pd.DataFrame(columns=cols, index=pd.Index([], name="kode_desa"))
    frame = samples[samples["kode_desa"].notna()].copy()
    frame["kelas"] = [sample_class(d, b) for d, b in zip(frame["dbm"], frame["bars"], strict=True)]
    by = frame.groupby("kode_desa", sort=True)
    out = pd.DataFrame({
        "sampel": by.size(),
        "sampel_tanpa_sinyal": by["kelas"].apply(lambda s: int((s == "none").sum())),
        "sampel_sangat_lemah": by["kelas"].apply(lambda s: int((s == "weak").sum())),
        "median_dbm": by["dbm"].median(),
        "operator_survei": by["operator"].apply(lambda s: ", ".join(sorted({str(o) for o in s if o and o == o}))),
        "survei_terakhir": by["recorded_at"].max(),
    })
    out.index.name = "kode_desa"
    return out[cols]


def desa_signal(marks: pd.DataFrame | None) -> pd.DataFrame:
    """One row per marked desa from the current marks of every target (``Store.coverage_marks()``): the
    desa-wide mark where there is one, else its most severe cell mark (newest on a tie). Columns of the marks
    plus ``dasar`` ("desa" or "h3") and ``sel_ditandai`` (how many cells of the desa carry a current mark);
    ordered by id, so "the last row per desa" readers (priority.bts) see the same thing."""
    import pandas as pd

    if marks is None or not len(marks):
        return pd.DataFrame(columns=[*MARK_COLUMNS, "dasar", "sel_ditandai"])
    frame = marks.copy()
    is_cell = frame["h3"].notna().to_numpy()
    frame["dasar"] = np.where(is_cell, "h3", "desa")
    cells = frame[is_cell].groupby("kode_desa").size()
    # desa-wide marks first, then cells by severity, then the newest
    frame["_rank"] = np.where(is_cell, 0, 10) + frame["status"].map(
        lambda s: SEVERITY.get(SignalStatus(s), 0) if isinstance(s, str) else 0).to_numpy()
    best = frame.sort_values(["_rank", "id"]).drop_duplicates("kode_desa", keep="last")
    best = best.drop(columns="_rank").sort_values("id").reset_index(drop=True)
    best["sel_ditandai"] = best["kode_desa"].map(cells).fillna(0).astype("int64")
    return best


# ------------------------------------------------------------------------------------------- marks


def _clean_text(fields: Mapping[str, Any], name: str) -> str | None:
    value = fields.get(name)
    if value is None:
        return None
    if isinstance(value, list | tuple):
        value = ", ".join(str(v).strip() for v in value if str(v).strip())
    if not isinstance(value, str):
        raise ValueError(f"{name} must be text")
    text = " ".join(value.split()) if name == "operators" else value.strip()
    if len(text) > MAX_TEXT[name]:
        raise ValueError(f"{name} is longer than {MAX_TEXT[name]} characters")
    return text or None


def mark_target(region: Region, kode_desa: str | None = None, h3_cell: str | None = None) -> tuple[str, str | None]:
    """(kode_desa, h3) of a mark on a desa of the region, or on an H3 cell (res 7-9) with the desa it lies in.

    A cell without a desa gets the desa containing its centre, else the desa it overlaps most; a cell given
    with a desa must overlap that desa. ValueError (saying what is wrong) otherwise.
    """
    import h3
    import shapely


    desa = region.desa
    codes = desa["kode"].astype(str).to_numpy()
    code = None
    if kode_desa not in (None, ""):
        try:
            code = normalise_code(str(kode_desa))
        except ValueError:
            raise ValueError(f"kode_desa {str(kode_desa)[:40]!r} is not a Kemendagri desa code like "
                             "53.03.06.2001") from None
        if code not in set(codes):
            raise ValueError(f"kode_desa {code} is not a desa of {region.name} ({region.code})")
    if h3_cell in (None, ""):
        if code is None:
            raise ValueError("give kode_desa (a desa of the region) or h3 (a cell of resolution 7-9)")
        return code, None
    cell = str(h3_cell).strip().lower()
    if not (re.fullmatch(r"[0-9a-f]{15}", cell) and h3.is_valid_cell(cell)):
        raise ValueError(f"h3 {str(h3_cell)[:40]!r} is not an H3 cell")
    if h3.get_resolution(cell) not in MARK_RESOLUTIONS:
        raise ValueError(f"h3 {cell} is of resolution {h3.get_resolution(cell)}; mark cells of resolution "
                         f"{', '.join(map(str, MARK_RESOLUTIONS))}")
    polygon = shapely.Polygon([(lng, lat) for lat, lng in h3.cell_to_boundary(cell)])
    geoms = desa.geometry.to_numpy()
    overlap = shapely.area(shapely.intersection(geoms, polygon))
    if code is not None:
        if overlap[codes == code].sum() <= 0:
            raise ValueError(f"h3 {cell} does not overlap desa {code}")
        return code, cell
    lat, lng = h3.cell_to_latlng(cell)
    inside = np.flatnonzero(shapely.contains_xy(geoms, lng, lat))
    if len(inside):
        return str(codes[inside[0]]), cell
    if overlap.max(initial=0.0) <= 0:
        raise ValueError(f"h3 {cell} lies outside {region.name} ({region.code})")
    return str(codes[int(np.argmax(overlap))]), cell


def mark_from_fields(region: Region, fields: Mapping[str, Any], author: str) -> CoverageMark:
    """A CoverageMark from submitted fields (the API's JSON body, a form): ``kode_desa`` and/or ``h3``,
    ``status`` (a word of STATUS_HINT), optional ``operators`` (text or a list), ``surveyed_on`` (YYYY-MM-DD)
    and ``evidence``. ValueError naming the field for anything wrong."""
    status_text = fields.get("status")
    if status_text in (None, ""):
        raise ValueError(f"status is missing ({STATUS_HINT})")
    status = status_from_text(status_text)
    if status is None:
        raise ValueError(f"status {str(status_text)[:40]!r} is not one of {STATUS_HINT}")
    for name in ("kode_desa", "h3", "surveyed_on"):
        if fields.get(name) is not None and not isinstance(fields.get(name), str):
            raise ValueError(f"{name} must be text")
    code, cell = mark_target(region, fields.get("kode_desa"), fields.get("h3"))
    surveyed = fields.get("surveyed_on") or None
    return CoverageMark(code, status, surveyed_on=surveyed, operators=_clean_text(fields, "operators"),
                        evidence=_clean_text(fields, "evidence"), author=author, h3=cell)
