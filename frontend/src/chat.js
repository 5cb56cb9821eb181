// Team chat: channels, DMs and deal threads with unread counts; history loads on scroll up
// (keyset); messages are sent over the socket with a client_id so a retry never posts twice;
// own messages can be edited and deleted; typing, read positions and mentions (with
// autocomplete) go live both ways; message search.
import { announce, ApiError, clearFormErrors, del, formData, get, pageState, patch, post, showFormErrors } from "./lib/api.js";
import { connectOrg, renderPresence } from "./lib/realtime.js";
import { setupMentions } from "./lib/mentions.js";

const state = pageState();
const shell = pageState("shell-state");
const org = shell.org;
const me = shell.user;
const base = `/api/v1/orgs/${org.slug}`;
const members = new Map(state.members.map((m) => [m.id, m]));
const channels = new Map(state.channels.map((c) => [c.id, c]));
const channelId = state.channel_id;
const messages = new Map(); // id -> message, the open channel only
const pending = new Map(); // client_id -> body, sent but not yet acknowledged
const list = document.querySelector("[data-messages]");
const pane = document.querySelector("[data-message-pane]");
const olderButton = document.querySelector("[data-load-older]");
const typingNode = document.querySelector("[data-typing]");
const typists = new Map(); // user id -> timer
let olderCursor = state.messages.next_cursor;
let loadingOlder = false;
let readSent = 0;

const TYPING_EVERY_MS = 3000;
const TYPING_SHOWN_MS = 5000;

// --- channel list --------------------------------------------------------------------------

function channelTitle(channel) {
  if (channel.kind === "dm") {
    const others = channel.member_ids.filter((id) => id !== me.id).map((id) => members.get(id)?.name || "Someone");
    return others.length ? others.join(", ") : `${me.name} (you)`;
  }
  if (channel.kind === "deal") return channel.deal_title || `Deal #${channel.deal_id}`;
  return `${channel.kind === "private" ? "🔒 " : "# "}${channel.name}`;
}

function renderChannels() {
  for (const ul of document.querySelectorAll("[data-channel-list]")) {
    const kinds = ul.dataset.channelList.split(" ");
    const items = [...channels.values()].filter((c) => kinds.includes(c.kind));
    items.sort((a, b) => channelTitle(a).localeCompare(channelTitle(b)));
    ul.replaceChildren(...items.map(channelItem));
    if (!items.length) {
      const li = document.createElement("li");
      li.className = "muted";
      li.textContent = "None yet";
      ul.append(li);
    }
  }
}

function channelItem(channel) {
  const li = document.createElement("li");
  const link = document.createElement("a");
  link.href = `/o/${org.slug}/chat/${channel.id}`;
  link.dataset.channelId = channel.id;
  link.textContent = channelTitle(channel);
  if (channel.id === channelId) link.setAttribute("aria-current", "page");
  const unread = channel.id === channelId ? 0 : channel.unread_count;
  if (unread > 0) {
    const badge = document.createElement("span");
    badge.className = "badge";
    badge.dataset.unread = "";
    badge.textContent = String(unread);
    link.append(" ", badge);
    link.setAttribute("aria-label", `${channelTitle(channel)}, ${unread} unread`);
  }
  li.append(link);
  return li;
}

// Deal threads are named after their deal: fetched once, lazily.
async function nameDealThreads() {
  for (const channel of channels.values()) {
    if (channel.kind !== "deal" || channel.deal_title) continue;
    try {
      channel.deal_title = (await get(`${base}/deals/${channel.deal_id}`)).title;
    } catch {
      channel.deal_title = `Deal #${channel.deal_id}`;
    }
  }
  renderChannels();
  renderHeading();
}

function renderHeading() {
  const channel = channels.get(channelId);
  if (!channel) return;
  const heading = document.querySelector("[data-channel-name]");
  heading.textContent = channelTitle(channel);
  if (channel.kind === "deal") {
    const link = document.createElement("a");
    link.href = `/o/${org.slug}/deals/${channel.deal_id}`;
    link.textContent = "Open deal";
    link.className = "head-link";
    heading.append(" ", link);
  }
}

