"""What the screens show, computed without Dash: time windows, headline counters, local times, list rows.

Pure functions of frames and numbers, so they are tested directly and shared by the ops page and the wall.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from ntpd_map.domain import ACTIVE_OUTCOMES, LocationFlag
from ntpd_map.fmt import number
from ntpd_map.geo.codes import zone_abbrev
from ntpd_map.i18n import STRINGS, t, vocabulary_labels

if TYPE_CHECKING:
    import pandas as pd

    from ntpd_map.store.base import Store
    from ntpd_map.store.model import IncidentQuery

WINDOWS_S = {"1h": 3600, "6h": 6 * 3600, "24h": 86400, "7d": 7 * 86400, "30d": 30 * 86400}
NOISE = ("prank", "ghost", "dropped")


def zone_label(tz: str) -> str:
    try:
        return zone_abbrev(tz)
    except (KeyError, ValueError):
        return tz


def window_bounds(
    choice: str, now: int, custom_from: str | None = None, custom_to: str | None = None, tz: str = "UTC"
) -> tuple[int, int]:
    """(start, end) Unix seconds of a window choice. Custom dates are the center's local dates, inclusive."""
    if choice == "custom" and custom_from and custom_to:
        zone = ZoneInfo(tz)
        start = datetime.fromisoformat(custom_from[:10]).replace(tzinfo=zone)
        end = datetime.fromisoformat(custom_to[:10]).replace(tzinfo=zone)
        return int(start.timestamp()), int(end.timestamp()) + 86400
    return now - WINDOWS_S.get(choice, 86400), now + 1


def local_today(tz: str) -> date:
    """Today's date in the center's zone: the last day a date picker offers (nothing has happened after it)."""
    return datetime.now(ZoneInfo(tz)).date()


def local_time(ts: int | None, tz: str, fmt: str = "%d/%m %H:%M") -> str:
    if ts is None:
        return ""
    return datetime.fromtimestamp(int(ts), UTC).astimezone(ZoneInfo(tz)).strftime(fmt)


def duration_text(seconds: float | None, lang: str = "id") -> str:
    if seconds is None:
        return t("none", lang)
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} {t('minutes', lang)}"
    if minutes < 48 * 60:
        return f"{minutes // 60} {t('hours', lang)} {minutes % 60} {t('minutes', lang)}"
    return f"{minutes // 1440} {t('days', lang)}"


@dataclass(frozen=True)
class Headline:
    calls: int
    genuine: int
    noise_share: float  # prank + ghost + dropped, of all calls (0..1)
    open: int
    oldest_open_s: float | None


def headline(frame: pd.DataFrame, now: int) -> Headline:
    """Counters for a window's incidents (a frame from Store.incidents)."""
    calls = len(frame)
    if not calls:
        return Headline(0, 0, 0.0, 0, None)
    call_type = frame["call_type"]
    genuine = call_type == "genuine"
    active = genuine & frame["outcome"].isin([str(o) for o in ACTIVE_OUTCOMES])
    oldest = float(now - frame.loc[active, "received_at"].min()) if active.any() else None
    return Headline(
        calls=calls,
        genuine=int(genuine.sum()),
        noise_share=float(call_type.isin(NOISE).sum()) / calls,
        open=int(active.sum()),
        oldest_open_s=oldest,
    )


def incident_details(row: Any, names: dict[str, str], tz: str, lang: str) -> list[tuple[str, str]]:
    """(label, value) pairs describing one incident for the details panel: never the caller's number, hash or
    notes (notes may name victims)."""
    labels = vocabulary_labels(lang)
    zone = zone_label(tz)
    category = labels["cat"].get(row.category, row.category) if isinstance(row.category, str) else t("none", lang)
    if isinstance(row.category_label, str) and row.category_label:
        category += f" ({row.category_label})"
    source = labels["src"].get(row.location_source, row.location_source)
    if int(row.flags) & LocationFlag.APPROXIMATE:
        source += f" - {t('approximate', lang)}"

    def when(value: Any) -> str:
        import pandas as pd

        return "-" if pd.isna(value) else f"{local_time(value, tz, '%d/%m/%Y %H:%M')} {zone}"

    return [
        (t("time", lang), when(row.received_at)),
        (t("call_type", lang), labels["ct"].get(row.call_type, row.call_type)),
        (t("category", lang), category),
        (t("outcome", lang), labels["out"].get(row.outcome, row.outcome)),
        (t("agency", lang), row.agency if isinstance(row.agency, str) and row.agency else "-"),
        (t("desa", lang), names.get(row.kode_desa, "-") if isinstance(row.kode_desa, str) else "-"),
        (t("kecamatan", lang), names.get(row.kode_kec, "-") if isinstance(row.kode_kec, str) else "-"),
        (t("location_source", lang), source),
        (t("dispatched", lang), when(row.dispatched_at)),
        (t("arrived", lang), when(row.arrived_at)),
    ]


