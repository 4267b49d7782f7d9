"""A deterministic, labelled simulated scenario for a region: calls, responders, blank-spot villages, towers.

Same (region, days, seed, end) -> the same scenario, row for row. Every record carries ``simulated`` and the
source ``simulasi`` so no screen or export can mistake it for real data.

The proportions come from ../shared/CONTEXT.md: TTU (276,032 people) logged 4,428 calls in the five months
May-September 2025 (153 days), 167 of them genuine emergencies (3.8%), 144 resolved and 23 not followed up
(86% / 14%); elsewhere most traffic is dropped, ghost (silent) or prank calls.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import numpy as np

from ntpd_map import audit
from ntpd_map.domain import (
    INCIDENT_COLUMNS,
    AgencyKind,
    CoverageMark,
    LocationFlag,
    ResponderPosition,
    SignalStatus,
    Tower,
    Unit,
    UnitStatus,
)
from ntpd_map.geo.codes import timezone_for_code
from ntpd_map.ingest.write import write_incidents
from ntpd_map.store.model import StoreUnavailable

if TYPE_CHECKING:
    import geopandas as gpd
    import pandas as pd

    from ntpd_map.geo.boundaries import Region
    from ntpd_map.geo.locate import Locator
    from ntpd_map.store.base import Store

SOURCE = "simulasi"
# TTU: 4,428 calls in 153 days for 276,032 people
CALLS_PER_PERSON_DAY = 4428 / 153 / 276_032
CALL_MIX = {
    "genuine": 0.038, "prank": 0.30, "ghost": 0.28, "dropped": 0.29,
    "wrong_number": 0.04, "info": 0.04, "test": 0.012,
}
CATEGORY_MIX = {
    "medical": 0.30, "traffic_accident": 0.22, "fire": 0.11, "crime": 0.14, "disaster": 0.08,
    "domestic_violence": 0.05, "utility": 0.03, "animal": 0.02, "social": 0.03, "other": 0.02,
}
RESOLVED_SHARE = 144 / 167
LOCATION_MIX = {"gps": 0.35, "cell": 0.35, "address": 0.15, "unknown": 0.15}
# (agency name pattern, kind) per category; {kab} is the short kab/kota name
AGENCY_BY_CATEGORY: dict[str, tuple[str, AgencyKind]] = {
    "medical": ("RSUD {kab}", AgencyKind.MEDICAL),
    "traffic_accident": ("Satlantas Polres {kab}", AgencyKind.POLICE),
    "fire": ("Damkar {kab}", AgencyKind.FIRE),
    "crime": ("Polres {kab}", AgencyKind.POLICE),
    "disaster": ("BPBD {kab}", AgencyKind.DISASTER),
    "domestic_violence": ("Polres {kab}", AgencyKind.POLICE),
    "utility": ("PLN ULP {kab}", AgencyKind.ELECTRICITY),
    "animal": ("Damkar {kab}", AgencyKind.FIRE),
    "social": ("Dinas Sosial {kab}", AgencyKind.SOCIAL),
    "other": ("BPBD {kab}", AgencyKind.DISASTER),
}
UNIT_FLEET: tuple[tuple[str, str, AgencyKind, int], ...] = (
    ("Ambulans RSUD {kab}", "RSUD {kab}", AgencyKind.MEDICAL, 4),
    ("Damkar {kab}", "Damkar {kab}", AgencyKind.FIRE, 3),
    ("Patroli Polres {kab}", "Polres {kab}", AgencyKind.POLICE, 4),
    ("Rescue BPBD {kab}", "BPBD {kab}", AgencyKind.DISASTER, 2),
    ("Basarnas", "Basarnas", AgencyKind.SAR, 1),
)
# Towers: about two kecamatan in three have a macro site, plus a few around the kab/kota's centre. Indonesia
# switched 3G off in 2023, so sites carry GSM or LTE. mcc 510 is Indonesia; net is the operator's MNC
# (10 Telkomsel, which carries most of rural NTT, 01 Indosat, 11 XL).
TOWER_KECAMATAN_SHARE = 2 / 3
TOWERS_NEAR_CENTRE = 3
TOWER_RADIOS = {"GSM": 0.4, "LTE": 0.6}
TOWER_NETS = {10: 0.6, 1: 0.2, 11: 0.2}
TOWER_RANGE_M = (2000.0, 8000.0)


@dataclass(frozen=True)
class Scenario:
    incidents: pd.DataFrame
    units: list[Unit]
    positions: list[ResponderPosition]
    marks: list[CoverageMark]
    towers: list[Tower] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        inc = self.incidents
        return {
            "simulated": True,
            "calls": len(inc),
            "by_call_type": {k: int(v) for k, v in inc["call_type"].value_counts().sort_index().items()},
            "units": len(self.units),
            "blank_spot_desa": sum(m.status == SignalStatus.NONE for m in self.marks),
            "coverage_marks": len(self.marks),
            "towers": len(self.towers),
        }


def short_name(kab_name: str) -> str:
    """'Kabupaten Timor Tengah Utara' -> 'TTU'; 'Kota Kendari' -> 'Kendari'; 'Kabupaten Sumenep' -> 'Sumenep'."""
    words = kab_name.split()
    if words and words[0] in ("Kabupaten", "Kota", "Kab.", "Kab"):
        words = words[1:]
    return "".join(w[0] for w in words).upper() if len(words) >= 3 else " ".join(words)


def scenario_end(now: datetime | None = None) -> datetime:
    """The default end of a scenario: now, to the minute (so the live map has fresh calls)."""
    now = now or datetime.now(UTC)
    return now.replace(second=0, microsecond=0)


@dataclass(frozen=True)
class Reported:
    """A center's published totals for a period (local dates, inclusive), which a scenario reproduces exactly.
    Only these totals are real; every call's time, place, category and agency is simulated."""

    name: str
    region: str
    first_day: date
    last_day: date
    calls: int
    genuine: int
    resolved: int
    not_followed_up: int
    source: str

    def __post_init__(self) -> None:
        if self.resolved + self.not_followed_up != self.genuine or self.genuine > self.calls:
            raise ValueError(f"{self.name}: resolved + not followed up must equal genuine, within calls")

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1


