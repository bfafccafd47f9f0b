// The desk: chat lists, the open conversation and its actions, kept live over SSE.

import { api, fragment } from "./api.js";
import { swap, toast } from "./dom.js";
import { t, tf } from "./i18n.js";
import { ready } from "./layout.js";
import { connect } from "./live.js";
import { Composer } from "./composer.js";
import { installShortcuts } from "./shortcuts.js";

const desk = document.getElementById("desk");
const brand = desk.dataset.brand;
const list = desk.dataset.list;
let conversation = desk.dataset.conversation || null;
const NOTIFY_KEY = "linedesk.notify";

/** Runs `task` now, or once more after the running one ends: bursts of events coalesce. */
function coalesced(task) {
  let running = null;
  let again = false;
  const run = async () => {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      try {
        await task();
      } catch (e) {
        if (e.status !== 401) console.warn(e);
      }
    })();
    await running;
    running = null;
    if (again) {
      again = false;
      await run();
    }
  };
  return run;
}

const refreshLists = coalesced(async () => {
  const active = conversation ? `&active=${conversation}` : "";
  const doc = await fragment(`/brands/${brand}/chats/_lists?list=${list}${active}`);
  const holder = document.getElementById("chat-lists");
  const scroll = holder.querySelector("#chat-list")?.scrollTop ?? 0;
  holder.replaceChildren(...[...doc.body.childNodes].map((node) => document.adoptNode(node)));
  const listEl = holder.querySelector("#chat-list");
  if (listEl) listEl.scrollTop = scroll;
  updateTitle();
});

const thread = () => document.getElementById("thread");
const atBottom = (el) => !el || el.scrollHeight - el.scrollTop - el.clientHeight < 40;
const toBottom = () => {
  const el = thread();
  if (el) el.scrollTop = el.scrollHeight;
};

const refreshConversation = coalesced(async () => {
  if (!conversation) return;
  const before = thread();
  const stick = atBottom(before);
  const scroll = before?.scrollTop ?? 0;
  const doc = await fragment(`/brands/${brand}/chats/${conversation}/_view?list=${list}`);
  const view = swap(doc, "conversation-view");
  swap(doc, "contact-panel");
  composer?.update(view);
  if (stick) toBottom();
  else if (thread()) thread().scrollTop = scroll;
});

/** The tab title shows how many live chats have unread messages. */
function updateTitle() {
  const unread = Number(document.getElementById("chat-list")?.dataset.unreadChats ?? 0);
  const base = document.title.replace(/^\(\d+\) /, "");
  document.title = unread > 0 ? `(${unread}) ${base}` : base;
}

// New chats: optional sound and browser notification.
const notifyToggle = document.getElementById("notify-toggle");
notifyToggle.checked = localStorage.getItem(NOTIFY_KEY) === "1";
notifyToggle.addEventListener("change", async () => {
  localStorage.setItem(NOTIFY_KEY, notifyToggle.checked ? "1" : "0");
  if (notifyToggle.checked && "Notification" in window && Notification.permission === "default") {
    const answer = await Notification.requestPermission();
    if (answer === "denied") toast(t("chats.notify.denied"));
  }
});
const sound = new Audio(desk.dataset.newChatSound);

