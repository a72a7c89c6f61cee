/* Lesson 02, "gradient norm vs depth, plain vs residual" (course site figure `gradient-norms`).
 *
 * Measured data (benchmarks/gradient_norms.json, written by benchmarks/gradient_norms.py with the
 * lesson's reference cifar_net and layer_gradient_norms), carried by the page as JSON: for every
 * network, the norm of dL/dW of each convolution at initialisation, per seed, with the median and
 * range over seeds. Left: norm per layer for the chosen depth (log scale). Right: how much larger
 * the first layer's gradient is than the last one's, against depth. tests/test_site.py checks the
 * numbers shown against the data and the data against the reference functions.
 * Uses assets/figures/common.js (window.CourseFigures); works from file://.
 */
(function () {
  "use strict";
  var F = window.CourseFigures, el = F.el, svg = F.svg;

  function sig(x) {
    if (x === 0) return "0";
    if (x >= 1000) return F.fmt(x);
    return F.sig3(x);
  }

  function logAxis(lo, hi) {
    var a = Math.floor(Math.log10(lo)), b = Math.ceil(Math.log10(hi));
    if (a === b) b = a + 1;
    return { lo: a, hi: b };
  }

  function chart(node, opts) {
    // opts: width, height, xs (domain [x0, x1]), series [{cls, points:[[x,y]], band:[[x,lo,hi]]}], xlabel, ylabel, xticks, marks
    F.clear(node);
    var W = opts.width, H = opts.height, L = 52, R = 10, T = 10, B = 36;
    node.setAttribute("viewBox", "0 0 " + W + " " + H);
    var ys = [];
    opts.series.forEach(function (s) {
      s.points.forEach(function (p) { ys.push(p[1]); });
      (s.band || []).forEach(function (p) { ys.push(p[1], p[2]); });
    });
    var ax = logAxis(Math.min.apply(null, ys), Math.max.apply(null, ys));
    function X(x) { return L + (W - L - R) * (x - opts.xs[0]) / Math.max(opts.xs[1] - opts.xs[0], 1e-9); }
    function Y(y) { return T + (H - T - B) * (1 - (Math.log10(y) - ax.lo) / (ax.hi - ax.lo)); }
    for (var e = ax.lo; e <= ax.hi; e++) {
      var yy = Y(Math.pow(10, e)).toFixed(1);
      node.appendChild(svg("line", { "class": "grid", x1: L, x2: W - R, y1: yy, y2: yy }));
      node.appendChild(svg("text", { "class": "tick", x: L - 6, y: yy, dy: "0.32em", "text-anchor": "end" }, e === 0 ? "1" : "1e" + e));
    }
    opts.xticks.forEach(function (t) {
      node.appendChild(svg("text", { "class": "tick", x: X(t).toFixed(1), y: H - B + 16, "text-anchor": "middle" }, String(t)));
    });
    node.appendChild(svg("text", { "class": "axis-label", x: (L + W - R) / 2, y: H - 4, "text-anchor": "middle" }, opts.xlabel));
    node.appendChild(svg("text", { "class": "axis-label", transform: "translate(12 " + ((T + H - B) / 2) + ") rotate(-90)", "text-anchor": "middle" }, opts.ylabel));
    opts.series.forEach(function (s) {
      if (s.band && s.band.length) {
        var top = s.band.map(function (p) { return X(p[0]).toFixed(1) + "," + Y(p[2]).toFixed(1); });
        var bottom = s.band.slice().reverse().map(function (p) { return X(p[0]).toFixed(1) + "," + Y(p[1]).toFixed(1); });
        node.appendChild(svg("polygon", { "class": "band " + s.cls, points: top.concat(bottom).join(" ") }));
      }
      var d = s.points.map(function (p, i) { return (i ? "L" : "M") + X(p[0]).toFixed(1) + " " + Y(p[1]).toFixed(1); }).join(" ");
      node.appendChild(svg("path", { "class": "line " + s.cls, d: d }));
      if (s.dots) {
        s.points.forEach(function (p) {
          var c = svg("circle", { "class": "dot " + s.cls, cx: X(p[0]).toFixed(1), cy: Y(p[1]).toFixed(1), r: p[0] === opts.mark ? 5 : 3 });
          c.appendChild(svg("title", {}, s.label + ", " + p[0] + " layers: ×" + sig(p[1])));
          node.appendChild(c);
        });
      }
    });
  }

  function setup(fig) {
    var d = F.data(fig);
    var body = fig.querySelector(".figure-body");
    var state = { depth: d.depths.indexOf(56) >= 0 ? 56 : d.depths[d.depths.length - 1], plain: true, residual: true, seed: "median" };

    var controls = el("div", { "class": "controls fig-row" });
    var depthSpec = { key: "depth", title: "Depth (6n + 2 layers)", aria: "network depth", values: d.depths, checked: state.depth };
    controls.appendChild(F.radios(fig, depthSpec, function (value) { state.depth = value; update(); }));
    var showBox = F.toggles("Show", [["plain", "plain", "plain"], ["residual", "residual", "residual"]], function (key, on) { state[key] = on; update(); });
    var seedOptions = [["median", "median of " + d.seeds.length]].concat(d.seeds.map(function (s) { return [s, s]; }));
    showBox.appendChild(F.select(fig, { key: "seed", label: "seed ", options: seedOptions }, function (value) { state.seed = value; update(); }));
    controls.appendChild(showBox);
    body.appendChild(controls);

    var charts = el("div", { "class": "fig-grid two" });
    var left = svg("svg", { "class": "chart", role: "img", "aria-label": "gradient norm per layer" });
    var right = svg("svg", { "class": "chart", role: "img", "aria-label": "first-to-last ratio against depth" });
    charts.appendChild(left);
    charts.appendChild(right);
    body.appendChild(charts);

    var readout = F.readout("<th>network</th><th class='num'>conv layers</th><th class='num'>first conv</th><th class='num'>last conv</th><th class='num'>first / last</th><th class='num'>largest / smallest</th>");
    var table = readout.table, tbody = readout.tbody;
    body.appendChild(table);

    function norms(net) { return state.seed === "median" ? net.median : net.seeds[state.seed]; }
    function netFor(residual, depth) { return d.nets[(residual ? "ResNet-" : "plain-") + depth]; }

    function update() {
      var series = [];
      F.clear(tbody);
      [false, true].forEach(function (residual) {
        var key = residual ? "residual" : "plain";
        var net = netFor(residual, state.depth);
        if (!net) return;
        var v = norms(net);
        var first = v[0], last = v[v.length - 1];
        var big = Math.max.apply(null, v), small = Math.min.apply(null, v);
        var tr = el("tr", { "data-net": (residual ? "ResNet-" : "plain-") + state.depth });
        var name = el("td");
        name.innerHTML = "<span class='swatch " + key + "'></span>" + (residual ? "ResNet-" : "plain-") + state.depth;
        tr.appendChild(name);
        [["layers", v.length], ["first", first], ["last", last], ["ratio", first / last], ["spread", big / small]].forEach(function (c) {
          var text = c[0] === "layers" ? String(c[1]) : (c[0] === "ratio" || c[0] === "spread" ? "×" + sig(c[1]) : sig(c[1]));
          tr.appendChild(el("td", { "class": "num", "data-out": c[0], "data-value": String(c[1]) }, text));
        });
        tbody.appendChild(tr);
        if (!state[key]) return;
        series.push({
          cls: key, label: key,
          points: v.map(function (y, i) { return [i + 1, y]; }),
          band: state.seed === "median" ? net.min.map(function (lo, i) { return [i + 1, lo, net.max[i]]; }) : []
        });
      });
      var n = netFor(false, state.depth) || netFor(true, state.depth);
      var L = n ? n.layers.length : 1;
      var step = L > 60 ? 20 : 10;
      var xt = [1];
      for (var t = step; t < L - step / 3; t += step) xt.push(t);
      xt.push(L);
      if (series.length) {
        chart(left, { width: 440, height: 260, xs: [1, L], series: series, xlabel: "conv layer (1 = next to the input)", ylabel: "‖∂L/∂W‖", xticks: xt });
      } else {
        empty(left);
      }
      var ratioSeries = [];
      [false, true].forEach(function (residual) {
        var key = residual ? "residual" : "plain";
        if (!state[key]) return;
        var pts = [];
        d.depths.forEach(function (depth) {
          var net = netFor(residual, depth);
          if (!net) return;
          var v = norms(net);
          pts.push([depth, v[0] / v[v.length - 1]]);
        });
        ratioSeries.push({ cls: key, label: residual ? "ResNet" : "plain", points: pts, dots: true });
      });
      if (ratioSeries.length) {
        chart(right, { width: 300, height: 260, xs: [d.depths[0], d.depths[d.depths.length - 1]], series: ratioSeries, xlabel: "depth (layers)", ylabel: "first conv / last conv", xticks: d.depths, mark: state.depth });
      } else {
        empty(right);
      }
    }
    // every series unticked: say so instead of leaving an empty box
    function empty(node) { F.emptyNote(node, ["No series selected:", "tick plain or residual above."]); }
    update();
  }

  F.start("gradient-norms", setup);
})();