#: CONTEXT.md: TTU, May-September 2025 (the Bupati's evaluation of the first 112 in NTT)
REPORTED = {r.name: r for r in (
    Reported("ttu-2025", "53.03", date(2025, 5, 1), date(2025, 9, 30), calls=4428, genuine=167, resolved=144,
             not_followed_up=23, source="Pemkab TTU, evaluasi NTPD 112 Mei-September 2025"),
)}


def simulate(region: Region, *, days: int = 150, seed: int = 1, end: datetime | None = None,
             reported: Reported | None = None) -> Scenario:
    """The scenario of ``days`` up to ``end``; with ``reported``, of its period (ending at local midnight after
    its last day) with exactly its published totals."""
    if reported is not None:
        if reported.region != region.code:
            raise ValueError(f"the {reported.name} figures are for region {reported.region}, not {region.code}")
        zone = ZoneInfo(timezone_for_code(region.code))
        midnight = datetime.combine(reported.last_day + timedelta(days=1), time(), zone)
        days, end = reported.days, midnight.astimezone(UTC)
    end = scenario_end() if end is None else end.astimezone(UTC)
    rng = np.random.default_rng([seed, int(region.code.replace(".", ""))])
    kab_short = short_name(region.name) if region.level == "kabkota" else ""
    incidents = _incidents(region, rng, days=days, end=end, seed=seed, kab_short=kab_short, reported=reported)
    units, positions = _responders(region, rng, end=end, kab_short=kab_short)
    marks = _blank_spots(region, rng)
    return Scenario(incidents, units, positions, marks, _towers(region, seed))


