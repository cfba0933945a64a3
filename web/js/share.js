// A summary as a picture to share (PNG): the score and rating, a bar per limb, the score chart
// and the worst moment's two skeletons, the learner's beside the reference's.

import { scoreState } from "./config.js";
import { frameAtReference } from "./replay.js";
import { boxFit, drawSkeleton, ghostPoints, limbNames, STATE_COLOURS, toScreen } from "./skeleton.js";

const WIDTH = 1200;
const HEIGHT = 675;
const BACKGROUND = "#11161b";
const PANEL = "#1b2229";
const TEXT = "#eef2f5";
const MUTED = "#a8b0b8";
const AMBER = "#e8b04a";
const words = (limb) => limb.replaceAll("_", " ");

// The picture as a canvas. `result` is the summary's (report, reference, recorded frames,
// aspect, mirror); `chart` the summary's chart canvas.
export function summaryPicture(result, chart) {
  const canvas = document.createElement("canvas");
  canvas.width = WIDTH;
  canvas.height = HEIGHT;
  const ctx = canvas.getContext("2d");
  const { report, reference } = result;
  ctx.fillStyle = BACKGROUND;
  ctx.fillRect(0, 0, WIDTH, HEIGHT);
  ctx.fillStyle = AMBER;
  ctx.font = "bold 30px system-ui, sans-serif";
  ctx.fillText("Burkit bi", 40, 56);
  ctx.fillStyle = TEXT;
  ctx.font = "bold 40px system-ui, sans-serif";
  ctx.fillText(reference.title + (result.step ? ` — ${result.step}` : ""), 40, 110);
  ctx.fillStyle = STATE_COLOURS[scoreState(report.score)];
  ctx.font = "800 120px system-ui, sans-serif";
  ctx.fillText(String(Math.round(report.score)), 40, 250);
  ctx.fillStyle = TEXT;
  ctx.font = "bold 36px system-ui, sans-serif";
  ctx.fillText(report.rating, 44, 300);
  limbBars(ctx, report.limbs, 40, 340);
  ctx.fillStyle = PANEL;
  ctx.fillRect(430, 140, 730, 230);
  if (chart.width && chart.height) ctx.drawImage(chart, 440, 150, 710, 210);
  worstMoment(ctx, result, 430, 390, 730, 250);
  return canvas;
}

function limbBars(ctx, limbs, x, y) {
  ctx.font = "22px system-ui, sans-serif";
  Object.entries(limbs).forEach(([limb, score], i) => {
    const top = y + i * 44;
    ctx.fillStyle = MUTED;
    ctx.fillText(words(limb), x, top + 22);
    ctx.fillStyle = PANEL;
    ctx.fillRect(x + 130, top + 4, 200, 22);
    ctx.fillStyle = STATE_COLOURS[scoreState(score)];
    ctx.fillRect(x + 130, top + 4, 2 * Math.max(1, score), 22);
    ctx.fillStyle = TEXT;
    ctx.fillText(String(Math.round(score)), x + 345, top + 22);
  });
}

function worstMoment(ctx, result, x, y, width, height) {
  ctx.fillStyle = PANEL;
  ctx.fillRect(x, y, width, height);
  const { report, reference, recorded } = result;
  const moment = report.worst_moments[0] ?? null;
  const said = moment ? `${words(moment.limb)}: ${moment.error}` : report.feedback[0];
  ctx.font = "22px system-ui, sans-serif";
  ctx.fillStyle = TEXT;
  const lines = wrap(ctx, said ? `To work on: ${said}` : "Nothing stood out. Well danced!", width - 40, 2);
  lines.forEach((line, i) => ctx.fillText(line, x + 20, y + 34 + 28 * i));
  if (recorded.length === 0) return;
  // The worst moment's frame, or the middle of the run when no moment stood out.
  const frame = recorded[moment ? frameAtReference(recorded, reference.fps, moment.reference_start_s) : Math.floor(recorded.length / 2)];
  const row = reference.ghost.xy[Math.min(Math.max(0, Math.round(frame.ref ?? 0)), reference.ghost.xy.length - 1)];
  const half = width / 2;
  const top = 34 + 28 * lines.length;
  const box = height - top - 30;
  const mine = frame.points && toScreen(frame.points, 100 * result.aspect, 100, true);
  const ghost = ghostPoints(row);
  const theirs = ghost && toScreen(ghost, 100 * reference.ghost.aspect, 100, !result.mirror);
  ctx.save();
  ctx.translate(x, y + top);
  const states = moment && Object.fromEntries(limbNames().map((limb) => [limb, { state: limb === moment.limb ? "bad" : "good" }]));
  if (mine) drawSkeleton(ctx, boxFit([mine], half, box)(mine), { colour: AMBER, width: 5, limbStates: states });
  ctx.translate(half, 0);
  if (theirs) drawSkeleton(ctx, boxFit([theirs], half, box)(theirs), { width: 5 });
  ctx.restore();
  ctx.fillStyle = MUTED;
  ctx.fillText("you", x + half / 2 - 16, y + height - 12);
  ctx.fillText("the reference", x + half + half / 2 - 60, y + height - 12);
}

// `text` broken into at most `most` lines that fit `width` (the last one cut with an ellipsis).
function wrap(ctx, text, width, most) {
  const lines = [];
  let line = "";
  for (const word of text.split(" ")) {
    const longer = line ? `${line} ${word}` : word;
    if (ctx.measureText(longer).width <= width || !line) line = longer;
    else {
      lines.push(line);
      line = word;
    }
  }
  lines.push(line);
  if (lines.length > most) {
    lines.length = most;
    lines[most - 1] = `${lines[most - 1].replace(/\s+\S*$/, "")}…`;
  }
  return lines;
}

// Download the picture as `name`.png.
export function downloadPicture(canvas, name) {
  canvas.toBlob((blob) => {
    const link = Object.assign(document.createElement("a"), { href: URL.createObjectURL(blob), download: `${name}.png` });
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 1000);
  }, "image/png");
}
