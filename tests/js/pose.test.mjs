// The page's pose source: which models it tries, and the landmarks frames it sends.
import assert from "node:assert/strict";
import { test } from "node:test";

import { median, variantOrder } from "../../web/js/pose.js";
import { LANDMARKS_HEADER_BYTES, packLandmarks } from "../../web/js/session.js";

const MODELS = ["lite", "full", "heavy"].map((variant) => ({ variant, url: `/models/${variant}.task`, bytes: 1 }));

test("a laptop tries the full model, then lighter ones; never heavy", () => {
  assert.deepEqual(variantOrder(MODELS, false).map((m) => m.variant), ["full", "lite"]);
  assert.deepEqual(variantOrder(MODELS.slice(1), false).map((m) => m.variant), ["full"]);
  assert.deepEqual(variantOrder([MODELS[0]], false).map((m) => m.variant), ["lite"]);
});

test("a phone gets the lightest model the tutor has", () => {
  assert.deepEqual(variantOrder(MODELS, true).map((m) => m.variant), ["lite"]);
  assert.deepEqual(variantOrder(MODELS.slice(1), true).map((m) => m.variant), ["full"]);
});

test("a landmarks frame is the header, 33 points with visibility, then 33 world points", () => {
  const landmarks = Array.from({ length: 33 }, (_, i) => [i / 33, 0.5, -0.1, 0.9]);
  const world = Array.from({ length: 33 }, (_, i) => [i, -i, 0.25]);
  const message = packLandmarks(7, 1234.5, 640, 480, { landmarks, world });
  assert.equal(message.byteLength, LANDMARKS_HEADER_BYTES + 4 * 33 * 7);
  const view = new DataView(message);
  assert.deepEqual([view.getUint32(0, true), view.getFloat64(4, true), view.getUint16(12, true), view.getUint16(14, true)], [7, 1234.5, 640, 480]);
  const values = new Float32Array(message, LANDMARKS_HEADER_BYTES);
  assert.ok(Math.abs(values[4 * 3] - 3 / 33) < 1e-6);
  assert.ok(Math.abs(values[4 * 3 + 3] - 0.9) < 1e-6);
  assert.deepEqual([...values.slice(132 + 3 * 5, 132 + 3 * 6)], [5, -5, 0.25]);
});

test("nobody in view is the header alone; no world landmarks, the image ones only", () => {
  assert.equal(packLandmarks(0, 0, 640, 480, null).byteLength, LANDMARKS_HEADER_BYTES);
  const landmarks = Array.from({ length: 33 }, () => [0, 0, 0, 1]);
  assert.equal(packLandmarks(0, 0, 640, 480, { landmarks, world: null }).byteLength, LANDMARKS_HEADER_BYTES + 4 * 33 * 4);
});

test("the median of the timed frames", () => {
  assert.equal(median([40, 90, 45]), 45);
  assert.equal(median([30]), 30);
});
