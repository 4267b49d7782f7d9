"""Responder position reports as trackers send them (issue 6), parsed without Flask.

Two wire formats:

* **OsmAnd**, spoken by the free Traccar Client phone app and many trackers: the fields in the query string
  (or, from old clients, a form body): ``id``, ``timestamp`` (Unix seconds, milliseconds, ISO 8601 or
  ``YYYY-MM-DD HH:MM:SS``), ``lat``, ``lon`` (or ``location=lat,lon``), ``speed`` in knots, ``bearing``,
  ``altitude``, ``accuracy`` (m), ``batt`` (%), ``charge``, ``valid``. Newer clients POST JSON instead:
  ``{"device_id", "location": {"timestamp", "coords": {"latitude", "longitude", "accuracy", "speed" (m/s),
  "heading", "altitude"}, "is_moving", "odometer", "battery": {"level" (0-1), "is_charging"},
  "activity": {"type"}}}``; ``location`` may also be a list (batch sync).
* **Traccar server forwarding** (``forward.type=json``): ``{"position": {...}, "device": {...}}`` with
  ``device.uniqueId`` naming the device, ``position.fixTime`` (ISO), ``latitude``, ``longitude``, ``speed``
  (knots), ``course``, ``accuracy``, ``valid``, ``outdated`` and ``attributes.batteryLevel``.

Coordinates and times are checked (a bad one is a :class:`BadReport` with the reason, answered 400); an optional
field that makes no sense (a negative speed, heading -1) is dropped, not fatal: the fix still lands. A report
without a GPS fix (``valid=false``, Traccar's ``outdated``) is recognised and not stored as a new position.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from ntpd_map.domain import ResponderPosition

KNOT_KMH = 1.852
MPS_KMH = 3.6
#: A phone's clock may run a little ahead; a fix further in the future than this is refused (it would pin the
#: unit to that place until the clock caught up).
FUTURE_TOLERANCE_S = 300
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
MAX_DEVICE_ID = 100
MAX_FIXES = 1000
_NUMBER = re.compile(r"-?\d+(\.\d+)?")


class BadReport(ValueError):
    """A report that cannot be stored; the message is the reason sent back (400)."""


@dataclass
class Report:
    """One request's device and its fixes; ``ignored`` counts fixes without a GPS fix (not stored)."""

    device_id: str
    fixes: list[ResponderPosition] = field(default_factory=list)
    ignored: int = 0


