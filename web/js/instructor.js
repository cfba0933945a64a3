// Instructor mode: unlock with the token, record a take from the camera, trim, name, save.

import { api, ApiError, forgetReference, instructorToken, setInstructorToken } from "./api.js";
import { isTeacher } from "./account.js";
import { MusicEditor } from "./musiceditor.js";
import { RoutineEditor } from "./routines.js";
import { closeCamera, openCamera } from "./camera.js";
import { poseConfig } from "./config.js";
import { choosePose } from "./pose.js";
import { difficulties } from "./config.js";
import { LiveSocket } from "./session.js";
import { animate, drawSkeleton, fitCanvas, toScreen } from "./skeleton.js";

const COUNTDOWN_S = 3;
const CAMERA_FPS = 30;
const $ = (id) => document.getElementById(id);

// A recorded .pose.json document as the flat ghost frames the preview animates.
export function ghostFromDocument(doc) {
  return {
    aspect: doc.image.width / doc.image.height,
    xy: doc.frames.map((f) => (f.landmarks ? f.landmarks.flatMap((p) => [p[0], p[1]]) : null)),
    t: doc.frames.map((f) => f.t),
  };
}

function setStatus(id, text, isError = false) {
  const el = $(id);
  el.textContent = text;
  el.classList.toggle("error", isError);
}

export class Instructor {
  constructor({ onSaved }) {
    this.onSaved = onSaved;
    this.routines = new RoutineEditor({ onSaved: () => {} });
    this.music = new MusicEditor();
    this.video = $("rec-camera");
    this.canvas = $("rec-overlay");
    this.ctx = this.canvas.getContext("2d");
    this.socket = null;
    this.take = null;
    this.stopPreview = null;
    this.active = new AbortController();
    $("token-form").addEventListener("submit", (e) => {
      e.preventDefault();
      this.unlock($("token-input").value.trim());
    });
    $("btn-record").addEventListener("click", () => this.record());
    $("btn-record-stop").addEventListener("click", () => this.socket?.stop());
    $("btn-discard").addEventListener("click", () => this.discard());
    $("take-form").addEventListener("submit", (e) => {
      e.preventDefault();
      this.save();
    });
    $("rec-target").addEventListener("change", () => this.showTargetFields());
    for (const id of ["trim-start", "trim-end"]) $(id).addEventListener("input", () => this.showTrim());
  }

  // Every await from here on may outlive the view: stop() aborts `active`, and whatever was
  // opened by then (the camera, the socket) is closed, here or by stop().
  async open(steps) {
    this.stop();
    this.active = new AbortController();
    this.steps = steps;
    const target = $("rec-target");
    target.replaceChildren(new Option("A new step", ""), ...steps.map((s) => new Option(`A take of “${s.title}”`, s.name)));
    $("take-difficulty").replaceChildren(...difficulties().map((d) => new Option(d[0].toUpperCase() + d.slice(1), d)));
    // A teacher's login records as the token does.
    if (instructorToken() || isTeacher()) await this.unlock(instructorToken());
    else this.lock();
  }

  lock(message = "") {
    $("token-form").hidden = false;
    $("recorder").hidden = true;
    $("routine-editor").hidden = true;
    $("music-editor").hidden = true;
    setStatus("token-status", message, Boolean(message));
  }

  async unlock(token) {
    const { signal } = this.active;
    setInstructorToken(token);
    try {
      await api.checkToken();
    } catch (err) {
      setInstructorToken(null);
      if (!signal.aborted) this.lock(err instanceof ApiError && err.status === 401 ? "That token is not right." : err.message);
      return;
    }
    if (signal.aborted) return;
    $("token-form").hidden = true;
    $("recorder").hidden = false;
    $("routine-editor").hidden = false;
    $("music-editor").hidden = false;
    this.music.open(this.steps);
    await Promise.all([this.connect(), this.routines.open(this.steps)]);
  }

  async connect() {
    const { signal } = this.active;
    this.resetTake();
    $("btn-record").disabled = true;
    try {
      if (!this.video.srcObject) await openCamera(this.video, signal);
    } catch (err) {
      if (!signal.aborted) setStatus("take-status", `The camera could not be opened: ${err.message}`, true);
      return;
    }
    if (signal.aborted) return;
    // The take's landmarks come from where the learner's would: this device when it can.
    let pose;
    try {
      pose = await choosePose(this.video, poseConfig(), {
        onPose: (landmarks) => this.drawPose(landmarks),
        onProgress: (text) => setStatus("rec-status", text),
        signal,
      });
    } catch (err) {
      if (!signal.aborted) setStatus("rec-status", `The pose model could not be started: ${err.message}`, true);
      return;
    }
    setStatus("rec-status", pose.note);
    // Messages of a socket that is no longer the recorder's are dropped.
    const current = (handle) => (m) => this.socket === socket && handle(m);
    const socket = new LiveSocket(
      { type: "record", token: instructorToken() ?? "", mode: pose.mode, fps: CAMERA_FPS },
      {
        onUpdate: current((m) => pose.mode === "image" && this.drawPose(m.live.landmarks)),
        onRecorded: current((m) => this.recorded(m.sequence, m.suggested_trim)),
        onError: current((m) => setStatus("take-status", m.message, true)),
      },
    );
    this.socket = socket;
    try {
      await socket.connect();
    } catch (err) {
      if (!signal.aborted) setStatus("take-status", err.message, true);
      return;
    }
    if (signal.aborted) {
      socket.close();
      return;
    }
    socket.stream(pose.grabber, CAMERA_FPS);
    $("btn-record").disabled = false;
  }

