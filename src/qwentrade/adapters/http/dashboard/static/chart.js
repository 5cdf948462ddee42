/* qwentrade dashboard chart: candles with EMA 9/21/55 and Bollinger bands, RSI and MACD
   panes, signal markers (score and explanation on hover), trade entries/exits, and the
   open position's entry / stop-loss / take-profit lines. Data from the ordinary API:
   /klines, /signals, /order-history/orders, /trading/current-position. */
(function () {
  "use strict";
  var LWC = window.LightweightCharts;
  var qt = window.qwentrade;
  var box = document.getElementById("chart");
  if (!LWC || !qt || !box) { return; }
  var body = document.body;
  var symbolSelect = document.getElementById("chart-symbol");
  var frameSelect = document.getElementById("chart-timeframe");
  var stateLine = document.getElementById("chart-state");
  var tip = document.getElementById("chart-tip");
  var marksList = document.getElementById("chart-marks");
  var REFRESH_MS = 10000;
  var VISIBLE_BARS = 160;
  var STEP = { "15m": 900, "4h": 14400, "1d": 86400 };
  var COLORS = {
    up: "#1a7f4b", down: "#c0392b", ema9: "#d97706", ema21: "#2563eb", ema55: "#7c3aed",
    bb: "#64748b", rsi: "#0f766e", macd: "#2563eb", signal: "#d97706"
  };

  var chart = LWC.createChart(box, {
    autoSize: true,
    layout: { background: { color: "#ffffff" }, textColor: "#1f2937", attributionLogo: false,
      panes: { separatorColor: "#cbd5e1" } },
    grid: { vertLines: { color: "#eef2f7" }, horzLines: { color: "#eef2f7" } },
    timeScale: { timeVisible: true, secondsVisible: false },
    crosshair: { mode: LWC.CrosshairMode.Normal }
  });
  var candles = chart.addSeries(LWC.CandlestickSeries, {
    upColor: COLORS.up, downColor: COLORS.down, borderVisible: false,
    wickUpColor: COLORS.up, wickDownColor: COLORS.down
  }, 0);
  function line(color, pane, extra) {
    var opts = { color: color, lineWidth: 1, priceLineVisible: false, lastValueVisible: false,
      crosshairMarkerVisible: false };
    for (var k in extra || {}) { opts[k] = extra[k]; }
    return chart.addSeries(LWC.LineSeries, opts, pane);
  }
  var overlays = {
    ema_9: line(COLORS.ema9, 0), ema_21: line(COLORS.ema21, 0), ema_55: line(COLORS.ema55, 0),
    bb_upper: line(COLORS.bb, 0, { lineStyle: LWC.LineStyle.Dashed }),
    bb_middle: line(COLORS.bb, 0, { lineStyle: LWC.LineStyle.Dotted }),
    bb_lower: line(COLORS.bb, 0, { lineStyle: LWC.LineStyle.Dashed })
  };
  var rsi = line(COLORS.rsi, 1, { lastValueVisible: true });
  rsi.createPriceLine({ price: 70, color: "#94a3b8", lineWidth: 1, lineStyle: LWC.LineStyle.Dotted, axisLabelVisible: false });
  rsi.createPriceLine({ price: 30, color: "#94a3b8", lineWidth: 1, lineStyle: LWC.LineStyle.Dotted, axisLabelVisible: false });
  var histogram = chart.addSeries(LWC.HistogramSeries, { priceLineVisible: false, lastValueVisible: false }, 2);
  var macd = line(COLORS.macd, 2);
  var macdSignal = line(COLORS.signal, 2);
  var markers = LWC.createSeriesMarkers(candles, []);
  var panes = chart.panes();
  if (panes.length === 3) { panes[0].setStretchFactor(3); panes[1].setStretchFactor(1); panes[2].setStretchFactor(1); }

  var priceLines = [];
  var bars = [];
  var signalsAt = {};
  var loading = false;
  var lastKey = "";

  function seconds(iso) { return Math.floor(Date.parse(iso) / 1000); }
  function num(v) { return v === null || v === undefined ? null : Number(v); }
  function barTime(t) {
    /* The open time of the bar holding instant t (bars are sorted; binary search). */
    var lo = 0, hi = bars.length - 1, found = null;
    while (lo <= hi) {
      var mid = (lo + hi) >> 1;
      if (bars[mid] <= t) { found = bars[mid]; lo = mid + 1; } else { hi = mid - 1; }
    }
    return found;
  }
  function explain(d) {
    var out = [];
    var env = d && d.environment, trig = d && d.trigger, conf = d && d.confirmation;
    if (env) { out.push("environment: mode " + env.mode + ", active " + env.active + ", trend 15m " + env.trend_15m + ", 4h " + env.trend_4h); }
    if (trig) { out.push("trigger: MACD " + (trig.macd_move || "no move") + " +" + trig.macd_points + ", RSI " + Number(trig.rsi).toFixed(1) + " +" + trig.rsi_points); }
    if (conf) { out.push("confirmation: volume +" + conf.volume_points + ", Bollinger +" + conf.bollinger_points + ", 4h +" + conf.multi_timeframe_points); }
    if (!out.length && d && d.reason) { out.push(String(d.reason)); }
    return out;
  }
  function setState(text) { if (stateLine) { stateLine.textContent = text; } }
  function get(path) { return qt.api("GET", path); }

  function load() {
    if (loading) { return; }
    if (!qt.canRead()) { setState("Enter the API key above to draw the chart."); return; }
    var symbol = symbolSelect ? symbolSelect.value : "";
    var frame = frameSelect ? frameSelect.value : "15m";
    if (!symbol) { setState("No symbol configured."); return; }
    loading = true;
    var sym = encodeURIComponent(symbol);
    var wanted = [
      get("/klines/" + sym + "/" + frame + "?limit=300"),
      get("/signals?active=false&limit=200&symbol=" + sym),
      body.dataset.history === "1" ? get("/order-history/orders?limit=200&symbol=" + sym) : Promise.resolve([]),
      body.dataset.trading === "1" ? get("/trading/current-position?symbol=" + sym) : Promise.resolve([])
    ];
    Promise.all(wanted).then(function (r) {
      draw(symbol, frame, r[0], r[1], r[2] || [], r[3] || []);
    }).catch(function (e) {
      setState("Chart data not loaded: " + e.message);
    }).then(function () { loading = false; });
  }

  function draw(symbol, frame, klines, signals, orders, held) {
    var rows = klines.candles || [];
    bars = rows.map(function (c) { return seconds(c.time); });
    candles.setData(rows.map(function (c) {
      return { time: seconds(c.time), open: num(c.open), high: num(c.high), low: num(c.low), close: num(c.close) };
    }));
    Object.keys(overlays).forEach(function (name) {
      overlays[name].setData(rows.map(function (c) {
        var v = num(c[name]);
        return v === null || isNaN(v) ? { time: seconds(c.time) } : { time: seconds(c.time), value: v };
      }));
    });
    function pane(series, name) {
      series.setData(rows.map(function (c) {
        var v = num(c[name]);
        return v === null || isNaN(v) ? { time: seconds(c.time) } : { time: seconds(c.time), value: v };
      }));
    }
    pane(rsi, "rsi_7"); pane(macd, "macd_line"); pane(macdSignal, "signal_line");
    histogram.setData(rows.map(function (c) {
      var v = num(c.histogram);
      return v === null || isNaN(v) ? { time: seconds(c.time) }
        : { time: seconds(c.time), value: v, color: v >= 0 ? "#86c5a4" : "#e5a29b" };
    }));

    var marks = [];
    var items = [];
    signalsAt = {};
    signals.forEach(function (s) {
      var t = barTime(seconds(s.time));
      if (t === null) { return; }
      var long = s.signal_type === "LONG";
      (signalsAt[t] = signalsAt[t] || []).push(s);
      marks.push({ time: t, position: long ? "belowBar" : "aboveBar", color: long ? COLORS.up : COLORS.down,
        shape: long ? "arrowUp" : "arrowDown", text: Number(s.score).toFixed(0), id: "signal-" + s.id });
      items.push({ t: t, text: s.signal_type + " signal #" + s.id + " at " + s.time + ", score " + s.score + ", price " + s.price + " (" + s.status + ")", cls: "signal", id: s.id });
    });
    orders.forEach(function (o) {
      if (o.status !== "filled" && o.status !== "partially_filled") { return; }
      var t = barTime(seconds(o.updated_at || o.created_at));
      if (t === null) { return; }
      var exit = o.reduce_only;
      var buy = o.side === "buy";
      marks.push({ time: t, position: buy ? "belowBar" : "aboveBar", color: exit ? "#475569" : "#0f766e",
        shape: "circle", text: exit ? "exit" : "entry" });
      items.push({ t: t, text: (exit ? "Exit" : "Entry") + " " + o.side + " " + o.filled_amount + " at " + (o.avg_price || o.price) + " (" + o.created_at + ")", cls: "trade" });
    });
    marks.sort(function (a, b) { return a.time - b.time; });
    markers.setMarkers(marks);

    priceLines.forEach(function (l) { candles.removePriceLine(l); });
    priceLines = [];
    held.forEach(function (p) {
      if (p.avg_price) {
        priceLines.push(candles.createPriceLine({ price: Number(p.avg_price), color: "#0f766e", lineWidth: 1, lineStyle: LWC.LineStyle.Solid, title: "entry " + p.side }));
      }
      (p.plans || []).forEach(function (a) {
        if (a.stop_loss_trigger) { priceLines.push(candles.createPriceLine({ price: Number(a.stop_loss_trigger), color: COLORS.down, lineWidth: 2, lineStyle: LWC.LineStyle.Dashed, title: "SL" })); }
        if (a.take_profit_trigger) { priceLines.push(candles.createPriceLine({ price: Number(a.take_profit_trigger), color: COLORS.up, lineWidth: 2, lineStyle: LWC.LineStyle.Dashed, title: "TP" })); }
      });
    });

    if (marksList) {
      marksList.innerHTML = "";
      items.sort(function (a, b) { return b.t - a.t; }).slice(0, 50).forEach(function (it) {
        var li = document.createElement("li");
        li.className = it.cls;
        if (it.id !== undefined) { li.dataset.signalId = String(it.id); }
        li.textContent = it.text;
        marksList.appendChild(li);
      });
      if (!items.length) {
        var none = document.createElement("li");
        none.className = "muted";
        none.textContent = "No signal or trade in this window.";
        marksList.appendChild(none);
      }
    }
    var key = symbol + frame;
    if (key !== lastKey) {  /* a new series: show its newest bars (scroll or zoom for more) */
      if (rows.length > VISIBLE_BARS) {
        chart.timeScale().setVisibleLogicalRange({ from: rows.length - VISIBLE_BARS, to: rows.length + 2 });
      } else { chart.timeScale().fitContent(); }
      lastKey = key;
    }
    box.dataset.bars = String(rows.length);
    box.dataset.markers = String(marks.length);
    box.dataset.priceLines = String(priceLines.length);
    setState(rows.length + " " + frame + " candles of " + symbol + ", " + marks.length + " markers");
  }

  chart.subscribeCrosshairMove(function (param) {
    if (!tip) { return; }
    var found = param && param.time !== undefined ? signalsAt[param.time] : null;
    if (!found || !param.point) { tip.hidden = true; return; }
    tip.innerHTML = "";
    found.forEach(function (s) {
      var h = document.createElement("strong");
      h.textContent = s.signal_type + " signal, score " + s.score + " at " + s.price;
      tip.appendChild(h);
      explain(s.details).forEach(function (text) {
        var p = document.createElement("div");
        p.textContent = text;
        tip.appendChild(p);
      });
    });
    tip.hidden = false;
    var x = Math.min(param.point.x + 16, box.clientWidth - 320);
    tip.style.left = Math.max(0, x) + "px";
    tip.style.top = Math.max(0, param.point.y - 10) + "px";
  });

  /* For scripted checks: where a bar is drawn (x in CSS pixels), or null. */
  window.qwentradeChart = {
    xOf: function (t) { return chart.timeScale().timeToCoordinate(t); },
    barTime: function (iso) { return barTime(seconds(iso)); },
    reload: load
  };

  if (symbolSelect) { symbolSelect.addEventListener("change", function () { lastKey = ""; load(); }); }
  if (frameSelect) { frameSelect.addEventListener("change", function () { lastKey = ""; load(); }); }
  document.addEventListener("qt-key", load);
  body.addEventListener("qt-refresh", load);
  load();
  window.setInterval(function () { if (!document.hidden) { load(); } }, REFRESH_MS);
})();
