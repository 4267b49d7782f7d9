"""The vocabulary of a 112 center: call types, categories, outcomes, agencies, and the records we keep.

Labels are Bahasa Indonesia first (the default UI language), English second.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Vocabulary(StrEnum):
    """A StrEnum whose members carry an Indonesian and an English label."""

    label_id: str
    label_en: str

    def __new__(cls, value: str, label_id: str = "", label_en: str = "") -> Vocabulary:
        obj = str.__new__(cls, value)
        obj._value_ = value
        obj.label_id = label_id or value
        obj.label_en = label_en or value.replace("_", " ")
        return obj

    def label(self, lang: str = "id") -> str:
        return self.label_en if lang == "en" else self.label_id


class CallType(Vocabulary):
    GENUINE = "genuine", "Darurat", "Genuine emergency"
    PRANK = "prank", "Iseng/palsu", "Prank"
    GHOST = "ghost", "Panggilan kosong", "Ghost (silent)"
    DROPPED = "dropped", "Terputus", "Dropped"
    WRONG_NUMBER = "wrong_number", "Salah sambung", "Wrong number"
    INFO = "info", "Informasi", "Information"
    TEST = "test", "Uji coba", "Test"


class Category(Vocabulary):
    MEDICAL = "medical", "Medis", "Medical"
    FIRE = "fire", "Kebakaran", "Fire"
    TRAFFIC_ACCIDENT = "traffic_accident", "Kecelakaan lalu lintas", "Traffic accident"
    CRIME = "crime", "Gangguan keamanan", "Crime and security"
    DISASTER = "disaster", "Bencana", "Disaster"
    DOMESTIC_VIOLENCE = "domestic_violence", "KDRT", "Domestic violence"
    UTILITY = "utility", "Listrik/utilitas", "Utility"
    ANIMAL = "animal", "Hewan", "Animal"
    SOCIAL = "social", "Sosial", "Social"
    OTHER = "other", "Lainnya", "Other"


class Outcome(Vocabulary):
    OPEN = "open", "Dalam proses", "Open"
    DISPATCHED = "dispatched", "Dikirim", "Dispatched"
    ON_SCENE = "on_scene", "Di lokasi", "On scene"
    RESOLVED = "resolved", "Selesai", "Resolved"
    NOT_FOLLOWED_UP = "not_followed_up", "Tidak ditindaklanjuti", "Not followed up"


#: Outcomes that still need someone's attention.
ACTIVE_OUTCOMES = (Outcome.OPEN, Outcome.DISPATCHED, Outcome.ON_SCENE)


class AgencyKind(Vocabulary):
    POLICE = "police", "Kepolisian", "Police"
    FIRE = "fire", "Pemadam kebakaran", "Fire service"
    MEDICAL = "medical", "Medis/ambulans", "Medical"
    DISASTER = "disaster", "BPBD", "Disaster agency"
    SAR = "sar", "Basarnas", "Search and rescue"
    ELECTRICITY = "electricity", "PLN", "Electricity"
    SOCIAL = "social", "Dinas Sosial", "Social services"
    TRANSPORT = "transport", "Dinas Perhubungan", "Transport"
    MILITARY = "military", "TNI/Kodim", "Military"
    OTHER = "other", "Lainnya", "Other"


class LocationSource(Vocabulary):
    GPS = "gps", "GPS", "GPS"
    CELL = "cell", "BTS (sel)", "Cell tower"
    ADDRESS = "address", "Alamat disebutkan", "Address told"
    UNKNOWN = "unknown", "Tidak diketahui", "Unknown"


class SignalStatus(Vocabulary):
    NONE = "none", "Tidak ada sinyal", "No signal"
    WEAK = "weak", "Lemah", "Weak"
    ONLY_2G = "2g_only", "2G saja", "2G only"
    GOOD = "good", "Baik", "Good"


class UnitStatus(Vocabulary):
    AVAILABLE = "available", "Siaga", "Available"
    DISPATCHED = "dispatched", "Dikirim", "Dispatched"
    ON_SCENE = "on_scene", "Di lokasi", "On scene"
    RETURNING = "returning", "Kembali", "Returning"
    OFF_DUTY = "off_duty", "Tidak bertugas", "Off duty"


class LocationFlag:
    """Bit flags on an incident's location (stored as one integer)."""

    APPROXIMATE = 1  # placed at a desa centroid from a name or code, not measured
    OFFSHORE_SNAPPED = 2  # just outside every polygon, assigned to the nearest desa within tolerance
    OUT_OF_REGION = 4  # valid coordinates outside the center's region: kept, never moved
    NO_LOCATION = 8  # neither coordinates nor a desa

    @staticmethod
    def names(flags: int) -> list[str]:
        out = []
        for name in ("APPROXIMATE", "OFFSHORE_SNAPPED", "OUT_OF_REGION", "NO_LOCATION"):
            if flags & getattr(LocationFlag, name):
                out.append(name.lower())
        return out


