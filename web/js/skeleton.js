// Drawing skeletons: the learner's (limbs coloured by state) and the reference ghost.
// Points are MediaPipe's normalised image coordinates, [x, y, ...] per landmark, or null.

export const STATE_COLOURS = {
  good: "#2ecc71",
  warn: "#f5a623",
  bad: "#ff4d4d",
  unseen: "#7f8c8d",
};
const GHOST_COLOUR = "rgba(140, 210, 255, 0.8)";
const HALO_COLOUR = "rgba(0, 0, 0, 0.55)";
const MIN_VISIBILITY = 0.5;

let bones = [];
let torsoCorners = [];

// The bones and landmark names come from the server (GET /api/skeleton) so page and scoring
// agree.
export function setSkeleton(definition) {
  bones = definition.bones;
  torsoCorners = ["left_shoulder", "right_shoulder", "left_hip", "right_hip"].map((name) => definition.landmarks.indexOf(name));
}

// The limbs, in the server's order.
export function limbNames() {
  return [...new Set(bones.map((bone) => bone.limb))];
}

// Screen points are [x, y, visibility]; a missing visibility counts as visible.
function visible(point) {
  return point && (point[2] === undefined || point[2] >= MIN_VISIBILITY);
}

// Normalised points ([x, y, z, visibility] or [x, y]) to screen points [x, y, visibility];
// `flip` mirrors left-right.
export function toScreen(points, width, height, flip) {
  return points.map((p) => (p ? [(flip ? 1 - p[0] : p[0]) * width, p[1] * height, p[3]] : null));
}

function midpoint(a, b) {
  return a && b ? [(a[0] + b[0]) / 2, (a[1] + b[1]) / 2] : null;
}

function torso(points) {
  const [leftShoulder, rightShoulder, leftHip, rightHip] = torsoCorners.map((i) => points[i]);
  const shoulders = midpoint(leftShoulder, rightShoulder);
  const hips = midpoint(leftHip, rightHip);
  if (!shoulders || !hips) return null;
  const length = Math.hypot(shoulders[0] - hips[0], shoulders[1] - hips[1]);
  return length > 1 ? { hips, length } : null;
}

// Move and scale screen points `ghost` so its hips and torso length match `anchor`'s.
export function fitTo(ghost, anchor) {
  const g = torso(ghost);
  const a = anchor && torso(anchor);
  if (!g || !a) return ghost;
  const s = a.length / g.length;
  return ghost.map((p) => (p ? [a.hips[0] + (p[0] - g.hips[0]) * s, a.hips[1] + (p[1] - g.hips[1]) * s, p[2]] : null));
}

// A transform that scales screen points to fill a box: fitted to every point of every frame
// in `frames`, so an animation keeps one scale throughout.
export function boxFit(frames, width, height, margin = 0.08) {
  const present = frames.flatMap((points) => (points ? points.filter(Boolean) : []));
  if (!present.length) return (points) => points;
  const xs = present.map((p) => p[0]);
  const ys = present.map((p) => p[1]);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  const s = Math.min((width * (1 - 2 * margin)) / Math.max(x1 - x0, 1e-6), (height * (1 - 2 * margin)) / Math.max(y1 - y0, 1e-6));
  const ox = (width - (x1 - x0) * s) / 2 - x0 * s;
  const oy = (height - (y1 - y0) * s) / 2 - y0 * s;
  return (points) => points.map((p) => (p ? [p[0] * s + ox, p[1] * s + oy, p[2]] : null));
}

// Draw screen points. `limbStates` maps limb name to good|warn|bad|unseen; without it every
// bone takes `colour`. One path per colour and one for the joints, under a dark halo (one path
// too) that keeps the lines readable on light and dark backgrounds alike: a handful of canvas
// operations a skeleton, however many bones (each bone and joint drawn apart with a blurred
// shadow cost the page's pose model 3 to 5 % of its frames).
export function drawSkeleton(ctx, points, { limbStates = null, colour = GHOST_COLOUR, width = 6 } = {}) {
  const strokes = new Map();
  const halo = new Path2D();
  const joints = new Path2D();
  const loose = new Path2D();
  const onBone = new Set();
  for (const bone of bones) {
    const a = points[bone.start];
    const b = points[bone.end];
    if (!visible(a) || !visible(b)) continue;
    const state = limbStates?.[bone.limb]?.state;
    const stroke = limbStates ? STATE_COLOURS[state] ?? STATE_COLOURS.unseen : colour;
    if (!strokes.has(stroke)) strokes.set(stroke, new Path2D());
    for (const path of [strokes.get(stroke), halo]) {
      path.moveTo(a[0], a[1]);
      path.lineTo(b[0], b[1]);
    }
    onBone.add(bone.start).add(bone.end);
  }
  const radius = width * 0.6;
  points.forEach((p, i) => {
    if (!visible(p)) return;
    joints.moveTo(p[0] + radius, p[1]);
    joints.arc(p[0], p[1], radius, 0, 2 * Math.PI);
    if (onBone.has(i)) return;
    loose.moveTo(p[0] + width, p[1]);
    loose.arc(p[0], p[1], width, 0, 2 * Math.PI);
  });
  ctx.save();
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  ctx.strokeStyle = ctx.fillStyle = HALO_COLOUR;
  ctx.lineWidth = width * 2;
  ctx.stroke(halo);
  ctx.fill(loose);
  ctx.lineWidth = width;
  for (const [stroke, path] of strokes) {
    ctx.strokeStyle = stroke;
    ctx.stroke(path);
  }
  ctx.fillStyle = limbStates ? "#ffffff" : colour;
  ctx.fill(joints);
  ctx.restore();
}

// Ghost frames arrive as flat [x0, y0, x1, y1, ...] rows; turn one into points.
export function ghostPoints(row) {
  if (!row) return null;
  const points = [];
  for (let i = 0; i < row.length; i += 2) points.push([row[i], row[i + 1]]);
  return points;
}

// Keep a canvas's backing store at its displayed size times the pixel ratio.
export function fitCanvas(canvas) {
  const ratio = window.devicePixelRatio || 1;
  const w = Math.round(canvas.clientWidth * ratio);
  const h = Math.round(canvas.clientHeight * ratio);
  if (canvas.width !== w || canvas.height !== h) {
    canvas.width = w;
    canvas.height = h;
  }
  return { width: w, height: h, ratio };
}

// A looping skeleton animation of reference frames on a small canvas (library cards, take
// preview). `range()` may narrow the frames played (trimming). Returns a stop function.
export function animate(canvas, frames, { fps = 30, speed = 1, flip = false, range = null } = {}) {
  const ctx = canvas.getContext("2d");
  const unit = 100;
  const screens = frames.xy.map((row) => {
    const points = ghostPoints(row);
    return points && toScreen(points, unit * frames.aspect, unit, flip);
  });
  const fit = boxFit(screens, canvas.width, canvas.height);
  let raf = 0;
  const start = performance.now();
  const draw = (now) => {
    const [lo, hi] = range ? range() : [0, screens.length];
    const span = Math.max(1, hi - lo);
    const i = lo + (Math.floor(((now - start) / 1000) * fps * speed) % span);
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    if (screens[i]) drawSkeleton(ctx, fit(screens[i]), { colour: "#e8b04a", width: 4 });
    raf = requestAnimationFrame(draw);
  };
  raf = requestAnimationFrame(draw);
  return () => cancelAnimationFrame(raf);
}