#: the open emergencies a screen lists and draws on top, the oldest first (a province's worst hour has fewer)
ACTIVE_LIMIT = 200


def active_incidents(store: Store, query: IncidentQuery) -> pd.DataFrame:
    """The open emergencies of a view (genuine calls whose outcome is open, dispatched or on scene, within its
    filters), all of them, oldest first: what the room must act on. Also what ``headline_from_store`` counts as
    open, so a refresh reads them once."""
    active = tuple(str(o) for o in ACTIVE_OUTCOMES if not query.outcomes or str(o) in query.outcomes)
    columns = ("id", "received_at", "category", "category_label", "agency", "kode_desa", "kode_kec", "lat", "lon")
    if not active or (query.call_types and "genuine" not in query.call_types):  # filtered out of the view
        import pandas as pd

        return pd.DataFrame(columns=list(columns))
    frame = store.incidents(replace(query, call_types=("genuine",), outcomes=active, columns=columns))
    return frame.sort_values(["received_at", "id"], kind="stable").reset_index(drop=True)


def age_level(age_s: float, amber_s: float, red_s: float) -> str:
    """"red", "amber" or "" for an open emergency this old."""
    return "red" if age_s >= red_s else ("amber" if age_s >= amber_s else "")


def active_rows(frame: pd.DataFrame, names: dict[str, str], lang: str, now: int, amber_s: float,
                red_s: float) -> list[dict[str, Any]]:
    """The rows of the "Kejadian aktif" panel, oldest first: category, desa and kecamatan, minutes since the call
    and its level, agency. Never a caller's detail."""
    import pandas as pd

    labels = vocabulary_labels(lang)
    rows = []
    for rec in frame.itertuples(index=False):
        age = max(0, now - int(rec.received_at))
        category = labels["cat"].get(rec.category, rec.category_label or "") if isinstance(rec.category, str) else ""
        desa = names.get(rec.kode_desa, "") if isinstance(rec.kode_desa, str) else ""
        kecamatan = names.get(rec.kode_kec, "") if isinstance(rec.kode_kec, str) else ""
        located = not (pd.isna(rec.lat) or pd.isna(rec.lon))
        rows.append({
            "id": int(rec.id),
            "cat": rec.category if isinstance(rec.category, str) else "",
            "category": category or labels["ct"].get("genuine", "genuine"),
            "desa": desa,
            "kecamatan": kecamatan,
            "where": ", ".join(p for p in (desa, kecamatan) if p),
            "minutes": age // 60,
            "level": age_level(age, amber_s, red_s),
            "agency": rec.agency if isinstance(rec.agency, str) else "",
            "lat": float(rec.lat) if located else None,
            "lon": float(rec.lon) if located else None,
        })
    return rows


def headline_from_store(store: Store, query: IncidentQuery, now: int,
                        open_rows: pd.DataFrame | None = None) -> Headline:
    """The same counters as ``headline``, counted by the store (its covering index), so a window of 100k
    incidents costs a few small queries instead of reading every row. ``open_rows``: the view's
    ``active_incidents`` when the caller has read them already."""
    by_type = store.count_by("call_type", query)
    calls = sum(by_type.values())
    genuine = by_type.get("genuine", 0)
    active = tuple(str(o) for o in ACTIVE_OUTCOMES if not query.outcomes or str(o) in query.outcomes)
    if not (genuine and active):
        open_rows = None
    elif open_rows is None:
        open_rows = store.incidents(replace(query, call_types=("genuine",), outcomes=active,
                                            columns=("received_at",)))
    oldest = float(now - open_rows["received_at"].min()) if open_rows is not None and len(open_rows) else None
    return Headline(
        calls=calls,
        genuine=genuine,
        noise_share=sum(by_type.get(c, 0) for c in NOISE) / calls if calls else 0.0,
        open=0 if open_rows is None else len(open_rows),
        oldest_open_s=oldest,
    )