@dataclass
class Incident:
    """One call record. Times are timezone-aware and stored in UTC."""

    source: str
    external_id: str
    received_at: datetime
    call_type: CallType
    category: Category | None = None
    category_label: str | None = None  # the original label when the category was not recognised
    outcome: Outcome = Outcome.OPEN
    agency: str | None = None
    agency_kind: AgencyKind | None = None
    lat: float | None = None
    lon: float | None = None
    location_source: LocationSource = LocationSource.UNKNOWN
    kode_desa: str | None = None  # set on write by point-in-polygon, or given by the record
    dispatched_at: datetime | None = None
    arrived_at: datetime | None = None
    resolved_at: datetime | None = None
    caller_hash: str | None = None  # keyed hash, never the number itself (issue 4)
    caller_last3: str | None = None
    notes: str | None = None
    simulated: bool = False
    attrs: dict[str, Any] = field(default_factory=dict)
    flags: int = 0


@dataclass
class ResponderPosition:
    device_id: str
    recorded_at: datetime
    lat: float
    lon: float
    source: str = "osmand"  # osmand (phone) or traccar (server forward) or sim
    speed_kmh: float | None = None
    bearing: float | None = None
    accuracy_m: float | None = None
    battery: float | None = None
    simulated: bool = False


@dataclass
class Unit:
    device_id: str
    name: str
    agency: str
    kind: AgencyKind
    status: UnitStatus = UnitStatus.AVAILABLE
    simulated: bool = False


@dataclass
class CoverageMark:
    """A planner's statement about cell signal in a desa, or in one H3 cell kept with the desa it lies in
    (issue 7). Each one stored is a change in the coverage audit trail (``Store.mark_coverage``)."""

    kode_desa: str
    status: SignalStatus
    surveyed_on: str | None = None  # ISO date
    operators: str | None = None
    evidence: str | None = None
    author: str = "system"
    h3: str | None = None
    simulated: bool = False

    def __post_init__(self) -> None:
        if not re.fullmatch(r"\d{2}\.\d{2}\.\d{2}\.\d{4}", str(self.kode_desa)):
            raise ValueError(f"coverage mark: {self.kode_desa!r} is not a desa code like 53.03.06.2001")
        try:
            self.status = SignalStatus(str(self.status))
        except ValueError:
            allowed = ", ".join(str(s) for s in SignalStatus)
            raise ValueError(f"coverage mark of {self.kode_desa}: status {self.status!r} is not one of "
                             f"{allowed}") from None
        if not str(self.author or "").strip():
            raise ValueError(f"coverage mark of {self.kode_desa}: who made it? (author is empty)")
        if self.surveyed_on is not None:
            from datetime import date

            try:
                date.fromisoformat(str(self.surveyed_on))
            except ValueError:
                raise ValueError(f"coverage mark of {self.kode_desa}: survey date {self.surveyed_on!r} is not a "
                                 "date YYYY-MM-DD") from None
        if self.h3 is not None and not re.fullmatch(r"[0-9a-f]{15}", str(self.h3)):
            raise ValueError(f"coverage mark of {self.kode_desa}: {self.h3!r} is not an H3 cell (15 hex digits)")


#: What a change in the coverage audit trail did: set a mark, or revert an earlier change.
COVERAGE_ACTIONS = ("mark", "undo")


@dataclass(frozen=True)
class SignalSample:
    """One field-survey measurement (issue 7): where and when, which operator, how strong. ``dbm`` is the
    received level (RSSI/RSRP, negative dBm), ``bars`` the phone's 0-5 bars (0: no signal); at least one is
    given. ``kode_desa``/``h3`` (res 9) are where the point lies, set by the importer's locator."""

    lat: float
    lon: float
    recorded_at: int  # Unix seconds UTC
    source: str
    dbm: float | None = None
    bars: int | None = None
    operator: str = ""
    network: str | None = None  # 2G, 3G, 4G, 5G as the survey app says
    kode_desa: str | None = None
    h3: int | None = None
    simulated: bool = False

    def __post_init__(self) -> None:
        if not (-90 <= self.lat <= 90 and -180 <= self.lon <= 180):  # also false for NaN
            raise ValueError(f"signal sample at {self.lat}, {self.lon}: latitude must be in -90..90, longitude in "
                             "-180..180")
        if self.dbm is None and self.bars is None:
            raise ValueError("a signal sample needs dBm or bars (bars 0: no signal)")
        if self.dbm is not None and not DBM_RANGE[0] <= self.dbm <= DBM_RANGE[1]:
            raise ValueError(f"signal {self.dbm} dBm is outside {DBM_RANGE[0]}..{DBM_RANGE[1]}")
        if self.bars is not None and not 0 <= self.bars <= MAX_BARS:
            raise ValueError(f"signal {self.bars} bars is outside 0..{MAX_BARS}")
        if not self.source:
            raise ValueError("a signal sample needs a source (the survey file)")


