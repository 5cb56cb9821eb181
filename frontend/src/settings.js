// Org settings (name, 2FA requirement, pipeline stages, members and roles, invitations; read-only
// for members and viewers) and the personal account page (2FA, sessions, API keys).
import { announce, ApiError, clearFormErrors, del, formData, get, pageState, patch, post, showFormErrors, toast } from "./lib/api.js";

const state = pageState();
const shell = pageState("shell-state");

const ROLES = ["owner", "admin", "member", "viewer"];
const label = (role) => role[0].toUpperCase() + role.slice(1);

function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

function button(text, onClick, { className = "small", aria } = {}) {
  const node = el("button", { type: "button", className, textContent: text });
  if (aria) node.setAttribute("aria-label", aria);
  node.addEventListener("click", onClick);
  return node;
}

// Submit a form through `action`; API errors show next to their fields, nothing typed is lost.
function onSubmit(form, action) {
  form?.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearFormErrors(form);
    const submit = form.querySelector('button[type="submit"]');
    submit.disabled = true;
    try {
      await action(formData(form));
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      showFormErrors(form, error);
    } finally {
      submit.disabled = false;
    }
  });
}

async function attempt(action) {
  try {
    await action();
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    toast(error.message);
  }
}

// --- org settings --------------------------------------------------------------------------

function orgSettings() {
  const org = shell.org;
  const base = `/api/v1/orgs/${org.slug}`;
  const admin = state.is_admin;
  let stages = state.stages;
  let members = state.members;
  let invitations = state.invitations;

  onSubmit(document.querySelector("[data-org-form]"), async (data) => {
    if (data.require_2fa && !state.org.require_2fa && !(await get("/api/v1/auth/2fa")).enabled) {
      // requiring it without having it would lock the admin out of the org's pages
      const message = "Turn on two-factor sign-in for yourself first, on your account page.";
      throw new ApiError(422, { error: { code: "2fa_not_enabled", message, fields: { require_2fa: message } } });
    }
    const saved = await patch(base, { name: data.name, require_2fa: Boolean(data.require_2fa), version: state.org.version });
    state.org.version = saved.version;
    state.org.require_2fa = saved.require_2fa;
    announce("Organisation saved");
  });

  function renderStages() {
    const list = document.querySelector("[data-stage-list]");
    list.replaceChildren(
      ...stages.map((stage, index) => {
        const li = el("li", { className: "stage-row" });
        li.dataset.stageId = stage.id;
        if (!admin) {
          li.append(el("span", { textContent: stage.name }), " ", el("span", { className: "pill", textContent: stage.kind }));
          return li;
        }
        const input = el("input", { value: stage.name, maxLength: 100, id: `stage-${stage.id}-name` });
        input.setAttribute("aria-label", `Name of stage ${index + 1}`);
        const rename = el("form", { className: "stage-rename" }, input, el("button", { type: "submit", className: "small", textContent: "Rename" }));
        rename.addEventListener("submit", (event) => {
          event.preventDefault();
          attempt(async () => {
            await updateStage(stage, { name: input.value.trim() });
            renderStages(); // the buttons' labels carry the name
            document.getElementById(`stage-${stage.id}-name`)?.focus();
            announce(`Stage renamed to ${stage.name}`);
          });
        });
        const up = button("↑", () => attempt(() => moveStage(stage, index - 1)), { aria: `Move ${stage.name} up` });
        const down = button("↓", () => attempt(() => moveStage(stage, index + 1)), { aria: `Move ${stage.name} down` });
        up.disabled = index === 0;
        down.disabled = index === stages.length - 1;
        const remove = button("Delete", () => attempt(async () => {
          await del(`${base}/stages/${stage.id}`);
          stages = stages.filter((s) => s.id !== stage.id);
          renderStages();
          announce(`Stage ${stage.name} deleted`);
        }), { className: "small danger", aria: `Delete stage ${stage.name}` });
        li.append(rename, el("span", { className: "pill", textContent: stage.kind }), up, down, remove);
        return li;
      }),
    );
  }

  async function updateStage(stage, changes) {
    const saved = await patch(`${base}/stages/${stage.id}`, { ...changes, version: stage.version });
    Object.assign(stage, saved);
  }

  async function reloadStages() {
    stages = (await get(`${base}/stages`)).items;
    renderStages();
  }

  async function moveStage(stage, position) {
    await updateStage(stage, { position });
    await reloadStages();
    document.querySelector(`[data-stage-id="${stage.id}"] button[aria-label^="Move ${CSS.escape(stage.name)} ${position > stages.indexOf(stage) ? "down" : "up"}"]`)?.focus();
    announce(`${stage.name} is now stage ${position + 1} of ${stages.length}`);
  }

  onSubmit(document.querySelector("[data-stage-form]"), async (data) => {
    await post(`${base}/stages`, { name: data.name, kind: data.kind });
    document.querySelector("[data-stage-form]").reset();
    await reloadStages();
    announce(`Stage ${data.name} added`);
  });

  function renderMembers() {
    const rows = document.querySelector("[data-member-rows]");
    rows.replaceChildren(
      ...members.map((member) => {
        const tr = el("tr");
        tr.dataset.userId = member.user_id;
        tr.append(el("td", { textContent: member.name + (member.user_id === state.self_id ? " (you)" : "") }), el("td", { textContent: member.email }));
        const roleCell = el("td");
        if (admin && member.user_id !== state.self_id) {
          const select = el("select", { id: `role-${member.user_id}` });
          select.setAttribute("aria-label", `Role of ${member.name}`);
          for (const role of ROLES) {
            if (role === "owner" && !state.is_owner && member.role !== "owner") continue;
            select.append(el("option", { value: role, textContent: label(role), selected: role === member.role }));
          }
          select.addEventListener("change", () => attempt(async () => {
            try {
              const saved = await patch(`${base}/members/${member.user_id}`, { role: select.value });
              member.role = saved.role;
              announce(`${member.name} is now ${label(saved.role)}`);
            } catch (error) {
              select.value = member.role;
              throw error;
            }
          }));
          roleCell.append(select);
        } else {
          roleCell.textContent = label(member.role);
        }
        tr.append(roleCell);
        if (admin) {
          const actions = el("td");
          if (member.user_id !== state.self_id) {
            actions.append(button("Remove", () => attempt(async () => {
              await del(`${base}/members/${member.user_id}`);
              members = members.filter((m) => m.user_id !== member.user_id);
              renderMembers();
              announce(`${member.name} removed`);
            }), { className: "small danger", aria: `Remove ${member.name}` }));
          }
          tr.append(actions);
        }
        return tr;
      }),
    );
  }

  function renderInvitations() {
    const list = document.querySelector("[data-invite-list]");
    if (!list) return;
    list.replaceChildren(
      ...invitations.map((invite) =>
        el("li", {}, el("span", { textContent: `${invite.email} · ${label(invite.role)} · until ${new Date(invite.expires_at).toLocaleDateString()}` }), " ",
          button("Revoke", () => attempt(async () => {
            await del(`${base}/invitations/${invite.id}`);
            invitations = invitations.filter((i) => i.id !== invite.id);
            renderInvitations();
            announce(`Invitation to ${invite.email} revoked`);
          }), { className: "small danger", aria: `Revoke invitation to ${invite.email}` })),
      ),
    );
    if (!invitations.length) list.append(el("li", { className: "muted", textContent: "No pending invitations" }));
  }

  onSubmit(document.querySelector("[data-invite-form]"), async (data) => {
    const invite = await post(`${base}/invitations`, { email: data.email, role: data.role });
    invitations = [invite, ...invitations.filter((i) => i.id !== invite.id)];
    document.querySelector("[data-invite-form]").reset();
    renderInvitations();
    announce(`Invitation sent to ${invite.email}`);
  });

  renderStages();
  renderMembers();
  renderInvitations();
}

