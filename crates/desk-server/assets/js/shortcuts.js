// Keyboard shortcuts of the desk (listed in the help overlay, "?").

const typingIn = (target) =>
  target instanceof HTMLElement &&
  (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));

/** Moves to the chat `step` rows away from the open one (or the first). */
function move(step) {
  const rows = [...document.querySelectorAll(".chat-row")];
  if (rows.length === 0) return;
  const current = rows.findIndex((row) => row.classList.contains("active"));
  const next = current === -1 ? 0 : Math.min(Math.max(current + step, 0), rows.length - 1);
  if (next !== current) rows[next].click();
}

const click = (selector) => document.querySelector(selector)?.click();

/** Installs the shortcuts; `composer` is focused by "r". */
export function installShortcuts(composer) {
  document.addEventListener("keydown", (event) => {
    if (event.altKey && (event.key === "ArrowDown" || event.key === "ArrowUp")) {
      event.preventDefault();
      move(event.key === "ArrowDown" ? 1 : -1);
      return;
    }
    if (event.key === "Escape") {
      composer?.closePopovers();
      if (typingIn(event.target)) event.target.blur();
      return;
    }
    if (typingIn(event.target) || event.ctrlKey || event.metaKey || event.altKey) return;
    if (document.querySelector("dialog[open]")) return;
    const actions = {
      j: () => move(1),
      k: () => move(-1),
      r: () => composer?.focus(),
      a: () => click('[data-action="accept"]'),
      t: () => click('[data-action="transfer"]'),
      c: () => click('[data-action="close"]'),
      "?": () => document.getElementById("help")?.showModal(),
    };
    const action = actions[event.key];
    if (action) {
      event.preventDefault();
      action();
    }
  });
}
