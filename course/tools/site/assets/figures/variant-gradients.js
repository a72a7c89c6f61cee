/* Lesson 06, "the five units, measured" (course site figure `variant-gradients`).
 *
 * Measured data (the block `quick` of benchmarks/VARIANTS.md, read by the build), carried by the
 * page as JSON: per unit kind (He et al. 2016, Fig. 4 (a)-(e)) and seed, the gradient at the
 * input of a 64-unit stack relative to its top, the smallest such ratio along the stack, and the
 * final training error of the memorisation probe. A bar per unit; per seed or the mean.
 * tests/test_site.py checks the numbers shown against the report. Self-contained (file://).
 */
(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";
  var METRICS = [
    ["grad", "gradient at the stack's input (× the top's)", "×"],
    ["grad_min", "smallest gradient ratio along the stack", "×"],
    ["error", "final training error (%)", "%"]
  ];
  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    for (var k in attrs) { if (Object.prototype.hasOwnProperty.call(attrs, k)) node.setAttribute(k, attrs[k]); }
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function svg(tag, attrs, text) {
    var node = document.createElementNS(NS, tag);
    for (var k in attrs) { if (Object.prototype.hasOwnProperty.call(attrs, k)) node.setAttribute(k, attrs[k]); }
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function sig(x) { return Number(x.toPrecision(3)).toString(); }

  function setup(fig) {
    var d = JSON.parse(fig.querySelector("script.figure-data").textContent);
    var state = { metric: "grad", seed: "mean", shown: {} };
    d.kinds.forEach(function (k) { state.shown[k] = true; });
    var body = fig.querySelector(".figure-body");
    var controls = el("div", { "class": "controls fig-row" });

    var mBox = el("div", { "class": "choice", role: "radiogroup", "aria-label": "what to show" });
    mBox.appendChild(el("span", { "class": "choice-title" }, "Measure"));
    METRICS.forEach(function (m) {
      var lab = el("label");
      var r = el("input", { type: "radio", name: fig.id + "-metric", value: m[0], "data-control": "metric" });
      if (m[0] === state.metric) r.checked = true;
      r.addEventListener("change", function () { if (r.checked) { state.metric = m[0]; update(); } });
      lab.appendChild(r);
      lab.appendChild(document.createTextNode(m[1]));
      mBox.appendChild(lab);
    });
    var seedLab = el("label", { "for": fig.id + "-seed" }, "seed ");
    var seedSel = el("select", { id: fig.id + "-seed", "data-control": "seed" });
    seedSel.appendChild(el("option", { value: "mean" }, "mean of " + d.seeds.length));
    d.seeds.forEach(function (s) { seedSel.appendChild(el("option", { value: s }, s)); });
    seedSel.addEventListener("change", function () { state.seed = seedSel.value; update(); });
    seedLab.appendChild(seedSel);
    mBox.appendChild(seedLab);
    controls.appendChild(mBox);

    var showBox = el("div", { "class": "choice" });
    showBox.appendChild(el("span", { "class": "choice-title" }, "Units"));
    d.kinds.forEach(function (k, i) {
      var lab = el("label");
      var c = el("input", { type: "checkbox", checked: "", "data-control": k });
      c.addEventListener("change", function () { state.shown[k] = c.checked; update(); });
      lab.appendChild(c);
      lab.appendChild(el("span", { "class": "swatch b" + (i + 1) }));
      lab.appendChild(document.createTextNode(d.labels[k]));
      showBox.appendChild(lab);
    });
    controls.appendChild(showBox);
    body.appendChild(controls);

    var grid = el("div", { "class": "fig-grid two" });
    var chartBox = el("div");
    grid.appendChild(chartBox);
    var table = el("table", { "class": "readout" });
    table.innerHTML = "<thead><tr><th>unit</th><th class='num'>value</th></tr></thead>";
    var tbody = el("tbody");
    table.appendChild(tbody);
    grid.appendChild(table);
    body.appendChild(grid);

    function value(kind) {
      var per = d.metrics[state.metric][kind];
      if (state.seed !== "mean") return per[state.seed];
      var s = 0;
      d.seeds.forEach(function (seed) { s += per[seed]; });
      return s / d.seeds.length;
    }

    function update() {
      var m = METRICS.filter(function (x) { return x[0] === state.metric; })[0];
      fig.dataset.setting = state.metric + "-" + state.seed;
      while (tbody.firstChild) tbody.removeChild(tbody.firstChild);
      var rows = [];
      d.kinds.forEach(function (k, i) {
        var v = value(k);
        var tr = el("tr", { "data-kind": k });
        var name = el("td");
        name.appendChild(el("span", { "class": "swatch b" + (i + 1) }));
        name.appendChild(document.createTextNode(d.labels[k]));
        tr.appendChild(name);
        tr.appendChild(el("td", { "class": "num", "data-out": "value", "data-value": String(v) }, (m[2] === "×" ? "×" : "") + sig(v) + (m[2] === "%" ? " %" : "")));
        tbody.appendChild(tr);
        if (state.shown[k]) rows.push([k, v, "b" + (i + 1)]);
      });
      while (chartBox.firstChild) chartBox.removeChild(chartBox.firstChild);
      if (!rows.length) {
        var node = svg("svg", { "class": "chart", viewBox: "0 0 300 120", role: "img", "aria-label": "no unit selected" });
        node.appendChild(svg("rect", { "class": "empty-box", x: 1, y: 1, width: 298, height: 118, rx: 6 }));
        var note = svg("text", { "class": "empty-note", x: 150, y: 55, "text-anchor": "middle" });
        note.appendChild(svg("tspan", { x: 150 }, "No unit selected:"));
        note.appendChild(svg("tspan", { x: 150, dy: 22 }, "tick one of (a)–(e) above."));
        node.appendChild(note);
        chartBox.appendChild(node);
        return;
      }
      var max = Math.max.apply(null, rows.map(function (r) { return r[1]; }).concat(m[0] === "error" ? [100] : [1]));
      var chart = svg("svg", { "class": "chart bars", viewBox: "0 0 440 " + (rows.length * 46 + 24), role: "img",
        "aria-label": m[1] + ": " + rows.map(function (r) { return d.labels[r[0]] + " " + sig(r[1]); }).join(", ") });
      chart.appendChild(svg("text", { x: 0, y: 15, "class": "axis-label" }, m[1]));
      rows.forEach(function (r, i) {
        var y = 24 + i * 46, w = Math.max(1, 430 * r[1] / max);
        chart.appendChild(svg("text", { x: 0, y: y + 15 }, d.labels[r[0]].split(" ")[0] + " " + (m[2] === "×" ? "×" : "") + sig(r[1]) + (m[2] === "%" ? " %" : "")));
        chart.appendChild(svg("rect", { "class": "bar " + r[2], x: 0, y: y + 21, width: w.toFixed(1), height: 16, rx: 3 }));
      });
      chartBox.appendChild(chart);
    }
    update();
    fig.setAttribute("data-ready", "true");
  }

  var figs = document.querySelectorAll('figure[data-figure="variant-gradients"]');
  for (var i = 0; i < figs.length; i++) setup(figs[i]);
})();
