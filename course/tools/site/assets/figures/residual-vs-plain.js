/* Lesson 01, "residual vs plain block under weight decay" (course site figure `residual-vs-plain`).
 *
 * One example a (n x m, a >= 0) through a plain block g(W2 g(W1 a + b1) + b2) and a residual
 * block g(W2 g(W1 a + b1) + b2 + a), g = ReLU, with the second layer scaled: W2 -> s W2, b2 -> s b2.
 * Weight decay multiplies the weights by a factor below 1 at every step; at s = 0 the residual
 * block returns a exactly and the plain block returns 0. The example's numbers come from the page
 * (course/tools/site/figures.py); tests/test_site.py checks the outputs against the lesson's
 * reference plain_block and residual_block. Uses assets/figures/common.js (window.CourseFigures);
 * works from file://.
 */
(function () {
  "use strict";

  var F = window.CourseFigures, el = F.el;

  function relu(x) { return x > 0 ? x : 0; }
  function matmul(A, B) {
    var out = [];
    for (var i = 0; i < A.length; i++) {
      out.push([]);
      for (var j = 0; j < B[0].length; j++) {
        var s = 0;
        for (var k = 0; k < B.length; k++) s += A[i][k] * B[k][j];
        out[i].push(s);
      }
    }
    return out;
  }
  function frob(M) {
    var s = 0;
    M.forEach(function (row) { row.forEach(function (x) { s += x * x; }); });
    return Math.sqrt(s);
  }
  function blocks(d, s) {
    var z1 = matmul(d.W1, d.a);
    var a1 = z1.map(function (row, i) { return row.map(function (x) { return relu(x + d.b1[i][0]); }); });
    var w2a1 = matmul(d.W2, a1);
    var plain = [], residual = [];
    for (var i = 0; i < w2a1.length; i++) {
      plain.push([]); residual.push([]);
      for (var j = 0; j < w2a1[0].length; j++) {
        var z2 = s * w2a1[i][j] + s * d.b2[i][0];
        plain[i].push(relu(z2));
        residual[i].push(relu(z2 + d.a[i][j]));
      }
    }
    return { plain: plain, residual: residual };
  }
  function diff(A, B) { return A.map(function (row, i) { return row.map(function (x, j) { return x - B[i][j]; }); }); }

  function matrixBox(title, kind) {
    var box = el("div", { "class": "matrix-box" });
    var t = el("p", { "class": "matrix-title" });
    t.innerHTML = title;
    box.appendChild(t);
    var table = el("table", { "class": "matrix", "data-matrix": kind });
    box.appendChild(table);
    return { box: box, table: table };
  }
  function fillMatrix(table, M, ref) {
    F.clear(table);
    var tb = el("tbody");
    M.forEach(function (row, i) {
      var tr = el("tr");
      row.forEach(function (x, j) {
        var td = el("td", { "data-value": String(x) }, x.toFixed(2));
        if (ref && Math.abs(x - ref[i][j]) > 0.005) td.className = "changed";
        tr.appendChild(td);
      });
      tb.appendChild(tr);
    });
    table.appendChild(tb);
  }

  function setup(fig) {
    var d = F.data(fig);
    var body = fig.querySelector(".figure-body");
    var s = 1;
    var norm0 = frob(d.W2);
    var timer = null;

    var top = el("div", { "class": "controls" });
    var ctl = el("div", { "class": "control" });
    var id = fig.id + "-s";
    ctl.appendChild(el("label", { "for": id }, "s, the size of the second layer (W2 → s·W2, b2 → s·b2)"));
    var range = el("input", { type: "range", min: 0, max: 1, step: 0.01, value: 1, "aria-label": "scale s of W2 and b2" });
    var num = el("input", { type: "number", id: id, min: 0, max: 1, step: 0.01, value: 1, "data-control": "s" });
    ctl.appendChild(range);
    ctl.appendChild(num);
    top.appendChild(ctl);
    var buttons = el("div", { "class": "choice" });
    var decay = el("button", { type: "button", "class": "fig-button", "data-action": "decay" }, "Apply weight decay");
    var reset = el("button", { type: "button", "class": "fig-button", "data-action": "reset" }, "Reset to s = 1");
    buttons.appendChild(decay);
    buttons.appendChild(reset);
    top.appendChild(buttons);
    body.appendChild(top);

    var readout = el("p", { "class": "verdict", "data-out": "norms" });
    body.appendChild(readout);
    var mats = el("div", { "class": "matrices" });
    var A = matrixBox("input <em>a</em> = a<sup>[l]</sup> ≥ 0", "a");
    var R = matrixBox("<span class='swatch residual'></span>residual block g(z<sub>2</sub> + a)", "residual");
    var P = matrixBox("<span class='swatch plain'></span>plain block g(z<sub>2</sub>)", "plain");
    [A, R, P].forEach(function (m) { mats.appendChild(m.box); });
    body.appendChild(mats);
    var verdict = el("p", { "class": "verdict", "data-out": "verdict" });
    body.appendChild(verdict);
    fillMatrix(A.table, d.a);

    function update() {
      var out = blocks(d, s);
      fillMatrix(R.table, out.residual, d.a);
      fillMatrix(P.table, out.plain, d.a);
      var dr = frob(diff(out.residual, d.a)), dp = frob(diff(out.plain, d.a));
      readout.innerHTML = "‖W<sub>2</sub>‖<sub>F</sub> = <span data-out='w2norm' data-value='" + (s * norm0) + "'>" + (s * norm0).toFixed(3) +
        "</span> · distance to the identity ‖out − a‖<sub>F</sub>: residual <span data-out='residual_distance' data-value='" + dr + "'>" + dr.toFixed(3) +
        "</span>, plain <span data-out='plain_distance' data-value='" + dp + "'>" + dp.toFixed(3) + "</span>";
      if (s === 0) {
        verdict.innerHTML = "<strong>s = 0:</strong> the residual block returns <em>a</em> exactly: it has become the identity. The plain block returns 0 and erases its input.";
      } else {
        verdict.innerHTML = "Red entries differ from <em>a</em>. Shrink s: the residual block's output moves to <em>a</em>, the plain block's to 0.";
      }
    }
    function set(value, from, exact) {
      var x = exact ? Number(value) : Math.round(Number(value) * 100) / 100;
      if (!isFinite(x)) return;
      s = Math.max(0, Math.min(1, x));
      if (from !== range) range.value = s;
      if (from !== num) num.value = exact ? s.toFixed(3) : s;
      fig.setAttribute("data-s", String(s));
      update();
    }
    function stop() { if (timer !== null) { clearInterval(timer); timer = null; decay.textContent = "Apply weight decay"; } }
    range.addEventListener("input", function () { stop(); set(range.value, range); });
    num.addEventListener("input", function () { stop(); if (num.value !== "") set(num.value, num); });
    num.addEventListener("change", function () { set(num.value, null); });
    reset.addEventListener("click", function () { stop(); set(1, null); });
    decay.addEventListener("click", function () {
      if (timer !== null) { stop(); return; }
      decay.textContent = "Stop";
      timer = setInterval(function () {
        // each step multiplies W2 and b2 by the decay factor (the displayed s keeps 2 decimals)
        var next = s * d.decay;
        if (next < 0.005) { stop(); set(0, null); return; }
        set(next, null, true);
      }, 120);
    });
    update();
  }

  F.start("residual-vs-plain", setup);
})();
