// The notification inbox: newest first, unread ones marked; mark one or all read. New
// notifications arrive live; the shell's bell badge follows through lib/inbox-badge.js.
import { announce, ApiError, get, pageState, post } from "./lib/api.js";
import { connectOrg } from "./lib/realtime.js";
import { manageBadge, setUnread } from "./lib/inbox-badge.js";

const state = pageState();
const { org } = pageState("shell-state");
const base = `/api/v1/orgs/${org.slug}/notifications`;
const listNode = document.querySelector("[data-inbox]");
const summary = document.querySelector("[data-inbox-summary]");
const more = document.querySelector("[data-inbox-more]");
const items = new Map(state.notifications.items.map((n) => [n.id, n]));
let cursor = state.notifications.next_cursor;
let unread = state.notifications.unread_count;

const KIND_LABELS = {
  mention: "Mention",
  deal_assigned: "Deal assigned",
  deal_won: "Deal won",
  invitation: "Invitation",
  activity_due: "Activity due",
};

function target(n) {
  const data = n.data || {};
  if (n.kind === "mention" && data.channel_id) return `/o/${org.slug}/chat/${data.channel_id}#message-${data.message_id}`;
  if (data.deal_id) return `/o/${org.slug}/deals/${data.deal_id}`;
  if (data.contact_id) return `/o/${org.slug}/contacts/${data.contact_id}`;
  if (data.company_id) return `/o/${org.slug}/companies/${data.company_id}`;
  return null;
}

function item(n) {
  const li = document.createElement("li");
  li.className = n.read ? "notification" : "notification unread";
  li.dataset.notificationId = n.id;
  const head = document.createElement("div");
  head.className = "notification-head";
  const kind = document.createElement("span");
  kind.className = "kind";
  kind.textContent = KIND_LABELS[n.kind] || n.kind;
  const href = target(n);
  const title = document.createElement(href ? "a" : "strong");
  title.textContent = n.title;
  if (href) {
    title.href = href;
    title.addEventListener("click", () => !n.read && markRead([n.id]));
  }
  const when = document.createElement("time");
  when.dateTime = n.created_at;
  when.className = "muted";
  when.textContent = new Date(n.created_at).toLocaleString(undefined, { dateStyle: "short", timeStyle: "short" });
  head.append(kind, " ", title, " ", when);
  if (!n.read) {
    const status = document.createElement("span");
    status.className = "sr-only";
    status.textContent = "(unread)";
    head.prepend(status);
  }
  li.append(head);
  if (n.body) {
    const body = document.createElement("p");
    body.textContent = n.body;
    li.append(body);
  }
  if (!n.read) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "small";
    button.dataset.markRead = "";
    button.textContent = "Mark read";
    button.setAttribute("aria-label", `Mark read: ${n.title}`);
    button.addEventListener("click", () => markRead([n.id]));
    li.append(button);
  }
  return li;
}

function render() {
  // unread first, then newest first
  const ordered = [...items.values()].sort((a, b) => Number(a.read) - Number(b.read) || b.id - a.id);
  listNode.replaceChildren(...ordered.map(item));
  if (!ordered.length) {
    const li = document.createElement("li");
    li.className = "muted";
    li.textContent = "Nothing here yet. Mentions, assigned deals and wins will show up here.";
    listNode.append(li);
  }
  summary.textContent = unread ? `${unread} unread` : "All caught up";
  more.hidden = !cursor;
  setUnread(unread);
}

async function markRead(ids) {
  try {
    const result = await post(`${base}/read`, ids ? { ids } : { all: true });
    for (const n of items.values()) if (!ids || ids.includes(n.id)) n.read = true;
    unread = result.unread_count;
    render();
    announce(ids ? "Marked read" : "All notifications marked read");
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    announce(error.message);
  }
}

document.querySelector("[data-mark-all]").addEventListener("click", () => markRead(null));
more.addEventListener("click", async () => {
  const page = await get(`${base}?limit=50&cursor=${encodeURIComponent(cursor)}`);
  for (const n of page.items) items.set(n.id, n);
  cursor = page.next_cursor;
  render();
});

const live = connectOrg(org, {
  seq: state.seq,
  onResync: () => window.location.reload(),
  onEvent(event) {
    if (event.type === "notification.created" && !items.has(event.data.id)) {
      items.set(event.data.id, event.data);
      if (!event.data.read) unread += 1;
      render();
      announce(`New notification: ${event.data.title}`);
    } else if (event.type === "notification.read") {
      const ids = event.data.ids || [];
      for (const id of ids) {
        const n = items.get(id);
        if (n && !n.read) {
          n.read = true;
          unread = Math.max(0, unread - 1);
        }
      }
      render();
    }
  },
});

manageBadge();
render();
window.tinycrm = { live, items };
