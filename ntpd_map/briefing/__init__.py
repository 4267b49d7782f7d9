"""The Bupati's briefing (issue 9): one model of a period, drawn by the page, the PDF and the XLSX.

``build(runtime, period)`` reads the recap of the period and of the period before it through
``ntpd_map.analytics.recap.recap`` (the function behind ``/api/recap`` and the CLI), the socialisation ranking per
kecamatan and the BTS ranking per desa through ``Analytics.priorities``, and the Dinas's notes. Everything the
page, the PDF and the XLSX show is a field or a table of ``Briefing``, so they cannot disagree with each other
or with the API. No Dash here.
"""

from __future__ import annotations

import calendar
import math
import re
import time
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from ntpd_map import audit
from ntpd_map.analytics.priority import BTS_WEIGHTS, SOCIALISATION_WEIGHTS
from ntpd_map.analytics.recap import KECAMATAN_COLUMNS, headline_counts, recap
from ntpd_map.domain import SignalStatus
from ntpd_map.fmt import day_text, month_name, number
from ntpd_map.i18n import t
from ntpd_map.views import window_bounds

if TYPE_CHECKING:
    import pandas as pd

    from ntpd_map.runtime import Runtime
    from ntpd_map.store.base import Store

PERIOD_KINDS = ("month", "quarter", "custom")
#: the headline numbers, in the order shown
HEADLINE = ("calls", "genuine", "prank", "ghost_dropped", "resolved", "not_followed_up", "open")
#: for each headline number, whether going up is good news (None: neither)
GOOD_WHEN_UP: dict[str, bool | None] = {"calls": None, "genuine": None, "prank": False, "ghost_dropped": False,
                                        "resolved": True, "not_followed_up": False, "open": False}
TOP = 10
NOTES_MAX = 4000
ROMAN = ("I", "II", "III", "IV")


