// The summary after a run: overall score, body parts, the worst moments, a score chart.

import { isMastered, masteredScore, scoreState } from "./config.js";
import { fitCanvas, STATE_COLOURS } from "./skeleton.js";

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
  const ctx = canvas.getContext("2d");
  const { width, height, ratio } = fitCanvas(canvas);
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.scale(ratio, ratio);
  drawChartAt(ctx, width / ratio, height / ratio, timeline);
}

function drawChartAt(ctx, width, height, timeline) {
  const pad = { left: 48, right: 16, top: 12, bottom: 30 };
  const w = width - pad.left - pad.right;
  const h = height - pad.top - pad.bottom;
  ctx.clearRect(0, 0, width, height);
  ctx.font = "16px system-ui, sans-serif";
  ctx.fillStyle = "rgba(46, 204, 113, 0.12)";
  ctx.fillRect(pad.left, pad.top, w, h * (1 - masteredScore() / 100));
  ctx.strokeStyle = "#3a4650";
  ctx.fillStyle = "#a8b0b8";
  ctx.lineWidth = 1;
  for (const level of [0, 50, 100]) {
    const y = pad.top + h * (1 - level / 100);
    ctx.beginPath();
    ctx.moveTo(pad.left, y);
    ctx.lineTo(pad.left + w, y);
    ctx.stroke();
    ctx.fillText(String(level), 8, y + 5);
  }
  if (timeline.length < 2) {
    ctx.fillText("Not enough of the run was seen to draw a chart.", pad.left + 10, pad.top + h / 2);
    return;
  }
  const t0 = timeline[0].t;
  const span = Math.max(timeline[timeline.length - 1].t - t0, 1e-3);
  ctx.textAlign = "right";
  ctx.fillText(`${span.toFixed(1)} s`, pad.left + w, height - 8);
  ctx.textAlign = "left";
  ctx.fillText("0 s", pad.left, height - 8);
  ctx.strokeStyle = "#e8b04a";
  ctx.lineWidth = 3;
  ctx.beginPath();
  timeline.forEach(({ t, score }, i) => {
    const x = pad.left + ((t - t0) / span) * w;
    const y = pad.top + h * (1 - Math.min(100, Math.max(0, score)) / 100);
    if (i === 0) ctx.moveTo(x, y);
    else ctx.lineTo(x, y);
  });
  ctx.stroke();
}

export function showSummary(result, { onAgain, onLoop, onNext, onLibrary }) {
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

  const worst = hasReport ? [...report.worst_moments.map(momentText), ...report.feedback] : [];
  $("summary-worst").replaceChildren(
    ...(worst.length ? worst : ["Nothing stood out. Well danced!"]).slice(0, 6)
      .map((text) => Object.assign(document.createElement("li"), { textContent: text })),
  );
  drawChart($("summary-chart"), result.timeline);

  const hardest = hasReport && report.steps.length > 1
    ? [...report.steps].sort((a, b) => a.score - b.score)[0] : null;
  const loop = $("btn-loop-worst");
  loop.hidden = !hardest || isMastered(hardest.score);
  if (hardest) loop.textContent = `Loop “${hardest.name}”`;
  loop.onclick = () => onLoop(hardest.name);
  const next = $("btn-next");
  next.hidden = !onNext;
  const mastered = hasReport && isMastered(report.score);
  next.className = mastered ? "primary" : "ghost-btn";
  next.textContent = mastered ? "Mastered — next step →" : "Next step →";
  next.onclick = onNext;
  $("btn-again").onclick = onAgain;
  $("btn-library").onclick = onLibrary;
}
