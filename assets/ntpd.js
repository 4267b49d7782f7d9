/* Map styling for ntpd-map. Python sends data once; colours, labels and selection travel in `hideout`.
 * dash-leaflet calls these as style(feature, context), pointToLayer(feature, latlng, context),
 * clusterToLayer(feature, latlng, index, context) and onEachFeature(feature, layer, context). */
(function () {
  "use strict";

  function esc(value) {
    return String(value === null || value === undefined ? "" : value)
      .replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
  }

  var ACTIVE = {open: true, dispatched: true, on_scene: true};

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

  window.ntpd = Object.assign({}, window.ntpd, {
    kabkotaStyle: function (feature, context) {
      var wall = context.hideout && context.hideout.wall;
      return {color: wall ? "#e5e7eb" : "#111827", weight: 3, fill: false, opacity: 0.9};
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
      var scale = h.wall ? 1.6 : 1;
      var style = {radius: 4 * scale, color: color, weight: 1, fillColor: color, fillOpacity: 0.5};
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
    incidentCluster: function (feature, latlng, index, context) {
      var n = feature.properties.point_count;
      var size = n < 10 ? 30 : n < 100 ? 38 : n < 1000 ? 46 : 54;
      var wall = context.hideout && context.hideout.wall;
      if (wall) { size = Math.round(size * 1.4); }
      var icon = L.divIcon({
        html: "<div><span>" + esc(feature.properties.point_count_abbreviated) + "</span></div>",
        className: "ntpd-cluster" + (wall ? " ntpd-cluster-wall" : ""),
        iconSize: L.point(size, size)
      });
      return L.marker(latlng, {icon: icon});
    },
    responderPoint: function (feature, latlng, context) {
      var h = context.hideout || {};
      var p = feature.properties;
      var color = p.stale ? "#9ca3af" : ((h.colors && h.colors[p.kind]) || "#6b7280");
      var glyph = (h.glyphs && h.glyphs[p.kind]) || "?";
      var age = Math.round(p.age_s / 60);
      var arrow = (p.bearing !== null && p.bearing !== undefined && !p.stale)
        ? "<i class='ntpd-heading' style='transform: rotate(" + Number(p.bearing) + "deg)'></i>" : "";
      var icon = L.divIcon({
        html: arrow + "<b style='background:" + color + "'>" + esc(glyph) + "</b>" +
              (p.stale ? "<em>" + age + "'</em>" : ""),
        className: "ntpd-unit" + (p.stale ? " ntpd-unit-stale" : "") + (h.wall ? " ntpd-unit-wall" : ""),
        iconSize: h.wall ? L.point(40, 40) : L.point(28, 28)
      });
      var status = (h.labels && h.labels.unit && h.labels.unit[p.status]) || p.status;
      var tip = esc(p.unit) + " - " + esc(status) +
        (p.stale ? " (" + esc((h.strings || {}).stale) + ", " + age + " min)" : "");
      return L.marker(latlng, {icon: icon, title: p.unit}).bindTooltip(tip);
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