def list_rows(
    frame: pd.DataFrame, names: dict[str, str], tz: str, lang: str, limit: int = 200
) -> list[dict[str, Any]]:
    """Rows for the incident list, newest first. Never carries the caller's number or notes."""
    labels = vocabulary_labels(lang)
    rows = []
    for rec in frame.head(limit).itertuples(index=False):
        rows.append({
            "id": int(rec.id),
            "genuine": rec.call_type == "genuine",
            "active": rec.outcome in [str(o) for o in ACTIVE_OUTCOMES],
            "time": local_time(rec.received_at, tz),
            "call_type": labels["ct"].get(rec.call_type, rec.call_type),
            "category": labels["cat"].get(rec.category, rec.category_label or "") if rec.category else "",
            "outcome": labels["out"].get(rec.outcome, rec.outcome),
            "agency": rec.agency or "",
            "kecamatan": names.get(rec.kode_kec or "", ""),
            "desa": names.get(rec.kode_desa or "", ""),
            "approximate": bool(int(rec.flags) & LocationFlag.APPROXIMATE),
        })
    return rows


def decimal_text(value: float, lang: str, digits: int = 1) -> str:
    """A decimal number as written in the language: 3,2 in Indonesian, 3.2 in English."""
    return number(value, lang, digits)


def unit_details(unit: dict[str, Any], props: dict[str, Any] | None, fixes: int, tz: str,
                 lang: str) -> list[tuple[str, str]]:
    """(label, value) pairs of the unit panel: ``unit`` a row of Store.units, ``props`` its responder feature's
    properties (None without a position), ``fixes`` how many reports its last 30 minutes hold."""
    labels = vocabulary_labels(lang)
    rows = [
        (t("agency", lang), unit.get("agency") or "-"),
        (t("unit_kind", lang), labels["kind"].get(unit["kind"], unit["kind"])),
        (t("unit_status", lang), labels["unit"].get(unit["status"], unit["status"])),
    ]
    if props is None:
        return [*rows, (t("last_report", lang), t("unit_no_position", lang))]
    source = props.get("source") or ""
    when = f"{local_time(props['recorded_at'], tz, '%d/%m %H:%M:%S')} {zone_label(tz)}"
    # to the minute: the panel is sent again only when what it says changes
    age = t("just_now", lang) if props["age_s"] < 60 else t("ago", lang, d=duration_text(props["age_s"], lang))
    if props.get("offline"):
        age += f", {t('offline', lang)}"
    elif props.get("stale"):
        age += f", {t('stale', lang)}"
    speed, battery = props.get("speed_kmh"), props.get("battery")
    return [
        *rows,
        (t("unit_source", lang), t(f"src_{source}", lang) if f"src_{source}" in STRINGS else source or "-"),
        (t("last_report", lang), f"{when} ({age})"),
        (t("speed", lang), "-" if speed is None else f"{speed} {t('km_h', lang)}"),
        (t("battery", lang), "-" if battery is None else f"{battery}%"),
        (t("track_30", lang), t("fixes", lang, n=fixes) if fixes else t("no_track", lang)),
    ]


def nearest_rows(nearest: list[dict[str, Any]], lang: str) -> list[dict[str, str]]:
    """The nearest available units (``ntpd_map.geo.responders.nearest_available``) as shown: name, agency kind,
    distance (one decimal, the language's decimal mark), rough ETA, and the age of a stale position."""
    kinds = vocabulary_labels(lang)["kind"]
    return [{
        "device": n["device"],
        "unit": n["unit"],
        "kind": kinds.get(n["kind"], n["kind"]),
        "distance": f"{decimal_text(n['distance_km'], lang)} km",
        "eta": t("eta", lang, m=n["eta_min"]),
        "stale": f"{t('stale', lang)} {duration_text(n['age_s'], lang)}" if n["stale"] else "",
    } for n in nearest]
