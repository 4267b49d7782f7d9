/* A page whose session ended (signed out elsewhere, password changed, account disabled, display token revoked)
 * gets 401 from its callbacks: reload, so the person sees the sign-in page (or the wall its token's verdict)
 * instead of a map that silently stops moving. */
(function () {
  "use strict";
  var fetchOriginal = window.fetch;
  window.fetch = function () {
    return fetchOriginal.apply(this, arguments).then(function (response) {
      if (response.status === 401 && String(response.url).indexOf("/_dash-update-component") >= 0) {
        window.location.reload();
      }
      return response;
    });
  };
})();

/* Map styling for ntpd-map. Python sends data once; colours, labels and selection travel in `hideout`.
 * dash-leaflet calls these as style(feature, context), pointToLayer(feature, latlng, context),
 * clusterToLayer(feature, latlng, index, context) and onEachFeature(feature, layer, context). */
(function () {
  "use strict";

  /* The wall is drawn for its screen: sizes in proportion to its height (1 at 1080 px, 2 at 2160), so a 4K
   * wall at 100% scaling reads as a full-HD one does (issue 18). */
  function wallScale() {
    return Math.max(1, window.innerHeight / 1080);
  }

  function esc(value) {
    return String(value === null || value === undefined ? "" : value)
      .replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
  }

  var ACTIVE = {open: true, dispatched: true, on_scene: true};

  /* An age as the map writes it: minutes up to two hours, then hours, then days. */
  function ageText(seconds, strings) {
    var m = Math.floor((seconds || 0) / 60);
    if (m < 120) { return m + " " + (strings.min || "min"); }
    var hours = Math.floor(m / 60);
    return hours < 48 ? hours + " " + (strings.hour || "h") : Math.floor(hours / 24) + " " + (strings.day || "d");
  }

  /* The latest hideout of a GeoJSON layer. dash-leaflet (1.1) skips a prop update that arrives while the layer's
   * url is still loading, and then draws the loaded features with the hideout it had when the load began: on the
   * analytics page the first window's values arrive while the hexagons load. Dash's layout always holds the
   * latest props, so the style reads them there (the context's copy is the fallback). */
  function currentHideout(context) {
    var api = window.dash_component_api, id = context && context.id;
    var layout = api && api.getLayout && typeof id === "string" ? api.getLayout(id) : null;
    return (layout && layout.props && layout.props.hideout) || (context && context.hideout) || {};
  }

  /* The hideout's arrays for a hexagon piece, or null when they are for another resolution: while a switch of
   * resolution loads the new pieces, the old ones are still on the map (an H3 index says its resolution in its
   * second hex digit). */
  function pieceValues(feature, context) {
    var h = currentHideout(context);
    var res = parseInt(String(feature.properties.h3).charAt(1), 16);
    return h.res === res && h.total ? h : null;
  }

  /* Label declutter for the wall (issue 18): fewer, larger labels, none over another or over a marker. The
   * marks (open emergencies, units, clusters, incident dots) are obstacles; labels are placed greedily, the open
   * emergencies' first (moved to the first free side of their mark, never hidden), then the kecamatan names
   * (largest kecamatan first), then units' names and ages; a label with no free place is hidden. No well-kept
   * Leaflet plugin does this today (Leaflet.LayerGroup.Collision and its kin are unmaintained). */
  function overlaps(a, b) {
    return a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
  }

  function shifted(r, dx, dy) {
    return {left: r.left + dx, right: r.right + dx, top: r.top + dy, bottom: r.bottom + dy};
  }

  /* Units at one spot (a station, a hospital's bay) are fanned out around it, each with a leg back to where it
   * is, as Leaflet.markercluster spiderfies a cluster; otherwise only the top one could be seen or clicked.
   * Marks nearer than a third of their size (one hides the other) are one group (single link: one spot, not a town's units, which zooming in
   * parts); the circle is wide enough that no two touch. */
  function spreadUnits(map) {
    var units = [];
    map.eachLayer(function (layer) {
      var icon = layer instanceof L.Marker && layer._icon;
      if (!icon || !icon.classList.contains("ntpd-unit")) { return; }
      icon.style.translate = "";
      icon.classList.remove("ntpd-unit-spread");
      units.push({icon: icon, p: map.latLngToLayerPoint(layer.getLatLng()), size: icon.offsetWidth,
                  key: icon.getAttribute("title") || ""});
    });
    var taken = units.map(function () { return false; });
    units.forEach(function (first, i) {
      if (taken[i]) { return; }
      var group = [first];
      taken[i] = true;
      for (var k = 0; k < group.length; k++) {
        units.forEach(function (u, j) {
          if (!taken[j] && group[k].p.distanceTo(u.p) < 0.3 * Math.max(group[k].size, u.size)) {
            taken[j] = true;
            group.push(u);
          }
        });
      }
      if (group.length < 2) { return; }
      group.sort(function (a, b) { return a.key < b.key ? -1 : a.key > b.key ? 1 : 0; });  // a stable order
      var n = group.length, size = Math.max.apply(null, group.map(function (u) { return u.size; }));
      var cx = 0, cy = 0;
      group.forEach(function (u) { cx += u.p.x / n; cy += u.p.y / n; });
      // names beside each other on the ops map; a wall's names give way to marks (declutter) instead
      var named = group.some(function (u) {
        return u.icon.querySelector(".ntpd-unit-name") && !u.icon.classList.contains("ntpd-unit-wall");
      });
      var radius = Math.max((named ? 1.8 : 0.5) * size, 1.15 * size / (2 * Math.sin(Math.PI / n)));  // and names
      group.forEach(function (u, idx) {
        var angle = -Math.PI / 2 + 2 * Math.PI * idx / n;
        var dx = cx + radius * Math.cos(angle) - u.p.x, dy = cy + radius * Math.sin(angle) - u.p.y;
        u.icon.style.translate = dx + "px " + dy + "px";
        u.icon.classList.add("ntpd-unit-spread");
        var leg = u.icon.querySelector(".ntpd-leg");
        if (leg) {  // from the mark's centre back to the unit's own point
          leg.style.width = Math.sqrt(dx * dx + dy * dy) + "px";
          leg.style.transform = "rotate(" + Math.atan2(-dy, -dx) + "rad)";
        }
      });
    });
  }

  function declutterMap(map) {
    spreadUnits(map);
    var marks = [], labels = [], origin = map.getContainer().getBoundingClientRect();
    map.eachLayer(function (layer) {
      if (layer instanceof L.Marker && layer._icon) {
        var icon = layer._icon;
        var mark = icon.querySelector(".active-mark, b") || icon;
        marks.push({rect: mark.getBoundingClientRect(), owner: icon});
        icon.querySelectorAll(".active-label").forEach(function (el) { labels.push({el: el, rank: 0, owner: icon}); });
        icon.querySelectorAll(".ntpd-unit-name, em").forEach(function (el) {
          labels.push({el: el, rank: 2, owner: icon});
        });
      } else if (layer instanceof L.CircleMarker && !(layer instanceof L.Circle) && layer._map) {
        var pt = map.latLngToContainerPoint(layer.getLatLng()), r = layer.getRadius();
        marks.push({rect: {left: origin.left + pt.x - r, right: origin.left + pt.x + r,
                           top: origin.top + pt.y - r, bottom: origin.top + pt.y + r}, owner: null});
      } else if (layer instanceof L.Tooltip && layer.options.permanent && layer._container) {
        var b = layer._source && layer._source.getBounds ? layer._source.getBounds() : null;
        var size = b ? -map.latLngToContainerPoint(b.getNorthWest()).distanceTo(
          map.latLngToContainerPoint(b.getSouthEast())) : 0;
        labels.push({el: layer._container, rank: 1, size: size, owner: null});
      }
    });
    labels.forEach(function (l) { l.el.style.translate = ""; l.el.style.visibility = ""; });
    labels.sort(function (a, b) { return a.rank - b.rank || (a.size || 0) - (b.size || 0); });
    var placed = [], labelledMarks = [];
    labels.forEach(function (l) {
      var rect = l.el.getBoundingClientRect(), w = rect.right - rect.left, hgt = rect.bottom - rect.top;
      if (!w || !hgt) { return; }
      var moves = [[0, 0]], own = null;
      if (l.rank === 0) {  // below its mark, else around it, else a line further out
        var m = own = l.owner.querySelector(".active-mark").getBoundingClientRect(), gap = rect.top - m.bottom;
        var cx = (m.left + m.right) / 2 - w / 2, cy = (m.top + m.bottom) / 2 - hgt / 2;
        [0, hgt + gap, 2 * (hgt + gap)].forEach(function (far) {
          var xs = [cx, m.right + gap + far, m.left - gap - w - far];
          var ys = [m.bottom + gap + far, m.top - gap - hgt - far, cy];
          ys.forEach(function (y) {
            xs.forEach(function (x) {
              if (x !== cx || y !== cy) { moves.push([x - rect.left, y - rect.top]); }
            });
          });
        });
      } else if (l.rank === 1) {  // a name a little above or below its centre still names its kecamatan
        moves.push([0, -hgt], [0, hgt], [-w / 2, 0], [w / 2, 0], [-w / 2, -hgt], [w / 2, -hgt], [-w / 2, hgt],
                   [w / 2, hgt], [0, -2 * hgt], [0, 2 * hgt]);
      }
      // calls about one fire from one spot: one label for the stack (the panel lists every one of them)
      if (own && labelledMarks.some(function (q) { return overlaps(q, own); })) { moves = []; }
      var free = null;
      for (var i = 0; i < moves.length && free === null; i++) {
        var at = shifted(rect, moves[i][0], moves[i][1]);
        var hit = marks.some(function (k) { return k.owner !== l.owner && overlaps(at, k.rect); }) ||
          placed.some(function (q) { return overlaps(at, q); });
        if (!hit) { free = i; }
      }
      if (free === null && moves.length && l.rank === 0) { free = 0; }  // crowded: it keeps its place
      if (free === null) {
        l.el.style.visibility = "hidden";
        l.el.classList.add("decluttered");
        return;
      }
      l.el.classList.remove("decluttered");
      if (free) { l.el.style.translate = moves[free][0] + "px " + moves[free][1] + "px"; }
      placed.push(shifted(rect, moves[free][0], moves[free][1]));
      if (l.rank === 0) { labelledMarks.push(own); }
    });
  }

  var declutterTimers = {};

  /* The signal's hatching on a map whose hues mean incident categories (issue 18: one meaning per colour):
   * no signal cross-hatched, weak one diagonal, 2G only dotted, good and unmarked left clear, all in grey ink.
   * The ops legend draws the same (assets/ntpd.css .hatch-*). */
  var hatches = {};
  function hatchPattern(kind) {
    if (kind in hatches) { return hatches[kind]; }
    var size = 8, tile = document.createElement("canvas");
    tile.width = tile.height = size;
    var g = tile.getContext("2d");
    g.strokeStyle = g.fillStyle = "rgba(17, 24, 39, 0.8)";
    g.lineWidth = 1.5;
    g.beginPath();
    if (kind === "none" || kind === "weak") {  // "/" across the tile and its corners, so tiles join
      g.moveTo(0, size); g.lineTo(size, 0); g.moveTo(-1, 1); g.lineTo(1, -1); g.moveTo(size - 1, size + 1);
      g.lineTo(size + 1, size - 1);
    }
    if (kind === "none") {  // and "\"
      g.moveTo(0, 0); g.lineTo(size, size); g.moveTo(size - 1, -1); g.lineTo(size + 1, 1); g.moveTo(-1, size - 1);
      g.lineTo(1, size + 1);
    }
    g.stroke();
    if (kind === "2g_only") { g.beginPath(); g.arc(size / 2, size / 2, 1.4, 0, 2 * Math.PI); g.fill(); }
    hatches[kind] = kind === "good" || kind === "unmarked" ? null : g.createPattern(tile, "repeat");
    return hatches[kind];
  }

  /* The layers control lists its layers in a fixed order (issue 18): as a GIS layers panel does, the layer drawn
   * on top first (incidents, units, then the boundaries), the underlay pane's (signal coverage, towers) last.
   * Leaflet lists layers as they are created, and dash-leaflet creates them as their code and data arrive, so the
   * list changed order from one load to the next. The drawing order is the control's children in Dash's layout
   * (pages/common.py ``leaflet_map``, whose control's id is the map's id + "-layers"). */
  if (window.L && L.Control && L.Control.Layers) {
    L.Control.Layers.addInitHook(function () {
      var control = this;
      function names(component, pane, out) {  // [name, in a pane] of every Overlay, in drawing order
        var props = component && component.props;
        if (!props) { return out; }
        if (component.type === "Overlay") { out.push([props.name, pane]); }
        [].concat(props.children || []).forEach(function (child) {
          names(child, pane || component.type === "Pane", out);
        });
        return out;
      }
      function rank(name) {
        var api = window.dash_component_api, map = control._map;
        var layout = api && api.getLayout && map ? api.getLayout(map.getContainer().id + "-layers") : null;
        var order = names(layout, false, []);
        for (var i = 0; i < order.length; i += 1) {
          if (order[i][0] === name) { return (order[i][1] ? 2 * order.length : order.length) - i; }
        }
        return 3 * order.length;
      }
      control.options.sortFunction = function (a, b, nameA, nameB) { return rank(nameA) - rank(nameB); };
    });
  }

  /* The map's attribution control (dash-leaflet's AttributionControl): Leaflet's control listens to the map's
   * layeradd, which is how it is found. */
  function attributionControl(map) {
    var handlers = (map && map._events && map._events.layeradd) || [];
    for (var i = 0; i < handlers.length; i += 1) {
      if (handlers[i].ctx instanceof L.Control.Attribution) { return handlers[i].ctx; }
    }
    return null;
  }

  window.ntpd = Object.assign({}, window.ntpd, {
    /* The wall map's event handler (pages/common.py): after its view or its layers change, the labels are
     * placed again once the changes settle. */
    declutter: function (e) {
      var map = e.target, key = L.stamp(map);
      clearTimeout(declutterTimers[key]);
      declutterTimers[key] = setTimeout(function () { declutterMap(map); }, 120);
    },
    /* The ops map's: units at one spot are fanned out again once its view or its layers settle. */
    spread: function (e) {
      var map = e.target, key = L.stamp(map);
      clearTimeout(declutterTimers[key]);
      declutterTimers[key] = setTimeout(function () { spreadUnits(map); }, 120);
    },
    /* The basemap tiles' event handler (pages/common.py): their credit is shown only once a tile is drawn
     * (issue 18). Leaflet credits a tile layer as soon as it is added; offline, with an empty cache, no tile
     * ever loads, so the credit is taken back at a request or a failure before any tile was drawn, and given
     * again at the first tile drawn. */
    tileCredit: function (e) {
      var layer = e.target, credit = layer.getAttribution && layer.getAttribution();
      var control = attributionControl(layer._map);
      if (!credit || !control) { return; }
      var shown = (control._attributions[credit] || 0) > 0;
      if (e.type === "tileload") {
        layer._ntpdDrawn = true;
        if (!shown) { control.addAttribution(credit); }
      } else if (!layer._ntpdDrawn && shown) {
        control.removeAttribution(credit);
      }
    },
    kabkotaStyle: function (feature, context) {
      var wall = context.hideout && context.hideout.wall;
      return {color: wall ? "#e5e7eb" : "#111827", weight: 3, fill: false, opacity: 0.9};
    },
    /* The plain basemap (issue 18), when no tiles are configured: the region's land filled against the sea
     * colour of .map, in a pane under every other layer. */
    landStyle: function (feature, context) {
      var wall = context.hideout && context.hideout.wall;
      return {stroke: false, fill: true, fillColor: wall ? "#334155" : "#f4f1e8", fillOpacity: 1};
    },
    kecamatanStyle: function (feature, context) {
      var h = context.hideout || {};
      if (h.selected && h.selected === feature.properties.kode) {  // picked in the analytics table
        return {color: "#c026d3", weight: 4, opacity: 1, fillOpacity: 0.0};
      }
      return {color: h.wall ? "#9ca3af" : "#374151", weight: 1.5, dashArray: "4 3", fillOpacity: 0.0};
    },
    /* Hexagons of the analytics page (layers/hexes.py): the geometry comes once by URL, the values of the
     * period in hideout, as arrays indexed by the feature's piece index `i`. */
    hexStyle: function (feature, context) {
      var h = pieceValues(feature, context) || {};
      var i = feature.properties.i;
      var edge = String(feature.properties.h3).charAt(1) === "9" ? 0.2 : 0.4;  // 27,000 res-9 outlines at 0.4 px
      var value = h.value ? h.value[i] : null;                                  // would hatch the region grey
      var calls = h.total ? h.total[i] : 0;
      if (value === null || value === undefined || (h.format !== "score" && !calls)) {
        // no calls (or no values yet): faint but visible, no calls from a place is a signal too
        return {color: "#9ca3af", weight: edge, opacity: 0.6, fillColor: h.empty || "#d1d5db",
                fillOpacity: h.faint || 0.3};
      }
      var k = 0, breaks = h.breaks || [];
      while (k + 1 < breaks.length && value >= breaks[k + 1]) { k += 1; }
      return {color: "#6b7280", weight: edge, opacity: 0.7, fillColor: (h.colors || [])[k] || "#6b7280",
              fillOpacity: calls ? (h.fill || 0.75) : (h.faint || 0.3)};
    },
    hexHover: function (feature, context) {
      return {color: "#111827", weight: 2.5, opacity: 1};
    },
    hexTooltip: function (feature, layer, context) {
      // The content is made when the tooltip opens, from the current hideout: 4,500 pieces bind a function,
      // not a text, and a tooltip never shows the values of an earlier period or metric.
      layer.bindTooltip(function () {
        var h = pieceValues(feature, context) || {};
        var p = feature.properties, i = p.i, labels = h.labels || {};
        var locale = h.locale || "id-ID";
        function num(v, digits) {
          return Number(v).toLocaleString(locale, {minimumFractionDigits: digits, maximumFractionDigits: digits});
        }
        function row(label, value, cls) {
          return "<tr" + (cls ? " class='" + cls + "'" : "") + "><th>" + esc(label) + "</th><td>" + esc(value) +
            "</td></tr>";
        }
        var calls = h.total ? (h.total[i] || 0) : 0;
        var value = h.value ? h.value[i] : null;
        var shown = value === null || value === undefined ? (labels.noCalls || "-")
          : h.format === "share" ? num(100 * value, 0) + "%"
          : h.format === "score" ? num(value, 1) : num(value, 0);
        var rows = [row(labels.metric || "", shown, "metric")];
        var kec = h.kec && h.kec[p.kode_kecamatan];
        if (kec) {
          rows.push(row(labels.score || "", num(kec.score, 1) + " (" + (labels.rank || "") + " " + kec.rank + " " +
                        (labels.of || "") + " " + (h.nKec || "") + ")"));
        }
        rows.push(row(labels.total || "", num(calls, 0), "total"));
        var types = (h.types && h.types[String(i)]) || [];
        (labels.types || []).forEach(function (name, j) { rows.push(row(name, num(types[j] || 0, 0))); });
        return "<div class='hex-tip-head'><b>" + esc(p.kecamatan) + "</b><br>H3 " + esc(p.h3) + " · " +
          esc(labels.area || "") + " " + num(p.area_km2, 2) + " km²</div><table>" + rows.join("") + "</table>";
      }, {sticky: true, className: "hex-tooltip", direction: "right", offset: [12, 0]});
    },
    /* Kecamatan of the briefing page (layers/choropleth.py): the geometry is the kecamatan layer's URL, the
     * value of each kecamatan (by code) with the classes in hideout; no value is drawn grey. */
    choroplethStyle: function (feature, context) {
      var h = currentHideout(context);
      var value = h.values ? h.values[feature.properties.kode] : null;
      if (value === null || value === undefined) {
        return {color: "#6b7280", weight: 1, opacity: 0.9, fillColor: h.empty || "#e5e7eb", fillOpacity: 0.6};
      }
      var k = 0, breaks = h.breaks || [];
      while (k + 1 < breaks.length && value >= breaks[k + 1]) { k += 1; }
      return {color: "#1f2937", weight: 1, opacity: 0.9, fillColor: (h.colors || [])[k] || "#6b7280",
              fillOpacity: h.fill || 0.8};
    },
    choroplethHover: function (feature, context) {
      return {color: "#111827", weight: 3, opacity: 1};
    },
    choroplethTooltip: function (feature, layer, context) {
      // made when it opens, from the current hideout: never the values of an earlier period or metric
      layer.bindTooltip(function () {
        var h = currentHideout(context), p = feature.properties, labels = h.labels || {};
        var value = h.values ? h.values[p.kode] : null;
        var shown = value === null || value === undefined ? (labels.none || "-")
          : Number(value).toLocaleString(h.locale || "id-ID", {minimumFractionDigits: h.decimals || 0,
                                                                maximumFractionDigits: h.decimals || 0}) +
            (h.suffix || "");
        var rows = "<tr class='metric'><th>" + esc(labels.metric || "") + "</th><td>" + esc(shown) + "</td></tr>";
        var more = (h.details && h.details[p.kode]) || {};
        Object.keys(more).forEach(function (label) {
          rows += "<tr><th>" + esc(label) + "</th><td>" + esc(more[label]) + "</td></tr>";
        });
        return "<div class='hex-tip-head'><b>" + esc(p.nama) + "</b></div><table>" + rows + "</table>";
      }, {sticky: true, className: "hex-tooltip", direction: "top", offset: [0, -14]});  // above the pointer:
                                                                                        // a narrow map cuts a side
    },
    desaStyle: function (feature, context) {
      var h = context.hideout || {};
      var visible = (h.zoom || 0) >= (h.minZoom || 0);
      return {color: "#6b7280", weight: 0.7, opacity: visible ? 0.8 : 0, fill: false};
    },
    boundaryLabel: function (feature, layer, context) {
      layer.bindTooltip(esc(feature.properties.nama), {
        permanent: true, direction: "center", className: "kec-label", opacity: 0.9
      });
    },
    desaTooltip: function (feature, layer, context) {
      layer.bindTooltip(esc(feature.properties.nama), {sticky: true, className: "desa-label"});
    },
    incidentPoint: function (feature, latlng, context) {
      var h = context.hideout || {};
      var p = feature.properties;
      var color = (p.cat && h.colors && h.colors[p.cat]) || h.noCategory || "#6b7280";
      var scale = h.wall ? 1.6 * wallScale() : 1;
      // a noise call (prank, ghost, dropped, ...): a small hollow ring, quieter than any emergency (issue 18)
      var style = {radius: 4 * scale, color: h.wall ? "#94a3b8" : color, weight: 1.5 * Math.min(scale, 2),
                   fillColor: color, fillOpacity: 0};
      if (p.ct === "genuine") {
        if (ACTIVE[p.out]) {  // needs attention: big, solid, dark ring
          style = {radius: 10 * scale, color: "#111827", weight: 3, fillColor: color, fillOpacity: 0.95};
        } else if (p.out === "not_followed_up") {  // answered but no agency came: red dashed ring
          style = {radius: 8 * scale, color: "#b91c1c", weight: 2.5, dashArray: "3 2", fillColor: color,
                   fillOpacity: 0.7};
        } else {  // resolved: quieter
          style = {radius: 7 * scale, color: "#ffffff", weight: 1, fillColor: color, fillOpacity: 0.6};
        }
      }
      if (h.fresh) {  // arrived since the last full refresh: ringed so the room notices
        style.color = "#0ea5e9";
        style.weight = 4;
        style.radius += 2;
      }
      return L.circleMarker(latlng, style);
    },
    /* An open emergency (issue 18): a large mark in the category's colour with "!", and a label with the
     * category and the minutes since the call, amber or red past the thresholds; in its own pane above every
     * other layer, never clustered. */
    activePoint: function (feature, latlng, context) {
      var h = context.hideout || {};
      var p = feature.properties || {};
      var colour = (h.colors || {})[p.cat] || "#dc2626";
      // the wall sizes it from the screen: the same share of its height at 1920x1080 and 3840x2160
      var size = h.wall ? Math.round(window.innerHeight * 0.055) : 34;
      var html = '<div class="active-mark" style="background:' + colour + '">!</div>' +
        '<div class="active-label ' + (p.lvl || "") + '">' + esc(p.what || "") + " \u00b7 " + (p.age || 0) + " " +
        esc(h.minutes || "") + "</div>";
      var icon = L.divIcon({html: html, className: "active-icon" + (h.wall ? " active-wall" : "") +
                            (p.lvl ? " active-" + p.lvl : ""), iconSize: [size, size],
                            iconAnchor: [size / 2, size / 2]});
      return L.marker(latlng, {icon: icon, pane: h.pane, keyboard: false, riseOnHover: true});
    },
    /* A cluster says how many of its calls were genuine (issue 18): a red ring and a red count for those, and
     * clusters of noise only (prank, ghost, dropped, ...) drawn smaller and faint, so a 30-day view shows at a
     * glance where the emergencies were. */
    incidentCluster: function (feature, latlng, index, context) {
      var n = feature.properties.point_count;
      var genuine = 0;
      if (index && index.getLeaves) {
        var leaves = index.getLeaves(feature.properties.cluster_id, Infinity);
        for (var i = 0; i < leaves.length; i++) { if (leaves[i].properties.ct === "genuine") { genuine += 1; } }
      }
      var size = n < 10 ? 30 : n < 100 ? 38 : n < 1000 ? 46 : 54;
      if (!genuine) { size = Math.round(size * 0.8); }
      var wall = context.hideout && context.hideout.wall;
      if (wall) { size = Math.round(size * 1.4 * wallScale()); }
      var icon = L.divIcon({
        html: "<div data-genuine='" + genuine + "'><span>" + esc(feature.properties.point_count_abbreviated) +
          "</span></div>",
        className: "ntpd-cluster" + (wall ? " ntpd-cluster-wall" : "") +
          (genuine ? " ntpd-cluster-genuine" : " ntpd-cluster-noise"),
        iconSize: L.point(size, size)
      });
      return L.marker(latlng, {icon: icon});
    },
    /* A responder (layers/responders.py): a square with the kind's letter, filled by its status (white
     * available, black dispatched, a black diamond on scene, grey returning, pale off duty: assets/ntpd.css
     * .unit-st-*, no hue, so no unit looks like an incident category); an arrow for its heading while it moves
     * and reports; its name below (on the ops map from h.labelZoom, on the wall when at work). Stale: dashed,
     * with its age above. Offline: faint and hollow, with "offline" and its age. */
    responderPoint: function (feature, latlng, context) {
      var h = context.hideout || {};
      var p = feature.properties;
      var s = h.strings || {};
      var state = p.state || (p.offline ? "offline" : p.stale ? "stale" : "live");
      var glyph = (h.glyphs && h.glyphs[p.kind]) || "?";
      var moving = state === "live" && p.bearing !== null && p.bearing !== undefined &&
        (p.speed_kmh || 0) >= (h.movingKmh || 0);
      var selected = !h.wall && h.selected && h.selected === p.device;
      // the wall names the units at work (dispatched, on scene, returning): all names at a kab/kota's zoom
      // pile up into an unreadable heap across the room; the ops map names every unit from labelZoom
      var named = h.wall ? (h.namedStatuses || []).indexOf(p.status) >= 0
                         : selected || (h.zoom || 0) >= (h.labelZoom || 0);
      var age = ageText(p.age_s, s);
      var badge = state === "stale" ? age : state === "offline" ? (s.offline || "offline") + " " + age : "";
      var html = (moving ? "<i class='ntpd-heading' style='transform: rotate(" + Number(p.bearing) + "deg)'></i>" : "") +
        "<s class='ntpd-leg'></s><b>" + esc(glyph) + "</b>" +
        (badge ? "<em>" + esc(badge) + "</em>" : "") +
        (named ? "<span class='ntpd-unit-name'>" + esc(p.unit) + "</span>" : "");
      var size = h.wall ? Math.round(40 * wallScale()) : 28;
      var icon = L.divIcon({
        html: html,
        className: "ntpd-unit ntpd-unit-" + state + " unit-st-" + String(p.status || "available").replace(/[^a-z_]/g, "") +
          (h.wall ? " ntpd-unit-wall" : "") +
          (selected ? " ntpd-unit-selected" : ""),
        iconSize: L.point(size, size)
      });
      // above incidents and their clusters; the selected unit above the other units
      var marker = L.marker(latlng, {icon: icon, title: p.unit, keyboard: false,
                                     zIndexOffset: selected ? 2000 : 1000, interactive: !h.wall});
      if (!h.wall) {
        var status = (h.labels && h.labels.unit && h.labels.unit[p.status]) || p.status;
        var kind = (h.labels && h.labels.kind && h.labels.kind[p.kind]) || p.kind;
        marker.bindTooltip("<b>" + esc(p.unit) + "</b><br>" + esc(kind) + " · " + esc(status) +
          (state !== "live" ? "<br>" + esc(state === "stale" ? s.stale : s.offline) + ", " + esc(age) : ""),
          {direction: "top", offset: [0, -size / 2]});
      }
      return marker;
    },
    /* The selected unit's last 30 minutes (ops page). */
    trackStyle: function (feature, context) {
      return {color: "#7c3aed", weight: 4, opacity: 0.85, lineJoin: "round"};
    },
    /* From the selected incident to its nearest available units. */
    nearestStyle: function (feature, context) {
      return {color: "#0f766e", weight: 2, opacity: 0.9, dashArray: "6 5"};
    },
    /* Signal coverage (layers/coverage.py): the desa polygons come once by URL, the status of each marked desa
     * in hideout (kode -> status); a desa without one is "not marked", drawn faint. */
    coverageStyle: function (feature, context) {
      var h = currentHideout(context);
      var status = h.status && h.status[feature.properties.kode];
      // on a wall nothing reacts to a mouse (dash-leaflet does not hand the layer's `interactive` to its
      // features; the canvas renderer reads each feature's own option)
      var interactive = !h.wall;
      var map = context && context.map;
      if (!h.wall && h.underlayPane && map && map.getPane && map.getPane(h.underlayPane)) {
        // beneath the incidents (the ops map) the hues are the categories': the signal is hatched in grey ink
        var hatch = status || "unmarked";
        var pattern = hatchPattern(hatch);
        return {color: "#4b5563", weight: status ? 0.8 : 0.5, opacity: status ? 0.9 : 0.5, hatch: hatch,
                fillColor: pattern || "#000", fillOpacity: pattern ? 1 : 0, interactive: interactive};
      }
      if (!status) {
        return {color: h.wall ? "#64748b" : "#9ca3af", weight: h.wall ? 1 : 0.6, opacity: 0.8,
                fillColor: h.unmarked || "#d9d9d9", fillOpacity: h.faint || 0.25, interactive: interactive};
      }
      return {color: h.wall ? "#0b1220" : "#4b5563", weight: h.wall ? 1.2 : 0.8, opacity: 0.9,
              fillColor: (h.colors && h.colors[status]) || "#6b7280", fillOpacity: h.fill || 0.7,
              interactive: interactive};
    },
    coverageHover: function (feature, context) {
      return {color: "#111827", weight: 3, opacity: 1};
    },
    coverageTooltip: function (feature, layer, context) {
      // made when it opens, from the current hideout: a new mark shows at once
      layer.bindTooltip(function () {
        var h = currentHideout(context), p = feature.properties, labels = h.labels || {};
        var status = h.status && h.status[p.kode];
        var text = status ? (labels[status] || status) : (labels.unmarked || "-");
        if (status && h.cells && h.cells[p.kode]) { text += " (" + (labels.cells || "H3") + ")"; }
        return "<b>" + esc(p.nama) + "</b> · " + esc(p.kecamatan) + "<br>" + esc(labels.status || "") + ": " +
          esc(text);
      }, {sticky: true, className: "desa-label"});
    },
    /* The desa picked on the coverage page. */
    selectedDesaStyle: function (feature, context) {
      return {color: "#c026d3", weight: 4, opacity: 1, fill: false};
    },
    /* A known tower: a dot, and a circle of its range in metres (dashed when the range is the default one). */
    towerPoint: function (feature, latlng, context) {
      var h = context.hideout || {}, p = feature.properties, color = h.color || "#1f2937";
      var range = L.circle(latlng, {radius: p.range_m, color: color, weight: h.wall ? 1.5 : 1, opacity: 0.75,
                                    dashArray: p["default"] ? "5 5" : null, fillColor: color, fillOpacity: 0.05,
                                    interactive: false});
      var dot = L.circleMarker(latlng, {radius: h.wall ? 6 : 4, color: h.wall ? "#0b1220" : "#ffffff", weight: 1.5,
                                        fillColor: color, fillOpacity: 1, interactive: !h.wall});
      range.feature = feature;
      dot.feature = feature;
      if (!h.wall) {
        var s = h.labels || {};
        dot.bindTooltip("<b>" + esc(s.tower || "") + "</b> " + esc(p.radio || "") + (p.op ? " · " + esc(p.op) : "") +
          "<br>" + esc(s.range || "") + " " + (p.range_m / 1000).toFixed(1) + " km" +
          (p["default"] ? " (" + esc(s["default"] || "") + ")" : "") + "<br>" + esc(s.source || "") + ": " +
          esc(p.source), {direction: "top"});
      }
      return L.layerGroup([range, dot]);
    },
    /* Calls a weak signal shows in, one mark per spot with its count: dropped/silent filled, imprecise a ring. */
    weakCallPoint: function (feature, latlng, context) {
      var h = context.hideout || {}, p = feature.properties, colors = h.colors || {};
      var radius = 1.5 + 1.5 * Math.sqrt(p.n || 1);  // one call 3 px: hundreds of them leave the desa readable
      var style = p.kind === "putus"
        ? {radius: radius, color: "#ffffff", weight: 0.5, fillColor: colors.putus || "#542788", fillOpacity: 0.75}
        : {radius: radius + 1, color: colors.approx || "#111827", weight: 1.2, opacity: 0.8, dashArray: "2 2",
           fill: false};
      var marker = L.circleMarker(latlng, style);
      marker.bindTooltip(esc(p.n) + " " + esc((h.labels && h.labels[p.kind]) || ""), {direction: "top"});
      return marker;
    }
  });
})();

