// The practice view's pure parts: step ranges as the server sends them, the framing check.
import assert from "node:assert/strict";
import { test } from "node:test";

import { framingHint, stepRange } from "../../web/js/practice.js";

const REFERENCE = {
  frames: 121,
  steps: [{ name: "open", start_s: 0, end_s: 0.6 }, { name: "down", start_s: 0.6, end_s: 1.4 }],
  // Deliberately not what any rounding of the seconds would give: the page must not recompute.
  step_frames: [{ name: "open", start_frame: 0, stop_frame: 17 }, { name: "down", start_frame: 19, stop_frame: 44 }],
};

test("a step's frames are the ones the server sends", () => {
  assert.deepEqual(stepRange(REFERENCE, "down"), [19, 44]);
  assert.deepEqual(stepRange(REFERENCE, "open"), [0, 17]);
});

test("no step, or one the reference does not have, is the whole reference", () => {
  assert.deepEqual(stepRange(REFERENCE, null), [0, 121]);
  assert.deepEqual(stepRange(REFERENCE, "gone"), [0, 121]);
});

// 33 landmarks [x, y, z, visibility] spread from y = top to y = bottom.
function body(top, bottom, visibility = 1) {
  return Array.from({ length: 33 }, (_, k) => [0.5, top + ((bottom - top) * k) / 32, 0, visibility]);
}

test("framing asks for the whole body, well in view and big enough", () => {
  assert.equal(framingHint({ landmarks: null }), "Step into view");
  assert.equal(framingHint({ landmarks: body(0.1, 0.9), visible_hint: "step back: your feet are out of view" }),
    "Step back: your feet are out of view");
  assert.equal(framingHint({ landmarks: body(0.4, 0.6), visible_hint: null }), "Come closer: you look small to the camera");
  assert.equal(framingHint({ landmarks: body(0.1, 0.9), visible_hint: null }), null);
});

test("landmarks the pose model barely sees do not count towards the body's height", () => {
  const landmarks = body(0.4, 0.6);
  landmarks[0] = [0.5, 0.0, 0, 0.2];
  landmarks[32] = [0.5, 1.0, 0, 0.2];
  assert.equal(framingHint({ landmarks, visible_hint: null }), "Come closer: you look small to the camera");
});
