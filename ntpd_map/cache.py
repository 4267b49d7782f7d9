"""The shared cache of one installation (issue 8): Redis when ``NTPD_REDIS_URL`` is set, else files.

Every worker of every machine behind one Redis reads the same entries, so no two walls show different data.
Only serialized payloads (bytes or str) go in, and the backends below refuse anything else: unpickling a
100k-feature dict costs about 600 ms, reading its bytes costs nothing (flask-caching still pickles each value,
but the pickle of a bytes object is the bytes behind a short header).

A Redis that is down or unreachable costs a cache miss, never a 500: the payload is computed as if it had never
been cached, the outage is logged once (and its end once), and Redis is not asked again for
``SharedRedisCache.retry_after_s`` seconds, so requests do not each wait for a connect timeout.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from flask_caching import Cache
from flask_caching.backends.filesystemcache import FileSystemCache
from flask_caching.backends.rediscache import RedisCache

if TYPE_CHECKING:
    from collections.abc import Callable

    from flask import Flask
    from flask_caching import Cache

    from ntpd_map.config import Settings

log = logging.getLogger(__name__)

#: redis-py waits forever by default: a Redis host that stops answering would hold every request with it.
#: The read timeout leaves room for the largest payloads (res-9 hexagons, a few MB) on a LAN.
REDIS_OPTIONS = {"socket_connect_timeout": 1.0, "socket_timeout": 5.0}


def cache_config(settings: Settings) -> dict[str, object]:
    """flask-caching's configuration for these settings. Entries never time out: keys carry the data version
    (or a digest of what they were built from), so a stale entry is never asked for again."""
    url = settings.get("NTPD_REDIS_URL").strip()
    if url:
        # one prefix per region: two centers may share a Redis server
        return {"CACHE_TYPE": f"{__name__}.SharedRedisCache", "CACHE_REDIS_URL": url, "CACHE_DEFAULT_TIMEOUT": 0,
                "CACHE_KEY_PREFIX": f"ntpd:{settings.region}:", "CACHE_OPTIONS": dict(REDIS_OPTIONS)}
    cache_dir = settings.data_dir / "cache"
    cache_dir.mkdir(parents=True, exist_ok=True)
    return {"CACHE_TYPE": f"{__name__}.PayloadFileSystemCache", "CACHE_DIR": str(cache_dir),
            "CACHE_DEFAULT_TIMEOUT": 0}


def make_cache(server: Flask, settings: Settings) -> Cache:
    return Cache(server, config=cache_config(settings))


def check_payload(key: str, value: object) -> None:
    """Raise unless ``value`` is a serialized payload (bytes or str)."""
    if not isinstance(value, bytes | str):
        msg = (f"cache key {key!r}: {type(value).__name__} is not a serialized payload; cache the bytes you send "
               f"(json/orjson.dumps, gzip) and decode after reading: a pickled object costs its unpickling on "
               f"every hit (issue 8)")
        raise TypeError(msg)


class PayloadFileSystemCache(FileSystemCache):
    """flask-caching's FileSystemCache, taking serialized payloads only. Workers sharing the data dir share
    its entries (each is written to a temporary file and renamed into place)."""

    def set(self, key: str, value: Any, timeout: Any = None, mgmt_element: bool = False) -> bool:
        if not mgmt_element:  # cachelib's own bookkeeping (the file count) is an int
            check_payload(key, value)
        return bool(super().set(key, value, timeout, mgmt_element))  # add and set_many come through here


class SharedRedisCache(RedisCache):
    """flask-caching's RedisCache, taking serialized payloads only, where an unreachable Redis is a miss.

    flask-caching's own RedisCache raises redis-py's ConnectionError or TimeoutError from every get and set,
    which would turn a Redis outage into a 500 on every cached route."""

    retry_after_s = 5.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lock = threading.Lock()
        self._down_until = 0.0
        self._down = False

    def _guard(self, default: Any, op: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        from redis.exceptions import RedisError

        if self._down and time.monotonic() < self._down_until:
            return default
        try:
            result = op(*args, **kwargs)
        except (RedisError, OSError) as exc:
            with self._lock:
                self._down_until = time.monotonic() + self.retry_after_s
                first = not self._down
                self._down = True
            if first:
                log.warning("Redis cache unavailable (%s): computing without the cache, retrying every %.0f s",
                            exc, self.retry_after_s)
            return default
        if self._down:
            with self._lock:
                back, self._down = self._down, False
            if back:
                log.warning("Redis cache available again")
        return result

    def get(self, key: str) -> Any:
        return self._guard(None, super().get, key)

    def get_many(self, *keys: str) -> list[Any]:
        return list(self._guard([None] * len(keys), super().get_many, *keys))

    def has(self, key: str) -> bool:
        return bool(self._guard(False, super().has, key))

    def set(self, key: str, value: Any, timeout: Any = None) -> Any:
        check_payload(key, value)
        return self._guard(False, super().set, key, value, timeout)

    def add(self, key: str, value: Any, timeout: Any = None) -> Any:
        check_payload(key, value)
        return self._guard(False, super().add, key, value, timeout)

    def set_many(self, mapping: dict[str, Any], timeout: Any = None) -> list[Any]:
        for key, value in mapping.items():
            check_payload(key, value)
        return list(self._guard([], super().set_many, mapping, timeout))

    def delete(self, key: str) -> bool:
        return bool(self._guard(False, super().delete, key))

    def delete_many(self, *keys: str) -> list[Any]:
        return list(self._guard([], super().delete_many, *keys))

    def clear(self) -> bool:
        return bool(self._guard(False, super().clear))
