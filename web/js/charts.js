// Charts drawn by Chart.js (npm, pinned in web/vendor.json and served by the tutor): the score
// over a run in the summary, and the score over weeks on the progress pages.

import { masteredScore } from "./config.js";

const BUNDLE = "/vendor/chart.js/dist/chart.umd.min.js";
const AMBER = "#e8b04a";
const GRID = "#3a4650";
const TEXT = "#a8b0b8";
const GOOD_BAND = "rgba(46, 204, 113, 0.12)";

let library = null;

// Chart.js, loaded on first use (its UMD build puts `Chart` on the global object).
async function chartClass() {
  library ??= import(BUNDLE).then(() => globalThis.Chart);
  return library;
}

const charts = new WeakMap();

// Shades the band from the mastered score up, behind the line.
const goodBand = {
  id: "goodBand",
  beforeDatasetsDraw(chart) {
    const { ctx, chartArea, scales } = chart;
    const top = scales.y.getPixelForValue(100);
    const bottom = scales.y.getPixelForValue(masteredScore());
    ctx.save();
    ctx.fillStyle = GOOD_BAND;
    ctx.fillRect(chartArea.left, top, chartArea.right - chartArea.left, bottom - top);
    ctx.restore();
  },
};

// The x range shown: the points' own, at least `minSpan` wide and padded a little.
export function xRange(points, minSpan) {
  if (!points.length) return { min: 0, max: minSpan };
  const xs = points.map((p) => p.x);
  const [lo, hi] = [Math.min(...xs), Math.max(...xs)];
  const pad = Math.max((hi - lo) * 0.04, (minSpan - (hi - lo)) / 2, 0);
  return { min: lo - pad, max: hi + pad };
}

// A 0-100 score line on `canvas`: `points` are {x, y}; `xLabel(x)` writes an x tick; the x
// axis spans at least `minSpan`; `onPick(index)` (optional) is called when a point is clicked.
export async function scoreChart(canvas, points, { xLabel, minSpan = 0, onPick = null, title = "score" }) {
  const Chart = await chartClass();
  charts.get(canvas)?.destroy();
  const chart = new Chart(canvas, {
    type: "line",
    data: { datasets: [{ label: title, data: points, borderColor: AMBER, backgroundColor: AMBER, borderWidth: 3, pointRadius: points.length > 60 ? 0 : 4, tension: 0.2 }] },
    options: {
      animation: false,
      maintainAspectRatio: false,
      parsing: false,
      scales: {
        x: { type: "linear", ...xRange(points, minSpan), ticks: { color: TEXT, maxTicksLimit: 6, callback: (value) => xLabel(value) }, grid: { color: GRID } },
        y: { min: 0, max: 100, ticks: { color: TEXT, stepSize: 25 }, grid: { color: GRID } },
      },
      plugins: {
        legend: { display: false },
        tooltip: { callbacks: { title: (items) => xLabel(items[0].parsed.x), label: (item) => `${title} ${Math.round(item.parsed.y)}` } },
      },
      onClick: (_, elements) => { if (onPick && elements.length) onPick(elements[0].index); },
    },
    plugins: [goodBand],
  });
  charts.set(canvas, chart);
  return chart;
}
