// The page: views (library, practice, summary, instructor) switched by the URL hash.

import { currentUser, isTeacher, loadMe, logout, openLogin } from "./account.js";
import { api, loadTarget } from "./api.js";
import { setConfig } from "./config.js";
import { Instructor } from "./instructor.js";
import { hideLibrary, showLibrary } from "./library.js";
import { posePreference, setPosePreference } from "./pose.js";
import { Practice } from "./practice.js";
import { showAttempts, showClass, showProgress } from "./progress.js";
import { liveAttempt, Replay, storedAttempt } from "./replay.js";
import { Calibration } from "./calibrate.js";
import { clicksOn, musicOn, setClicksOn, setMusicOn } from "./music.js";
import { keptVideos, setVideoOn, videoOn } from "./videos.js";
import { setSkeleton } from "./skeleton.js";
import { setSpeech } from "./speech.js";
import { showSummary } from "./summary.js";

const $ = (id) => document.getElementById(id);
let steps = [];

function show(view) {
  for (const section of document.querySelectorAll(".view")) section.hidden = section.dataset.view !== view;
  document.body.dataset.view = view;
}

function practiceOptions(step = $("opt-step").value) {
  return { mirror: $("opt-mirror").checked, speed: Number($("opt-speed").value), step: step || null };
}

function practise(name, step = null) {
  const hash = `#practice/${encodeURIComponent(name)}`;
  pendingStep = step;
  if (location.hash === hash) route();
  else location.hash = hash;
}

let pendingStep = null;
const replay = new Replay();
const calibration = new Calibration();

const practice = new Practice({
  onSummary: async (result) => {
    // A practice opened by its link comes before any list of the library: fetch it for
    // "Next step", unless the learner has gone elsewhere by then.
    const turn = routed;
    if (!steps.length) steps = await api.references().catch(() => []);
    if (turn !== routed || document.body.dataset.view !== "practice") return;
    show("summary");
    const videoKey = result.kept?.practice ?? "last";
    if (result.video) keptVideos.put(videoKey, result.video).catch((err) => console.error("The video could not be kept:", err));
    const index = steps.findIndex((s) => s.name === result.reference.name);
    const next = index >= 0 ? steps[index + 1] : undefined;
    showSummary(result, {
      onAgain: () => practise(result.reference.name, result.step),
      onLoop: (step) => practise(result.reference.name, step),
      onNext: next ? () => practise(next.name) : null,
      onLibrary: () => { location.hash = "#library"; },
      onProgress: () => { location.hash = "#progress"; },
      // The summary is not a page of its own: its replay opens in place and goes back to it.
      onReplay: () => {
        show("replay");
        replay.open(liveAttempt(result.recorded, result.aspect, result.reference, result.report, result.mirror), `${result.reference.title}: your last try`,
          result.video, () => keptVideos.delete(videoKey));
        $("btn-replay-back").onclick = () => {
          replay.close();
          show("summary");
        };
      },
    });
  },
});

const instructor = new Instructor({
  onSaved: () => { location.hash = "#library"; },
});

let routed = 0;

async function route() {
  const turn = ++routed;
  practice.stop();
  replay.close();
  calibration.stop();
  instructor.stop();
  hideLibrary();
  const hash = location.hash || "#library";
  if (hash.startsWith("#practice/")) {
    show("practice");
    const step = pendingStep;
    pendingStep = null;
    await practice.start(decodeURIComponent(hash.slice("#practice/".length)), practiceOptions(step));
  } else if (hash === "#calibrate") {
    show("calibrate");
    $("btn-cal-back").onclick = () => history.back();
    await calibration.open();
  } else if (hash.startsWith("#replay/")) {
    show("replay");
    await routeReplay(turn, Number(hash.slice("#replay/".length)));
  } else if (hash === "#login") {
    show("login");
    openLogin(() => { location.hash = "#progress"; });
  } else if (hash === "#progress") {
    show("progress");
    await routeProgress(turn);
  } else if (hash === "#class") {
    show("class");
    await routeClass(turn);
  } else if (hash.startsWith("#class/")) {
    show("progress");
    await routeLearner(turn, decodeURIComponent(hash.slice("#class/".length)));
  } else if (hash === "#instructor") {
    show("instructor");
    if (!steps.length) steps = await api.references().catch(() => []);
    if (turn === routed) await instructor.open(steps);
  } else {
    show("library");
    steps = await showLibrary((name) => practise(name), (name) => practise(name));
  }
}

async function libraryOnce() {
  if (!steps.length) steps = await api.references().catch(() => []);
  return steps;
}

function failed(id, err) {
  $(id).textContent = err.message;
  $(id).classList.add("error");
}

async function routeProgress(turn) {
  $("progress-teacher").hidden = true;
  $("progress-attempts-box").hidden = true;
  try {
    const [progress, practices, library] = await Promise.all([api.progress(), api.practices(), libraryOnce()]);
    if (turn !== routed) return;
    await showProgress(progress, library, { practise });
    showAttempts(practices, library);
  } catch (err) {
    if (err.status === 401) location.hash = "#login";
    else failed("progress-status", err);
  }
}

async function routeClass(turn) {
  try {
    const [overview, library] = await Promise.all([api.learners(), libraryOnce()]);
    if (turn === routed) showClass(overview, library, { openLearner: (name) => { location.hash = `#class/${encodeURIComponent(name)}`; } });
  } catch (err) {
    if (err.status === 401) location.hash = "#login";
    else failed("user-status", err);
  }
}

