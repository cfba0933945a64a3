// Small formatting helpers of the library and the recorder.
import assert from "node:assert/strict";
import { test } from "node:test";

import { ghostFromDocument } from "../../web/js/instructor.js";
import { formatDuration } from "../../web/js/library.js";

test("durations read in seconds, then in minutes and seconds", () => {
  assert.equal(formatDuration(4.03), "4.0 s");
  assert.equal(formatDuration(59.94), "59.9 s");
  assert.equal(formatDuration(125), "2 min 5 s");
});

test("a recorded document becomes the flat ghost frames the preview animates", () => {
  const doc = {
    image: { width: 640, height: 480 },
    frames: [{ t: 0, landmarks: [[0.1, 0.2, 0, 1], [0.3, 0.4, 0, 0.5]] }, { t: 0.04, landmarks: null }],
  };
  assert.deepEqual(ghostFromDocument(doc), { aspect: 640 / 480, xy: [[0.1, 0.2, 0.3, 0.4], null], t: [0, 0.04] });
});
