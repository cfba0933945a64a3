// Placing skeletons on screen: mirroring, fitting the ghost onto the learner, box fitting.
import assert from "node:assert/strict";
import { test } from "node:test";

import { boxFit, drawSkeleton, fitTo, ghostPoints, setSkeleton, STATE_COLOURS, toScreen } from "../../web/js/skeleton.js";

// A skeleton definition as GET /api/skeleton gives it, with the torso at made-up indices so
// that indices kept in the page would show.
const NAMES = ["nose", "left_hip", "right_hip", "left_shoulder", "right_shoulder"];
setSkeleton({ landmarks: NAMES, limbs: [], bones: [] });

test("normalised points become screen points, mirrored on request", () => {
  const points = [[0.25, 0.5, 0.1, 0.9], null];
  assert.deepEqual(toScreen(points, 200, 100, false), [[50, 50, 0.9], null]);
  assert.deepEqual(toScreen(points, 200, 100, true), [[150, 50, 0.9], null]);
});

test("ghost rows are flat x, y pairs", () => {
  assert.deepEqual(ghostPoints([1, 2, 3, 4]), [[1, 2], [3, 4]]);
  assert.equal(ghostPoints(null), null);
});

// Screen points for NAMES: a torso from hips at (x, y) up to shoulders `length` above.
function figure(x, y, length) {
  return [[x, y - 1.5 * length], [x - 5, y], [x + 5, y], [x - 5, y - length], [x + 5, y - length]];
}

test("the ghost stands on the learner's hips at the learner's torso length", () => {
  const placed = fitTo(figure(10, 20, 10), figure(100, 200, 40));
  const expected = [[100, 140], [80, 200], [120, 200], [80, 160], [120, 160]];
  placed.forEach((p, k) => {
    assert.ok(Math.abs(p[0] - expected[k][0]) < 1e-9 && Math.abs(p[1] - expected[k][1]) < 1e-9, `${k}: ${p}`);
  });
});

test("without a learner's torso the ghost stays where it is", () => {
  const ghost = figure(10, 20, 10);
  assert.equal(fitTo(ghost, null), ghost);
  assert.equal(fitTo(ghost, [null, null, null, null, null]), ghost);
});

test("a box fit keeps every frame inside the margins with one scale", () => {
  const frames = [[[0, 0], [10, 10]], [[5, 5], [20, 40]], null];
  const fit = boxFit(frames, 100, 100, 0.1);
  const placed = frames.filter(Boolean).flatMap((points) => fit(points));
  for (const [x, y] of placed) assert.ok(x >= 10 - 1e-9 && x <= 90 + 1e-9 && y >= 10 - 1e-9 && y <= 90 + 1e-9, `${x}, ${y}`);
  assert.equal(Math.min(...placed.map((p) => p[1])), 10);
  assert.equal(Math.max(...placed.map((p) => p[1])), 90);
});

// A canvas context and Path2D that record what is drawn: each stroke or fill with its style
// and the segments or circles of its path.
class RecordedPath {
  constructor() {
    this.lines = [];
    this.circles = [];
  }
  moveTo(x, y) {
    this.at = [x, y];
  }
  lineTo(x, y) {
    this.lines.push([...this.at, x, y]);
  }
  arc(x, y, r) {
    this.circles.push([x, y, r]);
  }
}

function recordingContext() {
  const drawn = [];
  return {
    drawn,
    save() {},
    restore() {},
    stroke(path) {
      drawn.push({ op: "stroke", style: this.strokeStyle, width: this.lineWidth, path });
    },
    fill(path) {
      drawn.push({ op: "fill", style: this.fillStyle, path });
    },
  };
}

test("a skeleton is one halo, one path per limb colour and one of joints, however many bones", () => {
  globalThis.Path2D = RecordedPath;
  setSkeleton({
    landmarks: ["nose", "left_shoulder", "left_elbow", "left_wrist", "right_shoulder", "right_elbow"],
    limbs: [],
    bones: [
      { start: 1, end: 2, limb: "left_arm" }, { start: 2, end: 3, limb: "left_arm" },
      { start: 4, end: 5, limb: "right_arm" }, { start: 1, end: 4, limb: "torso" },
    ],
  });
  const points = [[50, 10], [40, 20], [30, 30], [20, 40, 0.2], [60, 20], [70, 30]];
  const ctx = recordingContext();
  const limbStates = { left_arm: { state: "bad" }, right_arm: { state: "good" }, torso: { state: "good" } };
  drawSkeleton(ctx, points, { limbStates, width: 4 });
  assert.deepEqual(ctx.drawn.map((d) => d.op), ["stroke", "fill", "stroke", "stroke", "fill"]);
  const [halo, loose, bad, good, joints] = ctx.drawn;
  assert.equal(halo.width, 8);
  assert.equal(halo.path.lines.length, 3, "the unseen wrist's bone is left out");
  assert.deepEqual(loose.path.circles, [[50, 10, 4]], "a point on no bone gets its own halo");
  assert.deepEqual([bad.style, bad.path.lines], [STATE_COLOURS.bad, [[40, 20, 30, 30]]]);
  assert.deepEqual([good.style, good.path.lines.length], [STATE_COLOURS.good, 2]);
  assert.equal(joints.path.circles.length, 5);
  setSkeleton({ landmarks: NAMES, limbs: [], bones: [] });
});
