// Charts with Chart.js (loaded as a classic script from /console/vendor/chart.js).

import { h, notice } from "./dom.js";

const COLORS = ["#2563eb", "#db2777", "#059669", "#d97706"];

function chartLib() {
  return window.Chart || null;
}

function missing() {
  return notice(
    "Charts need Chart.js, which is not installed on this gateway: run `npm ci` " + "(part of `make setup`).",
    "warn",
  );
}

/** A line chart of named series of {x, y} points (a series may set pointRadius and showLine);
 * returns {el, update(series, {xMax})}. */
export function lineChart({ xTitle, yTitle }) {
  const Chart = chartLib();
  const canvas = h("canvas");
  if (!Chart) return { el: missing(), update() {} };
  const chart = new Chart(canvas, {
    type: "line",
    data: { datasets: [] },
    options: {
      animation: false,
      maintainAspectRatio: false,
      parsing: false,
      interaction: { mode: "nearest", intersect: false },
      scales: {
        x: { type: "linear", title: { display: true, text: xTitle }, ticks: { precision: 0 } },
        y: { title: { display: true, text: yTitle } },
      },
      plugins: { legend: { position: "bottom" } },
    },
  });
  const update = (series, { xMax } = {}) => {
    chart.options.scales.x.max = xMax; // the whole run's extent, so progress shows as it fills
    chart.data.datasets = series.map((s, i) => ({
      label: s.label,
      data: s.points,
      borderColor: COLORS[i % COLORS.length],
      backgroundColor: COLORS[i % COLORS.length],
      pointRadius: s.pointRadius ?? (s.points.length > 60 ? 0 : 2),
      showLine: s.showLine ?? true,
      borderWidth: 2,
      tension: 0.2,
    }));
    chart.update("none");
  };
  return { el: h("div.chart", {}, canvas), update, chart };
}

/** A bar chart of labelled values. */
export function barChart({ labels, values, label, yTitle }) {
  const Chart = chartLib();
  if (!Chart) return missing();
  const canvas = h("canvas");
  new Chart(canvas, {
    type: "bar",
    data: {
      labels,
      datasets: [{ label, data: values, backgroundColor: "#93c5fd", borderColor: COLORS[0], borderWidth: 1 }],
    },
    options: {
      animation: false,
      maintainAspectRatio: false,
      scales: { y: { beginAtZero: true, title: { display: true, text: yTitle } } },
      plugins: { legend: { display: false } },
    },
  });
  return h("div.chart.small", {}, canvas);
}
