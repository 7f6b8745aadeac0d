// Ladder dashboard: draw the charts whose data the page carries, and size the budget bars.
// The pages work without this script: every chart's numbers are also in a table.
(function () {
  "use strict";

  function formatter(kind, currency) {
    if (kind === "ratio") {
      var pct = new Intl.NumberFormat("en-US", { style: "percent", maximumFractionDigits: 1 });
      return function (v) { return v === null ? "—" : pct.format(v); };
    }
    var money;
    try {
      money = new Intl.NumberFormat("en-US", { style: "currency", currency: currency || "USD",
                                               maximumFractionDigits: 0 });
    } catch (e) {
      money = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
    }
    return function (v) { return v === null ? "—" : money.format(v); };
  }

  var palette = ["#1f5fbf", "#e08a1e", "#1c7c47", "#b3261e", "#6b4fbb"];

  function draw(data, canvas) {
    var kind = data.series.length ? data.series[0].kind : "money";
    var format = formatter(kind, data.currency);
    var datasets = data.series.map(function (s, i) {
      return { label: s.label, data: s.values, backgroundColor: palette[i % palette.length],
               borderColor: palette[i % palette.length], borderWidth: data.type === "line" ? 2 : 0,
               pointRadius: 0, tension: 0.2, spanGaps: true };
    });
    return new window.Chart(canvas, {
      type: data.type,
      data: { labels: data.labels, datasets: datasets },
      options: {
        animation: false, responsive: true, maintainAspectRatio: false,
        interaction: { mode: "index", intersect: false },
        plugins: {
          legend: { display: datasets.length > 1, position: "bottom" },
          tooltip: { callbacks: { label: function (ctx) {
            return ctx.dataset.label + ": " + format(ctx.parsed.y);
          } } }
        },
        scales: {
          x: { stacked: data.stacked,
               ticks: data.labels.length > 12 ? { maxRotation: 0, autoSkip: true, maxTicksLimit: 12 }
                                              : { autoSkip: false, maxRotation: 30 },
               grid: { display: false } },
          y: { stacked: data.stacked, beginAtZero: true,
               suggestedMax: kind === "ratio" ? 1 : undefined,
               ticks: { callback: function (v) { return format(v); } } }
        }
      }
    });
  }

  function drawCharts() {
    if (!window.Chart) { return; }
    document.querySelectorAll("script.chart-data").forEach(function (node) {
      var canvas = document.getElementById(node.dataset.canvas);
      if (canvas) { draw(JSON.parse(node.textContent), canvas); }
    });
  }

  function sizeBars() {
    document.querySelectorAll(".bar span[data-width]").forEach(function (bar) {
      bar.style.width = bar.dataset.width + "%";
    });
  }

  document.addEventListener("DOMContentLoaded", function () { drawCharts(); sizeBars(); });
})();
