// Inline editing of one record's fields with optimistic concurrency.
//
// Every save sends the record's `version`. A field the user has changed ("dirty": its value
// differs from what was last filled in) is never overwritten: not by live updates, not by a
// 409. When someone else changed the record under the user's edits, a conflict banner shows
// their values next to the fields and the user chooses: save mine (on top of theirs) or use theirs.
import { ApiError, announce, clearFormErrors, showFormErrors, toast } from "./api.js";

export const textField = { parse: (v) => v.trim(), format: (v) => v ?? "" };
export const optionalText = { parse: (v) => v.trim() || null, format: (v) => v ?? "" };
export const idField = { parse: (v) => (v === "" ? null : Number(v)), format: (v) => (v == null ? "" : String(v)) };
export const dateField = { parse: (v) => v || null, format: (v) => v ?? "" };
export const intField = {
  parse: (v) => (v.trim() === "" ? null : Number(v)),
  format: (v) => (v == null ? "" : String(v)),
};
export const moneyField = {
  parse: (v) => (v.trim() === "" ? null : Math.round(Number(v) * 100)),
  format: (v) => (v == null ? "" : String(v / 100)),
};

const same = (a, b) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

/**
 * form: the <form data-record-form>; fields: {name: {parse, format, describe?}};
 * save(changes) -> the saved record (changes carry `version`); onChange(record) after any new record.
 */
export function inlineEditor({ form, record, fields, save, onChange, noun = "record" }) {
  const banner = document.querySelector("[data-conflict]");
  const status = form.querySelector("[data-save-status]");
  const base = {}; // field -> the value last put into its input
  let current = record;
  let conflict = null;
  let queue = Promise.resolve();

  const input = (name) => form.elements.namedItem(name);
  const typed = (name) => fields[name].parse(input(name).value);
  const describe = (name, value) => (fields[name].describe ? fields[name].describe(value) : value ?? "") || "(empty)";

  function isDirty(name) {
    return !same(typed(name), base[name]);
  }

  function dirtyNames() {
    return Object.keys(fields).filter((name) => input(name) && isDirty(name));
  }

  // Show `record` in every field the user has not changed.
  function fill(next, { force = false } = {}) {
    for (const name of Object.keys(fields)) {
      const node = input(name);
      if (!node || (!force && isDirty(name))) continue;
      node.value = fields[name].format(next[name]);
      base[name] = next[name] ?? null;
    }
  }

  function showTheirs(next) {
    for (const name of Object.keys(fields)) {
      const slot = form.querySelector(`[data-theirs="${name}"]`);
      if (!slot) continue;
      const differs = next && isDirty(name) && !same(next[name], typed(name));
      slot.hidden = !differs;
      slot.textContent = differs ? `Their value: ${describe(name, next[name])}` : "";
    }
  }

  function setStatus(text) {
    if (status) status.textContent = text;
  }

  function enterConflict(next) {
    conflict = next;
    current = next;
    fill(next);
    showTheirs(next);
    onChange?.(next);
    if (banner) {
      banner.hidden = false;
      banner.focus();
    }
    setStatus("Not saved");
    announce(`This ${noun} was changed by someone else. Your changes are kept; choose to save yours or use theirs.`);
  }

  function leaveConflict() {
    conflict = null;
    if (banner) banner.hidden = true;
    showTheirs(null);
  }

  async function saveDirty() {
    if (conflict) return;
    const names = dirtyNames();
    if (!names.length) return;
    const changes = { version: current.version };
    for (const name of names) changes[name] = typed(name);
    setStatus("Saving…");
    try {
      const saved = await save(changes);
      clearFormErrors(form);
      current = saved;
      for (const name of names) base[name] = saved[name] ?? null;
      fill(saved);
      onChange?.(saved);
      setStatus(dirtyNames().length ? "Unsaved changes" : "Saved");
      announce(`${names.length === 1 ? "Change" : "Changes"} saved`);
    } catch (error) {
      if (error instanceof ApiError && error.status === 409 && error.body?.error?.current) {
        enterConflict(error.body.error.current);
      } else if (error instanceof ApiError && Object.keys(error.fields).length) {
        showFormErrors(form, error);
        setStatus("Not saved");
      } else {
        setStatus("Not saved");
        toast(error.message);
        announce(`Not saved: ${error.message}`);
      }
    }
  }

  function requestSave() {
    queue = queue.then(saveDirty);
    return queue;
  }

  form.addEventListener("input", () => setStatus("Unsaved changes"));
  form.addEventListener("change", requestSave);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    requestSave();
  });
  banner?.querySelector("[data-keep-mine]")?.addEventListener("click", () => {
    leaveConflict();
    requestSave();
  });
  banner?.querySelector("[data-use-theirs]")?.addEventListener("click", () => {
    const theirs = conflict || current;
    leaveConflict();
    clearFormErrors(form);
    fill(theirs, { force: true });
    setStatus("");
    input(Object.keys(fields)[0])?.focus();
  });

  fill(current, { force: true });

  return {
    get record() {
      return current;
    },
    // A newer version from a live event: shown at once unless it collides with the user's edits.
    applyRemote(next) {
      if (next.version <= current.version) return false;
      // our own save can arrive as an event before its response: a value equal to the typed one is no collision
      const collides = dirtyNames().some((name) => !same(next[name], base[name]) && !same(next[name], typed(name)));
      if (collides) enterConflict(next);
      else {
        current = next;
        fill(next);
        if (conflict) showTheirs(next);
        onChange?.(next);
      }
      return true;
    },
    save: requestSave,
    dirty: dirtyNames,
  };
}
