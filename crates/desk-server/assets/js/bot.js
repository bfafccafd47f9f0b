// The chatbot settings page: loads GET /api/v1/channels/{id}/bot, edits it in a form and
// saves it with PUT. The form edits the text of each piece of content and of each rule;
// anything it cannot show (stickers, images, extra messages) is kept as it was.

import { api } from "./api.js";
import { el } from "./dom.js";
import { t, tf } from "./i18n.js";
import { ready } from "./layout.js";

const root = document.getElementById("bot-settings");
const form = document.getElementById("bot-form");
const rulesList = document.getElementById("bot-rules");
const url = `/api/v1/channels/${root.dataset.channelId}/bot`;
const HANDOFF = "handoff";

/** The parts of the rules bot the form edits as text, and where they live. */
const PARTS = {
  greeting: { get: (r) => r.greeting, set: (r, c) => (r.greeting = c) },
  fallback: { get: (r) => r.fallback, set: (r, c) => (r.fallback = c) },
  away: { get: (r) => r.away, set: (r, c) => (r.away = c) },
  handoff_message: { get: (r) => r.handoff.message, set: (r, c) => (r.handoff.message = c) },
};

let rules = emptyRules();

function emptyRules() {
  return {
    default_language: "ja",
    greeting: null,
    greet_on_follow: false,
    rules: [],
    fallback: null,
    away: null,
    handoff: { keywords: [], postback_data: "linedesk:handoff", on_repeated_question: true, message: null },
  };
}

/** The first text message of some content: {ja, en}. */
function textOf(content) {
  const message = content?.messages?.find((m) => m.type === "text");
  return { ja: message?.text?.ja ?? "", en: message?.text?.en ?? "" };
}

/** `content` with its first text message set to `text` (null when nothing is left). */
function withText(content, text) {
  const localized = {};
  if (text.ja.trim()) localized.ja = text.ja;
  if (text.en.trim()) localized.en = text.en;
  const messages = [...(content?.messages ?? [])];
  const at = messages.findIndex((m) => m.type === "text");
  const hasText = Object.keys(localized).length > 0;
  if (at >= 0 && hasText) messages[at] = { type: "text", text: localized };
  else if (at >= 0) messages.splice(at, 1);
  else if (hasText) messages.unshift({ type: "text", text: localized });
  if (messages.length === 0) return null;
  return { ...(content ?? {}), messages };
}

/** Buttons as lines: `label | postback data`, or `label | handoff`. */
function buttonLines(buttons = []) {
  return buttons
    .map((b) => {
      const label = b.label.ja ?? b.label.en ?? "";
      if (b.action.type === HANDOFF) return `${label} | ${HANDOFF}`;
      if (b.action.type === "postback") return `${label} | ${b.action.data}`;
      return `${label} | ${b.action.text?.ja ?? b.action.text?.en ?? ""}`;
    })
    .join("\n");
}

function parseButtons(text) {
  return text
    .split("\n")
    .map((line) => line.trim())
    .filter(Boolean)
    .map((line) => {
      const [label, data = ""] = line.split("|").map((part) => part.trim());
      const action = data === HANDOFF ? { type: HANDOFF } : { type: "postback", data };
      return { label: { ja: label, en: label }, action };
    });
}

function triggerValue(trigger) {
  if (trigger.type === "keyword") return trigger.keywords.join(", ");
  if (trigger.type === "regex") return trigger.pattern;
  return trigger.data;
}

function parseTrigger(type, value) {
  if (type === "keyword") return { type, keywords: value.split(/[,、]/).map((k) => k.trim()).filter(Boolean) };
  if (type === "regex") return { type, pattern: value };
  return { type, data: value.trim() };
}

/** One rule's editor; `rule` is kept on the element for what the editor does not show. */
function ruleRow(rule) {
  const text = textOf(rule.reply);
  const lines = buttonLines(rule.reply?.quick_replies);
  const type = el(
    "select",
    { name: "trigger_type", "aria-label": t("bot.rule.trigger") },
    ...["keyword", "regex", "postback"].map((value) =>
      el("option", { value, selected: rule.trigger.type === value }, t(`bot.trigger.${value}`)),
    ),
  );
  const row = el(
    "li",
    { class: "card-box bot-rule", dataset: { testid: "bot-rule" } },
    el(
      "div",
      { class: "form-grid" },
      el("label", {}, t("bot.rule.trigger")),
      el("span", { class: "inline" }, type, el("input", { name: "trigger_value", value: triggerValue(rule.trigger), "aria-label": t("bot.rule.trigger_value"), dataset: { testid: "bot-rule-trigger" } })),
      el("label", {}, `${t("bot.rule.reply")} (${t("bot.language.ja")})`),
      el("textarea", { name: "reply_ja", rows: 2, maxlength: 5000, dataset: { testid: "bot-rule-reply-ja" } }, text.ja),
      el("label", {}, `${t("bot.rule.reply")} (${t("bot.language.en")})`),
      el("textarea", { name: "reply_en", rows: 2, maxlength: 5000, dataset: { testid: "bot-rule-reply-en" } }, text.en),
      el("label", {}, t("bot.rule.buttons")),
      el("textarea", { name: "buttons", rows: 2, dataset: { original: lines, testid: "bot-rule-buttons" } }, lines),
      el("span"),
      el("p", { class: "hint" }, t("bot.rule.buttons_hint")),
    ),
    el("button", { type: "button", class: "button small", onclick: () => row.remove() }, t("bot.rules.remove")),
  );
  row.rule = rule;
  return row;
}

