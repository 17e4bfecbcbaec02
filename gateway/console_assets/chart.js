// Payments per minute by status (stacked bars) and PSP latency (p50, p95 and max lines), drawn
// as inline SVG from GET /v1/ops/payment-stats.
import { get } from "./api.js";
import { busy, el, problem, show, table } from "./dom.js";

const SVG = "http://www.w3.org/2000/svg";
const STATUSES = ["SUCCESS", "FAILED", "PENDING", "EXECUTING", "NOT_STARTED"];
const W = 720;
const H = 220;
const PAD = { left: 52, right: 8, top: 10, bottom: 24 };

function svg(tag, attrs, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, String(value));
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

function frame(label, top, format) {
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": label, class: "chart" });
  const plotH = H - PAD.top - PAD.bottom;
  for (const f of [0, 0.5, 1]) {
    const y = PAD.top + plotH * (1 - f);
    root.append(svg("line", { x1: PAD.left, x2: W - PAD.right, y1: y, y2: y, class: "grid" }));
    root.append(svg("text", { x: PAD.left - 4, y: y + 4, class: "axis", "text-anchor": "end" }, format(top * f)));
  }
  return root;
}

function minuteLabel(stamp) {
  return new Date(stamp).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function xAxis(root, minutes) {
  const n = minutes.length;
  const step = Math.max(1, Math.ceil(n / 6));
  const plotW = W - PAD.left - PAD.right;
  for (let i = 0; i < n; i += step) {
    const x = PAD.left + (plotW * (i + 0.5)) / n;
    root.append(svg("text", { x, y: H - 6, class: "axis", "text-anchor": "middle" }, minuteLabel(minutes[i].minute)));
  }
}

function legend(names) {
  return el("ul", { class: "legend" }, names.map((name) => el("li", { class: `key-${name.toLowerCase()}` }, name)));
}

// A round top for an axis of counts: even, so that its middle line is a whole number too.
function countTop(highest) {
  return Math.max(2, Math.ceil(highest / 2) * 2);
}

// 850 -> "850ms", 1695 -> "1.7s": short enough for the axis.
function duration(ms) {
  return ms >= 1000 ? `${(ms / 1000).toFixed(1)}s` : `${Math.round(ms)}ms`;
}

function count(value) {
  return Number(value || 0); // int64 counts arrive as strings
}

function ordersChart(minutes) {
  const totals = minutes.map((m) => STATUSES.reduce((sum, s) => sum + count((m.orders_by_status || {})[s]), 0));
  const top = countTop(Math.max(0, ...totals));
  const root = frame("Payment orders per minute by status", top, (n) => String(Math.round(n)));
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const barW = plotW / minutes.length;
  minutes.forEach((m, i) => {
    let base = 0;
    for (const status of STATUSES) {
      const n = count((m.orders_by_status || {})[status]);
      if (!n) continue;
      const h = (plotH * n) / top;
      const y = PAD.top + plotH - (plotH * base) / top - h;
      root.append(
        svg(
          "rect",
          { x: PAD.left + i * barW + 0.5, y, width: Math.max(1, barW - 1), height: h, class: `bar key-${status.toLowerCase()}` },
          svg("title", {}, `${minuteLabel(m.minute)} ${status}: ${n}`),
        ),
      );
      base += n;
    }
  });
  xAxis(root, minutes);
  return el("figure", {}, root, el("figcaption", {}, "Payment orders accepted per minute, by status now"), legend(STATUSES));
}

function latencyChart(minutes) {
  const series = [
    ["p50", "psp_latency_p50_ms"],
    ["p95", "psp_latency_p95_ms"],
    ["max", "psp_latency_max_ms"],
  ];
  const top = Math.max(1, ...minutes.map((m) => count(m.psp_latency_max_ms)));
  const root = frame("PSP latency per minute", top, duration);
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  for (const [name, field] of series) {
    const points = minutes
      .map((m, i) => [i, m])
      .filter(([, m]) => count(m.psp_answers) > 0)
      .map(([i, m]) => `${PAD.left + (plotW * (i + 0.5)) / minutes.length},${PAD.top + plotH - (plotH * count(m[field])) / top}`);
    if (points.length) root.append(svg("polyline", { points: points.join(" "), class: `line key-${name}` }));
    for (const p of points) {
      const [cx, cy] = p.split(",");
      root.append(svg("circle", { cx, cy, r: 2.5, class: `dot key-${name}` }));
    }
  }
  xAxis(root, minutes);
  return el("figure", {}, root, el("figcaption", {}, "PSP latency: send to answer, per minute"), legend(["p50", "p95", "max"]));
}

export async function showChart(out, minutesWanted) {
  busy(out);
  let minutes;
  try {
    minutes = (await get("/v1/ops/payment-stats", { minutes: minutesWanted })).minutes || [];
  } catch (err) {
    show(out, problem(err.explain()));
    return;
  }
  const busyMinutes = minutes.filter((m) => Object.keys(m.orders_by_status || {}).length || count(m.psp_answers));
  show(
    out,
    ordersChart(minutes),
    latencyChart(minutes),
    el("h3", {}, "Minutes with traffic"),
    table(
      [
        ["Minute", (m) => minuteLabel(m.minute)],
        ...STATUSES.map((s) => [s, (m) => count((m.orders_by_status || {})[s])]),
        ["PSP answers", (m) => count(m.psp_answers)],
        ["p50 ms", (m) => count(m.psp_latency_p50_ms)],
        ["p95 ms", (m) => count(m.psp_latency_p95_ms)],
        ["max ms", (m) => count(m.psp_latency_max_ms)],
      ],
      busyMinutes,
      { class: "stats" },
    ),
  );
}
