// The deal page: inline-editable fields (version-checked), the activity timeline, the deal's
// chat thread, who else has it open (topic deal:<id>), and live deal.*/activity.* updates.
import { announce, pageState, patch, toast } from "./lib/api.js";
import { dateField, idField, inlineEditor, intField, moneyField, textField } from "./lib/inline.js";
import { connectOrg, renderPresence } from "./lib/realtime.js";
import { byId, formatDate } from "./lib/records.js";
import { chatPanel } from "./lib/thread.js";
import { activityTimeline } from "./lib/timeline.js";

const state = pageState();
const shell = pageState("shell-state");
const org = shell.org;
const dealId = state.deal.id;
const members = byId(state.members);
const stages = byId(state.stages);
const contacts = byId(state.contacts);
const companies = byId(state.companies);
const nameIn = (map, fallback) => (id) => (id == null ? fallback : map.get(id)?.name ?? `#${id}`);

const fields = {
  title: textField,
  amount: { ...moneyField, describe: (v) => (v == null ? "" : String(v / 100)) },
  probability: { ...intField, describe: (v) => (v == null ? "" : `${v}%`) },
  stage_id: { ...idField, describe: nameIn(stages, "") },
  owner_id: { ...idField, describe: nameIn(members, "Unassigned") },
  contact_id: { ...idField, describe: nameIn(contacts, "No contact") },
  company_id: { ...idField, describe: nameIn(companies, "No company") },
  expected_close_date: { ...dateField, describe: formatDate },
};

function showHeader(deal) {
  document.querySelector("[data-record-title]").textContent = deal.title;
  document.title = `${deal.title} · Deals · TinyCRM`;
  const pill = document.querySelector("[data-deal-status]");
  const stage = stages.get(deal.stage_id);
  pill.textContent = deal.won_at ? "Won" : deal.lost_at ? "Lost" : stage ? stage.name : "";
  pill.dataset.kind = deal.won_at ? "won" : deal.lost_at ? "lost" : "open";
}

const editor = inlineEditor({
  form: document.querySelector("[data-record-form]"),
  record: state.deal,
  fields,
  noun: "deal",
  save: (changes) => patch(`/api/v1/orgs/${org.slug}/deals/${dealId}`, changes),
  onChange: showHeader,
});
showHeader(state.deal);

const timeline = activityTimeline({ org, items: state.activities, link: { deal_id: dealId }, canWrite: state.can_write, members });
const chat = chatPanel({ org, threadPath: `/api/v1/orgs/${org.slug}/deals/${dealId}/thread`, members, selfId: shell.user.id });

function onEvent(event) {
  const data = event.data || {};
  if (event.type.startsWith("deal.") && data.id === dealId) {
    if (event.type === "deal.deleted") {
      toast("This deal was deleted by someone else.");
      announce("This deal was deleted by someone else.");
      document.querySelector("[data-record-form]")?.querySelectorAll("input, select, button").forEach((n) => (n.disabled = true));
      return;
    }
    if (editor.applyRemote(data) && event.actor !== shell.user.id) announce(`${data.title} was updated by a teammate`);
  } else if (event.type.startsWith("activity.")) {
    timeline.apply(event);
  } else if (event.type === "chat.message") {
    chat.apply(event);
  }
}

async function resync() {
  const response = await fetch(`/api/v1/orgs/${org.slug}/deals/${dealId}`, { credentials: "same-origin" });
  if (response.ok) editor.applyRemote(await response.json());
}

const live = connectOrg(org, {
  seq: state.seq,
  onEvent,
  onResync: resync,
  onPresence(message) {
    if (message.topic === `deal:${dealId}`) renderPresence(document.querySelector("[data-presence]"), message.users, shell.user.id);
  },
});
live.enter(`deal:${dealId}`);
window.tinycrm = { live, editor }; // for tests and debugging
