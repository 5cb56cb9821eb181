// Behaviour shared by every signed-in page: org switcher, sign out, global search.
import { get, post } from "./api.js";

function shell() {
  const node = document.getElementById("shell-state");
  return node ? JSON.parse(node.textContent || "{}") : {};
}

document.querySelector("[data-org-switch]")?.addEventListener("change", (event) => {
  window.location.assign(`/o/${encodeURIComponent(event.target.value)}/board`);
});

document.querySelector("[data-logout]")?.addEventListener("click", async () => {
  try {
    await post("/api/v1/auth/logout");
  } finally {
    window.location.assign("/login");
  }
});

const KIND_PATHS = { deal: "deals", contact: "contacts", company: "companies" };

function setupSearch() {
  const input = document.querySelector("[data-global-search]");
  const list = document.getElementById("global-search-results");
  const { org } = shell();
  if (!input || !list || !org) return;
  let timer = 0;
  let active = -1;
  let items = [];

  function close() {
    list.hidden = true;
    input.setAttribute("aria-expanded", "false");
    active = -1;
  }
  function open(target) {
    window.location.assign(`/o/${org.slug}/${KIND_PATHS[target.kind] || target.kind}/${target.id}`);
  }
  function render() {
    list.replaceChildren();
    items.forEach((item, index) => {
      const li = document.createElement("li");
      li.id = `search-option-${index}`;
      li.setAttribute("role", "option");
      li.setAttribute("aria-selected", String(index === active));
      const kind = document.createElement("span");
      kind.className = "kind";
      kind.textContent = item.kind;
      li.append(kind, document.createTextNode(item.title));
      li.addEventListener("mousedown", (event) => {
        event.preventDefault();
        open(item);
      });
      list.append(li);
    });
    if (!items.length) {
      const li = document.createElement("li");
      li.textContent = "No matches";
      list.append(li);
    }
    list.hidden = false;
    input.setAttribute("aria-expanded", "true");
    input.setAttribute("aria-activedescendant", active >= 0 ? `search-option-${active}` : "");
  }
  input.addEventListener("input", () => {
    window.clearTimeout(timer);
    const q = input.value.trim();
    if (!q) return close();
    timer = window.setTimeout(async () => {
      try {
        const result = await get(`/api/v1/orgs/${org.slug}/search?q=${encodeURIComponent(q)}&limit=8`);
        if (input.value.trim() !== q) return;
        items = result.items || [];
        active = items.length ? 0 : -1;
        render();
      } catch {
        close();
      }
    }, 120);
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      if (!items.length) return;
      active = (active + (event.key === "ArrowDown" ? 1 : -1) + items.length) % items.length;
      render();
    } else if (event.key === "Enter" && active >= 0 && items[active]) {
      event.preventDefault();
      open(items[active]);
    } else if (event.key === "Escape") {
      close();
    }
  });
  input.addEventListener("blur", () => window.setTimeout(close, 150));
  document.addEventListener("keydown", (event) => {
    const typing = event.target instanceof HTMLElement && event.target.closest("input, textarea, select, [contenteditable]");
    if ((event.key === "/" && !typing) || (event.key === "k" && (event.ctrlKey || event.metaKey))) {
      event.preventDefault();
      input.focus();
      input.select();
    }
  });
}

setupSearch();
