// Timing calibration: the learner moves sharply on clicks for a few bars; the tutor finds the
// movement's accents (POST /api/calibration) and the delay between clicks and accents is the
// camera's, the pose model's and the speakers'. The browser reports the speakers' share; the
// rest is the camera's. Both are kept for this device and sent with every practice.

import { api } from "./api.js";
import { closeCamera, openCamera } from "./camera.js";
import { poseConfig } from "./config.js";
import { audioContext, click, outputLatencyMs, pageTime, setDeviceLatency, deviceLatency } from "./music.js";
import { choosePose } from "./pose.js";

const $ = (id) => document.getElementById(id);
const TEMPO_BPM = 100;
const CLICKS = 16;
const LEAD_CLICKS = 4;

function say(text, isError = false) {
  $("cal-status").textContent = text;
  $("cal-status").classList.toggle("error", isError);
}

export function latencyText(latency) {
  return latency ? `This device's delay: ${Math.round(latency.camera_ms)} ms for the camera and the pose model, ${Math.round(latency.audio_ms)} ms for the speakers.` : "This device's delay is not measured yet.";
}

export class Calibration {
  constructor() {
    this.video = $("cal-camera");
    this.pose = null;
    this.running = null;
    $("btn-cal-start").addEventListener("click", () => this.run());
  }

  async open() {
    this.stop();
    this.running = new AbortController();
    const { signal } = this.running;
    $("cal-result").textContent = latencyText(deviceLatency());
    $("btn-cal-start").disabled = true;
    try {
      await openCamera(this.video, signal);
      this.pose = await choosePose(this.video, poseConfig(), { preference: "device", onProgress: (t) => say(t), signal });
    } catch (err) {
      if (!signal.aborted) say(`The camera could not be opened: ${err.message}`, true);
      return;
    }
    if (this.pose.mode !== "landmarks") {
      say("Calibration needs the pose model on this device, which this browser cannot run.", true);
      return;
    }
    say("Stand in view. Press Start, then move sharply (a nod, a clap, a bounce) on every click.");
    $("btn-cal-start").disabled = false;
  }

  async run() {
    const { signal } = this.running;
    $("btn-cal-start").disabled = true;
    const ctx = audioContext();
    await ctx.resume();
    const period = 60 / TEMPO_BPM;
    const first = ctx.currentTime + 0.5;
    const clicks = [];
    for (let i = 0; i < LEAD_CLICKS + CLICKS; i++) {
      const at = first + i * period;
      click(at, i % 4 === 0);
      if (i >= LEAD_CLICKS) clicks.push(pageTime(at));
    }
    const end = pageTime(first + (LEAD_CLICKS + CLICKS) * period);
    const frames = [];
    say("Move on the clicks…");
    while (performance.now() < end && !signal.aborted) {
      const { captureMs, pose } = await this.pose.grabber.detect();
      frames.push({ capture_ms: captureMs, landmarks: pose ? pose.landmarks : null });
    }
    if (signal.aborted) return;
    try {
      const image = { width: this.video.videoWidth, height: this.video.videoHeight };
      const { delay_ms: delay, answered } = await api.calibrate({ image, frames, clicks_ms: clicks });
      const audio = outputLatencyMs();
      const latency = { camera_ms: Math.max(0, delay - audio), audio_ms: audio };
      setDeviceLatency(latency);
      $("cal-result").textContent = latencyText(latency);
      say(`Measured on ${answered} of ${CLICKS} clicks. It is kept on this device and used for your timing.`);
    } catch (err) {
      say(err.message, true);
    }
    $("btn-cal-start").disabled = false;
  }

  stop() {
    this.running?.abort();
    this.running = null;
    closeCamera(this.video);
  }
}
