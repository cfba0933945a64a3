// The thresholds and lists the server owns (GET /api/config): where a score turns good or
// bad, when a step is mastered, the difficulties a step can have, where the pose runs. Nothing
// here is a copy.

let config = null;

export function setConfig(value) {
  config = value;
}

// good | warn | bad for a 0-100 score, as the live limb states; warn when there is none yet.
export function scoreState(score) {
  if (score === null || score === undefined) return "warn";
  const { good, warn } = config.states;
  return score >= good ? "good" : score >= warn ? "warn" : "bad";
}

export function isMastered(score) {
  return score >= config.mastered.score;
}

export function masteredScore() {
  return config.mastered.score;
}

// Good rounds in a row of a looped step after which the next step is offered.
export function masteredRounds() {
  return config.mastered.rounds;
}

export function difficulties() {
  return config.difficulties;
}

// Whether and how the page runs the pose model itself: the runtime's and models' URLs, the
// speed a device must reach, or why it cannot (GET /api/config `pose`).
export function poseConfig() {
  return config.pose;
}
