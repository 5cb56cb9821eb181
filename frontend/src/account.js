// The sign-in flows that start from an email link or a "forgot" click: request a reset,
// choose a new password, verify an email address, accept an invitation.
import { ApiError, clearFormErrors, formData, post, showFormErrors } from "./lib/api.js";

function finish(form) {
  form.hidden = true;
  const done = form.parentElement.querySelector("[data-done]");
  if (done) {
    done.hidden = false;
    done.tabIndex = -1;
    done.focus();
  }
}

const handlers = {
  async forgot(form, data) {
    await post("/api/v1/auth/password-reset", { email: data.email });
    finish(form); // the same answer whether or not the address has an account
  },
  async reset(form, data) {
    await post("/api/v1/auth/password-reset/confirm", { token: form.dataset.token, password: data.password });
    finish(form);
  },
  async "accept-invite"(form) {
    const joined = await post("/api/v1/invitations/accept", { token: form.dataset.token });
    window.location.assign(`/o/${joined.slug}/board`);
  },
  async "invite-signup"(form, data) {
    const account = { name: data.name, email: data.email, password: data.password };
    await post("/api/v1/auth/register", { ...account, invitation_token: form.dataset.token });
    await post("/api/v1/auth/login", { email: data.email, password: data.password });
    window.location.assign("/");
  },
};

for (const form of document.querySelectorAll("[data-account-form]")) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearFormErrors(form);
    const button = form.querySelector('button[type="submit"]');
    button.disabled = true;
    try {
      await handlers[form.dataset.accountForm](form, formData(form));
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      showFormErrors(form, error);
    } finally {
      button.disabled = false;
    }
  });
}

async function verifyEmail(node) {
  const status = node.querySelector("[data-status]");
  if (!node.dataset.token) return;
  try {
    const user = await post("/api/v1/auth/verify-email", { token: node.dataset.token });
    status.textContent = `Thank you: ${user.email} is verified.`;
    node.dataset.verified = "true";
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    status.textContent = `${error.message} Sign in and ask for a new link from your account page.`;
    status.classList.add("form-error");
  }
}

const verify = document.querySelector("[data-verify-email]");
if (verify) verifyEmail(verify);