def load_scenario(
    store: Store, region: Region, locator: Locator, *, days: int = 150, seed: int = 1, end: datetime | None = None,
    actor: str = "system", reported: Reported | None = None,
) -> dict[str, Any]:
    """Write a scenario into the store and label the store as holding simulated data. The audit log records it
    as ``simulate.load`` by ``actor`` (``system`` when the app loads it into an empty store by itself)."""
    scenario = simulate(region, days=days, seed=seed, end=end, reported=reported)
    days = reported.days if reported else days
    result = write_incidents(store, locator, scenario.incidents)
    store.upsert_units(scenario.units)
    store.write_positions(scenario.positions)
    if not store.coverage_marks().shape[0]:
        store.add_coverage_marks(scenario.marks)
    if store.towers().empty:  # never beside real towers (an OpenCelliD import)
        store.add_towers(scenario.towers)
    store.set_meta("scenario", "simulated")
    store.set_meta("scenario_region", region.code)
    store.set_meta("scenario_seed", str(seed))
    summary = scenario.summary()
    summary.update(region=region.code, days=days, seed=seed, inserted=result.inserted, updated=result.updated,
                   unchanged=result.unchanged)
    if reported:
        summary.update(reported=reported.name, first_day=reported.first_day.isoformat(),
                       last_day=reported.last_day.isoformat(), source=reported.source)
    audit.record(store, actor, "simulate.load", region.code, days=days, seed=seed, inserted=result.inserted,
                 updated=result.updated, duplicates=result.unchanged, units=len(scenario.units))
    return summary


def _weights(rng: np.random.Generator, n: int, sigma: float) -> np.ndarray:
    w = rng.lognormal(0.0, sigma, n)
    return w / w.sum()


