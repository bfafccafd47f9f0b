// Calls to the JSON API with the session cookie and the CSRF header.

const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content ?? "";

/** An API failure: `status` is the HTTP status, `message` LINE's or the server's reason. */
export class ApiError extends Error {
  constructor(status, message, field) {
    super(message);
    this.status = status;
    this.field = field;
  }
}

/** `api("POST", "/api/v1/…", body)` → the parsed JSON answer (or null). Throws ApiError. */
export async function api(method, url, body) {
  const headers = { "X-CSRF-Token": csrf(), Accept: "application/json" };
  let payload;
  if (body instanceof FormData) {
    payload = body;
  } else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, { method, headers, body: payload, credentials: "same-origin" });
  } catch (e) {
    throw new ApiError(0, e.message);
  }
  if (response.status === 401) {
    window.location.assign(`/login?next=${encodeURIComponent(location.pathname + location.search)}`);
    throw new ApiError(401, "");
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const error = data?.error ?? {};
    throw new ApiError(response.status, error.message ?? response.statusText, error.field);
  }
  return data;
}

/** Fetches a server-rendered fragment (HTML escaped by the server) as an inert document. */
export async function fragment(url) {
  const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } });
  if (response.redirected && new URL(response.url).pathname === "/login") {
    window.location.assign(response.url);
    throw new ApiError(401, "");
  }
  if (!response.ok) throw new ApiError(response.status, response.statusText);
  // DOMParser documents are inert: no script runs, nothing loads until nodes are adopted.
  return new DOMParser().parseFromString(await response.text(), "text/html");
}
