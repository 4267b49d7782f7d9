"""The alert sound shipped in assets/ is the one scripts/alert_sound.py makes (no third-party audio)."""

from __future__ import annotations

import importlib.util
import io
import wave
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_shipped_sound_is_the_generated_one_and_a_short_audible_tone() -> None:
    spec = importlib.util.spec_from_file_location("alert_sound", ROOT / "scripts" / "alert_sound.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    made = module.alert_wav()
    assert (ROOT / "assets" / "alert.wav").read_bytes() == made, "run .venv/bin/python scripts/alert_sound.py"
    with wave.open(io.BytesIO(made)) as wav:
        seconds = wav.getnframes() / wav.getframerate()
        assert wav.getnchannels() == 1 and wav.getsampwidth() == 2 and 0.5 <= seconds <= 2.0
