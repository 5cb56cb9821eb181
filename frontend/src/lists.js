// Record lists (contacts, companies, deals): search, filters, sortable columns, keyset infinite
// scroll, quick create, CSV export of the current view, and rows kept live from events.
import { announce, ApiError, clearFormErrors, formData, get, money, pageState, post, showFormErrors, toast } from "./lib/api.js";
import { connectOrg } from "./lib/realtime.js";
import { byId, downloadText, el, formatDate, formatDateTime, isNewer, personName, toCsv } from "./lib/records.js";

const PAGE_SIZE = 50;
const EXPORT_PAGE = 200;
const EXPORT_CAP = 10_000;

const state = pageState();
const shell = pageState("shell-state");
const org = shell.org;
const kind = state.kind;
const members = byId(state.members);
const stages = byId(state.stages);
const companies = byId(state.companies || []);
const contacts = byId(state.contacts || []);
const apiPath = `/api/v1/orgs/${org.slug}/${kind}`;
const single = { contacts: "contact", companies: "company", deals: "deal" }[kind];

const ownerName = (r) => members.get(r.owner_id)?.name ?? "";
const companyName = (r) => (r.company_id ? companies.get(r.company_id)?.name ?? `#${r.company_id}` : "");
const stageName = (d) => (d.won_at ? "Won" : d.lost_at ? "Lost" : stages.get(d.stage_id)?.name ?? "");
const recordLink = (r, text) => el("a", { href: `/o/${org.slug}/${kind}/${r.id}`, text });

// label, the API sorts the column toggles between (first = first click), cell and CSV value
const COLUMNS = {
  contacts: [
    { label: "Name", sorts: ["name", "-name"], cell: (c) => recordLink(c, personName(c)) },
    { label: "Email", cell: (c) => c.email ?? "" },
    { label: "Phone", cell: (c) => c.phone ?? "" },
    { label: "Title", cell: (c) => c.title ?? "" },
    { label: "Company", cell: companyName },
    { label: "Owner", cell: ownerName },
    { label: "Updated", sorts: ["-updated_at", "updated_at"], cell: (c) => formatDateTime(c.updated_at) },
  ],
  companies: [
    { label: "Name", sorts: ["name", "-name"], cell: (c) => recordLink(c, c.name) },
    { label: "Domain", cell: (c) => c.domain ?? "" },
    { label: "Phone", cell: (c) => c.phone ?? "" },
    { label: "Owner", cell: ownerName },
    { label: "Updated", sorts: ["-updated_at", "updated_at"], cell: (c) => formatDateTime(c.updated_at) },
  ],
  deals: [
    { label: "Title", sorts: ["title"], cell: (d) => recordLink(d, d.title) },
    { label: "Amount", sorts: ["-amount", "amount"], cell: (d) => money(d.amount, d.currency), num: true },
    { label: "Stage", cell: stageName },
    { label: "Owner", cell: ownerName },
    { label: "Company", cell: companyName },
    { label: "Close date", sorts: ["expected_close_date"], cell: (d) => formatDate(d.expected_close_date) },
    { label: "Updated", sorts: ["-updated_at", "updated_at"], cell: (d) => formatDateTime(d.updated_at) },
  ],
}[kind];

const CSV = {
  contacts: [
    ["id", (c) => c.id], ["first_name", (c) => c.first_name], ["last_name", (c) => c.last_name], ["email", (c) => c.email],
    ["phone", (c) => c.phone], ["title", (c) => c.title], ["company", companyName], ["owner", ownerName],
    ["created_at", (c) => c.created_at], ["updated_at", (c) => c.updated_at],
  ],
  companies: [
    ["id", (c) => c.id], ["name", (c) => c.name], ["domain", (c) => c.domain], ["phone", (c) => c.phone],
    ["address", (c) => c.address], ["owner", ownerName], ["created_at", (c) => c.created_at], ["updated_at", (c) => c.updated_at],
  ],
  deals: [
    ["id", (d) => d.id], ["title", (d) => d.title], ["amount", (d) => (d.amount / 100).toFixed(2)], ["currency", (d) => d.currency],
    ["stage", stageName], ["owner", ownerName], ["company", companyName],
    ["contact", (d) => (d.contact_id ? contacts.get(d.contact_id)?.name ?? `#${d.contact_id}` : "")],
    ["expected_close_date", (d) => d.expected_close_date], ["probability", (d) => d.probability], ["updated_at", (d) => d.updated_at],
  ],
}[kind];

