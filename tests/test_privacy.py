"""Privacy (issue 8): caller numbers and victims' details never reach logs, API answers, exports or the files an
import writes. ``redact`` and its log filter first, then numbers planted through the API and a CSV import are
looked for everywhere the data comes out (``OUTPUTS``: add a (name, fetch) pair for every new way out)."""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import re
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from ntpd_map.privacy import RedactingFilter, install_log_redaction, redact

ROOT = Path(__file__).resolve().parent.parent

# ------------------------------------------------------------------------------------------- redact


@pytest.mark.parametrize(("text", "expected"), [
    ("08123456789", "********789"),
    ("hp 085712345678", "hp *********678"),
    ("korban Siti Aminah, hp 085712345678.", "korban Siti Aminah, hp *********678."),
    ("+62 812-3456-7891", "+** ***-****-*891"),
    ("+6281234567891", "+**********891"),
    ("+62 (0)812 3456 7890", "+** (*)*** **** *890"),
    ("(+62) 812.3456.7890", "(+**) ***.****.*890"),
    ("0062 812 3456 7890", "**** *** **** *890"),
    ("62 812 3456 7890", "** *** **** *890"),
    ("6281234567890", "**********890"),
    ("telp (0388) 21234", "telp (****) **234"),
    ("(021)1234567", "(***)****567"),
    ("0388-21234", "****-**234"),
    ("HP081234567890/WA", "HP*********890/WA"),
    ("nomor:0812.3456.7890, jam 10:00", "nomor:****.****.*890, jam 10:00"),
    # the number, not the date or the count written after it
    ("0812 3456 7890 2026-11-23", "**** **** *890 2026-11-23"),
    ("0812 3456 7890 2 orang", "**** **** *890 2 orang"),
    ("dua nomor 081234567890 dan 0857-1234-5678", "dua nomor *********890 dan ****-****-*678"),
])
def test_redact_masks_numbers_but_the_last_3_digits(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize("text", [
    "53.03.06.2001",  # a Kemendagri desa code
    "5303062001",
    "62.71.01.1001",  # Kalimantan Tengah codes start with 62: not a number without the mobile 8
    "6271011001",
    "2026-11-23 10:00",
    "2026-01-05 09:30:00",
    "1763880000",  # a Unix time
    "1763880000123",
    "-9.47, 124.48",
    "-0.123456789, 109.3425678",  # Pontianak: a leading 0 and a decimal point is a coordinate
    "124.0812345678",
    "0123456789",  # no area code starts with 01
    "0812 34",  # too short
    "081234567890123456789",  # too long
    "sha256 a3f08123456789012b, batch api:x:0a81234567ff",
    "rank 3 of 240 kecamatan, 4428 calls",
    "",
])
def test_redact_leaves_what_is_not_a_phone_number(text: str) -> None:
    assert redact(text) == text


DIGITS = st.text(alphabet="0123456789", min_size=1, max_size=1)
SEP = st.sampled_from(["", " ", "-", "."])


@st.composite
def phone_numbers(draw: st.DrawFn) -> str:
    """Indonesian numbers as people write them: 08.. and 0 + area code, or +62/0062/62 before the number without
    its 0 (a bare 62 only before a mobile 8), in groups of 3-5 digits joined by one kind of separator."""
    kind = draw(st.sampled_from(["local", "+62", "0062", "62"]))
    mobile = kind == "62" or draw(st.booleans())
    head = draw(st.sampled_from(["0812", "0813", "0821", "0852", "0857", "0877", "0896"] if mobile else
                                ["021", "022", "0361", "0380", "0388", "0911", "0986"]))
    length = draw(st.integers(10, 13) if mobile else st.integers(9, 12))
    body = "".join(draw(st.lists(DIGITS, min_size=length - len(head), max_size=length - len(head))))
    sep = draw(SEP)
    groups = [head if kind == "local" else head[1:]]
    while body:
        size = draw(st.integers(3, 4)) if len(body) > 4 else len(body)
        if len(body) - size == 1:  # never a last group of one digit
            size += 1
        groups.append(body[:size])
        body = body[size:]
    if kind == "local":
        return sep.join(groups)
    after_code = draw(st.sampled_from(["", " ", "-"] if kind == "62" else ["", " ", "-", ".", " (0)"]))
    return kind + after_code + sep.join(groups)


AROUND = st.text(alphabet="ghijklmnopqrstuvwxyz GHIJKLMNOPQRSTUVWXYZ:,;!?()/\n", max_size=20)


@given(before=AROUND, number=phone_numbers(), after=AROUND)
@example(before="korban Siti, hp ", number="085712345678", after="")
@example(before="", number="+62812-3456-7891", after=" (WA)")
def test_redact_masks_any_written_number_inside_text(before: str, number: str, after: str) -> None:
    # a number glued to a word on the right ("0812...x") is still a number; one glued to digits is not
    before = before if not before or not before[-1].isalnum() else before + " "
    out = redact(before + number + after)
    digits = re.sub(r"\D", "", number)
    assert out.startswith(before) and out.endswith(after)
    masked = out[len(before): len(out) - len(after)]
    assert re.sub(r"[^0-9]", "", masked) == digits[-3:]
    assert len(masked) == len(number) and masked.count("*") == len(digits) - 3


@given(code=st.tuples(st.integers(11, 94), st.integers(1, 79), st.integers(1, 40), st.integers(1001, 2999)),
       when=st.datetimes(datetime(2000, 1, 1), datetime(2099, 12, 31)),
       unix=st.integers(10**9, 2 * 10**9),
       lat=st.floats(-11, 6), lon=st.floats(95, 141))
def test_redact_leaves_codes_times_and_coordinates(code: tuple[int, int, int, int], when: datetime, unix: int,
                                                   lat: float, lon: float) -> None:
    texts = [
        "{:02d}.{:02d}.{:02d}.{:04d}".format(*code), "{:02d}{:02d}{:02d}{:04d}".format(*code),
        when.strftime("%Y-%m-%d %H:%M"), when.strftime("%Y-%m-%d %H:%M:%S"), when.isoformat(),
        when.strftime("%d/%m/%Y %H:%M"), str(unix), str(unix * 1000), f"{lat}, {lon}", f"{lat:.9f},{lon:.9f}",
        f"[{lon}, {lat}]",
    ]
    for text in texts:
        assert redact(text) == text


@given(st.text(max_size=200))
def test_redact_only_masks_digits_and_is_idempotent(text: str) -> None:
    out = redact(text)
    assert len(out) == len(text)
    assert all(a == b or (a.isdigit() and b == "*") for a, b in zip(text, out, strict=True))
    assert redact(out) == out


def test_a_long_digit_run_is_fast() -> None:
    import time

    started = time.perf_counter()
    redact(("0812" + "1" * 5000 + " ") * 20 + "08" + " 12" * 3000)
    assert time.perf_counter() - started < 1.0  # possessive groups: no catastrophic backtracking


# ------------------------------------------------------------------------------------------- the log filter


@pytest.fixture
def logger() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    log = logging.getLogger("ntpd_map.test_privacy")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    log.propagate = False
    yield log, stream
    log.removeHandler(handler)
    log.propagate = True


def test_filter_redacts_after_formatting_args(logger) -> None:
    log, stream = logger
    # handlers shared with the root logger (pytest's capture) may carry the filter already: the app installs it
    bare = sum(not any(isinstance(f, RedactingFilter) for f in h.filters) for h in log.handlers)
    assert install_log_redaction(log) == bare and install_log_redaction(log) == 0
    assert all(any(isinstance(f, RedactingFilter) for f in h.filters) for h in log.handlers)
    log.info("call from %s about %s", "081234567890", {"keterangan": "korban, hp +62 857-1234-5678"})
    log.warning("caller %(n)s repeats", {"n": "0812 9999 8888"})
    log.debug("%d calls, last %s", 3, "6281211112222")
    out = stream.getvalue()
    assert "*********890" in out and "+** ***-****-*678" in out and "**** **** *888" in out
    for planted in ("234567890", "712345678", "299998888", "211112222"):
        assert planted not in re.sub(r"\D", "", out)
    assert "3 calls" in out


def test_filter_redacts_tracebacks_and_stacks(logger) -> None:
    log, stream = logger
    install_log_redaction(log)
    try:
        raise ValueError("cannot parse nomor_penelepon '0813-2222-3333'")
    except ValueError:
        log.exception("row 7 of rekap.csv (hp %s)", "081344445555")
    log.info("where 0819 1111 2222 was seen", stack_info=True)
    out = stream.getvalue()
    assert "Traceback" in out and "ValueError: cannot parse nomor_penelepon '****-****-*333'" in out
    assert "Stack (most recent call last)" in out
    for planted in ("132222333", "134444555", "191111222"):
        assert planted not in re.sub(r"\D", "", out)


def test_filter_masks_a_message_whose_args_do_not_fit(logger, capsys) -> None:
    log, stream = logger
    install_log_redaction(log)
    log.error("caller %d", "081255556666")  # logging would print msg and args raw in its error report
    out = stream.getvalue() + capsys.readouterr().err
    assert "255556666" not in out and "*********666" in out


def test_install_is_idempotent_and_covers_root_handlers(caplog) -> None:
    root = logging.getLogger()
    before = {h: list(h.filters) for h in root.handlers}
    try:
        caplog.set_level(logging.INFO)
        install_log_redaction()
        assert install_log_redaction() == 0
        for handler in root.handlers:
            assert sum(isinstance(f, RedactingFilter) for f in handler.filters) == 1
        logging.getLogger("ntpd_map.http.incidents").info("rejected a record from %s", "+62 812-3456-7891")
        assert "+** ***-****-*891" in caplog.text and "1234567891" not in re.sub(r"\D", "", caplog.text)
        assert caplog.records[-1].getMessage() == "rejected a record from +** ***-****-*891"
    finally:
        for handler, filters in before.items():
            handler.filters[:] = filters


# ------------------------------------------------------------------------------------------- planted numbers

#: numbers planted in the data, as senders write them; each is searched for by its last 9 digits in any format
CALLER_API = "081234567890"
CALLER_API_2 = "+62 812-3456-7891"
VICTIM_API = "korban Siti Aminah, hp 085712345678"
REJECTED_API_CALLER = "0813 9876 5432"
REJECTED_API_NOTE = "keluarga korban: 0856.1122.3344"
EXTRA_API = "0819 2468 1357"  # a phone under a header that is not a caller column: kept in attrs
CALLER_CSV = "0821-1122-3344"
VICTIM_CSV = "korban Budi Santoso, hp +62 852 9988 7766"
REJECTED_CSV_CALLER = "082233445566"
REJECTED_CSV_NOTE = "keluarga korban 0877 6655 4433"
PLANTED = (CALLER_API, CALLER_API_2, VICTIM_API, REJECTED_API_CALLER, REJECTED_API_NOTE, EXTRA_API, CALLER_CSV,
           VICTIM_CSV, REJECTED_CSV_CALLER, REJECTED_CSV_NOTE)
VICTIM_NAMES = ("Siti Aminah", "Budi Santoso")

_RUN = re.compile(r"[0-9+(][0-9 ().+\-]*[0-9]")


def needle(planted: str) -> str:
    """The last 9 digits of the number in ``planted``: what no output may carry in any formatting."""
    return re.sub(r"\D", "", planted)[-9:]


def leaks(text: str) -> list[str]:
    """The planted numbers (and victims' names) found in ``text``, whatever separators the numbers were
    written with: digits are compared within each run of digits and separators."""
    found = set()
    for run in _RUN.findall(text):
        digits = re.sub(r"\D", "", run)
        found.update(p for p in PLANTED if needle(p) in digits)
    found.update(name for name in VICTIM_NAMES if name.lower() in text.lower())
    return sorted(found)


def as_text(body: bytes) -> str:
    """A response body as text; an XLSX (a zip) as the text of every XML part in it."""
    if body[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(body)) as z:
            return "\n".join(z.read(n).decode("utf-8", "replace") for n in z.namelist())
    return body.decode("utf-8", "replace")


def test_leak_finder_finds_planted_numbers_in_any_format() -> None:
    assert leaks("x 0812-3456-7890 y") == [CALLER_API]
    assert leaks('{"n": "+62 (812) 345.678.91"}') == [CALLER_API_2]
    assert leaks("<v>6285712345678</v>") == [VICTIM_API]
    assert leaks("hp *********890, siti aminah") == ["Siti Aminah"]
    assert leaks("-9.47,124.48;53.03.06.2001") == []


def local_day(offset_days: int = 0) -> str:
    return (datetime.now(ZoneInfo("Asia/Makassar")) + timedelta(days=offset_days)).date().isoformat()


def _get(path: str, role: str = "read") -> Callable[[Any, dict[str, str]], bytes]:
    def fetch(client: Any, keys: dict[str, str]) -> bytes:
        response = client.get(path, headers={"Authorization": f"Bearer {keys[role]}"})
        assert response.status_code == 200, (path, response.status_code, response.data[:300])
        return response.data
    return fetch


def outputs() -> list[tuple[str, Callable[[Any, dict[str, str]], bytes]]]:
    """Every way the data comes out over HTTP, as (name, fetch(client, keys) -> body). The pages (Dash) and a
    scan per role join this list once sign-in exists."""
    period = f"from={local_day(-40)}&to={local_day(1)}"
    out: list[tuple[str, Callable[[Any, dict[str, str]], bytes]]] = [
        ("recap", _get(f"/api/recap?{period}")),
        *((f"priorities {m} {lv} {fmt}", _get(f"/api/priorities{fmt}?{period}&metric={m}&level={lv}"))
          for m, lv in (("socialisation", "kecamatan"), ("bts", "kecamatan"), ("bts", "desa"))
          for fmt in ("", ".csv", ".xlsx")),
        ("bts-proposal.csv", _get(f"/api/bts-proposal.csv?{period}")),
        ("bts-proposal.xlsx", _get(f"/api/bts-proposal.xlsx?{period}")),
        ("hexes", _get(f"/api/hexes?{period}&res=8")),
        ("hexes empty", _get(f"/api/hexes?{period}&res=7&empty=1")),
        ("responders", _get("/api/responders")),
        ("responders unknown", _get("/api/responders/unknown", "admin")),
        ("coverage history", _get("/api/coverage/history")),
        ("health", _get("/api/health")),
        ("openapi", _get("/api/openapi.json")),
        *((f"layer {key}", _layer(key, wall=False)) for key in LAYER_KEYS),
        *((f"layer {key} wall", _layer(key, wall=True)) for key in DYNAMIC_LAYER_KEYS),
    ]
    return out


def all_layers() -> list[Any]:
    from layers import default_layers
    from layers.coverage import coverage_layers
    from layers.hexes import hex_layers

    return [*default_layers(), *hex_layers(), *coverage_layers()]


LAYER_KEYS = ("kabkota", "kecamatan", "desa", "coverage", "towers", "incidents", "responders", "hexes-7", "hexes-8",
              "hexes-9", "weak-calls")
DYNAMIC_LAYER_KEYS = ("towers", "incidents", "responders", "weak-calls")  # what a wall may be sent differently


def test_every_layer_is_scanned() -> None:
    assert {layer.key for layer in all_layers()} == set(LAYER_KEYS)
    assert {layer.key for layer in all_layers() if not layer.static} == set(DYNAMIC_LAYER_KEYS)


def _layer(key: str, wall: bool) -> Callable[[Any, dict[str, str]], bytes]:
    """A map layer's data as /layers/<key>.geojson serves a static one and the map callbacks send a dynamic one
    for the last 60 days, on the ops map or the wall. /layers/ needs a signed-in session now (accounts.py), so
    until the per-role scan signs in, the layer is asked directly."""
    def fetch(client: Any, keys: dict[str, str]) -> bytes:
        import time

        from layers.base import LayerContext, View
        from ntpd_map.store.model import IncidentQuery

        runtime = client.application.extensions["ntpd_runtime"]
        (layer,) = [la for la in all_layers() if la.key == key]
        now = int(time.time())
        view = None if layer.static else View(IncidentQuery(start=now - 60 * 86400, end=now + 86400), now)
        return json.dumps(layer.data(LayerContext(runtime, wall=wall), view), default=str).encode()
    return fetch


@pytest.fixture
def root_log() -> Iterator[io.StringIO]:
    """Everything logged during the test at DEBUG, through a root handler redacted as the app installs it."""
    root = logging.getLogger()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.setLevel(logging.DEBUG)
    level = root.level
    before = {h: list(h.filters) for h in root.handlers}
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    install_log_redaction()
    yield stream
    root.removeHandler(handler)
    root.setLevel(level)
    for h, filters in before.items():
        h.filters[:] = filters


def cli(args: list[str], data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NTPD_DATA_DIR": str(data_dir), "NTPD_ALLOW_DOWNLOAD": "0", "NTPD_SIMULATE": "never",
           "NTPD_LOG_LEVEL": "DEBUG"}
    proc = subprocess.run([sys.executable, "-m", "ntpd_map", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc


def recap_csv(path: Path) -> Path:
    when = (datetime.now(ZoneInfo("Asia/Makassar")) - timedelta(hours=3)).strftime("%Y-%m-%d %H:%M")
    rows = [
        ("CSV-1", when, "darurat", "medis", "RSUD Kefamenanu", "selesai", "-9.45", "124.48", CALLER_CSV, VICTIM_CSV),
        ("CSV-2", when, "iseng", "", "", "", "", "", REJECTED_CSV_CALLER, ""),
        # a bad row (no 31 February) carrying a number in both columns: it goes to the rejects
        ("CSV-3", "31/02/2025 10:00", "darurat", "", "", "", "-9.45", "124.48", REJECTED_CSV_CALLER,
         REJECTED_CSV_NOTE),
    ]
    header = "id;waktu;jenis_panggilan;kategori;instansi;status;lat;lon;nomor_penelepon;keterangan"
    path.write_text("\n".join([header, *(";".join(r) for r in rows)]) + "\n", encoding="utf-8")
    return path


def test_planted_numbers_never_come_out(runtime, data_dir, tmp_path, root_log) -> None:
    from ntpd_map.access.keys import create_api_key
    from ntpd_map.config import Settings
    from ntpd_map.factory import create_app
    from ntpd_map.runtime import Runtime

    work = tmp_path / "d"
    (work / "boundaries").mkdir(parents=True)
    for cached in (data_dir / "boundaries").glob("*53.03*"):  # the session's built region and locator index
        (work / "boundaries" / cached.name).write_bytes(cached.read_bytes())
    found: dict[str, list[str]] = {}

    # (b) a CSV import through the command line, with a bad row that lands in the rejects
    source = recap_csv(tmp_path / "rekap.csv")
    proc = cli(["import", "incidents", str(source), "--tz", "Asia/Makassar"], work)
    summary = json.loads(proc.stdout)
    assert (summary["accepted"], summary["rejected"]) == (2, 1)
    found["cli stdout"] = leaks(proc.stdout)
    found["cli stderr"] = leaks(proc.stderr)
    rejects_file = Path(summary["rejects_file"])
    assert rejects_file.parent == source.parent
    rejected = rejects_file.read_text(encoding="utf-8-sig")
    found["cli rejects file"] = leaks(rejected)
    (bad,) = csv.DictReader(io.StringIO(rejected, newline=""))
    assert bad["nomor_penelepon"] == "***566"  # of a caller number a reject keeps the last 3 digits only

    # (a) the API, into the same store
    rt = Runtime(Settings.from_env(NTPD_DATA_DIR=str(work), NTPD_REGION="53.03", NTPD_SIMULATE="never",
                                   NTPD_TZ="Asia/Makassar"))
    rt.__dict__["region"] = runtime.region
    rt.__dict__["locator"] = runtime.locator
    app = create_app(runtime=rt)
    client = app.server.test_client()
    keys = {role: create_api_key(rt.store, f"privacy-{role}", role)[1] for role in ("ingest", "read", "admin")}
    when = (datetime.now(ZoneInfo("Asia/Makassar")) - timedelta(hours=2)).strftime("%Y-%m-%d %H:%M")
    records = [
        {"id": "P-1", "waktu": when, "jenis_panggilan": "darurat", "kategori": "kebakaran", "instansi": "Damkar TTU",
         "status": "proses", "lat": "-9.45", "lon": "124.48", "nomor_penelepon": CALLER_API,
         "keterangan": VICTIM_API, "telepon_korban": EXTRA_API},
        {"id": "P-2", "waktu": when, "jenis_panggilan": "iseng", "nomor_penelepon": CALLER_API_2},
        {"id": "P-3", "waktu": when, "jenis_panggilan": "terputus", "nomor_penelepon": CALLER_API_2,
         "lat": "-9.3", "lon": "124.6"},
        {"id": "P-4", "waktu": "31/02/2025 10:00", "jenis_panggilan": "darurat",
         "nomor_penelepon": REJECTED_API_CALLER, "keterangan": REJECTED_API_NOTE},
    ]
    posted = client.post("/api/incidents", json=records, headers={"Authorization": f"Bearer {keys['ingest']}"})
    assert posted.status_code == 200 and (posted.get_json()["accepted"], posted.get_json()["rejected"]) == (3, 1)
    found["POST /api/incidents"] = leaks(posted.get_data(as_text=True))

    bodies = {name: as_text(fetch(client, keys)) for name, fetch in outputs()}
    found.update({name: leaks(body) for name, body in bodies.items()})
    # a careless log line, as one added later might be: the installed filter masks it like any other
    logging.getLogger("ntpd_map.http.incidents").debug("record from %s: %s", CALLER_API, VICTIM_API.split(",")[1])
    assert "*********890" in root_log.getvalue()
    found["log"] = leaks(root_log.getvalue())
    # the rejected rows kept in the store for review (no endpoint serves them yet)
    kept = rt.store.rejects()
    assert len(kept) == 2 and {o.get("nomor_penelepon") for o in kept["original"]} == {"***566", "***432"}
    found["store rejects"] = leaks(kept.to_json(orient="records", force_ascii=False))
    # the scan read real answers: every accepted call is counted
    assert json.loads(bodies["recap"])["calls"]["total"] == 5
    assert {k: v for k, v in found.items() if v} == {}


def test_rejected_rows_keep_no_number_in_any_column(runtime) -> None:
    from ntpd_map.ingest.records import incidents_from_records

    batch = incidents_from_records(
        [{"id": "R-1", "waktu": "31/02/2025 10:00", "jenis_panggilan": "darurat",
          "nomor_penelepon": REJECTED_API_CALLER, "keterangan": REJECTED_API_NOTE, "telepon_korban": EXTRA_API}],
        source="test", tz="Asia/Makassar", region=runtime.region, caller_key=b"k")
    (reject,) = batch.rejects
    assert leaks(json.dumps(reject)) == []
