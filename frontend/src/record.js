// Contact and company pages: their fields (inline, version-checked), their deals, (for a company)
// its people, and the activity timeline; live on contact.*/company.*/deal.*/activity.* events.
import { announce, money, pageState, patch, toast } from "./lib/api.js";
import { idField, inlineEditor, optionalText, textField } from "./lib/inline.js";
import { connectOrg } from "./lib/realtime.js";
import { byId, el, isNewer, personName } from "./lib/records.js";
import { activityTimeline } from "./lib/timeline.js";

const state = pageState();
const shell = pageState("shell-state");
const org = shell.org;
const kind = state.kind; // "contact" | "company"
const plural = kind === "contact" ? "contacts" : "companies";
const recordId = state.record.id;
const members = byId(state.members);
const stages = byId(state.stages);
const companies = byId(state.companies || []);
const deals = new Map(state.deals.map((d) => [d.id, d]));
const people = new Map((state.people || []).map((p) => [p.id, p]));
const linkKey = `${kind}_id`;
const owner = { ...idField, describe: (id) => (id == null ? "Unassigned" : members.get(id)?.name ?? `#${id}`) };

const fields = kind === "contact"
  ? {
      first_name: textField,
      last_name: textField,
      email: optionalText,
      phone: optionalText,
      title: optionalText,
      company_id: { ...idField, describe: (id) => (id == null ? "No company" : companies.get(id)?.name ?? `#${id}`) },
      owner_id: owner,
    }
  : { name: textField, domain: optionalText, phone: optionalText, address: optionalText, owner_id: owner };

const titleOf = (record) => (kind === "contact" ? personName(record) : record.name);

const editor = inlineEditor({
  form: document.querySelector("[data-record-form]"),
  record: state.record,
  fields,
  noun: kind,
  save: (changes) => patch(`/api/v1/orgs/${org.slug}/${plural}/${recordId}`, changes),
  onChange(record) {
    document.querySelector("[data-record-title]").textContent = titleOf(record);
    document.title = `${titleOf(record)} · TinyCRM`;
  },
});

function renderDeals() {
  const body = document.querySelector("[data-related-deals]");
  const ordered = [...deals.values()].sort((a, b) => (a.updated_at < b.updated_at ? 1 : -1));
  body.replaceChildren(...ordered.map((deal) => el("tr", { "data-deal-id": deal.id },
    el("td", {}, el("a", { href: `/o/${org.slug}/deals/${deal.id}`, text: deal.title })),
    el("td", { text: deal.won_at ? "Won" : deal.lost_at ? "Lost" : stages.get(deal.stage_id)?.name ?? "" }),
    el("td", { class: "num", text: money(deal.amount, deal.currency) }))));
  document.querySelector("[data-deals-empty]").hidden = ordered.length > 0;
}

function renderPeople() {
  const list = document.querySelector("[data-people]");
  if (!list) return;
  const ordered = [...people.values()].sort((a, b) => personName(a).localeCompare(personName(b)));
  list.replaceChildren(...ordered.map((p) => el("li", {},
    el("a", { href: `/o/${org.slug}/contacts/${p.id}`, text: personName(p) }),
    p.title ? el("span", { class: "muted", text: ` · ${p.title}` }) : null)));
  document.querySelector("[data-people-empty]").hidden = ordered.length > 0;
}

// Keep a related-record map in step: in it while it points at us, out once it does not.
function follow(map, data, deleted, render) {
  const mine = !deleted && data[linkKey] === recordId;
  if (mine && isNewer(map.get(data.id), data)) map.set(data.id, data);
  else if (!mine && !map.delete(data.id)) return;
  render();
}

const timeline = activityTimeline({ org, items: state.activities, link: { [linkKey]: recordId }, canWrite: state.can_write, members });

function onEvent(event) {
  const data = event.data || {};
  const [type, action] = event.type.split(".");
  if (type === kind && data.id === recordId) {
    if (action === "deleted") {
      toast(`This ${kind} was deleted by someone else.`);
      announce(`This ${kind} was deleted by someone else.`);
    } else if (editor.applyRemote(data) && event.actor !== shell.user.id) {
      announce(`${titleOf(data)} was updated by a teammate`);
    }
  } else if (type === "deal") {
    follow(deals, data, action === "deleted", renderDeals);
  } else if (type === "contact" && kind === "company") {
    follow(people, data, action === "deleted", renderPeople);
  } else if (type === "activity") {
    timeline.apply(event);
  }
}

renderDeals();
renderPeople();
// Too much was missed to replay: refetch what this page shows (typed edits are kept by the editor).
async function resync() {
  const base = `/api/v1/orgs/${org.slug}`;
  const [record, related] = await Promise.all([
    fetch(`${base}/${plural}/${recordId}`, { credentials: "same-origin" }).then((r) => (r.ok ? r.json() : null)),
    fetch(`${base}/deals?${kind}=${recordId}&limit=200`, { credentials: "same-origin" }).then((r) => (r.ok ? r.json() : null)),
  ]);
  if (record) editor.applyRemote(record);
  if (related) {
    deals.clear();
    for (const deal of related.items) deals.set(deal.id, deal);
    renderDeals();
  }
}

const live = connectOrg(org, { seq: state.seq, onEvent, onResync: resync });
window.tinycrm = { live, editor };
