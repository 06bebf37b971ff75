/* Cluster Observatory catalog charts: plain SVG, no libraries, data embedded in #chart-data. */
(function () {
  "use strict";
  var holder = document.getElementById("chart-data");
  if (!holder) { return; }
  var D = JSON.parse(holder.textContent);
  var NS = "http://www.w3.org/2000/svg";
  var COLORS = ["#1b6ca8", "#e07a1f", "#3a9d5d", "#c0392b", "#7d5ba6", "#8c564b", "#d6609f", "#6b7b8c", "#b5a428", "#17a2b8", "#c7c7c7"];
  var yearIdx = D.defaultYear === undefined ? D.years.length - 1 : D.defaultYear;

  function el(tag, attrs, parent) {
    var e = document.createElementNS(NS, tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (parent) { parent.appendChild(e); }
    return e;
  }
  function label(parent, x, y, s, attrs) {
    var t = el("text", Object.assign({ x: x, y: y }, attrs || {}), parent);
    t.textContent = s;
    return t;
  }
  function tip(node, s) { el("title", {}, node).textContent = s; }
  function fmt(n) { return n === null || n === undefined ? "n/a" : Math.round(n).toLocaleString("en-US"); }
  function short(s, n) { return s.length > n ? s.slice(0, n - 1) + "\u2026" : s; }
  function clear(id) {
    var box = document.getElementById(id);
    while (box.firstChild) { box.removeChild(box.firstChild); }
    return box;
  }
  function niceMax(v) {
    if (!(v > 0)) { return 1; }
    var p = Math.pow(10, Math.floor(Math.log10(v))), m = v / p;
    return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
  }
  // series start at the region's first year (D.regions[r][4]); absent years are null
  function at(s, r, y) { var v = s ? s[y - (D.regions[r][4] || 0)] : null; return v === undefined ? null : v; }
  function emp(r, c, y) { return at(D.emp[r][c], r, y); }
  function lqOf(r, c, y) { return at(D.lq[r][c], r, y); }
  function isEU(r) { return D.regions[r][3] === "eu"; }

  var regionSel = document.getElementById("region-select");
  var clusterSel = document.getElementById("cluster-select");
  var yearSel = document.getElementById("year-select");
  var groups = {};
  D.regions.forEach(function (r, i) {
    var g = r[0] === "custom" ? (r[3] === "eu" ? "Custom regions (Europe)" : "Custom regions (US)")
      : (r[3] === "eu" ? "Europe (NUTS)" : "United States");
    if (!groups[g]) {
      groups[g] = document.createElement("optgroup");
      groups[g].label = g;
      regionSel.appendChild(groups[g]);
    }
    var o = document.createElement("option");
    o.value = String(i); o.textContent = r[2] + " (" + r[0] + " " + r[1] + ")";
    groups[g].appendChild(o);
  });
  D.years.forEach(function (y, k) {
    var o = document.createElement("option");
    o.value = String(k); o.textContent = String(y);
    yearSel.appendChild(o);
  });
  yearSel.value = String(yearIdx);
  D.clusters.forEach(function (c, i) {
    var o = document.createElement("option");
    o.value = String(i); o.textContent = c[1];
    clusterSel.appendChild(o);
  });
  regionSel.value = String(D.defaultRegion || 0);
  clusterSel.value = String(D.defaultCluster || 0);

  function drawLQ(r) {
    var box = clear("chart-lq");
    var rows = [];
    D.clusters.forEach(function (c, i) {
      var lq = lqOf(r, i, yearIdx);
      if (lq !== null && lq !== undefined && (emp(r, i, yearIdx) || 0) > 0) { rows.push([i, lq]); }
    });
    rows.sort(function (a, b) { return b[1] - a[1]; });
    rows = rows.slice(0, 10);
    var W = 680, left = 290, rowH = 26, top = 24, H = top + rowH * Math.max(rows.length, 1) + 30;
    var s = el("svg", { viewBox: "0 0 " + W + " " + H, width: "100%", role: "img", "class": "chart", "aria-label": "Top clusters by location quotient" }, box);
    label(s, 0, 14, "Top traded clusters by location quotient, " + D.regions[r][2] + ", " + D.years[yearIdx], { "class": "ctitle" });
    if (!rows.length) { label(s, 0, top + 20, "No LQ values for this region in " + D.years[yearIdx] + "."); return; }
    var max = niceMax(Math.max.apply(null, rows.map(function (x) { return x[1]; }).concat([1])));
    var scale = function (v) { return left + (W - left - 60) * v / max; };
    rows.forEach(function (row, k) {
      var y = top + k * rowH;
      label(s, left - 8, y + 16, short(D.clusters[row[0]][1], 40), { "text-anchor": "end", "class": "lab" });
      var bar = el("rect", { x: left, y: y + 4, width: Math.max(1, scale(row[1]) - left), height: rowH - 8, fill: COLORS[0], "class": "bar" }, s);
      tip(bar, D.clusters[row[0]][1] + ": LQ " + row[1].toFixed(2) + ", employment " + fmt(emp(r, row[0], yearIdx)));
      label(s, scale(row[1]) + 4, y + 16, row[1].toFixed(2), { "class": "val" });
    });
    var x1 = scale(1);
    el("line", { x1: x1, x2: x1, y1: top, y2: top + rowH * rows.length, stroke: "#333", "stroke-dasharray": "4 3" }, s);
    label(s, x1, top + rowH * rows.length + 16, isEU(r) ? "LQ = 1 (European reference)" : "LQ = 1 (national average)", { "text-anchor": "middle", "class": "axis" });
  }

  function arc(cx, cy, ro, ri, a0, a1) {
    var large = a1 - a0 > Math.PI ? 1 : 0;
    function pt(rad, a) { return (cx + rad * Math.sin(a)).toFixed(2) + " " + (cy - rad * Math.cos(a)).toFixed(2); }
    return "M" + pt(ro, a0) + " A" + ro + " " + ro + " 0 " + large + " 1 " + pt(ro, a1) +
      " L" + pt(ri, a1) + " A" + ri + " " + ri + " 0 " + large + " 0 " + pt(ri, a0) + " Z";
  }

  function drawComposition(r) {
    var box = clear("chart-composition");
    var parts = [], total = 0;
    D.clusters.forEach(function (c, i) {
      var v = emp(r, i, yearIdx) || 0;
      if (v > 0) { parts.push([c[1], v]); total += v; }
    });
    parts.sort(function (a, b) { return b[1] - a[1]; });
    if (parts.length > 10) {
      var rest = parts.slice(9).reduce(function (acc, p) { return acc + p[1]; }, 0);
      parts = parts.slice(0, 9).concat([["All other traded clusters", rest]]);
    }
    var W = 680, H = 300, cx = 150, cy = 160, ro = 120, ri = 70;
    var s = el("svg", { viewBox: "0 0 " + W + " " + H, width: "100%", role: "img", "class": "chart", "aria-label": "Traded employment composition" }, box);
    label(s, 0, 14, "Traded employment by cluster, " + D.regions[r][2] + ", " + D.years[yearIdx] + " (total " + fmt(total) + ")", { "class": "ctitle" });
    if (!(total > 0)) { label(s, 0, 40, "No traded employment for this region in " + D.years[yearIdx] + "."); return; }
    var a = 0;
    parts.forEach(function (p, k) {
      var share = p[1] / total, a1 = a + Math.min(share, 0.99999) * 2 * Math.PI;
      var path = el("path", { d: arc(cx, cy, ro, ri, a, a1), fill: COLORS[k % COLORS.length], "class": "slice" }, s);
      tip(path, p[0] + ": " + fmt(p[1]) + " jobs (" + (100 * share).toFixed(1) + "%)");
      a = a + share * 2 * Math.PI;
      var ly = 40 + k * 24;
      el("rect", { x: 300, y: ly, width: 14, height: 14, fill: COLORS[k % COLORS.length] }, s);
      label(s, 320, ly + 12, short(p[0], 44) + "  " + (100 * share).toFixed(1) + "%", { "class": "lab" });
    });
    label(s, cx, cy - 2, fmt(total), { "text-anchor": "middle", "class": "val" });
    label(s, cx, cy + 14, "traded jobs", { "text-anchor": "middle", "class": "axis" });
  }

  function drawTrend(r, c) {
    var box = clear("chart-trend");
    var W = 680, H = 300, left = 70, right = 20, top = 30, bottom = 40;
    var s = el("svg", { viewBox: "0 0 " + W + " " + H, width: "100%", role: "img", "class": "chart", "aria-label": "Cluster employment over time" }, box);
    label(s, 0, 14, D.clusters[c][1] + " employment, " + D.regions[r][2], { "class": "ctitle" });
    var vals = D.years.map(function (y, k) { return emp(r, c, k); });
    var present = vals.filter(function (v) { return v !== null && v !== undefined; });
    if (!present.length) { label(s, 0, 40, "No data for this cluster and region."); return; }
    var max = niceMax(Math.max.apply(null, present));
    var n = D.years.length;
    var X = function (k) { return left + (n > 1 ? (W - left - right) * k / (n - 1) : (W - left - right) / 2); };
    var Y = function (v) { return top + (H - top - bottom) * (1 - v / max); };
    for (var t = 0; t <= 4; t++) {
      var v = max * t / 4;
      el("line", { x1: left, x2: W - right, y1: Y(v), y2: Y(v), stroke: "#ddd" }, s);
      label(s, left - 6, Y(v) + 4, fmt(v), { "text-anchor": "end", "class": "axis" });
    }
    D.years.forEach(function (y, k) {
      if (n <= 12 || k % 2 === 0) { label(s, X(k), H - bottom + 18, String(y), { "text-anchor": "middle", "class": "axis" }); }
    });
    var d = "", pen = false;
    vals.forEach(function (v, k) {
      if (v === null || v === undefined) { pen = false; return; }
      d += (pen ? " L" : " M") + X(k).toFixed(1) + " " + Y(v).toFixed(1);
      pen = true;
    });
    el("path", { d: d.trim(), fill: "none", stroke: COLORS[1], "stroke-width": 2.5, "class": "line" }, s);
    vals.forEach(function (v, k) {
      if (v === null || v === undefined) { return; }
      var dot = el("circle", { cx: X(k), cy: Y(v), r: 3.5, fill: COLORS[1], "class": "dot" }, s);
      tip(dot, D.years[k] + ": " + fmt(v) + " jobs");
    });
  }

  function drawAll() {
    var r = Number(regionSel.value), c = Number(clusterSel.value);
    yearIdx = Number(yearSel.value);
    drawLQ(r);
    drawComposition(r);
    drawTrend(r, c);
    document.body.setAttribute("data-charts", "ready");
  }
  regionSel.addEventListener("change", drawAll);
  clusterSel.addEventListener("change", drawAll);
  yearSel.addEventListener("change", drawAll);
  drawAll();
})();
