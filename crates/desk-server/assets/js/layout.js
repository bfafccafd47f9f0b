// The top bar: presence, language, time zone, help overlay. Loaded on every console page.

import { api } from "./api.js";
import { toast } from "./dom.js";
import { loadCatalog, tf } from "./i18n.js";

export const ready = loadCatalog();

// Dates are rendered in the operator's time zone: tell the server the browser's.
const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
if (zone && !document.cookie.split("; ").includes(`linedesk_tz=${zone}`)) {
  document.cookie = `linedesk_tz=${zone}; path=/; max-age=31536000; samesite=lax`;
}

const presence = document.getElementById("presence");
presence?.addEventListener("change", async () => {
  const label = presence.closest(".presence");
  try {
    await api("PUT", `/api/v1/operators/${presence.dataset.operator}/presence`, { presence: presence.value });
    label.className = `presence presence-${presence.value}`;
  } catch (e) {
    await ready;
    toast(tf("common.error.request", { message: e.message }), "error");
  }
});

const language = document.getElementById("language");
language?.addEventListener("change", async () => {
  try {
    await api("PATCH", "/api/v1/me", { locale: language.value });
    window.location.reload();
  } catch (e) {
    await ready;
    toast(tf("common.error.request", { message: e.message }), "error");
  }
});

const help = document.getElementById("help");
document.getElementById("help-button")?.addEventListener("click", () => help?.showModal());

// Menus (details elements) close when clicking elsewhere or pressing Escape.
document.addEventListener("click", (event) => {
  for (const menu of document.querySelectorAll("details.menu[open]")) {
    if (!menu.contains(event.target)) menu.open = false;
  }
});
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape") {
    for (const menu of document.querySelectorAll("details.menu[open]")) menu.open = false;
  }
});
