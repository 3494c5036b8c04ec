// The dashboard's charts, drawn as SVG from the figures embedded in the page.
// Calls, tokens and cost are bars stacked by group; the error rate is a line per group; the
// latency chart has the p50, p95 and p99 of all calls; a chosen score's mean and pass rate are a
// line per group. The tables below the charts hold the same figures. Names are only ever written
// with textContent.

const data = JSON.parse(document.getElementById("chart-data").textContent);
const SVG = "http://www.w3.org/2000/svg";
const W = 480;
const H = 210;
const LEFT = 58;
const RIGHT = 12;
const TOP = 12;
const BOTTOM = 30;
const PLOT_W = W - LEFT - RIGHT;
const PLOT_H = H - TOP - BOTTOM;
const COLOURS = 8;

const width = data.bucket_seconds;
const scores = data.scores || { rows: [], overall: [] };
const buckets = [...new Set([...data.overall, ...scores.overall].map((row) => row.bucket))].sort((a, b) => a - b);
const start = buckets[0];
const end = buckets[buckets.length - 1] + width;
const slot = (PLOT_W * width) / (end - start);
const barWidth = Math.max(1, slot - Math.min(4, slot * 0.2));

function svg(tag, attributes, text) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    element.setAttribute(name, String(value));
  }
  if (text !== undefined) element.textContent = text;
  return element;
}

function html(tag, className, text) {
  const element = document.createElement(tag);
  if (className) element.className = className;
  if (text !== undefined) element.textContent = text;
  return element;
}

function pad(number) {
  return String(number).padStart(2, "0");
}

