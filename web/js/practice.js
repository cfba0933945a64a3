// The practice view: get in frame, count down, dance with live feedback, finish.

import { loadTarget } from "./api.js";
import { closeCamera, openCamera } from "./camera.js";
import { isMastered, masteredRounds, poseConfig, scoreState } from "./config.js";
import { clicksOn, deviceLatency, Music, musicOn } from "./music.js";
import { choosePose } from "./pose.js";
import { VideoRecorder, videoOn } from "./videos.js";
import { LiveSocket } from "./session.js";
import { boxFit, drawSkeleton, fitCanvas, fitTo, ghostPoints, STATE_COLOURS, toScreen } from "./skeleton.js";
import { say } from "./speech.js";

const FRAMING_HOLD_MS = 1000;
const MIN_BODY_HEIGHT = 0.3;
const COUNTDOWN_S = 3;
const CAMERA_FPS = 30;
const SUMMARY_TIMEOUT_MS = 20000;
const END_HOLD_MS = 600;
const REPLAY_MAX_FRAMES = 5 * 60 * 30;

const STATS_EVERY_MS = 500;
// While the music plays the ghost moves at least this often (20 times a second) between poses.
const GHOST_REDRAW_MS = 50;
const $ = (id) => document.getElementById(id);

// Text that changes only now and then is written only when it does: every write restyles, lays
// out and repaints the page, which takes processor time from the pose model.
function show(id, text) {
  const element = $(id);
  if (element.textContent !== text) element.textContent = text;
}

function showProgress(fraction) {
  $("progress-fill").style.transform = `scaleX(${fraction.toFixed(3)})`;
}

// Frame range [start, stop) of a named step as the server cuts it (the reference detail's
// step_frames), or of the whole reference.
export function stepRange(reference, stepName) {
  const step = reference.step_frames.find((s) => s.name === stepName);
  return step ? [step.start_frame, step.stop_frame] : [0, reference.frames];
}

// What keeps the learner from being ready: nobody seen, a body part out of view (the
// server's hint), or too far away to judge; null when the whole body is well in view.
export function framingHint(live) {
  if (!live.landmarks) return "Step into view";
  if (live.visible_hint) return live.visible_hint[0].toUpperCase() + live.visible_hint.slice(1);
  const ys = live.landmarks.filter((p) => p[3] >= 0.5).map((p) => p[1]);
  if (Math.max(...ys) - Math.min(...ys) < MIN_BODY_HEIGHT) return "Come closer: you look small to the camera";
  return null;
}

export class Practice {
  constructor({ onSummary }) {
    this.onSummary = onSummary;
    this.video = $("camera");
    this.canvas = $("overlay");
    this.ctx = this.canvas.getContext("2d");
    this.socket = null;
    this.reference = null;
    this.options = null;
    this.phase = "idle";
    this.lastLearner = null;
    this.lastLive = null;
    this.drawFrame = 0;
    this.drawnAt = -Infinity;
    this.pose = null;
    this.localLandmarks = null;
    this.music = new Music($("music"));
    this.watchIndex = 0;
    this.watchStop = null;
    this.running = null;
    this.summaryTimer = null;
  }

  // Every await below may outlive the view: stop() aborts `running`, and whatever the start
  // had opened by then (the camera, the socket) is closed, here or by stop().
  async start(name, options) {
    this.stop();
    const running = new AbortController();
    this.running = running;
    const { signal } = running;
    this.options = { ...options };
    this.lastLive = null;
    this.localLandmarks = null;
    $("camera-error").hidden = true;
    $("pose-note").textContent = "";
    try {
      this.reference = await loadTarget(name);
    } catch (err) {
      if (!signal.aborted) this.showError(`The step could not be loaded: ${err.message}`);
      return;
    }
    if (signal.aborted) return;
    $("practice-title").textContent = this.reference.title;
    try {
      await this.music.load(musicOn() ? this.reference.music ?? null : null);
    } catch (err) {
      console.error(err);
      await this.music.load(null);
    }
    if (signal.aborted) return;
    for (const id of ["opt-music", "opt-clicks"]) $(id).parentElement.hidden = !this.reference.music;
    this.fillSteps();
    this.resetHud();
    try {
      await openCamera(this.video, signal);
    } catch (err) {
      if (!signal.aborted) this.showError(`The camera could not be opened: ${err.message}`);
      return;
    }
    try {
      this.pose = await choosePose(this.video, poseConfig(), {
        onPose: (landmarks) => this.onLocalPose(landmarks),
        onProgress: (text) => this.showFraming(text),
        signal,
      });
    } catch (err) {
      if (!signal.aborted) this.showError(`The pose model could not be started: ${err.message}`);
      return;
    }
    $("pose-note").textContent = this.pose.note;
    await this.connect(signal);
  }

