// The page's reading of GET /api/config: every threshold comes from the server's answer.
import assert from "node:assert/strict";
import { test } from "node:test";

import { difficulties, isMastered, masteredRounds, masteredScore, scoreState, setConfig } from "../../web/js/config.js";

// Made-up values, unlike the server's, so a threshold kept in the page would show.
const CONFIG = {
  states: { good: 70, warn: 40 },
  ratings: [{ name: "Top", min_score: 95 }, { name: "Rest", min_score: 0 }],
  mastered: { score: 85, rounds: 4 },
  difficulties: ["easy", "hard"],
};

test("a score is good from the server's good threshold and warn from its warn threshold", () => {
  setConfig(CONFIG);
  assert.deepEqual([100, 70, 69.9, 40, 39.9, 0].map(scoreState), ["good", "good", "warn", "warn", "bad", "bad"]);
});

test("a missing score reads as warn, not as bad", () => {
  setConfig(CONFIG);
  assert.equal(scoreState(null), "warn");
  assert.equal(scoreState(undefined), "warn");
});

test("mastery and the difficulty list are the server's", () => {
  setConfig(CONFIG);
  assert.equal(isMastered(85), true);
  assert.equal(isMastered(84.9), false);
  assert.equal(masteredScore(), 85);
  assert.equal(masteredRounds(), 4);
  assert.deepEqual(difficulties(), ["easy", "hard"]);
});