// --- personal account ----------------------------------------------------------------------

function accountSettings() {
  onSubmit(document.querySelector("[data-profile-form]"), async (data) => {
    const me = await patch("/api/v1/me", { name: data.name });
    for (const node of document.querySelectorAll(".username")) node.textContent = me.name;
    announce("Name saved");
  });

  onSubmit(document.querySelector("[data-password-form]"), async (data) => {
    const result = await post("/api/v1/auth/password", { current_password: data.current_password, password: data.password });
    document.querySelector("[data-password-form]").reset();
    const others = result.signed_out_sessions;
    const message = `Password changed.${others ? ` Signed out ${others} other session${others === 1 ? "" : "s"}.` : ""}`;
    document.querySelector("[data-password-status]").textContent = message;
    await renderSessions();
  });

  const passwordButton = document.querySelector("[data-password-link]");
  passwordButton.addEventListener("click", () => attempt(async () => {
    await post("/api/v1/auth/password-reset", { email: passwordButton.dataset.email });
    document.querySelector("[data-password-status]").textContent = "Sent: check your mail for the link.";
  }));

  const resend = document.querySelector("[data-resend-verification]");
  resend?.addEventListener("click", () => attempt(async () => {
    await post("/api/v1/auth/verify-email/resend");
    resend.replaceWith(el("span", { textContent: "Sent: check your mail for the link.", role: "status" }));
  }));

  const tfa = {
    status: document.querySelector("[data-tfa-status]"),
    start: document.querySelector("[data-tfa-start]"),
    setup: document.querySelector("[data-tfa-setup]"),
    confirm: document.querySelector("[data-tfa-confirm]"),
    codes: document.querySelector("[data-tfa-codes]"),
    disable: document.querySelector("[data-tfa-disable]"),
  };

  async function renderTfa() {
    const status = await get("/api/v1/auth/2fa");
    tfa.status.textContent = status.enabled ? `On. ${status.recovery_codes_left} recovery codes left.` : "Off.";
    tfa.start.hidden = status.enabled;
    tfa.disable.hidden = !status.enabled;
    if (status.enabled) tfa.setup.hidden = true;
  }

  tfa.start.addEventListener("click", () => attempt(async () => {
    const setup = await post("/api/v1/auth/2fa/setup");
    tfa.setup.querySelector("[data-tfa-qr]").src = setup.qr_code;
    tfa.setup.querySelector("[data-tfa-secret]").textContent = setup.secret;
    tfa.setup.hidden = false;
    tfa.start.hidden = true;
    tfa.confirm.querySelector("input").focus();
  }));

  onSubmit(tfa.confirm, async (data) => {
    const result = await post("/api/v1/auth/2fa/confirm", { code: data.code });
    tfa.codes.querySelector("[data-tfa-code-list]").replaceChildren(...result.recovery_codes.map((code) => el("li", {}, el("code", { textContent: code }))));
    tfa.codes.hidden = false;
    tfa.confirm.reset();
    await renderTfa();
    announce("Two-factor sign-in is on");
  });

  onSubmit(tfa.disable, async (data) => {
    await post("/api/v1/auth/2fa/disable", { code: data.code });
    tfa.disable.reset();
    tfa.codes.hidden = true;
    await renderTfa();
    announce("Two-factor sign-in is off");
  });

  async function renderSessions() {
    const list = document.querySelector("[data-session-list]");
    const sessions = (await get("/api/v1/auth/sessions")).items;
    list.replaceChildren(
      ...sessions.map((session) => {
        const what = `${session.user_agent || "Unknown browser"} · ${session.ip || "unknown address"} · last seen ${new Date(session.last_seen_at).toLocaleString()}`;
        const li = el("li", {}, el("span", { textContent: what }));
        li.dataset.sessionId = session.id;
        if (session.current) {
          li.append(" ", el("strong", { textContent: "(this browser)" }));
        } else {
          li.append(" ", button("Sign out", () => attempt(async () => {
            await del(`/api/v1/auth/sessions/${encodeURIComponent(session.id)}`);
            await renderSessions();
            announce("Session signed out");
          }), { className: "small danger", aria: `Sign out ${what}` }));
        }
        return li;
      }),
    );
  }

  document.querySelector("[data-revoke-others]").addEventListener("click", () => attempt(async () => {
    const result = await post("/api/v1/auth/sessions/revoke-others");
    await renderSessions();
    announce(`Signed out ${result.revoked} other session${result.revoked === 1 ? "" : "s"}`);
  }));

  const keyOrg = document.querySelector("[data-key-org]");
  async function renderKeys() {
    if (!keyOrg) return;
    const list = document.querySelector("[data-key-list]");
    const keys = (await get(`/api/v1/orgs/${keyOrg.value}/api-keys`)).items;
    list.replaceChildren(
      ...keys.map((key) => {
        const li = el("li", {}, el("span", { textContent: `${key.name} · ${key.prefix}… · ${label(key.role)}${key.last_used_at ? ` · used ${new Date(key.last_used_at).toLocaleString()}` : " · never used"}` }));
        li.dataset.keyId = key.id;
        li.append(" ", button("Revoke", () => attempt(async () => {
          await del(`/api/v1/orgs/${keyOrg.value}/api-keys/${key.id}`);
          await renderKeys();
          announce(`Key ${key.name} revoked`);
        }), { className: "small danger", aria: `Revoke key ${key.name}` }));
        return li;
      }),
    );
    if (!keys.length) list.append(el("li", { className: "muted", textContent: "No keys yet" }));
  }
  keyOrg?.addEventListener("change", () => {
    document.querySelector("[data-new-key]").hidden = true;
    renderKeys();
  });
  onSubmit(document.querySelector("[data-key-form]"), async (data) => {
    const created = await post(`/api/v1/orgs/${keyOrg.value}/api-keys`, { name: data.name, role: data.role });
    const shown = document.querySelector("[data-new-key]");
    shown.querySelector("[data-new-key-value]").textContent = created.key;
    shown.hidden = false;
    document.querySelector("[data-key-form]").reset();
    await renderKeys();
  });

  renderTfa();
  renderSessions();
  renderKeys();
}

if (document.querySelector("[data-org-settings]")) orgSettings();
if (document.querySelector("[data-account-settings]")) accountSettings();