def device_id(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise BadReport("the device id is missing (id=... or device_id)")
    text = str(value).strip()
    if not text:
        raise BadReport("the device id is missing (id=... or device_id)")
    if len(text) > MAX_DEVICE_ID or not text.isprintable():
        raise BadReport(f"the device id must be printable and at most {MAX_DEVICE_ID} characters")
    return text


def _float(value: Any) -> float | None:
    """A finite number from a JSON number or a string; None when absent or not a number."""
    if value is None or isinstance(value, bool) or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def coordinates(lat: Any, lon: Any) -> tuple[float, float]:
    if lat is None or lon is None or lat == "" or lon == "":
        raise BadReport("lat and lon are required")
    y, x = _float(lat), _float(lon)
    if y is None or x is None:
        raise BadReport(f"lat and lon must be numbers (got lat={str(lat)[:30]!r}, lon={str(lon)[:30]!r})")
    if not (-90 <= y <= 90 and -180 <= x <= 180):
        raise BadReport(f"coordinates out of range: lat={y} must be within -90..90, lon={x} within -180..180")
    if y == 0 and x == 0:
        raise BadReport("lat=0, lon=0 is a tracker without a GPS fix, not a place")
    return y, x


def timestamp(value: Any, now: float, tz: str) -> datetime:
    """Unix seconds or milliseconds, ISO 8601 (without an offset: the center's zone) or YYYY-MM-DD HH:MM:SS."""
    if value is None or value == "":
        return datetime.fromtimestamp(int(now), UTC)  # as Traccar does: no time, the time it arrived
    when: datetime | None = None
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    number = float(value) if numeric or (isinstance(value, str) and _NUMBER.fullmatch(value.strip())) else None
    if number is not None:
        seconds = number / 1000 if abs(number) >= 2**31 - 1 else number  # Traccar's rule for milliseconds
        try:
            when = datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            when = None
    elif isinstance(value, str):
        try:
            when = datetime.fromisoformat(value.strip())
        except ValueError:
            when = None
        if when is not None and when.tzinfo is None:
            when = when.replace(tzinfo=ZoneInfo(tz))
    if when is None:
        raise BadReport(f"timestamp {str(value)[:40]!r} is not Unix seconds, milliseconds or an ISO 8601 time")
    when = when.astimezone(UTC)
    if when < EARLIEST:
        raise BadReport(f"timestamp {when.isoformat()} is before 2000: the device clock is not set")
    if when.timestamp() > now + FUTURE_TOLERANCE_S:
        ahead = int(when.timestamp() - now)
        raise BadReport(f"timestamp {when.isoformat()} is {ahead} s in the future: check the device clock")
    return when.replace(microsecond=0)


def _optional(value: Any, low: float, high: float, scale: float = 1.0) -> float | None:
    number = _float(value)
    if number is None or not (low <= number <= high):
        return None  # unknown (Traccar sends -1) or nonsense: dropped, the fix itself is kept
    return round(number * scale, 3)


def _truthy(value: Any) -> bool:
    return value is True or str(value).strip().lower() in ("1", "true", "yes")


def parse_osmand_query(params: Mapping[str, str], now: float, tz: str) -> Report:
    """The query-string (or form) flavour of the OsmAnd protocol."""
    report = Report(device_id(params.get("id") or params.get("deviceid")))
    location = params.get("location")
    lat, lon = params.get("lat"), params.get("lon")
    if (lat is None or lon is None) and location:
        lat, _, lon = location.partition(",")
    when = timestamp(params.get("timestamp"), now, tz)
    y, x = coordinates(lat, lon)
    if "valid" in params and not _truthy(params["valid"]):
        report.ignored += 1  # the tracker says this is not a fix; its coordinates are the last known
        return report
    report.fixes.append(ResponderPosition(
        report.device_id, when, y, x, source="osmand",
        speed_kmh=_optional(params.get("speed"), 0, 1000, KNOT_KMH),
        bearing=_optional(params.get("bearing", params.get("heading")), 0, 360),
        accuracy_m=_optional(params.get("accuracy"), 0, 100_000),
        battery=_optional(params.get("batt"), 0, 100),
    ))
    return report


def parse_osmand_json(body: Any, now: float, tz: str) -> Report:
    """The JSON flavour newer Traccar Client versions POST (one location, or a list when batching)."""
    if not isinstance(body, Mapping):
        raise BadReport("send a JSON object with device_id and location")
    report = Report(device_id(body.get("device_id")))
    locations = body.get("location")
    if isinstance(locations, Mapping):
        locations = [locations]
    if not isinstance(locations, list) or not locations:
        raise BadReport("location is missing: {\"location\": {\"timestamp\", \"coords\": {...}}}")
    if len(locations) > MAX_FIXES:
        raise BadReport(f"at most {MAX_FIXES} locations per request")
    for i, location in enumerate(locations):
        where = f"location[{i}]: " if len(locations) > 1 else ""
        if not isinstance(location, Mapping):
            raise BadReport(f"{where}a location must be an object")
        coords = location.get("coords")
        if not isinstance(coords, Mapping):
            raise BadReport(f"{where}location.coords is missing (a heartbeat without a fix is not a position)")
        try:
            if not location.get("timestamp"):
                raise BadReport("location.timestamp is required")
            when = timestamp(location.get("timestamp"), now, tz)
            y, x = coordinates(coords.get("latitude"), coords.get("longitude"))
        except BadReport as exc:
            raise BadReport(f"{where}{exc}") from None
        battery = location.get("battery")
        level = battery.get("level") if isinstance(battery, Mapping) else None
        report.fixes.append(ResponderPosition(
            report.device_id, when, y, x, source="osmand",
            speed_kmh=_optional(coords.get("speed"), 0, 300, MPS_KMH),
            bearing=_optional(coords.get("heading"), 0, 360),
            accuracy_m=_optional(coords.get("accuracy"), 0, 100_000),
            battery=_optional(level, 0, 1, 100),
        ))
    return report


def parse_traccar_forward(body: Any, now: float, tz: str) -> Report:
    """One position as a Traccar server forwards it (forward.type=json)."""
    if not isinstance(body, Mapping) or not isinstance(body.get("position"), Mapping) \
            or not isinstance(body.get("device"), Mapping):
        raise BadReport("send the JSON a Traccar server forwards: {\"position\": {...}, \"device\": {...}}")
    position, device = body["position"], body["device"]
    report = Report(device_id(device.get("uniqueId")))
    when = timestamp(position.get("fixTime") or position.get("deviceTime"), now, tz)
    y, x = coordinates(position.get("latitude"), position.get("longitude"))
    if position.get("valid") is False or position.get("outdated") is True:
        report.ignored += 1  # no fresh GPS fix: Traccar repeats the last known place
        return report
    attributes = position.get("attributes") if isinstance(position.get("attributes"), Mapping) else {}
    report.fixes.append(ResponderPosition(
        report.device_id, when, y, x, source="traccar",
        speed_kmh=_optional(position.get("speed"), 0, 1000, KNOT_KMH),
        bearing=_optional(position.get("course"), 0, 360),
        accuracy_m=_optional(position.get("accuracy"), 0.001, 100_000),  # Traccar sends 0 for "unknown"
        battery=_optional(attributes.get("batteryLevel"), 0, 100),
    ))
    return report