/* The clock of the center: its own zone (WIB/WITA/WIT), whatever the browser's zone is. */
window.ntpdClock = function (config) {
  var tz = (config && config.tz) || "Asia/Jakarta";
  var zone = {"Asia/Jakarta": "WIB", "Asia/Pontianak": "WIB", "Asia/Makassar": "WITA", "Asia/Jayapura": "WIT"}[tz] || tz;
  var now = new Date();
  var fmt = new Intl.DateTimeFormat((config && config.lang === "en") ? "en-GB" : "id-ID", {
    timeZone: tz, weekday: "long", day: "numeric", month: "long", hour: "2-digit", minute: "2-digit", hour12: false
  });
  return fmt.format(now) + " " + zone;
};

/* The new-emergency alert (issue 18), from the active layer's data: while any open emergency says `alert` (new,
 * not yet acknowledged on the operations page), the page flashes, the banner names the newest, and
 * assets/alert.wav repeats. Browsers play sound only after a first interaction: a wall that has had none shows
 * the sound-off notice, and its first click (or a kiosk started with --autoplay-policy=no-user-gesture-required)
 * turns the sound on. */
window.ntpdAlertState = {plays: 0, blocked: false};
window.ntpdAlert = function (data) {
  var state = window.ntpdAlertState;
  var features = ((data && data.features) || []).filter(function (f) { return f.properties && f.properties.alert; });
  var audio = document.getElementById("alert-audio");
  var notice = document.getElementById("sound-off");
  document.body.classList.toggle("alerting", features.length > 0);
  if (!audio) { return ["alert-banner", ""]; }
  if (!features.length) {
    audio.pause();
    audio.currentTime = 0;
    if (notice) { notice.classList.add("hidden"); }
    return ["alert-banner", ""];
  }
  audio.loop = true;
  if (audio.paused) {
    var played = audio.play();
    var blocked = function () {
      if (notice) { notice.classList.remove("hidden"); }
      if (state.blocked) { return; }  // already waiting for the first click: one listener, not one per update
      state.blocked = true;
      document.addEventListener("click", function again() {
        document.removeEventListener("click", again);
        state.blocked = false;
        if (notice) { notice.classList.add("hidden"); }
        if (document.body.classList.contains("alerting")) { audio.play(); }
      });
    };
    if (played && played.then) {
      played.then(function () { state.plays += 1; if (notice) { notice.classList.add("hidden"); } }, blocked);
    }
  }
  var newest = features.reduce(function (a, b) { return b.properties.id > a.properties.id ? b : a; });
  var p = newest.properties;
  var more = features.length > 1 ? " (+" + (features.length - 1) + ")" : "";
  var banner = document.getElementById("alert-banner");
  var unit = (banner && banner.getAttribute("data-minutes")) || "";
  return ["alert-banner on", (p.what || "") + (p.where ? " - " + p.where : "") + " - " + (p.age || 0) + " " + unit +
          more];
};

