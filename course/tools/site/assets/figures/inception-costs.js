/* Lesson 04, "Inception branch costs" (course site figure `inception-costs`).
 *
 * The four branches of InceptionModule(in_ch, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj)
 * on a size x size input, and of the naive module (Fig. 2a) with the same 1x1/3x3/5x5 widths.
 * Every convolution is stride-1 "same", so a branch's multiply-adds are its weights times
 * size * size (each weight is used once per output pixel); max-pooling has no weights and does
 * no multiplications. Weights are kernel elements (no biases), as in the lesson's
 * widgets.inception_branch_costs. tests/test_site.py compares these numbers with the reference
 * solution's modules measured by torch's FlopCounterMode. Uses assets/figures/common.js
 * (window.CourseFigures); works from file://.
 */
(function () {
  "use strict";
  var F = window.CourseFigures, el = F.el, svg = F.svg, fmt = F.fmt;
  var CONTROLS = [
    ["in_ch", "in_ch (input channels)", 1, 1024],
    ["ch1x1", "#1×1", 1, 512],
    ["ch3x3red", "#3×3 reduce", 1, 512],
    ["ch3x3", "#3×3", 1, 512],
    ["ch5x5red", "#5×5 reduce", 1, 512],
    ["ch5x5", "#5×5", 1, 512],
    ["pool_proj", "pool proj", 1, 512],
    ["size", "size (H = W)", 1, 64]
  ];
  var NAMES = ["1×1", "1×1 → 3×3", "1×1 → 5×5", "pool → 1×1"];
  var NAIVE = ["1×1", "3×3", "5×5", "3×3 pool"];

  function branches(v) {
    var px = v.size * v.size;
    var reduced = [
      { out: v.ch1x1, weights: v.in_ch * v.ch1x1 },
      { out: v.ch3x3, weights: v.in_ch * v.ch3x3red + v.ch3x3red * 9 * v.ch3x3 },
      { out: v.ch5x5, weights: v.in_ch * v.ch5x5red + v.ch5x5red * 25 * v.ch5x5 },
      { out: v.pool_proj, weights: v.in_ch * v.pool_proj }
    ];
    var naive = [
      { out: v.ch1x1, weights: v.in_ch * v.ch1x1 },
      { out: v.ch3x3, weights: v.in_ch * 9 * v.ch3x3 },
      { out: v.ch5x5, weights: v.in_ch * 25 * v.ch5x5 },
      { out: v.in_ch, weights: 0 }
    ];
    [reduced, naive].forEach(function (rows) { rows.forEach(function (r) { r.mult_adds = r.weights * px; }); });
    return { reduced: reduced, naive: naive };
  }

  function setup(fig) {
    var data = F.data(fig);
    var v = {};
    for (var k in data.defaults) { if (Object.prototype.hasOwnProperty.call(data.defaults, k)) v[k] = data.defaults[k]; }
    var panes = F.panes(fig, "Module widths"), controls = panes.controls, out = panes.out;

    function table(kind, names, caption) {
      var t = el("table", { "class": "readout", "data-module": kind });
      t.appendChild(el("caption", {}, caption));
      t.insertAdjacentHTML("beforeend", "<thead><tr><th>branch</th><th class='num'>out ch.</th><th class='num'>weights</th><th class='num'>multiply-adds</th></tr></thead>");
      var tb = el("tbody");
      var cells = [];
      names.forEach(function (name, i) {
        var tr = el("tr", { "data-branch": "branch" + (i + 1) });
        var c0 = el("td");
        c0.innerHTML = "<span class='swatch' style='background:" + ["#4c72b0", "#dd8452", "#55a868", "#8172b3"][i] + "'></span>" + name;
        tr.appendChild(c0);
        cells.push(F.numCells(tr, ["out", "weights", "mult_adds"]));
        tb.appendChild(tr);
      });
      var total = el("tr", { "class": "total", "data-branch": "total" });
      total.appendChild(el("td", {}, "module"));
      var trow = F.numCells(total, ["out", "weights", "mult_adds"]);
      tb.appendChild(total);
      t.appendChild(tb);
      out.appendChild(t);
      return { rows: cells, total: trow };
    }
    var reducedTable = table("reduced", NAMES, "With 1×1 reductions (Fig. 2b)");
    var chart = svg("svg", { "class": "chart bars", viewBox: "0 0 440 184", role: "img", "aria-label": "multiply-adds per branch" });
    out.appendChild(chart);
    var naiveTable = table("naive", NAIVE, "Naive module, same widths (Fig. 2a)");
    var verdict = el("p", { "class": "verdict", "data-out": "verdict" });
    out.appendChild(verdict);

    function put(td, value) { td.textContent = fmt(value); td.setAttribute("data-value", String(value)); }
    function fill(t, rows) {
      var tot = { out: 0, weights: 0, mult_adds: 0 };
      rows.forEach(function (r, i) {
        ["out", "weights", "mult_adds"].forEach(function (key) { put(t.rows[i][key], r[key]); tot[key] += r[key]; });
      });
      ["out", "weights", "mult_adds"].forEach(function (key) { put(t.total[key], tot[key]); });
      return tot;
    }

    function update() {
      var b = branches(v);
      var red = fill(reducedTable, b.reduced);
      var naive = fill(naiveTable, b.naive);
      var ratio = naive.mult_adds / Math.max(red.mult_adds, 1);
      verdict.setAttribute("data-value", String(ratio));
      verdict.innerHTML = "Output " + v.size + "×" + v.size + "×" + fmt(red.out) + " with reductions, " + v.size + "×" + v.size + "×" + fmt(naive.out) +
        " naive. The reductions need <strong>" + ratio.toFixed(2) + "×</strong> " + (ratio >= 1 ? "fewer" : "MORE") + " multiply-adds.";
      F.clear(chart);
      var bars = b.reduced.map(function (r, i) { return [NAMES[i], r.mult_adds, "b" + (i + 1)]; });
      F.hbars(chart, bars, { top: 2, pitch: 45, width: 290, height: 22, labelDy: 14, barDy: 19, valueDy: 36 });
    }

    CONTROLS.forEach(function (spec) {
      var c = { key: spec[0], label: spec[1], min: spec[2], max: spec[3], step: 1, value: v[spec[0]] };
      controls.appendChild(F.numberControl(fig, c, function (key, value) { v[key] = value; update(); }));
    });
    update();
  }

  F.start("inception-costs", setup);
})();
