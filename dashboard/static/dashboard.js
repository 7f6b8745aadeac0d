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
    var digits = kind === "price" ? 4 : 0;
    try {
      money = new Intl.NumberFormat("en-US", { style: "currency", currency: currency || "USD",
                                               minimumFractionDigits: 0,
                                               maximumFractionDigits: digits });
    } catch (e) {
      money = new Intl.NumberFormat("en-US", { maximumFractionDigits: digits });
    }
    return function (v) { return v === null ? "—" : money.format(v); };
  }

  var palette = ["#1f5fbf", "#e08a1e", "#1c7c47", "#b3261e", "#6b4fbb", "#0f8b8d", "#8a5a44",
                 "#c2185b", "#5f7d95", "#9e9d24"];
  var bands = ["rgba(31, 95, 191, 0.12)", "rgba(31, 95, 191, 0.24)"];

  // An interval: the series before a band is its lower end, the band its upper end; the
  // area between them is shaded and neither is in the legend.
  function dataset(data, s, i) {
    var next = data.series[i + 1];
    if (s.band || (next && next.band)) {
      var shade = bands[data.series.slice(0, i + 1).filter(function (x) { return x.band; }).length % 2];
      return { label: s.label, data: s.values, fill: s.band ? "-1" : false, backgroundColor: shade,
               borderColor: "rgba(0, 0, 0, 0)", borderWidth: 0, pointRadius: 0, spanGaps: false,
               interval: true };
    }
    var colour = palette[i % palette.length];
    return { label: s.label, data: s.values, backgroundColor: colour, borderColor: colour,
             borderWidth: data.type === "line" ? 2 : 0, pointRadius: 0, tension: 0.2,
             spanGaps: !data.series.some(function (x) { return x.band; }) };
  }

  function draw(data, canvas) {
    var kind = data.series.length ? data.series[0].kind : "money";
    var format = formatter(kind, data.currency);
    var datasets = data.series.map(function (s, i) { return dataset(data, s, i); });
    var legend = datasets.filter(function (d) { return !d.interval; }).length;
    return new window.Chart(canvas, {
      type: data.type,
      data: { labels: data.labels, datasets: datasets },
      options: {
        animation: false, responsive: true, maintainAspectRatio: false,
        interaction: { mode: "index", intersect: false },
        plugins: {
          legend: { display: legend > 1, position: "bottom",
                    labels: { filter: function (item) { return !datasets[item.datasetIndex].interval; } } },
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