  showFraming(text) {
    $("framing").hidden = false;
    $("framing-hint").textContent = text;
  }

  // A pose found on this device: drawn at the next animation frame, without waiting for the
  // tutor's answer.
  onLocalPose(landmarks) {
    this.localLandmarks = landmarks;
    this.drawSoon(this.lastLive ?? { landmarks: null, limbs: null, ref_position: 0 });
  }

  // Draw `live` at the next animation frame: a local pose and the tutor's answer to it a few
  // milliseconds later make one picture, not two, leaving the processor to the pose model.
  drawSoon(live) {
    this.lastLive = live;
    if (this.drawFrame) return;
    this.drawFrame = requestAnimationFrame(() => {
      this.drawFrame = 0;
      if (this.lastLive) this.draw(this.lastLive);
    });
  }

  async connect(signal) {
    const { mirror, speed, step } = this.options;
    const { mode, grabber } = this.pose;
    // Messages of a socket that is no longer this practice's are dropped.
    const current = (handle) => (m) => this.socket === socket && handle(m);
    const socket = new LiveSocket(
      { type: "start", reference: this.reference.name, mirror, speed, mode, step: step || null, fps: CAMERA_FPS, latency: deviceLatency() },
      {
        onUpdate: current((m) => this.onUpdate(m)),
        onSummary: current((m) => this.finished(m)),
        onError: current((m) => m.fatal && this.showError(m.message)),
        onClose: current(() => this.phase !== "done" && this.phase !== "idle" && this.showError("The connection to the tutor closed.")),
      },
    );
    this.socket = socket;
    try {
      await socket.connect();
    } catch (err) {
      if (!signal.aborted) this.showError(err.message);
      return;
    }
    if (signal.aborted) {
      socket.close();
      return;
    }
    this.phase = "framing";
    this.showFraming("Looking for you…");
    this.okSince = null;
    socket.stream(grabber, CAMERA_FPS);
  }

  fillSteps() {
    const select = $("opt-step");
    const options = [new Option("Whole sequence", "")];
    for (const step of this.reference.steps) options.push(new Option(step.name, step.name));
    select.replaceChildren(...options);
    select.value = this.options.step || "";
    $("opt-speed").value = String(this.options.speed);
  }

  resetHud() {
    this.timeline = [];
    this.recorded = [];
    this.mastered = 0;
    $("btn-next-step").hidden = true;
    this.endSince = null;
    $("score").textContent = "–";
    $("score").style.color = "";
    $("corrections").replaceChildren();
    showProgress(0);
    $("popup").hidden = true;
    $("countdown").hidden = true;
    $("session-stats").textContent = "";
    this.statsShownAt = -Infinity;
  }

  // The session is over: the camera and the socket are released, the message stays.
  showError(text) {
    this.phase = "idle";
    this.release();
    $("framing").hidden = true;
    $("countdown").hidden = true;
    $("camera-error").textContent = text;
    $("camera-error").hidden = false;
  }

  onUpdate(message) {
    const live = message.live;
    this.drawSoon(live);
    this.showStats(message);
    if (this.phase === "framing") this.checkFraming(live);
    else if (this.phase === "dancing") this.showFeedback(live);
  }

  showStats(message) {
    const now = performance.now();
    if (now - this.statsShownAt < STATS_EVERY_MS) return;
    this.statsShownAt = now;
    const latency = this.socket.medianLatency();
    const { processed, dropped } = message.frames;
    const where = this.pose.mode === "landmarks" ? `pose on this device (${this.pose.variant})` : "pose on the tutor";
    show("session-stats",
      `${where} · ${processed} frames · ${dropped} skipped · ${latency === null ? "–" : Math.round(latency)} ms`);
  }

  checkFraming(live) {
    const hint = framingHint(live);
    show("framing-hint", hint ?? "Hold still…");
    if (hint) {
      this.okSince = null;
      return;
    }
    this.okSince ??= performance.now();
    if (performance.now() - this.okSince >= FRAMING_HOLD_MS) this.countdown();
  }

  async countdown() {
    this.phase = "countdown";
    $("framing").hidden = true;
    const box = $("countdown");
    box.hidden = false;
    if (this.music.music) {
      await this.musicalCountIn(box);
      return;
    }
    for (let n = COUNTDOWN_S; n > 0; n--) {
      box.textContent = String(n);
      await new Promise((resolve) => setTimeout(resolve, 1000));
      if (this.phase !== "countdown") return;
    }
    box.hidden = true;
    this.resetHud();
    this.socket.restart(this.options.step || null);
    this.startDancing();
  }

