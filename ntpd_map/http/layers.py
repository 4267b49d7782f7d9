"""Static map layers by URL: boundaries and the clipped hexagons, serialized and gzipped once, cached by the
browser (an ETag; a day's max-age). Dynamic layers (incidents, responders) are sent by the pages' callbacks."""

from __future__ import annotations

import gzip
import hashlib
import json

from flask import Response, abort, request

from layers.base import LayerContext
from ntpd_map.access.roles import EVERYONE
from ntpd_map.http.routes import SESSION, Call, Route


def static_layer(call: Call, key: str) -> Response:
    layer = next((layer for layer in call.layers if layer.static and layer.key == key), None)
    if layer is None:
        abort(404)
    cache = call.cache
    cache_key = f"layer:{call.runtime.region.code}:{key}"
    body: bytes | None = cache.get(cache_key)
    if body is None:
        # cached serialized, not as Python objects: a worker answers with the bytes as they are
        body = json.dumps(layer.data(LayerContext(call.runtime), None), separators=(",", ":")).encode()
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


ROUTES = (
    # any signed-in person or display: boundaries carry no personal data
    Route("GET", "/layers/<key>.geojson", static_layer, SESSION, EVERYONE),
)