def _incidents(
    region: Region, rng: np.random.Generator, *, days: int, end: datetime, seed: int, kab_short: str,
    reported: Reported | None = None,
) -> pd.DataFrame:
    import pandas as pd

    desa = region.desa.reset_index(drop=True)
    population = float(region.kabkota["population"].fillna(0).sum()) or 100_000.0
    if reported is None:
        n = int(rng.poisson(CALLS_PER_PERSON_DAY * population * days))
        call_types = rng.choice(list(CALL_MIX), size=n, p=_normalised(CALL_MIX))
    else:  # the published totals exactly: that many calls, that many genuine, the rest in the usual mix
        n = reported.calls
        noise = {k: v for k, v in CALL_MIX.items() if k != "genuine"}
        call_types = rng.choice(list(noise), size=n, p=_normalised(noise))
        call_types[rng.permutation(n)[:reported.genuine]] = "genuine"

    # Awareness of 112 differs by kecamatan (the thing socialisation fixes): genuine calls come unevenly.
    kec_codes = np.asarray(sorted(desa["kode_kec"].unique()))
    kec_use = dict(zip(kec_codes, rng.lognormal(0.0, 0.8, len(kec_codes)), strict=True))
    desa_w = _weights(rng, len(desa), 0.6) * desa["kode_kec"].map(kec_use).to_numpy()
    desa_w = desa_w / desa_w.sum()
    desa_idx = rng.choice(len(desa), size=n, p=desa_w)

    # Times: uniform over the days, busier by day (local 07-22) than by night.
    start = end - timedelta(days=days)
    hour_w = np.array([0.4] * 6 + [0.8] + [1.2] * 15 + [0.8, 0.5])
    day = rng.integers(0, days, n)
    hour = rng.choice(24, size=n, p=hour_w / hour_w.sum())
    offset_s = day * 86400 + hour * 3600 + rng.integers(0, 3600, n)
    received = int(start.timestamp()) + offset_s
    received = np.minimum(received, int(end.timestamp()) - 1)
    order = np.argsort(received, kind="stable")
    call_types, desa_idx, received = call_types[order], desa_idx[order], received[order]

    genuine = call_types == "genuine"
    category = np.full(n, None, dtype=object)
    category[genuine] = rng.choice(list(CATEGORY_MIX), size=int(genuine.sum()), p=_normalised(CATEGORY_MIX))
    category[call_types == "info"] = "other"

    # Outcome: resolved / not followed up for the past, still open for the last hours.
    age_s = int(end.timestamp()) - received
    outcome = np.where(genuine, np.where(rng.random(n) < RESOLVED_SHARE, "resolved", "not_followed_up"), "resolved")
    if reported is None:
        recent = genuine & (age_s < 6 * 3600)
        outcome[recent] = rng.choice(["open", "dispatched", "on_scene"], size=int(recent.sum()))
    else:  # a closed period: exactly the reported resolved and not followed up
        closed = np.flatnonzero(genuine)[rng.permutation(int(genuine.sum()))]
        outcome[closed[:reported.resolved]] = "resolved"
        outcome[closed[reported.resolved:]] = "not_followed_up"
    outcome[~genuine] = "resolved"  # a prank or ghost call is closed by the operator

    agency = np.full(n, None, dtype=object)
    agency_kind = np.full(n, None, dtype=object)
    for cat, (pattern, kind) in AGENCY_BY_CATEGORY.items():
        sel = category == cat
        sel &= genuine
        agency[sel] = pattern.format(kab=kab_short or "Provinsi").strip()
        agency_kind[sel] = str(kind)

    dispatch = np.where(genuine & (outcome != "open"), received + rng.lognormal(np.log(240), 0.5, n), np.nan)
    arrival = np.where(np.isin(outcome, ["on_scene", "resolved"]) & genuine,
                       dispatch + rng.lognormal(np.log(1800), 0.6, n), np.nan)
    resolved = np.where((outcome == "resolved") & genuine, arrival + rng.lognormal(np.log(3600), 0.7, n), np.nan)
    # not followed up: answered by the center, never reached by the agency (CONTEXT: 23 of 167 in TTU)
    nfu = outcome == "not_followed_up"
    dispatch[nfu & (rng.random(n) < 0.5)] = np.nan

    lat, lon, loc_source, kode_desa, flags = _locations(desa, desa_idx, call_types, rng)

    prank_pool = rng.integers(0, 10**6, 300)
    caller_key = np.where(np.isin(call_types, ["prank", "ghost"]) & (rng.random(n) < 0.5),
                          prank_pool[rng.integers(0, 300, n)], rng.integers(10**6, 10**9, n))
    caller_hash = [hashlib.sha256(f"sim:{seed}:{k}".encode()).hexdigest() for k in caller_key]

    frame = pd.DataFrame({
        "source": SOURCE,
        "external_id": [f"SIM-{seed}-{i:07d}" for i in range(n)],
        "received_at": received.astype("int64"),
        "call_type": call_types,
        "category": category,
        "category_label": None,
        "outcome": outcome,
        "agency": agency,
        "agency_kind": agency_kind,
        "lat": lat,
        "lon": lon,
        "location_source": loc_source,
        "kode_desa": kode_desa,
        "kode_kec": None,
        "kode_kab": None,
        "h3": None,
        "flags": flags,
        "dispatched_at": pd.array(np.where(np.isnan(dispatch), -1, dispatch).astype("int64"), dtype="Int64"),
        "arrived_at": pd.array(np.where(np.isnan(arrival), -1, arrival).astype("int64"), dtype="Int64"),
        "resolved_at": pd.array(np.where(np.isnan(resolved), -1, resolved).astype("int64"), dtype="Int64"),
        "caller_hash": caller_hash,
        "caller_last3": [f"{k % 1000:03d}" for k in caller_key],
        "notes": None,
        "simulated": True,
        "attrs": [{} for _ in range(n)],
    }, columns=list(INCIDENT_COLUMNS))
    for col in ("dispatched_at", "arrived_at", "resolved_at"):
        frame.loc[frame[col] < 0, col] = pd.NA
    return frame


