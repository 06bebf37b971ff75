/* Cluster Observatory release page, the "Cluster profile" view: a cluster's top regions of each
   region type by employment and by LQ, its trend, the map, related clusters and the industries
   that define it. Regional values come from the region blocks of its side, inflated on demand. */
(function () {
  "use strict";
  if (!window.Obs || !window.ObsCharts || !document.getElementById("cp-body")) { return; }
  var h = Obs.h, fmt = Obs.fmt, C = ObsCharts;
  var body = document.getElementById("cp-body"), yearSel = document.getElementById("cp-year"), sideSel = document.getElementById("cp-side");
  var search = document.getElementById("cp-search");
  Obs.fillList("cp-names", ["cluster"]);
  // the hash's measure (lq, emp, strong, stars) and the map's measure picker, by its labels
  var MEASURES = { lq: /^Location quotient/, emp: /^Employment/, strong: /^Strong/, stars: /^Stars/ };
  var SIDES = { us: ["state", "county", "msa", "economic", "economic_area", "custom"], eu: ["nuts0", "nuts1", "nuts2", "custom"] };

  function typesOf(side) {
    var have = {};
    Obs.index.regions.forEach(function (r) { if (r[2] === side) { have[Obs.typeOf(r[0])] = true; } });
    return SIDES[side].filter(function (t) { return have[t]; });
  }
  // [{key, emp, lq, strong}] of the regions of one type (and side) with this cluster in year y
  function values(block, side, code, y) {
    return Object.keys(block).filter(function (k) { return Obs.region(k)[2] === side; }).map(function (k) {
      var s = block[k].series, i = s.c.indexOf(code), o = y - s.y0;
      if (i < 0) { return null; }
      return { key: k, emp: s.e[i][o] === undefined ? null : s.e[i][o], lq: s.q[i][o] === undefined ? null : s.q[i][o], strong: s.s[i][o] === 1 };
    }).filter(function (v) { return v && v.emp !== null; });
  }
  function regionLink(k) { return { text: Obs.shortLabel(k), href: "#view=region&region=" + k }; }

  function topTables(out, type, vals, y, code) {
    var byEmp = vals.slice().sort(function (a, b) { return b.emp - a.emp; }).slice(0, 10);
    var byLq = vals.filter(function (v) { return v.lq !== null; }).sort(function (a, b) { return b.lq - a.lq; }).slice(0, 10);
    var grid = h("div", { "class": "pair" }, out);
    var left = h("div", {}, grid), right = h("div", {}, grid);
    h("h4", {}, left, "Top " + Obs.plural[type] + " by employment, " + y);
    Obs.table(left, ["region", "employment", "LQ"], byEmp.map(function (v) { return [regionLink(v.key), fmt(v.emp), Obs.fix(v.lq, 2)]; }), "top-" + type + "-emp-" + code + "-" + y + ".csv");
    h("h4", {}, right, "Top " + Obs.plural[type] + " by LQ, " + y);
    Obs.table(right, ["region", "LQ", "employment"], byLq.map(function (v) { return [regionLink(v.key), Obs.fix(v.lq, 2), fmt(v.emp)]; }), "top-" + type + "-lq-" + code + "-" + y + ".csv");
  }

  // total employment of the cluster per year over the side's first region type (states /
  // countries), summed over the regions with data in every year, so that a region missing from
  // one year does not read as a fall in employment
  function total(block, side, code) {
    var series = [], years = {}, sk = Object.keys(block).some(function (r) { return block[r].series.g; }) ? "g" : "e";
    Object.keys(block).forEach(function (k) {
      if (Obs.region(k)[2] !== side) { return; }
      var s = block[k].series, i = s.c.indexOf(code);
      if (i < 0) { return; }
      if (!s[sk] || !s[sk][i]) { return; }
      series.push([s.y0, s[sk][i]]);
      s[sk][i].forEach(function (v, o) { if (v !== null) { years[s.y0 + o] = true; } });
    });
    var ys = Object.keys(years).map(Number).sort(), sums = ys.map(function () { return 0; }), n = 0;
    series.forEach(function (x) {
      var full = ys.every(function (y) { var v = x[1][y - x[0]]; return v !== null && v !== undefined; });
      if (!full) { return; }
      n++;
      ys.forEach(function (y, j) { sums[j] += x[1][y - x[0]]; });
    });
    return { years: ys, values: sums, n: n, all: series.length, constant: sk === "g" };
  }

  // the map section belongs to maps.js: point its pickers at this cluster (by name) and redraw
  function showOnMap(code, side, y) {
    var layer = document.getElementById("map-layer"), cl = document.getElementById("map-cluster"), yr = document.getElementById("map-year");
    if (!layer || !cl) { return false; }
    var want = side === "eu" ? "EU NUTS 2 regions" : "US states";
    var lo = Array.prototype.find.call(layer.options, function (o) { return o.text.indexOf(want) === 0; });
    if (lo && layer.value !== lo.value) { layer.value = lo.value; layer.dispatchEvent(new Event("change")); }
    var co = Array.prototype.find.call(cl.options, function (o) { return o.text === Obs.clusterName(code); });
    if (!co) { return false; }
    cl.value = co.value;
    var yo = yr && Array.prototype.find.call(yr.options, function (o) { return o.text === String(y); });
    if (yo) { yr.value = yo.value; }
    var ms = document.getElementById("map-measure"), want_m = MEASURES[Obs.state().measure];
    var mo = ms && want_m && Array.prototype.find.call(ms.options, function (o) { return want_m.test(o.text); });
    if (mo) { ms.value = mo.value; }
    cl.dispatchEvent(new Event("change"));
    return true;
  }

  var drawing = 0;
  function render(st) {
    var code = st.cluster && Obs.cluster(st.cluster) ? st.cluster : Obs.index.defaultCluster;
    var side = st.side === "eu" || st.side === "us" ? st.side : (st.region && Obs.region(st.region) ? Obs.region(st.region)[2] : "us");
    var types = typesOf(side);
    if (!types.length) { side = side === "us" ? "eu" : "us"; types = typesOf(side); }
    sideSel.value = side;
    search.value = Obs.clusterName(code) + " (cluster)";
    var me = ++drawing;
    Promise.all(types.map(function (t) { return Obs.typeData(t); }).concat([Obs.definitions()])).then(function (got) {
      if (me !== drawing) { return; }
      var D = got.pop(), blocks = {};
      types.forEach(function (t, n) { blocks[t] = got[n]; });
      var ref = blocks[types[0]], tot = total(ref, side, code);
      var ys = tot.years, y = ys.indexOf(Number(st.year)) >= 0 ? Number(st.year) : ys[ys.length - 1];
      while (yearSel.firstChild) { yearSel.removeChild(yearSel.firstChild); }
      ys.forEach(function (v) { var o = h("option", {}, yearSel, String(v)); o.value = String(v); });
      yearSel.value = String(y);
      while (body.firstChild) { body.removeChild(body.firstChild); }
      var c = h("div", { "class": "profile", "data-cluster": code }, body);
      var k = Obs.cluster(code);
      h("h3", {}, c, k[1] + " (" + k[2] + " cluster " + code + ")");
      var n = D.naics && D.naics[code];
      h("p", { "class": "summary" }, c, (side === "us" ? "United States" : "Europe") + ", " + y + ": " + fmt(tot.values[ys.indexOf(y)]) +
        " jobs, the sum over the " + tot.n + " " + Obs.plural[types[0]] + " with data in every year " + tot.years[0] + "\u2013" + tot.years[tot.years.length - 1] +
        (tot.n < tot.all ? " (" + (tot.all - tot.n) + " more have gaps and are left out of this total)" : "") +
        (tot.constant ? "; constant-definition series (cluster_timeseries)." : side === "us" ? "; published figures, each year on the cluster definition of its NAICS vintage." : ".") + (n ? " Definition: Delgado, Porter & Stern (2016) benchmark clusters, NAICS " + n.vintage + " industries." : ""));
      C.trend(Obs.chartBox(c, "trend-" + code + "-" + side), k[1] + " employment, sum of " + tot.n + " " + Obs.plural[types[0]],
        [{ name: "employment", years: tot.years, values: tot.values }]);
      types.forEach(function (t) { topTables(c, t, values(blocks[t], side, code, y), y, code); });
      var mapBtn = h("button", { type: "button", id: "cp-map" }, h("p", {}, c), "Show " + k[1] + " on the map");
      mapBtn.addEventListener("click", function () { if (showOnMap(code, side, y)) { document.getElementById("maps").scrollIntoView(); } });
      h("h4", {}, c, "Related clusters");
      var rel = (D.related || {})[code] || [];
      if (rel.length) {
        Obs.table(c, ["related cluster (clustermapping.us, related at the 90th percentile)", "relatedness percentile"], rel.map(function (r) { return [{ text: Obs.clusterName(r[0]), href: "#view=cluster&cluster=" + r[0] }, r[1]]; }), "related-" + code + ".csv");
      } else { h("p", { "class": "muted" }, c, "No related clusters listed for this cluster."); }
      h("h4", {}, c, "Industries that define it");
      var sub = {};
      ((D.subclusters || {})[code] || []).forEach(function (s) { sub[s[0]] = s[1]; });
      if (n) {
        h("p", {}, c, "NAICS " + n.vintage + " definition (" + n.rows.length + " six-digit industries" + (Object.keys(sub).length ? " in " + Object.keys(sub).length + " subclusters" : "") + "):");
        Obs.table(c, ["industry", "NAICS", "subcluster", "weight"], n.rows.map(function (r) { return [r[1], r[0], sub[r[2]] || "", r[3]]; }), "industries-" + code + ".csv");
      }
      var e = D.nace && D.nace[code];
      if (e) {
        h("p", {}, c, "Europe: NACE divisions apportioned to this cluster (weight = share of the division's employment assigned to it; " + e.year + "):");
        Obs.table(c, ["NACE", "weight", "method", "EU employment apportioned"], e.rows.map(function (r) { return [r[0], r[1], r[2], fmt(Number(r[3]))]; }), "nace-" + code + ".csv");
      }
      if (st.view === "cluster") { showOnMap(code, side, y); }
      document.body.setAttribute("data-cluster-profile", code + "/" + side + "/" + y);
    });
  }

  var mapMeasure = document.getElementById("map-measure");
  if (mapMeasure) {
    mapMeasure.addEventListener("change", function () {
      var text = (mapMeasure.options[mapMeasure.selectedIndex] || {}).text || "";
      var key = Object.keys(MEASURES).find(function (k) { return MEASURES[k].test(text); });
      if (key) { history.replaceState(null, "", "#" + new URLSearchParams(Object.assign(Obs.state(), { measure: key })).toString().replace(/%2F/g, "/")); }
    });
  }
  search.addEventListener("change", function () { var hit = Obs.find(search.value, ["cluster"]); if (hit) { Obs.setState({ view: "cluster", cluster: hit.key }); } });
  yearSel.addEventListener("change", function () { Obs.setState({ year: yearSel.value }); });
  sideSel.addEventListener("change", function () { Obs.setState({ side: sideSel.value }); });
  var last = null;
  function sig(st) { return [st.cluster, st.year, st.side, st.view === "cluster" ? "" : st.region].join("|"); }
  Obs.onState(function (st) { if (sig(st) !== last) { last = sig(st); render(st); } });
  var s0 = Obs.state(); last = sig(s0); render(s0);
})();
