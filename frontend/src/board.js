// The live kanban board: drag and drop (SortableJS) or keyboard moves, optimistic with the
// deal's version; 409 snaps the card back to the server's truth; teammates' moves, creates and
// deletes arrive over the realtime client and animate in; presence shows who is here.
import Sortable from "sortablejs";
import { announce, ApiError, money, pageState, post, toast } from "./lib/api.js";
import { connectOrg, renderPresence } from "./lib/realtime.js";

const state = pageState();
const shell = pageState("shell-state");
const org = shell.org;
const boardNode = document.querySelector("[data-board]");
const deals = new Map(); // id -> deal
const stages = new Map(); // id -> stage
const members = new Map(state.members.map((m) => [m.id, m]));
const filters = { text: "", owner: "" };

for (const stage of state.pipeline.stages) {
  stages.set(stage.id, stage);
  for (const deal of stage.deals) deals.set(deal.id, deal);
}

function column(stageId) {
  return boardNode.querySelector(`[data-stage-id="${stageId}"] [data-cards]`);
}

function cardFor(deal) {
  let li = boardNode.querySelector(`[data-deal-id="${deal.id}"]`);
  if (!li) {
    li = document.createElement("li");
    li.className = "deal-card";
    li.tabIndex = 0;
    li.dataset.dealId = deal.id;
    li.innerHTML = '<a></a><div class="meta"><span data-amount></span><span data-owner></span></div><div class="meta"><span data-close></span></div>';
    li.addEventListener("keydown", onCardKey);
  }
  const owner = members.get(deal.owner_id);
  li.querySelector("a").textContent = deal.title;
  li.querySelector("a").href = `/o/${org.slug}/deals/${deal.id}`;
  li.querySelector("[data-amount]").textContent = money(deal.amount, deal.currency);
  li.querySelector("[data-owner]").textContent = owner ? owner.name : "Unassigned";
  li.querySelector("[data-close]").textContent = deal.expected_close_date ? `Closes ${deal.expected_close_date}` : "";
  li.setAttribute("aria-label", `${deal.title}, ${money(deal.amount, deal.currency)}, ${owner ? owner.name : "unassigned"}`);
  li.hidden = !matches(deal);
  return li;
}

function matches(deal) {
  if (filters.owner && String(deal.owner_id) !== filters.owner) return false;
  return !filters.text || deal.title.toLowerCase().includes(filters.text);
}

function sortedDeals(stageId) {
  return [...deals.values()].filter((d) => d.stage_id === stageId).sort((a, b) => (a.position < b.position ? -1 : a.position > b.position ? 1 : a.id - b.id));
}

function renderColumn(stageId) {
  const list = column(stageId);
  if (!list) return;
  const ordered = sortedDeals(stageId);
  const cards = ordered.map(cardFor);
  cards.forEach((card, index) => {
    if (list.children[index] !== card) list.insertBefore(card, list.children[index] || null);
  });
  while (list.children.length > cards.length) list.lastElementChild.remove();
  const stage = stages.get(stageId);
  const value = ordered.reduce((sum, d) => sum + d.amount, 0);
  const totals = boardNode.querySelector(`[data-stage-id="${stageId}"] [data-totals]`);
  const count = stage.has_more ? Math.max(stage.count ?? ordered.length, ordered.length) : ordered.length;
  totals.textContent = `${count} · ${money(stage.has_more ? stage.value ?? value : value, state.currency)}`;
}

function renderAll() {
  for (const id of stages.keys()) renderColumn(id);
}

function flash(id) {
  const card = boardNode.querySelector(`[data-deal-id="${id}"]`);
  if (!card) return;
  card.classList.remove("flash");
  void card.offsetWidth;
  card.classList.add("flash");
}

// Apply an authoritative deal record (from the server) if it is newer than what we show.
function upsert(deal) {
  const current = deals.get(deal.id);
  if (current && current.version > deal.version) return false;
  const from = current?.stage_id;
  deals.set(deal.id, { ...current, ...deal });
  renderColumn(deal.stage_id);
  if (from && from !== deal.stage_id) renderColumn(from);
  return true;
}

function remove(id) {
  const current = deals.get(id);
  if (!current) return;
  deals.delete(id);
  renderColumn(current.stage_id);
}

// Neighbours of the card at `index` in the target column, excluding the card itself.
function neighbours(stageId, dealId, index) {
  const others = sortedDeals(stageId).filter((d) => d.id !== dealId);
  return { before_id: others[index - 1]?.id ?? null, after_id: others[index]?.id ?? null };
}

async function move(dealId, stageId, index) {
  const deal = deals.get(dealId);
  if (!deal) return;
  const { before_id, after_id } = neighbours(stageId, dealId, index);
  const previous = { ...deal };
  // optimistic: place it between its new neighbours right away
  const before = before_id ? deals.get(before_id).position : "";
  const after = after_id ? deals.get(after_id).position : "~";
  deals.set(dealId, { ...deal, stage_id: stageId, position: before + "\u0000" < after ? before + "\u0000" : before });
  renderColumn(stageId);
  if (previous.stage_id !== stageId) renderColumn(previous.stage_id);
  try {
    const saved = await post(`/api/v1/orgs/${org.slug}/deals/${dealId}/move`, {
      stage_id: stageId, before_id, after_id, version: deal.version,
    });
    deals.set(dealId, saved);
    renderColumn(stageId);
    announce(`${saved.title} moved to ${stages.get(stageId).name}`);
  } catch (error) {
    const current = error instanceof ApiError ? error.body?.error?.current : null;
    deals.set(dealId, current || previous);
    renderColumn(stageId);
    renderColumn(previous.stage_id);
    if (current) renderColumn(current.stage_id);
    const message = error instanceof ApiError && error.status === 409
      ? `“${deal.title}” was changed by someone else; it is back where they left it.`
      : `Could not move “${deal.title}”: ${error.message}`;
    toast(message);
    announce(message);
  }
}

