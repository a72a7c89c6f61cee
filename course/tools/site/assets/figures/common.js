/* What every interactive figure of the course site shares: window.CourseFigures.
 *
 * DOM builders (el, svg, clear), number formatting, the controls (a slider with its number box,
 * radio groups, selects, the "Show" checkboxes), the note shown when every series is unticked,
 * and start(), which runs a figure's setup on each of its <figure data-figure="name"> elements.
 * The site loads this script before the figure scripts on every page that has a figure
 * (course/tools/site/figures.py, scripts). Plain script: no modules, no network (works from file://).
 */
(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";

  function attrs(node, values, text) {
    for (var k in values) { if (Object.prototype.hasOwnProperty.call(values, k)) node.setAttribute(k, values[k]); }
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function el(tag, values, text) { return attrs(document.createElement(tag), values, text); }
  function svg(tag, values, text) { return attrs(document.createElementNS(NS, tag), values, text); }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

  // 1234567 -> "1,234,567"
  function fmt(n) { return String(Math.round(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ","); }
  // three significant digits, no trailing zeros
  function sig3(x) { return Number(x.toPrecision(3)).toString(); }

  // A slider and a number box bound together. spec: key, label, min, max, step, value, and
  // optionally odd (only odd integers). onChange(key, value) on every accepted value.
  function numberControl(fig, spec, onChange) {
    var id = fig.id + "-" + spec.key;
    var box = el("div", { "class": "control" });
    box.appendChild(el("label", { "for": id }, spec.label));
    var range = el("input", { type: "range", min: spec.min, max: spec.max, step: spec.step, value: spec.value, "aria-label": spec.label });
    var num = el("input", { type: "number", id: id, min: spec.min, max: spec.max, step: spec.step, value: spec.value, "data-control": spec.key });
    var grain = spec.odd ? 1 : spec.step;
    function set(v, from) {
      v = Number(v);
      if (!isFinite(v)) return;
      v = Math.max(spec.min, Math.min(spec.max, Math.round(v / grain) * grain));
      v = Number(v.toFixed(3));
      if (spec.odd && v % 2 === 0) v += (v < spec.max ? 1 : -1);
      if (from !== range) range.value = v;
      if (from !== num) num.value = v;
      onChange(spec.key, v);
    }
    range.addEventListener("input", function () { set(range.value, range); });
    num.addEventListener("input", function () { if (num.value !== "") set(num.value, num); });
    num.addEventListener("change", function () { set(num.value, null); });
    box.appendChild(range);
    box.appendChild(num);
    return box;
  }

  // A radio group. spec: key, title (shown), aria (its name, default the title), values,
  // checked, label(value) -> text. onPick(value) when one is chosen.
  function radios(fig, spec, onPick) {
    var box = el("div", { "class": "choice", role: "radiogroup", "aria-label": spec.aria || spec.title });
    box.appendChild(el("span", { "class": "choice-title" }, spec.title));
    spec.values.forEach(function (value) {
      var lab = el("label");
      var r = el("input", { type: "radio", name: fig.id + "-" + spec.key, value: String(value), "data-control": spec.key });
      if (value === spec.checked) r.checked = true;
      r.addEventListener("change", function () { if (r.checked) onPick(value); });
      lab.appendChild(r);
      lab.appendChild(document.createTextNode(spec.label ? spec.label(value) : String(value)));
      box.appendChild(lab);
    });
    return box;
  }

  // A labelled <select>. spec: key, label, options [[value, text]], selected. onPick(value string).
  function select(fig, spec, onPick) {
    var lab = el("label", { "for": fig.id + "-" + spec.key }, spec.label);
    var sel = el("select", { id: fig.id + "-" + spec.key, "data-control": spec.key });
    spec.options.forEach(function (o) {
      var option = el("option", { value: String(o[0]) }, String(o[1]));
      if (spec.selected !== undefined && o[0] === spec.selected) option.selected = true;
      sel.appendChild(option);
    });
    sel.addEventListener("change", function () { onPick(sel.value); });
    lab.appendChild(sel);
    return lab;
  }

  // The checkboxes that show or hide series, each with its colour swatch, all ticked at first.
  // items: [[key, text, swatch class]]. onToggle(key, ticked).
  function toggles(title, items, onToggle) {
    var box = el("div", { "class": "choice" });
    box.appendChild(el("span", { "class": "choice-title" }, title));
    items.forEach(function (item) {
      var lab = el("label");
      var c = el("input", { type: "checkbox", checked: "", "data-control": item[0] });
      c.addEventListener("change", function () { onToggle(item[0], c.checked); });
      lab.appendChild(c);
      lab.appendChild(el("span", { "class": "swatch " + item[2] }));
      lab.appendChild(document.createTextNode(item[1]));
      box.appendChild(lab);
    });
    return box;
  }

  // Every series unticked: say so (two lines of SVG text in a dashed box) instead of leaving an
  // empty chart. Draws into the chart's <svg> node, or into a new one named aria when node is null.
  function emptyNote(node, lines, aria) {
    if (!node) node = svg("svg", { "class": "chart", viewBox: "0 0 300 120", role: "img", "aria-label": aria });
    clear(node);
    node.setAttribute("viewBox", "0 0 300 120");
    if (aria) node.setAttribute("aria-label", aria);
    node.appendChild(svg("rect", { "class": "empty-box", x: 1, y: 1, width: 298, height: 118, rx: 6 }));
    var note = svg("text", { "class": "empty-note", x: 150, y: 55, "text-anchor": "middle" });
    note.appendChild(svg("tspan", { x: 150 }, lines[0]));
    note.appendChild(svg("tspan", { x: 150, dy: 22 }, lines[1]));
    node.appendChild(note);
    return node;
  }

  // Horizontal bars with the label above each bar (on a phone the text is large next to the
  // bars, never on them). rows: [[label, value, bar class]]; opts: top, pitch, width, height,
  // labelDy, barDy, valueDy (draw the value after the bar when given), max.
  function hbars(node, rows, opts) {
    var max = opts.max || Math.max.apply(null, rows.map(function (r) { return r[1]; }).concat([1]));
    rows.forEach(function (r, i) {
      var y = opts.top + i * opts.pitch;
      var w = Math.max(1, opts.width * r[1] / max);
      node.appendChild(svg("text", { x: 0, y: y + opts.labelDy }, r[0]));
      node.appendChild(svg("rect", { "class": "bar " + r[2], x: 0, y: y + opts.barDy, width: w.toFixed(1), height: opts.height, rx: 3 }));
      if (opts.valueDy !== undefined) node.appendChild(svg("text", { "class": "value", x: (6 + w).toFixed(1), y: y + opts.valueDy }, fmt(r[1])));
    });
    return node;
  }

  // A readout table: its header row (HTML of the <th> cells) and an empty body to fill.
  function readout(head) {
    var table = el("table", { "class": "readout" });
    table.innerHTML = "<thead><tr>" + head + "</tr></thead>";
    var tbody = el("tbody");
    table.appendChild(tbody);
    return { table: table, tbody: tbody };
  }

  // Empty number cells <td data-out="key"> appended to the row tr, for update() to fill: {key: td}.
  function numCells(tr, keys) {
    var cells = {};
    keys.forEach(function (key) {
      cells[key] = el("td", { "class": "num", "data-out": key });
      tr.appendChild(cells[key]);
    });
    return cells;
  }

  // Left: the controls; right: what they change.
  function panes(fig, aria) {
    var grid = el("div", { "class": "fig-grid" });
    var controls = el("div", { "class": "controls", role: "group", "aria-label": aria });
    var out = el("div", { "class": "fig-output" });
    grid.appendChild(controls);
    grid.appendChild(out);
    fig.querySelector(".figure-body").appendChild(grid);
    return { controls: controls, out: out };
  }

  // The figure's data, written by the build as JSON into the page.
  function data(fig) { return JSON.parse(fig.querySelector("script.figure-data").textContent); }

  // Run setup(fig) on every figure of this name, then mark each ready (the tests wait for it).
  function start(name, setup) {
    var figs = document.querySelectorAll('figure[data-figure="' + name + '"]');
    for (var i = 0; i < figs.length; i++) {
      setup(figs[i]);
      figs[i].setAttribute("data-ready", "true");
    }
  }

  window.CourseFigures = {
    el: el, svg: svg, clear: clear, fmt: fmt, sig3: sig3, numberControl: numberControl,
    radios: radios, select: select, toggles: toggles, emptyNote: emptyNote, hbars: hbars, readout: readout,
    numCells: numCells,
    panes: panes, data: data, start: start
  };
})();
