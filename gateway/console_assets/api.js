// The public REST API, called with the operator's key as a bearer token. The key lives in this
// tab's sessionStorage only: never in a URL, a cookie or storage that outlives the tab.
const KEY = "paymesh.console.apiKey";

export function apiKey() {
  return sessionStorage.getItem(KEY) || "";
}

export function setApiKey(key) {
  sessionStorage.setItem(KEY, key);
}

export function forgetApiKey() {
  sessionStorage.removeItem(KEY);
}

// An answer other than 2xx, with the AIP-193 reason ("SCOPE_MISSING", "NOT_FOUND", ...).
export class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || `HTTP ${status}`);
    this.status = status;
    const info = (error.details || []).find((d) => d && d.reason) || {};
    this.reason = info.reason || error.status || "";
    this.metadata = info.metadata || {};
  }

  // What to tell the operator, in words.
  explain() {
    if (this.reason === "SCOPE_MISSING") {
      const scope = this.metadata.scope || "a scope";
      return `This API key lacks the scope "${scope}" that this screen needs.`;
    }
    if (this.status === 401) return "An API key is needed: enter one above.";
    if (this.status === 403) return "The API key is not valid (unknown, wrong or revoked).";
    if (this.status === 429) return "Too many requests: wait a moment and retry.";
    return `${this.message} (HTTP ${this.status}${this.reason ? ", " + this.reason : ""})`;
  }
}

function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params || {})) {
    if (value !== "" && value !== undefined && value !== null) search.set(name, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

// GET `path` (already encoded) with `params` as the query; the JSON body, or ApiError.
export async function get(path, params) {
  return call("GET", path + query(params));
}

// POST with a fresh Idempotency-Key (one per operator action).
export async function post(path, body) {
  return call("POST", path, body || {}, crypto.randomUUID());
}

async function call(method, path, body, idempotencyKey) {
  const headers = { Accept: "application/json" };
  const key = apiKey();
  if (key) headers.Authorization = `Bearer ${key}`;
  if (idempotencyKey) headers["Idempotency-Key"] = idempotencyKey;
  const init = { method, headers, cache: "no-store", credentials: "omit" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const answer = await fetch(path, init);
  let parsed = null;
  try {
    parsed = await answer.json();
  } catch {
    parsed = null;
  }
  if (!answer.ok) throw new ApiError(answer.status, parsed);
  return parsed || {};
}

// One path segment, encoded (ids come from the operator).
export function seg(value) {
  return encodeURIComponent(value);
}
