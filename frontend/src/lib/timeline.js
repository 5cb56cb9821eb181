// The activity timeline of a deal, contact or company: add call/email/meeting/note/task,
// tick tasks done, and keep up with activity.* events (newer versions win).
import { ApiError, announce, clearFormErrors, formData, patch, post, showFormErrors, toast } from "./api.js";
import { el, formatDateTime, isNewer, localToIso } from "./records.js";

const TYPE_LABELS = { call: "Call", email: "Email", meeting: "Meeting", note: "Note", task: "Task" };

/** link: {deal_id: 5} (or contact_id/company_id): what new activities attach to and which events concern us. */
export function activityTimeline({ org, items, link, canWrite, members }) {
  const list = document.querySelector("[data-timeline]");
  const empty = document.querySelector("[data-timeline-empty]");
  const form = document.querySelector("[data-activity-form]");
  const [linkKey, linkId] = Object.entries(link)[0];
  const activities = new Map(items.map((a) => [a.id, a]));
  const path = `/api/v1/orgs/${org.slug}/activities`;

  function overdue(activity) {
    return !activity.done && activity.due_at && new Date(activity.due_at) < new Date();
  }

  function row(activity) {
    const owner = members.get(activity.owner_id);
    const id = `activity-${activity.id}`;
    const done = activity.type === "task"
      ? el("label", { class: "done-toggle" },
          el("input", {
            type: "checkbox", checked: activity.done, disabled: !canWrite,
            "aria-label": `Mark “${activity.subject}” done`, onchange: (event) => toggleDone(activity.id, event.target),
          }),
          el("span", { "aria-hidden": "true", text: "Done" }))
      : null;
    return el("li", { class: `activity${activity.done ? " is-done" : ""}`, "data-activity-id": activity.id, id },
      el("div", { class: "activity-head" },
        el("span", { class: `kind kind-${activity.type}`, text: TYPE_LABELS[activity.type] || activity.type }),
        el("strong", { class: "subject", text: activity.subject }),
        done),
      activity.body ? el("p", { class: "body", text: activity.body }) : null,
      el("p", { class: "meta muted" },
        activity.due_at ? el("span", { class: overdue(activity) ? "overdue" : "", text: `Due ${formatDateTime(activity.due_at)}${overdue(activity) ? " (overdue)" : ""}` }) : null,
        el("span", { text: owner ? owner.name : "" }),
        el("span", { text: `Added ${formatDateTime(activity.created_at)}` })));
  }

  function render() {
    const ordered = [...activities.values()].sort((a, b) => b.id - a.id);
    list.replaceChildren(...ordered.map(row));
    empty.hidden = ordered.length > 0;
  }

  async function toggleDone(id, checkbox) {
    const activity = activities.get(id);
    checkbox.disabled = true;
    try {
      const saved = await patch(`${path}/${id}`, { done: checkbox.checked, version: activity.version });
      activities.set(id, saved);
      announce(`“${saved.subject}” marked ${saved.done ? "done" : "not done"}`);
    } catch (error) {
      const current = error instanceof ApiError ? error.body?.error?.current : null;
      if (current) activities.set(id, current);
      const message = error instanceof ApiError && error.status === 409
        ? `“${activity.subject}” was changed by someone else; showing their version.`
        : `Could not update “${activity.subject}”: ${error.message}`;
      toast(message);
      announce(message);
    }
    render();
    list.querySelector(`[data-activity-id="${id}"] input[type=checkbox]`)?.focus();
  }

  form?.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = formData(form);
    const body = { type: data.type, subject: data.subject, body: data.body || "", [linkKey]: linkId };
    if (data.due_at) body.due_at = localToIso(data.due_at);
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const created = await post(path, body);
      clearFormErrors(form);
      activities.set(created.id, created);
      render();
      form.elements.subject.value = "";
      form.elements.body.value = "";
      form.elements.due_at.value = "";
      announce(`${TYPE_LABELS[created.type]} “${created.subject}” added`);
    } catch (error) {
      if (error instanceof ApiError) showFormErrors(form, error);
      else toast(error.message);
    } finally {
      button.disabled = false;
    }
  });

  render();

  return {
    // activity.created|updated|deleted
    apply(event) {
      const data = event.data || {};
      if (!event.type.startsWith("activity.") || !data.id) return;
      const mine = data[linkKey] === linkId;
      if (event.type === "activity.deleted" || (!mine && activities.has(data.id))) {
        if (activities.delete(data.id)) render();
        return;
      }
      if (mine && isNewer(activities.get(data.id), data)) {
        activities.set(data.id, data);
        render();
      }
    },
  };
}