@dataclass(frozen=True)
class Period:
    """A briefing's period: local dates of the center, both inclusive."""

    kind: str  # month | quarter | custom
    first: date
    last: date

    def __post_init__(self) -> None:
        if self.kind not in PERIOD_KINDS:
            raise ValueError(f"period kind must be one of {', '.join(PERIOD_KINDS)}, not {self.kind!r}")
        if self.last < self.first:
            raise ValueError(f"the period ends ({self.last}) before it starts ({self.first})")

    @classmethod
    def month(cls, year: int, month: int) -> Period:
        return cls("month", date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1]))

    @classmethod
    def quarter(cls, year: int, q: int) -> Period:
        if not 1 <= q <= 4:
            raise ValueError(f"quarter must be 1-4, not {q}")
        last = cls.month(year, 3 * q)
        return cls("quarter", date(year, 3 * q - 2, 1), last.last)

    @classmethod
    def parse(cls, text: str) -> Period:
        """``2025-05`` (a month), ``2025-Q2`` (a quarter) or ``2025-05-01..2025-09-30`` (custom, inclusive)."""
        text = (text or "").strip()
        forms = "write 2025-05 (a month), 2025-Q2 (a quarter) or 2025-05-01..2025-09-30 (from..to, inclusive)"
        try:
            if m := re.fullmatch(r"(\d{4})-(\d{1,2})", text):
                return cls.month(int(m[1]), int(m[2]))
            if m := re.fullmatch(r"(\d{4})-[Qq]([1-4])", text):
                return cls.quarter(int(m[1]), int(m[2]))
            if m := re.fullmatch(r"(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})", text):
                return cls.custom(date.fromisoformat(m[1]), date.fromisoformat(m[2]))
        except ValueError as exc:  # a month 13, a 30 February, an end before the start
            raise ValueError(f"period {text!r}: {exc}; {forms}") from None
        raise ValueError(f"period {text!r}: {forms}")

    @classmethod
    def custom(cls, first: date, last: date) -> Period:
        """A custom period; one that is exactly a calendar month or quarter is named as one."""
        if first.day == 1 and last == cls.month(first.year, first.month).last:
            return cls.month(first.year, first.month)
        if first.day == 1 and first.month % 3 == 1 and last == cls.quarter(first.year, first.month // 3 + 1).last:
            return cls.quarter(first.year, first.month // 3 + 1)
        return cls("custom", first, last)

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def key(self) -> str:
        """The period as ``parse`` reads it (URLs, file names, the notes' key)."""
        if self.kind == "month":
            return f"{self.first:%Y-%m}"
        if self.kind == "quarter":
            return f"{self.first.year}-Q{(self.first.month - 1) // 3 + 1}"
        return f"{self.first.isoformat()}..{self.last.isoformat()}"

    def previous(self) -> Period:
        """The period before: the previous month or quarter, else as many days just before."""
        if self.kind == "month":
            before = self.first - timedelta(days=1)
            return Period.month(before.year, before.month)
        if self.kind == "quarter":
            before = self.first - timedelta(days=1)
            return Period.quarter(before.year, (before.month - 1) // 3 + 1)
        return Period("custom", self.first - timedelta(days=self.days), self.first - timedelta(days=1))

    def label(self, lang: str = "id") -> str:
        if self.kind == "month":
            return f"{month_name(self.first.month, lang)} {self.first.year}"
        if self.kind == "quarter":
            return t("brief_quarter", lang, q=ROMAN[(self.first.month - 1) // 3], year=self.first.year)
        return f"{day_text(self.first, lang)} - {day_text(self.last, lang)}"


def default_period(today: date) -> Period:
    """The last complete month: what a monthly evaluation meeting looks back on."""
    before = today.replace(day=1) - timedelta(days=1)
    return Period.month(before.year, before.month)


@dataclass(frozen=True)
class Change:
    value: int
    previous: int

    @property
    def delta(self) -> int:
        return self.value - self.previous

    @property
    def percent(self) -> float | None:
        return None if not self.previous else round(100.0 * self.delta / self.previous, 1)


def headline_numbers(recap: dict[str, Any]) -> dict[str, int]:
    """The headline numbers of a recap (``ntpd_map.analytics.recap.recap``)."""
    by_type, g = recap["calls"]["by_call_type"], recap["genuine"]
    return {"calls": recap["calls"]["total"], "genuine": g["total"], "prank": by_type["prank"],
            "ghost_dropped": by_type["ghost"] + by_type["dropped"], "resolved": g["resolved"],
            "not_followed_up": g["not_followed_up"], "open": g["open"]}


@dataclass(frozen=True)
class Briefing:
    period: Period
    previous: Period
    region_code: str
    region_name: str
    tz: str
    recap: dict[str, Any]  # ntpd_map.analytics.recap.recap of the period: what /api/recap answers
    previous_headline: dict[str, int]  # the period before (analytics.recap.headline_counts)
    kecamatan_names: dict[str, str]  # every kecamatan of the region, code -> name, in the region's order
    population: dict[str, int]  # per kecamatan (imported where given, else estimated)
    socialisation: pd.DataFrame  # the whole ranking (ntpd_map.analytics.priority.socialisation)
    bts: pd.DataFrame  # the desa ranking (ntpd_map.analytics.priority.bts, level desa) with kecamatan names
    notes: str
    simulated: bool
    produced_at: int  # Unix seconds

    @property
    def headline(self) -> dict[str, Change]:
        now, before = headline_numbers(self.recap), self.previous_headline
        return {k: Change(now[k], before[k]) for k in HEADLINE}

    def agencies(self) -> pd.DataFrame:
        """Per agency: received (genuine calls given to it), resolved, not followed up, open, median and p90
        minutes from the call to dispatch and to arrival. Sorted by calls received."""
        import pandas as pd

        rows = [{"agency": name, "received": a["total"], "resolved": a["resolved"],
                 "not_followed_up": a["not_followed_up"], "open": a["open"],
                 "dispatch_median": a["dispatch"]["median"], "dispatch_p90": a["dispatch"]["p90"],
                 "arrival_median": a["arrival"]["median"], "arrival_p90": a["arrival"]["p90"]}
                for name, a in self.recap["genuine"]["by_agency"].items()]
        frame = pd.DataFrame(rows, columns=AGENCY_COLUMNS)
        return frame.sort_values(["received", "agency"], ascending=[False, True], kind="stable").reset_index(drop=True)

    def agency_total(self, lang: str = "id") -> dict[str, Any]:
        """The agencies' total row: the recap's own totals and response times (not a sum of medians)."""
        g, minutes = self.recap["genuine"], self.recap["response_minutes"]
        return {"agency": t("brief_total", lang), "received": g["total"], "resolved": g["resolved"],
                "not_followed_up": g["not_followed_up"], "open": g["open"],
                "dispatch_median": minutes["dispatch"]["median"], "dispatch_p90": minutes["dispatch"]["p90"],
                "arrival_median": minutes["arrival"]["median"], "arrival_p90": minutes["arrival"]["p90"]}

    def kecamatan(self) -> pd.DataFrame:
        """Every kecamatan of the region (none left out for having no calls): the recap's counts, the prank
        share of its calls and genuine calls per 10,000 people in the period. Busiest in genuine calls first."""
        import pandas as pd


        counts = self.recap["kecamatan"]
        rows = []
        for kode, nama in self.kecamatan_names.items():
            c = counts.get(kode, {})
            row: dict[str, Any] = {"kode": kode, "kecamatan": nama, **{k: int(c.get(k, 0)) for k in KECAMATAN_COLUMNS}}
            row["prank_share"] = round(100.0 * row["prank"] / row["calls"], 1) if row["calls"] else None
            people = self.population.get(kode, 0)
            row["genuine_per_10k"] = round(10_000 * row["genuine"] / people, 2) if people else None
            rows.append(row)
        frame = pd.DataFrame(rows, columns=KECAMATAN_TABLE)
        return frame.sort_values(["genuine", "calls", "kecamatan"], ascending=[False, False, True],
                                 kind="stable").reset_index(drop=True)

    def kecamatan_total(self, lang: str = "id") -> dict[str, Any]:
        """The kecamatan table's total row: sums of the counts, the prank share of all located calls and genuine
        calls per 10,000 people of the whole region."""
        frame = self.kecamatan()
        out: dict[str, Any] = {"kode": "", "kecamatan": t("brief_total", lang),
                               **{c: int(frame[c].sum()) for c in KECAMATAN_COLUMNS}}
        out["prank_share"] = round(100.0 * out["prank"] / out["calls"], 1) if out["calls"] else None
        people = sum(self.population.values())
        out["genuine_per_10k"] = round(10_000 * out["genuine"] / people, 2) if people else None
        return out

    def weekly(self) -> pd.DataFrame:
        import pandas as pd


        return pd.DataFrame(self.recap["weekly"], columns=["week", "from", "to", *KECAMATAN_COLUMNS])

    def top_socialisation(self, lang: str = "id", n: int = TOP) -> pd.DataFrame:
        """The ``n`` kecamatan where socialising 112 is most needed, with the reason in words."""
        import pandas as pd

        top = self.socialisation.head(n)
        return pd.DataFrame({"rank": top["rank"], "kode": top["kode"], "kecamatan": top["nama"],
                             "score": top["score"],
                             "reason": [socialisation_reason(r, lang) for r in top.itertuples(index=False)]},
                            columns=["rank", "kode", "kecamatan", "score", "reason"]).reset_index(drop=True)

    def top_bts(self, lang: str = "id", n: int = TOP) -> pd.DataFrame:
        """The ``n`` desa to propose first for a BTS, with the reason in words."""
        import pandas as pd

        top = self.bts.head(n)
        return pd.DataFrame({"rank": top["rank"], "kode": top["kode"], "desa": top["nama"],
                             "kecamatan": top["kecamatan"], "score": top["score"],
                             "reason": [bts_reason(r, lang) for r in top.itertuples(index=False)]},
                            columns=["rank", "kode", "desa", "kecamatan", "score", "reason"]).reset_index(drop=True)


AGENCY_COLUMNS = ["agency", "received", "resolved", "not_followed_up", "open", "dispatch_median", "dispatch_p90",
                  "arrival_median", "arrival_p90"]
KECAMATAN_TABLE = ["kode", "kecamatan", "calls", "genuine", "prank", "ghost_dropped", "resolved", "not_followed_up",
                   "prank_share", "genuine_per_10k"]


def change_text(change: Change, lang: str = "id") -> str:
    """``+12 (+5,3%)``, ``-3 (-2,1%)``, ``+4.428 (baru)`` when there was none before, ``tetap`` when unchanged."""
    if change.delta == 0:
        return t("brief_no_change", lang)
    sign = "+" if change.delta > 0 else "-"
    text = f"{sign}{number(abs(change.delta), lang)}"
    if change.percent is None:
        return f"{text} ({t('brief_new', lang)})"
    return f"{text} ({sign}{number(abs(change.percent), lang, 1)}%)"


def socialisation_reason(row: Any, lang: str = "id") -> str:
    """Why a kecamatan ranks high for socialisation: its two heaviest weighted components, with their numbers."""
    parts = {
        "kurang_guna": t("brief_why_underuse", lang, n=number(row.darurat, lang),
                         expected=number(row.darurat_harapan, lang, 1), people=number(row.penduduk, lang)),
        "salah_guna": t("brief_why_misuse", lang, n=number(row.iseng_kosong, lang),
                        total=number(row.semua_panggilan, lang)),
        "tren_memburuk": t("brief_why_worse", lang),
    }
    weight = {k: SOCIALISATION_WEIGHTS[k] * float(getattr(row, k)) for k in parts}
    if float(row.tren_memburuk) <= 0.5:  # 0.5 is "no change": never given as a reason
        weight.pop("tren_memburuk")
    return "; ".join(parts[k] for k in sorted(weight, key=lambda k: -weight[k])[:2])


def bts_reason(row: Any, lang: str = "id") -> str:
    """Why a desa ranks high for a BTS: its signal mark, then its heaviest other weighted components."""
    out = []
    status = getattr(row, "status_sinyal", None)
    if isinstance(status, str) and status in {str(s) for s in SignalStatus}:
        out.append(t("brief_why_signal", lang, status=SignalStatus(status).label(lang)))
    km = float(row.jarak_menara_km)
    parts = {
        "jarak_menara": t("brief_why_tower", lang, km=number(km, lang, 1)) if not math.isnan(km) else "",
        "putus_kosong": t("brief_why_dropped", lang, n=number(row.terputus_kosong, lang),
                          total=number(row.semua_panggilan, lang)),
        "lokasi_tidak_tepat": t("brief_why_imprecise", lang, n=number(row.tanpa_lokasi_tepat, lang)),
        "penduduk": t("brief_why_people_est" if row.penduduk_perkiraan else "brief_why_people", lang,
                      n=number(row.jumlah_penduduk, lang)),
    }
    weight = {k: BTS_WEIGHTS[k] * float(getattr(row, k)) for k in parts if parts[k]}
    out += [parts[k] for k in sorted(weight, key=lambda k: -weight[k])[:3 - len(out)] if weight[k] > 0]
    return "; ".join(out)


def notes_key(period: Period) -> str:
    return f"briefing_notes:{period.key}"


def read_notes(store: Store, period: Period) -> str:
    return store.get_meta(notes_key(period)) or ""


def save_notes(store: Store, period: Period, text: str, actor: str) -> str:
    """Keep the Dinas's notes for a period (what the briefing prints under "Catatan Dinas"). The audit log
    records who changed them and their length, never the text."""
    text = (text or "").replace("\r\n", "\n").strip()
    if len(text) > NOTES_MAX:
        raise ValueError(f"notes are limited to {NOTES_MAX} characters ({len(text)} given)")
    store.set_meta(notes_key(period), text)
    audit.record(store, actor, "briefing.notes", period.key, chars=len(text))
    return text


def build(runtime: Runtime, period: Period, *, now: int | None = None) -> Briefing:
    """The briefing of ``period`` from the store (``StoreUnavailable`` when it is down)."""
    tz = runtime.settings.tz
    store = runtime.store
    region = runtime.region
    previous = period.previous()
    analytics = runtime.analytics
    start, end = window_bounds("custom", 0, period.first.isoformat(), period.last.isoformat(), tz)
    social = analytics.priorities("socialisation", start, end).rows
    bts = analytics.priorities("bts", start, end, level="desa").rows
    bts = bts.assign(kecamatan=bts["kode_kecamatan"].map(runtime.names).fillna(""))
    pop = analytics.population()
    return Briefing(
        period=period, previous=previous, region_code=region.code, region_name=region.name, tz=tz,
        recap=recap(store, period.first, period.last, tz),
        previous_headline=headline_counts(store, previous.first, previous.last, tz),
        kecamatan_names=dict(zip(region.kecamatan["kode"], region.kecamatan["nama"], strict=True)),
        population={str(k): round(float(v)) for k, v in zip(region.kecamatan["kode"], pop.kec, strict=True)},
        socialisation=social, bts=bts, notes=read_notes(store, period), simulated=runtime.is_simulated(),
        produced_at=int(time.time()) if now is None else now,
    )