async function routeLearner(turn, name) {
  $("progress-teacher").hidden = false;
  $("teacher-status").textContent = "";
  try {
    const [progress, practices, library] = await Promise.all([api.learnerProgress(name), api.learnerPractices(name), libraryOnce()]);
    if (turn !== routed) return;
    await showProgress(progress, library, { practise, learner: name });
    showAttempts(practices, library);
  } catch (err) {
    failed("progress-status", err);
    return;
  }
  $("btn-reset-password").onclick = async () => {
    const password = prompt(`A new password for ${name} (at least 8 characters):`);
    if (!password) return;
    try {
      await api.resetPassword(name, password);
      $("teacher-status").textContent = `${name} has a new password; their logins have ended.`;
    } catch (err) {
      failed("teacher-status", err);
    }
  };
  $("btn-delete-learner").onclick = async () => {
    if (!confirm(`Delete ${name} and every practice they kept? This cannot be undone.`)) return;
    try {
      await api.deleteUser(name);
      location.hash = "#class";
    } catch (err) {
      failed("teacher-status", err);
    }
  };
}

async function routeReplay(turn, id) {
  $("btn-replay-back").onclick = () => history.back();
  try {
    const [{ reference: name, report, finished_at: finished, learner }, document] = await Promise.all([api.practice(id), api.attempt(id)]);
    const reference = await loadTarget(name);
    if (turn !== routed) return;
    const whose = learner === currentUser()?.name ? "" : `${learner}: `;
    const video = whose ? undefined : await keptVideos.get(id);
    if (turn !== routed) return;
    replay.open(storedAttempt(document, reference, report), `${whose}${reference.title}, ${new Date(finished).toLocaleString()}`,
      video ?? null, () => keptVideos.delete(id));
  } catch (err) {
    $("replay-moment").textContent = `This attempt cannot be replayed: ${err.message}`;
  }
}

function wireAccounts() {
  $("btn-login").addEventListener("click", () => { location.hash = "#login"; });
  $("btn-logout").addEventListener("click", async () => {
    await logout().catch(() => {});
    location.hash = "#library";
  });
  $("btn-progress").addEventListener("click", () => { location.hash = "#progress"; });
  $("btn-class").addEventListener("click", () => { location.hash = "#class"; });
  $("btn-forget").addEventListener("click", async () => {
    if (!confirm("Delete every practice you kept? This cannot be undone.")) return;
    try {
      await api.forgetHistory();
      location.hash = "#library";
    } catch (err) {
      failed("progress-status", err);
    }
  });
  $("user-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = $("user-name").value.trim();
    try {
      await api.addUser({ name, role: $("user-role").value, password: $("user-password").value });
      $("user-password").value = "";
      $("user-name").value = "";
      $("user-status").classList.remove("error");
      $("user-status").textContent = `${name} can log in now.`;
      if (isTeacher()) await routeClass(routed);
    } catch (err) {
      failed("user-status", err);
    }
  });
}

function wireControls() {
  $("btn-instructor").addEventListener("click", () => { location.hash = "#instructor"; });
  $("btn-back").addEventListener("click", () => { location.hash = "#library"; });
  $("btn-stop").addEventListener("click", () => practice.finish());
  $("opt-speech").addEventListener("change", (e) => setSpeech(e.target.checked));
  $("opt-video").checked = videoOn();
  $("opt-video").addEventListener("change", (e) => setVideoOn(e.target.checked));
  $("opt-music").checked = musicOn();
  $("opt-clicks").checked = clicksOn();
  $("opt-music").addEventListener("change", (e) => {
    setMusicOn(e.target.checked);
    if (practice.reference && document.body.dataset.view === "practice") practise(practice.reference.name, $("opt-step").value);
  });
  $("opt-clicks").addEventListener("change", (e) => setClicksOn(e.target.checked));
  $("btn-calibrate").addEventListener("click", () => { location.hash = "#calibrate"; });
  $("opt-pose").value = posePreference();
  $("opt-pose").addEventListener("change", (e) => {
    setPosePreference(e.target.value);
    if (practice.reference && document.body.dataset.view === "practice") practise(practice.reference.name, $("opt-step").value);
  });
  // A new mirror or speed setting needs a new session; a new step only a fresh start.
  $("opt-mirror").addEventListener("change", () => {
    if (practice.reference && document.body.dataset.view === "practice") practise(practice.reference.name, $("opt-step").value);
  });
  $("opt-speed").addEventListener("change", () => {
    if (practice.reference) practise(practice.reference.name, $("opt-step").value);
  });
  $("opt-step").addEventListener("change", (e) => practice.changeStep(e.target.value || null));
  $("btn-watch").addEventListener("click", (e) => {
    const watching = practice.toggleWatch(Number($("opt-speed").value));
    e.target.textContent = watching ? "Stop watching" : "Watch";
  });
}

async function boot() {
  wireControls();
  wireAccounts();
  setSpeech(false);
  try {
    const [skeleton, config] = await Promise.all([api.skeleton(), api.config(), loadMe()]);
    setSkeleton(skeleton);
    setConfig(config);
  } catch (err) {
    $("library-status").textContent = `The tutor is not reachable: ${err.message}`;
    return;
  }
  window.addEventListener("hashchange", route);
  await route();
}

boot();
