/* Lesson 07, "the highway carry product" (course site figure `highway-carry`).
 *
 * At the start of training a highway layer's transform gate is T = sigma(b_T) (its weights are
 * small), so each layer carries 1 - sigma(b_T) of its input straight through and L layers carry
 * (1 - sigma(b_T))^L (Srivastava et al. 2015, Eq. 3; the lesson's "What the gate bias does to a
 * deep stack"). A residual unit carries exactly 1. tests/test_site.py checks the numbers shown
 * against a stack of the lesson's reference HighwayLayer. Uses assets/figures/common.js
 * (window.CourseFigures); works from file://.
 */
(function () {
  "use strict";
  var F = window.CourseFigures, el = F.el, svg = F.svg;
  var FLOOR = -8;  // the log axis stops at 1e-8
  function sig(x) { return x === 0 ? "0" : x < 1e-3 ? x.toExponential(2) : F.sig3(x); }
  function carry(b) { return 1 - 1 / (1 + Math.exp(-b)); }
  function product(b, L) { return Math.pow(carry(b), L); }

  function setup(fig) {
    var d = F.data(fig).defaults;
    var state = { bias: d.bias, depth: d.depth, shown: { mine: true, residual: true } };
    var series = [["mine", "your b_T", "b1"]];
    d.lesson_biases.forEach(function (b, i) {
      var key = "lesson" + i;
      state.shown[key] = true;
      series.push([key, "b_T = " + String(b).replace("-", "−"), "b" + (i + 2), b]);
    });
    series.push(["residual", "residual unit (carry 1)", "b4"]);
    var panes = F.panes(fig, "Gate bias and depth"), controls = panes.controls, out = panes.out;
    function onChange(key, v) { state[key] = v; update(); }
    var bias = { key: "bias", label: "gate bias b_T", min: -10, max: 4, step: 0.5, value: state.bias };
    var depth = { key: "depth", label: "depth L (layers)", min: 1, max: d.max_depth, step: 1, value: state.depth };
    controls.appendChild(F.numberControl(fig, bias, onChange));
    controls.appendChild(F.numberControl(fig, depth, onChange));
    controls.appendChild(F.toggles("Show", series, function (key, on) { state.shown[key] = on; update(); }));

    var readout = F.readout("<th>stack</th><th class='num'>carry per layer</th><th class='num'>carried through L layers</th>");
    var table = readout.table, tbody = readout.tbody;
    out.appendChild(table);
    var chart = svg("svg", { "class": "chart", role: "img" });
    out.appendChild(chart);

    function biasOf(s) { return s[0] === "mine" ? state.bias : s[3]; }

    function draw(active) {
      F.clear(chart);
      if (!active.length) {
        F.emptyNote(chart, ["No series selected:", "tick one under Show."], "no series selected");
        return;
      }
      var W = 440, H = 260, L = 52, R = 22, T = 10, B = 36, maxL = d.max_depth;
      chart.setAttribute("viewBox", "0 0 " + W + " " + H);
      chart.setAttribute("aria-label", "carried fraction against depth, log scale: " + active.map(function (s) {
        return s[1] + " " + sig(s[0] === "residual" ? 1 : product(biasOf(s), state.depth)) + " at " + state.depth + " layers";
      }).join("; "));
      function X(x) { return L + (W - L - R) * x / maxL; }
      function Y(y) { var e = y > 0 ? Math.max(FLOOR, Math.log10(y)) : FLOOR; return T + (H - T - B) * (e / FLOOR); }
      for (var e = 0; e >= FLOOR; e -= 2) {
        var yy = Y(Math.pow(10, e)).toFixed(1);
        chart.appendChild(svg("line", { "class": "grid", x1: L, x2: W - R, y1: yy, y2: yy }));
        chart.appendChild(svg("text", { "class": "tick", x: L - 6, y: yy, dy: "0.32em", "text-anchor": "end" }, e === 0 ? "1" : "1e" + e));
      }
      [0, 50, 100, 150, 200].filter(function (t) { return t <= maxL; }).forEach(function (t) {
        chart.appendChild(svg("text", { "class": "tick", x: X(t).toFixed(1), y: H - B + 16, "text-anchor": "middle" }, String(t)));
      });
      chart.appendChild(svg("text", { "class": "axis-label", x: (L + W - R) / 2, y: H - 4, "text-anchor": "middle" }, "depth L (layers)"));
      chart.appendChild(svg("text", { "class": "axis-label", transform: "translate(12 " + ((T + H - B) / 2) + ") rotate(-90)", "text-anchor": "middle" }, "carried fraction"));
      var xm = X(state.depth).toFixed(1);
      chart.appendChild(svg("line", { "class": "grid", x1: xm, x2: xm, y1: T, y2: H - B, "stroke-dasharray": "4 3" }));
      active.forEach(function (s) {
        var pts = [];
        for (var l = 0; l <= maxL; l += 2) pts.push((pts.length ? "L" : "M") + X(l).toFixed(1) + " " + Y(s[0] === "residual" ? 1 : product(biasOf(s), l)).toFixed(1));
        chart.appendChild(svg("path", { "class": "line " + s[2], d: pts.join(" ") }));
      });
    }

    function update() {
      fig.dataset.setting = state.bias + "/" + state.depth;
      F.clear(tbody);
      var active = [];
      series.forEach(function (s) {
        var c = s[0] === "residual" ? 1 : carry(biasOf(s));
        var p = s[0] === "residual" ? 1 : product(biasOf(s), state.depth);
        var tr = el("tr", { "data-series": s[0] });
        var name = el("td");
        name.appendChild(el("span", { "class": "swatch " + s[2] }));
        name.appendChild(document.createTextNode(s[0] === "mine" ? "b_T = " + String(state.bias).replace("-", "−") : s[1]));
        tr.appendChild(name);
        tr.appendChild(el("td", { "class": "num", "data-out": "carry", "data-value": String(c) }, sig(c)));
        tr.appendChild(el("td", { "class": "num", "data-out": "product", "data-value": String(p) }, sig(p)));
        tbody.appendChild(tr);
        if (state.shown[s[0]]) active.push(s);
      });
      draw(active);
    }
    update();
  }

  F.start("highway-carry", setup);
})();
