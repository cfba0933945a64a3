// Where the pose is estimated: on this device (MediaPipe's PoseLandmarker for the web, served by
// the tutor) so that only landmarks travel, or by the tutor from camera images when this device
// cannot. The choice is measured, not guessed: a model is kept only if it reaches the tutor's
// `min_fps` here (GET /api/config `pose`), a phone starts with the lightest model, and every
// reason for sending images is said to the learner.

import { FrameGrabber } from "./camera.js";
import { MAX_IN_FLIGHT, packFrame, packLandmarks } from "./session.js";

const PREFERENCE_KEY = "dance-tutor.pose";
export const PREFERENCES = ["auto", "device", "tutor"];

// The variants to try, in order: a phone gets the lightest; anything else the full model, then
// lighter ones if it is too slow (heavy is never picked for the learner).
export function variantOrder(models, mobile) {
  const names = models.map((m) => m.variant);
  if (mobile) return models.slice(0, 1);
  const start = Math.max(0, names.indexOf("full"));
  return [...models.slice(start).filter((m) => m.variant !== "heavy"), ...models.slice(0, start).reverse()];
}

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

export function posePreference() {
  const value = localStorage.getItem(PREFERENCE_KEY);
  return PREFERENCES.includes(value) ? value : "auto";
}

export function setPosePreference(value) {
  localStorage.setItem(PREFERENCE_KEY, value);
}

function isMobile() {
  return navigator.userAgentData?.mobile ?? /Android|iPhone|iPad|Mobile/i.test(navigator.userAgent);
}

const WORKER = "/js/pose-worker.js";
const FRAME_WORKER = "/js/frame-worker.js";
const LANDMARKS_TIMEOUT_MS = 400;

// One PoseLandmarker in its own worker (web/js/pose-worker.js): frames go in as ImageBitmaps,
// poses come out, one frame at a time; or the worker follows the camera itself (follow()).
class PoseWorker {
  static open(pose, model) {
    const worker = new Worker(WORKER);
    return new Promise((resolve, reject) => {
      worker.onerror = (event) => {
        worker.terminate();
        reject(new Error(event.message || "the pose worker could not start"));
      };
      worker.onmessage = ({ data }) => {
        if (data.type === "loaded") resolve(new PoseWorker(worker));
        else {
          worker.terminate();
          reject(new Error(data.message));
        }
      };
      worker.postMessage({ type: "load", bundle: pose.bundle, wasm: pose.wasm, model: model.url });
    });
  }

  constructor(worker) {
    this.worker = worker;
    this.frames = null;
    this.turn = Promise.resolve();
  }

  // The pose in `frame` (an ImageBitmap, handed over), estimated at `captureMs`.
  detect(frame, captureMs) {
    const result = this.turn.then(() => new Promise((resolve, reject) => {
      this.worker.onmessage = ({ data }) => {
        if (data.type === "failed") reject(new Error(data.message));
        else if (data.type === "pose" && !data.followed) resolve(data);
      };
      this.worker.postMessage({ type: "detect", frame, timestamp: captureMs }, [frame]);
    }));
    this.turn = result.catch(() => {});
    return result;
  }

  // Hand the worker the camera `track`'s frames: it estimates each newest frame as soon as it
  // is free, with no round trip through the page, and `onPose` gets every pose (with its
  // `captureMs`) until unfollow(). Chromium's MediaStreamTrackProcessor keeps only the newest
  // frame, so a slow model never works on an old one; a second worker (web/js/frame-worker.js)
  // makes each frame the picture the model reads while the model works on the one before.
  follow(track, onPose) {
    const processor = new MediaStreamTrackProcessor({ track, maxBufferSize: 1 });
    const channel = new MessageChannel();
    const failed = ({ data }) => data.type === "failed" && console.error("The pose worker failed:", data.message);
    this.worker.onmessage = (event) => {
      if (event.data.type === "pose" && event.data.followed) onPose(event.data);
      else failed(event);
    };
    this.frames = new Worker(FRAME_WORKER);
    this.frames.onmessage = failed;
    this.frames.onerror = (event) => console.error("The camera's frame worker failed:", event.message);
    this.worker.postMessage({ type: "follow", port: channel.port1 }, [channel.port1]);
    this.frames.postMessage({ readable: processor.readable, port: channel.port2, timeOrigin: performance.timeOrigin }, [processor.readable, channel.port2]);
  }

  unfollow() {
    this.frames?.terminate();
    this.frames = null;
    this.worker.postMessage({ type: "unfollow" });
  }
}

// Pose estimation on this device, with the time it took per frame: grab() returns the
// landmarks frame to send of the newest pose; `onPose` sees every pose at once, so the page can
// draw it without waiting for the tutor. Between start() and stop() the worker follows the
// camera itself where the browser can hand it the frames (MediaStreamTrackProcessor), so it is
// never idle waiting for the page; elsewhere grab() has it estimate the video's current frame.
// The page's thread stays free meanwhile, so two frames may wait for answers, and a frame the
// tutor shed is given up after LANDMARKS_TIMEOUT_MS.
export class LandmarkGrabber {
  constructor(video, model, { onPose = null } = {}) {
    this.video = video;
    this.model = model;
    this.onPose = onPose;
    this.inferenceMs = [];
    this.maxInFlight = MAX_IN_FLIGHT;
    this.inFlightTimeoutMs = LANDMARKS_TIMEOUT_MS;
    this.following = false;
    this.newest = null;
    this.waiting = null;
  }