// Keyboard moves: Space picks up, arrows move, Space/Enter drops, Escape cancels.
let carrying = null;
function onCardKey(event) {
  const card = event.currentTarget;
  const id = Number(card.dataset.dealId);
  if (!state.can_write) return;
  if (!carrying && (event.key === " " || event.key === "Spacebar")) {
    event.preventDefault();
    const deal = deals.get(id);
    const index = sortedDeals(deal.stage_id).findIndex((d) => d.id === id);
    carrying = { id, stageId: deal.stage_id, index, origin: { stageId: deal.stage_id, index } };
    card.classList.add("moving");
    card.setAttribute("aria-grabbed", "true");
    announce(`Picked up ${deal.title}. Use arrow keys to move, Space to drop, Escape to cancel.`);
    return;
  }
  if (!carrying || carrying.id !== id) return;
  const order = [...stages.keys()];
  if (["ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown"].includes(event.key)) {
    event.preventDefault();
    let { stageId, index } = carrying;
    const col = order.indexOf(stageId);
    if (event.key === "ArrowLeft" && col > 0) [stageId, index] = [order[col - 1], 0];
    if (event.key === "ArrowRight" && col < order.length - 1) [stageId, index] = [order[col + 1], 0];
    const size = sortedDeals(stageId).filter((d) => d.id !== id).length;
    if (event.key === "ArrowUp") index = Math.max(0, index - 1);
    if (event.key === "ArrowDown") index = Math.min(size, index + 1);
    carrying = { ...carrying, stageId, index };
    const list = column(stageId);
    const siblings = [...list.children].filter((c) => c !== card);
    list.insertBefore(card, siblings[index] || null);
    card.focus();
    announce(`${stages.get(stageId).name}, position ${index + 1}`);
  } else if (event.key === " " || event.key === "Enter") {
    event.preventDefault();
    const { stageId, index, origin } = carrying;
    carrying = null;
    card.classList.remove("moving");
    card.removeAttribute("aria-grabbed");
    if (stageId !== origin.stageId || index !== origin.index) move(id, stageId, index).then(() => focusCard(id));
    else renderColumn(stageId);
  } else if (event.key === "Escape") {
    event.preventDefault();
    const { origin } = carrying;
    carrying = null;
    card.classList.remove("moving");
    card.removeAttribute("aria-grabbed");
    renderColumn(origin.stageId);
    renderAll();
    focusCard(id);
    announce("Move cancelled");
  }
}

function focusCard(id) {
  boardNode.querySelector(`[data-deal-id="${id}"]`)?.focus();
}

function setupDrag() {
  if (!state.can_write) return;
  for (const list of boardNode.querySelectorAll("[data-cards]")) {
    Sortable.create(list, {
      group: "deals",
      animation: 150,
      filter: "a",
      preventOnFilter: false,
      onEnd(event) {
        const dealId = Number(event.item.dataset.dealId);
        const stageId = Number(event.to.closest("[data-stage-id]").dataset.stageId);
        const visible = [...event.to.children].filter((c) => !c.hidden);
        const index = visible.indexOf(event.item);
        const deal = deals.get(dealId);
        const before = sortedDeals(deal.stage_id).findIndex((d) => d.id === dealId);
        if (deal.stage_id === stageId && before === index) return;
        move(dealId, stageId, index);
      },
    });
  }
}

function setupToolbar() {
  document.querySelector("[data-board-filter]")?.addEventListener("input", (event) => {
    filters.text = event.target.value.trim().toLowerCase();
    renderAll();
  });
  document.querySelector("[data-board-owner]")?.addEventListener("change", (event) => {
    filters.owner = event.target.value;
    renderAll();
  });
  const form = document.querySelector("[data-quick-add]");
  form?.addEventListener("submit", async (event) => {
    event.preventDefault();
    const title = form.elements.title.value.trim();
    const amount = Math.round(Number(form.elements.amount.value || 0) * 100);
    try {
      const deal = await post(`/api/v1/orgs/${org.slug}/deals`, { title, amount });
      upsert(deal);
      flash(deal.id);
      form.reset();
      announce(`Deal ${deal.title} added`);
    } catch (error) {
      toast(error.fields?.title || error.fields?.amount || error.message);
    }
  });
}

async function reload() {
  const fresh = await fetch(`/api/v1/orgs/${org.slug}/pipeline?per_stage=200`, { credentials: "same-origin" }).then((r) => r.json());
  deals.clear();
  for (const stage of fresh.stages) {
    stages.set(stage.id, { ...stages.get(stage.id), ...stage });
    for (const deal of stage.deals) deals.set(deal.id, deal);
  }
  renderAll();
}

function onEvent(event) {
  const data = event.data || {};
  switch (event.type) {
    case "deal.created":
    case "deal.updated":
    case "deal.moved":
      if (upsert(data) && event.actor !== shell.user.id) {
        flash(data.id);
        announce(`${data.title} ${event.type === "deal.moved" ? `moved to ${stages.get(data.stage_id)?.name}` : "updated"}`);
      }
      break;
    case "deal.deleted":
      remove(data.id);
      break;
    default:
      break;
  }
}

renderAll();
setupDrag();
setupToolbar();
const live = connectOrg(org, {
  seq: state.seq,
  onEvent,
  onResync: reload,
  onPresence(message) {
    if (message.topic === "board") renderPresence(document.querySelector("[data-presence]"), message.users, shell.user.id);
  },
});
live.enter("board");
window.tinycrm = { live, deals }; // for tests and debugging