#: plausible received levels of a phone (dBm): below -140 nothing decodes, above -20 is next to the antenna
DBM_RANGE = (-140.0, -20.0)
MAX_BARS = 5


#: The levels population figures are kept at, by the number of dots in their Kemendagri code.
POPULATION_LEVELS = {2: "kecamatan", 3: "desa"}


@dataclass(frozen=True)
class PopulationFigure:
    """How many people live in a kecamatan (``53.03.06``) or desa (``53.03.06.2001``): the denominator of
    call rates per person, which tell where 112 needs socialising (issue 5). ``year`` is the year of the
    count (Dukcapil publishes per semester); ``source`` says where it came from."""

    kode: str
    population: int
    year: int | None = None
    source: str = "import"

    def __post_init__(self) -> None:
        if self.kode.count(".") not in POPULATION_LEVELS:
            raise ValueError(f"population of {self.kode!r}: give a dotted kecamatan (53.03.06) or desa "
                             "(53.03.06.2001) code")
        if isinstance(self.population, bool) or int(self.population) != self.population or self.population < 0:
            raise ValueError(f"population of {self.kode}: {self.population!r} is not a whole number of people")

    @property
    def level(self) -> str:
        """ "kecamatan" or "desa", from the code."""
        return POPULATION_LEVELS[self.kode.count(".")]


@dataclass(frozen=True)
class Tower:
    """A known cell tower (BTS): from OpenCelliD, a field survey or the simulation.

    (source, radio, mcc, net, area, cell) identifies a tower, as in OpenCelliD's cell export (mcc 510 is
    Indonesia; net is the operator's MNC, area the LAC/TAC). A tower without all of them (a surveyed mast with
    no cell ids) is identified by its source and position instead. ``updated_at`` is when the source last saw
    it (Unix seconds), not when it was stored.
    """

    lat: float
    lon: float
    source: str
    radio: str | None = None  # GSM, UMTS, LTE, NR
    mcc: int | None = None
    net: int | None = None
    area: int | None = None
    cell: int | None = None
    range_m: float | None = None
    samples: int | None = None
    updated_at: int | None = None
    simulated: bool = False

    def __post_init__(self) -> None:
        if not (-90 <= self.lat <= 90 and -180 <= self.lon <= 180):  # also false for NaN
            raise ValueError(f"tower at {self.lat}, {self.lon}: latitude must be in -90..90, longitude in -180..180")
        if not self.source:
            raise ValueError("a tower needs a source (opencellid, survey, simulasi, ...)")


#: Columns of the incidents table as the stores read and write them (one frame per batch).
INCIDENT_COLUMNS = (
    "source",
    "external_id",
    "received_at",
    "call_type",
    "category",
    "category_label",
    "outcome",
    "agency",
    "agency_kind",
    "lat",
    "lon",
    "location_source",
    "kode_desa",
    "kode_kec",
    "kode_kab",
    "h3",
    "flags",
    "dispatched_at",
    "arrived_at",
    "resolved_at",
    "caller_hash",
    "caller_last3",
    "notes",
    "simulated",
    "attrs",
)


def dispatch_table(text: str) -> dict[str, tuple[str, ...]]:
    """``NTPD_DISPATCH_KINDS`` read: ``category=kind,kind;category=kind``, which unit kinds serve an incident's
    category first (fire -> the fire service). Raises ValueError naming the bad part."""
    categories, kinds = {str(c) for c in Category}, {str(k) for k in AgencyKind}
    table: dict[str, tuple[str, ...]] = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        category, sep, served = part.partition("=")
        category = category.strip()
        if not sep or category not in categories:
            raise ValueError(f"NTPD_DISPATCH_KINDS: {part!r} is not category=kind[,kind] with a category of "
                             f"{', '.join(sorted(categories))}")
        names = tuple(k.strip() for k in served.split(",") if k.strip())
        unknown = [k for k in names if k not in kinds]
        if unknown:
            raise ValueError(f"NTPD_DISPATCH_KINDS: unknown unit kind {', '.join(unknown)} for {category}; "
                             f"known: {', '.join(sorted(kinds))}")
        table[category] = names
    return table
