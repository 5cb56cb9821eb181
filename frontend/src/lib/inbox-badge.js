// The bell's unread badge on every org page: the count is fetched once, then follows
// notification.created / notification.read events on the page's realtime connection (or a
// connection of its own on pages that have none).
import { get, pageState } from "./api.js";
import { connectOrg, currentConnection, onOrgEvent } from "./realtime.js";

let unread = 0;
let managed = false; // the inbox page keeps the count itself

export function manageBadge() {
  managed = true;
}

export function setUnread(count) {
  unread = Math.max(0, count);
  for (const badge of document.querySelectorAll("[data-unread-badge]")) {
    badge.textContent = unread > 99 ? "99+" : String(unread);
    badge.hidden = unread === 0;
    const bell = badge.closest("a");
    bell?.setAttribute("aria-label", unread ? `Notifications, ${unread} unread` : "Notifications");
  }
}

async function refresh(org) {
  try {
    const page = await get(`/api/v1/orgs/${org.slug}/notifications?unread=true&limit=1`);
    setUnread(page.unread_count);
  } catch {
    // the badge is a hint; a failed fetch leaves it as it was
  }
}

function start() {
  const { org } = pageState("shell-state");
  if (!org || !document.querySelector("[data-unread-badge]")) return;
  refresh(org);
  onOrgEvent((event) => {
    if (managed) return;
    // recount rather than add: a count fetched while the event was in flight already has it
    if (event.type === "notification.created" || event.type === "notification.read") refresh(org);
  });
  // page modules run before DOMContentLoaded: by now a page that connects has done so
  const { seq } = pageState();
  if (!currentConnection() && typeof seq === "number") connectOrg(org, { seq, onResync: () => refresh(org) });
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