  // "5, 6, 7, 8" on the beat, then the music plays from the part's start and scoring starts
  // afresh, told when the music started (the rhythm is judged against its beats).
  async musicalCountIn(box) {
    this.music.stop();
    const speed = this.options.speed;
    const started = await this.music.start(this.partSeconds(), speed, {
      clicks: clicksOn(),
      onCount: (word) => { if (this.phase === "countdown") box.textContent = word; },
    });
    if (this.phase !== "countdown") {
      this.music.stop();
      return;
    }
    box.hidden = true;
    this.resetHud();
    this.socket.restart(this.options.step || null, { music_start_ms: started, rate: speed });
    this.startDancing();
    this.followMusic();
  }

  // While the music plays the ghost moves at the music's time: each pose drawn shows it there,
  // and when it reaches another reference frame GHOST_REDRAW_MS or more after the last drawing
  // (a pose comes a dozen times a second on a slow device) it is drawn at once, with the pose a
  // drawing waiting for the next animation frame would have shown. Where poses come 20 times a
  // second the ghost moves with them, one drawing for both: every other animation frame is left
  // to the pose model (drawing the ghost between poses as well cost it about 2 % of its frames).
  followMusic() {
    cancelAnimationFrame(this.musicFrame);
    const tick = () => {
      if (!this.music.playing || this.phase !== "dancing") return;
      const index = String(Math.round(this.music.time * this.reference.fps));
      const due = performance.now() - this.drawnAt >= GHOST_REDRAW_MS;
      if (this.lastLive && !this.watchStop && due && index !== this.canvas.dataset.ghostFrame) {
        cancelAnimationFrame(this.drawFrame);
        this.drawFrame = 0;
        this.draw(this.lastLive);
      }
      this.musicFrame = requestAnimationFrame(tick);
    };
    this.musicFrame = requestAnimationFrame(tick);
  }

  // Scoring runs from here; with the learner's consent their camera video is recorded too, to
  // be kept on this device only.
  startDancing() {
    this.phase = "dancing";
    this.recorder?.stop();
    this.recorder = videoOn() && this.video.srcObject ? new VideoRecorder(this.video.srcObject) : null;
    this.recorder?.start();
  }

  // Seconds of the reference practised: the looped step's, else the whole (not looped).
  partSeconds() {
    const step = this.reference.steps.find((s) => s.name === this.options.step);
    return step ? [step.start_s, step.end_s] : [0, Infinity];
  }

  // Loop another step (or the whole sequence): a countdown, then scoring starts afresh there.
  changeStep(step) {
    this.options.step = step;
    if (this.phase === "dancing") this.countdown();
  }

  showFeedback(live) {
    const score = live.score;
    show("score", String(Math.round(score)));
    $("score").style.color = STATE_COLOURS[scoreState(score)];
    const messages = (live.messages || []).slice(0, 2);
    const list = $("corrections");
    if (messages.join("\n") !== [...list.children].map((item) => item.textContent).join("\n")) {
      list.replaceChildren(...messages.map((text) => Object.assign(document.createElement("li"), { textContent: text })));
    }
    if (messages.length) say(messages[0]);
    this.timeline.push({ t: live.t, score });
    if (this.recorded.length < REPLAY_MAX_FRAMES) {
      const points = this.pose.mode === "landmarks" ? this.localLandmarks : live.landmarks;
      this.recorded.push({ t: live.t, points, ref: live.ref_position });
    }
    if (live.step_event) {
      this.popup(live.step_event);
      this.checkMastered(live.step_event);
    }
    const [lo, hi] = stepRange(this.reference, this.options.step);
    const progress = Math.min(1, Math.max(0, (live.ref_position - lo + 1) / (hi - lo)));
    showProgress(progress);
    this.checkEnd(progress);
  }

  // The run ends when the learner has held the last frame a moment (a looped step goes
  // round again on the server until the learner moves on).
  checkEnd(progress) {
    if (this.options.step || progress < 0.999) {
      this.endSince = null;
      return;
    }
    this.endSince ??= performance.now();
    if (performance.now() - this.endSince >= END_HOLD_MS) this.finish();
  }

  // Three good rounds of a looped step in a row: offer the next step.
  checkMastered(event) {
    if (!this.options.step || event.step !== this.options.step) return;
    this.mastered = isMastered(event.score) ? this.mastered + 1 : 0;
    if (this.mastered < masteredRounds()) return;
    const names = this.reference.steps.map((s) => s.name);
    const next = names[names.indexOf(this.options.step) + 1] ?? null;
    const button = $("btn-next-step");
    button.textContent = next ? `Mastered! Next: ${next} →` : "Mastered! The whole sequence →";
    button.onclick = () => {
      button.hidden = true;
      $("opt-step").value = next ?? "";
      this.changeStep(next);
    };
    button.hidden = false;
  }

