// Talking to `ownscan serve` (docs/SERVE.md). The session cookie goes with every request (same
// origin); state-changing requests carry the X-Ownscan header the server demands of them.

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function check(resp) {
  if (resp.ok) return resp;
  let message = `${resp.status} ${resp.statusText}`;
  try {
    const body = await resp.json();
    if (body && body.error) message = body.error;
  } catch {
    // not JSON (the door's 401 page): the status says it
  }
  throw new ApiError(resp.status, message);
}

export async function apiFetch(url, options = {}) {
  const method = (options.method || "GET").toUpperCase();
  const headers = new Headers(options.headers || {});
  if (method !== "GET" && method !== "HEAD") headers.set("X-Ownscan", "1");
  let resp;
  try {
    resp = await fetch(url, { credentials: "same-origin", ...options, headers });
  } catch (e) {
    if (e && e.name === "AbortError") throw e;
    // no answer at all (status 0): the server stopped or restarting, the network gone; said
    // in words, where fetch says only "Failed to fetch" (uploads retry these)
    throw new ApiError(0, "ownscan serve cannot be reached (stopped, or the network is down); try again once it runs");
  }
  return check(resp);
}

export async function apiJson(url, options = {}) {
  const resp = await apiFetch(url, options);
  return resp.json();
}

export function postJson(url, body) {
  return apiJson(url, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
}

export const api = { fetch: apiFetch, json: apiJson, post: postJson };
