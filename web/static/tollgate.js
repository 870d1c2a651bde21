// Tollgate dashboard: small enhancements over server-rendered pages that work
// without it. Charts (uPlot) read their data from <script type="application/json">
// blocks; "Copy" buttons copy a field; data-confirm asks before a form is sent.
(function () {
  "use strict";

  var charts = [];

  function usd(v, max) {
    var digits = max < 0.1 ? 5 : max < 10 ? 3 : 2;
    return "$" + v.toFixed(digits);
  }

  function drawCharts(root) {
    (root || document).querySelectorAll("[data-chart]").forEach(function (el) {
      if (el.dataset.drawn || typeof uPlot === "undefined") return;
      var src = document.getElementById(el.dataset.chart);
      if (!src) return;
      var d = JSON.parse(src.textContent);
      if (!d.x || d.x.length === 0) return;
      el.dataset.drawn = "1";
      var colors = { Spend: "#0b6bcb", Calls: "#6b7a90", "402s": "#d9822b" };
      var maxUSD = 0;
      d.series.forEach(function (s) {
        if (s.unit === "usd") s.values.forEach(function (v) { maxUSD = Math.max(maxUSD, v); });
      });
      var series = [{ value: "{YYYY}-{MM}-{DD}" }];
      d.series.forEach(function (s) {
        series.push({
          label: s.label,
          scale: s.unit,
          stroke: colors[s.label] || "#333",
          width: s.unit === "usd" ? 2 : 1.5,
          fill: s.unit === "usd" ? "rgba(11,107,203,0.08)" : undefined,
          dash: s.label === "402s" ? [4, 3] : undefined,
          points: { show: d.x.length < 40 },
          value: function (u, v) {
            if (v == null) return "—";
            return s.unit === "usd" ? usd(v, maxUSD) : String(Math.round(v));
          }
        });
      });
      var opts = {
        width: el.clientWidth || 800,
        height: 240,
        tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"); },
        series: series,
        scales: { usd: { range: function (u, lo, hi) { return [0, hi > 0 ? hi * 1.1 : 1]; } },
                  count: { range: function (u, lo, hi) { return [0, hi > 0 ? hi * 1.1 : 1]; } } },
        axes: [
          {},
          { scale: "usd", values: function (u, vals) { return vals.map(function (v) { return usd(v, maxUSD); }); }, size: 70 },
          { scale: "count", side: 1, grid: { show: false }, size: 60 }
        ]
      };
      var data = [d.x].concat(d.series.map(function (s) { return s.values; }));
      charts.push({ el: el, plot: new uPlot(opts, data, el) });
    });
  }

  function copyFrom(button) {
    var target = document.querySelector(button.dataset.copy);
    if (!target) return;
    var text = target.value || target.textContent;
    var done = function () {
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = "Copy"; }, 2000);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done);
    } else {
      target.select();
      document.execCommand("copy");
      done();
    }
  }

  document.addEventListener("click", function (e) {
    var b = e.target.closest("[data-copy]");
    if (b) copyFrom(b);
  });

  document.addEventListener("submit", function (e) {
    var b = e.submitter;
    if (b && b.dataset.confirm && !window.confirm(b.dataset.confirm)) e.preventDefault();
  }, true);

  window.addEventListener("resize", function () {
    charts.forEach(function (c) { c.plot.setSize({ width: c.el.clientWidth, height: 240 }); });
  });

  document.addEventListener("DOMContentLoaded", function () { drawCharts(document); });
  document.addEventListener("htmx:load", function (e) { drawCharts(e.detail.elt); });
})();
