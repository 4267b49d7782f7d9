"""Configuration is data: every setting has a default and help, and the README documents every one."""

from __future__ import annotations

from pathlib import Path

import pytest

from ntpd_map.config import SETTINGS, Settings

ROOT = Path(__file__).resolve().parent.parent


def test_every_setting_is_documented_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [s.name for s in SETTINGS if f"`{s.name}`" not in readme]
    assert missing == [], f"undocumented settings: {missing}"
    assert all(s.name.startswith("NTPD_") and s.help for s in SETTINGS)


def test_defaults_work_out_of_the_box() -> None:
    settings = Settings.from_env({})
    assert (settings.host, settings.port, settings.region) == ("127.0.0.1", 8050, "53.03")
    assert settings.database_url.startswith("sqlite:///") and settings.database_url.endswith("ntpd.sqlite")
    assert settings.tz == "Asia/Makassar"  # TTU is WITA
    assert settings.lang == "id"


def test_environment_and_overrides() -> None:
    settings = Settings.from_env({"NTPD_REGION": "35.79", "NTPD_PORT": "9000"}, lang="en")
    assert settings.region == "35.79" and settings.port == 9000 and settings.tz == "Asia/Jakarta"
    assert settings.lang == "en"
    with pytest.raises(KeyError, match="unknown setting NTPD_NOPE"):
        Settings.from_env({}, nope="1")
