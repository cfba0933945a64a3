// The replay's pure parts: chapters found by reference time, the moment under a frame, the
// chart's x range.
import assert from "node:assert/strict";
import { test } from "node:test";

import { xRange } from "../../web/js/charts.js";
import { frameAtReference, momentAt, storedAttempt } from "../../web/js/replay.js";

const FRAMES = [0, 1, 2, 5, 9, 12, 15].map((ref, i) => ({ t: i / 30, points: null, ref }));

test("a chapter starts at the first frame that reached its reference time", () => {
  assert.equal(frameAtReference(FRAMES, 30, 0.1), 3);
  assert.equal(frameAtReference(FRAMES, 30, 0), 0);
  assert.equal(frameAtReference(FRAMES, 30, 10), FRAMES.length - 1, "past the end: the last frame");
});

test("the moment a reference frame falls in", () => {
  const moments = [{ limb: "left_arm", reference_start_s: 0.2, reference_end_s: 0.4 }];
  assert.equal(momentAt(moments, 30, 9)?.limb, "left_arm");
  assert.equal(momentAt(moments, 30, 12), null);
  assert.equal(momentAt(moments, 30, null), null);
});

test("a stored attempt keeps each frame's reached reference frame and the camera's aspect", () => {
  const document = { image: { width: 640, height: 480 }, reference_frames: [0, 2],
    frames: [{ t: 0, landmarks: null }, { t: 0.1, landmarks: [[0.5, 0.5, 0, 1]] }] };
  const attempt = storedAttempt(document, { fps: 30 }, { worst_moments: [], mirror: true });
  assert.deepEqual(attempt.frames.map((f) => f.ref), [0, 2]);
  assert.equal(attempt.aspect, 640 / 480);
  assert.equal(attempt.mirror, true);
});

test("one point gets a readable x range; many keep their own", () => {
  assert.deepEqual(xRange([{ x: 100, y: 1 }], 20), { min: 90, max: 110 });
  const { min, max } = xRange([{ x: 0, y: 1 }, { x: 100, y: 2 }], 20);
  assert.ok(min < 0 && max > 100 && max - min < 110);
});
