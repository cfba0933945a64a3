// Who is dancing: the login (name, role, CSRF token), the top bar's account buttons and the
// login view. At home (the tutor on loopback with no accounts) the page runs under the local
// learner and never asks anyone to log in.

import { api, ApiError, setCsrf } from "./api.js";

const $ = (id) => document.getElementById(id);

let me = null;

export function currentUser() {
  return me;
}

export function isTeacher() {
  return me?.role === "teacher";
}

// Ask the tutor who this browser is (null: nobody logged in), and show it in the top bar.
export async function loadMe() {
  try {
    me = await api.me();
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 401) throw err;
    me = null;
  }
  setCsrf(me?.csrf ?? null);
  showWho();
  return me;
}

function showWho() {
  $("who").textContent = me && !me.local ? `${me.name}${me.role === "teacher" ? " (teacher)" : ""}` : "";
  $("btn-login").hidden = Boolean(me);
  $("btn-logout").hidden = !me || me.local;
  $("btn-progress").hidden = !me;
  $("btn-class").hidden = !isTeacher();
}

// The login view: on success the top bar changes and `onDone` runs.
export function openLogin(onDone) {
  const form = $("login-form");
  $("login-status").textContent = "";
  $("login-name").focus();
  form.onsubmit = async (event) => {
    event.preventDefault();
    const status = $("login-status");
    status.classList.remove("error");
    status.textContent = "Logging in…";
    try {
      const login = await api.login($("login-name").value.trim().toLowerCase(), $("login-password").value);
      $("login-password").value = "";
      me = { ...login, local: false };
      setCsrf(me.csrf);
      showWho();
      status.textContent = "";
      onDone();
    } catch (err) {
      status.textContent = err.message;
      status.classList.add("error");
    }
  };
}

export async function logout() {
  await api.logout();
  me = null;
  setCsrf(null);
  await loadMe();
}
