"""Plain Flask routes beside Dash: static layers by URL (cached by the browser) and a health check."""

from __future__ import annotations

import gzip
import hashlib
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask
    from flask_caching import Cache

    from layers.base import Layer
    from ntpd_map.runtime import Runtime


def register_routes(server: Flask, runtime: Runtime, layers: list[Layer], cache: Cache) -> None:
    from flask import Response, abort, jsonify, request

    from layers.base import LayerContext
    from ntpd_map.store.base import StoreUnavailable

    static = {layer.key: layer for layer in layers if layer.static}

    @server.get("/layers/<key>.geojson")
    def static_layer(key: str) -> Response:
        layer = static.get(key)
        if layer is None:
            abort(404)
        cache_key = f"layer:{runtime.region.code}:{key}"
        body: bytes | None = cache.get(cache_key)
        if body is None:
            # cached serialized, not as Python objects: a worker answers with the bytes as they are
            body = json.dumps(layer.data(LayerContext(runtime), None), separators=(",", ":")).encode()
            cache.set(cache_key, body)
        etag = hashlib.sha256(body).hexdigest()
        if request.if_none_match.contains(etag):
            return Response(status=304)
        gzipped = "gzip" in request.accept_encodings
        if gzipped:
            # boundaries and res-9 hexagons run to megabytes of JSON and shrink about tenfold: compressed once
            packed: bytes | None = cache.get(f"{cache_key}:gzip")
            if packed is None:
                packed = gzip.compress(body, compresslevel=6, mtime=0)
                cache.set(f"{cache_key}:gzip", packed)
            body = packed
        response = Response(body, mimetype="application/geo+json")
        if gzipped:
            response.headers["Content-Encoding"] = "gzip"
        response.vary.add("Accept-Encoding")
        response.set_etag(etag)
        response.cache_control.public = True
        response.cache_control.max_age = 86400
        return response

    @server.get("/api/health")
    def health() -> Any:
        try:
            runtime.store.ping()
            version = runtime.store.data_version()
        except StoreUnavailable as exc:
            return jsonify({"status": "store_unavailable", "detail": str(exc)}), 503
        return jsonify({"status": "ok", "backend": runtime.store.backend, "data_version": version,
                        "region": runtime.region.code, "simulated": runtime.is_simulated()})
