// The REST API (see /docs): small wrappers that turn error responses into thrown Errors.

const TOKEN_KEY = "dance-tutor.instructor-token";

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export function instructorToken() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setInstructorToken(token) {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

async function request(method, path, body, { auth = false } = {}) {
  const headers = {};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (auth) headers.Authorization = `Bearer ${instructorToken() ?? ""}`;
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try {
      const detail = (await response.json()).detail;
      message = typeof detail === "string" ? detail : detail.map((d) => d.msg).join("; ");
    } catch {
      // The body was not JSON; the status line says enough.
    }
    throw new ApiError(response.status, message);
  }
  return response.status === 204 ? null : response.json();
}

export const api = {
  skeleton: () => request("GET", "/api/skeleton"),
  config: () => request("GET", "/api/config"),
  references: () => request("GET", "/api/references"),
  reference: (name) => request("GET", `/api/references/${encodeURIComponent(name)}`),
  checkToken: () => request("GET", "/api/instructor", undefined, { auth: true }),
  createReference: (body) => request("POST", "/api/references", body, { auth: true }),
  addTake: (name, body) =>
    request("POST", `/api/references/${encodeURIComponent(name)}/takes`, body, { auth: true }),
};

// Reference details (with ghost frames) are fetched once per page load.
const referenceCache = new Map();

export function loadReference(name) {
  if (!referenceCache.has(name)) {
    referenceCache.set(name, api.reference(name).catch((err) => {
      referenceCache.delete(name);
      throw err;
    }));
  }
  return referenceCache.get(name);
}

export function forgetReference(name) {
  referenceCache.delete(name);
}
