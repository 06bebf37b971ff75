/* Cluster Observatory release page, the SVG charts the profiles draw (window.ObsCharts):
   the cluster portfolio (LQ against employment growth, bubble area = employment), ranked bars
   and a trend line. Plain SVG, no libraries. */
(function () {
  "use strict";
  if (!window.Obs) { return; }
  var el = Obs.el, fmt = Obs.fmt;
  var BLUE = "#1b6ca8", ORANGE = "#d95f02", GREY = "#9aa5b1";

  function label(parent, x, y, s, attrs) { var t = el("text", Object.assign({ x: x, y: y }, attrs || {}), parent); t.textContent = s; return t; }
  function tip(node, s) { el("title", {}, node).textContent = s; }
  function niceMax(v) {
    if (!(v > 0)) { return 1; }
    var p = Math.pow(10, Math.floor(Math.log10(v))), m = v / p;
    return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
  }
  function svg(box, W, H, aria) { return el("svg", { viewBox: "0 0 " + W + " " + H, width: "100%", role: "img", "class": "chart", "aria-label": aria }, box); }

  // points: [{name, growth (share, e.g. 0.12), lq, emp, strong}]
  function portfolio(box, title, points, ref) {
    var W = 680, H = 440, L = 56, R = 20, T = 50, B = 44;
    var s = svg(box, W, H, "Cluster portfolio");
    label(s, 0, 16, title, { "class": "ctitle" });
    var pts = points.filter(function (p) { return p.lq !== null && p.growth !== null && isFinite(p.growth) && p.emp > 0; });
    if (!pts.length) { label(s, 0, 50, "No cluster has an LQ and a growth rate for this window."); return s; }
    var gs = pts.map(function (p) { return p.growth; }).sort(function (a, b) { return a - b; });
    // clip the growth axis at the 5th / 95th percentile so one tiny cluster does not flatten the rest
    var lo = Math.min(-0.05, gs[Math.floor(0.05 * (gs.length - 1))]), hi = Math.max(0.05, gs[Math.ceil(0.95 * (gs.length - 1))]);
    var ymax = niceMax(Math.max.apply(null, pts.map(function (p) { return p.lq; }).concat([1.5])));
    ymax = Math.min(ymax, Math.max(4, 1.1 * pts.map(function (p) { return p.lq; }).sort(function (a, b) { return a - b; })[Math.ceil(0.95 * (pts.length - 1))]));
    var P = 26;  // padding inside the axes: the largest bubbles stay inside the plot
    var X = function (g) { return L + P + (W - L - R - 2 * P) * (Math.max(lo, Math.min(hi, g)) - lo) / (hi - lo); };
    var Y = function (q) { return T + P + (H - T - B - P) * (1 - Math.min(q, ymax) / ymax); };
    var emax = Math.max.apply(null, pts.map(function (p) { return p.emp; }));
    var rad = function (e) { return 3 + 26 * Math.sqrt(e / emax); };
    for (var k = 0; k <= 4; k++) {
      var q = ymax * k / 4;
      el("line", { x1: L, x2: W - R, y1: Y(q), y2: Y(q), stroke: "#eee" }, s);
      label(s, L - 6, Y(q) + 4, q.toFixed(1), { "text-anchor": "end", "class": "axis" });
    }
    [lo, 0, hi].forEach(function (g) { label(s, X(g), H - B + 16, (100 * g).toFixed(0) + " %", { "text-anchor": "middle", "class": "axis" }); });
    el("line", { x1: L, x2: W - R, y1: Y(1), y2: Y(1), stroke: "#333", "stroke-dasharray": "4 3" }, s);
    if (ref && ref.value !== null && isFinite(ref.value)) {  // {value, label}: the growth the region's clusters are read against
      el("line", { x1: X(ref.value), x2: X(ref.value), y1: T + 8, y2: H - B, stroke: "#333", "stroke-dasharray": "4 3" }, s);
      label(s, X(ref.value) + 4, H - B - 6, ref.label + " " + (100 * ref.value).toFixed(1) + " %", { "class": "axis" });
    }
    label(s, (L + W - R) / 2, H - 8, "employment growth over the window; dashed outline: beyond the axes (hover for the value)", { "text-anchor": "middle", "class": "axis" });
    label(s, 12, T + (H - T - B) / 2, "location quotient", { "text-anchor": "middle", "class": "axis", transform: "rotate(-90 12 " + (T + (H - T - B) / 2) + ")" });
    pts.sort(function (a, b) { return b.emp - a.emp; }).forEach(function (p) {
      var c = el("circle", { cx: X(p.growth), cy: Y(p.lq), r: rad(p.emp), fill: p.strong ? ORANGE : BLUE, "fill-opacity": 0.55, stroke: p.strong ? ORANGE : BLUE, "class": "bubble" + (p.strong ? " strong" : "") }, s);
      tip(c, p.name + ": LQ " + p.lq.toFixed(2) + ", growth " + (100 * p.growth).toFixed(1) + " %, " + fmt(p.emp) + " jobs" + (p.strong ? ", strong cluster" : ""));
      if (p.lq > ymax || p.growth < lo || p.growth > hi) { c.setAttribute("stroke-dasharray", "3 2"); c.setAttribute("stroke-width", 1.5); }
    });
    // names of the strong clusters, largest first, skipping a label that would overlap one already placed
    var placed = [];
    pts.filter(function (p) { return p.strong; }).forEach(function (p) {
      var text = (p.name.length > 28 ? p.name.slice(0, 27) + "\u2026" : p.name) + (p.lq > ymax ? " (LQ " + p.lq.toFixed(2) + ")" : "");
      var w = 6.2 * text.length, x = Math.max(L + w / 2, Math.min(W - R - w / 2, X(p.growth)));
      var y = Y(p.lq) - rad(p.emp) - 3 > T + 12 ? Y(p.lq) - rad(p.emp) - 3 : Y(p.lq) + rad(p.emp) + 12;
      if (placed.some(function (b) { return Math.abs(b[0] - x) < (b[2] + w) / 2 && Math.abs(b[1] - y) < 13; })) { return; }
      placed.push([x, y, w]);
      label(s, x, y, text, { "text-anchor": "middle", "class": "lab" });
    });
    var lg = el("g", { transform: "translate(" + L + " 32)" }, s);
    el("circle", { cx: 6, cy: 0, r: 6, fill: ORANGE, "fill-opacity": 0.55 }, lg); label(lg, 16, 4, "strong cluster", { "class": "axis" });
    el("circle", { cx: 116, cy: 0, r: 6, fill: BLUE, "fill-opacity": 0.55 }, lg); label(lg, 126, 4, "other traded cluster; bubble area = employment; dashed line: LQ 1", { "class": "axis" });
    return s;
  }

  // rows: [{name, value, text}] drawn as horizontal bars
  function bars(box, title, rows, marker) {
    var W = 680, left = 290, rowH = 24, top = 26, H = top + rowH * Math.max(rows.length, 1) + 24;
    var s = svg(box, W, H, title);
    label(s, 0, 16, title, { "class": "ctitle" });
    if (!rows.length) { label(s, 0, top + 18, "No values."); return s; }
    var max = niceMax(Math.max.apply(null, rows.map(function (r) { return r.value; }).concat([marker || 0])));
    var sc = function (v) { return left + (W - left - 70) * v / max; };
    rows.forEach(function (r, k) {
      var y = top + k * rowH;
      label(s, left - 8, y + 15, r.name.length > 42 ? r.name.slice(0, 41) + "\u2026" : r.name, { "text-anchor": "end", "class": "lab" });
      var b = el("rect", { x: left, y: y + 4, width: Math.max(1, sc(r.value) - left), height: rowH - 8, fill: r.strong ? ORANGE : BLUE, "class": "bar" }, s);
      tip(b, r.name + ": " + r.text);
      label(s, sc(r.value) + 4, y + 15, r.text, { "class": "val" });
    });
    if (marker) { el("line", { x1: sc(marker), x2: sc(marker), y1: top, y2: top + rowH * rows.length, stroke: "#333", "stroke-dasharray": "4 3" }, s); }
    return s;
  }

  // series: [{name, years: [...], values: [...]}]
  function trend(box, title, series) {
    var W = 680, H = 270, L = 70, R = 20, T = 44, B = 36;
    var s = svg(box, W, H, title);
    label(s, 0, 16, title, { "class": "ctitle" });
    var all = [], ys = [];
    series.forEach(function (x) { x.values.forEach(function (v, i) { if (v !== null) { all.push(v); ys.push(x.years[i]); } }); });
    if (!all.length) { label(s, 0, 50, "No data."); return s; }
    var y0 = Math.min.apply(null, ys), y1 = Math.max.apply(null, ys), max = niceMax(Math.max.apply(null, all));
    var X = function (y) { return L + (y1 > y0 ? (W - L - R) * (y - y0) / (y1 - y0) : (W - L - R) / 2); };
    var Y = function (v) { return T + (H - T - B) * (1 - v / max); };
    for (var k = 0; k <= 4; k++) {
      el("line", { x1: L, x2: W - R, y1: Y(max * k / 4), y2: Y(max * k / 4), stroke: "#eee" }, s);
      label(s, L - 6, Y(max * k / 4) + 4, fmt(max * k / 4), { "text-anchor": "end", "class": "axis" });
    }
    for (var y = y0; y <= y1; y++) { if (y1 - y0 <= 12 || (y - y0) % 2 === 0) { label(s, X(y), H - B + 16, String(y), { "text-anchor": "middle", "class": "axis" }); } }
    series.forEach(function (x, n) {
      var color = [ORANGE, BLUE, GREY][n % 3], d = "", pen = false;
      x.values.forEach(function (v, i) {
        if (v === null) { pen = false; return; }
        d += (pen ? " L" : " M") + X(x.years[i]).toFixed(1) + " " + Y(v).toFixed(1); pen = true;
        tip(el("circle", { cx: X(x.years[i]), cy: Y(v), r: 3, fill: color, "class": "dot" }, s), x.name + ", " + x.years[i] + ": " + fmt(v));
      });
      el("path", { d: d.trim(), fill: "none", stroke: color, "stroke-width": 2.2, "class": "line" }, s);
      label(s, L + 8 + 220 * n, T - 14, "\u25A0 " + x.name, { "class": "axis", fill: color });
    });
    return s;
  }

  // nodes: [{id, name}] on a circle; edges: [[id, id]] drawn as lines between them
  function network(box, title, nodes, edges) {
    var W = 680, H = 380, cx = W / 2, cy = 200, R = 130;
    var s = svg(box, W, H, title);
    label(s, 0, 16, title, { "class": "ctitle" });
    var at = {};
    nodes.forEach(function (n, k) {
      var a = 2 * Math.PI * k / nodes.length - Math.PI / 2;
      at[n.id] = [cx + R * Math.cos(a), cy + R * Math.sin(a), Math.cos(a)];
    });
    var seen = {};
    edges.forEach(function (e) {
      var key = [e[0], e[1]].sort().join("|");
      if (seen[key] || !at[e[0]] || !at[e[1]]) { return; }
      seen[key] = true;
      var l = el("line", { x1: at[e[0]][0], y1: at[e[0]][1], x2: at[e[1]][0], y2: at[e[1]][1], stroke: GREY, "stroke-width": 1.5, "class": "edge" }, s);
      tip(l, nodes.filter(function (n) { return n.id === e[0] || n.id === e[1]; }).map(function (n) { return n.name; }).join(" \u2013 "));
    });
    nodes.forEach(function (n) {
      var p = at[n.id], c = el("circle", { cx: p[0], cy: p[1], r: 8, fill: ORANGE, "class": "node" }, s);
      tip(c, n.name);
      label(s, p[0] + (p[2] >= 0 ? 12 : -12), p[1] + 4, n.name.length > 26 ? n.name.slice(0, 25) + "\u2026" : n.name,
        { "text-anchor": p[2] >= 0 ? "start" : "end", "class": "lab" });
    });
    return s;
  }

  window.ObsCharts = { portfolio: portfolio, bars: bars, trend: trend, network: network };
})();
