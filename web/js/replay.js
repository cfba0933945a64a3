// The replay of an attempt: the learner's skeleton and the reference ghost at the aligned times
// (side by side, or the ghost laid over the learner), a scrubber, playback at 0.25× to 1×, and
// the worst moments as chapters to jump to, each with its correction.
//
// An attempt is {frames: [{t, points, ref}], aspect, reference, moments, mirror}: `points` the
// learner's landmarks (33 × [x, y, z, visibility]) or null, `ref` the reference frame the live
// aligner had reached, `aspect` the learner's camera width over height, `reference` the step's
// detail (GET /api/references/{name}, with its ghost), `moments` the report's worst moments.

import { boxFit, drawSkeleton, fitCanvas, fitTo, ghostPoints, limbNames, toScreen } from "./skeleton.js";

const $ = (id) => document.getElementById(id);
const LEARNER_COLOUR = "#e8b04a";
const words = (limb) => limb.replaceAll("_", " ");

// A just-finished live session as an attempt: the frames the page drew while dancing.
export function liveAttempt(recorded, aspect, reference, report, mirror) {
  return { frames: recorded, aspect, reference, moments: report?.worst_moments ?? [], mirror };
}

// A stored attempt (GET /api/practices/{id}/attempt, a .pose.json document) as an attempt.
export function storedAttempt(document, reference, report) {
  const reached = document.reference_frames ?? [];
  const frames = document.frames.map((frame, i) => ({ t: frame.t, points: frame.landmarks, ref: reached[i] ?? null }));
  const { width, height } = document.image;
  return { frames, aspect: width / height, reference, moments: report.worst_moments, mirror: report.mirror };
}

// The first frame at or after reference time `seconds` (a chapter's start), else the last.
export function frameAtReference(frames, fps, seconds) {
  const target = seconds * fps;
  const index = frames.findIndex((f) => f.ref !== null && f.ref >= target);
  return index >= 0 ? index : frames.length - 1;
}

// The moment a reference frame falls in, or null.
export function momentAt(moments, fps, ref) {
  if (ref === null) return null;
  const seconds = ref / fps;
  return moments.find((m) => seconds >= m.reference_start_s && seconds < m.reference_end_s) ?? null;
}

export class Replay {
  constructor() {
    this.canvas = $("replay-canvas");
    this.ctx = this.canvas.getContext("2d");
    this.attempt = null;
    this.index = 0;
    this.playing = false;
    this.raf = 0;
    $("replay-play").onclick = () => (this.playing ? this.pause() : this.play());
    $("replay-scrubber").oninput = (e) => this.seek(Number(e.target.value));
    $("replay-layout").onchange = () => this.refit();
    window.addEventListener("resize", () => this.refit());
    $("replay-speed").onchange = () => { if (this.playing) this.play(); };
  }

  // `video` ({blob, offsetS}, optional): the learner's own camera video, played in step;
  // `onDeleteVideo` removes it from this device.
  open(attempt, title, video = null, onDeleteVideo = null) {
    this.close();
    this.attempt = attempt;
    this.showVideo(video, onDeleteVideo);
    $("replay-title").textContent = title;
    const scrubber = $("replay-scrubber");
    scrubber.max = String(Math.max(0, attempt.frames.length - 1));
    scrubber.value = "0";
    this.index = 0;
    const fps = attempt.reference.fps;
    const chapters = attempt.moments.map((moment) => {
      const at = frameAtReference(attempt.frames, fps, moment.reference_start_s);
      const button = Object.assign(document.createElement("button"), {
        type: "button", className: "link-btn",
        textContent: `${this.elapsed(at).toFixed(1)} s · ${words(moment.limb)}: ${moment.error}`,
      });
      button.onclick = () => {
        this.pause();
        this.seek(at);
      };
      const item = document.createElement("li");
      item.append(button);
      return item;
    });
    $("replay-chapters").replaceChildren(...(chapters.length ? chapters : [Object.assign(document.createElement("li"), { textContent: "No moment stood out." })]));
    this.refit();
  }

  showVideo(video, onDeleteVideo) {
    const player = $("replay-video");
    this.videoOffset = video?.offsetS ?? 0;
    $("replay-video-box").hidden = !video;
    if (!video) return;
    this.videoUrl = URL.createObjectURL(video.blob);
    player.src = this.videoUrl;
    player.classList.toggle("mirrored", this.attempt.mirror);
    $("btn-video-delete").onclick = async () => {
      await onDeleteVideo?.();
      this.pause();
      player.removeAttribute("src");
      $("replay-video-box").hidden = true;
    };
  }

