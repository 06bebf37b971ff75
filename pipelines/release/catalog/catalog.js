/* Cluster Observatory release page, the data layer the views share (window.Obs): the index,
   packed blocks inflated on demand (gzip + base64, DecompressionStream, no network), names,
   the page state in the URL hash, search, and CSV / SVG / PNG downloads. */
(function () {
  "use strict";
  var holder = document.getElementById("obs-index");
  if (!holder) { return; }
  var NS = "http://www.w3.org/2000/svg";
  var I = JSON.parse(holder.textContent);
  var TYPES = { state: "US state", county: "US county", msa: "US metro area", economic: "US economic area", economic_area: "US economic area",
    nuts0: "country (NUTS 0)", nuts1: "NUTS 1 region", nuts2: "NUTS 2 region", custom: "custom region" };
  var PLURAL = { state: "US states", county: "US counties", msa: "US metro areas", economic: "US economic areas", economic_area: "US economic areas",
    nuts0: "countries (NUTS 0)", nuts1: "NUTS 1 regions", nuts2: "NUTS 2 regions", custom: "custom regions" };
  var regionByKey = {}, clusterByCode = {}, cache = {};
  I.regions.forEach(function (r) { regionByKey[r[0]] = r; });
  I.clusters.forEach(function (c) { clusterByCode[c[0]] = c; });

  function inflate(id) {
    if (cache[id]) { return cache[id]; }
    var node = document.getElementById(id);
    if (!node) { cache[id] = Promise.resolve({}); return cache[id]; }
    var bin = atob(node.textContent.trim()), bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) { bytes[i] = bin.charCodeAt(i); }
    cache[id] = new Response(new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"))).json();
    return cache[id];
  }
  function typeOf(key) { return key.split("/")[0]; }
  function codeOf(key) { return key.slice(key.indexOf("/") + 1); }
  function regionLabel(key) {
    var r = regionByKey[key];
    return (r ? r[1] : key) + " (" + (TYPES[typeOf(key)] || typeOf(key)) + " " + codeOf(key) + ")";
  }
  function shortLabel(key) { var r = regionByKey[key]; return (r ? r[1] : key) + " (" + codeOf(key) + ")"; }
  function clusterName(code) { var c = clusterByCode[code]; return c ? c[1] : "cluster " + code; }

  // page state <-> URL hash: #region=state/26&cluster=4&year=2011&measure=lq&compare=nuts2/DE11&view=region
  function readState() {
    var p = new URLSearchParams(location.hash.replace(/^#/, "")), s = {};
    ["view", "region", "cluster", "year", "measure", "compare", "from", "side"].forEach(function (k) { if (p.get(k)) { s[k] = p.get(k); } });
    return s;
  }
  var listeners = [];
  function setState(patch) {
    var s = Object.assign(readState(), patch);
    var p = new URLSearchParams();
    Object.keys(s).forEach(function (k) { if (s[k] !== null && s[k] !== undefined && s[k] !== "") { p.set(k, s[k]); } });
    var h = "#" + p.toString().replace(/%2F/g, "/");
    if (h !== location.hash) { history.replaceState(null, "", h); }
    listeners.forEach(function (f) { f(s); });
  }
  // a plain anchor (#maps) is navigation, not state: the views keep what they show
  window.addEventListener("hashchange", function () {
    if (location.hash.indexOf("=") < 0) { return; }
    var s = readState(); listeners.forEach(function (f) { f(s); });
  });

  // search: a region or cluster from typed text (a full label, a name, a code, or a unique part)
  function find(text, kinds) {
    var t = (text || "").trim().toLowerCase();
    if (!t) { return null; }
    var cands = [];
    if (kinds.indexOf("region") >= 0) {
      I.regions.forEach(function (r) { cands.push({ kind: "region", key: r[0], label: regionLabel(r[0]), name: r[1] }); });
    }
    if (kinds.indexOf("cluster") >= 0) {
      I.clusters.forEach(function (c) { cands.push({ kind: "cluster", key: c[0], label: c[1] + " (cluster)", name: c[1] }); });
    }
    var tests = [function (c) { return c.label.toLowerCase() === t; }, function (c) { return c.name.toLowerCase() === t; },
      function (c) { return c.key.toLowerCase() === t || codeOf(c.key).toLowerCase() === t; },
      function (c) { return c.name.toLowerCase().indexOf(t) === 0; }, function (c) { return c.label.toLowerCase().indexOf(t) >= 0; }];
    for (var k = 0; k < tests.length; k++) {
      var hit = cands.filter(tests[k]);
      if (hit.length) { return hit[0]; }
    }
    return null;
  }
  function fillList(listId, kinds) {
    var dl = document.getElementById(listId);
    if (!dl || dl.firstChild) { return; }
    if (kinds.indexOf("region") >= 0) { I.regions.forEach(function (r) { var o = document.createElement("option"); o.value = regionLabel(r[0]); dl.appendChild(o); }); }
    if (kinds.indexOf("cluster") >= 0) { I.clusters.forEach(function (c) { var o = document.createElement("option"); o.value = c[1] + " (cluster)"; dl.appendChild(o); }); }
  }

  // small DOM helpers
  function el(tag, attrs, parent) {
    var e = document.createElementNS(NS, tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (parent) { parent.appendChild(e); }
    return e;
  }
  function h(tag, attrs, parent, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) { e.textContent = text; }
    if (parent) { parent.appendChild(e); }
    return e;
  }
  function fmt(n) { return n === null || n === undefined ? "n/a" : Math.round(n).toLocaleString("en-US"); }
  function fix(n, d) { return n === null || n === undefined ? "n/a" : Number(n).toFixed(d); }

  function download(name, text, mime) {
    var a = h("a", { href: URL.createObjectURL(new Blob([text], { type: mime })), download: name });
    document.body.appendChild(a); a.click(); a.remove();
  }
  function csvText(head, rows) {
    function cell(v) { var s = v === null || v === undefined ? "" : String(v); return /[",\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s; }
    return [head].concat(rows).map(function (r) { return r.map(cell).join(","); }).join("\n") + "\n";
  }
  function svgText(svg) {
    var c = svg.cloneNode(true);
    c.setAttribute("xmlns", NS);
    var style = document.createElementNS(NS, "style");
    style.textContent = "text{font:12px sans-serif}.ctitle{font-weight:600;font-size:14px}.axis{font-size:11px;fill:#555}";
    c.insertBefore(style, c.firstChild);
    return new XMLSerializer().serializeToString(c);
  }
  function downloadPng(svg, name) {
    var vb = svg.viewBox.baseVal, img = new Image(), scale = 2;
    img.onload = function () {
      var cv = document.createElement("canvas");
      cv.width = vb.width * scale; cv.height = vb.height * scale;
      var g = cv.getContext("2d"); g.fillStyle = "#fff"; g.fillRect(0, 0, cv.width, cv.height);
      g.drawImage(img, 0, 0, cv.width, cv.height);
      cv.toBlob(function (b) { var a = h("a", { href: URL.createObjectURL(b), download: name }); document.body.appendChild(a); a.click(); a.remove(); });
    };
    img.src = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(svgText(svg));
  }
  // a table with a "CSV" button; rows are arrays of cell values (a cell may be {text, href})
  function table(parent, head, rows, fileName, csvRows) {
    var wrap = h("div", { "class": "tablewrap" }, parent);
    var bar = h("div", { "class": "dl" }, wrap);
    var btn = h("button", { type: "button", "class": "csv" }, bar, "Download CSV");
    btn.addEventListener("click", function () {
      window.Obs.download(fileName, csvText(head, csvRows || rows.map(function (r) { return r.map(function (c) { return c && c.text !== undefined ? c.text : c; }); })), "text/csv");
    });
    var t = h("table", {}, wrap), tr = h("tr", {}, h("thead", {}, t));
    head.forEach(function (x, i) { h("th", i > 0 ? { "class": "num" } : {}, tr, x); });
    var tb = h("tbody", {}, t);
    rows.forEach(function (r) {
      var row = h("tr", {}, tb);
      r.forEach(function (c, i) {
        var td = h("td", i > 0 ? { "class": "num" } : {}, row);
        if (c && c.href) { h("a", { href: c.href }, td, c.text); } else { td.textContent = c === null || c === undefined ? "" : String(c); }
      });
    });
    return t;
  }
  function chartBox(parent, name) {
    var box = h("div", { "class": "chartbox" }, parent);
    var bar = h("div", { "class": "dl" }, box);
    var svgBtn = h("button", { type: "button" }, bar, "SVG"), pngBtn = h("button", { type: "button" }, bar, "PNG");
    svgBtn.addEventListener("click", function () { var s = box.querySelector("svg"); if (s) { window.Obs.download(name + ".svg", svgText(s), "image/svg+xml"); } });
    pngBtn.addEventListener("click", function () { var s = box.querySelector("svg"); if (s) { downloadPng(s, name + ".png"); } });
    return box;
  }

  window.Obs = {
    index: I, types: TYPES, plural: PLURAL, shortLabel: shortLabel, region: function (k) { return regionByKey[k]; }, cluster: function (c) { return clusterByCode[c]; },
    regionLabel: regionLabel, clusterName: clusterName, typeOf: typeOf, codeOf: codeOf,
    inflate: inflate,
    regionData: function (key) { return inflate("obs-r:" + typeOf(key)).then(function (b) { return b[key] || null; }); },
    typeData: function (type) { return inflate("obs-r:" + type); },
    definitions: function () { return inflate("obs-definitions"); },
    state: readState, setState: setState, onState: function (f) { listeners.push(f); },
    find: find, fillList: fillList, el: el, h: h, fmt: fmt, fix: fix, table: table, chartBox: chartBox,
    csvText: csvText, svgText: svgText, download: download
  };

  // the page-wide search box: a region opens its profile, a cluster its profile
  var search = document.getElementById("obs-search");
  if (search) {
    fillList("obs-names", ["region", "cluster"]);
    var go = function () {
      var hit = find(search.value, ["region", "cluster"]);
      var msg = document.getElementById("obs-search-msg");
      if (!hit) { if (msg) { msg.textContent = "No region or cluster matches \u201c" + search.value + "\u201d."; } return; }
      if (msg) { msg.textContent = ""; }
      if (hit.kind === "region") { setState({ view: "region", region: hit.key, year: null }); document.getElementById("region-profile").scrollIntoView(); }
      else { setState({ view: "cluster", cluster: hit.key }); document.getElementById("cluster-profile").scrollIntoView(); }
    };
    search.addEventListener("change", go);
    search.addEventListener("keydown", function (e) { if (e.key === "Enter") { go(); } });
  }
  // a deep link opens its view: scroll to the profile it names
  var s0 = readState(), target = s0.view === "cluster" ? "cluster-profile" : (s0.region || s0.view === "region" ? "region-profile" : null);
  if (target && document.getElementById(target)) { window.addEventListener("load", function () { document.getElementById(target).scrollIntoView(); }); }
})();
