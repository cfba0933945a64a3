// Music for practice: a step's audio on its beat grid (GET /api/references/{name} `music`), a
// count-in of clicks on the beat, the speed slowed with the pitch kept, a looped part looping
// its music, and the delays this device measured (calibration) for the rhythm's timing.

const LATENCY_KEY = "dance-tutor.latency";
const MUSIC_KEY = "dance-tutor.music";
const CLICKS_KEY = "dance-tutor.clicks";
const LEAD_S = 0.3;

export function musicOn() {
  return localStorage.getItem(MUSIC_KEY) !== "off";
}

export function clicksOn() {
  return localStorage.getItem(CLICKS_KEY) !== "off";
}

export function setMusicOn(on) {
  localStorage.setItem(MUSIC_KEY, on ? "on" : "off");
}

export function setClicksOn(on) {
  localStorage.setItem(CLICKS_KEY, on ? "on" : "off");
}

// This device's measured delays {camera_ms, audio_ms}, or null before a calibration.
export function deviceLatency() {
  try {
    const value = JSON.parse(localStorage.getItem(LATENCY_KEY));
    return value && Number.isFinite(value.camera_ms) && Number.isFinite(value.audio_ms) ? { camera_ms: value.camera_ms, audio_ms: value.audio_ms } : null;
  } catch {
    return null;
  }
}

export function setDeviceLatency(latency) {
  localStorage.setItem(LATENCY_KEY, JSON.stringify({ ...latency, measured_at: new Date().toISOString() }));
}

// The first beat at or after `seconds` of the reference, and the beat period.
export function beatAtOrAfter(grid, seconds) {
  const period = 60 / grid.tempo_bpm;
  const k = Math.max(0, Math.ceil((seconds - grid.first_beat_s) / period - 1e-9));
  return { beat: grid.first_beat_s + k * period, period };
}

// The counts called before the music: the end of an eight ("5, 6, 7, 8" for four beats a bar).
export function countInWords(meter) {
  return Array.from({ length: meter }, (_, i) => String(8 - meter + 1 + i));
}

let context = null;

export function audioContext() {
  context ??= new AudioContext();
  return context;
}

// The audio output's delay, ms, as the browser reports it.
export function outputLatencyMs() {
  const ctx = audioContext();
  return Math.round(1000 * ((ctx.outputLatency || 0) + (ctx.baseLatency || 0)));
}

// A click at AudioContext time `at` (accented: higher).
export function click(at, accent = false) {
  const ctx = audioContext();
  const osc = ctx.createOscillator();
  const gain = ctx.createGain();
  osc.frequency.value = accent ? 1760 : 1320;
  gain.gain.setValueAtTime(0.0001, at);
  gain.gain.exponentialRampToValueAtTime(0.6, at + 0.002);
  gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.06);
  osc.connect(gain).connect(ctx.destination);
  osc.start(at);
  osc.stop(at + 0.08);
}

// AudioContext time `at` on the page's clock (performance.now() ms).
export function pageTime(at) {
  const ctx = audioContext();
  const stamp = ctx.getOutputTimestamp?.();
  if (stamp && stamp.performanceTime) return stamp.performanceTime + (at - stamp.contextTime) * 1000;
  return performance.now() + (at - ctx.currentTime) * 1000;
}

export class Music {
  constructor(audio) {
    this.audio = audio;
    this.audio.preservesPitch = true;
    this.audio.preload = "auto";
    this.music = null;
    this.part = [0, 0];
    this.timer = 0;
  }

  get playing() {
    return Boolean(this.music) && !this.audio.paused;
  }

  // Seconds of the reference the music is at (its clock is the reference's).
  get time() {
    return this.audio.currentTime;
  }

  async load(music) {
    this.stop();
    this.music = music;
    if (!music) return;
    if (this.audio.src !== new URL(music.url, location.href).href) {
      this.audio.src = music.url;
      await new Promise((resolve, reject) => {
        this.audio.addEventListener("canplaythrough", resolve, { once: true });
        this.audio.addEventListener("error", () => reject(new Error("the step's music could not be loaded")), { once: true });
      });
    }
  }

  // Count in on the beat (`onCount(word)` for each count), then play from `part[0]` at
  // `speed`, looping `part` (seconds of the reference). Resolves with when the music started
  // (the page's clock, ms) once it plays.
  async start(part, speed, { clicks = true, onCount = () => {} } = {}) {
    const { tempo_bpm: tempo, first_beat_s: first, meter } = this.music;
    this.part = part;
    const ctx = audioContext();
    await ctx.resume();
    const { beat, period } = beatAtOrAfter({ tempo_bpm: tempo, first_beat_s: first }, part[0]);
    const beatS = period / speed;
    const startAt = ctx.currentTime + LEAD_S + meter * beatS - (beat - part[0]) / speed;
    const words = countInWords(meter);
    words.forEach((word, i) => {
      const at = startAt + (beat - part[0]) / speed - (meter - i) * beatS;
      if (clicks) click(at, i === 0);
      setTimeout(() => onCount(word), Math.max(0, (at - ctx.currentTime) * 1000));
    });
    await new Promise((resolve) => { this.timer = setTimeout(resolve, Math.max(0, (startAt - ctx.currentTime) * 1000)); });
    this.audio.currentTime = part[0];
    this.audio.playbackRate = speed;
    await this.audio.play();
    // Where the music really is now says when it started, whatever play() took.
    const started = performance.now() - ((this.audio.currentTime - part[0]) * 1000) / speed;
    this.audio.ontimeupdate = () => {
      if (this.audio.currentTime >= this.part[1]) this.audio.currentTime = this.part[0];
    };
    return started;
  }

  stop() {
    clearTimeout(this.timer);
    this.audio.pause();
    this.audio.ontimeupdate = null;
  }
}