async function announceNewChat(conversationId) {
  if (localStorage.getItem(NOTIFY_KEY) !== "1") return;
  sound.play().catch(() => {});
  if (!("Notification" in window && Notification.permission === "granted" && document.hidden)) return;
  // The name comes with the user's LINE profile, fetched just after the chat opens: wait for
  // it a little, so the notification names who is writing.
  const unnamed = t("chats.unnamed");
  let row = null;
  let name = unnamed;
  for (let waited = 0; ; waited += 500) {
    await refreshLists();
    row = document.querySelector(`.chat-row[data-conversation="${CSS.escape(conversationId)}"]`);
    name = row?.querySelector(".name")?.textContent ?? unnamed;
    if (name !== unnamed || waited >= 2000) break;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  const note = new Notification(tf("chats.notify.new_chat", { name }), {
    body: t("chats.notify.new_chat_body"),
    tag: conversationId,
  });
  note.addEventListener("click", () => {
    window.focus();
    if (row) row.click();
  });
}

const liveStatus = document.getElementById("live-status");
function setStatus(state) {
  liveStatus.dataset.state = state;
  liveStatus.textContent = t(state === "live" ? "chats.live.live" : "chats.live.offline");
}

function onEvent(kind, row) {
  refreshLists();
  const mine = conversation && row.conversation_id === conversation;
  if (mine || kind.startsWith("contact.")) refreshConversation();
  if (kind === "conversation.opened" && row.conversation_id) announceNewChat(row.conversation_id);
}

// Actions on the open conversation (buttons are re-rendered, so listen on the document).
async function act(path, body, doneKey) {
  try {
    await api("POST", `/api/v1/conversations/${conversation}/${path}`, body);
    if (doneKey) toast(t(doneKey));
  } catch (e) {
    toast(tf("common.error.request", { message: e.message }), "error");
  }
  await Promise.all([refreshConversation(), refreshLists()]);
}

const transferDialog = document.getElementById("transfer-dialog");
document.getElementById("transfer-cancel").addEventListener("click", () => transferDialog.close());
document.getElementById("transfer-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const [type, id] = document.getElementById("transfer-target").value.split(":");
  if (!id) return;
  const note = document.getElementById("transfer-note").value.trim();
  const body = type === "operator" ? { operator_id: id } : { department_id: id };
  if (note) body.note = note;
  transferDialog.close();
  await act("transfer", body, "chats.transfer.done");
});

document.addEventListener("click", async (event) => {
  const target = event.target.closest("button");
  if (!target) return;
  const { action, quote, retry, deleteNote } = target.dataset;
  if (action === "accept") await act("accept", undefined, "chats.accepted");
  else if (action === "take-over") await act("take-over", undefined, "bot.chat.taken_over");
  else if (action === "hand-back") await act("hand-back", undefined, "bot.chat.handed_back");
  else if (action === "close") {
    if (window.confirm(t("chats.close.confirm"))) await act("close", undefined, "chats.closed");
  } else if (action === "transfer") {
    document.getElementById("transfer-form").reset();
    transferDialog.showModal();
  } else if (quote) composer?.setQuote({ token: quote, summary: target.dataset.summary });
  else if (retry) {
    try {
      await api("POST", `/api/v1/messages/${retry}/retry`);
    } catch (e) {
      toast(tf("common.error.request", { message: e.message }), "error");
    }
    await refreshConversation();
  } else if (deleteNote) {
    const contact = document.getElementById("note-form")?.dataset.contact;
    try {
      await api("DELETE", `/api/v1/contacts/${contact}/notes/${deleteNote}`);
    } catch (e) {
      toast(tf("common.error.request", { message: e.message }), "error");
    }
    await refreshConversation();
  }
});

document.addEventListener("submit", async (event) => {
  if (event.target.id !== "note-form") return;
  event.preventDefault();
  const form = event.target;
  const text = form.querySelector("textarea").value.trim();
  if (!text) return;
  try {
    await api("POST", `/api/v1/contacts/${form.dataset.contact}/notes`, { body: text });
  } catch (e) {
    toast(tf("common.error.request", { message: e.message }), "error");
  }
  await refreshConversation();
});

// Switching chats without reloading the page (the live stream stays open). Only when a chat
// is already open, so the composer and contact panel exist to be filled.
async function openChat(link) {
  const url = new URL(link.href, location.href);
  const id = url.pathname.split("/").pop();
  if (!composer || !id || id === conversation) return;
  conversation = id;
  desk.dataset.conversation = id;
  history.pushState({ conversation: id }, "", url.pathname + url.search);
  await Promise.all([refreshConversation(), refreshLists()]);
  toBottom();
  const name = document.querySelector("#conversation-view h1")?.textContent;
  if (name) document.title = `${name} · ${document.title.split(" · ").slice(1).join(" · ")}`;
  updateTitle();
}

document.addEventListener("click", (event) => {
  const link = event.target.closest("a.chat-row, .history a");
  if (!link || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
  if (!composer) return;
  event.preventDefault();
  openChat(link);
});
window.addEventListener("popstate", () => location.reload());

const composerForm = document.getElementById("composer");
const composer = composerForm ? new Composer(composerForm, { onSent: () => refreshConversation() }) : null;
composer?.update(document.getElementById("conversation-view"));
installShortcuts(composer);
toBottom();
updateTitle();

await ready;
composer?.count();
connect(brand, desk.dataset.lastEventId, onEvent, setStatus);