// --- messages ------------------------------------------------------------------------------

function time(iso) {
  const when = new Date(iso);
  return when.toLocaleString(undefined, { dateStyle: "short", timeStyle: "short" });
}

// The body as text nodes, with @mentions of the message's mentioned people highlighted.
function bodyNodes(message) {
  const mentioned = new Set(message.mentions || []);
  const nodes = [];
  let last = 0;
  for (const match of message.body.matchAll(/@([\p{L}\p{N}._-]+)/gu)) {
    const token = match[1].replace(/[._-]+$/, "").toLowerCase();
    const who = [...members.values()].find(
      (m) => mentioned.has(m.id) && (m.handle.toLowerCase() === token || m.name.replace(/\s+/g, "").toLowerCase() === token || m.name.split(/\s+/)[0].toLowerCase() === token),
    );
    if (!who) continue;
    nodes.push(document.createTextNode(message.body.slice(last, match.index)));
    const mark = document.createElement("mark");
    mark.className = who.id === me.id ? "mention me" : "mention";
    mark.textContent = `@${match[1]}`;
    nodes.push(mark);
    last = match.index + match[0].length;
  }
  nodes.push(document.createTextNode(message.body.slice(last)));
  return nodes;
}

function messageNode(message, { searchResult = false } = {}) {
  const li = document.createElement("li");
  li.className = "message";
  li.id = searchResult ? `result-${message.id}` : `message-${message.id}`;
  li.dataset.messageId = message.id;
  if (message.author_id === me.id) li.classList.add("mine");
  if ((message.mentions || []).includes(me.id)) li.classList.add("mentions-me");
  const meta = document.createElement("div");
  meta.className = "meta";
  const author = document.createElement("strong");
  author.textContent = members.get(message.author_id)?.name || "Former member";
  const when = document.createElement("time");
  when.dateTime = message.created_at;
  when.textContent = time(message.created_at);
  meta.append(author, " ", when);
  if (searchResult) {
    const channel = channels.get(message.channel_id);
    const link = document.createElement("a");
    link.href = `/o/${org.slug}/chat/${message.channel_id}#message-${message.id}`;
    link.textContent = `in ${channel ? channelTitle(channel) : "a conversation"}`;
    meta.append(" ", link);
  }
  if (message.edited_at && !message.deleted_at) meta.append(" ", Object.assign(document.createElement("span"), { className: "muted", textContent: "(edited)" }));
  const body = document.createElement("div");
  body.className = "body";
  if (message.deleted_at) {
    body.classList.add("muted");
    body.textContent = "Message deleted";
  } else {
    body.append(...bodyNodes(message));
  }
  li.append(meta, body);
  if (!searchResult && message.author_id === me.id && !message.deleted_at && state.can_write) {
    const actions = document.createElement("div");
    actions.className = "message-actions";
    actions.append(actionButton("Edit", () => startEdit(message.id)), actionButton("Delete", () => removeMessage(message.id)));
    li.append(actions);
  }
  return li;
}

function actionButton(label, onClick) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "ghost small";
  button.textContent = label;
  button.addEventListener("click", onClick);
  return button;
}

function nearBottom() {
  return pane.scrollHeight - pane.scrollTop - pane.clientHeight < 80;
}

function scrollToBottom() {
  pane.scrollTop = pane.scrollHeight;
}

// Insert or replace a message, keeping the list in id order (ids grow with time).
function upsert(message) {
  messages.set(message.id, message);
  const node = messageNode(message);
  const existing = document.getElementById(`message-${message.id}`);
  if (existing) {
    existing.replaceWith(node);
    return;
  }
  const later = [...list.children].find((li) => li.dataset.messageId && Number(li.dataset.messageId) > message.id);
  list.insertBefore(node, later || null);
}

