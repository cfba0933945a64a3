// Spoken corrections (off by default): each sentence at most once every few seconds.

const REPEAT_AFTER_MS = 6000;
const lastSpoken = new Map();
let enabled = false;

export function setSpeech(on) {
  enabled = on && "speechSynthesis" in window;
  if (!enabled && "speechSynthesis" in window) speechSynthesis.cancel();
}

export function say(text) {
  if (!enabled || !text || speechSynthesis.speaking) return;
  const now = performance.now();
  if (now - (lastSpoken.get(text) ?? -Infinity) < REPEAT_AFTER_MS) return;
  lastSpoken.set(text, now);
  const utterance = new SpeechSynthesisUtterance(text);
  utterance.rate = 1.05;
  speechSynthesis.speak(utterance);
}
