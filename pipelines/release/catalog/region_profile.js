/* Cluster Observatory release page, the "Region profile" view: a region's cluster portfolio,
   top traded clusters, related clusters and opportunities, industry drill-down and indicator
   families; a second region side by side (compare). State in the URL hash (Obs.setState). */
(function () {
  "use strict";
  if (!window.Obs || !window.ObsCharts || !document.getElementById("rp-body")) { return; }
  var h = Obs.h, fmt = Obs.fmt, fix = Obs.fix, C = ObsCharts;
  var body = document.getElementById("rp-body"), yearSel = document.getElementById("rp-year"), fromSel = document.getElementById("rp-from");
  var search = document.getElementById("rp-search"), compare = document.getElementById("rp-compare");
  var QUAD = { "rising below": "LQ rising, still below 1", "rising above": "LQ rising, above 1", "falling below": "LQ falling, below 1", "falling above": "LQ falling, above 1" };
  Obs.fillList("rp-names", ["region"]);

  function at(ser, i, key, y) { var a = ser[key] && ser[key][i]; if (!a) { return null; } var v = a[y - ser.y0]; return v === undefined ? null : v; }
  function link(text, state) { var p = new URLSearchParams(Object.assign({}, Obs.state(), state)); return { text: text, href: "#" + p.toString().replace(/%2F/g, "/") }; }
  function clusterLink(code) { return link(Obs.clusterName(code), { view: "cluster", cluster: code }); }

  // rank of the region's LQ among the ranked regions of its type (1 = highest; computed on the
  // unrounded LQ when the page was built) and how many were ranked
  function rank(key, d, i, code, y) {
    var r = at(d.series, i, "r", y), P = Obs.index.peers[Obs.typeOf(key)];
    if (r === null || !P || !P[1][code]) { return null; }
    var n = P[1][code][y - Number(P[0])];
    return n ? [r, n] : null;
  }
  function typeGrowth(typeBlock, y0, y1) {
    var a = 0, b = 0;
    Object.keys(typeBlock).forEach(function (k) {
      var s = typeBlock[k].summary, i0 = s.year.indexOf(y0), i1 = s.year.indexOf(y1);
      if (i0 >= 0 && i1 >= 0 && s.traded[i0] && s.traded[i1]) { a += s.traded[i0]; b += s.traded[i1]; }
    });
    return a > 0 ? b / a - 1 : null;
  }

  function rows(d, y) {
    var s = d.series;
    return s.c.map(function (code, i) {
      return { code: code, name: Obs.clusterName(code), emp: at(s, i, "e", y), lq: at(s, i, "q", y), wage: at(s, i, "w", y),
        strong: at(s, i, "s", y) === 1, stars: s.t ? at(s, i, "t", y) : null, i: i };
    }).filter(function (r) { return r.emp !== null && r.emp > 0; }).sort(function (a, b) { return b.emp - a.emp; });
  }

  function summary(card, key, d, y) {
    var s = d.summary, i = s.year.indexOf(y), eu = Obs.region(key)[2] === "eu";
    var tr = i < 0 ? null : s.traded[i], lo = i < 0 ? null : s.local[i], cov = i < 0 ? null : s.coverage[i];
    var rs = rows(d, y), strong = rs.filter(function (r) { return r.strong; }).length;
    var assessed = rs.some(function (r) { return at(d.series, r.i, "s", y) !== null; });
    h("p", { "class": "summary" }, card, "Traded employment " + fmt(tr) + ", local " + fmt(lo) +
      (tr !== null && lo !== null && tr + lo > 0 ? " (traded share " + (100 * tr / (tr + lo)).toFixed(1) + " %)" : "") +
      "; " + (assessed ? strong + " strong cluster" + (strong === 1 ? "" : "s") + " in " + y : "strong clusters not assessed for this region in " + y) + ". " +
      (cov !== null ? "The 6-digit industry rows cover " + (100 * cov).toFixed(1) + " % of the source files' employment in this region-year." :
        eu ? "Coverage: Eurostat SBS by NACE division, apportioned to clusters (no 6-digit coverage measure)." : "Coverage not measured for this region-year."));
  }

  function topTable(card, key, d, y) {
    var eu = Obs.region(key)[2] === "eu", custom = Obs.typeOf(key) === "custom";
    var all = rows(d, y).filter(function (r) { return Obs.cluster(r.code) && Obs.cluster(r.code)[2] === "traded"; });
    var out = all.map(function (r) {
      var rk = custom ? null : rank(key, d, r.i, r.code, y);
      return [clusterLink(r.code), fmt(r.emp), fix(r.lq, 2), r.wage === null ? "n/a" : fix(r.wage, 2) + "\u00d7",
        rk ? rk[0] + " of " + rk[1] : "n/a", eu ? (r.stars === null ? "n/a" : r.stars + " \u2605") + (r.strong ? ", strong" : "") : (r.strong ? "strong" : "")];
    });
    h("h4", {}, card, "Top traded clusters, " + y + " (by employment; all " + all.length + " in the CSV)");
    var head = ["cluster", "employment", "LQ", eu ? "wage vs Europe" : "wage vs national", "rank by LQ among " + (Obs.types[Obs.typeOf(key)] || "regions") + "s", eu ? "stars (Panorama)" : "strong"];
    Obs.table(card, head, out.slice(0, 15), "clusters-" + key.replace("/", "-") + "-" + y + ".csv",
      out.map(function (r) { return [r[0].text].concat(r.slice(1)); }));
  }

  // growth from the constant-definition series (cluster_timeseries) when the release has it, so
  // that a window across a NAICS vintage does not mix definitions; else from the native figures
  function portfolio(card, key, d, typeBlock, y, from) {
    var constant = !!d.series.g, k = constant ? "g" : "e", left = 0;
    var pts = rows(d, y).filter(function (r) { return Obs.cluster(r.code)[2] === "traded"; }).map(function (r) {
      var e0 = at(d.series, r.i, k, from), e1 = at(d.series, r.i, k, y);
      if (!(e0 > 0) || e1 === null) { left++; }
      return { name: r.name, lq: r.lq, emp: r.emp, strong: r.strong, growth: e0 > 0 && e1 !== null ? e1 / e0 - 1 : null };
    });
    var box = Obs.chartBox(card, "portfolio-" + key.replace("/", "-") + "-" + from + "-" + y);
    C.portfolio(box, "Cluster portfolio, " + Obs.region(key)[1] + ": LQ " + y + " against employment growth " + from + "\u2013" + y,
      pts, constant || Obs.typeOf(key) === "custom" ? null : { value: typeGrowth(typeBlock, from, y), label: "all " + (Obs.plural[Obs.typeOf(key)] || "regions") });
    h("p", { "class": "muted note" }, card, "Growth " + (constant ? "on the constant-definition series (cluster_timeseries: one cluster definition in every year)"
      : "on the published figures (a window across a NAICS vintage compares two definitions); the dashed vertical line is the growth of the traded employment of all " +
        (Obs.plural[Obs.typeOf(key)] || "regions") + " with data in both years") +
      (left ? "; " + left + " cluster" + (left === 1 ? "" : "s") + " without a growth base in " + from + " not drawn" : "") + ".");
  }

  function related(card, key, d) {
    h("h4", {}, card, "Related clusters");
    var L = d.links, O = d.opportunities;
    if (L && L.rows.length) {
      var edges = [];
      L.rows.forEach(function (r) { (r[3] ? r[3].split(/;\s*/) : []).forEach(function (o) { edges.push([r[0], o]); }); });
      C.network(Obs.chartBox(card, "strong-cluster-links"), "Strong clusters and their links, " + Obs.region(key)[1] + ", " + L.year,
        L.rows.map(function (r) { return { id: r[0], name: Obs.clusterName(r[0]) }; }), edges);
      h("p", { "class": "muted note" }, card, "A line joins two strong clusters of the region that are related (clustermapping.us related-cluster pairs).");
      var ul = h("ul", {}, card);
      L.rows.forEach(function (r) {
        var li = h("li", {}, ul), names = r[3] ? r[3].split(/;\s*/).map(Obs.clusterName) : [];
        h("strong", {}, li, Obs.clusterName(r[0]));
        li.appendChild(document.createTextNode(" (strong, " + L.year + "): " + r[2] + " of its " + r[1] + " related clusters are strong here" + (names.length ? " \u2014 " + names.join(", ") : "")));
      });
    } else { h("p", { "class": "muted" }, card, "No strong cluster with links data."); }
    if (O && O.rows.length) {
      h("p", {}, card, "Diversification opportunities, " + O.year + ": clusters the region is not specialised in, ranked by relatedness density (how much related activity it already has).");
      Obs.table(card, ["cluster", "relatedness density", "LQ"], O.rows.map(function (r) { return [clusterLink(r[0]), r[1], r[2]]; }), "opportunities.csv");
    }
  }

  function drill(card, key, d, y) {
    h("h4", {}, card, "Cluster drill-down");
    var sel = h("select", { id: "rp-drill" }, h("label", {}, card, "Cluster "));
    var list = rows(d, y).filter(function (r) { return Obs.cluster(r.code)[2] === "traded"; });
    list.forEach(function (r) { var o = h("option", { value: r.code }, sel, r.name); o.value = r.code; });
    var st = Obs.state();
    sel.value = st.cluster && list.some(function (r) { return r.code === st.cluster; }) ? st.cluster : (list[0] || {}).code;
    var out = h("div", {}, card);
    function show() {
      while (out.firstChild) { out.removeChild(out.firstChild); }
      var i = d.series.c.indexOf(sel.value), years = [];
      for (var yy = d.series.y0; yy < d.series.y0 + d.series.e[i].length; yy++) { years.push(yy); }
      var lines = [{ name: "published", years: years, values: d.series.e[i] }];
      if (d.series.g && d.series.g[i]) { lines.push({ name: "constant definition", years: years, values: d.series.g[i] }); }
      C.trend(Obs.chartBox(out, "trend-" + key.replace("/", "-") + "-" + sel.value), Obs.clusterName(sel.value) + " employment, " + Obs.region(key)[1], lines);
      Promise.all([Obs.definitions(), Obs.inflate("obs-i:" + Obs.typeOf(key))]).then(function (got) {
        var R = got[1][key];
        if (R && regionIndustries(out, key, sel.value, got[0], R)) { return; }
        industries(out, sel.value, got[0], Obs.region(key)[2]);
      });
    }
    sel.addEventListener("change", function () { Obs.setState({ cluster: sel.value }); });
    show();
  }

  // the region's employment in the cluster's subclusters and 6-digit industries (US, its latest year)
  function regionIndustries(out, key, code, D, R) {
    var rows = R.rows.filter(function (r) { return r[0] === code; });
    if (!rows.length) { return false; }
    var title = {}, subOf = {}, subName = {}, bySub = {}, total = 0;
    ((D.naics || {})[code] || { rows: [] }).rows.forEach(function (r) { title[r[0]] = r[1]; subOf[r[0]] = r[2]; });
    ((D.subclusters || {})[code] || []).forEach(function (x) { subName[x[0]] = x[1]; });
    rows.forEach(function (r) { var e = Number(r[2]), sb = subName[subOf[r[1]]] || "(no subcluster mapped)"; total += e; bySub[sb] = (bySub[sb] || 0) + e; });
    h("p", {}, out, Obs.clusterName(code) + " in " + Obs.region(key)[1] + ", " + R.year + ": " + fmt(total) + " jobs in " + rows.length +
      " six-digit industries (NAICS " + R.vintage + " definition; an industry split between clusters counts with its weight).");
    var subs = Object.keys(bySub).sort(function (a, b) { return bySub[b] - bySub[a]; });
    Obs.table(out, ["subcluster", "employment", "share"], subs.map(function (k) { return [k, fmt(bySub[k]), (100 * bySub[k] / total).toFixed(1) + " %"]; }),
      "subclusters-" + key.replace("/", "-") + "-" + code + ".csv");
    Obs.table(out, ["industry", "NAICS", "subcluster", "employment"], rows.map(function (r) { return [title[r[1]] || "", r[1], subName[subOf[r[1]]] || "", fmt(Number(r[2]))]; }),
      "industries-" + key.replace("/", "-") + "-" + code + ".csv");
    return true;
  }

  function industries(out, code, D, side) {
    var sub = {};
    ((D.subclusters || {})[code] || []).forEach(function (s) { sub[s[0]] = s[1]; });
    if (side === "us" && D.naics && D.naics[code]) {
      var N = D.naics[code];
      h("p", {}, out, "Industries that define " + Obs.clusterName(code) + " (NAICS " + N.vintage + " definition, " + N.rows.length + " six-digit industries):");
      Obs.table(out, ["industry", "NAICS", "subcluster", "weight"], N.rows.map(function (r) { return [r[1], r[0], sub[r[2]] || "", r[3]]; }), "industries-" + code + ".csv");
    } else if (side === "eu" && D.nace && D.nace[code]) {
      var E = D.nace[code];
      h("p", {}, out, "NACE divisions apportioned to " + Obs.clusterName(code) + " (weight = share of the division's employment assigned to this cluster; European employment apportioned, " + E.year + "):");
      Obs.table(out, ["NACE", "weight", "method", "EU employment apportioned"], E.rows.map(function (r) { return [r[0], r[1], r[2], fmt(Number(r[3]))]; }), "nace-" + code + ".csv");
    } else { h("p", { "class": "muted" }, out, "No industry definition for this cluster in the release."); }
  }

  function families(card, d) {
    var S = d.shiftShare, E = d.emerging;
    h("h4", {}, card, "Indicator families");
    if (S && S.c.length) {
      h("p", {}, card, "Shift-share of employment change " + S.w0 + "\u2013" + S.w1 + ": change = national growth effect (had the cluster grown like the whole economy) + industry mix effect (the cluster's own national trend) + competitive effect (the region's own performance).");
      Obs.table(card, ["cluster", "change", "national growth", "industry mix", "competitive"],
        S.c.slice(0, 10).map(function (c, i) { return [clusterLink(c)].concat(S.rows[i].map(function (v) { return (v > 0 ? "+" : "") + fmt(v); })); }),
        "shift-share.csv", S.c.map(function (c, i) { return [Obs.clusterName(c)].concat(S.rows[i]); }));
    }
    if (E && E.rows.length) {
      h("p", {}, card, "Emerging clusters " + E.w0 + "\u2013" + E.w1 + " (LQ rising towards specialisation with employment growing faster than the reference):");
      var ul = h("ul", {}, card);
      E.rows.forEach(function (r) { h("li", {}, ul, Obs.clusterName(r[0]) + ": " + (QUAD[r[1]] || r[1]) + ", LQ " + r[2] + " \u2192 " + r[3] + ", employment " + (Number(r[4]) >= 0 ? "+" : "") + (100 * Number(r[4])).toFixed(1) + " %"); });
    } else if (E !== undefined) { h("p", { "class": "muted" }, card, "No cluster flagged emerging in the latest window."); }
  }

  function card(key, d, typeBlock, y, from, full) {
    var c = h("div", { "class": "profile", "data-region": key }, body);
    h("h3", {}, c, Obs.regionLabel(key));
    if (!d) { h("p", { "class": "muted" }, c, "No data for this region."); return; }
    summary(c, key, d, y);
    portfolio(c, key, d, typeBlock, y, from);
    topTable(c, key, d, y);
    if (full) { related(c, key, d); drill(c, key, d, y); families(c, d); }
  }

  function years(key) { var r = Obs.region(key); return r ? r[3] : []; }
  function options(sel, ys, value) {
    while (sel.firstChild) { sel.removeChild(sel.firstChild); }
    ys.forEach(function (y) { var o = h("option", {}, sel, String(y)); o.value = String(y); });
    sel.value = String(value);
  }

  var drawing = 0;
  function render(st) {
    var key = st.region && Obs.region(st.region) ? st.region : Obs.index.defaultRegion;
    var ys = years(key), y = ys.indexOf(Number(st.year)) >= 0 ? Number(st.year) : ys[ys.length - 1];
    options(yearSel, ys, y);
    search.value = Obs.regionLabel(key);
    var other = st.compare && Obs.region(st.compare) ? st.compare : null;
    compare.value = other ? Obs.regionLabel(other) : "";
    var me = ++drawing;
    var keys = other ? [key, other] : [key];
    Promise.all(keys.map(function (k) { return Obs.typeData(Obs.typeOf(k)); })).then(function (blocks) {
      if (me !== drawing) { return; }
      // growth windows start in a year with data on the series the portfolio uses (constant-definition or native)
      var d0 = blocks[0][key], g = d0 && d0.series.g;
      var before = ys.filter(function (v) {
        return v < y && (!g || g.some(function (a) { return a && a[v - d0.series.y0] !== null && a[v - d0.series.y0] !== undefined; }));
      });
      var from = before.indexOf(Number(st.from)) >= 0 ? Number(st.from) : (before.length ? before[Math.max(0, before.length - 5)] : y);
      options(fromSel, before.length ? before : [y], from);
      while (body.firstChild) { body.removeChild(body.firstChild); }
      body.className = "profiles" + (other ? " two" : "");
      keys.forEach(function (k, n) {
        var ky = years(k).indexOf(y) >= 0 ? y : years(k)[years(k).length - 1];
        var kf = years(k).indexOf(from) >= 0 && from < ky ? from : years(k)[0];
        card(k, blocks[n][k] || null, blocks[n], ky, kf, !other);
      });
      document.body.setAttribute("data-region-profile", key + (other ? "|" + other : ""));
    });
  }

  function pick(input, field) {
    var hit = Obs.find(input.value, ["region"]);
    if (hit) { var p = {}; p[field] = hit.key; Obs.setState(p); } else if (field === "compare" && !input.value.trim()) { Obs.setState({ compare: null }); }
  }
  search.addEventListener("change", function () { pick(search, "region"); });
  compare.addEventListener("change", function () { pick(compare, "compare"); });
  yearSel.addEventListener("change", function () { Obs.setState({ year: yearSel.value }); });
  fromSel.addEventListener("change", function () { Obs.setState({ from: fromSel.value }); });
  var last = null;
  Obs.onState(function (st) {
    var sig = [st.region, st.year, st.from, st.compare, st.cluster].join("|");
    if (sig !== last) { last = sig; render(st); }
  });
  last = null;
  var s0 = Obs.state(); last = [s0.region, s0.year, s0.from, s0.compare, s0.cluster].join("|"); render(s0);
})();