/* The wall's open emergencies (issue 18): whole rows only, as many as the panel holds, oldest first; when there
 * are more, the panel turns its page every data-seconds (the wall's rotation) and its last line says how many
 * are not shown and which page this is. Re-paged as soon as Dash redraws the rows, and every second. */
(function () {
  var page = 0, ticks = 0;
  function fit(advance) {
    var panel = document.querySelector(".wall .active-panel");
    if (!panel) { return; }
    var rows = Array.prototype.slice.call(panel.querySelectorAll(".active-row"));
    var more = panel.querySelector(".active-more");
    if (!rows.length || !more) { return; }
    rows.forEach(function (r) { r.style.display = ""; });
    more.style.display = "";
    more.textContent = "+0";
    var bottom = panel.getBoundingClientRect().bottom - more.getBoundingClientRect().height;
    var top = rows[0].getBoundingClientRect().top, pages = [[]], used = 0;
    rows.forEach(function (r) {
      var b = r.getBoundingClientRect(), h = b.height + parseFloat(getComputedStyle(r).marginBottom || 0);
      if (pages[pages.length - 1].length && used + h > bottom - top) { pages.push([]); used = 0; }
      pages[pages.length - 1].push(r);
      used += h;
    });
    if (pages.length === 1) { more.style.display = "none"; more.textContent = ""; return; }
    var seconds = Math.max(1, parseInt(panel.getAttribute("data-seconds"), 10) || 10);
    if (advance) { ticks += 1; }
    if (ticks >= seconds) { ticks = 0; page += 1; }
    page = page % pages.length;
    rows.forEach(function (r) { r.style.display = pages[page].indexOf(r) >= 0 ? "" : "none"; });
    more.textContent = (more.getAttribute("data-more") || "+{n}").replace("{n}", rows.length - pages[page].length)
      .replace("{page}", page + 1).replace("{pages}", pages.length);
  }
  setInterval(function () { fit(true); }, 1000);
  // a redraw shows every row again: re-page at once (before the next paint), not on the next tick
  new MutationObserver(function (changes) {
    if (changes.some(function (c) {
      var el = c.target.nodeType === 1 ? c.target : c.target.parentElement;
      return el && el.closest(".wall .active-panel") && !el.closest(".active-more");
    })) { fit(false); }
  }).observe(document.documentElement, {childList: true, subtree: true, characterData: true});
})();

