/* Lesson 05, "ResNet-34 stage by stage" (course site figure `resnet34-stages`).
 *
 * The page carries, for every stem (cifar / imagenet), image size and number of classes, the
 * rows the build computed (course/tools/site/figures.py, resnet34_walk: closed form from He et al.
 * 2015, Table 1): output shape, parameters and multiply-adds of the stem, the four stages and the
 * head. This script only chooses a row set and draws it. tests/test_site.py checks the numbers
 * shown against the lesson's reference ResNet34. Uses assets/figures/common.js
 * (window.CourseFigures); works from file://.
 */
(function () {
  "use strict";
  var F = window.CourseFigures, el = F.el, svg = F.svg, fmt = F.fmt;
  function big(n) { return n >= 1e9 ? (n / 1e9).toFixed(2) + " G" : n >= 1e6 ? (n / 1e6).toFixed(2) + " M" : fmt(n); }

  function setup(fig) {
    var d = F.data(fig);
    var state = { stem: d["default"].stem, size: d["default"].size, classes: d["default"].classes, params: true, macs: true };
    var body = fig.querySelector(".figure-body");
    var controls = el("div", { "class": "controls fig-row" });

    var stem = { key: "stem", title: "Stem", values: d.settings.stem, checked: state.stem,
      label: function (v) { return v === "cifar" ? "CIFAR (3×3)" : "ImageNet (7×7 + pool)"; } };
    controls.appendChild(F.radios(fig, stem, function (value) { state.stem = value; update(); }));
    var sizeBox = el("div", { "class": "choice" });
    sizeBox.appendChild(el("span", { "class": "choice-title" }, "Image and classes"));
    var size = { key: "size", label: "size ", selected: state.size, options: d.settings.size.map(function (s) { return [s, s + "×" + s]; }) };
    sizeBox.appendChild(F.select(fig, size, function (value) { state.size = Number(value); update(); }));
    var classes = { key: "classes", label: "classes ", selected: state.classes, options: d.settings.classes.map(function (c) { return [c, c]; }) };
    sizeBox.appendChild(F.select(fig, classes, function (value) { state.classes = Number(value); update(); }));
    controls.appendChild(sizeBox);
    var shown = [["params", "parameters", "b1"], ["macs", "multiply-adds", "b2"]];
    controls.appendChild(F.toggles("Show", shown, function (key, on) { state[key] = on; update(); }));
    body.appendChild(controls);

    var charts = el("div", { "class": "fig-grid two" });
    body.appendChild(charts);
    var readout = F.readout("<th>stage</th><th>output</th><th class='num'>parameters</th><th class='num'>multiply-adds</th>");
    var table = readout.table, tbody = readout.tbody;
    body.appendChild(table);

    function bars(rows, key, cls, title) {
      var total = 0;
      rows.forEach(function (r) { total += r[key]; });
      var node = svg("svg", { "class": "chart bars", viewBox: "0 0 440 " + (rows.length * 46 + 24), role: "img",
        "aria-label": title + " per stage: " + rows.map(function (r) { return r.name + " " + fmt(r[key]); }).join(", ") });
      node.appendChild(svg("text", { x: 0, y: 15, "class": "axis-label" }, title + " (total " + big(total) + ")"));
      var labelled = rows.map(function (r) { return [r.name + ": " + big(r[key]) + " (" + (100 * r[key] / total).toFixed(1) + "%)", r[key], cls]; });
      F.hbars(node, labelled, { top: 24, pitch: 46, width: 430, height: 16, labelDy: 15, barDy: 21 });
      return node;
    }
    function empty() { return F.emptyNote(null, ["No series selected: tick", "parameters or multiply-adds."], "no series selected"); }

    function update() {
      var rows = d.walks[state.stem + "-" + state.size + "-" + state.classes];
      fig.dataset.setting = state.stem + "-" + state.size + "-" + state.classes;
      F.clear(tbody);
      var tp = 0, tm = 0;
      rows.forEach(function (r) {
        tp += r.params; tm += r.macs;
        var tr = el("tr", { "data-stage": r.name });
        var name = el("td");
        name.appendChild(el("strong", {}, r.name));
        name.appendChild(el("br"));
        name.appendChild(document.createTextNode(r.what));
        tr.appendChild(name);
        tr.appendChild(el("td", { "data-out": "shape", "data-value": r.shape.join("x") }, r.shape.join(" × ")));
        tr.appendChild(el("td", { "class": "num", "data-out": "params", "data-value": String(r.params) }, fmt(r.params)));
        tr.appendChild(el("td", { "class": "num", "data-out": "macs", "data-value": String(r.macs) }, fmt(r.macs)));
        tbody.appendChild(tr);
      });
      var tr = el("tr", { "class": "total", "data-stage": "total" });
      tr.appendChild(el("td", {}, "ResNet-34"));
      tr.appendChild(el("td", {}, ""));
      tr.appendChild(el("td", { "class": "num", "data-out": "params", "data-value": String(tp) }, fmt(tp)));
      tr.appendChild(el("td", { "class": "num", "data-out": "macs", "data-value": String(tm) }, fmt(tm)));
      tbody.appendChild(tr);
      F.clear(charts);
      if (state.params) charts.appendChild(bars(rows, "params", "b1", "parameters"));
      if (state.macs) charts.appendChild(bars(rows, "macs", "b2", "multiply-adds"));
      if (!state.params && !state.macs) charts.appendChild(empty());
    }
    update();
  }

  F.start("resnet34-stages", setup);
})();