  // The video at frame `index`'s moment.
  syncVideo() {
    const player = $("replay-video");
    if ($("replay-video-box").hidden || !this.attempt) return;
    const at = this.attempt.frames[this.index].t - this.videoOffset;
    if (Math.abs(player.currentTime - at) > 0.15) player.currentTime = Math.max(0, at);
  }

  // Seconds from the attempt's first frame to frame `index`.
  elapsed(index) {
    const { frames } = this.attempt;
    return frames[index].t - frames[0].t;
  }

  refit() {
    if (!this.attempt) return;
    this.fit = this.fits();
    this.draw();
  }

  // One scale for the whole replay per half, so the skeletons do not jump as they move.
  fits() {
    const { width, height } = fitCanvas(this.canvas);
    const { frames, reference } = this.attempt;
    const half = $("replay-layout").value === "side" ? width / 2 : width;
    const learner = frames.map((f) => f.points && toScreen(f.points, 100 * this.attempt.aspect, 100, true));
    const ghost = reference.ghost.xy.map((row) => { const p = ghostPoints(row); return p && toScreen(p, 100 * reference.ghost.aspect, 100, !this.attempt.mirror); });
    return { learner, ghost, learnerFit: boxFit(learner, half, height), ghostFit: boxFit(ghost, half, height), half, width, height };
  }

  seek(index) {
    if (!this.attempt) return;
    this.index = Math.min(Math.max(0, Math.round(index)), this.attempt.frames.length - 1);
    $("replay-scrubber").value = String(this.index);
    this.draw();
    if (!this.playing) this.syncVideo();
  }

  play() {
    cancelAnimationFrame(this.raf);
    if (!this.attempt) return;
    const { frames } = this.attempt;
    if (this.index >= frames.length - 1) this.index = 0;
    const speed = Number($("replay-speed").value);
    const startT = frames[this.index].t;
    const startedAt = performance.now();
    this.playing = true;
    $("replay-play").textContent = "Pause";
    if (!$("replay-video-box").hidden) {
      this.syncVideo();
      $("replay-video").playbackRate = speed;
      $("replay-video").play().catch(() => {});
    }
    const tick = (now) => {
      const t = startT + ((now - startedAt) / 1000) * speed;
      let i = this.index;
      while (i < frames.length - 1 && frames[i + 1].t <= t) i++;
      this.seek(i);
      if (i >= frames.length - 1) this.pause();
      else this.raf = requestAnimationFrame(tick);
    };
    this.raf = requestAnimationFrame(tick);
  }

  pause() {
    cancelAnimationFrame(this.raf);
    $("replay-video").pause();
    this.playing = false;
    $("replay-play").textContent = "Play";
  }

  draw() {
    if (!this.attempt) return;
    const layout = $("replay-layout").value;
    $("view-replay").dataset.layout = layout;
    const { learner, ghost, learnerFit, ghostFit, half, width, height } = this.fit;
    const frame = this.attempt.frames[this.index];
    const ref = frame.ref === null ? null : Math.min(Math.max(0, Math.round(frame.ref)), ghost.length - 1);
    const moment = momentAt(this.attempt.moments, this.attempt.reference.fps, frame.ref);
    const states = moment ? Object.fromEntries(limbNames().map((limb) => [limb, { state: limb === moment.limb ? "bad" : "good" }])) : null;
    this.ctx.clearRect(0, 0, width, height);
    const mine = learner[this.index] && learnerFit(learner[this.index]);
    const theirs = ref !== null && ghost[ref] ? ghostFit(ghost[ref]) : null;
    const line = Math.max(4, width / 220);
    if (layout === "side") {
      if (theirs) {
        this.ctx.save();
        this.ctx.translate(half, 0);
        drawSkeleton(this.ctx, theirs, { width: line });
        this.ctx.restore();
      }
      if (mine) drawSkeleton(this.ctx, mine, { colour: LEARNER_COLOUR, width: line, limbStates: states });
    } else {
      if (theirs) drawSkeleton(this.ctx, mine ? fitTo(theirs, mine) : theirs, { width: line * 1.3 });
      if (mine) drawSkeleton(this.ctx, mine, { colour: LEARNER_COLOUR, width: line, limbStates: states });
    }
    $("replay-time").textContent = `${this.elapsed(this.index).toFixed(1)} s`;
    $("replay-moment").textContent = moment ? `${words(moment.limb)}: ${moment.error}` : "";
  }

  // Nothing of the last replay stays on screen for the next to be mistaken for.
  close() {
    this.pause();
    this.attempt = null;
    if (this.videoUrl) URL.revokeObjectURL(this.videoUrl);
    this.videoUrl = null;
    $("replay-video-box").hidden = true;
    this.ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    $("replay-chapters").replaceChildren();
    $("replay-moment").textContent = "";
  }
}