const DEFAULT_SORT = kind === "deals" ? "-updated_at" : "name";
const view = { query: { ...state.query }, items: new Map(), order: [], cursor: state.next_cursor, loading: false, generation: 0 };
const rowsNode = document.querySelector("[data-rows]");
const moreButton = document.querySelector("[data-load-more]");
const endNote = document.querySelector("[data-end]");
const statusNode = document.querySelector("[data-list-status]");

function queryString(extra = {}) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries({ ...view.query, ...extra })) if (value) params.set(key, value);
  return params.toString();
}

function row(record) {
  const tr = el("tr", { "data-id": record.id }, COLUMNS.map((col) => {
    const value = col.cell(record);
    return el("td", { class: col.num ? "num" : null }, value);
  }));
  return tr;
}

function renderHeader() {
  const sort = view.query.sort || DEFAULT_SORT;
  const cells = COLUMNS.map((col) => {
    if (!col.sorts) return el("th", { scope: "col", text: col.label });
    const active = col.sorts.includes(sort);
    const ariaSort = active ? (sort.startsWith("-") ? "descending" : "ascending") : null;
    const next = active ? col.sorts[(col.sorts.indexOf(sort) + 1) % col.sorts.length] : col.sorts[0];
    return el("th", { scope: "col", "aria-sort": ariaSort },
      el("button", { type: "button", class: "sort", "data-sort": next, onclick: () => setQuery({ sort: next }) },
        col.label, el("span", { "aria-hidden": "true", class: "arrow", text: active ? (ariaSort === "descending" ? " ▼" : " ▲") : "" })));
  });
  document.querySelector("[data-columns]").replaceChildren(...cells);
}

function renderFoot() {
  moreButton.hidden = !view.cursor;
  endNote.hidden = Boolean(view.cursor) || view.order.length === 0;
  statusNode.textContent = view.order.length
    ? `${view.order.length} ${view.order.length === 1 ? single : kind} shown${view.cursor ? "; more load as you scroll" : ""}.`
    : `No ${kind} match.`;
}

function append(items) {
  const fragment = document.createDocumentFragment();
  for (const item of items) {
    if (view.items.has(item.id)) continue;
    view.items.set(item.id, item);
    view.order.push(item.id);
    fragment.append(row(item));
  }
  rowsNode.append(fragment);
}

function reset(items, cursor) {
  view.items.clear();
  view.order = [];
  rowsNode.replaceChildren();
  append(items);
  view.cursor = cursor;
  renderHeader();
  renderFoot();
}

async function fetchFirst() {
  const generation = ++view.generation;
  view.loading = true;
  try {
    const page = await get(`${apiPath}?${queryString({ limit: PAGE_SIZE })}`);
    if (generation !== view.generation) return;
    reset(page.items, page.next_cursor);
    announce(statusNode.textContent);
  } catch (error) {
    if (generation === view.generation) toast(error.message);
  } finally {
    if (generation === view.generation) view.loading = false;
  }
  fillViewport();
}

async function loadMore() {
  if (view.loading || !view.cursor) return;
  const generation = view.generation;
  view.loading = true;
  try {
    const page = await get(`${apiPath}?${queryString({ limit: PAGE_SIZE, cursor: view.cursor })}`);
    if (generation !== view.generation) return;
    append(page.items);
    view.cursor = page.next_cursor;
    renderFoot();
  } catch (error) {
    toast(`Could not load more: ${error.message}`);
  } finally {
    if (generation === view.generation) view.loading = false;
  }
  fillViewport();
}

// The observer fires on changes only: keep loading while the sentinel stays on screen.
function fillViewport() {
  if (!view.cursor || view.loading) return;
  const box = moreButton.getBoundingClientRect();
  if (box.top < window.innerHeight + 200 && !moreButton.hidden) loadMore();
}

function setQuery(changes) {
  view.query = { ...view.query, ...changes };
  for (const key of Object.keys(view.query)) if (!view.query[key]) delete view.query[key];
  const qs = queryString();
  window.history.replaceState(null, "", qs ? `?${qs}` : window.location.pathname);
  fetchFirst();
}

function setupFilters() {
  let timer = 0;
  for (const control of document.querySelectorAll("[data-filter]")) {
    const key = control.dataset.filter;
    if (control.tagName === "INPUT") {
      control.addEventListener("input", () => {
        window.clearTimeout(timer);
        timer = window.setTimeout(() => setQuery({ [key]: control.value.trim() }), 200);
      });
    } else {
      control.addEventListener("change", () => setQuery({ [key]: control.value }));
    }
  }
}