function showPending(clientId, body) {
  const li = messageNode({ id: 0, author_id: me.id, body, created_at: new Date().toISOString(), mentions: [] });
  li.id = `pending-${clientId}`;
  li.removeAttribute("data-message-id");
  li.classList.add("pending");
  li.querySelector(".message-actions")?.remove();
  const note = document.createElement("span");
  note.className = "muted";
  note.dataset.pendingNote = "";
  note.textContent = "Sending…";
  li.querySelector(".meta").append(" ", note);
  list.append(li);
  scrollToBottom();
}

function settlePending(message) {
  if (message.client_id && pending.has(message.client_id)) {
    pending.delete(message.client_id);
    document.getElementById(`pending-${message.client_id}`)?.remove();
  }
}

async function loadOlder() {
  if (!olderCursor || loadingOlder || !channelId) return;
  loadingOlder = true;
  const before = pane.scrollHeight - pane.scrollTop;
  try {
    const page = await get(`${base}/channels/${channelId}/messages?limit=50&before=${encodeURIComponent(olderCursor)}`);
    for (const message of page.items) upsert(message);
    olderCursor = page.next_cursor;
    pane.scrollTop = pane.scrollHeight - before; // keep what was on screen in place
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    announce(error.message);
  } finally {
    loadingOlder = false;
    olderButton.hidden = !olderCursor;
  }
}

// --- sending, editing, deleting --------------------------------------------------------------

async function send(body, clientId, attempt = 0) {
  try {
    let message;
    if (live.socket.connected) {
      const ack = await live.send("chat:send", { channel: channelId, body, client_id: clientId });
      if (!ack.ok) throw new ApiError(422, { error: ack.error });
      message = ack.message;
    } else {
      message = await post(`${base}/channels/${channelId}/messages`, { body, client_id: clientId });
    }
    settlePending(message);
    upsert(message);
    scrollToBottom();
    readSent = Math.max(readSent, message.id); // posting moves one's own read position
  } catch (error) {
    const transient = !(error instanceof ApiError) || error.status === 0 || error.status >= 500 || error.code === "rate_limited";
    if (transient && attempt < 4) {
      // the same client_id: if the first try was stored, the retry answers it instead of posting again
      window.setTimeout(() => send(body, clientId, attempt + 1), 500 * 2 ** attempt);
      return;
    }
    const node = document.getElementById(`pending-${clientId}`);
    node?.classList.add("failed");
    const note = node?.querySelector("[data-pending-note]");
    if (note) note.textContent = `Not sent: ${error.message || "no connection"}`;
    if (node && !node.querySelector("[data-retry]")) {
      const retry = actionButton("Retry", () => {
        node.classList.remove("failed");
        note.textContent = "Sending…";
        retry.remove();
        send(body, clientId);
      });
      retry.dataset.retry = "";
      node.append(retry);
    }
  }
}

function startEdit(id) {
  const message = messages.get(id);
  const li = document.getElementById(`message-${id}`);
  if (!message || !li) return;
  const form = document.createElement("form");
  form.className = "edit-form";
  form.innerHTML = '<p class="form-error" role="alert" data-form-error hidden></p><textarea name="body" rows="2" maxlength="4000" aria-label="Edit message"></textarea><button class="primary small" type="submit">Save</button> <button class="small" type="button" data-cancel>Cancel</button>';
  const input = form.querySelector("textarea");
  input.value = message.body;
  li.querySelector(".body").replaceWith(form);
  li.querySelector(".message-actions")?.remove();
  input.focus();
  form.querySelector("[data-cancel]").addEventListener("click", () => upsert(messages.get(id)));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const saved = await patch(`${base}/channels/${channelId}/messages/${id}`, { body: input.value, version: message.version });
      upsert(saved);
      announce("Message edited");
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      if (error.code === "version_conflict" && error.body?.error?.current) messages.set(id, error.body.error.current);
      showFormErrors(form, error); // the typed text stays in the box
    }
  });
}

async function removeMessage(id) {
  try {
    await del(`${base}/channels/${channelId}/messages/${id}`);
    const message = messages.get(id);
    upsert({ ...message, body: "", mentions: [], deleted_at: new Date().toISOString() });
    announce("Message deleted");
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    announce(error.message);
  }
}

