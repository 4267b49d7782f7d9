"""Settings: one table of (name, default, help), read from the environment once.

Every setting is an environment variable with the ``NTPD_`` prefix. The README's configuration table is
checked against ``SETTINGS`` by a test, so a setting cannot go undocumented.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ntpd_map.domain import dispatch_table
from ntpd_map.geo.codes import timezone_for_code

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Setting:
    name: str
    default: str
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("NTPD_HOST", "127.0.0.1", "Address the dashboard listens on (0.0.0.0 to serve a room network)."),
    Setting("NTPD_PORT", "8050", "TCP port of the dashboard."),
    Setting(
        "NTPD_DATABASE_URL",
        "",
        "Store URL. Empty: the embedded SQLite file <NTPD_DATA_DIR>/ntpd.sqlite. "
        "sqlite:///path/file.sqlite or postgresql://user:pass@host:5432/db (PostGIS) in production.",
    ),
    Setting("NTPD_DATA_DIR", "data", "Folder for the SQLite store, caches and exports (relative to the project)."),
    Setting("NTPD_REGION", "53.03", "Kemendagri code of the center's kab/kota (53.03) or provinsi (35)."),
    Setting(
        "NTPD_TZ",
        "",
        "IANA time zone of the center (Asia/Jakarta WIB, Asia/Makassar WITA, Asia/Jayapura WIT). "
        "Empty: derived from the region's provinsi.",
    ),
    Setting(
        "NTPD_MIRROR_DIR",
        "",
        "Folder holding the upstream boundary repositories (wilayah_boundaries/, wilayah/). Searched before "
        "data/mirror and ../shared/data; the pinned upstream files are downloaded when none has them.",
    ),
    Setting("NTPD_ALLOW_DOWNLOAD", "1", "1: download missing boundary dumps from upstream at the pinned commits."),
    Setting("NTPD_LANG", "id", "Language of the interface: id (Bahasa Indonesia) or en."),
    Setting(
        "NTPD_SIMULATE",
        "auto",
        "auto: load the labelled simulated scenario when the store has no incidents; never: leave it empty.",
    ),
    Setting("NTPD_SIM_SEED", "1", "Seed of the simulated scenario (same seed, same scenario)."),
    Setting("NTPD_SIM_DAYS", "150", "Days of history in the simulated scenario."),
    Setting(
        "NTPD_OFFSHORE_TOLERANCE_M",
        "2000",
        "A point this close to a desa but outside every polygon (coast, river mouth) is assigned to the "
        "nearest desa and flagged.",
    ),
    Setting("NTPD_H3_RES", "8", "Default H3 resolution of the hexagon analytics (7 about 5 km2, 8 about 0.7 km2, "
            "9 about 0.1 km2); the page and /api/hexes can ask for another of 7-9."),
    Setting("NTPD_REFRESH_SECONDS", "5", "How often open pages poll for new data."),
    Setting("NTPD_WALL_ROTATE_SECONDS", "30",
            "Wall display: seconds between its views (incident map, kecamatan table, signal coverage)."),
    Setting("NTPD_ACTIVE_AMBER_MIN", "15", "An open emergency (genuine, not yet resolved) is shown amber once this "
            "many minutes have passed since the call, on the wall and the operations page."),
    Setting("NTPD_ACTIVE_RED_MIN", "30", "... and red past this many minutes."),
    Setting("NTPD_STALE_PHONE_S", "120", "A unit reporting from a phone (Traccar Client, OsmAnd) is shown stale "
            "(greyed, with its age) when its last position is older than this."),
    Setting("NTPD_STALE_TRACCAR_S", "600", "The same for units forwarded by a Traccar server (vehicle trackers "
            "report less often)."),
    Setting("NTPD_OFFLINE_AFTER_S", "1800", "A unit silent for longer than this is offline: drawn faint and "
            "never proposed as a nearest available unit."),
    Setting("NTPD_DISPATCH_KINDS", "fire=fire;medical=medical;traffic_accident=police,medical;crime=police;"
            "domestic_violence=police,social;disaster=disaster,sar;utility=electricity;animal=fire;social=social",
            "Which unit kinds an incident's category needs (category=kind,kind;...): the nearest available units "
            "of those kinds are proposed first, then the others. A category not listed: the nearest of any kind."),
    Setting("NTPD_POSITION_RETENTION_DAYS", "30", "Responder positions older than this are pruned (storage "
            "stays bounded); the latest position of each unit is always kept."),
    Setting("NTPD_PG_POOL_MAX", "10", "Largest PostgreSQL connection pool per worker."),
    Setting(
        "NTPD_BASEMAP_FILE",
        "",
        "A local MBTiles file of raster basemap tiles (PNG, JPEG or WebP; MBTiles 1.3) for the center's region, "
        "served by the app at /tiles/{z}/{x}/{y}: a basemap with no internet. Takes precedence over NTPD_TILE_URL.",
    ),
    Setting(
        "NTPD_TILE_URL",
        "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        "Upstream basemap tiles, fetched by the app (never by the browser) as they are viewed and kept in a disk "
        "cache, so a room that loses its internet keeps the map it has seen. Empty (and no NTPD_BASEMAP_FILE): "
        "a plain basemap drawn from the boundaries.",
    ),
    Setting("NTPD_TILE_ATTRIBUTION", "&copy; OpenStreetMap contributors",
            "Credit shown for the tiles of NTPD_TILE_URL (an MBTiles file credits itself from its metadata)."),
    Setting("NTPD_TILE_CACHE_MB", "500", "Largest size of the disk cache of upstream tiles "
            "(<NTPD_DATA_DIR>/tiles); the least recently used tiles go first."),
    Setting("NTPD_SELECT_ZOOM", "13", "Closest zoom the ops map flies to when an incident is selected: close "
            "enough to see its desa, far enough that the basemap (or, without tiles, the desa boundaries and "
            "names) still shows where it is."),
    Setting("NTPD_LOG_LEVEL", "INFO", "Logging level (DEBUG, INFO, WARNING)."),
    Setting(
        "NTPD_SECRET_KEY",
        "",
        "Secret for the keyed hash of caller numbers (an HMAC of it also signs session cookies and CSRF "
        "tokens). Empty: a random key is made once and kept in <NTPD_DATA_DIR>/secret.key (keep that file: a new "
        "key makes repeat callers unrecognisable).",
    ),
    Setting("NTPD_MAX_UPLOAD_MB", "20", "Largest request or uploaded file accepted, in megabytes."),
    Setting("NTPD_REDIS_URL", "", "redis://host:6379/0 to share the cache (and the login rate limits) between "
            "workers and machines. Empty: a file cache under <NTPD_DATA_DIR>/cache (one machine)."),
    Setting("NTPD_SESSION_HOURS", "12", "A signed-in user (operator, planner, admin) must sign in again after "
            "this many hours (one shift). Wall displays stay in while their display token is valid."),
    Setting("NTPD_LOGIN_LIMIT", "5 per minute;30 per hour", "Sign-in attempts allowed per address and user name "
            "(Flask-Limiter syntax); more get 429 and wait."),
    Setting("NTPD_SECURE_COOKIES", "0", "1 when the dashboard is served over HTTPS (behind a proxy): cookies "
            "are sent only over HTTPS and browsers are told to keep to HTTPS (HSTS)."),
    Setting("NTPD_TOWER_DEFAULT_RANGE_M", "3000", "Range (m) credited to a known tower without one (a surveyed "
            "mast; OpenCelliD rows with range 0) when estimating the area no tower reaches."),
)

_BY_NAME = {s.name: s for s in SETTINGS}


@dataclass(frozen=True)
class Settings:
    """The settings of one app instance. Build with ``Settings.from_env()``; tests pass overrides."""

    values: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: str) -> Settings:
        env = os.environ if environ is None else environ
        values = {s.name: env.get(s.name, s.default) for s in SETTINGS}
        for key, value in overrides.items():
            name = key if key.startswith("NTPD_") else f"NTPD_{key.upper()}"
            if name not in _BY_NAME:
                raise KeyError(f"unknown setting {name}; known: {', '.join(sorted(_BY_NAME))}")
            values[name] = str(value)
        return cls(values)

    def get(self, name: str) -> str:
        return self.values[name]

    @property
    def host(self) -> str:
        return self.values["NTPD_HOST"]

    @property
    def port(self) -> int:
        return int(self.values["NTPD_PORT"])

    @property
    def data_dir(self) -> Path:
        path = Path(self.values["NTPD_DATA_DIR"])
        return path if path.is_absolute() else PROJECT_ROOT / path

    @property
    def boundaries_dir(self) -> Path:
        return self.data_dir / "boundaries"

    @property
    def database_url(self) -> str:
        return self.values["NTPD_DATABASE_URL"] or f"sqlite:///{self.data_dir / 'ntpd.sqlite'}"

    @property
    def region(self) -> str:
        return self.values["NTPD_REGION"].strip()

    @property
    def tz(self) -> str:
        if self.values["NTPD_TZ"]:
            return self.values["NTPD_TZ"]

        return timezone_for_code(self.region)

    @property
    def lang(self) -> str:
        return "en" if self.values["NTPD_LANG"].lower().startswith("en") else "id"

    @property
    def mirror_dirs(self) -> list[Path]:
        """Where boundary dumps are looked for, in order (issue 2)."""
        dirs = []
        if self.values["NTPD_MIRROR_DIR"]:
            dirs.append(Path(self.values["NTPD_MIRROR_DIR"]))
        dirs += [self.data_dir / "mirror", PROJECT_ROOT.parent / "shared" / "data"]
        return dirs

    @property
    def allow_download(self) -> bool:
        return self.values["NTPD_ALLOW_DOWNLOAD"] not in ("0", "false", "no", "")

    def int(self, name: str) -> int:
        return int(self.values[name])

    @property
    def dispatch_kinds(self) -> dict[str, tuple[str, ...]]:
        """NTPD_DISPATCH_KINDS as a table, category -> the unit kinds it needs first (ValueError if malformed)."""
        return dispatch_table(self.values["NTPD_DISPATCH_KINDS"])
