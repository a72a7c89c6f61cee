/* Lesson 03, "1x1 bottleneck cost explorer" (course site figure `bottleneck-cost`).
 *
 * A stride-1 "same" f x f convolution from C_in to C_out channels on an H x W map, directly and
 * behind a 1x1 convolution to C_mid channels. The formulas are the lesson's:
 *   conv_mults(h_out, w_out, c_in, c_out, f) = h_out * w_out * c_out * f * f * c_in
 *   conv_params(c_in, c_out, f, bias=False)  = f * f * c_in * c_out
 * tests/test_site.py checks the numbers shown here against the lesson's reference solution.
 * Self-contained: no modules, no network (works from file://).
 */
(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";
  var CONTROLS = [
    ["h", "H (output height)", 1, 64, 1],
    ["w", "W (output width)", 1, 64, 1],
    ["c_in", "C_in (input channels)", 1, 512, 1],
    ["c_mid", "C_mid (bottleneck width)", 1, 256, 1],
    ["c_out", "C_out (output channels)", 1, 512, 1],
    ["f", "f (filter size, odd)", 1, 9, 2]
  ];

  function fmt(n) { return String(Math.round(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ","); }
  function conv_mults(h, w, cin, cout, f) { return h * w * cout * f * f * cin; }
  function conv_params(cin, cout, f) { return f * f * cin * cout; }

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

  function control(fig, spec, value, onChange) {
    var id = fig.id + "-" + spec[0];
    var box = el("div", { "class": "control" });
    box.appendChild(el("label", { "for": id }, spec[1]));
    var range = el("input", { type: "range", min: spec[2], max: spec[3], step: spec[4], value: value, "aria-label": spec[1] });
    var num = el("input", { type: "number", id: id, min: spec[2], max: spec[3], step: spec[4], value: value, "data-control": spec[0] });
    function set(v, from) {
      v = Math.round(Number(v));
      if (!isFinite(v)) return;
      v = Math.max(spec[2], Math.min(spec[3], v));
      if (spec[0] === "f" && v % 2 === 0) v += (v < spec[3] ? 1 : -1);
      if (from !== range) range.value = v;
      if (from !== num) num.value = v;
      onChange(spec[0], v);
    }
    range.addEventListener("input", function () { set(range.value, range); });
    num.addEventListener("input", function () { if (num.value !== "") set(num.value, num); });
    num.addEventListener("change", function () { set(num.value, null); });
    box.appendChild(range);
    box.appendChild(num);
    return box;
  }

  function setup(fig) {
    var data = JSON.parse(fig.querySelector("script.figure-data").textContent);
    var v = {};
    for (var k in data.defaults) { if (Object.prototype.hasOwnProperty.call(data.defaults, k)) v[k] = data.defaults[k]; }
    var body = fig.querySelector(".figure-body");
    var grid = el("div", { "class": "fig-grid" });
    var controls = el("div", { "class": "controls", role: "group", "aria-label": "Layer sizes" });
    var out = el("div", { "class": "fig-output" });
    grid.appendChild(controls);
    grid.appendChild(out);
    body.appendChild(grid);

    var table = el("table", { "class": "readout" });
    table.innerHTML = "<thead><tr><th>layer</th><th class='num'>multiplications</th><th class='num'>weights</th></tr></thead>";
    var tbody = el("tbody");
    table.appendChild(tbody);
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
      [r[2], r[3]].forEach(function (key) {
        var td = el("td", { "class": "num", "data-out": key });
        cells[key] = td;
        tr.appendChild(td);
      });
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
      while (node.firstChild) node.removeChild(node.firstChild);
      var max = Math.max(bars[0][1], bars[1][1], 1);
      bars.forEach(function (b, i) {
        // the label above its bar: on a phone the text is large next to the bars, never on them
        var y = 4 + i * 52;
        var w = Math.max(1, 290 * b[1] / max);
        node.appendChild(svg("text", { x: 0, y: y + 14 }, b[0]));
        node.appendChild(svg("rect", { "class": "bar " + b[2], x: 0, y: y + 20, width: w.toFixed(1), height: 26, rx: 3 }));
        node.appendChild(svg("text", { "class": "value", x: (6 + w).toFixed(1), y: y + 39 }, fmt(b[1])));
      });
    }

    CONTROLS.forEach(function (spec) {
      controls.appendChild(control(fig, spec, v[spec[0]], function (key, value) { v[key] = value; update(); }));
    });
    update();
    fig.setAttribute("data-ready", "true");
  }

  var figs = document.querySelectorAll('figure[data-figure="bottleneck-cost"]');
  for (var i = 0; i < figs.length; i++) setup(figs[i]);
})();