async function exportCsv(button) {
  button.disabled = true;
  const rows = [];
  let cursor = null;
  try {
    do {
      const page = await get(`${apiPath}?${queryString({ limit: EXPORT_PAGE, cursor })}`);
      rows.push(...page.items);
      cursor = page.next_cursor;
      statusNode.textContent = `Exporting… ${rows.length} rows`;
    } while (cursor && rows.length < EXPORT_CAP);
    const capped = Boolean(cursor) || rows.length > EXPORT_CAP;
    const data = rows.slice(0, EXPORT_CAP).map((r) => CSV.map(([, value]) => value(r)));
    downloadText(`${kind}-${new Date().toISOString().slice(0, 10)}.csv`, toCsv(CSV.map(([name]) => name), data));
    const message = capped
      ? `Exported the first ${EXPORT_CAP.toLocaleString()} ${kind}; narrow the search to export the rest.`
      : `Exported ${data.length} ${kind}.`;
    statusNode.textContent = message;
    announce(message);
  } catch (error) {
    toast(`Export failed: ${error.message}`);
    renderFoot();
  } finally {
    button.disabled = false;
  }
}

function createBody(data) {
  const id = (value) => (value ? Number(value) : undefined);
  if (kind === "contacts") {
    return { first_name: data.first_name, last_name: data.last_name, email: data.email || null, company_id: id(data.company_id) };
  }
  if (kind === "companies") return { name: data.name, domain: data.domain || null, phone: data.phone || null };
  const amount = data.amount === "" ? 0 : Math.round(Number(data.amount) * 100);
  return { title: data.title, amount: Number.isFinite(amount) ? amount : data.amount, stage_id: id(data.stage_id) };
}

function setupQuickCreate() {
  const form = document.querySelector("[data-quick-create]");
  form?.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const created = await post(apiPath, createBody(formData(form)));
      clearFormErrors(form);
      form.reset();
      prepend(created);
      announce(`${single[0].toUpperCase()}${single.slice(1)} created`);
      form.querySelector("input, select")?.focus();
    } catch (error) {
      if (error instanceof ApiError) showFormErrors(form, error);
      else toast(error.message);
    } finally {
      button.disabled = false;
    }
  });
}

function prepend(record) {
  if (view.items.has(record.id)) return;
  view.items.set(record.id, record);
  view.order.unshift(record.id);
  const tr = row(record);
  tr.classList.add("fresh");
  rowsNode.prepend(tr);
  renderFoot();
}

// Does a record created elsewhere belong in this view? Only the simple filters can be checked here.
function fitsView(record) {
  const q = view.query;
  if (q.q) return false;
  if (q.owner && String(record.owner_id) !== q.owner) return false;
  if (q.company && String(record.company_id) !== q.company) return false;
  if (q.stage && String(record.stage_id) !== q.stage) return false;
  if (q.status) return q.status === (record.won_at ? "won" : record.lost_at ? "lost" : "open");
  return true;
}

function onEvent(event) {
  const [type, action] = event.type.split(".");
  if (type !== single) return;
  const data = event.data || {};
  const tr = rowsNode.querySelector(`tr[data-id="${data.id}"]`);
  if (action === "deleted") {
    view.items.delete(data.id);
    view.order = view.order.filter((id) => id !== data.id);
    tr?.remove();
    renderFoot();
  } else if (tr) {
    if (!isNewer(view.items.get(data.id), data)) return;
    view.items.set(data.id, data);
    const fresh = row(data);
    fresh.classList.add("fresh");
    tr.replaceWith(fresh);
  } else if (action === "created" && fitsView(data)) {
    prepend(data);
  }
}

renderHeader();
append(state.items);
view.cursor = state.next_cursor;
renderFoot();
setupFilters();
setupQuickCreate();
document.querySelector("[data-export]").addEventListener("click", (event) => exportCsv(event.currentTarget));
moreButton.addEventListener("click", loadMore);
new IntersectionObserver((entries) => {
  if (entries.some((entry) => entry.isIntersecting)) loadMore();
}, { rootMargin: "200px" }).observe(moreButton);

const live = connectOrg(org, { seq: state.seq, onEvent, onResync: fetchFirst });
window.tinycrm = { live, view };
