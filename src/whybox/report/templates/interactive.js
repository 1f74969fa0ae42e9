(function () {
  "use strict";
  var SVG = "http://www.w3.org/2000/svg";
  var MAX_BARS = 40; // more features: the smallest are drawn as one "other features" bar
  var NAME_CHARS = 34;

  function el(tag, attrs, text) {
    var node = document.createElementNS(SVG, tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, String(attrs[k])); });
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function fmt(v) {
    if (v === null || v === undefined) { return "n/a"; }
    if (typeof v === "number") { return String(Number(v.toPrecision(4))); }
    return String(v);
  }

  function shorten(name) {
    return name.length <= NAME_CHARS ? name : name.slice(0, NAME_CHARS - 1) + "\u2026";
  }

  // ---- sortable tables: click a header to sort by that column (again: reverse) ----
  function cellKey(td) {
    var text = td.textContent.trim();
    var num = Number(text);
    return text !== "" && !isNaN(num) ? {n: num, t: text} : {n: null, t: text.toLowerCase()};
  }

  function sortTable(table, col, th) {
    var body = table.tBodies[0];
    if (!body) { return; }
    var dir = th.getAttribute("data-sort") === "asc" ? "desc" : "asc";
    Array.prototype.forEach.call(table.querySelectorAll("th"), function (h) {
      h.removeAttribute("data-sort");
    });
    th.setAttribute("data-sort", dir);
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = cellKey(a.cells[col] || a), y = cellKey(b.cells[col] || b);
      var c;
      if (x.n !== null && y.n !== null) { c = x.n - y.n; }
      else if (x.n !== null) { c = -1; }
      else if (y.n !== null) { c = 1; }
      else { c = x.t < y.t ? -1 : (x.t > y.t ? 1 : 0); }
      return dir === "asc" ? c : -c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  }

  // ---- filterable tables: a box above each longer table keeps the rows holding its text ----
  var FILTER_ROWS = 8;
  function addFilter(table) {
    var body = table.tBodies[0];
    if (!body || body.rows.length < FILTER_ROWS) { return; }
    var box = document.createElement("input");
    box.type = "search";
    box.className = "table-filter";
    box.placeholder = "filter rows";
    box.setAttribute("aria-label", "filter the rows of the table below");
    box.addEventListener("input", function () {
      var q = box.value.trim().toLowerCase();
      Array.prototype.forEach.call(body.rows, function (r) {
        r.hidden = q !== "" && r.textContent.toLowerCase().indexOf(q) < 0;
      });
    });
    table.parentNode.insertBefore(box, table);
  }

  Array.prototype.forEach.call(document.querySelectorAll("main table"), function (table) {
    var head = table.tHead;
    if (!head || !head.rows.length) { return; }
    addFilter(table);
    Array.prototype.forEach.call(head.rows[0].cells, function (th, col) {
      th.classList.add("sortable");
      th.setAttribute("title", "sort by " + th.textContent);
      th.addEventListener("click", function () { sortTable(table, col, th); });
    });
  });

  // ---- the explorer: any explained row's SHAP waterfall ----
  var panel = document.getElementById("whybox-explore");
  var source = document.getElementById("whybox-rows");
  if (!panel || !source) { return; }
  var data = JSON.parse(source.textContent);
  var rows = data.rows;
  var byRow = {};
  rows.forEach(function (r, i) { byRow[r.row] = i; });
  var search = document.getElementById("whybox-row");
  var filter = document.getElementById("whybox-filter");
  var list = document.getElementById("whybox-rowlist");
  var info = document.getElementById("whybox-rowinfo");
  var chart = document.getElementById("whybox-waterfall");
  var timing = document.getElementById("whybox-timing");

  function addOption(value, label) {
    var o = document.createElement("option");
    o.value = value;
    o.textContent = label;
    filter.appendChild(o);
  }
  var nErr = rows.filter(function (r) { return r.error; }).length;
  var nConf = rows.filter(function (r) { return r.confident; }).length;
  addOption("all", "all explained rows (" + rows.length + ")");
  addOption("error", "errors (" + nErr + ")");
  if (nConf) { addOption("confident", "confident errors (" + nConf + ")"); }
  data.groups.forEach(function (g, gi) {
    var seen = {};
    rows.forEach(function (r) { seen[r.group[gi]] = (seen[r.group[gi]] || 0) + 1; });
    Object.keys(seen).sort().forEach(function (v) {
      addOption("group:" + gi + ":" + v, g + " = " + v + " (" + seen[v] + ")");
    });
  });

  function matches(r, f) {
    if (f === "all") { return true; }
    if (f === "error") { return r.error; }
    if (f === "confident") { return r.confident; }
    var parts = f.split(":");
    var gi = Number(parts[1]);
    return r.group[gi] === parts.slice(2).join(":");
  }

  function fillList() {
    var f = filter.value;
    while (list.firstChild) { list.removeChild(list.firstChild); }
    var first = null;
    rows.forEach(function (r) {
      if (!matches(r, f)) { return; }
      var o = document.createElement("option");
      o.value = String(r.row);
      o.textContent = "row " + r.row + ": true " + fmt(r.y) + ", predicted " + fmt(r.pred) +
        (r.confident ? " (confident error)" : (r.error ? " (error)" : ""));
      list.appendChild(o);
      if (first === null) { first = r.row; }
    });
    return first;
  }

  function draw(i) {
    var t0 = performance.now();
    var r = rows[i];
    var n = r.shap.length;
    var order = [];
    for (var j = 0; j < n; j++) { order.push(j); }
    order.sort(function (a, b) { return Math.abs(r.shap[b] || 0) - Math.abs(r.shap[a] || 0); });
    var shown = order.length > MAX_BARS ? order.slice(0, MAX_BARS - 1) : order;
    var bars = shown.map(function (j) {
      return {feature: j, name: data.features[j], value: r.shap[j] || 0,
              x: r.x ? r.x[j] : null};
    });
    if (shown.length < order.length) {
      var rest = order.slice(MAX_BARS - 1);
      var sum = rest.reduce(function (s, j) { return s + (r.shap[j] || 0); }, 0);
      bars.push({feature: -1, name: rest.length + " other features", value: sum, x: null});
    }
    bars.reverse(); // a waterfall from the base value up: the smallest contribution first
    var pos = r.base, lo = r.base, hi = r.base;
    bars.forEach(function (b) {
      b.start = pos; pos += b.value; b.end = pos;
      lo = Math.min(lo, pos); hi = Math.max(hi, pos);
    });
    bars.reverse(); // drawn top-down: the largest first
    var labelW = 250, plotW = 520, rowH = 18, top = 24;
    var height = top + rowH * bars.length + 30;
    var span = hi - lo || 1;
    function sx(v) { return labelW + (v - lo) / span * plotW; }
    var svg = el("svg", {width: labelW + plotW + 90, height: height, role: "img",
                         "aria-label": "SHAP waterfall of row " + r.row});
    svg.appendChild(el("text", {x: labelW, y: 14, "font-size": 12},
      "f(x) = " + fmt(r.fx) + "  (base value E[f(X)] = " + fmt(r.base) + ")"));
    bars.forEach(function (b, k) {
      var y = top + k * rowH;
      var x0 = sx(Math.min(b.start, b.end)), x1 = sx(Math.max(b.start, b.end));
      var g = el("g", {"class": "bar"});
      var tip = b.name + (b.feature >= 0 ? " = " + fmt(b.x) : "") + "\nSHAP value: " + fmt(b.value);
      g.appendChild(el("title", {}, tip));
      g.appendChild(el("text", {x: labelW - 6, y: y + 13, "text-anchor": "end", "font-size": 11},
        shorten(b.name) + (b.feature >= 0 && b.x !== null ? " = " + fmt(b.x) : "")));
      g.appendChild(el("rect", {
        x: x0, y: y + 2, width: Math.max(x1 - x0, 1), height: rowH - 4,
        fill: b.value >= 0 ? "#d6336c" : "#1c7ed6",
        "data-feature": b.feature, "data-name": b.name, "data-shap": b.value
      }));
      g.appendChild(el("text", {x: x1 + 4, y: y + 13, "font-size": 10},
        (b.value >= 0 ? "+" : "") + fmt(b.value)));
      svg.appendChild(g);
    });
    var axisY = top + rowH * bars.length + 4;
    svg.appendChild(el("line", {x1: sx(r.base), x2: sx(r.base), y1: top, y2: axisY,
                                stroke: "#6b7280", "stroke-dasharray": "3 3"}));
    svg.appendChild(el("text", {x: sx(r.base), y: axisY + 14, "font-size": 10,
                                "text-anchor": "middle"}, "base " + fmt(r.base)));
    while (chart.firstChild) { chart.removeChild(chart.firstChild); }
    chart.appendChild(svg);
    chart.setAttribute("data-row", String(r.row));
    var out = data.outputs[r.output];
    info.textContent = "Row " + r.row + ": true " + fmt(r.y) + ", predicted " + fmt(r.pred) +
      (r.confident ? " \u2014 a confident error" : (r.error ? " \u2014 an error" : "")) +
      (data.groups.length ? "; " + data.groups.map(function (g, gi) {
        return g + " = " + r.group[gi];
      }).join(", ") : "") +
      ". SHAP values for output " + JSON.stringify(out) + (data.units ? " in units of " +
      data.units : "") + ".";
    drawLocal(r);
    var ms = performance.now() - t0;
    panel.setAttribute("data-draw-ms", String(ms));
    timing.textContent = "drawn in " + ms.toFixed(1) + " ms";
  }

  // ---- the chosen rows' LIME weights, anchor and counterfactuals ----
  var local = data.local || {};
  var localBox = document.getElementById("whybox-local");

  function para(text, cls) {
    var p = document.createElement("p");
    if (cls) { p.className = cls; }
    p.textContent = text;
    localBox.appendChild(p);
    return p;
  }

  function limeBars(lime) {
    var order = lime.weights.map(function (w, j) { return j; });
    order.sort(function (a, b) {
      return Math.abs(lime.weights[b] || 0) - Math.abs(lime.weights[a] || 0);
    });
    var big = order.reduce(function (m, j) { return Math.max(m, Math.abs(lime.weights[j] || 0)); }, 0) || 1;
    var labelW = 300, half = 200, rowH = 18;
    var svg = el("svg", {width: labelW + 2 * half + 60, height: rowH * order.length + 8,
                         role: "img", "aria-label": "LIME weights"});
    order.forEach(function (j, k) {
      var w = lime.weights[j] || 0, y = k * rowH;
      var len = Math.abs(w) / big * half;
      var g = el("g", {"class": "bar"});
      g.appendChild(el("title", {}, lime.conditions[j] + "\nLIME weight: " + fmt(w)));
      g.appendChild(el("text", {x: labelW - 6, y: y + 13, "text-anchor": "end", "font-size": 11},
        shorten(lime.conditions[j])));
      g.appendChild(el("rect", {
        x: w >= 0 ? labelW + half : labelW + half - len, y: y + 2,
        width: Math.max(len, 1), height: rowH - 4, fill: w >= 0 ? "#d6336c" : "#1c7ed6",
        "data-condition": lime.conditions[j], "data-lime": w
      }));
      g.appendChild(el("text", {x: labelW + 2 * half + 4, y: y + 13, "font-size": 10}, fmt(w)));
      svg.appendChild(g);
    });
    svg.appendChild(el("line", {x1: labelW + half, x2: labelW + half, y1: 0,
                                y2: rowH * order.length + 4, stroke: "#6b7280"}));
    localBox.appendChild(svg);
  }

  function cfTable(cfs) {
    var table = document.createElement("table");
    var head = table.createTHead().insertRow();
    ["counterfactual", "feature", "from", "to"].forEach(function (c) {
      var th = document.createElement("th");
      th.textContent = c;
      head.appendChild(th);
    });
    var body = table.createTBody();
    cfs.changes.forEach(function (c) {
      var tr = body.insertRow();
      [c[0] + 1, c[1], fmt(c[2]), fmt(c[3])].forEach(function (v) {
        tr.insertCell().textContent = String(v);
      });
    });
    localBox.appendChild(table);
  }

  function drawLocal(r) {
    if (!localBox) { return; }
    while (localBox.firstChild) { localBox.removeChild(localBox.firstChild); }
    var d = local[String(r.row)];
    if (!d) {
      var chosen = Object.keys(local);
      if (chosen.length) {
        para("LIME, the anchor and counterfactuals were computed for rows " + chosen.join(", ") +
          " (see Local explanations).", "caption");
      }
      return;
    }
    if (d.lime) {
      para("LIME weights for output " + JSON.stringify(d.lime.output) + " (" + d.lime.space +
        ", local R\u00b2 = " + fmt(d.lime.r2) + ")", "caption");
      limeBars(d.lime);
    }
    if (d.anchor) {
      para("Anchor: IF " + d.anchor.rule + " THEN predict " + fmt(d.anchor.prediction) +
        " (precision " + fmt(d.anchor.precision) + ", coverage " + fmt(d.anchor.coverage) + ")");
    }
    if (d.counterfactuals) {
      para("Counterfactuals (" + d.counterfactuals.status + "): the changes that flip the decision",
        "caption");
      cfTable(d.counterfactuals);
    }
  }

  function pick(value) {
    var key = String(value).trim();
    if (key === "" || !/^[0-9]+$/.test(key) || !(Number(key) in byRow)) {
      info.textContent = "Row " + key + " was not explained; the explained rows are listed below.";
      return false;
    }
    draw(byRow[Number(key)]);
    list.value = key;
    return true;
  }

  search.addEventListener("change", function () { pick(search.value); });
  search.addEventListener("keydown", function (e) { if (e.key === "Enter") { pick(search.value); } });
  list.addEventListener("change", function () { search.value = list.value; pick(list.value); });
  filter.addEventListener("change", function () {
    var first = fillList();
    if (first !== null) { search.value = String(first); pick(first); }
  });
  var first = fillList();
  panel.hidden = false;
  var nav = document.querySelector("nav");
  if (nav) {
    var link = document.createElement("a");
    link.href = "#whybox-explore";
    link.textContent = "Explore rows";
    nav.appendChild(link);
  }
  if (first !== null) { search.value = String(first); pick(first); }
  window.whyboxPick = pick; // for tests and the console: whyboxPick(rowNumber)
}());
