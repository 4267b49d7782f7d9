"""JavaScript shared by the browser tests and the UI bench: record each Leaflet map when it is created.

dash-leaflet publishes Leaflet as ``window.L`` but keeps the map instance inside React; Leaflet's public
``addInitHook`` hands every new map to ``window.__ntpdMaps``, so a test can count what the map draws (markers on
a canvas, ``preferCanvas``, are not DOM elements).
"""

RECORD_MAPS_JS = """
  window.__ntpdMaps = [];
  var leaflet;
  Object.defineProperty(window, "L", {
    configurable: true,
    get: function () { return leaflet; },
    set: function (value) {
      leaflet = value;
      if (value && value.Map && !value.__ntpdHooked) {
        value.__ntpdHooked = true;
        value.Map.addInitHook(function () { window.__ntpdMaps.push(this); });
      }
    }
  });
"""
