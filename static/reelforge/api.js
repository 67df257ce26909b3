// Talking to the JSON API: session cookie auth, CSRF token from the cookie, one error shape.

/** The CSRF token Django put in the `csrftoken` cookie (read per call: it can rotate at login). */
export function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

/** An API error with the server's words: `message`, a stable `code` and per-field messages. */
export class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || `The server answered ${status}.`);
    this.status = status;
    this.code = error.code || "error";
    this.fields = error.fields || {};
  }

  /** One readable sentence: the message plus every field message. */
  describe() {
    const details = Object.entries(this.fields).map(
      ([field, messages]) => `${field}: ${[].concat(messages).join(" ")}`,
    );
    return [this.message, ...details].join(" ");
  }
}

/**
 * Call the API and return the parsed JSON (null for 204).
 * Writes carry X-CSRFToken; failures throw ApiError (also for network errors, status 0).
 */
export async function api(path, { method = "GET", body, headers = {} } = {}) {
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json", ...headers } };
  if (method !== "GET" && method !== "HEAD") init.headers["X-CSRFToken"] = csrfToken();
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(`/api${path}`, init);
  } catch (err) {
    throw new ApiError(0, { error: { code: "network", message: "The server cannot be reached." } });
  }
  if (response.status === 204) return null;
  const data = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

/** Fetch a server-rendered HTML fragment (pages re-render parts of themselves with these). */
export async function fragment(url) {
  const response = await fetch(url, { credentials: "same-origin", headers: { "X-Fragment": "1" } });
  if (!response.ok) throw new ApiError(response.status, null);
  return response.text();
}
