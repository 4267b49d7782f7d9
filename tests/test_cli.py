"""The command line, as a user runs it (issue 2)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run(args: list[str], data_dir: Path, *, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NTPD_DATA_DIR": str(data_dir), "NTPD_ALLOW_DOWNLOAD": "0"}
    proc = subprocess.run([sys.executable, "-m", "ntpd_map", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=240)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


@pytest.mark.parametrize(("code", "kecamatan", "desa", "with_polygon"), [
    ("53.03", 24, 193, 192),  # Kab. Timor Tengah Utara
    ("74.71", 11, 65, 64),  # Kota Kendari
    ("35.29", 27, 334, 334),  # Kab. Sumenep
    ("35.79", 3, 24, 24),  # Kota Batu
])
def test_boundaries_show_counts(mirror_dirs, data_dir, code, kecamatan, desa, with_polygon) -> None:
    summary = json.loads(run(["boundaries", "show", code, "--json"], data_dir).stdout)
    assert (summary["code"], summary["kecamatan"], summary["desa"], summary["desa_with_polygon"]) == (
        code, kecamatan, desa, with_polygon)
    assert summary["name"]


def test_unknown_region_names_closest_codes(mirror_dirs, data_dir) -> None:
    proc = run(["boundaries", "show", "53.99", "--json"], data_dir, check=False)
    assert proc.returncode == 2
    assert "53.09" in proc.stderr and "Closest" in proc.stderr


def test_every_command_has_help() -> None:
    for args in (["--help"], ["boundaries", "--help"], ["boundaries", "show", "--help"], ["simulate", "--help"],
                 ["db", "info", "--help"], ["boundaries", "import", "--help"]):
        proc = subprocess.run([sys.executable, "-m", "ntpd_map", *args], cwd=ROOT, capture_output=True, text=True)
        assert proc.returncode == 0 and "usage:" in proc.stdout


def test_simulate_then_db_info(mirror_dirs, tmp_path, data_dir) -> None:
    env_dir = tmp_path / "d"
    (env_dir / "boundaries").mkdir(parents=True)
    for cached in (data_dir / "boundaries").glob("*53.03*"):  # reuse the session's built region and index
        (env_dir / "boundaries" / cached.name).write_bytes(cached.read_bytes())
    first = json.loads(run(["simulate", "--region", "53.03", "--days", "30", "--seed", "1",
                            "--end", "2025-10-01T00:00"], env_dir).stdout)
    assert first["simulated"] is True and first["inserted"] == first["calls"] > 0
    again = json.loads(run(["simulate", "--region", "53.03", "--days", "30", "--seed", "1",
                            "--end", "2025-10-01T00:00"], env_dir).stdout)
    assert again["inserted"] == 0 and again["unchanged"] == first["calls"]
    info = json.loads(run(["db", "info"], env_dir).stdout)
    from ntpd_map.store.base import migrations

    assert info == {"backend": "sqlite", "schema_version": migrations("sqlite")[-1][0], "incidents": first["calls"],
                    "scenario": "simulated", "data_version": info["data_version"]}


def test_units_commands(tmp_path) -> None:
    """Register a tracker to a unit as the issue spells it, set its status, see it, remove it; prune positions."""
    add = ["units", "add", "--device", "812345", "--name", "Ambulans RSUD 1", "--agency", "RSUD Kefamenanu",
           "--kind", "medical"]
    assert json.loads(run(add, tmp_path).stdout)["added"] is True
    assert json.loads(run([*add[:-1], "fire"], tmp_path).stdout)["updated"] is True
    assert json.loads(run(["units", "status", "812345", "on_scene"], tmp_path).stdout)["status"] == "on_scene"
    (unit,) = json.loads(run(["units", "list"], tmp_path).stdout)
    assert (unit["device_id"], unit["name"], unit["kind"], unit["status"]) == ("812345", "Ambulans RSUD 1", "fire",
                                                                              "on_scene")
    bad = run(["units", "status", "999", "available"], tmp_path, check=False)
    assert bad.returncode == 2 and "no unit has device '999'" in bad.stderr
    assert run(["units", "add", "--device", "x", "--name", "A", "--agency", "B", "--kind", "boat"], tmp_path,
               check=False).returncode == 2  # argparse names the valid kinds
    assert json.loads(run(["units", "unknown"], tmp_path).stdout) == []
    assert json.loads(run(["positions", "prune", "--days", "30"], tmp_path).stdout) == {"deleted": 0,
                                                                                          "older_than_days": 30}
    assert json.loads(run(["units", "remove", "812345"], tmp_path).stdout) == {"removed": "812345"}
    assert json.loads(run(["units", "list"], tmp_path).stdout) == []