// --- read position and typing ----------------------------------------------------------------

function lastMessageId() {
  let last = 0;
  for (const id of messages.keys()) if (id > last) last = id;
  return last;
}

async function markRead() {
  const last = lastMessageId();
  if (!channelId || !last || last <= readSent || document.visibilityState !== "visible" || !nearBottom()) return;
  readSent = last;
  const channel = channels.get(channelId);
  if (channel) channel.unread_count = 0;
  try {
    if (live.socket.connected) await live.send("chat:read", { channel: channelId, message_id: last });
    else await post(`${base}/channels/${channelId}/read`, { message_id: last });
  } catch {
    readSent = 0; // try again on the next chance
  }
}

let typingSentAt = 0;
function sendTyping() {
  const now = Date.now();
  if (now - typingSentAt < TYPING_EVERY_MS || !live.socket.connected) return;
  typingSentAt = now;
  live.socket.emit("chat:typing", { org: org.id, channel: channelId });
}

function renderTyping() {
  const names = [...typists.keys()].map((id) => members.get(id)?.name || "Someone");
  typingNode.textContent = names.length === 0 ? "" : names.length === 1 ? `${names[0]} is typing…` : `${names.join(", ")} are typing…`;
}

function showTyping(userId) {
  if (userId === me.id) return;
  window.clearTimeout(typists.get(userId));
  typists.set(userId, window.setTimeout(() => {
    typists.delete(userId);
    renderTyping();
  }, TYPING_SHOWN_MS));
  renderTyping();
}

function stopTyping(userId) {
  window.clearTimeout(typists.get(userId));
  if (typists.delete(userId)) renderTyping();
}

// --- live events ---------------------------------------------------------------------------

async function ensureChannel(id) {
  if (channels.has(id)) return channels.get(id);
  try {
    const channel = await get(`${base}/channels/${id}`);
    channels.set(channel.id, channel);
    if (channel.kind === "deal") await nameDealThreads();
    return channel;
  } catch {
    return null;
  }
}

async function onEvent(event) {
  const data = event.data || {};
  if (event.type === "chat.message") {
    const message = data.message;
    if (data.channel_id === channelId) {
      const stick = nearBottom();
      settlePending(message);
      upsert(message);
      if (data.action === "created") {
        stopTyping(message.author_id);
        if (message.author_id !== me.id) announce(`${members.get(message.author_id)?.name || "Someone"}: ${message.body}`);
        if (stick) scrollToBottom();
        markRead();
      }
    } else if (data.action === "created" && message.author_id !== me.id) {
      const channel = await ensureChannel(data.channel_id);
      if (channel && channel.last_message_id !== message.id) {
        channel.unread_count = (channel.unread_count || 0) + 1;
        channel.last_message_id = message.id;
      }
      renderChannels();
    }
  } else if (event.type === "chat.read" && data.user_id === me.id) {
    const channel = channels.get(data.channel_id);
    if (channel) {
      channel.unread_count = 0;
      renderChannels();
    }
  } else if (event.type === "chat.channel") {
    const channel = data.channel;
    if (data.removed_user_id === me.id) channels.delete(channel.id);
    else channels.set(channel.id, { ...channels.get(channel.id), ...channel, unread_count: channels.get(channel.id)?.unread_count ?? channel.unread_count ?? 0 });
    renderChannels();
    if (channel.id === channelId) renderHeading();
  }
}

const live = connectOrg(org, {
  seq: state.seq,
  onEvent,
  onResync: () => window.location.reload(),
  onPresence: (message) => {
    if (message.topic === `channel:${channelId}`) renderPresence(document.querySelector("[data-presence]"), message.users, me.id);
  },
});
// typing is not stored (no seq), so it bypasses the in-order event queue
live.socket.on("event", (event) => {
  if (event.type === "chat.typing" && event.org === org.id && event.data.channel_id === channelId) showTyping(event.data.user_id);
});
if (channelId) live.enter(`channel:${channelId}`);

