// The reply box: text (Enter sends, Shift+Enter new line, 5,000 UTF-16 units like LINE),
// quote reply, stickers, canned responses, attachments, and the typing signal.

import { api } from "./api.js";
import { toast } from "./dom.js";
import { t, tf } from "./i18n.js";

/** LINE's limit for a text message, in UTF-16 code units (what JS string length counts). */
export const MAX_TEXT = 5000;
/** The server throttles the loading animation too; this only saves requests. */
const TYPING_EVERY_MS = 15000;

export class Composer {
  constructor(form, { onSent }) {
    this.form = form;
    this.text = form.querySelector("#composer-text");
    this.counter = form.querySelector("#counter");
    this.send = form.querySelector("#send");
    this.disabled = form.querySelector("#composer-disabled");
    this.quotePreview = form.querySelector("#quote-preview");
    this.quoteText = form.querySelector("#quote-text");
    this.onSent = onSent;
    this.quote = null;
    this.lastTyping = 0;
    this.conversation = null;
    this.oneToOne = false;
    this.sending = false;

    this.text.addEventListener("keydown", (e) => {
      // isComposing: Enter also confirms a Japanese IME conversion; that must not send.
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
        e.preventDefault();
        this.submit();
      }
    });
    this.text.addEventListener("input", () => {
      this.count();
      this.typing();
      this.saveDraft();
    });
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.submit();
    });
    form.querySelector("#quote-cancel").addEventListener("click", () => this.setQuote(null));
    this.popovers = {
      "sticker-button": form.querySelector("#sticker-picker"),
      "attach-button": form.querySelector("#attach-info"),
      "canned-button": form.querySelector("#canned-picker"),
    };
    for (const [button, popover] of Object.entries(this.popovers)) {
      form.querySelector(`#${button}`).addEventListener("click", () => this.toggle(button, popover.hidden));
    }
    for (const tab of form.querySelectorAll("[data-package-tab]")) {
      tab.addEventListener("click", () => this.showPackage(tab.dataset.packageTab));
    }
    for (const choice of form.querySelectorAll(".sticker-choice")) {
      choice.addEventListener("click", () => this.sendSticker(choice.dataset.packageId, choice.dataset.stickerId));
    }
    for (const choice of form.querySelectorAll(".canned-choice")) {
      choice.addEventListener("click", () => this.insert(choice.dataset.body));
    }
    const filter = form.querySelector("#canned-filter");
    filter.addEventListener("input", () => {
      const needle = filter.value.trim().toLowerCase();
      for (const choice of form.querySelectorAll(".canned-choice")) {
        choice.parentElement.hidden = needle !== "" && !choice.textContent.toLowerCase().includes(needle);
      }
    });
    form.querySelector("#attach-input").addEventListener("change", (e) => this.upload(e.target));
    this.count();
  }

  /** Keeps unsent text per chat for this tab, so switching chats loses nothing. */
  saveDraft() {
    if (!this.conversation) return;
    const key = `linedesk.draft.${this.conversation}`;
    if (this.text.value) sessionStorage.setItem(key, this.text.value);
    else sessionStorage.removeItem(key);
  }

  /** Reads the open conversation's state from its rendered view. */
  update(view) {
    const next = view?.dataset.conversation ?? null;
    if (next !== this.conversation) {
      this.text.value = next ? (sessionStorage.getItem(`linedesk.draft.${next}`) ?? "") : "";
      this.setQuote(null);
      this.count();
    }
    this.conversation = next;
    this.oneToOne = view?.dataset.oneToOne === "true";
    const canReply = view?.dataset.canReply === "true";
    this.form.classList.toggle("disabled", !canReply);
    this.disabled.hidden = canReply;
    this.disabled.textContent = canReply ? "" : view?.dataset.disabledReason ?? "";
    this.text.disabled = !canReply;
    if (!canReply) this.closePopovers();
  }

  focus() {
    if (!this.text.disabled) this.text.focus();
  }

  count() {
    const length = this.text.value.length;
    this.counter.textContent = tf("composer.counter", { n: length.toLocaleString() });
    const over = length > MAX_TEXT;
    this.counter.classList.toggle("over", over);
    this.counter.title = over ? t("composer.too_long") : "";
    this.send.disabled = over || this.text.value.trim() === "";
  }

  typing() {
    const now = Date.now();
    if (!this.oneToOne || !this.conversation || now - this.lastTyping < TYPING_EVERY_MS) return;
    if (this.text.value.trim() === "") return;
    this.lastTyping = now;
    api("POST", `/api/v1/conversations/${this.conversation}/typing`).catch(() => {});
  }

  setQuote(quote) {
    this.quote = quote;
    this.quotePreview.hidden = !quote;
    this.quoteText.textContent = quote?.summary ?? "";
    if (quote) this.focus();
  }

  insert(text) {
    const { selectionStart: start, selectionEnd: end, value } = this.text;
    this.text.value = value.slice(0, start) + text + value.slice(end);
    this.text.selectionStart = this.text.selectionEnd = start + text.length;
    this.closePopovers();
    this.count();
    this.focus();
  }

  toggle(buttonId, open) {
    this.closePopovers();
    if (!open) return;
    this.popovers[buttonId].hidden = false;
    this.form.querySelector(`#${buttonId}`).setAttribute("aria-expanded", "true");
    if (buttonId === "canned-button") this.form.querySelector("#canned-filter").focus();
  }

  closePopovers() {
    for (const [button, popover] of Object.entries(this.popovers)) {
      popover.hidden = true;
      this.form.querySelector(`#${button}`).setAttribute("aria-expanded", "false");
    }
  }

  showPackage(id) {
    for (const tab of this.form.querySelectorAll("[data-package-tab]")) {
      tab.setAttribute("aria-selected", String(tab.dataset.packageTab === id));
    }
    for (const grid of this.form.querySelectorAll(".sticker-grid")) grid.hidden = grid.dataset.package !== id;
  }

  async submit() {
    const text = this.text.value;
    if (this.sending || !this.conversation || text.trim() === "" || text.length > MAX_TEXT) return;
    this.sending = true;
    this.send.disabled = true;
    try {
      const body = { text };
      if (this.quote) body.quote_token = this.quote.token;
      await api("POST", `/api/v1/conversations/${this.conversation}/messages`, body);
      this.text.value = "";
      this.saveDraft();
      this.setQuote(null);
      this.onSent();
    } catch (e) {
      toast(tf("common.error.request", { message: e.message }), "error");
    } finally {
      this.sending = false;
      this.count();
    }
  }

  async sendSticker(packageId, stickerId) {
    if (!this.conversation) return;
    this.closePopovers();
    try {
      const body = { package_id: packageId, sticker_id: stickerId };
      if (this.quote) body.quote_token = this.quote.token;
      await api("POST", `/api/v1/conversations/${this.conversation}/stickers`, body);
      this.setQuote(null);
      this.onSent();
    } catch (e) {
      toast(tf("common.error.request", { message: e.message }), "error");
    }
  }

  async upload(input) {
    const file = input.files?.[0];
    input.value = "";
    if (!file || !this.conversation) return;
    const status = this.form.querySelector("#attach-status");
    status.textContent = tf("composer.uploading", { name: file.name });
    const data = new FormData();
    data.append("file", file);
    try {
      await api("POST", `/api/v1/conversations/${this.conversation}/attachments`, data);
      status.textContent = "";
      toast(tf("composer.uploaded", { name: file.name }));
      this.closePopovers();
      this.onSent();
    } catch (e) {
      status.textContent = "";
      toast(e.status === 404 || e.status === 405 ? t("composer.upload_unavailable")
        : tf("common.error.request", { message: e.message }), "error");
    }
  }
}
