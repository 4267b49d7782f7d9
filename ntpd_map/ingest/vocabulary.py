"""The record format (issue 4, "The record format"): our fields and the headers that name them, the words of
each vocabulary column, agency kinds, and the hints and reasons a reject gives.

Data and pure functions of a text: both parse paths (``records``) read the same tables, so they cannot disagree
about what a header or a word means.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from ntpd_map.domain import AgencyKind, CallType, Category, LocationSource, Outcome, Vocabulary

#: Our fields: (Indonesian column name, English alias, further accepted names). The first name is the one
#: recaps use; the English alias is what the API documents.
FIELDS: dict[str, tuple[str, ...]] = {
    "external_id": ("id", "external_id"),
    "received_at": ("waktu", "received_at"),
    "call_type": ("jenis_panggilan", "call_type"),
    "category": ("kategori", "category"),
    "agency": ("instansi", "agency"),
    "outcome": ("status", "outcome"),
    "lat": ("lat", "latitude"),
    "lon": ("lon", "longitude", "lng"),
    "desa": ("desa", "village", "kelurahan", "desa/kelurahan"),
    "kecamatan": ("kecamatan", "subdistrict"),
    "kode_wilayah": ("kode_wilayah", "kode_desa", "region_code"),
    "location_source": ("lokasi_sumber", "location_source"),
    "dispatched_at": ("waktu_dispatch", "dispatched_at"),
    "arrived_at": ("waktu_tiba", "arrived_at"),
    "resolved_at": ("waktu_selesai", "resolved_at"),
    # the usual headers for a phone number are all read as the caller's number, so that a recap's "No HP"
    # column is hashed instead of landing verbatim in attrs (UU 27/2022; issue 4 "Caller numbers")
    "caller_number": (
        "nomor_penelepon", "caller_number", "no_penelepon", "nomor_telepon", "no_telepon", "no_telp",
        "nomor_hp", "no_hp", "phone", "phone_number", "msisdn",
    ),
    "notes": ("keterangan", "notes"),
}
REQUIRED_FIELDS = ("external_id", "received_at", "call_type")
TIME_FIELDS = ("received_at", "dispatched_at", "arrived_at", "resolved_at")
#: The steps of a call in the order they happen (issue 19): a later step before an earlier one is impossible
#: (``resolved_at`` is checked against ``dispatched_at`` only when there is no arrival). (later, earlier,
#: only when this step is missing)
STEP_ORDER = (("arrived_at", "dispatched_at", None), ("resolved_at", "arrived_at", None),
              ("resolved_at", "dispatched_at", "arrived_at"))
#: Reasons are reported under these codes in ParsedBatch.summary()["reasons"].
REASON_CODES = (
    "not_an_object",
    "conflicting_fields",
    "external_id_missing",
    "received_at_missing",
    *(f"{f}_{p}" for f in TIME_FIELDS for p in ("invalid", "future", "before_2015")),
    *(f"{f}_before_received" for f in TIME_FIELDS[1:]),
    *(f"{later}_before_{earlier.removesuffix('_at')}" for later, earlier, _ in STEP_ORDER),
    "call_type_missing",
    "call_type_unknown",
    "outcome_unknown",
    "coordinates_invalid",
    "coordinates_out_of_range",
    "coordinates_incomplete",
    "desa_ambiguous",
)
EARLIEST = "2015-01-01"  # issue 4: a time before 2015 is a typo, not a record
FUTURE_SLACK_S = 300  # clocks of call-taking PCs drift; 5 minutes ahead is still "now"
TIME_HINT = "use YYYY-MM-DD HH:MM or DD/MM/YYYY HH:MM"


def _fold_header(text: str) -> str:
    return re.sub(r"[\s_\-.]+", "", str(text)).casefold()


_HEADER_TO_FIELD = {_fold_header(name): f for f, names in FIELDS.items() for name in names}


def field_for_header(header: str) -> str | None:
    """Our field for a column header ("Jenis Panggilan" -> "call_type"), or None for an extra column."""
    return _HEADER_TO_FIELD.get(_fold_header(header))


def _fold_word(text: str) -> str:
    """Vocabulary key: case, spaces, dashes and underscores ignored ("Salah-Sambung" == "salahsambung")."""
    return re.sub(r"[\s_\-]+", "", text).casefold()


def _vocabulary(enum: type[Vocabulary], extra: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """Folded word -> canonical value: the canonical words, the app's own labels (so an export re-imports),
    and the words of issue 4. A word claimed by two values is a bug in this table."""
    table: dict[str, str] = {}

    def add(word: str, value: str) -> None:
        key = _fold_word(word)
        if table.setdefault(key, value) != value:
            raise AssertionError(f"{word!r} maps to both {table[key]} and {value}")

    for member in enum:
        for word in (member.value, member.label_id, member.label_en):
            add(word, member.value)
    for value, words in extra.items():
        for word in words:
            add(word, value)
    return table


CALL_TYPE_WORDS = _vocabulary(CallType, {
    "genuine": ("darurat", "asli"),
    "prank": ("prank", "iseng", "palsu"),
    "ghost": ("ghost", "diam", "blank call", "panggilan kosong"),
    "dropped": ("terputus", "drop"),
    "wrong_number": ("salah sambung",),
    "info": ("informasi", "info", "tanya"),
    "test": ("uji", "tes"),
})
CATEGORY_WORDS = _vocabulary(Category, {
    "medical": ("medis", "kesehatan", "ambulans"),
    "fire": ("kebakaran",),
    "traffic_accident": ("kecelakaan", "laka lantas", "kecelakaan lalu lintas"),
    "crime": ("kriminal", "keamanan", "gangguan keamanan", "kamtibmas"),
    "disaster": ("bencana", "bencana alam", "banjir", "longsor"),
    "domestic_violence": ("kdrt", "kekerasan dalam rumah tangga"),
    "utility": ("listrik", "pln", "lampu jalan"),
    "animal": ("hewan",),
    "social": ("sosial", "odgj"),
    "other": ("lainnya",),
})
OUTCOME_WORDS = _vocabulary(Outcome, {
    "resolved": ("selesai", "tuntas"),
    "not_followed_up": ("tidak ditindaklanjuti", "tidak ditangani"),
    "open": ("proses", "dalam penanganan"),
})
LOCATION_SOURCE_WORDS = _vocabulary(LocationSource, {
    "cell": ("bts", "sel"),
    "address": ("alamat",),
})
#: Agency keywords in order (the first match wins). Short ones must be whole words ("sar" is not "pasar").
AGENCY_KEYWORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("police", ("polres", "polsek", "polisi", "satlantas")),
    ("fire", ("damkar", "pemadam")),
    ("medical", ("rsud", "puskesmas", "dinkes", "ambulans", "rumah sakit", "dinas kesehatan")),
    ("disaster", ("bpbd",)),
    ("sar", ("basarnas", r"\bsar\b")),
    ("electricity", (r"\bpln\b",)),
    ("social", ("dinsos", "dinas sosial")),
    ("transport", ("dishub", "perhubungan")),
    ("military", ("kodim", "koramil", r"\btni\b")),
)
_AGENCY_RES = tuple((kind, re.compile("|".join(words))) for kind, words in AGENCY_KEYWORDS)
assert {k for k, _ in AGENCY_KEYWORDS} | {"other"} == {str(k) for k in AgencyKind}


def agency_kind(agency: str) -> str:
    """The kind of a free-text agency ("Polres TTU" -> police); "other" when no keyword matches."""
    text = " ".join(agency.casefold().split())
    for kind, pattern in _AGENCY_RES:
        if pattern.search(text):
            return kind
    return str(AgencyKind.OTHER)


def _hint(words: Mapping[str, str], examples: Sequence[str]) -> str:
    return ", ".join(examples) + " or " + ", ".join(sorted(set(words.values())))


_CALL_TYPE_HINT = _hint(CALL_TYPE_WORDS, ("darurat", "iseng", "panggilan kosong", "terputus", "salah sambung",
                                          "informasi", "uji"))
_OUTCOME_HINT = _hint(OUTCOME_WORDS, ("selesai", "tidak ditindaklanjuti", "proses"))


# ------------------------------------------------------------------------------------------- reasons

# Reasons, shared by both paths: (what is wrong) after the column's name and value.
_INVALID_TIME = f"is not a valid time ({TIME_HINT})"
_NOT_A_NUMBER = "is not a number"
_UNKNOWN_CALL_TYPE = f"is not a known call type (use {_CALL_TYPE_HINT})"
_UNKNOWN_OUTCOME = f"is not a known outcome (use {_OUTCOME_HINT})"
_BOUNDS = {"lat": 90, "lon": 180}


def _missing_reason(names: Mapping[str, str], field: str) -> str:
    hint = {"received_at": TIME_HINT, "call_type": f"use {_CALL_TYPE_HINT}"}.get(field)
    return f"{names[field]} is missing" + (f" ({hint})" if hint else "")


def _incomplete_reason(names: Mapping[str, str], has_lat: bool) -> str:
    given, absent = ("lat", "lon") if has_lat else ("lon", "lat")
    return f"{names[given]} is given but {names[absent]} is missing"
