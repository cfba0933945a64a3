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

// The login's CSRF token (GET /api/me, POST /api/login): every write sent with the session
// cookie carries it.
let csrf = null;

export function setCsrf(token) {
  csrf = token;
}

async function request(method, path, body, { auth = false } = {}) {
  const headers = {};
  const form = body instanceof FormData;
  if (body !== undefined && !form) headers["Content-Type"] = "application/json";
  if (auth) headers.Authorization = `Bearer ${instructorToken() ?? ""}`;
  if (method !== "GET" && csrf) headers["X-CSRF-Token"] = csrf;
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined || form ? body : JSON.stringify(body),
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
  routines: () => request("GET", "/api/routines"),
  calibrate: (body) => request("POST", "/api/calibration", body),
  putMusic: (name, file, meter) => {
    const form = new FormData();
    form.append("file", file);
    form.append("meter", String(meter));
    return request("PUT", `/api/references/${encodeURIComponent(name)}/music`, form, { auth: true });
  },
  patchMusic: (name, grid) => request("PATCH", `/api/references/${encodeURIComponent(name)}/music`, grid, { auth: true }),
  deleteMusic: (name) => request("DELETE", `/api/references/${encodeURIComponent(name)}/music`, undefined, { auth: true }),
  routine: (name) => request("GET", `/api/routines/${encodeURIComponent(name)}`),
  saveRoutine: (name, body) => request("PUT", `/api/routines/${encodeURIComponent(name)}`, body, { auth: true }),
  deleteRoutine: (name) => request("DELETE", `/api/routines/${encodeURIComponent(name)}`, undefined, { auth: true }),
  checkToken: () => request("GET", "/api/instructor", undefined, { auth: true }),
  createReference: (body) => request("POST", "/api/references", body, { auth: true }),
  addTake: (name, body) =>
    request("POST", `/api/references/${encodeURIComponent(name)}/takes`, body, { auth: true }),
  me: () => request("GET", "/api/me"),
  login: (name, password) => request("POST", "/api/login", { name, password }),
  logout: () => request("POST", "/api/logout"),
  progress: () => request("GET", "/api/progress"),
  forgetHistory: () => request("DELETE", "/api/progress"),
  practices: () => request("GET", "/api/progress/practices"),
  learners: () => request("GET", "/api/learners"),
  learnerProgress: (name) => request("GET", `/api/learners/${encodeURIComponent(name)}/progress`),
  learnerPractices: (name) => request("GET", `/api/learners/${encodeURIComponent(name)}/practices`),
  practice: (id) => request("GET", `/api/practices/${id}`),
  attempt: (id) => request("GET", `/api/practices/${id}/attempt`),
  addUser: (body) => request("POST", "/api/users", body, { auth: Boolean(instructorToken()) }),
  deleteUser: (name) => request("DELETE", `/api/users/${encodeURIComponent(name)}`),
  resetPassword: (name, password) => request("PUT", `/api/users/${encodeURIComponent(name)}/password`, { password }),
};

// Reference and routine details (with ghost frames) are fetched once per page load.
const referenceCache = new Map();

function cached(key, load) {
  if (!referenceCache.has(key)) {
    referenceCache.set(key, load().catch((err) => {
      referenceCache.delete(key);
      throw err;
    }));
  }
  return referenceCache.get(key);
}

export function loadReference(name) {
  return cached(`step:${name}`, () => api.reference(name));
}

// A routine as it is danced, in the shape of a step's detail (its parts are its steps).
export function loadRoutine(name) {
  return cached(`routine:${name}`, () => api.routine(name));
}

// What `name` is danced against: a step of the library, else a routine (as the server
// decides for a practice session).
export async function loadTarget(name) {
  try {
    return await loadReference(name);
  } catch (err) {
    if (err.status !== 404) throw err;
    return loadRoutine(name);
  }
}

export function forgetReference(name) {
  referenceCache.delete(`step:${name}`);
}
