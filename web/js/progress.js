// Progress over weeks: a learner's own page (per step the score over time, best, latest, how
// often, the limb costing most points lately, and what to practise next), and the teacher's
// class page (the roster's week, the class's most common correction per step, a learner's
// progress and attempts, accounts, CSV export).

import { api } from "./api.js";
import { scoreChart } from "./charts.js";
import { scoreState } from "./config.js";
import { STATE_COLOURS } from "./skeleton.js";

const $ = (id) => document.getElementById(id);
const words = (name) => (name ?? "").replaceAll("_", " ");
const DAY = { day: "numeric", month: "short" };
const DAY_MS = 24 * 3600 * 1000;

export function shortDate(ms) {
  return new Date(ms).toLocaleDateString(undefined, DAY);
}

function element(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

function titleOf(steps, name) {
  return steps.find((s) => s.name === name)?.title ?? name;
}

// `progress` as GET /api/progress gives it; `steps` the library (for titles); `practise(name,
// part)` opens a practice; `learner` is set when a teacher looks at someone else's.
export async function showProgress(progress, steps, { practise, learner = null }) {
  $("progress-title").textContent = learner ? `${learner}'s progress` : "Your progress";
  $("progress-own-actions").hidden = Boolean(learner);
  const next = $("progress-next");
  next.hidden = !progress.next;
  if (progress.next) {
    const { reference, step, reason } = progress.next;
    const go = element("button", { type: "button", className: "primary", textContent: `Practise ${titleOf(steps, reference)}${step ? `: ${step}` : ""} →` });
    go.onclick = () => practise(reference, step);
    next.replaceChildren(element("h3", { textContent: "Practise next" }), element("p", { textContent: `${titleOf(steps, reference)}: ${reason}.` }), ...(learner ? [] : [go]));
  }
  $("progress-status").textContent = progress.steps.length ? "" : "No practice kept yet: dance a step and it shows here.";
  const cards = progress.steps.map((step) => stepCard(step, steps, practise, learner));
  $("progress-steps").replaceChildren(...cards.map((c) => c.item));
  await Promise.all(cards.map((c) => c.draw()));
}

function stepCard(step, steps, practise, learner) {
  const canvas = element("canvas");
  const stats = element("p", { className: "progress-stats" },
    `best ${Math.round(step.best)} · latest ${Math.round(step.latest)} · ${step.count} ${step.count === 1 ? "try" : "tries"}`);
  const lately = element("p", { className: "progress-lately" },
    step.costliest_limb ? `Lately your ${words(step.costliest_limb)} costs most points` : "",
    step.weakest_part ? `; the weakest part is “${step.weakest_part}”.` : "");
  const head = element("div", { className: "progress-head" }, element("h3", { textContent: titleOf(steps, step.reference) }), stats);
  if (!learner) {
    const again = element("button", { type: "button", className: "ghost-btn", textContent: "Practise" });
    again.onclick = () => practise(step.reference, null);
    head.append(again);
  }
  const item = element("li", { className: "progress-step" }, head, element("div", { className: "chart-box" }, canvas), lately);
  item.dataset.reference = step.reference;
  const points = step.points.map((p) => ({ x: Date.parse(p.at), y: p.score }));
  return { item, draw: () => scoreChart(canvas, points, { xLabel: shortDate, minSpan: 2 * DAY_MS }) };
}

// The class page: roster, corrections per step, and the forms a teacher uses.
export function showClass(overview, steps, { openLearner }) {
  const rows = overview.learners.map((learner) => {
    const open = element("button", { type: "button", className: "link-btn", textContent: learner.name });
    open.onclick = () => openLearner(learner.name);
    const week = learner.steps.map((s) => `${titleOf(steps, s.reference)} ${Math.round(s.latest)}${s.change === null ? "" : ` (${s.change >= 0 ? "+" : ""}${Math.round(s.change)})`}`).join(", ");
    return element("tr", {},
      element("td", {}, open),
      element("td", { textContent: String(learner.practices_this_week) }),
      element("td", { textContent: week || "–" }),
      element("td", { textContent: learner.last_practised ? shortDate(Date.parse(learner.last_practised)) : "never" }));
  });
  $("class-roster").tBodies[0].replaceChildren(...rows);
  $("class-empty").hidden = rows.length > 0;
  const corrections = Object.entries(overview.corrections).map(([reference, text]) =>
    element("li", {}, element("strong", { textContent: `${titleOf(steps, reference)}: ` }), text));
  $("class-corrections").replaceChildren(...(corrections.length ? corrections : [element("li", { textContent: "No corrections yet." })]));
}

// A learner's attempts, newest first; clicking one shows its report's score, limbs and corrections.
export function showAttempts(practices, steps) {
  const items = practices.map((practice) => {
    const detail = element("div", { className: "attempt-detail", hidden: true });
    const open = element("button", { type: "button", className: "link-btn",
      textContent: `${shortDate(Date.parse(practice.finished_at))} · ${titleOf(steps, practice.reference)} · ${Math.round(practice.score)} ${practice.rating}` });
    open.onclick = async () => {
      if (detail.hidden && !detail.childElementCount) {
        const { report } = await api.practice(practice.id);
        detail.append(...attemptReport(report));
      }
      detail.hidden = !detail.hidden;
    };
    const item = element("li", {}, open);
    if (practice.has_attempt) {
      const replay = element("button", { type: "button", className: "ghost-btn", textContent: "Replay" });
      replay.onclick = () => { location.hash = `#replay/${practice.id}`; };
      item.append(" ", replay);
    }
    item.append(detail);
    return item;
  });
  $("progress-attempts").replaceChildren(...items);
  $("progress-attempts-box").hidden = items.length === 0;
}

function attemptReport(report) {
  const limbs = Object.entries(report.limbs).map(([limb, score]) => {
    const value = element("span", { textContent: `${words(limb)} ${Math.round(score)}` });
    value.style.color = STATE_COLOURS[scoreState(score)];
    return value;
  });
  const said = [...report.worst_moments.map((m) => `${words(m.limb)}: ${m.error}`), ...report.feedback].slice(0, 5);
  return [element("p", { className: "attempt-limbs" }, ...limbs.flatMap((l) => [l, " "])),
    element("ul", {}, ...said.map((text) => element("li", { textContent: text })))];
}