// --- forms ---------------------------------------------------------------------------------

function setupComposer() {
  const form = document.querySelector("[data-composer]");
  if (!form) return;
  const input = form.elements.namedItem("body");
  const mentions = setupMentions(input, document.querySelector("[data-mention-list]"), [...members.values()].filter((m) => m.id !== me.id));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearFormErrors(form);
    const body = input.value.trim();
    if (!body) return;
    if (body.length > 4000) {
      showFormErrors(form, new ApiError(413, { error: { message: "A message can have at most 4,000 characters." } }));
      return;
    }
    const clientId = crypto.randomUUID();
    pending.set(clientId, body);
    showPending(clientId, body);
    input.value = "";
    send(body, clientId);
  });
  input.addEventListener("keydown", (event) => {
    if (mentions.handleKey(event)) return;
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  input.addEventListener("input", () => {
    if (input.value.trim()) sendTyping();
  });
}

function setupCreateForms() {
  const channelForm = document.querySelector("[data-new-channel]");
  channelForm?.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearFormErrors(channelForm);
    const data = formData(channelForm);
    const memberIds = [...channelForm.elements.namedItem("member_ids").selectedOptions].map((o) => Number(o.value));
    try {
      const channel = await post(`${base}/channels`, { kind: data.private ? "private" : "public", name: data.name, member_ids: memberIds });
      window.location.assign(`/o/${org.slug}/chat/${channel.id}`);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      showFormErrors(channelForm, error);
    }
  });
  const dmForm = document.querySelector("[data-new-dm]");
  dmForm?.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearFormErrors(dmForm);
    try {
      const channel = await post(`${base}/channels`, { kind: "dm", member_ids: [Number(formData(dmForm).member_id)] });
      window.location.assign(`/o/${org.slug}/chat/${channel.id}`);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      showFormErrors(dmForm, error);
    }
  });
}

function setupSearch() {
  const form = document.querySelector("[data-chat-search]");
  const panel = document.querySelector("[data-search-panel]");
  const results = document.querySelector("[data-search-results]");
  const title = document.querySelector("[data-search-title]");
  function close() {
    panel.hidden = true;
    pane.hidden = false;
  }
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const q = form.elements.namedItem("q").value.trim();
    if (!q) return close();
    try {
      const page = await get(`${base}/chat/search?q=${encodeURIComponent(q)}&limit=50`);
      for (const message of page.items) await ensureChannel(message.channel_id);
      results.replaceChildren(...page.items.map((m) => messageNode(m, { searchResult: true })));
      title.textContent = page.items.length ? `${page.items.length} result${page.items.length === 1 ? "" : "s"} for “${q}”` : `No messages match “${q}”`;
      panel.hidden = false;
      pane.hidden = true;
      title.tabIndex = -1;
      title.focus();
      announce(title.textContent);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      announce(error.message);
    }
  });
  document.querySelector("[data-search-close]").addEventListener("click", () => {
    close();
    form.elements.namedItem("q").focus();
  });
}

// --- start ---------------------------------------------------------------------------------

for (const message of [...state.messages.items].reverse()) upsert(message);
const startChannel = channels.get(channelId);
if (startChannel) readSent = startChannel.last_read_message_id || 0;
renderChannels();
renderHeading();
// a deal thread one has not joined yet is not in one's list: fetch it for the heading
if (channelId && !startChannel) ensureChannel(channelId).then(() => (renderChannels(), renderHeading()));
nameDealThreads();
olderButton.hidden = !olderCursor;
olderButton.addEventListener("click", loadOlder);
pane.addEventListener("scroll", () => {
  if (pane.scrollTop < 60) loadOlder();
  markRead();
});
document.addEventListener("visibilitychange", markRead);
const target = window.location.hash && document.querySelector(window.location.hash.replace(/[^#\w-]/g, ""));
if (target) target.scrollIntoView({ block: "center" });
else scrollToBottom();
markRead();
setupComposer();
setupCreateForms();
setupSearch();

window.tinycrm = { live, channels, messages }; // for tests and debugging