function when(seconds) {
  const d = new Date(seconds * 1000);
  const day = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
  return data.bucket === "day" ? day : `${day} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;
}

const FORMATS = {
  calls: (value) => value.toLocaleString("en-US"),
  total_tokens: (value) =>
    value >= 10000 ? `${(value / 1000).toFixed(value >= 100000 ? 0 : 1)}k` : value.toLocaleString("en-US"),
  cost: (value) => (value < 1 ? `$${value.toFixed(4)}` : `$${value.toFixed(2)}`),
  error_rate: (value) => `${(value * 100).toFixed(value > 0 && value < 0.1 ? 1 : 0)} %`,
  latency: (value) => (value < 1000 ? `${Math.round(value)} ms` : `${(value / 1000).toFixed(1)} s`),
  score_mean: (value) => String(Number(value.toPrecision(3))),
  score_pass_rate: (value) => `${(value * 100).toFixed(0)} %`,
};

function x(bucket) {
  return LEFT + ((bucket - start) / (end - start)) * PLOT_W;
}

function frame(metric, top, caption) {
  const chart = svg("svg", {
    viewBox: `0 0 ${W} ${H}`,
    role: "img",
    "aria-label": caption,
    class: "plot",
  });
  const y = (value) => TOP + PLOT_H - (top > 0 ? (value / top) * PLOT_H : 0);
  chart.append(svg("line", { x1: LEFT, x2: W - RIGHT, y1: y(0), y2: y(0), class: "axis" }));
  chart.append(svg("line", { x1: LEFT, x2: W - RIGHT, y1: y(top), y2: y(top), class: "grid" }));
  chart.append(svg("text", { x: LEFT - 6, y: y(top) + 4, class: "tick end" }, FORMATS[metric](top)));
  chart.append(svg("text", { x: LEFT - 6, y: y(0) + 4, class: "tick end" }, FORMATS[metric](0)));
  chart.append(svg("text", { x: LEFT, y: H - 8, class: "tick" }, when(start)));
  chart.append(svg("text", { x: W - RIGHT, y: H - 8, class: "tick end" }, when(end)));
  return { chart, y };
}

function niceTop(value) {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) {
    if (step * power >= value) return step * power;
  }
  return 10 * power;
}

function byBucketAndGroup(rows) {
  const found = new Map();
  for (const row of rows) found.set(`${row.bucket}\u0000${row.group}`, row);
  return found;
}

function stacked(metric, caption) {
  const rows = byBucketAndGroup(data.rows);
  const sums = buckets.map((bucket) =>
    data.groups.reduce((sum, group) => sum + (rows.get(`${bucket}\u0000${group}`)?.[metric] || 0), 0),
  );
  const top = metric === "calls" ? Math.max(1, Math.ceil(niceTop(Math.max(...sums)))) : niceTop(Math.max(...sums));
  const { chart, y } = frame(metric, top, caption);
  buckets.forEach((bucket) => {
    let below = 0;
    data.groups.forEach((group, index) => {
      const row = rows.get(`${bucket}\u0000${group}`);
      const value = row?.[metric] || 0;
      if (value <= 0) return;
      const rect = svg("rect", {
        x: x(bucket) + (slot - barWidth) / 2,
        y: y(below + value),
        width: barWidth,
        height: Math.max(0.5, y(below) - y(below + value)),
        class: `bar series-${index % COLOURS}`,
      });
      rect.append(svg("title", {}, `${when(bucket)} · ${group}: ${FORMATS[metric](value)}`));
      chart.append(rect);
      below += value;
    });
  });
  return chart;
}

function lines(metric, series, caption) {
  const values = series.flatMap((one) => one.points.map((point) => point.value));
  const top = metric === "error_rate" || metric === "score_pass_rate" ? 1 : niceTop(Math.max(...values));
  const { chart, y } = frame(metric, top, caption);
  series.forEach((one, index) => {
    const points = one.points.map((point) => [x(point.bucket) + slot / 2, y(point.value), point]);
    if (points.length > 1) {
      chart.append(
        svg("polyline", {
          points: points.map(([px, py]) => `${px},${py}`).join(" "),
          class: `line series-${index % COLOURS}`,
        }),
      );
    }
    for (const [px, py, point] of points) {
      const circle = svg("circle", { cx: px, cy: py, r: 3.5, class: `point series-${index % COLOURS}` });
      circle.append(svg("title", {}, `${when(point.bucket)} · ${one.name}: ${FORMATS[metric](point.value)}`));
      chart.append(circle);
    }
  });
  return chart;
}

function legend(names) {
  const list = html("ul", "legend");
  names.forEach((name, index) => {
    const item = html("li");
    item.append(html("span", `swatch series-${index % COLOURS}`), html("span", "", name));
    list.append(item);
  });
  return list;
}

function draw() {
  for (const figure of document.querySelectorAll("figure.chart")) {
    const metric = figure.dataset.metric;
    const caption = figure.querySelector("figcaption").textContent;
    let chart;
    let names = data.groups;
    if (metric === "latency") {
      names = ["p50", "p95", "p99"];
      const series = names.map((name) => ({
        name,
        points: data.overall
          .filter((row) => typeof row[name] === "number")
          .map((row) => ({ bucket: row.bucket, value: row[name] })),
      }));
      chart = lines(metric, series, caption);
    } else if (metric === "score_mean" || metric === "score_pass_rate") {
      const field = metric === "score_mean" ? "mean" : "pass_rate";
      names = [...new Set(scores.rows.map((row) => row.group))];
      const series = names.map((name) => ({
        name,
        points: scores.rows
          .filter((row) => row.group === name && typeof row[field] === "number")
          .map((row) => ({ bucket: row.bucket, value: row[field] })),
      }));
      chart = lines(metric, series, caption);
    } else if (metric === "error_rate") {
      const series = data.groups.map((name) => ({
        name,
        points: data.rows
          .filter((row) => row.group === name)
          .map((row) => ({ bucket: row.bucket, value: row.error_rate })),
      }));
      chart = lines(metric, series, caption);
    } else {
      chart = stacked(metric, caption);
    }
    figure.append(chart, legend(names));
  }
}

draw();
