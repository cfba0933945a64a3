// Placing skeletons on screen: mirroring, fitting the ghost onto the learner, box fitting.
import assert from "node:assert/strict";
import { test } from "node:test";

import { boxFit, fitTo, ghostPoints, setSkeleton, toScreen } from "../../web/js/skeleton.js";

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