function readRule(row) {
  const field = (name) => row.querySelector(`[name="${name}"]`);
  const buttons = field("buttons");
  const original = row.rule.reply ?? { messages: [] };
  const reply = withText(original, { ja: field("reply_ja").value, en: field("reply_en").value }) ?? { messages: [] };
  // Buttons typed differently replace the old ones; untouched, they stay exactly as they were.
  if (buttons.value !== buttons.dataset.original) reply.quick_replies = parseButtons(buttons.value);
  return {
    ...row.rule,
    trigger: parseTrigger(field("trigger_type").value, field("trigger_value").value),
    reply,
  };
}

function showMode() {
  const mode = form.elements.mode.value;
  for (const section of root.querySelectorAll("[data-mode-section]")) {
    section.hidden = section.dataset.modeSection !== mode;
  }
}

function fill(bot) {
  rules = bot.rules ?? emptyRules();
  const f = form.elements;
  f.mode.value = bot.mode;
  f.idle_minutes.value = Math.round(bot.idle_close_ms / 60000);
  f.closing_message.value = bot.closing_message ?? "";
  f.default_language.value = rules.default_language;
  f.greet_on_follow.checked = rules.greet_on_follow;
  f.on_repeated_question.checked = rules.handoff.on_repeated_question;
  f.handoff_keywords.value = rules.handoff.keywords.join(", ");
  for (const [part, where] of Object.entries(PARTS)) {
    const text = textOf(where.get(rules));
    f[`${part}.ja`].value = text.ja;
    f[`${part}.en`].value = text.en;
  }
  rulesList.replaceChildren(...rules.rules.map(ruleRow));
  f.external_url.value = bot.external_url ?? "";
  f.rotate_secret.checked = false;
  document.getElementById("bot-secret-state").textContent = bot.secret_set ? t("bot.external.secret_set") : "";
  stats(bot);
  showMode();
}

function stats(bot) {
  const s = bot.sends;
  document.getElementById("bot-stats-bot").textContent = tf("bot.stats.counts", { reply: s.bot_reply, push: s.bot_push });
  document.getElementById("bot-stats-channel").textContent = tf("bot.stats.counts", { reply: s.reply, push: s.push });
  document.getElementById("bot-stats-failures").textContent = String(bot.failures.total);
  document.getElementById("bot-failures").replaceChildren(
    ...bot.failures.recent.map((f) =>
      el("li", {}, el("time", {}, new Date(f.created_ms).toLocaleString()), " ", t(`bot.failure.${f.kind}`), ": ", f.detail),
    ),
  );
}

function body() {
  const f = form.elements;
  const edited = structuredClone(rules);
  edited.default_language = f.default_language.value;
  edited.greet_on_follow = f.greet_on_follow.checked;
  edited.handoff.on_repeated_question = f.on_repeated_question.checked;
  edited.handoff.keywords = f.handoff_keywords.value.split(/[,、]/).map((k) => k.trim()).filter(Boolean);
  for (const [part, where] of Object.entries(PARTS)) {
    where.set(edited, withText(where.get(edited), { ja: f[`${part}.ja`].value, en: f[`${part}.en`].value }));
  }
  edited.rules = [...rulesList.children].map(readRule);
  return {
    mode: f.mode.value,
    rules: edited,
    external_url: f.external_url.value.trim() || null,
    idle_close_ms: Number(f.idle_minutes.value) * 60000,
    closing_message: f.closing_message.value.trim() ? f.closing_message.value : null,
    rotate_secret: f.rotate_secret.checked,
  };
}

function problem(message) {
  const box = document.getElementById("bot-error");
  box.textContent = message;
  box.hidden = !message;
}

async function save(event) {
  event.preventDefault();
  const status = form.querySelector(".form-status");
  problem("");
  status.textContent = t("bot.saving");
  try {
    const saved = await api("PUT", url, body());
    fill(saved);
    status.textContent = t("bot.saved");
    const secret = document.getElementById("bot-secret");
    secret.hidden = !saved.secret;
    document.getElementById("bot-secret-value").textContent = saved.secret ?? "";
  } catch (e) {
    status.textContent = "";
    problem(e.field ? tf("bot.error.field", { field: e.field, message: e.message }) : e.message);
  }
}

async function start() {
  await ready;
  form.addEventListener("submit", save);
  form.elements.mode.addEventListener("change", showMode);
  document.getElementById("bot-add-rule").addEventListener("click", () => {
    const row = ruleRow({ trigger: { type: "keyword", keywords: [] }, reply: { messages: [] } });
    rulesList.append(row);
    row.querySelector('[name="trigger_value"]').focus();
  });
  try {
    fill(await api("GET", url));
  } catch (e) {
    problem(e.message);
  }
  // Until here a change to the form would be overwritten by the stored settings.
  root.dataset.ready = "true";
}

start();
