"""Write assets/alert.wav, the sound of a new emergency (issue 18): made here, from numbers, so the project ships
no third-party audio. Two falling tones twice (880 Hz then 660 Hz), 1.2 s, 16-bit mono at 22,050 Hz, with short
fades so the speaker does not click. Deterministic: the same bytes on every machine (tests/test_alert_sound.py).

    .venv/bin/python scripts/alert_sound.py            # rewrite assets/alert.wav
"""

from __future__ import annotations

import io
import sys
import wave
from pathlib import Path

import numpy as np

RATE = 22_050
TONES = ((880.0, 0.25), (660.0, 0.25), (0.0, 0.1), (880.0, 0.25), (660.0, 0.25), (0.0, 0.1))
FADE_S = 0.01
VOLUME = 0.6
TARGET = Path(__file__).resolve().parent.parent / "assets" / "alert.wav"


def alert_wav() -> bytes:
    parts = []
    for hz, seconds in TONES:
        n = int(RATE * seconds)
        t = np.arange(n) / RATE
        tone = np.sin(2 * np.pi * hz * t) if hz else np.zeros(n)
        fade = np.minimum(1.0, np.minimum(t, seconds - t) / FADE_S)
        parts.append(tone * fade)
    samples = np.round(np.concatenate(parts) * VOLUME * 32767).astype("<i2")
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(RATE)
        wav.writeframes(samples.tobytes())
    return out.getvalue()


if __name__ == "__main__":
    TARGET.write_bytes(alert_wav())
    sys.stdout.write(f"wrote {TARGET} ({TARGET.stat().st_size} bytes)\n")
