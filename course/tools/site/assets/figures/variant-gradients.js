/* Lesson 06, "the five units, measured" (course site figure `variant-gradients`).
 *
 * Measured data (the block `quick` of benchmarks/VARIANTS.md, read by the build), carried by the
 * page as JSON: per unit kind (He et al. 2016, Fig. 4 (a)-(e)) and seed, the gradient at the
 * input of a 64-unit stack relative to its top, the smallest such ratio along the stack, and the
 * final training error of the memorisation probe. A bar per unit; per seed or the mean.
 * tests/test_site.py checks the numbers shown against the report. Uses assets/figures/common.js
 * (window.CourseFigures); works from file://.
 */
(function () {
  "use strict";
  var F = window.CourseFigures, el = F.el, svg = F.svg, sig = F.sig3;
  var METRICS = [
    ["grad", "gradient at the stack's input (× the top's)", "×"],
    ["grad_min", "smallest gradient ratio along the stack", "×"],
    ["error", "final training error (%)", "%"]
  ];
  // a value as the metric reads: "×0.123" or "12.3 %"
  function shown(m, v) { return (m[2] === "×" ? "×" : "") + sig(v) + (m[2] === "%" ? " %" : ""); }

  function setup(fig) {
    var d = F.data(fig);
    var state = { metric: "grad", seed: "mean", shown: {} };
    d.kinds.forEach(function (k) { state.shown[k] = true; });
    var body = fig.querySelector(".figure-body");
    var controls = el("div", { "class": "controls fig-row" });

    var metric = { key: "metric", title: "Measure", aria: "what to show", checked: state.metric,
      values: METRICS.map(function (m) { return m[0]; }),
      label: function (key) { return METRICS.filter(function (m) { return m[0] === key; })[0][1]; } };
    var mBox = F.radios(fig, metric, function (value) { state.metric = value; update(); });
    var seedOptions = [["mean", "mean of " + d.seeds.length]].concat(d.seeds.map(function (s) { return [s, s]; }));
    mBox.appendChild(F.select(fig, { key: "seed", label: "seed ", options: seedOptions }, function (value) { state.seed = value; update(); }));
    controls.appendChild(mBox);
    var units = d.kinds.map(function (k, i) { return [k, d.labels[k], "b" + (i + 1)]; });
    controls.appendChild(F.toggles("Units", units, function (key, on) { state.shown[key] = on; update(); }));
    body.appendChild(controls);

    var grid = el("div", { "class": "fig-grid two" });
    var chartBox = el("div");
    grid.appendChild(chartBox);
    var readout = F.readout("<th>unit</th><th class='num'>value</th>");
    var table = readout.table, tbody = readout.tbody;
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
      F.clear(tbody);
      var rows = [];
      d.kinds.forEach(function (k, i) {
        var v = value(k);
        var tr = el("tr", { "data-kind": k });
        var name = el("td");
        name.appendChild(el("span", { "class": "swatch b" + (i + 1) }));
        name.appendChild(document.createTextNode(d.labels[k]));
        tr.appendChild(name);
        tr.appendChild(el("td", { "class": "num", "data-out": "value", "data-value": String(v) }, shown(m, v)));
        tbody.appendChild(tr);
        if (state.shown[k]) rows.push([k, v, "b" + (i + 1)]);
      });
      F.clear(chartBox);
      if (!rows.length) {
        chartBox.appendChild(F.emptyNote(null, ["No unit selected:", "tick one of (a)–(e) above."], "no unit selected"));
        return;
      }
      var max = Math.max.apply(null, rows.map(function (r) { return r[1]; }).concat(m[0] === "error" ? [100] : [1]));
      var chart = svg("svg", { "class": "chart bars", viewBox: "0 0 440 " + (rows.length * 46 + 24), role: "img",
        "aria-label": m[1] + ": " + rows.map(function (r) { return d.labels[r[0]] + " " + sig(r[1]); }).join(", ") });
      chart.appendChild(svg("text", { x: 0, y: 15, "class": "axis-label" }, m[1]));
      var labelled = rows.map(function (r) { return [d.labels[r[0]].split(" ")[0] + " " + shown(m, r[1]), r[1], r[2]]; });
      F.hbars(chart, labelled, { top: 24, pitch: 46, width: 430, height: 16, labelDy: 15, barDy: 21, max: max });
      chartBox.appendChild(chart);
    }
    update();
  }

  F.start("variant-gradients", setup);
})();
