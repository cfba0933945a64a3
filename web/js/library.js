// The library view: one card per step with a looping skeleton preview.

import { api, loadReference } from "./api.js";
import { animate } from "./skeleton.js";

const stopPreviews = [];

export function formatDuration(seconds) {
  return seconds < 60 ? `${seconds.toFixed(1)} s` : `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
}

function card(info, onPick) {
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
  loadReference(info.name)
    .then((detail) => stopPreviews.push(animate(canvas, detail.ghost, { fps: detail.fps })))
    .catch(() => canvas.remove());
  return item;
}

export async function showLibrary(onPick) {
  const list = document.getElementById("step-list");
  const status = document.getElementById("library-status");
  while (stopPreviews.length) stopPreviews.pop()();
  status.classList.remove("error");
  status.textContent = "Loading the steps…";
  try {
    const steps = await api.references();
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
