// gpudoctor's report page and watch's live page (docs/report.md). The data is
// the report document (gd/report/render.hpp): embedded in #gd-data, or fetched
// from /api/report on the live page and refreshed. Charts are uPlot's.
(function () {
  "use strict";
  var app = document.getElementById("gd-app");
  var live = document.body.getAttribute("data-live") === "1";
  var charts = [];
  var state = { rendered: 0, charts: 0, points: 0, events: 0, error: null };
  window.gdReport = state;
  // For tests: the first chart's x range, and a refresh now (the live page's timer does it every 10 s).
  window.gdScale = function () { return charts.length ? { min: charts[0].scales.x.min, max: charts[0].scales.x.max } : null; };
  window.gdRefresh = function () { clearTimeout(timer); refresh(); };
  // For tests and benchmarks: zooms every chart to [min, max] (unix s) as a drag-select does; resolves to the ms
  // until they are redrawn (uPlot redraws in a microtask: done when a zero timeout fires).
  window.gdZoom = function (min, max) {
    var t = performance.now();
    charts.forEach(function (c) { c.setScale("x", { min: min, max: max }); });
    return new Promise(function (done) { setTimeout(function () { done(performance.now() - t); }, 0); });
  };

  var EVENT_COLORS = {
    gpu_lost: "#d62728", gpu_back: "#2ca02c", xid: "#ff7f0e", fallen_off_bus: "#d62728",
    nvml_hung: "#9467bd", nvml_answering: "#2ca02c", nvml_failed: "#9467bd",
    finding_raised: "#e377c2", finding_cleared: "#7f7f7f", inventory_changed: "#8c564b",
    persistence_changed: "#17becf", driver_changed: "#bcbd22", fix_applied: "#1f77b4",
    nvidia_smi_empty: "#9467bd", nvidia_smi_no_devices: "#d62728", nvidia_smi_failed: "#9467bd"
  };
  var GPU_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf",
                    "#bcbd22", "#7f7f7f"];
  var REASONS = [[0x4, "SW power cap"], [0x8, "HW slowdown"], [0x20, "SW thermal"], [0x40, "HW thermal"],
                 [0x80, "HW power brake"]];

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    if (attrs) for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  // The series as numbers in display units (the chart encoding is delta-encoded in display steps).
  function decode(doc) {
    var scale = {}, chart = doc.encoding === "chart";
    doc.metrics.forEach(function (m) { scale[m.column] = m.scale; });
    doc.gpus.forEach(function (g) {
      if (chart) {
        for (var i = 1; i < g.ts.length; i++) g.ts[i] += g.ts[i - 1];
      }
      var out = {};
      Object.keys(g.series).forEach(function (col) {
        var a = g.series[col], last = null, s = scale[col], v = new Array(a.length);
        for (var i = 0; i < a.length; i++) {
          if (a[i] === null) { v[i] = null; continue; }
          var y = chart && last !== null ? last + a[i] : a[i];
          last = y;
          v[i] = y * s;
        }
        out[col] = v;
      });
      g.values = out;
    });
  }

  // One x axis for every GPU: the union of their times; a GPU without a row at a time is null there.
  function align(doc) {
    // The window's ends too: the axis spans the whole window, so events after the last sample (the loss) show.
    // (It starts at the window's start, or a minute before the history's first sample or event in it.)
    var set = {}, first = doc.window.until_s - 1;
    doc.gpus.forEach(function (g) { g.ts.forEach(function (t) { set[t] = 1; }); if (g.ts.length) first = Math.min(first, g.ts[0]); });
    doc.events.forEach(function (e) { first = Math.min(first, Math.floor(e.ts_ms / 1000)); });
    set[Math.max(doc.window.since_s, first - 60)] = 1;
    set[doc.window.until_s - 1] = 1;
    var xs = Object.keys(set).map(Number).sort(function (a, b) { return a - b; });
    var index = {};
    xs.forEach(function (t, i) { index[t] = i; });
    doc.gpus.forEach(function (g) { g.pos = g.ts.map(function (t) { return index[t]; }); });
    return xs;
  }

  function column(doc, xs, g, col, f) {
    var v = new Array(xs.length).fill(null), src = g.values[col];
    if (!src) return v;
    for (var i = 0; i < g.pos.length; i++) {
      var y = src[i];
      v[g.pos[i]] = y === null ? null : (f ? f(y, i) : y);
    }
    return v;
  }

  function count(arrays) {
    var n = 0;
    arrays.forEach(function (a) { a.forEach(function (y) { if (y !== null && y !== undefined) n++; }); });
    return n;
  }

  // Vertical marks for the events (and the anchor) on a chart's time axis.
  function markers(doc) {
    var marks = doc.events.map(function (e) { return { t: e.ts_ms / 1000, color: EVENT_COLORS[e.type] || "#555" }; });
    doc.fixes.forEach(function (f) { marks.push({ t: f.ts_s, color: EVENT_COLORS.fix_applied }); });
    return function (u) {
      var ctx = u.ctx, top = u.bbox.top, h = u.bbox.height;
      ctx.save();
      ctx.lineWidth = 1;
      marks.forEach(function (m) {
        var x = u.valToPos(m.t, "x", true);
        if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) return;
        ctx.strokeStyle = m.color;
        ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x, top + h); ctx.stroke();
      });
      var ax = u.valToPos(doc.anchor.ts_ms / 1000, "x", true);
      ctx.strokeStyle = "#000"; ctx.setLineDash([4, 4]);
      ctx.beginPath(); ctx.moveTo(ax, top); ctx.lineTo(ax, top + h); ctx.stroke();
      ctx.restore();
    };
  }

  var sync = window.uPlot ? uPlot.sync("gd") : null;

  function chart(box, title, unit, xs, series, data, draw, opts) {
    if (!series.length) {  // nothing of it in this window (a dump that prints no clocks, a GPU with no fan)
      box.appendChild(el("p", { "class": "gd-note gd-nochart" }, title.replace(/ \(.*\)$/, "") + ": not in the samples of this window."));
      return null;
    }
    var wrap = el("div", { "class": "gd-chart" });
    box.appendChild(wrap);
    var width = Math.max(320, Math.min(box.clientWidth || 900, 1400) - 8);
    var o = {
      title: title, width: width, height: 200,
      cursor: { sync: { key: sync.key } },
      scales: { x: { time: true } },
      axes: [{}, { label: unit, size: 60 }],
      series: [{}].concat(series),
      hooks: { draw: [draw] },
      legend: { live: true }
    };
    if (opts) for (var k in opts) o[k] = opts[k];
    var u = new uPlot(o, [xs].concat(data), wrap);
    charts.push(u);
    state.charts++;
    state.points += count(data);
    return u;
  }

  function gpuName(g) { return g.bus_id + (g.model ? " " + g.model : ""); }

  function renderCharts(doc, box) {
    box.textContent = "";
    charts.forEach(function (c) { c.destroy(); });
    charts = [];
    state.charts = 0;
    state.points = 0;
    if (!window.uPlot) {
      box.appendChild(el("p", { "class": "gd-note" }, "Charts unavailable: uPlot was not installed when gpudoctor " +
        "was built (scripts/setup installs it with npm). The verdict and the events below are complete."));
      return;
    }
    if (!doc.gpus.length) {
      box.appendChild(el("p", { "class": "gd-note" }, "No GPU samples in this window."));
      return;
    }
    var xs = align(doc), draw = markers(doc);
    function perGpu(col, f, label) {
      var series = [], data = [];
      doc.gpus.forEach(function (g, i) {
        if (!g.values[col] || g.values[col].every(function (y) { return y === null; })) return;
        series.push({ label: (label || "") + gpuName(g), stroke: GPU_COLORS[i % GPU_COLORS.length], width: 1.5,
                      spanGaps: false });
        data.push(column(doc, xs, g, col, f));
      });
      return { series: series, data: data };
    }
    function flat(value, label, color) {
      return { s: { label: label, stroke: color, dash: [6, 4], width: 1, points: { show: false } },
               d: xs.map(function () { return value; }) };
    }
    // Temperature, with each distinct slowdown/shutdown threshold drawn.
    var t = perGpu("temp_celsius");
    var limits = {};
    doc.gpus.forEach(function (g) {
      if (g.slowdown_celsius !== null) limits["slowdown " + g.slowdown_celsius + " °C"] = [g.slowdown_celsius, "#e6a800"];
      if (g.shutdown_celsius !== null) limits["shutdown " + g.shutdown_celsius + " °C"] = [g.shutdown_celsius, "#d62728"];
    });
    Object.keys(limits).forEach(function (k) {
      var f = flat(limits[k][0], k, limits[k][1]);
      t.series.push(f.s); t.data.push(f.d);
    });
    chart(box, "Temperature", "°C", xs, t.series, t.data, draw);
    var p = perGpu("power_milliwatts");
    var lim = perGpu("power_limit_milliwatts", null, "limit ");
    lim.series.forEach(function (s) { s.dash = [6, 4]; s.width = 1; });
    chart(box, "Power (dashed: limit)", "W", xs, p.series.concat(lim.series), p.data.concat(lim.data), draw);
    var ug = perGpu("util_gpu_percent", null, "GPU "), um = perGpu("util_mem_percent", null, "mem ");
    um.series.forEach(function (s) { s.dash = [3, 3]; });
    chart(box, "Utilisation (dashed: memory)", "%", xs, ug.series.concat(um.series), ug.data.concat(um.data), draw,
          { scales: { x: { time: true }, y: { range: [0, 100] } } });
    var gib = function (y) { return y / 1024; };
    var mu = perGpu("mem_used_bytes", gib), mt = perGpu("mem_total_bytes", gib, "total ");
    mt.series.forEach(function (s) { s.dash = [6, 4]; s.width = 1; });
    chart(box, "Memory used (dashed: total)", "GiB", xs, mu.series.concat(mt.series), mu.data.concat(mt.data), draw);
    var cs = perGpu("clock_sm_mhz", null, "SM "), cm = perGpu("clock_mem_mhz", null, "mem ");
    cm.series.forEach(function (s) { s.dash = [3, 3]; });
    chart(box, "Clocks (dashed: memory)", "MHz", xs, cs.series.concat(cm.series), cs.data.concat(cm.data), draw);
    var fan = perGpu("fan_percent");
    chart(box, "Fan", "%", xs, fan.series, fan.data, draw, { scales: { x: { time: true }, y: { range: [0, 100] } } });
    // Clock-event reasons: one lane per GPU, a point in the reason's colour where its bit is set.
    var rs = [], rd = [], colors = ["#1f77b4", "#bcbd22", "#ff7f0e", "#d62728", "#9467bd"];
    doc.gpus.forEach(function (g, gi) {
      var src = g.values.clock_event_reasons;
      if (!src) return;
      REASONS.forEach(function (r, ri) {
        var any = false;
        var v = column(doc, xs, g, "clock_event_reasons", function (y) {
          if ((y & r[0]) === 0) return null;
          any = true;
          return gi + 0.15 * ri;
        });
        if (!any) return;
        rs.push({ label: r[1] + " " + g.bus_id, stroke: colors[ri], width: 0, paths: function () { return null; },
                  points: { show: true, size: 4, fill: colors[ri] } });
        rd.push(v);
      });
    });
    if (rs.length)
      chart(box, "Clock-event reasons (one lane per GPU)", "GPU", xs, rs, rd, draw,
            { scales: { x: { time: true }, y: { range: [-0.5, doc.gpus.length] } } });
    else
      box.appendChild(el("p", { "class": "gd-note" }, "No power or thermal clock-event reason set in this window."));
  }

  function renderVerdict(doc, box) {
    box.textContent = "";
    box.appendChild(el("h2", null, "Verdict"));
    box.appendChild(el("p", { "class": "gd-summary" }, doc.verdict.summary));
    var table = el("table", { "class": "gd-verdict" });
    var head = el("tr");
    ["Suspect", "Status", "Evidence"].forEach(function (h) { head.appendChild(el("th", null, h)); });
    table.appendChild(head);
    doc.verdict.suspects.forEach(function (s) {
      var tr = el("tr", { "data-suspect": s.name, "data-status": s.status });
      tr.appendChild(el("td", null, s.title));
      tr.appendChild(el("td", { "class": "gd-status gd-" + s.status }, s.status.replace("_", " ")));
      var ul = el("ul");
      s.evidence.forEach(function (e) { ul.appendChild(el("li", null, e)); });
      var td = el("td");
      td.appendChild(ul);
      tr.appendChild(td);
      table.appendChild(tr);
    });
    box.appendChild(table);
  }

  function describe(detail) {
    var parts = [];
    Object.keys(detail).forEach(function (k) {
      var v = detail[k];
      if (k === "evidence" && Array.isArray(v)) v = v.join("; ");
      else if (typeof v === "object" && v !== null) v = JSON.stringify(v);
      parts.push(k + ": " + v);
    });
    return parts.join(", ");
  }

  function renderEvents(doc, box) {
    box.textContent = "";
    box.appendChild(el("h2", null, "Events (" + doc.events.length + ")" + (doc.fixes.length ? " and repairs (" +
                                                                          doc.fixes.length + ")" : "")));
    var table = el("table", { "class": "gd-events" });
    var head = el("tr");
    ["Time (UTC)", "Event", "GPU", "Detail"].forEach(function (h) { head.appendChild(el("th", null, h)); });
    table.appendChild(head);
    var rows = doc.events.map(function (e) { return { t: e.ts_ms / 1000, time: e.time, type: e.type, gpu: e.gpu,
                                                      text: describe(e.detail), anchor: doc.anchor.event &&
                                                      doc.anchor.event.id === e.id }; });
    doc.fixes.forEach(function (f) {
      rows.push({ t: f.ts_s, time: f.time, type: "fix_applied", gpu: "", text: f.finding + ": " + f.action + " — " +
                  f.detail });
    });
    rows.sort(function (a, b) { return a.t - b.t; });
    rows.forEach(function (r) {
      var tr = el("tr", { "class": "gd-event" + (r.anchor ? " gd-anchor" : ""), "data-type": r.type });
      tr.appendChild(el("td", null, r.time));
      var ty = el("td", null, r.type);
      ty.style.borderLeft = "4px solid " + (EVENT_COLORS[r.type] || "#555");
      tr.appendChild(ty);
      tr.appendChild(el("td", null, r.gpu));
      tr.appendChild(el("td", null, r.text));
      table.appendChild(tr);
    });
    box.appendChild(table);
    state.events = rows.length;
  }

  // The x range the reader zoomed or panned to, kept across the live page's refreshes (null: the whole window).
  var zoomed = null, forget = false;
  function rememberZoom() {
    if (forget || !charts.length) {  // another window asked for: start from its whole range
      zoomed = null;
      forget = false;
      return;
    }
    var u = charts[0], x = u.scales.x, d = u.data[0];
    var whole = d.length && x.min <= d[0] && x.max >= d[d.length - 1];
    zoomed = whole ? null : { min: x.min, max: x.max };
  }

  function render(doc) {
    decode(doc);
    if (live) rememberZoom();
    app.textContent = "";
    var head = el("header");
    head.appendChild(el("h1", null, (live ? "gpudoctor watch" : "gpudoctor report") + (doc.host ? " — " + doc.host : "")));
    var anchor = doc.anchor.event ? doc.anchor.event.type + (doc.anchor.event.gpu ? " on " + doc.anchor.event.gpu : "") +
      " at " + doc.anchor.time : doc.anchor.kind.replace(/_/g, " ") + ": " + doc.anchor.time;
    head.appendChild(el("p", { "class": "gd-window" }, "Window " + doc.window.since + " – " + doc.window.until +
      " (" + doc.window.resolution + " samples) around " + anchor + ". History: " + doc.db + ". Generated " +
      doc.generated + "."));
    if (live) windowLinks(head);
    doc.notes.forEach(function (n) { head.appendChild(el("p", { "class": "gd-note" }, n)); });
    app.appendChild(head);
    var verdict = el("section", { id: "gd-verdict" }), plots = el("section", { id: "gd-charts" }),
        events = el("section", { id: "gd-events" });
    app.appendChild(verdict);
    app.appendChild(plots);
    app.appendChild(events);
    if (live) {
      var findings = el("section", { id: "gd-findings" });
      app.insertBefore(findings, verdict);
      renderFindings(findings);
    }
    renderVerdict(doc, verdict);
    renderCharts(doc, plots);
    if (live && zoomed) charts.forEach(function (c) { c.setScale("x", zoomed); });
    renderEvents(doc, events);
    state.rendered++;
    state.renderedAt = performance.now();
    document.body.setAttribute("data-rendered", String(state.rendered));
  }

  var lastFindings = null;
  function renderFindings(box) {
    box.appendChild(el("h2", null, "Current findings"));
    if (!lastFindings) { box.appendChild(el("p", { "class": "gd-note" }, "loading…")); return; }
    if (!lastFindings.findings.length) { box.appendChild(el("p", null, "No warning or critical finding.")); return; }
    var ul = el("ul", { "class": "gd-findings" });
    lastFindings.findings.forEach(function (f) {
      var li = el("li", { "class": "gd-" + f.severity });
      li.textContent = f.severity + " " + f.id + (f.gpu ? " (" + f.gpu + ")" : "") + ": " + f.summary;
      ul.appendChild(li);
    });
    box.appendChild(ul);
  }

  function fail(message) {
    state.error = message;
    app.textContent = "";
    app.appendChild(el("p", { "class": "gd-error" }, message));
    if (live) {  // no history to show (none written yet, or unreadable): the current findings still are
      var findings = el("section", { id: "gd-findings" });
      app.appendChild(findings);
      renderFindings(findings);
    }
  }

  // The live page's window: #2h (default), #24h or #7d.
  var WINDOWS = ["2h", "24h", "7d"];
  function liveWindow() {
    var w = location.hash.replace("#", "");
    return WINDOWS.indexOf(w) >= 0 ? w : "2h";
  }
  var timer = null;
  window.addEventListener("hashchange", function () { clearTimeout(timer); forget = true; refresh(); });

  function windowLinks(box) {
    var p = el("p", { "class": "gd-windows" }, "Window: ");
    WINDOWS.forEach(function (w) {
      var a = el("a", { href: "#" + w }, w);
      if (w === liveWindow()) a.setAttribute("class", "gd-current");
      p.appendChild(a);
      p.appendChild(document.createTextNode(" "));
    });
    p.appendChild(document.createTextNode(" · refreshes every " + (liveWindow() === "2h" ? "10 s" : "60 s") +
                                          " · JSON: /api/report/" + liveWindow() + ", /api/findings, /metrics"));
    box.appendChild(p);
  }

  function refresh() {
    Promise.all([fetch("/api/report/" + liveWindow()).then(function (r) {
      if (!r.ok) return r.text().then(function (t) { throw new Error("/api/report: " + r.status + " " + t); });
      return r.json();
    }).catch(function (e) { return { error: String(e.message || e) }; }),
                 fetch("/api/findings").then(function (r) { return r.ok ? r.json() : null; })]).then(function (res) {
      lastFindings = res[1];
      if (res[0].error) fail(res[0].error); else render(res[0]);
    }).catch(function (e) { fail(String(e.message || e)); }).then(function () {
      timer = setTimeout(refresh, liveWindow() === "2h" ? 10000 : 60000);
    });
  }

  if (live) {
    refresh();
  } else {
    var data = document.getElementById("gd-data");
    try {
      render(JSON.parse(data.textContent));
    } catch (e) {
      fail("This report's data could not be read: " + e.message);
      throw e;
    }
  }
})();
