// The API from the browser: same-origin fetch with the session cookie, JSON both ways,
// and DESIGN.md's error body turned into an ApiError with `fields` for forms.

export class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || `Request failed (${status})`);
    this.status = status;
    this.code = error.code || "error";
    this.fields = error.fields || {};
    this.body = body;
  }
}

export async function api(method, path, body, { headers = {} } = {}) {
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json", ...headers } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path.startsWith("/") ? path : `/api/v1/${path}`, init);
  } catch (cause) {
    throw new ApiError(0, { error: { code: "network", message: "Cannot reach the server. Check your connection." } });
  }
  if (response.status === 204) return null;
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

export const get = (path) => api("GET", path);
export const post = (path, body) => api("POST", path, body ?? {});
export const patch = (path, body) => api("PATCH", path, body);
export const del = (path) => api("DELETE", path);

// Show an ApiError on a form: messages next to their fields, the rest at the top.
export function showFormErrors(form, error) {
  clearFormErrors(form);
  const top = form.querySelector("[data-form-error]");
  let placed = false;
  for (const [name, message] of Object.entries(error.fields || {})) {
    const slot = form.querySelector(`[data-field-error="${CSS.escape(name)}"]`);
    const input = form.elements.namedItem(name);
    if (slot) {
      slot.textContent = message;
      placed = true;
    }
    if (input instanceof HTMLElement) {
      input.setAttribute("aria-invalid", "true");
      if (slot && slot.id) input.setAttribute("aria-describedby", slot.id);
    }
  }
  if (top && (!placed || !Object.keys(error.fields || {}).length)) {
    top.textContent = error.message;
    top.hidden = false;
  }
  const firstInvalid = form.querySelector('[aria-invalid="true"]');
  (firstInvalid || top)?.focus?.();
}

export function clearFormErrors(form) {
  for (const slot of form.querySelectorAll("[data-field-error]")) slot.textContent = "";
  for (const input of form.querySelectorAll('[aria-invalid="true"]')) input.removeAttribute("aria-invalid");
  const top = form.querySelector("[data-form-error]");
  if (top) {
    top.textContent = "";
    top.hidden = true;
  }
}

export function formData(form) {
  const data = {};
  for (const [key, value] of new FormData(form).entries()) data[key] = typeof value === "string" ? value.trim() : value;
  return data;
}

export function pageState(id = "page-state") {
  const node = document.getElementById(id);
  return node ? JSON.parse(node.textContent || "{}") : {};
}

export function announce(message) {
  const region = document.getElementById("live-region");
  if (!region) return;
  region.textContent = "";
  window.setTimeout(() => (region.textContent = message), 30);
}

export function toast(message, { timeout = 4000 } = {}) {
  const node = document.createElement("div");
  node.className = "toast";
  node.setAttribute("role", "status");
  node.textContent = message;
  document.body.append(node);
  window.setTimeout(() => node.remove(), timeout);
}

export function money(minor, currency = "USD") {
  try {
    return new Intl.NumberFormat(undefined, { style: "currency", currency, maximumFractionDigits: 0 }).format(minor / 100);
  } catch {
    return `${(minor / 100).toFixed(0)} ${currency}`;
  }
}
