// Shell module loaded on every page: the light/dark theme.
//
// The theme lives in localStorage and is applied as data-theme on <html>.
// Any element with [data-theme-toggle] (use a <button>, so keyboard works)
// flips it. Without a stored choice the system preference is followed.

const KEY = "tinycrm.theme";
const THEMES = ["light", "dark"];
const root = document.documentElement;
const darkQuery = window.matchMedia("(prefers-color-scheme: dark)");

export function storedTheme() {
  try {
    const value = window.localStorage.getItem(KEY);
    return THEMES.includes(value) ? value : null;
  } catch {
    return null; // storage disabled (private mode, sandboxed frame)
  }
}

export function systemTheme() {
  return darkQuery.matches ? "dark" : "light";
}

export function currentTheme() {
  return THEMES.includes(root.dataset.theme) ? root.dataset.theme : storedTheme() ?? systemTheme();
}

export function applyTheme(theme, { persist = false } = {}) {
  if (!THEMES.includes(theme)) throw new Error(`unknown theme: ${theme}`);
  root.dataset.theme = theme;
  if (persist) {
    try {
      window.localStorage.setItem(KEY, theme);
    } catch {
      // not persisted; the choice still holds for this page
    }
  }
  for (const toggle of document.querySelectorAll("[data-theme-toggle]")) {
    toggle.setAttribute("aria-pressed", String(theme === "dark"));
  }
}

export function toggleTheme() {
  applyTheme(currentTheme() === "dark" ? "light" : "dark", { persist: true });
}

applyTheme(storedTheme() ?? systemTheme());

document.addEventListener("click", (event) => {
  const toggle = event.target instanceof Element && event.target.closest("[data-theme-toggle]");
  if (toggle) {
    event.preventDefault();
    toggleTheme();
  }
});

// Follow the system while the user has made no choice of their own.
darkQuery.addEventListener("change", () => {
  if (storedTheme() === null) applyTheme(systemTheme());
});

// Keep other tabs in step with a choice made in this one.
window.addEventListener("storage", (event) => {
  if (event.key === KEY) applyTheme(storedTheme() ?? systemTheme());
});
// Submit buttons of script-driven forms start disabled ([data-needs-js]): a click before the page's
// module attached its handler would submit natively, reload the page and drop (or leak into the URL)
// what was typed. Module scripts all run before DOMContentLoaded, so the handlers are in place now.
document.addEventListener("DOMContentLoaded", () => {
  for (const button of document.querySelectorAll("[data-needs-js]")) button.disabled = false;
});
import "./lib/shell.js";
import "./lib/inbox-badge.js";
