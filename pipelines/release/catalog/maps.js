/* Cluster Observatory release maps: choropleths drawn as plain SVG from #map-data (shapes and
   values embedded at publish time; no libraries, no network). */
(function () {
  "use strict";
  var holder = document.getElementById("map-data");
  if (!holder) { return; }
  var M;
  var NS = "http://www.w3.org/2000/svg";
  var NODATA = "#d4d4d4";  // darker than every class colour, so "no data" never reads as a value
  var BASE = "#f1f1ef";  // the US states under county-based layers: land, not a region of the layer
  var SEQ = ["#deebf7", "#9ecae1", "#6baed6", "#3182bd", "#08519c"];
  var LQ_BINS = [0.5, 0.8, 1.25, 2, 3];
  var LQ_COLORS = ["#2166ac", "#92c5de", "#fff7bc", "#fdb863", "#e66101", "#993404"];
  // "0 stars" is a real value: a warm tint, never the white background nor the "no data" grey
  var STAR_COLORS = ["#fde9b6", "#bcbddc", "#807dba", "#4a1486"];

  function $(id) { return document.getElementById(id); }
  function el(tag, attrs, parent) {
    var e = document.createElementNS(NS, tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (parent) { parent.appendChild(e); }
    return e;
  }
  function option(sel, value, text) {
    var o = document.createElement("option");
    o.value = String(value); o.textContent = text; sel.appendChild(o);
  }
  function fmtInt(v) { return Math.round(v).toLocaleString("en-US"); }

  function start() {
    var layerSel = $("map-layer"), clusterSel = $("map-cluster"), yearSel = $("map-year"), measureSel = $("map-measure");
    M.layers.forEach(function (L, i) { option(layerSel, i, L.label + " (" + L.regions.length + ")"); });

    function layer() { return M.layers[Number(layerSel.value)]; }
    function measure() { var L = layer(); return L.measures[Number(measureSel.value)] || L.measures[0]; }

    function fillPickers() {
      var L = layer(), c = clusterSel.value, y = yearSel.value, m = measureSel.value;
      [clusterSel, yearSel, measureSel].forEach(function (s) { while (s.firstChild) { s.removeChild(s.firstChild); } });
      L.clusters.forEach(function (k, i) { option(clusterSel, i, M.clusters[k][1]); });
      L.years.forEach(function (yy, i) { option(yearSel, i, String(yy)); });
      L.measures.forEach(function (mm, i) { option(measureSel, i, mm[1]); });
      clusterSel.value = c !== "" && Number(c) < L.clusters.length ? c : String(L.defaultCluster);
      yearSel.value = y !== "" && Number(y) < L.years.length ? y : String(L.years.length - 1);
      measureSel.value = m !== "" && Number(m) < L.measures.length ? m : "0";
    }

    // value → [color index, label] per measure kind
    function scale(kind, values) {
      if (kind === "lq") {
        var labels = ["< 0.5", "0.5–0.8", "0.8–1.25", "1.25–2", "2–3", "≥ 3"];
        return { colors: LQ_COLORS, labels: labels, bin: function (v) { var k = 0; while (k < LQ_BINS.length && v >= LQ_BINS[k]) { k++; } return k; } };
      }
      if (kind === "strong") {
        return { colors: ["#d9e6f2", "#d95f02"], labels: ["not strong", "strong cluster"], bin: function (v) { return v ? 1 : 0; } };
      }
      if (/stars$/.test(kind)) {
        return { colors: STAR_COLORS, labels: ["0 stars", "1 star", "2 stars", "3 stars"], bin: function (v) { return Math.max(0, Math.min(3, v)); } };
      }
      // employment: quintile classes of the values on the map
      var sorted = values.filter(function (v) { return v !== null; }).sort(function (a, b) { return a - b; });
      var cuts = [];
      for (var q = 1; q < SEQ.length; q++) { cuts.push(sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length / SEQ.length))] : 0); }
      var lab = [], lo = sorted.length ? sorted[0] : 0;
      cuts.concat([sorted.length ? sorted[sorted.length - 1] : 0]).forEach(function (hi, k) {
        lab.push((k === 0 ? fmtInt(lo) : fmtInt(cuts[k - 1])) + "–" + fmtInt(hi)); });
      return { colors: SEQ, labels: lab, bin: function (v) { var k = 0; while (k < cuts.length && v >= cuts[k]) { k++; } return k; } };
    }

    function show(kind, v, div) {
      if (v === null || v === undefined) { return "no data"; }
      var x = v / div;
      if (kind === "lq") { return "LQ " + x.toFixed(2); }
      if (kind === "strong") { return x ? "strong cluster" : "not a strong cluster"; }
      if (/stars$/.test(kind)) { return x + (x === 1 ? " star" : " stars"); }
      return fmtInt(x) + " " + (M.units[kind] || "");
    }

    function draw() {
      var L = layer(), m = measure(), kind = m[0], div = m[2];
      var ci = Number(clusterSel.value), yi = Number(yearSel.value);
      var series = (L.values[kind][ci] || [])[yi] || [];
      var vals = L.regions.map(function (r, i) { var v = series[i]; return v === null || v === undefined ? null : v / div; });
      var sc = scale(kind, vals);
      var box = $("map");
      while (box.firstChild) { box.removeChild(box.firstChild); }
      var X0 = L.frame[0], Y0 = L.frame[1], W = L.frame[2], H = L.frame[3];
      var svg = el("svg", { viewBox: "0 0 " + W + " " + (H + 46), width: "100%", role: "img", "class": "map", "aria-label": "Map" }, box);
      var title = el("text", { x: 4, y: 16, "class": "ctitle" }, svg);
      title.textContent = m[1] + " — " + M.clusters[L.clusters[ci]][1] + ", " + L.label + ", " + L.years[yi];
      var g = el("g", { transform: "translate(" + (-X0) + " " + (24 - Y0) + ")" }, svg);
      // EU: the countries' outlines are the "no data" ground; each year draws the regions that have
      // data in it (a region of an older NUTS version never hides the newer one of another year)
      var ground = L.ground ? M.grounds[L.ground] : null;
      if (ground && ground.d) {
        el("path", { d: ground.d, "class": "ground", fill: ground.nodata ? NODATA : BASE, stroke: "#fff", "stroke-width": 0.4, "fill-rule": "evenodd" }, g);
      }
      if (L.inset && L.inset.length) {
        el("rect", { x: L.inset[0], y: L.inset[1], width: L.inset[2], height: L.inset[3], fill: "none", stroke: "#999", "stroke-width": 0.6, "class": "inset" }, g);
      }
      var withData = 0, drawn = 0;
      L.regions.forEach(function (r, i) {
        if (L.byYear && L.present[i].indexOf(yi) < 0) { return; }
        drawn++;
        var v = vals[i];
        var p = el("path", { d: r[2], "class": "region", "data-code": r[0], fill: v === null ? NODATA : sc.colors[sc.bin(v)], stroke: "#fff", "stroke-width": 0.4, "fill-rule": "evenodd" }, g);
        var text = r[1] + " (" + r[0] + (r[3] && r[3] !== "2021" ? ", NUTS " + r[3] : "") + "): " + show(kind, series[i], div);
        if (v !== null) { p.setAttribute("data-value", String(v)); withData++; }
        el("title", {}, p).textContent = text;
        p.addEventListener("mouseenter", function () { $("map-info").textContent = text; });
      });
      var leg = el("g", { "class": "legend", transform: "translate(4 " + (H + 34) + ")" }, svg);
      var x = 0;
      sc.labels.concat(["no data"]).forEach(function (lab, k) {
        var color = k < sc.labels.length ? sc.colors[k] : NODATA;
        el("rect", { x: x, y: -10, width: 12, height: 12, fill: color, stroke: "#999", "stroke-width": 0.5 }, leg);
        var t = el("text", { x: x + 16, y: 0, "class": "axis" }, leg);
        t.textContent = lab;
        x += 22 + 6.5 * lab.length;
      });
      var lost = L.unshaped.filter(function (u) { return u[4].indexOf(yi) >= 0; });
      $("map-info").textContent = withData + " of " + drawn + " regions with data; hover a region for its value." +
        (lost.length ? " " + lost.length + " region(s) with data have no shape in this geometry (listed below)." : "");
      $("map-unshaped").textContent = lost.length ? "Not drawn in " + L.years[yi] + ": " + lost.map(function (u) {
        return u[1] + " (" + u[0] + (u[2] ? ", NUTS " + u[2] : "") + ": " + u[3] + ")"; }).join("; ") + "." : "";
      document.body.setAttribute("data-map", layerSel.value + "/" + clusterSel.value + "/" + yearSel.value + "/" + measureSel.value);
    }

    layerSel.addEventListener("change", function () { fillPickers(); draw(); });
    [clusterSel, yearSel, measureSel].forEach(function (s) { s.addEventListener("change", draw); });
    layerSel.value = "0";
    fillPickers();
    draw();
  }

  // #map-data is gzip + base64 (see maps.py); inflate it in the browser, no network involved.
  var bin = atob(holder.textContent.trim()), bytes = new Uint8Array(bin.length);
  for (var i = 0; i < bin.length; i++) { bytes[i] = bin.charCodeAt(i); }
  new Response(new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"))).json().then(function (data) {
    M = data;
    start();
  }).catch(function (err) {
    $("map-info").textContent = "The map data could not be read in this browser: " + err;
    throw err;
  });
})();
