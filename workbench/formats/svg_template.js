"use strict";
// Behaviour of the flame graphs written by workbench.formats.svg: zoom, search, details.
// Names are untrusted. This script reads them from the JSON blob and only ever puts them
// in textContent; it never builds markup, never uses innerHTML, eval or string handlers.
(function () {
  var SVG_NS = "http://www.w3.org/2000/svg";
  var data, geo, groups, rects, texts, fills, index, N;
  // What each box shows now: the DOM is only touched where this changes (60k boxes).
  var shownX, shownW, shownText, shownFill, shownState;
  var searchTerm = null;
  var ignoreCase = false;
  var zoomed = 0;
  var details, matchedTxt, unzoomBtn, searchBtn, icBtn;

  function byId(id) {
    return document.getElementById(id);
  }

  function commas(text) {
    var parts = text.split(".");
    parts[0] = parts[0].replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return parts.join(".");
  }

  // Mirrors format_values() in svg.py so hover text matches the static <title>s.
  function fmtValue(v) {
    var unit = data.sampleType.unit;
    var scaled = null;
    var i;
    if (unit === "nanoseconds") {
      var ns = [[1e9, "s"], [1e6, "ms"], [1e3, "\u00b5s"]];
      for (i = 0; i < ns.length; i++) {
        if (Math.abs(v) >= ns[i][0]) { scaled = commas((v / ns[i][0]).toFixed(2)) + " " + ns[i][1]; break; }
      }
      return scaled || commas(v.toFixed(0)) + " ns";
    }
    if (unit === "bytes") {
      var bs = [[1073741824, "GiB"], [1048576, "MiB"], [1024, "KiB"]];
      for (i = 0; i < bs.length; i++) {
        if (Math.abs(v) >= bs[i][0]) { scaled = commas((v / bs[i][0]).toFixed(2)) + " " + bs[i][1]; break; }
      }
      return scaled || commas(v.toFixed(0)) + " B";
    }
    var noun = data.sampleType.type;
    return commas(Number.isInteger(v) ? v.toFixed(0) : v.toFixed(2)) + " " + noun;
  }

  function labelOf(i) {
    return data.frames[data.f[i]][0];
  }

  // The label that fits a box of w px (svg.py's box_label rule). Narrow boxes are written
  // without a <text>; one is created the first time the box is wide enough for a label.
  function fitText(i, x, w) {
    var chars = Math.floor(w / (geo.fontSize * geo.fontWidth));
    var label = labelOf(i);
    var t = "";
    if (chars >= 3) t = label.length <= chars ? label : label.slice(0, chars - 2) + "..";
    if (t === shownText[i]) {
      if (t !== "") texts[i].setAttribute("x", (x + 3).toFixed(2));
      return;
    }
    shownText[i] = t;
    if (!texts[i]) {
      if (t === "") return;
      texts[i] = document.createElementNS(SVG_NS, "text");
      texts[i].setAttribute("y", (parseFloat(rects[i].getAttribute("y")) + 10.5).toString());
      groups[i].appendChild(texts[i]);
    }
    texts[i].setAttribute("x", (x + 3).toFixed(2));
    texts[i].textContent = t;
  }

  function place(i, x, w) {
    var xs = x.toFixed(1), ws = w.toFixed(1);
    if (xs === shownX[i] && ws === shownW[i]) return;
    shownX[i] = xs;
    shownW[i] = ws;
    rects[i].setAttribute("x", xs);
    rects[i].setAttribute("width", ws);
    fitText(i, x, w);
  }

  // state: 0 shown, 1 shown as a faded ancestor of the zoomed box, 2 hidden
  function setState(i, state) {
    if (shownState[i] === state) return;
    shownState[i] = state;
    var cl = groups[i].classList;
    if (state === 2) cl.add("hide");
    else cl.remove("hide");
    if (state === 1) cl.add("parent");
    else cl.remove("parent");
  }

  function setFill(i, fill) {
    if (shownFill[i] === fill) return;
    shownFill[i] = fill;
    rects[i].setAttribute("fill", fill);
  }

  // Zoom on box i: its ancestors span the full width (faded), its subtree is rescaled,
  // everything else is hidden. i = 0 (the root) is the unzoomed graph.
  function zoom(i) {
    zoomed = i;
    var zx = data.x[i], zv = data.v[i], zd = data.d[i];
    var inner = geo.width - 2 * geo.xpad;
    var scale = zv > 0 ? inner / zv : 0;
    // float slack for the containment tests: far below any drawn box (>= 0.1 px of the total)
    var eps = data.total * 1e-9;
    for (var j = 0; j < N; j++) {
      var xj = data.x[j], vj = data.v[j];
      if (data.d[j] < zd) {
        if (xj <= zx + eps && xj + vj >= zx + zv - eps) {
          setState(j, 1);
          place(j, geo.xpad, inner);
        } else {
          setState(j, 2);
        }
      } else if (xj >= zx - eps && xj + vj <= zx + zv + eps) {
        setState(j, 0);
        place(j, geo.xpad + (xj - zx) * scale, vj * scale);
      } else {
        setState(j, 2);
      }
    }
    if (i === 0) unzoomBtn.classList.add("hide");
    else unzoomBtn.classList.remove("hide");
    remember("x", i === 0 ? null : String(i));
  }

  function compile(term) {
    var flags = ignoreCase ? "i" : "";
    try {
      return new RegExp(term, flags);
    } catch (e) {
      // not a valid regex: search for the literal text
      return new RegExp(term.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"), flags);
    }
  }

  function resetSearch() {
    searchTerm = null;
    for (var j = 0; j < N; j++) setFill(j, fills[j]);
    matchedTxt.textContent = " ";
    searchBtn.classList.remove("show");
    searchBtn.textContent = "Search";
    remember("s", null);
  }

  // Highlight boxes whose label matches; "Matched" is the share of the total covered by
  // matches, each nested match counted once (the union of their spans).
  function search(term) {
    if (term === null || term === undefined || String(term) === "") {
      resetSearch();
      return null;
    }
    searchTerm = String(term);
    var re = compile(searchTerm);
    var hits = [];
    // test each distinct label once, not once per box
    var matches = data.frames.map(function (fr) { return re.test(fr[0]); });
    setFill(0, fills[0]);
    for (var j = 1; j < N; j++) {
      if (matches[data.f[j]]) {
        setFill(j, geo.searchColor);
        hits.push(j);
      } else {
        setFill(j, fills[j]);
      }
    }
    hits.sort(function (a, b) { return data.x[a] - data.x[b]; });
    var covered = 0, end = -Infinity;
    for (var k = 0; k < hits.length; k++) {
      var s = data.x[hits[k]], e = s + data.v[hits[k]];
      if (s >= end) { covered += e - s; end = e; }
      else if (e > end) { covered += e - end; end = e; }
    }
    var pct = data.total > 0 ? (100 * covered) / data.total : 0;
    matchedTxt.textContent = "Matched: " + pct.toFixed(1) + "%";
    searchBtn.classList.add("show");
    searchBtn.textContent = "Reset Search";
    remember("s", searchTerm);
    return pct;
  }

  // Keep zoom (?x=box index) and search (?s=term) in the address, so a link or a reload
  // shows the same view. Some browsers refuse history changes on file:// pages: then the
  // view just is not remembered.
  function remember(key, value) {
    try {
      var params = new URLSearchParams(window.location.search);
      if (value === null) params.delete(key);
      else params.set(key, value);
      var query = params.toString();
      window.history.replaceState(null, "", window.location.pathname + (query ? "?" + query : ""));
    } catch (e) {
      /* not remembered */
    }
  }

  function askSearch() {
    var term = window.prompt("Enter a search term (regexp allowed, e.g. ^json\\.)", searchTerm || "");
    if (term !== null) search(term);
  }

  function describe(j) {
    var fr = data.frames[data.f[j]];
    var where = fr[2] ? " (" + fr[2] + (fr[3] ? ":" + fr[3] : "") + ")" : "";
    var pct = data.total > 0 ? (100 * data.v[j]) / data.total : 0;
    var text = "Function: " + fr[1] + where + ", " + fmtValue(data.v[j]) + " (" + pct.toFixed(2) + "%)";
    if (j > 0) text += ", self " + fmtValue(data.s[j]);
    var room = Math.floor((geo.width - 2 * geo.xpad - 110) / (geo.fontSize * geo.fontWidth));
    return text.length > room ? text.slice(0, Math.max(room - 2, 1)) + ".." : text;
  }

  function groupOf(target) {
    var g = target && target.closest ? target.closest("#frames > g") : null;
    return g && index.has(g) ? index.get(g) : -1;
  }

  function init() {
    data = JSON.parse(byId("wb-data").textContent);
    geo = data.geometry;
    groups = Array.prototype.slice.call(byId("frames").children);
    N = data.x.length;
    details = byId("details");
    matchedTxt = byId("matched");
    unzoomBtn = byId("unzoom");
    searchBtn = byId("search");
    icBtn = byId("ignorecase");
    if (groups.length !== N) {
      details.textContent = "interactive features disabled: frame data does not match the drawing";
      return;
    }
    rects = [];
    texts = [];
    fills = [];
    shownX = [];
    shownW = [];
    shownText = [];
    shownFill = [];
    shownState = [];
    index = new Map();
    for (var j = 0; j < N; j++) {
      rects.push(groups[j].querySelector("rect"));
      texts.push(groups[j].querySelector("text"));
      fills.push(rects[j].getAttribute("fill"));
      shownX.push(rects[j].getAttribute("x"));
      shownW.push(rects[j].getAttribute("width"));
      shownText.push(texts[j] ? texts[j].textContent : "");
      shownFill.push(fills[j]);
      shownState.push(0);
      index.set(groups[j], j);
    }
    var frames = byId("frames");
    frames.addEventListener("click", function (e) {
      var j = groupOf(e.target);
      if (j >= 0) zoom(j);
    });
    frames.addEventListener("mouseover", function (e) {
      var j = groupOf(e.target);
      if (j < 0) return;
      details.textContent = describe(j);
      if (!groups[j].querySelector("title")) {
        // boxes written narrower than 1 px carry no tooltip in the file: add it on first hover
        var pct = data.total > 0 ? (100 * data.v[j]) / data.total : 0;
        var title = document.createElementNS(SVG_NS, "title");
        title.textContent = labelOf(j) + " (" + fmtValue(data.v[j]) + ", " + pct.toFixed(2) + "%)";
        groups[j].insertBefore(title, groups[j].firstChild);
      }
    });
    frames.addEventListener("mouseout", function () {
      details.textContent = " ";
    });
    unzoomBtn.addEventListener("click", function () { zoom(0); });
    searchBtn.addEventListener("click", function () {
      if (searchTerm === null) askSearch();
      else resetSearch();
    });
    icBtn.addEventListener("click", function () {
      ignoreCase = !ignoreCase;
      if (ignoreCase) icBtn.classList.add("show");
      else icBtn.classList.remove("show");
      if (searchTerm !== null) search(searchTerm);
    });
    window.addEventListener("keydown", function (e) {
      if (e.keyCode === 114 || ((e.ctrlKey || e.metaKey) && e.keyCode === 70)) {
        e.preventDefault();
        askSearch();
      } else if (e.key === "Escape") {
        zoom(0);
      }
    });
    var params = new URLSearchParams(window.location.search);
    var x = parseInt(params.get("x") || "0", 10);
    if (x > 0 && x < N) zoom(x);
    if (params.get("s")) search(params.get("s"));
    // A small API for automation and tests: the same actions the buttons perform.
    window.flamegraph = {
      zoom: zoom,
      resetZoom: function () { zoom(0); },
      zoomed: function () { return zoomed; },
      search: search,
      resetSearch: resetSearch,
      matched: function () { return matchedTxt.textContent; }
    };
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
