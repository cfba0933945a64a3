// The page: views (library, practice, summary, instructor) switched by the URL hash.

import { api } from "./api.js";
import { setConfig } from "./config.js";
import { Instructor } from "./instructor.js";
import { hideLibrary, showLibrary } from "./library.js";
import { posePreference, setPosePreference } from "./pose.js";
import { Practice } from "./practice.js";
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

const practice = new Practice({
  onSummary: async (result) => {
    // A practice opened by its link comes before any list of the library: fetch it for
    // "Next step", unless the learner has gone elsewhere by then.
    const turn = routed;
    if (!steps.length) steps = await api.references().catch(() => []);
    if (turn !== routed || document.body.dataset.view !== "practice") return;
    show("summary");
    const index = steps.findIndex((s) => s.name === result.reference.name);
    const next = index >= 0 ? steps[index + 1] : undefined;
    showSummary(result, {
      onAgain: () => practise(result.reference.name, result.step),
      onLoop: (step) => practise(result.reference.name, step),
      onNext: next ? () => practise(next.name) : null,
      onLibrary: () => { location.hash = "#library"; },
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
  instructor.stop();
  hideLibrary();
  const hash = location.hash || "#library";
  if (hash.startsWith("#practice/")) {
    show("practice");
    const step = pendingStep;
    pendingStep = null;
    await practice.start(decodeURIComponent(hash.slice("#practice/".length)), practiceOptions(step));
  } else if (hash === "#instructor") {
    show("instructor");
    if (!steps.length) steps = await api.references().catch(() => []);
    if (turn === routed) await instructor.open(steps);
  } else {
    show("library");
    steps = await showLibrary((name) => practise(name));
  }
}

function wireControls() {
  $("btn-instructor").addEventListener("click", () => { location.hash = "#instructor"; });
  $("btn-back").addEventListener("click", () => { location.hash = "#library"; });
  $("btn-stop").addEventListener("click", () => practice.finish());
  $("opt-speech").addEventListener("change", (e) => setSpeech(e.target.checked));
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
  setSpeech(false);
  try {
    const [skeleton, config] = await Promise.all([api.skeleton(), api.config()]);
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
