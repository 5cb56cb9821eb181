// A small chat panel for one channel (the deal's thread): recent history, send, live messages.
import { ApiError, get, post, showFormErrors, clearFormErrors, toast } from "./api.js";
import { el, formatDateTime } from "./records.js";

export function chatPanel({ org, threadPath, members, selfId }) {
  const list = document.querySelector("[data-messages]");
  const status = document.querySelector("[data-thread-status]");
  const form = document.querySelector("[data-thread-form]");
  const messages = new Map();
  let channel = null;

  function row(message) {
    const author = members.get(message.author_id);
    return el("li", { class: `message${message.author_id === selfId ? " mine" : ""}`, "data-message-id": message.id },
      el("p", { class: "meta muted" },
        el("strong", { text: author ? author.name : "Someone" }),
        " ",
        el("time", { datetime: message.created_at, text: formatDateTime(message.created_at) })),
      el("p", { class: "body", text: message.deleted_at ? "(deleted)" : message.body }));
  }

  function render() {
    const ordered = [...messages.values()].sort((a, b) => a.id - b.id);
    list.replaceChildren(...ordered.map(row));
    status.textContent = ordered.length ? "" : "No messages yet. Start the conversation.";
    list.scrollTop = list.scrollHeight;
  }

  function upsert(message) {
    const known = messages.get(message.id);
    if (known && (known.version ?? 0) > (message.version ?? 0)) return;
    messages.set(message.id, message);
    render();
  }

  async function load() {
    try {
      channel = await get(threadPath);
      const page = await get(`/api/v1/orgs/${org.slug}/channels/${channel.id}/messages?limit=50`);
      for (const message of page.items) messages.set(message.id, message);
      render();
    } catch (error) {
      status.textContent = `Chat is unavailable: ${error.message}`;
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = form.elements.body.value.trim();
    if (!body || !channel) return;
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const clientId = crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random()}`;
      const message = await post(`/api/v1/orgs/${org.slug}/channels/${channel.id}/messages`, { body, client_id: clientId });
      clearFormErrors(form);
      form.elements.body.value = "";
      upsert(message);
    } catch (error) {
      // the typed message stays in the box
      if (error instanceof ApiError && Object.keys(error.fields).length) showFormErrors(form, error);
      else toast(`Message not sent: ${error.message}`);
    } finally {
      button.disabled = false;
    }
  });
  form.elements.body.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      form.requestSubmit();
    }
  });

  load();

  return {
    apply(event) {
      if (event.type !== "chat.message" || !channel || event.data?.channel_id !== channel.id) return;
      if (event.data.message) upsert(event.data.message);
    },
  };
}
