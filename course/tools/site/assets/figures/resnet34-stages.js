/* Lesson 05, "ResNet-34 stage by stage" (course site figure `resnet34-stages`).
 *
 * The page carries, for every stem (cifar / imagenet), image size and number of classes, the
 * rows the build computed (course/tools/site/figures.py, resnet34_walk: closed form from He et al.
 * 2015, Table 1): output shape, parameters and multiply-adds of the stem, the four stages and the
 * head. This script only chooses a row set and draws it. tests/test_site.py checks the numbers
 * shown against the lesson's reference ResNet34. Self-contained, works from file://.
 */
(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";
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
  function fmt(n) { return String(Math.round(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ","); }
  function big(n) { return n >= 1e9 ? (n / 1e9).toFixed(2) + " G" : n >= 1e6 ? (n / 1e6).toFixed(2) + " M" : fmt(n); }

  function setup(fig) {
    var d = JSON.parse(fig.querySelector("script.figure-data").textContent);
    var state = { stem: d["default"].stem, size: d["default"].size, classes: d["default"].classes, params: true, macs: true };
    var body = fig.querySelector(".figure-body");
    var controls = el("div", { "class": "controls fig-row" });

    function radios(key, title, values, label) {
      var box = el("div", { "class": "choice", role: "radiogroup", "aria-label": title });
      box.appendChild(el("span", { "class": "choice-title" }, title));
      values.forEach(function (value) {
        var lab = el("label");
        var r = el("input", { type: "radio", name: fig.id + "-" + key, value: String(value), "data-control": key });
        if (value === state[key]) r.checked = true;
        r.addEventListener("change", function () { if (r.checked) { state[key] = value; update(); } });
        lab.appendChild(r);
        lab.appendChild(document.createTextNode(label(value)));
        box.appendChild(lab);
      });
      controls.appendChild(box);
    }
    radios("stem", "Stem", d.settings.stem, function (v) { return v === "cifar" ? "CIFAR (3×3)" : "ImageNet (7×7 + pool)"; });
    var sizeBox = el("div", { "class": "choice" });
    sizeBox.appendChild(el("span", { "class": "choice-title" }, "Image and classes"));
    var sizeLab = el("label", { "for": fig.id + "-size" }, "size ");
    var sizeSel = el("select", { id: fig.id + "-size", "data-control": "size" });
    d.settings.size.forEach(function (s) {
      var o = el("option", { value: String(s) }, s + "×" + s);
      if (s === state.size) o.selected = true;
      sizeSel.appendChild(o);
    });
    sizeSel.addEventListener("change", function () { state.size = Number(sizeSel.value); update(); });
    sizeLab.appendChild(sizeSel);
    sizeBox.appendChild(sizeLab);
    var clsLab = el("label", { "for": fig.id + "-classes" }, "classes ");
    var clsSel = el("select", { id: fig.id + "-classes", "data-control": "classes" });
    d.settings.classes.forEach(function (c) {
      var o = el("option", { value: String(c) }, String(c));
      if (c === state.classes) o.selected = true;
      clsSel.appendChild(o);
    });
    clsSel.addEventListener("change", function () { state.classes = Number(clsSel.value); update(); });
    clsLab.appendChild(clsSel);
    sizeBox.appendChild(clsLab);
    controls.appendChild(sizeBox);
    var showBox = el("div", { "class": "choice" });
    showBox.appendChild(el("span", { "class": "choice-title" }, "Show"));
    [["params", "parameters", "b1"], ["macs", "multiply-adds", "b2"]].forEach(function (p) {
      var lab = el("label");
      var c = el("input", { type: "checkbox", checked: "", "data-control": p[0] });
      c.addEventListener("change", function () { state[p[0]] = c.checked; update(); });
      lab.appendChild(c);
      lab.appendChild(el("span", { "class": "swatch " + p[2] }));
      lab.appendChild(document.createTextNode(p[1]));
      showBox.appendChild(lab);
    });
    controls.appendChild(showBox);
    body.appendChild(controls);

    var charts = el("div", { "class": "fig-grid two" });
    body.appendChild(charts);
    var table = el("table", { "class": "readout" });
    table.innerHTML = "<thead><tr><th>stage</th><th>output</th><th class='num'>parameters</th><th class='num'>multiply-adds</th></tr></thead>";
    var tbody = el("tbody");
    table.appendChild(tbody);
    body.appendChild(table);

    function bars(rows, key, cls, title) {
      var total = 0;
      rows.forEach(function (r) { total += r[key]; });
      var max = Math.max.apply(null, rows.map(function (r) { return r[key]; }).concat([1]));
      var node = svg("svg", { "class": "chart bars", viewBox: "0 0 440 " + (rows.length * 46 + 24), role: "img",
        "aria-label": title + " per stage: " + rows.map(function (r) { return r.name + " " + fmt(r[key]); }).join(", ") });
      node.appendChild(svg("text", { x: 0, y: 15, "class": "axis-label" }, title + " (total " + big(total) + ")"));
      rows.forEach(function (r, i) {
        var y = 24 + i * 46, w = Math.max(1, 430 * r[key] / max);
        node.appendChild(svg("text", { x: 0, y: y + 15 }, r.name + ": " + big(r[key]) + " (" + (100 * r[key] / total).toFixed(1) + "%)"));
        node.appendChild(svg("rect", { "class": "bar " + cls, x: 0, y: y + 21, width: w.toFixed(1), height: 16, rx: 3 }));
      });
      return node;
    }
    function empty() {
      var node = svg("svg", { "class": "chart", viewBox: "0 0 300 120", role: "img", "aria-label": "no series selected" });
      node.appendChild(svg("rect", { "class": "empty-box", x: 1, y: 1, width: 298, height: 118, rx: 6 }));
      var note = svg("text", { "class": "empty-note", x: 150, y: 55, "text-anchor": "middle" });
      note.appendChild(svg("tspan", { x: 150 }, "No series selected: tick"));
      note.appendChild(svg("tspan", { x: 150, dy: 22 }, "parameters or multiply-adds."));
      node.appendChild(note);
      return node;
    }

    function update() {
      var rows = d.walks[state.stem + "-" + state.size + "-" + state.classes];
      fig.dataset.setting = state.stem + "-" + state.size + "-" + state.classes;
      while (tbody.firstChild) tbody.removeChild(tbody.firstChild);
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
      while (charts.firstChild) charts.removeChild(charts.firstChild);
      if (state.params) charts.appendChild(bars(rows, "params", "b1", "parameters"));
      if (state.macs) charts.appendChild(bars(rows, "macs", "b2", "multiply-adds"));
      if (!state.params && !state.macs) charts.appendChild(empty());
    }
    update();
    fig.setAttribute("data-ready", "true");
  }

  var figs = document.querySelectorAll('figure[data-figure="resnet34-stages"]');
  for (var i = 0; i < figs.length; i++) setup(figs[i]);
})();