  drawPose(landmarks) {
    const { width, height } = fitCanvas(this.canvas);
    this.ctx.clearRect(0, 0, width, height);
    if (landmarks) drawSkeleton(this.ctx, toScreen(landmarks, width, height, true), { colour: "#e8b04a", width: Math.max(4, width / 160) });
  }

  async record() {
    const { signal } = this.active;
    $("btn-record").disabled = true;
    const box = $("rec-countdown");
    box.hidden = false;
    for (let n = COUNTDOWN_S; n > 0; n--) {
      box.textContent = String(n);
      await new Promise((resolve) => setTimeout(resolve, 1000));
      if (signal.aborted) return;
    }
    box.hidden = true;
    this.socket?.restart();
    $("rec-badge").hidden = false;
    $("btn-record-stop").hidden = false;
  }

  // Show the take with the trim the server suggests (the still lead-in and lead-out cut).
  recorded(sequence, suggested) {
    $("rec-badge").hidden = true;
    $("btn-record-stop").hidden = true;
    this.take = sequence;
    const ghost = ghostFromDocument(sequence);
    const duration = ghost.t.length ? ghost.t[ghost.t.length - 1] + 1 / sequence.fps : 0;
    for (const id of ["trim-start", "trim-end"]) $(id).max = duration.toFixed(2);
    $("trim-start").value = (suggested?.start_s ?? 0).toFixed(2);
    $("trim-end").value = (suggested?.end_s ?? duration).toFixed(2);
    this.showTrim();
    this.showTargetFields();
    $("take-form").hidden = false;
    const frameAt = (s) => ghost.t.findIndex((t) => t >= s);
    this.stopPreview = animate($("take-preview"), ghost, {
      fps: sequence.fps,
      range: () => {
        const lo = Math.max(0, frameAt(Number($("trim-start").value)));
        const hi = frameAt(Number($("trim-end").value));
        return [lo, hi < 0 ? ghost.t.length : Math.max(lo + 1, hi)];
      },
    });
    setStatus("take-status", `Recorded ${duration.toFixed(1)} s. Trim it, then save.`);
  }

  showTrim() {
    const start = Number($("trim-start").value);
    const end = Number($("trim-end").value);
    if (end <= start) $("trim-end").value = String(Math.min(Number($("trim-end").max), start + 0.1));
    $("trim-start-out").textContent = `${start.toFixed(1)} s`;
    $("trim-end-out").textContent = `${Number($("trim-end").value).toFixed(1)} s`;
  }

  showTargetFields() {
    const isNew = !$("rec-target").value;
    for (const el of document.querySelectorAll(".new-only")) el.hidden = !isNew;
    $("take-name").required = isNew;
  }

  async save() {
    const target = $("rec-target").value;
    const body = {
      sequence: this.take,
      trim: { start_s: Number($("trim-start").value), end_s: Number($("trim-end").value) },
    };
    setStatus("take-status", "Saving…");
    try {
      if (target) {
        await api.addTake(target, body);
        forgetReference(target);
      } else {
        const name = $("take-name").value.trim();
        await api.createReference({
          ...body,
          name,
          title: $("take-title").value.trim() || name,
          difficulty: $("take-difficulty").value,
        });
      }
    } catch (err) {
      setStatus("take-status", `Not saved: ${err.message}`, true);
      return;
    }
    setStatus("take-status", "Saved to the library.");
    this.onSaved(target || $("take-name").value.trim());
  }

  resetTake() {
    this.stopPreview?.();
    this.stopPreview = null;
    this.take = null;
    $("take-form").hidden = true;
    $("rec-badge").hidden = true;
    $("btn-record-stop").hidden = true;
    setStatus("take-status", "");
  }

  discard() {
    this.socket?.close();
    this.socket = null;
    this.connect();
  }

  // Every way out of the recorder ends here: whatever is under way is aborted, the socket
  // closed and the camera's tracks stopped.
  stop() {
    this.active.abort();
    this.resetTake();
    $("rec-countdown").hidden = true;
    this.socket?.close();
    this.socket = null;
    closeCamera(this.video);
  }
}
