// Sign-in, sign-up and first-org forms.
import { ApiError, clearFormErrors, formData, post, showFormErrors } from "./lib/api.js";

function destination(form) {
  const next = form.dataset.next || "/";
  return next.startsWith("/") && !next.startsWith("//") ? next : "/";
}

async function login(form, data) {
  if (form.dataset.mfaToken) {
    await post("/api/v1/auth/mfa", { mfa_token: form.dataset.mfaToken, code: data.code });
    return true;
  }
  const result = await post("/api/v1/auth/login", { email: data.email, password: data.password });
  if (result && result.mfa_required) {
    form.dataset.mfaToken = result.mfa_token;
    const step = form.querySelector("[data-mfa]");
    step.hidden = false;
    step.querySelector("input").focus();
    return false;
  }
  return true;
}

const handlers = {
  async login(form, data) {
    if (await login(form, data)) window.location.assign(destination(form));
  },
  async signup(form, data) {
    await post("/api/v1/auth/register", { name: data.name, email: data.email, password: data.password });
    await post("/api/v1/auth/login", { email: data.email, password: data.password });
    const next = destination(form);
    window.location.assign(next === "/" ? "/welcome" : next);
  },
  async "create-org"(form, data) {
    const org = await post("/api/v1/orgs", { name: data.name });
    window.location.assign(`/o/${org.slug}/board`);
  },
};

for (const form of document.querySelectorAll("[data-auth-form]")) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearFormErrors(form);
    const button = form.querySelector('button[type="submit"]');
    button.disabled = true;
    try {
      await handlers[form.dataset.authForm](form, formData(form));
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      showFormErrors(form, error);
    } finally {
      button.disabled = false;
    }
  });
}
