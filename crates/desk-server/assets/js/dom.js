// Building DOM from data without HTML strings: text always goes through textContent.

/** `el("button", { class: "x", dataset: { id } , onclick }, "text", child)`. */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "dataset") Object.assign(node.dataset, value);
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "text") node.textContent = value;
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child === undefined || child === null) continue;
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

/** Replaces `target`'s element with the same id from a parsed fragment; returns the new one. */
export function swap(doc, id) {
  const incoming = doc.getElementById(id);
  const current = document.getElementById(id);
  if (!incoming || !current) return null;
  const adopted = document.adoptNode(incoming);
  current.replaceWith(adopted);
  return adopted;
}

/** Shows a short message at the top of the page. */
export function toast(message, kind = "info") {
  const box = document.getElementById("toast");
  if (!box) return;
  box.textContent = message;
  box.dataset.kind = kind;
  box.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => {
    box.hidden = true;
  }, kind === "error" ? 8000 : 3000);
}