/* Dash's date pickers in the page's language (issue 18). They take a date-fns locale from window.dateFns.locale
 * (the one matching the browser's languages, else the first); the only one here is built, when a picker asks,
 * from the CLDR names the page carries (pages/router.py ``in_language``, from Babel): "Desember 2026", Sen Sel
 * Rab... The week starts on Monday. */
(function () {
  var built = {};
  function pageCalendar() {
    var el = document.querySelector("[data-calendar]");
    try { return el ? JSON.parse(el.getAttribute("data-calendar")) : null; } catch (e) { return null; }
  }
  function dateFnsLocale(c) {
    function pick(width, wide, short, narrow) { return width === "wide" || !width ? wide : width === "abbreviated" ? short : narrow; }
    return {
      code: c.code,
      localize: {
        ordinalNumber: function (n) { return String(n); },
        era: function (n) { return c.eras[n]; },
        quarter: function (n) { return c.quarters[n - 1]; },
        month: function (n, o) { return pick(o && o.width, c.months, c.monthsShort, c.monthsShort)[n]; },
        day: function (n, o) { return pick(o && o.width, c.days, c.daysShort, c.daysMin)[n]; },
        dayPeriod: function (p) { return p; }
      },
      formatLong: {
        date: function () { return "dd/MM/y"; },
        time: function () { return "HH:mm"; },
        dateTime: function () { return "{{date}} {{time}}"; }
      },
      match: {},  // parsing reads it for words only; the pickers' DD/MM/YYYY has none
      options: {weekStartsOn: 1, firstWeekContainsDate: 4}
    };
  }
  window.dateFns = window.dateFns || {};
  window.dateFns.locale = window.dateFns.locale || {};
  Object.defineProperty(window.dateFns.locale, "page", {
    enumerable: true,
    get: function () {
      var c = pageCalendar();
      if (!c) { return undefined; }
      var key = c.code;
      built[key] = built[key] || dateFnsLocale(c);
      return built[key];
    }
  });
})();

/* Logging a noise call with one key on the operations page (issue 19): typing a call's number anywhere but in a
 * field (a filter, a date, a search) presses its button in "Catat panggilan". */
document.addEventListener("keydown", function (e) {
  if (e.ctrlKey || e.altKey || e.metaKey || e.repeat) { return; }
  var target = e.target, tag = target && target.tagName;
  if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable)) { return; }
  var button = document.querySelector(".log-call-bar button[data-key='" + e.key + "']");
  if (button) { e.preventDefault(); button.click(); }
});
