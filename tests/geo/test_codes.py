"""Kemendagri codes: normalising, time zones, and which region a code or name selects (geo/codes.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ntpd_map.geo.codes import (
    PROVINCE_TZ,
    UnknownRegion,
    normalise_code,
    resolve_region_code,
    timezone_for_code,
    zone_abbrev,
)

FIXTURE_MIRROR = Path(__file__).resolve().parent.parent / "fixtures" / "geo" / "mirror"


# ------------------------------------------------------------------------ the miniature mirror (always runs)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("53.99", "53.99"),
        ("5399", "53.99"),
        (" contoh ", "53.99"),
        ("Kabupaten Contoh", "53.99"),
        ("kab. contoh", "53.99"),
        ("KOTA CONTOH", "53.98"),
        ("53", "53"),
        ("nusa tenggara timur", "53"),
    ],
)
def test_resolve_region_code(text: str, code: str) -> None:
    assert resolve_region_code(text, search_dirs=[FIXTURE_MIRROR], allow_download=False) == code


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("53.97", ["53.99", "53.98"]),
        ("Kontoh", ["53.99"]),
        ("53.99.01", ["53.99"]),  # a kecamatan: says which kab/kota to use
        ("", []),
    ],
)
def test_unknown_region_names_the_closest(text: str, expected: list[str]) -> None:
    with pytest.raises(UnknownRegion) as info:
        resolve_region_code(text, search_dirs=[FIXTURE_MIRROR], allow_download=False)
    codes = [c for c, _ in info.value.suggestions]
    assert set(expected) <= set(codes)
    for code in expected:
        assert code in str(info.value)
    assert isinstance(info.value, ValueError)


# ------------------------------------------------------------------------------------ codes and time zones


@pytest.mark.parametrize(
    ("code", "tz", "abbrev"),
    [
        ("53.03", "Asia/Makassar", "WITA"),
        ("74.71", "Asia/Makassar", "WITA"),
        ("35.29", "Asia/Jakarta", "WIB"),
        ("35.79", "Asia/Jakarta", "WIB"),
        ("11", "Asia/Jakarta", "WIB"),
        ("61.01", "Asia/Jakarta", "WIB"),
        ("62", "Asia/Jakarta", "WIB"),
        ("51.71", "Asia/Makassar", "WITA"),
        ("65", "Asia/Makassar", "WITA"),
        ("81.01", "Asia/Jayapura", "WIT"),
        ("9471", "Asia/Jayapura", "WIT"),
        ("96", "Asia/Jayapura", "WIT"),
    ],
)
def test_timezone_for_code(code: str, tz: str, abbrev: str) -> None:
    assert timezone_for_code(code) == tz
    assert zone_abbrev(tz) == abbrev


def test_every_provinsi_has_a_zone() -> None:
    provinsi = (
        "11 12 13 14 15 16 17 18 19 21 31 32 33 34 35 36 51 52 53 61 62 63 64 65 71 72 73 74 75 76 "
        "81 82 91 92 93 94 95 96"
    )
    assert sorted(PROVINCE_TZ) == provinsi.split()


def test_zone_and_code_errors_carry_the_fix() -> None:
    assert zone_abbrev("Asia/Pontianak") == "WIB"
    with pytest.raises(ValueError, match="Asia/Makassar"):
        zone_abbrev("Europe/Paris")
    with pytest.raises(ValueError, match="resolve_region_code"):
        timezone_for_code("Timor Tengah Utara")
    with pytest.raises(ValueError, match="not a Kemendagri provinsi"):
        timezone_for_code("99")
    assert normalise_code("5303062001") == "53.03.06.2001"
    with pytest.raises(ValueError, match="undotted"):
        normalise_code("53-03")


# --------------------------------------------------------------------------------- the real upstream mirror


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("kota kendari", "74.71"),
        ("Timor Tengah Utara", "53.03"),
        ("Kabupaten Sumenep", "35.29"),
        ("kota batu", "35.79"),
        ("jawa timur", "35"),
        ("3529", "35.29"),
    ],
)
def test_real_names(mirror_dirs: list[Path], text: str, code: str) -> None:
    assert resolve_region_code(text, search_dirs=mirror_dirs, allow_download=False) == code


def test_real_ambiguous_and_unknown_names(mirror_dirs: list[Path]) -> None:
    with pytest.raises(UnknownRegion, match="several regions"):
        resolve_region_code("Gorontalo", search_dirs=mirror_dirs, allow_download=False)  # provinsi and kab
    with pytest.raises(UnknownRegion) as info:
        resolve_region_code("Timor Tengah Utra", search_dirs=mirror_dirs, allow_download=False)
    assert info.value.suggestions[0] == ("53.03", "Kabupaten Timor Tengah Utara")
    assert len(info.value.suggestions) == 5