  popup(event) {
    const box = $("popup");
    const score = event.score;
    box.className = `popup ${scoreState(score)}`;
    box.textContent = `${event.rating ?? ""} ${score === null || score === undefined ? "" : Math.round(score)}`.trim();
    box.hidden = false;
    // Restart the animation for back-to-back events.
    box.style.animation = "none";
    void box.offsetWidth;
    box.style.animation = "";
    say(event.rating);
  }

  // The learner over the ghost: the reference where the learner is, or where the played
  // reference is while watching. A pose found on this device is drawn as found; the tutor's
  // (smoothed) one when it found the pose.
  draw(live) {
    this.lastLive = live;
    const { width, height } = fitCanvas(this.canvas);
    this.ctx.clearRect(0, 0, width, height);
    const landmarks = this.pose?.mode === "landmarks" ? this.localLandmarks : live.landmarks;
    const learner = landmarks ? toScreen(landmarks, width, height, true) : null;
    this.lastLearner = learner;
    // With music the ghost follows the music's clock (where the learner should be); without,
    // where the learner is.
    const index = this.watchStop ? this.watchIndex
      : this.music.playing ? Math.round(this.music.time * this.reference.fps)
        : Math.round(live.ref_position ?? 0);
    if (this.canvas.dataset.ghostFrame !== String(index)) this.canvas.dataset.ghostFrame = String(index);
    this.drawnAt = performance.now();
    this.drawGhost(index, learner, width, height);
    if (learner) drawSkeleton(this.ctx, learner, { limbStates: live.limbs, width: Math.max(4, width / 160) });
  }

  // The reference pose at frame `index`, stood on the learner (or centred when nobody is in view).
  drawGhost(index, learner, width, height) {
    const ghost = this.reference.ghost;
    const points = ghostPoints(ghost.xy[Math.min(Math.max(index, 0), ghost.xy.length - 1)]);
    if (!points) return;
    // Mirror mode: the learner (shown mirrored) copies the reference as seen, so the ghost is
    // drawn as filmed; otherwise it is flipped to the learner's own sides.
    const screen = toScreen(points, height * ghost.aspect, height, !this.options.mirror);
    const placed = learner ? fitTo(screen, learner) : boxFit([screen], width, height, 0.1)(screen);
    drawSkeleton(this.ctx, placed, { width: Math.max(5, width / 110) });
  }

  // Play the reference alone at the chosen speed over the camera image.
  toggleWatch(speed) {
    if (this.watchStop) {
      this.watchStop();
      return false;
    }
    const [lo, hi] = stepRange(this.reference, this.options.step);
    const started = performance.now();
    let raf = 0;
    const tick = (now) => {
      this.watchIndex = lo + (Math.floor(((now - started) / 1000) * this.reference.fps * speed) % (hi - lo));
      if (this.lastLive && (this.phase === "dancing" || this.phase === "framing")) {
        this.draw(this.lastLive);
      } else {
        const { width, height } = fitCanvas(this.canvas);
        this.ctx.clearRect(0, 0, width, height);
        this.drawGhost(this.watchIndex, this.lastLearner, width, height);
      }
      raf = requestAnimationFrame(tick);
    };
    raf = requestAnimationFrame(tick);
    this.watchStop = () => {
      cancelAnimationFrame(raf);
      this.watchStop = null;
    };
    return true;
  }

  finish() {
    if (!this.socket || this.phase === "finishing") return;
    this.phase = "finishing";
    this.socket.stop();
    this.summaryTimer = setTimeout(() => this.showError("The summary did not arrive."), SUMMARY_TIMEOUT_MS);
  }

  async finished(message) {
    this.phase = "done";
    const recorder = this.recorder;
    this.recorder = null;
    const blob = await recorder?.stop();
    const video = blob ? { blob, offsetS: (recorder.startedMs - (this.socket?.firstCaptureMs ?? recorder.startedMs)) / 1000 } : null;
    const aspect = this.video.videoWidth / this.video.videoHeight || 4 / 3;
    const result = { report: message.report, frames: message.frames, kept: message.kept ?? null, timeline: this.timeline, recorded: this.recorded, video, aspect, mirror: this.options.mirror, reference: this.reference, step: this.options.step };
    this.stop();
    this.onSummary(result);
  }

  stop() {
    this.watchStop?.();
    if (this.phase !== "done") this.phase = "idle";
    this.release();
  }

  // Every way out of a practice ends here: a start still under way is aborted, the socket
  // closed and the camera's tracks stopped.
  release() {
    cancelAnimationFrame(this.musicFrame);
    cancelAnimationFrame(this.drawFrame);
    this.drawFrame = 0;
    this.music.stop();
    this.recorder?.stop();
    this.recorder = null;
    this.running?.abort();
    this.running = null;
    clearTimeout(this.summaryTimer);
    this.summaryTimer = null;
    this.socket?.close();
    this.socket = null;
    closeCamera(this.video);
  }
}
