// JSON calls to the REST API with the session cookie and the CSRF token Django expects on writes.

export class ApiError extends Error {
  constructor(status, data) {
    super((data && data.detail) || `The server answered ${status}.`);
    this.status = status;
    this.data = data || {};
  }
}

export class NetworkError extends Error {}

function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : document.querySelector("meta[name=csrf-token]")?.content || "";
}

// Resolves {status, data} for 2xx answers, throws ApiError for others and NetworkError when nothing came back.
export async function api(url, { method = "GET", body, form, signal } = {}) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") headers["X-CSRFToken"] = csrfToken();
  let payload;
  if (form) payload = form;
  else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, { method, headers, body: payload, credentials: "same-origin", signal });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new NetworkError("The server could not be reached.");
  }
  let data = null;
  if (response.status !== 204) {
    const text = await response.text();
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = { detail: `The server answered ${response.status}.` };
    }
  }
  if (!response.ok) {
    if (response.status === 401 || (response.status === 403 && /credentials|CSRF/i.test(data?.detail || ""))) {
      data = { ...data, detail: "Your session has ended. Reload the page and sign in again to continue." };
    }
    throw new ApiError(response.status, data);
  }
  return { status: response.status, data };
}

// `urlWithId("/api/v1/assignments/0/submit/", 42)` → "/api/v1/assignments/42/submit/": Django reverses the
// routes with a 0 placeholder; the page fills in ids.
export function urlWithId(template, id) {
  return template.replace(/\/0\//, `/${id}/`);
}
