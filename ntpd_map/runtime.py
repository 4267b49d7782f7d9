"""What one process holds: settings, the store, the region's boundaries and its locator, loaded on first use."""

from __future__ import annotations

import logging
import os
import secrets
import threading
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ntpd_map.analytics import Analytics
from ntpd_map.config import Settings
from ntpd_map.geo.boundaries import load_region
from ntpd_map.geo.locate import Locator
from ntpd_map.geo.tiles import MBTiles, TileProxy, TileSource
from ntpd_map.ingest.simulate import load_scenario
from ntpd_map.ingest.write import Retention
from ntpd_map.store import open_store
from ntpd_map.views import zone_label

if TYPE_CHECKING:
    from ntpd_map.geo.boundaries import Region
    from ntpd_map.store.base import Store

log = logging.getLogger(__name__)


class Runtime:
    """Lazily opened resources of one app or CLI process. Nothing here runs at import time."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings.from_env()
        self._lock = threading.Lock()

    @cached_property
    def store(self) -> Store:
        store = open_store(self.settings.database_url, pool_max=self.settings.int("NTPD_PG_POOL_MAX"))
        store.migrate()
        return store

    def region_for(self, code: str) -> Region:
        return load_region(
            code,
            search_dirs=self.settings.mirror_dirs,
            cache_dir=self.settings.boundaries_dir,
            allow_download=self.settings.allow_download,
        )

    @cached_property
    def region(self) -> Region:
        return self.region_for(self.settings.region)

    @cached_property
    def locator(self) -> Locator:
        return self.locator_for(self.region)

    def locator_for(self, region: Region) -> Locator:
        return Locator.from_region(
            region,
            tolerance_m=float(self.settings.get("NTPD_OFFSHORE_TOLERANCE_M")),
            cache_path=self.settings.boundaries_dir / f"locator_{region.code}.npz",
        )

    @cached_property
    def basemap(self) -> TileSource | None:
        """What /tiles serves: the NTPD_BASEMAP_FILE, else NTPD_TILE_URL through the disk cache, else None (the
        maps then draw a plain basemap from the boundaries). MBTilesError for a file that cannot be served."""
        settings = self.settings
        if settings.get("NTPD_BASEMAP_FILE"):
            return MBTiles(Path(settings.get("NTPD_BASEMAP_FILE")).expanduser())
        if settings.get("NTPD_TILE_URL"):
            return TileProxy(settings.get("NTPD_TILE_URL"), settings.data_dir / "tiles",
                             settings.int("NTPD_TILE_CACHE_MB") * 2**20,
                             attribution=settings.get("NTPD_TILE_ATTRIBUTION"))
        return None

    @cached_property
    def analytics(self) -> Analytics:
        """Hexagon counts and priority indices (issue 5), with their per-process caches."""
        return Analytics(self)

    @cached_property
    def retention(self) -> Retention:
        """Prunes responder positions past NTPD_POSITION_RETENTION_DAYS while reports arrive (one per process)."""
        return Retention(self)

    @cached_property
    def secret_key(self) -> bytes:
        """Key of the caller-number hash: the setting, else a random one kept in the data dir."""
        if self.settings.get("NTPD_SECRET_KEY"):
            return self.settings.get("NTPD_SECRET_KEY").encode()
        path = self.settings.data_dir / "secret.key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32))
        return path.read_text().strip().encode()

    @cached_property
    def names(self) -> dict[str, str]:
        """Kemendagri code -> name for every kecamatan and desa of the region."""
        region = self.region
        names = dict(zip(region.kecamatan["kode"], region.kecamatan["nama"], strict=True))
        names.update(zip(region.desa["kode"], region.desa["nama"], strict=True))
        return names

    @property
    def zone(self) -> str:
        """WIB, WITA or WIT: the abbreviation shown next to every time."""
        return zone_label(self.settings.tz)

    def ensure_scenario(self) -> dict[str, Any] | None:
        """Load the labelled simulation when the store is empty and NTPD_SIMULATE=auto (issue 2/3)."""
        if self.settings.get("NTPD_SIMULATE") != "auto":
            return None
        with self._lock:
            if self.store.count_incidents() > 0:
                return None
            summary = load_scenario(
                self.store,
                self.region,
                self.locator,
                days=self.settings.int("NTPD_SIM_DAYS"),
                seed=self.settings.int("NTPD_SIM_SEED"),
            )
            log.info("store was empty: loaded the SIMULATED scenario for %s (%s calls)", self.region.code,
                     summary["calls"])
            return summary

    def is_simulated(self) -> bool:
        return self.store.get_meta("scenario") == "simulated"
