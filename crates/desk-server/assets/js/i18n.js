// Strings for scripts, from the same catalogs as the templates (loaded once per page).

let messages = {};

/** Loads the page's catalog (its URL is in `<body data-catalog>`). */
export async function loadCatalog() {
  const url = document.body.dataset.catalog;
  if (!url) return;
  try {
    const response = await fetch(url, { credentials: "same-origin" });
    if (response.ok) messages = await response.json();
  } catch {
    // Keys show instead of words; the page still works.
  }
}

/** The message for `key` (the key itself if missing, so a gap shows). */
export function t(key) {
  return messages[key] ?? key;
}

/** The message for `key` with `{name}` placeholders filled from `args`. */
export function tf(key, args) {
  return t(key).replace(/\{(\w+)\}/g, (whole, name) => (name in args ? String(args[name]) : whole));
}
