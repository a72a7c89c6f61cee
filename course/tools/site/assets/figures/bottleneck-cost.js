/* Lesson 03, "1x1 bottleneck cost explorer" (course site figure `bottleneck-cost`).
 *
 * A stride-1 "same" f x f convolution from C_in to C_out channels on an H x W map, directly and
 * behind a 1x1 convolution to C_mid channels. The formulas are the lesson's:
 *   conv_mults(h_out, w_out, c_in, c_out, f) = h_out * w_out * c_out * f * f * c_in
 *   conv_params(c_in, c_out, f, bias=False)  = f * f * c_in * c_out
 * tests/test_site.py checks the numbers shown here against the lesson's reference solution.
 * Uses assets/figures/common.js (window.CourseFigures); no modules, no network (works from file://).
 */
(function () {
  "use strict";
  var F = window.CourseFigures, el = F.el, svg = F.svg, fmt = F.fmt;
  var CONTROLS = [
    ["h", "H (output height)", 1, 64, 1],
    ["w", "W (output width)", 1, 64, 1],
    ["c_in", "C_in (input channels)", 1, 512, 1],
    ["c_mid", "C_mid (bottleneck width)", 1, 256, 1],
    ["c_out", "C_out (output channels)", 1, 512, 1],
    ["f", "f (filter size, odd)", 1, 9, 2]
  ];

  function conv_mults(h, w, cin, cout, f) { return h * w * cout * f * f * cin; }
  function conv_params(cin, cout, f) { return f * f * cin * cout; }

  function setup(fig) {
    var data = F.data(fig);
    var v = {};
    for (var k in data.defaults) { if (Object.prototype.hasOwnProperty.call(data.defaults, k)) v[k] = data.defaults[k]; }
    var panes = F.panes(fig, "Layer sizes"), controls = panes.controls, out = panes.out;

    var readout = F.readout("<th>layer</th><th class='num'>multiplications</th><th class='num'>weights</th>");
    var table = readout.table, tbody = readout.tbody;
    var rows = [
      ["direct", "<span class='swatch direct'></span>direct f×f, C_in → C_out", "direct_mults", "direct_weights", ""],
      ["reduce", "1×1, C_in → C_mid", "reduce_mults", "reduce_weights", ""],
      ["expand", "f×f, C_mid → C_out", "expand_mults", "expand_weights", ""],
      ["bottleneck", "<span class='swatch bottleneck'></span>bottleneck total", "bottleneck_mults", "bottleneck_weights", "total"]
    ];
    var cells = {};
    rows.forEach(function (r) {
      var tr = el("tr", { "class": r[4] });
      var name = el("td");
      name.innerHTML = r[1];
      tr.appendChild(name);
      var two = F.numCells(tr, [r[2], r[3]]);
      cells[r[2]] = two[r[2]];
      cells[r[3]] = two[r[3]];
      tbody.appendChild(tr);
    });
    out.appendChild(table);
    var verdict = el("p", { "class": "verdict", "data-out": "verdict" });
    out.appendChild(verdict);
    var chart = svg("svg", { "class": "chart bars", viewBox: "0 0 440 108", role: "img", "aria-label": "multiplications, direct vs bottleneck" });
    out.appendChild(chart);

    function show(key, value) {
      cells[key].textContent = fmt(value);
      cells[key].setAttribute("data-value", String(value));
    }

    function update() {
      var direct = conv_mults(v.h, v.w, v.c_in, v.c_out, v.f);
      var reduce = conv_mults(v.h, v.w, v.c_in, v.c_mid, 1);
      var expand = conv_mults(v.h, v.w, v.c_mid, v.c_out, v.f);
      var r = {
        direct_mults: direct, reduce_mults: reduce, expand_mults: expand, bottleneck_mults: reduce + expand,
        direct_weights: conv_params(v.c_in, v.c_out, v.f), reduce_weights: conv_params(v.c_in, v.c_mid, 1),
        expand_weights: conv_params(v.c_mid, v.c_out, v.f)
      };
      r.bottleneck_weights = r.reduce_weights + r.expand_weights;
      for (var key in cells) { if (Object.prototype.hasOwnProperty.call(cells, key)) show(key, r[key]); }
      var ratio = direct / Math.max(r.bottleneck_mults, 1);
      verdict.setAttribute("data-value", String(ratio));
      verdict.innerHTML = ratio >= 1
        ? "The bottleneck needs <strong>" + ratio.toFixed(2) + "× fewer</strong> multiplications (" + fmt(direct) + " vs " + fmt(r.bottleneck_mults) + ")."
        : "Here the bottleneck costs <strong>" + (1 / ratio).toFixed(2) + "× more</strong> multiplications: C_mid is too wide to save anything.";
      drawBars(chart, [["direct", direct, "direct"], ["bottleneck", r.bottleneck_mults, "bottleneck"]]);
    }

    function drawBars(node, bars) {
      F.clear(node);
      F.hbars(node, bars, { top: 4, pitch: 52, width: 290, height: 26, labelDy: 14, barDy: 20, valueDy: 39 });
    }

    CONTROLS.forEach(function (spec) {
      var c = { key: spec[0], label: spec[1], min: spec[2], max: spec[3], step: spec[4], value: v[spec[0]], odd: spec[0] === "f" };
      controls.appendChild(F.numberControl(fig, c, function (key, value) { v[key] = value; update(); }));
    });
    update();
  }

  F.start("bottleneck-cost", setup);
})();