def _normalised(mix: Mapping[Any, float]) -> np.ndarray:
    p = np.array(list(mix.values()), dtype="float64")
    return p / p.sum()


def _locations(
    desa: gpd.GeoDataFrame, desa_idx: np.ndarray, call_types: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    n = len(desa_idx)
    source = rng.choice(list(LOCATION_MIX), size=n, p=_normalised(LOCATION_MIX))
    has_poly = desa["has_polygon"].to_numpy(dtype=bool)[desa_idx]
    source[~has_poly & np.isin(source, ["gps", "cell"])] = "address"  # no polygon: only a name to go by
    lat, lon = random_points_in_desa(desa, desa_idx, rng)
    # a cell fix is the tower's area, not the caller: off by up to a few km
    cell = source == "cell"
    lat[cell] += rng.normal(0, 0.008, int(cell.sum()))
    lon[cell] += rng.normal(0, 0.008, int(cell.sum()))
    kode_desa = np.full(n, None, dtype=object)
    flags = np.zeros(n, dtype="int64")
    address = source == "address"
    centroids = desa.geometry.representative_point()
    lat[address] = centroids.y.to_numpy()[desa_idx[address]]
    lon[address] = centroids.x.to_numpy()[desa_idx[address]]
    kode_desa[address] = desa["kode"].to_numpy(dtype=object)[desa_idx[address]]
    flags[address] |= LocationFlag.APPROXIMATE
    unknown = source == "unknown"
    lat[unknown] = np.nan
    lon[unknown] = np.nan
    # a genuine emergency with an unknown source is still placed by the desa the caller named
    named = unknown & (call_types == "genuine")
    kode_desa[named] = desa["kode"].to_numpy(dtype=object)[desa_idx[named]]
    lat[named] = centroids.y.to_numpy()[desa_idx[named]]
    lon[named] = centroids.x.to_numpy()[desa_idx[named]]
    flags[named] |= LocationFlag.APPROXIMATE
    return lat, lon, source, kode_desa, flags


def random_points_in_desa(
    desa: gpd.GeoDataFrame, desa_idx: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """One uniform random point inside the polygon of each desa index (its point where it has none)."""
    import shapely

    n = len(desa_idx)
    lat = np.full(n, np.nan)
    lon = np.full(n, np.nan)
    geoms = desa.geometry.to_numpy()
    for d in np.unique(desa_idx):
        rows = np.flatnonzero(desa_idx == d)
        geom = geoms[d]
        if geom.geom_type == "Point":
            lat[rows], lon[rows] = geom.y, geom.x
            continue
        minx, miny, maxx, maxy = geom.bounds
        shapely.prepare(geom)
        todo = rows
        for _ in range(50):  # rejection sampling; the bbox is rarely under 2% polygon
            k = len(todo)
            x = rng.uniform(minx, maxx, 4 * k + 8)
            y = rng.uniform(miny, maxy, 4 * k + 8)
            inside = shapely.contains_xy(geom, x, y)
            take = min(k, int(inside.sum()))
            lon[todo[:take]], lat[todo[:take]] = x[inside][:take], y[inside][:take]
            todo = todo[take:]
            if not len(todo):
                break
        if len(todo):
            point = geom.representative_point()
            lat[todo], lon[todo] = point.y, point.x
    return lat, lon


def _responders(
    region: Region, rng: np.random.Generator, *, end: datetime, kab_short: str
) -> tuple[list[Unit], list[ResponderPosition]]:
    desa = region.desa[region.desa["has_polygon"]].reset_index(drop=True)
    units: list[Unit] = []
    positions: list[ResponderPosition] = []
    statuses = [UnitStatus.AVAILABLE] * 5 + [UnitStatus.DISPATCHED, UnitStatus.ON_SCENE, UnitStatus.RETURNING]
    name_kab = kab_short or "Provinsi"
    for name, agency, kind, count in UNIT_FLEET:
        for i in range(1, count + 1):
            device = f"sim-{kind}-{i}"
            units.append(Unit(device, f"{name.format(kab=name_kab)} {i}", agency.format(kab=name_kab), kind,
                              statuses[int(rng.integers(0, len(statuses)))], simulated=True))
            where = rng.integers(0, len(desa))
            lat, lon = random_points_in_desa(desa, np.array([where]), rng)
            # most units reported within the last minute; some are stale (phone off, no signal)
            age = float(rng.choice([20, 45, 90, 900, 4000], p=[0.35, 0.3, 0.15, 0.12, 0.08]))
            positions.append(ResponderPosition(device, end - timedelta(seconds=age), float(lat[0]), float(lon[0]),
                                               source="sim", speed_kmh=float(rng.uniform(0, 60)),
                                               bearing=float(rng.uniform(0, 360)), simulated=True))
    return units, positions


def _blank_spots(region: Region, rng: np.random.Generator) -> list[CoverageMark]:
    """Mark about one desa in eight as without (or with weak) signal, favouring those far from the centre."""
    desa = region.desa.reset_index(drop=True)
    centre = region.kabkota.geometry.union_all().representative_point()
    pts = desa.geometry.representative_point()
    distance = np.hypot(pts.x.to_numpy() - centre.x, pts.y.to_numpy() - centre.y)
    weight = (distance / (distance.max() or 1.0)) ** 2 + 0.02
    k = max(1, len(desa) // 8)
    chosen = rng.choice(len(desa), size=k, replace=False, p=weight / weight.sum())
    statuses = [SignalStatus.NONE, SignalStatus.NONE, SignalStatus.WEAK, SignalStatus.ONLY_2G]
    survey = (datetime(2025, 4, 1, tzinfo=UTC) + timedelta(days=int(rng.integers(0, 60)))).date().isoformat()
    return [
        CoverageMark(str(desa.loc[i, "kode"]), statuses[int(rng.integers(0, 4))], surveyed_on=survey,
                     evidence="SIMULASI: tanda contoh, bukan hasil survei", author="simulasi", simulated=True)
        for i in sorted(chosen)
    ]


def _towers(region: Region, seed: int) -> list[Tower]:
    """Simulated macro sites: one near a random desa of about two kecamatan in three, a few near the centre
    of each kab/kota. Drawn from their own generator, so adding them left the calls of every seed as they were."""
    rng = np.random.default_rng([seed, int(region.code.replace(".", "")), 7])
    desa = region.desa.sort_values("kode").reset_index(drop=True)
    points = desa.geometry.representative_point()
    kec_of_desa = desa["kode_kec"].to_numpy(dtype=object)
    kec_codes = sorted(set(kec_of_desa))
    keep = rng.random(len(kec_codes)) < TOWER_KECAMATAN_SHARE
    sites: list[tuple[float, float, float]] = []  # lat, lon, spread in degrees (0.004: about 400 m)
    for kec in np.asarray(kec_codes, dtype=object)[keep]:
        rows = np.flatnonzero(kec_of_desa == kec)
        i = int(rows[rng.integers(0, len(rows))])
        sites.append((float(points.y.iat[i]), float(points.x.iat[i]), 0.004))
    for geom in region.kabkota.sort_values("kode").geometry:
        centre = geom.representative_point()
        sites += [(centre.y, centre.x, 0.01)] * TOWERS_NEAR_CENTRE
    n = len(sites)
    spread = np.array([s[2] for s in sites])
    lat = np.array([s[0] for s in sites]) + rng.normal(0.0, 1.0, n) * spread
    lon = np.array([s[1] for s in sites]) + rng.normal(0.0, 1.0, n) * spread
    radio = rng.choice(list(TOWER_RADIOS), size=n, p=_normalised(TOWER_RADIOS))
    net = rng.choice(list(TOWER_NETS), size=n, p=_normalised(TOWER_NETS))
    area = rng.integers(1000, 60000, n)
    cell = rng.choice(np.arange(1, 65536), size=n, replace=False)  # distinct, so every site is its own tower
    range_m = rng.uniform(*TOWER_RANGE_M, n)
    return [
        Tower(round(float(lat[k]), 6), round(float(lon[k]), 6), SOURCE, radio=str(radio[k]), mcc=510,
              net=int(net[k]), area=int(area[k]), cell=int(cell[k]), range_m=float(round(range_m[k])),
              simulated=True)
        for k in range(n)
    ]


#: The simulated fleet reports every FLEET_EVERY_S while `make run` serves a simulated store.
FLEET_EVERY_S = 10


def fleet_step(store: Store, region: Region, now: int, *, seed: int = 1, silent: frozenset[str] = frozenset()) -> int:
    """Move every simulated unit one step from its latest position, as its tracker would report: dispatched and
    returning units drive (20-60 km/h), the others idle within a few metres; units in ``silent`` (phone off, no
    signal) report nothing, so the map keeps showing stale and offline units. Deterministic per (seed, now //
    FLEET_EVERY_S). Real units are never touched. Returns how many positions were written."""
    import shapely

    units = store.units()
    units = units[units["simulated"]].set_index("device_id")
    latest = store.latest_positions().set_index("device_id")
    area = region.kabkota.geometry.union_all()
    shapely.prepare(area)
    step = now // FLEET_EVERY_S
    at = datetime.fromtimestamp(step * FLEET_EVERY_S, UTC)
    fixes = []
    for i, device in enumerate(sorted(set(units.index) & set(latest.index) - silent)):
        rng = np.random.default_rng([seed, int(step), i])
        last = latest.loc[device]
        driving = units.loc[device, "status"] in (str(UnitStatus.DISPATCHED), str(UnitStatus.RETURNING))
        speed = float(rng.uniform(20, 60)) if driving else 0.0
        bearing = last["bearing"] if last["bearing"] == last["bearing"] and last["bearing"] is not None else 0.0
        bearing = (float(bearing) + float(rng.normal(0, 25))) % 360
        km = speed * FLEET_EVERY_S / 3600 if driving else float(rng.uniform(0, 0.005))
        dlat = km / 111.32 * np.cos(np.radians(bearing))
        dlon = km / (111.32 * np.cos(np.radians(float(last["lat"])))) * np.sin(np.radians(bearing))
        lat, lon = float(last["lat"]) + dlat, float(last["lon"]) + dlon
        if not shapely.contains_xy(area, lon, lat):  # at the border: turn back
            lat, lon, bearing = float(last["lat"]), float(last["lon"]), (bearing + 180) % 360
        fixes.append(ResponderPosition(device, at, round(lat, 6), round(lon, 6), source="sim",
                                       speed_kmh=round(speed, 1), bearing=round(bearing), accuracy_m=8.0,
                                       battery=float(max(15, 95 - (step % 800) / 10)), simulated=True))
    return store.write_positions(fixes)


def drive_fleet(store: Store, region: Region, stop: Any, *, seed: int = 1, every_s: int = FLEET_EVERY_S) -> None:
    """Run ``fleet_step`` every ``every_s`` until ``stop`` (a threading.Event) is set. The units silent when it
    starts stay silent (the scenario's phones that are off)."""
    import time


    log = logging.getLogger(__name__)
    now = int(time.time())
    latest = store.latest_positions()
    silent = frozenset(latest.loc[now - latest["recorded_at"].astype("int64") > 600, "device_id"])
    log.info("SIMULATED fleet: moving %d simulated units every %d s (%d stay silent)",
             len(latest) - len(silent), every_s, len(silent))
    while not stop.wait(every_s):
        try:
            fleet_step(store, region, int(time.time()), seed=seed, silent=silent)
        except StoreUnavailable as exc:
            log.warning("SIMULATED fleet: store unavailable, skipped a step: %s", exc)
