// The dashboard: stat tiles and four charts (Chart.js), each with a visually hidden table as its
// text alternative. Live: `dashboard.updated` carries fresh stats; changed numbers are announced.
import Chart from "chart.js/auto";
import { announce, get, money, pageState } from "./lib/api.js";
import { connectOrg } from "./lib/realtime.js";
import { el } from "./lib/records.js";

const state = pageState();
const shell = pageState("shell-state");
const org = shell.org;
let stats = state.stats;
let wonOverTime = state.won_over_time;
const charts = {};

const count = (n) => Number(n ?? 0).toLocaleString();
const cash = (n) => money(n ?? 0, stats.currency);
const percent = (r) => (r == null ? "–" : `${Math.round(r * 100)}%`);

const TILES = [
  ["contacts", "Contacts", count],
  ["companies", "Companies", count],
  ["open_deals", "Open deals", count],
  ["open_value", "Open pipeline value", cash],
  ["won_this_month", "Won this month", count],
  ["won_value_this_month", "Won value this month", cash],
  ["lost_this_month", "Lost this month", count],
  ["win_rate", "Win rate this month", percent],
  ["closing_this_month", "Closing this month", count],
  ["activities_due_today", "Activities due today", count],
  ["activities_overdue", "Overdue activities", count],
];

function renderTiles(changed = new Set()) {
  const container = document.querySelector("[data-tiles]");
  container.replaceChildren(...TILES.map(([key, label, format]) => el("div", { class: `tile${changed.has(key) ? " changed" : ""}`, "data-tile": key },
    el("dt", { text: label }),
    el("dd", { class: "value", text: format(stats[key]) }))));
  const asOf = document.querySelector("[data-as-of]");
  asOf.textContent = `As of ${new Date(stats.as_of).toLocaleTimeString()}`;
}

function css(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

const PALETTE = ["#0b5fff", "#067647", "#b54708", "#7a5af8", "#c11574", "#0e7090", "#b42318", "#4e5ba6"];

function series() {
  const open = stats.pipeline.filter((s) => s.kind === "open");
  const month = (iso) => new Date(`${iso}T00:00:00Z`).toLocaleDateString([], { month: "short", year: "numeric", timeZone: "UTC" });
  return {
    pipeline: {
      labels: stats.pipeline.map((s) => s.name),
      values: stats.pipeline.map((s) => s.value / 100),
      table: [["Stage", "Deals", "Value"], ...stats.pipeline.map((s) => [s.name, count(s.count), cash(s.value)])],
    },
    funnel: {
      labels: open.map((s) => s.name),
      values: open.map((s) => s.count),
      table: [["Stage", "Open deals"], ...open.map((s) => [s.name, count(s.count)])],
    },
    won: {
      labels: wonOverTime.items.map((m) => month(m.month)),
      values: wonOverTime.items.map((m) => m.value / 100),
      table: [["Month", "Deals won", "Value"], ...wonOverTime.items.map((m) => [month(m.month), count(m.count), money(m.value, wonOverTime.currency)])],
    },
    due: {
      labels: ["Due today", "Overdue"],
      values: [stats.activities_due_today, stats.activities_overdue],
      table: [["Activities", "Count"], ["Due today", count(stats.activities_due_today)], ["Overdue", count(stats.activities_overdue)]],
    },
  };
}

function renderTable(id, rows) {
  const table = document.querySelector(`[data-chart-table="${id}"]`);
  const [head, ...body] = rows;
  table.tHead.replaceChildren(el("tr", {}, head.map((h) => el("th", { scope: "col", text: h }))));
  table.tBodies[0].replaceChildren(...body.map(([first, ...rest]) => el("tr", {}, el("th", { scope: "row", text: first }), rest.map((v) => el("td", { text: v })))));
}

function chartOptions(id) {
  const text = css("--text") || "#1b1f24";
  const grid = css("--border") || "#d0d7de";
  const reduced = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  const axis = { ticks: { color: text }, grid: { color: grid } };
  const money = { ...axis, ticks: { color: text, precision: 0, callback: (v) => cash(v * 100) } };
  return {
    responsive: true,
    maintainAspectRatio: false,
    animation: reduced ? false : { duration: 300 },
    indexAxis: id === "funnel" ? "y" : "x",
    plugins: {
      legend: { display: id === "due", labels: { color: text } },
      tooltip: { callbacks: { label: (ctx) => (id === "pipeline" || id === "won" ? cash(ctx.raw * 100) : count(ctx.raw)) } },
    },
    scales: id === "due" ? {} : id === "funnel" ? { x: { ...axis, beginAtZero: true, ticks: { color: text, precision: 0 } }, y: axis } : { x: axis, y: { ...money, beginAtZero: true } },
  };
}

const TYPES = { pipeline: "bar", funnel: "bar", won: "line", due: "doughnut" };

function renderCharts() {
  const data = series();
  for (const [id, s] of Object.entries(data)) {
    renderTable(id, s.table);
    const colours = id === "due" ? ["#b54708", "#b42318"] : id === "won" ? PALETTE[1] : s.labels.map((_, i) => PALETTE[i % PALETTE.length]);
    if (charts[id]) {
      charts[id].data.labels = s.labels;
      charts[id].data.datasets[0].data = s.values;
      charts[id].data.datasets[0].backgroundColor = colours;
      charts[id].update();
      continue;
    }
    const canvas = document.querySelector(`[data-chart="${id}"]`);
    charts[id] = new Chart(canvas, {
      type: TYPES[id],
      data: {
        labels: s.labels,
        datasets: [{ label: document.getElementById(`chart-${id}-title`).textContent.trim(), data: s.values, backgroundColor: colours, borderColor: id === "won" ? PALETTE[1] : undefined, fill: false, tension: 0.25 }],
      },
      options: chartOptions(id),
    });
  }
}

// Theme switch: charts draw on canvas, so they need the new colours explicitly.
new MutationObserver(() => {
  for (const [id, chart] of Object.entries(charts)) {
    chart.options = chartOptions(id);
    chart.update();
  }
}).observe(document.documentElement, { attributes: true, attributeFilter: ["data-theme"] });

async function applyStats(fresh) {
  const previous = stats;
  stats = fresh;
  const changed = TILES.filter(([key]) => previous[key] !== fresh[key]);
  if (fresh.won_this_month !== previous.won_this_month || fresh.won_value_this_month !== previous.won_value_this_month) {
    try {
      wonOverTime = await get(`/api/v1/orgs/${org.slug}/dashboard/won-over-time`);
    } catch {
      // keep the last series; the next update retries
    }
  }
  renderTiles(new Set(changed.map(([key]) => key)));
  renderCharts();
  if (changed.length) {
    announce(changed.map(([key, label, format]) => `${label} ${format(fresh[key])}, was ${format(previous[key])}`).join("; "));
  }
}

async function reload() {
  await applyStats(await get(`/api/v1/orgs/${org.slug}/dashboard/stats`));
}

renderTiles();
renderCharts();
const live = connectOrg(org, {
  seq: state.seq,
  onEvent(event) {
    if (event.type === "dashboard.updated" && event.data) applyStats(event.data);
  },
  onResync: reload,
});
window.tinycrm = { live, charts };
