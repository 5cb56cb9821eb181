// The realtime client: one socket per page, joined to the current org.
//
// Events are applied strictly in `seq` order, exactly once: duplicates are dropped, a gap
// buffers what came early and asks the server for the missing ones (org:join with
// after_seq), and a reconnect resumes from the last applied seq. When the server no longer
// keeps what was missed it says `resync` and the page reloads its state.
import { io } from "socket.io-client";

// Shell modules (the unread badge) share the page's connection instead of opening their own.
const listeners = new Set();
let current = null;

export function onOrgEvent(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function currentConnection() {
  return current;
}

export function connectOrg(org, { seq = 0, onEvent, onResync, onPresence, onStatus } = {}) {
  const socket = io({
    path: "/socket.io",
    transports: ["websocket", "polling"],
    withCredentials: true,
    reconnectionDelay: 500,
    reconnectionDelayMax: 8000,
    randomizationFactor: 0.5,
  });
  const state = { seq, pending: new Map(), topics: new Set(), joining: null };
  const status = document.querySelector("[data-connection]");

  function setStatus(connected) {
    if (status) status.hidden = connected;
    onStatus?.(connected);
  }

  function drain() {
    while (state.pending.has(state.seq + 1)) {
      const next = state.pending.get(state.seq + 1);
      state.pending.delete(state.seq + 1);
      state.seq = next.seq;
      onEvent?.(next);
      for (const listener of listeners) listener(next);
    }
    for (const key of state.pending.keys()) if (key <= state.seq) state.pending.delete(key);
  }

  function receive(event) {
    if (event.org !== org.id) return;
    if (event.seq === null || event.seq === undefined) {
      onEvent?.(event); // ephemeral (chat.typing): not in the outbox, nothing to order
      return;
    }
    if (event.seq <= state.seq || state.pending.has(event.seq)) return;
    state.pending.set(event.seq, event);
    drain();
    if (state.pending.size) join(); // a gap: fetch what is missing
  }

  async function join() {
    if (state.joining) return state.joining;
    state.joining = (async () => {
      try {
        const ack = await socket.timeout(8000).emitWithAck("org:join", { org: org.id, after_seq: state.seq });
        if (!ack || !ack.ok) return;
        if (ack.resync) {
          state.pending.clear();
          await onResync?.();
          state.seq = ack.seq;
        } else {
          for (const event of ack.events || []) if (event.seq > state.seq) state.pending.set(event.seq, event);
          drain();
          // an event can be "missing" only because it was not for us to see: skip past it
          if (ack.seq > state.seq && !state.pending.size) state.seq = ack.seq;
        }
        for (const topic of state.topics) socket.emit("presence:enter", { org: org.id, topic });
      } catch {
        // timed out: the next reconnect or gap retries
      } finally {
        state.joining = null;
      }
    })();
    return state.joining;
  }

  socket.on("connect", () => {
    setStatus(true);
    join();
  });
  socket.on("disconnect", () => setStatus(false));
  socket.io.on("reconnect_attempt", () => setStatus(false));
  socket.on("connect_error", () => setStatus(false));
  socket.on("event", receive);
  socket.on("presence", (message) => {
    if (message.org === org.id) onPresence?.(message);
  });
  socket.on("session:revoked", () => window.location.assign("/login"));

  current = {
    socket,
    get seq() {
      return state.seq;
    },
    enter(topic) {
      state.topics.add(topic);
      if (socket.connected) socket.emit("presence:enter", { org: org.id, topic });
    },
    leave(topic) {
      state.topics.delete(topic);
      if (socket.connected) socket.emit("presence:leave", { org: org.id, topic });
    },
    async send(event, payload) {
      return socket.timeout(8000).emitWithAck(event, { org: org.id, ...payload });
    },
  };
  return current;
}

export function renderPresence(container, users, selfId) {
  if (!container) return;
  container.replaceChildren();
  for (const user of users) {
    const badge = document.createElement("span");
    badge.className = "avatar";
    badge.title = user.id === selfId ? `${user.name} (you)` : user.name;
    badge.textContent = initials(user.name);
    badge.setAttribute("role", "img");
    badge.setAttribute("aria-label", badge.title);
    container.append(badge);
  }
}

export function initials(name) {
  return (name || "?")
    .split(/\s+/)
    .filter(Boolean)
    .slice(0, 2)
    .map((part) => part[0].toUpperCase())
    .join("");
}
