// Channel setup pages: the connect wizard's steps and a channel's account page. Every
// action goes to the JSON API; the wizard's state lives on the server, so after each step
// the page reloads (or moves to the wizard's own URL) and shows the step it is at.

import { api } from "./api.js";
import { t, tf } from "./i18n.js";
import { ready } from "./layout.js";

const wizard = document.getElementById("channel-wizard");
const account = document.getElementById("channel-account");

/** Shows an API failure in words from the catalog where the failure is a known one. */
function explain(error) {
  if (error.field === "channel_id" || error.field === "channel_secret") {
    const which = error.field === "channel_id" ? "id" : "secret";
    // LINE's refusal, or the form check before LINE was asked.
    return error.message.startsWith("LINE rejected")
      ? t(`channels.error.rejected_${which}`)
      : t(`channels.error.invalid_${which}`);
  }
  if (error.status === 409 && error.message.includes("already connected")) {
    return t("channels.error.already_connected");
  }
  if (error.status === 502) return tf("channels.error.line", { message: error.message });
  return tf("common.error.request", { message: error.message });
}

function showError(box, error) {
  box.textContent = explain(error);
  box.hidden = false;
  if (error.field) {
    const field = document.querySelector(`[name="${CSS.escape(error.field)}"]`);
    field?.setAttribute("aria-invalid", "true");
    field?.focus();
  }
}

function busy(element, on) {
  element.toggleAttribute("disabled", on);
  element.setAttribute("aria-busy", on ? "true" : "false");
}

// --- The wizard -------------------------------------------------------------------------

async function wizardId() {
  if (wizard.dataset.wizardId) return wizard.dataset.wizardId;
  // The first submit starts the wizard; its URL then resumes it after a reload.
  const started = await api("POST", `/api/v1/brands/${wizard.dataset.brandId}/channel-wizards`);
  wizard.dataset.wizardId = started.id;
  history.replaceState(null, "", wizardUrl(started.id));
  return started.id;
}

function wizardUrl(id) {
  return `/brands/${wizard.dataset.brandId}/settings/channels/new/${id}`;
}

async function wizardCall(action, body) {
  const error = document.getElementById("wizard-error");
  error.hidden = true;
  for (const field of document.querySelectorAll("[aria-invalid]")) field.removeAttribute("aria-invalid");
  const id = await wizardId();
  await api("POST", `/api/v1/channel-wizards/${id}/${action}`, body ?? {});
  window.location.assign(wizardUrl(id));
}

if (wizard) {
  const error = document.getElementById("wizard-error");

  document.getElementById("wizard-credentials")?.addEventListener("submit", async (event) => {
    event.preventDefault();
    await ready;
    const form = event.target;
    const button = form.querySelector("button[type=submit]");
    busy(button, true);
    try {
      await wizardCall("credentials", {
        channel_id: form.elements.channel_id.value,
        channel_secret: form.elements.channel_secret.value,
      });
    } catch (e) {
      showError(error, e);
      busy(button, false);
    }
  });

  document.getElementById("wizard-department")?.addEventListener("submit", async (event) => {
    event.preventDefault();
    await ready;
    const form = event.target;
    const name = form.elements.department_name.value.trim();
    const chosen = form.elements.department_id?.value ?? "";
    try {
      await wizardCall(
        "department",
        name ? { department_name: name } : { department_id: chosen },
      );
    } catch (e) {
      showError(error, e);
    }
  });

  wizard.addEventListener("click", async (event) => {
    const button = event.target.closest("[data-wizard-action]");
    if (!button) return;
    await ready;
    busy(button, true);
    try {
      await wizardCall(button.dataset.wizardAction);
    } catch (e) {
      showError(error, e);
      busy(button, false);
    }
  });
}

// --- The account page -------------------------------------------------------------------

if (account) {
  const channel = account.dataset.channelId;
  const error = document.getElementById("account-error");

  account.addEventListener("click", async (event) => {
    const button = event.target.closest("[data-account-action]");
    if (!button) return;
    await ready;
    error.hidden = true;
    busy(button, true);
    try {
      const action = button.dataset.accountAction;
      const answer = await api("POST", `/api/v1/channels/${channel}/${action}`);
      if (action === "webhook/test") {
        const box = account.querySelector('[data-testid="webhook-result"]');
        box.dataset.outcome = answer.outcome.code;
        box.textContent = answer.ok
          ? t("channels.webhook.result.ok")
          : answer.inactive_message
            ? t("channels.webhook.inactive")
            : answer.outcome.code === "error_status"
              ? tf("channels.webhook.result.error_status", { status: answer.outcome.status })
              : t(`channels.webhook.result.${answer.outcome.code}`);
        box.hidden = false;
      } else {
        window.location.reload();
      }
    } catch (e) {
      showError(error, e);
    } finally {
      busy(button, false);
    }
  });

  document.getElementById("secret-form")?.addEventListener("submit", async (event) => {
    event.preventDefault();
    await ready;
    const form = event.target;
    error.hidden = true;
    try {
      await api("PUT", `/api/v1/channels/${channel}/secret`, {
        channel_secret: form.elements.channel_secret.value,
      });
      window.location.reload();
    } catch (e) {
      showError(error, e);
    }
  });

  document.getElementById("remove-form")?.addEventListener("submit", async (event) => {
    event.preventDefault();
    await ready;
    const typed = event.target.elements.confirm.value.trim();
    if (typed !== account.dataset.lineChannelId) {
      error.textContent = t("channels.remove.mismatch");
      error.hidden = false;
      return;
    }
    try {
      await api("DELETE", `/api/v1/channels/${channel}?confirm=${encodeURIComponent(typed)}`);
      window.location.assign(`/brands/${account.dataset.brandId}/settings/channels`);
    } catch (e) {
      showError(error, e);
    }
  });
}

// --- Copy buttons (both pages) -----------------------------------------------------------

document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  await ready;
  const source = document.querySelector(button.dataset.copy);
  const text = source?.value ?? source?.textContent ?? "";
  const status = button.parentElement.querySelector(".form-status") ?? button;
  try {
    await navigator.clipboard.writeText(text.trim());
    button.dataset.copied = "true";
    if (status !== button) status.textContent = t("channels.copied");
  } catch {
    source?.select?.();
  }
});
