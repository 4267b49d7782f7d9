"""The shared cache of one installation (issue 8): Redis when ``NTPD_REDIS_URL`` is set, else files.

Every worker of every machine behind one Redis reads the same entries, so no two walls show different data.
Only serialized payloads (bytes, JSON-ready lists of plain values) go in: unpickling a 100k-feature dict
costs about 600 ms, reading its bytes costs nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask
    from flask_caching import Cache

    from ntpd_map.config import Settings


def cache_config(settings: Settings) -> dict[str, object]:
    """flask-caching's configuration for these settings. Entries never time out: keys carry the data version
    (or a digest of what they were built from), so a stale entry is never asked for again."""
    url = settings.get("NTPD_REDIS_URL").strip()
    if url:
        # one prefix per region: two centers may share a Redis server
        return {"CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": url, "CACHE_DEFAULT_TIMEOUT": 0,
                "CACHE_KEY_PREFIX": f"ntpd:{settings.region}:"}
    cache_dir = settings.data_dir / "cache"
    cache_dir.mkdir(parents=True, exist_ok=True)
    return {"CACHE_TYPE": "FileSystemCache", "CACHE_DIR": str(cache_dir), "CACHE_DEFAULT_TIMEOUT": 0}


def make_cache(server: Flask, settings: Settings) -> Cache:
    from flask_caching import Cache

    return Cache(server, config=cache_config(settings))
