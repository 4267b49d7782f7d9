"""The basemap at the app's own origin (issue 18): ``/tiles/{z}/{x}/{y}`` from the MBTiles file or the cached
upstream (``geo/tiles.py``). The browser never asks a server outside the app, so the Content-Security-Policy
allows images from 'self' only, and a room without internet still gets every tile it has."""

from __future__ import annotations

import hashlib

from flask import Response, request

from ntpd_map.access.roles import EVERYONE
from ntpd_map.geo.tiles import MBTiles
from ntpd_map.http.routes import SESSION, Call, Route

#: a basemap file changes when an admin replaces it (and restarts); cached tiles of an upstream change rarely
MAX_AGE_S = {True: 7 * 86400, False: 86400}


def tile(call: Call, z: int, x: int, y: int) -> Response:
    source = call.runtime.basemap
    found = source.tile(z, x, y) if source is not None else None
    if found is None:
        # no tile here (outside the file's area or zooms, or the upstream unreachable and never seen): Leaflet
        # leaves the square empty and the boundaries show through
        response = Response(status=404)
        response.cache_control.no_store = True
        return response
    etag = hashlib.blake2b(found.data, digest_size=16).hexdigest()
    if request.if_none_match.contains(etag):
        return Response(status=304)
    response = Response(found.data, mimetype=found.media_type)
    response.set_etag(etag)
    response.cache_control.public = True
    response.cache_control.max_age = MAX_AGE_S[isinstance(source, MBTiles)]
    return response


ROUTES = (
    # any signed-in person or display: a basemap carries no personal data; not public, so the app is no open
    # proxy to the upstream tile server
    Route("GET", "/tiles/<int:z>/<int:x>/<int:y>", tile, SESSION, EVERYONE),
)