  start() {
    const track = this.video.srcObject?.getVideoTracks?.()[0];
    if (this.following || typeof MediaStreamTrackProcessor !== "function" || !track) return;
    this.following = true;
    this.model.follow(track, (pose) => this.posed(pose));
  }

  stop() {
    if (!this.following) return;
    this.following = false;
    this.model.unfollow();
    this.newest = null;
    this.wake();
  }

  posed(pose) {
    this.timed(pose.inferenceMs);
    this.onPose?.(pose.landmarks);
    this.newest = pose;
    this.wake();
  }

  wake() {
    const waiting = this.waiting;
    this.waiting = null;
    waiting?.();
  }

  timed(ms) {
    this.inferenceMs.push(ms);
    if (this.inferenceMs.length > 90) this.inferenceMs.shift();
  }

  // The newest followed pose not yet taken, waiting for the next one if it was; null once
  // stopped.
  async followed() {
    while (!this.newest) {
      if (!this.following) return null;
      await new Promise((resolve) => (this.waiting = resolve));
    }
    const pose = this.newest;
    this.newest = null;
    return { captureMs: pose.captureMs, pose: pose.landmarks ? pose : null };
  }

  async detect() {
    const captureMs = performance.now();
    const frame = await createImageBitmap(this.video);
    const pose = await this.model.detect(frame, captureMs);
    this.timed(pose.inferenceMs);
    return { captureMs, pose: pose.landmarks ? pose : null };
  }

  async grab() {
    if (this.following) {
      const newest = await this.followed();
      return newest && this.packed(newest.captureMs, newest.pose);
    }
    const { captureMs, pose } = await this.detect();
    this.onPose?.(pose ? pose.landmarks : null);
    return this.packed(captureMs, pose);
  }

  packed(captureMs, pose) {
    const { videoWidth, videoHeight } = this.video;
    return { captureMs, pack: (seq) => packLandmarks(seq, captureMs, videoWidth, videoHeight, pose) };
  }

  medianInferenceMs() {
    return this.inferenceMs.length ? median(this.inferenceMs) : null;
  }
}

// Image mode: the camera frame as JPEG, for the tutor's own model.
export class ImageGrabber {
  constructor(video) {
    this.frames = new FrameGrabber(video);
    this.maxInFlight = MAX_IN_FLIGHT;
  }

  async grab() {
    const frame = await this.frames.grab();
    return { captureMs: frame.captureMs, pack: (seq) => packFrame(seq, frame.captureMs, frame.jpeg) };
  }

  medianInferenceMs() {
    return null;
  }
}

// One pose worker per variant for the page's lifetime, and its measured speed on this device.
const workers = new Map();
const speeds = new Map();

function workerFor(pose, model) {
  if (!workers.has(model.variant)) {
    const made = PoseWorker.open(pose, model);
    workers.set(model.variant, made);
    made.catch(() => workers.delete(model.variant));
  }
  return workers.get(model.variant);
}

// Median milliseconds per frame of the model on the live camera, after a first frame that
// compiles.
async function measure(video, model, frames) {
  const probe = new LandmarkGrabber(video, model);
  await probe.detect();
  probe.inferenceMs = [];
  for (let i = 0; i < frames; i++) {
    await new Promise((resolve) => requestAnimationFrame(resolve));
    await probe.detect();
  }
  return probe.medianInferenceMs();
}

// How this page gets its poses: {mode: "landmarks", grabber, variant, inferenceMs, note} or
// {mode: "image", grabber, note, reason}. `video` must be playing the camera.
export async function choosePose(video, pose, { preference = posePreference(), onPose = null, onProgress = null, signal = null } = {}) {
  const images = (reason) => ({ mode: "image", grabber: new ImageGrabber(video), reason, note: imageNote(reason) });
  if (preference === "tutor") return images("You chose to let the tutor find your pose.");
  if (!pose.available) return images(pose.reason);
  if (typeof WebAssembly !== "object" || typeof Worker !== "function" || typeof createImageBitmap !== "function") {
    return images("This browser cannot run the pose model (it needs WebAssembly and workers).");
  }
  const budgetMs = 1000 / pose.min_fps;
  let slowest = null;
  for (const model of variantOrder(pose.models, isMobile())) {
    onProgress?.(`Loading the ${model.variant} pose model (${Math.round(model.bytes / 2 ** 20)} MB)…`);
    let worker;
    try {
      worker = await workerFor(pose, model);
    } catch (err) {
      console.error("The pose model could not be loaded in this browser:", err);
      return images(`The pose model could not be loaded in this browser (${err.message ?? err}).`);
    }
    signal?.throwIfAborted();
    if (!speeds.has(model.variant)) {
      onProgress?.(`Timing the ${model.variant} pose model on this device…`);
      speeds.set(model.variant, await measure(video, worker, pose.probe_frames));
      signal?.throwIfAborted();
    }
    const ms = speeds.get(model.variant);
    if (ms <= budgetMs || preference === "device") {
      return {
        mode: "landmarks",
        grabber: new LandmarkGrabber(video, worker, { onPose }),
        variant: model.variant,
        inferenceMs: ms,
        note: `Your camera image stays on this device: only the positions of your joints go to the tutor (${model.variant} model, ${Math.round(ms)} ms a frame here).`,
      };
    }
    slowest = { variant: model.variant, ms };
  }
  return images(`This device takes ${Math.round(slowest.ms)} ms a frame for the ${slowest.variant} pose model; ${Math.round(budgetMs)} ms or less is needed.`);
}

function imageNote(reason) {
  return `Your camera images go to the tutor, which finds your pose and keeps no image. ${reason}`;
}
