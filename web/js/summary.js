// The summary after a run: overall score, body parts, the worst moments, a score chart.

import { scoreChart } from "./charts.js";
import { isMastered, scoreState } from "./config.js";
import { downloadPicture, summaryPicture } from "./share.js";
import { STATE_COLOURS } from "./skeleton.js";

const $ = (id) => document.getElementById(id);

const words = (limb) => limb.replaceAll("_", " ");

function limbRow(limb, score) {
  const item = document.createElement("li");
  const name = document.createElement("span");
  name.textContent = words(limb);
  const bar = document.createElement("div");
  bar.className = "bar";
  const fill = document.createElement("span");
  fill.style.width = `${Math.max(2, score ?? 0)}%`;
  fill.style.background = score === null ? STATE_COLOURS.unseen : STATE_COLOURS[scoreState(score)];
  bar.append(fill);
  const value = document.createElement("span");
  value.textContent = score === null ? "unseen" : String(Math.round(score));
  item.append(name, bar, value);
  return item;
}

function momentText(moment) {
  const when = moment.start_s === null ? `left out (reference ${moment.reference_start_s.toFixed(1)} s)` : `at ${moment.start_s.toFixed(1)} s`;
  return `${words(moment.limb)} ${when}: ${moment.error}`;
}

// Score over time: a line over the run, with the "good" band shaded.
export function drawChart(canvas, timeline) {
  const t0 = timeline[0]?.t ?? 0;
  return scoreChart(canvas, timeline.map(({ t, score }) => ({ x: t - t0, y: Math.min(100, Math.max(0, score)) })), {
    xLabel: (seconds) => `${Number(seconds).toFixed(seconds < 10 ? 1 : 0)} s`,
  });
}

const ORDINALS = ["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth"];

// What became of the practice: "Your third try today: +12", or why it was not kept.
export function keptText(kept) {
  if (!kept) return "";
  if (!kept.stored) return kept.message ?? "";
  const nth = ORDINALS[kept.tries_today - 1] ?? `${kept.tries_today}th`;
  const change = kept.change === null ? "" : `: ${kept.change >= 0 ? "+" : "−"}${Math.abs(Math.round(kept.change))}`;
  return `Your ${nth} try today${change}.`;
}

// A routine's parts, each with its score and rating, weakest marked.
function partRows(parts) {
  return parts.map((part) => {
    const item = limbRow(part.name, part.score);
    item.title = part.corrections.join("; ");
    return item;
  });
}

export function showSummary(result, { onAgain, onLoop, onNext, onLibrary, onProgress, onReplay }) {
  // The view is visible by now, so the chart can be sized to it.
  const report = result.report;
  $("summary-title").textContent = `${result.reference.title}${result.step ? ` — ${result.step}` : ""}`;
  const hasReport = Boolean(report);
  $("summary-overall").textContent = hasReport ? String(Math.round(report.score)) : "–";
  $("summary-overall").style.color = hasReport ? STATE_COLOURS[scoreState(report.score)] : "";
  $("summary-rating").textContent = hasReport ? report.rating : "Nobody was seen dancing.";

  const limbs = hasReport ? [
    ...Object.entries(report.limbs).map(([limb, score]) => limbRow(limb, score)),
    ...report.unseen.map((limb) => limbRow(limb, null)),
  ] : [];
  $("summary-limbs").replaceChildren(...limbs);
  const parts = hasReport ? report.parts : [];
  $("summary-parts-box").hidden = parts.length === 0;
  $("summary-parts").replaceChildren(...partRows(parts));

  const worst = hasReport ? [...report.worst_moments.map(momentText), ...report.feedback] : [];
  $("summary-worst").replaceChildren(
    ...(worst.length ? worst : ["Nothing stood out. Well danced!"]).slice(0, 6)
      .map((text) => Object.assign(document.createElement("li"), { textContent: text })),
  );
  drawChart($("summary-chart"), result.timeline);
  const kept = $("summary-kept");
  kept.replaceChildren(keptText(result.kept));
  if (result.kept?.stored) {
    const link = Object.assign(document.createElement("button"), { type: "button", className: "link-btn", textContent: "See your progress" });
    link.onclick = onProgress;
    kept.append(" ", link);
  }

  const hardest = hasReport && report.steps.length > 1
    ? [...report.steps].sort((a, b) => a.score - b.score)[0] : null;
  const loop = $("btn-loop-worst");
  loop.hidden = !hardest || isMastered(hardest.score);
  if (hardest) loop.textContent = `Loop “${hardest.name}”`;
  loop.onclick = () => onLoop(hardest.name);
  const next = $("btn-next");
  const mastered = hasReport && isMastered(report.score);
  if (parts.length) {
    // A routine: its weakest step next, looped within the routine.
    const weakest = [...parts].sort((a, b) => a.score - b.score)[0];
    next.hidden = isMastered(weakest.score);
    next.className = "primary";
    next.textContent = `Practise “${weakest.name}” next, looped →`;
    next.onclick = () => onLoop(weakest.name);
    loop.hidden = true;
  } else {
    next.hidden = !onNext;
    next.className = mastered ? "primary" : "ghost-btn";
    next.textContent = mastered ? "Mastered — next step →" : "Next step →";
    next.onclick = onNext;
  }
  $("btn-again").onclick = onAgain;
  $("btn-replay").hidden = !hasReport || result.recorded.length < 2;
  $("btn-replay").onclick = onReplay;
  $("btn-share").hidden = !hasReport;
  $("btn-share").onclick = () => downloadPicture(summaryPicture(result, $("summary-chart")), `burkit-bi-${result.reference.name}`);
  $("btn-library").onclick = onLibrary;
}
