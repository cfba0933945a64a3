// The library view: one card per step with a looping skeleton preview.

import { api, loadReference, loadRoutine } from "./api.js";
import { animate } from "./skeleton.js";

const stopPreviews = [];

export function formatDuration(seconds) {
  return seconds < 60 ? `${seconds.toFixed(1)} s` : `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
}

function card(info, onPick, load = loadReference) {
  const item = document.createElement("li");
  item.className = "card";
  item.dataset.name = info.name;
  const button = document.createElement("button");
  button.type = "button";
  button.setAttribute("aria-label", `Practise ${info.title}`);
  const canvas = document.createElement("canvas");
  canvas.width = 240;
  canvas.height = 240;
  const body = document.createElement("div");
  body.className = "card-body";
  const title = document.createElement("h3");
  title.className = "card-title";
  title.textContent = info.title;
  const meta = document.createElement("div");
  meta.className = "card-meta";
  const difficulty = document.createElement("span");
  difficulty.className = "difficulty";
  difficulty.textContent = info.difficulty;
  const duration = document.createElement("span");
  duration.textContent = formatDuration(info.duration_s);
  meta.append(difficulty, duration);
  body.append(title, meta);
  button.append(canvas, body);
  button.addEventListener("click", () => onPick(info.name));
  item.append(button);
  load(info.name)
    .then((detail) => stopPreviews.push(animate(canvas, detail.ghost, { fps: detail.fps })))
    .catch(() => canvas.remove());
  return item;
}

// A routine's card: its title, how many steps, and the whole dance as the preview.
function routineCard(routine, steps, onPick) {
  const titles = routine.steps.map((name) => steps.find((s) => s.name === name)?.title ?? name);
  const duration = routine.steps.reduce((sum, name, i) => sum + (steps.find((s) => s.name === name)?.duration_s ?? 0) * routine.repeats[i], 0);
  const item = card({ name: routine.name, title: routine.title, difficulty: `${routine.steps.length} steps`, duration_s: duration }, onPick, loadRoutine);
  item.classList.add("routine-card");
  item.title = titles.join(" → ");
  return item;
}

export async function showLibrary(onPick, onRoutine) {
  const list = document.getElementById("step-list");
  const status = document.getElementById("library-status");
  while (stopPreviews.length) stopPreviews.pop()();
  status.classList.remove("error");
  status.textContent = "Loading the steps…";
  try {
    const [steps, routines] = await Promise.all([api.references(), api.routines()]);
    document.getElementById("routine-list").replaceChildren(...routines.map((routine) => routineCard(routine, steps, onRoutine)));
    document.getElementById("routines").hidden = routines.length === 0;
    list.replaceChildren(...steps.map((info) => card(info, onPick)));
    status.textContent = steps.length ? "" : "The library is empty: an instructor can record the first step.";
    return steps;
  } catch (err) {
    status.classList.add("error");
    status.textContent = `The steps could not be loaded: ${err.message}`;
    return [];
  }
}

export function hideLibrary() {
  while (stopPreviews.length) stopPreviews.pop()();
}
