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

  window.ntpd = Object.assign({}, window.ntpd, {
    kabkotaStyle: function (feature, context) {
      var wall = context.hideout && context.hideout.wall;
      return {color: wall ? "#e5e7eb" : "#111827", weight: 3, fill: false, opacity: 0.9};
    },
    kecamatanStyle: function (feature, context) {
      var wall = context.hideout && context.hideout.wall;
      return {color: wall ? "#9ca3af" : "#374151", weight: 1.5, dashArray: "4 3", fillOpacity: 0.0};
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
