// The instructor's routine editor: pick steps of the library, order them, say how many times
// in a row each is danced, and save the routine (PUT /api/routines/{name}); a routine naming a
// missing step is refused by the tutor with one sentence, shown here.

import { api } from "./api.js";

const $ = (id) => document.getElementById(id);

function setStatus(text, isError = false) {
  $("routine-status").textContent = text;
  $("routine-status").classList.toggle("error", isError);
}

export class RoutineEditor {
  constructor({ onSaved }) {
    this.onSaved = onSaved;
    this.steps = [];
    this.routines = [];
    $("routine-pick").addEventListener("change", () => this.load($("routine-pick").value));
    $("btn-routine-add").addEventListener("click", () => this.addEntry(this.steps[0]?.name, 1));
    $("btn-routine-delete").addEventListener("click", () => this.remove());
    $("routine-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.save();
    });
  }

  async open(steps) {
    this.steps = steps;
    this.routines = await api.routines().catch(() => []);
    $("routine-pick").replaceChildren(new Option("A new routine", ""), ...this.routines.map((r) => new Option(r.title, r.name)));
    this.load("");
  }

  load(name) {
    const routine = this.routines.find((r) => r.name === name);
    $("routine-name").value = routine?.name ?? "";
    $("routine-name").disabled = Boolean(routine);
    $("routine-title").value = routine?.title ?? "";
    $("routine-transition").value = String(routine?.transition_s ?? 0.5);
    $("btn-routine-delete").hidden = !routine;
    $("routine-entries").replaceChildren();
    if (routine) routine.steps.forEach((step, i) => this.addEntry(step, routine.repeats[i]));
    else this.addEntry(this.steps[0]?.name, 1);
    setStatus("");
  }

  addEntry(step, repeat) {
    const item = document.createElement("li");
    const pick = document.createElement("select");
    pick.className = "routine-step";
    pick.append(...this.steps.map((s) => new Option(s.title, s.name)));
    pick.value = step ?? "";
    const times = Object.assign(document.createElement("input"), { type: "number", min: "1", max: "20", value: String(repeat), className: "routine-repeat" });
    times.setAttribute("aria-label", "times in a row");
    const button = (label, title, action) => {
      const b = Object.assign(document.createElement("button"), { type: "button", className: "ghost-btn", textContent: label, title });
      b.onclick = action;
      return b;
    };
    item.append(pick, " ×", times,
      button("↑", "earlier", () => item.previousElementSibling?.before(item)),
      button("↓", "later", () => item.nextElementSibling?.after(item)),
      button("✕", "remove", () => item.remove()));
    $("routine-entries").append(item);
  }

  entries() {
    return [...$("routine-entries").children].map((item) => ({
      step: item.querySelector(".routine-step").value,
      repeat: Number(item.querySelector(".routine-repeat").value),
    }));
  }

  async save() {
    const name = $("routine-name").value.trim();
    const body = { title: $("routine-title").value.trim() || name, steps: this.entries(), transition_s: Number($("routine-transition").value) };
    try {
      const saved = await api.saveRoutine(name, body);
      setStatus(`Saved “${saved.title}”: ${saved.steps.length} steps.`);
      this.onSaved(saved);
    } catch (err) {
      setStatus(err.message, true);
    }
  }

  async remove() {
    const name = $("routine-name").value;
    if (!confirm(`Delete the routine ${name}? Its steps stay in the library.`)) return;
    try {
      await api.deleteRoutine(name);
      await this.open(this.steps);
      setStatus(`Deleted ${name}.`);
    } catch (err) {
      setStatus(err.message, true);
    }
  }
}
