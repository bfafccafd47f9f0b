// Settings forms that talk JSON to the API, without a script per page:
//
//   <form data-json-form data-method="PUT" data-action="/api/v1/…" [data-reload]>
//     <input name="idle.minutes" data-type="number">   → {"idle": {"minutes": 5}}
//     <input type="checkbox" name="enabled">           → {"enabled": true}
//     <select name="department_id" data-empty="null">  → {"department_id": null} when ""
//     <p class="form-status"></p>
//   </form>
//
//   <button data-api-delete="/api/v1/…" data-confirm="…">  → DELETE, then reload
//
// Values: data-type="number" (× data-scale if given) | "minutes" ("09:30" → 570) | "json" |
// "lines" (one array item per line); default string. A multiple select gives an array.
// data-empty="null" turns "" into null; data-empty="skip" leaves the field out.
// data-body-null sends null; data-show-field="x" shows the answer's `x` in .form-result.

import { api } from "./api.js";
import { t, tf } from "./i18n.js";
import { ready } from "./layout.js";

const SKIP = Symbol("skip");

function valueOf(field) {
  if (field.type === "checkbox") return field.checked;
  if (field.multiple) return [...field.selectedOptions].map((option) => option.value);
  const raw = field.value;
  if (raw === "" && field.dataset.empty === "null") return null;
  if (raw === "" && field.dataset.empty === "skip") return SKIP;
  switch (field.dataset.type) {
    case "number":
      return raw === "" ? null : Number(raw) * Number(field.dataset.scale ?? 1);
    case "minutes": {
      const [hours, minutes] = raw.split(":").map(Number);
      // 24:00 cannot be typed into a time input; 00:00 as a closing time means midnight.
      const value = hours * 60 + minutes;
      return value === 0 && field.name.endsWith(".end") ? 1440 : value;
    }
    case "json":
      return raw === "" ? null : JSON.parse(raw);
    case "lines":
      return raw.split("\n").map((line) => line.trim()).filter(Boolean);
    default:
      return raw;
  }
}

function setPath(target, path, value) {
  const keys = path.split(".");
  let node = target;
  for (const key of keys.slice(0, -1)) {
    node[key] ??= {};
    node = node[key];
  }
  node[keys.at(-1)] = value;
}

/** The form's fields as one JSON object (fields marked data-skip are left out). */
export function formJson(form) {
  const body = {};
  for (const field of form.elements) {
    if (!field.name || field.disabled || field.dataset.skip !== undefined) continue;
    if (field.type === "radio" && !field.checked) continue;
    const value = valueOf(field);
    if (value !== SKIP) setPath(body, field.name, value);
  }
  return body;
}

function status(form, message, kind) {
  const box = form.querySelector(".form-status");
  if (!box) return;
  box.textContent = message;
  box.dataset.kind = kind;
}

document.addEventListener("submit", async (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || form.dataset.jsonForm === undefined) return;
  event.preventDefault();
  await ready;
  // `form.elements`, not a query: a table row's fields sit in cells outside their <form>.
  for (const field of form.elements) field.removeAttribute("aria-invalid");
  let body;
  try {
    body = form.dataset.bodyNull !== undefined ? null : formJson(form);
  } catch (e) {
    status(form, tf("common.error.request", { message: e.message }), "error");
    return;
  }
  try {
    const answer = await api(form.dataset.method ?? "POST", form.dataset.action, body);
    status(form, t("common.saved"), "ok");
    const result = form.querySelector(".form-result");
    if (result && form.dataset.showField && answer?.[form.dataset.showField]) {
      result.textContent = answer[form.dataset.showField];
      result.hidden = false;
      return;
    }
    if (form.dataset.reload !== undefined) window.location.reload();
  } catch (e) {
    status(form, tf("common.error.request", { message: e.message }), "error");
    const field =
      e.field && [...form.elements].find((f) => f.name === e.field || f.name?.endsWith(`.${e.field}`));
    field?.setAttribute("aria-invalid", "true");
    field?.focus();
  }
});

document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-api-delete]");
  if (!button) return;
  await ready;
  if (button.dataset.confirm && !window.confirm(button.dataset.confirm)) return;
  try {
    await api("DELETE", button.dataset.apiDelete);
    window.location.reload();
  } catch (e) {
    window.alert(tf("common.error.request", { message: e.message }));
  }
});
