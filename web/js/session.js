// The /ws/practice client (protocol: docs/protocol.md).
// Frames go out as binary messages: a camera image (a 12-byte little-endian header, uint32
// sequence number and float64 capture time in ms, then the JPEG) or the landmarks the page found
// itself (a 16-byte header, then float32 values). At most MAX_IN_FLIGHT images wait for an
// answer, so the camera never runs ahead of the server; and while one is being processed, the
// next is captured just in time to arrive as the server finishes (the fresher the frame, the
// sooner the feedback matches what the learner is doing). The page's own pose model runs in a
// worker, so answers to landmarks are read while the next frame is being estimated.

export const HEADER_BYTES = 12;
export const LANDMARKS_HEADER_BYTES = 16;
const POINTS = 33;

// A landmarks frame (docs/protocol.md): uint32 sequence number, float64 capture time in ms,
// uint16 image width and height, then float32 33 × (x, y, z, visibility) and 33 × (x, y, z)
// world landmarks; nothing after the header for nobody in view. `pose` is {landmarks: 33 ×
// [x, y, z, visibility], world: 33 × [x, y, z] or null}, or null.
export function packLandmarks(seq, captureMs, width, height, pose) {
  const size = pose ? LANDMARKS_HEADER_BYTES + 4 * POINTS * (pose.world ? 7 : 4) : LANDMARKS_HEADER_BYTES;
  const message = new ArrayBuffer(size);
  const view = new DataView(message);
  view.setUint32(0, seq, true);
  view.setFloat64(4, captureMs, true);
  view.setUint16(12, width, true);
  view.setUint16(14, height, true);
  if (!pose) return message;
  const values = new Float32Array(message, LANDMARKS_HEADER_BYTES);
  pose.landmarks.forEach((p, i) => values.set(p, 4 * i));
  pose.world?.forEach((p, i) => values.set(p, 4 * POINTS + 3 * i));
  return message;
}

export const MAX_IN_FLIGHT = 2;
export const IN_FLIGHT_TIMEOUT_MS = 1500;
const SMOOTHING = 0.2;
const UNREADABLE = {
  type: "error",
  code: "bad_message",
  message: "The tutor sent a message this page cannot read.",
  fatal: false,
};

export function packFrame(seq, captureMs, jpeg) {
  const message = new Uint8Array(HEADER_BYTES + jpeg.byteLength);
  const view = new DataView(message.buffer);
  view.setUint32(0, seq, true);
  view.setFloat64(4, captureMs, true);
  message.set(new Uint8Array(jpeg), HEADER_BYTES);
  return message.buffer;
}

// A server message (JSON text holding an object with a type), or null for anything else.
export function parseMessage(data) {
  if (typeof data !== "string") return null;
  try {
    const message = JSON.parse(data);
    return message !== null && typeof message === "object" && typeof message.type === "string" ? message : null;
  } catch {
    return null;
  }
}

// When the next frame may be captured, in performance.now() milliseconds: at its slot in the
// frame rate (`next`); with `maxInFlight` frames unanswered, once the oldest of them times
// out after `timeoutMs` (unless an answer frees a place first); with fewer in flight, just in
// time to reach the server as it finishes the frame it holds.
export function captureAt({ next, inFlight, lastSent, serverMs, grabMs, maxInFlight = MAX_IN_FLIGHT, timeoutMs = IN_FLIGHT_TIMEOUT_MS }) {
  if (inFlight.size >= maxInFlight) return Math.min(...inFlight.values()) + timeoutMs;
  if (!inFlight.size || serverMs === null) return next;
  return Math.max(next, lastSent + serverMs - (grabMs ?? 0));
}

export class LiveSocket {
  // `open` is the first message ({type: "start", ...} or {type: "record", ...}); `handlers`
  // may define onUpdate, onSummary, onRecorded, onError and onClose.
  constructor(open, handlers) {
    this.open = open;
    this.handlers = handlers;
    this.ws = null;
    this.seq = 0;
    // The first frame's capture time: the session's clock (a live update's `t`) counts from it.
    this.firstCaptureMs = null;
    this.inFlight = new Map();
    this.latencies = [];
    this.serverMs = null;
    this.grabMs = null;
    this.lastSent = -Infinity;
    this.grabber = null;
    // How far apart the tutor asks landmarks frames to be (its time shared among a class).
    this.paceMs = 0;
    this.streaming = false;
    this.ready = null;
    this.wakeUp = null;
  }

  connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    this.ws = new WebSocket(`${scheme}://${location.host}/ws/practice`);
    this.ws.binaryType = "arraybuffer";
    this.ready = new Promise((resolve, reject) => {
      this.ws.addEventListener("open", () => this.send(this.open));
      this.ws.addEventListener("message", (event) => this.receive(event.data, resolve, reject));
      this.ws.addEventListener("close", (event) => {
        this.halt();
        reject(new Error(event.reason || "The connection to the tutor closed."));
        this.handlers.onClose?.(event);
      });
    });
    return this.ready;
  }

  receive(data, resolve, reject) {
    const message = parseMessage(data);
    if (!message) {
      console.error("Unreadable message from the tutor:", data);
      this.handlers.onError?.(UNREADABLE);
      return;
    }
    switch (message.type) {
      case "ready":
        resolve(message);
        break;
      case "update":
        this.answered(message);
        this.handlers.onUpdate?.(message);
        break;
      case "summary":
        this.handlers.onSummary?.(message);
        break;
      case "recorded":
        this.handlers.onRecorded?.(message);
        break;
      case "error":
        if (message.fatal) reject(new Error(message.message));
        this.handlers.onError?.(message);
        break;
      default:
        break;
    }
  }

  answered(update) {
    const now = performance.now();
    this.latencies.push(now - update.timing.capture_ms);
    if (this.latencies.length > 90) this.latencies.shift();
    this.serverMs = smooth(this.serverMs, update.timing.processing_ms);
    this.paceMs = update.timing.pace_ms ?? 0;
    // Frames older than the answered one were superseded on the server.
    for (const seq of this.inFlight.keys()) if (seq <= update.seq) this.inFlight.delete(seq);
    this.wake();
  }

  medianLatency() {
    if (!this.latencies.length) return null;
    const sorted = [...this.latencies].sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)];
  }

  send(message) {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
  }

  // Score afresh from `step` (or the start); `music` ({music_start_ms, rate}) says when its
  // music started playing, for the rhythm.
  restart(step = null, music = {}) {
    this.send({ type: "restart", step, ...music });
  }

  stop() {
    this.halt();
    this.send({ type: "stop" });
  }

  close() {
    this.halt();
    this.ws?.close(1000);
  }

  // The stream ends: a pause or a grab waiting on the camera gives up.
  halt() {
    this.streaming = false;
    this.wake();
    this.grabber?.stop?.();
  }

  // Wait `ms` or until wake(): an answer, a stop or a close may let the stream go on sooner.
  pause(ms) {
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.wake(), ms);
      this.wakeUp = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  wake() {
    const wakeUp = this.wakeUp;
    this.wakeUp = null;
    wakeUp?.();
  }

  // Send frames at up to `fps` while the socket is open and not told to stop; `grabber.grab()`
  // gives a frame's capture time and how to pack it under a sequence number;
  // `grabber.maxInFlight` says how many may wait for an answer and `grabber.inFlightTimeoutMs`
  // how long (a frame the server shed is never answered). A frame grabbed sooner than the
  // tutor's pace after the last one sent is not sent (the grabber has drawn its pose already).
  async stream(grabber, fps = 30) {
    this.streaming = true;
    this.grabber = grabber;
    grabber.start?.();
    try {
      await this.frames(grabber, fps);
    } finally {
      grabber.stop?.();
    }
  }

  async frames(grabber, fps) {
    const interval = 1000 / fps;
    const timeoutMs = grabber.inFlightTimeoutMs ?? IN_FLIGHT_TIMEOUT_MS;
    let next = performance.now();
    while (this.streaming && this.ws.readyState === WebSocket.OPEN) {
      const now = performance.now();
      for (const [seq, sentAt] of this.inFlight) {
        if (now - sentAt >= timeoutMs) this.inFlight.delete(seq);
      }
      const at = captureAt({ next, inFlight: this.inFlight, lastSent: this.lastSent, serverMs: this.serverMs, grabMs: this.grabMs, maxInFlight: grabber.maxInFlight, timeoutMs });
      if (now < at) {
        await this.pause(at - now);
        continue;
      }
      next = Math.max(next + interval, now);
      const frame = await grabber.grab();
      if (!frame || !this.streaming) break;
      if (performance.now() - this.lastSent < this.paceMs) continue;
      const seq = this.seq++;
      if (seq === 0) this.firstCaptureMs = frame.captureMs;
      this.lastSent = performance.now();
      this.grabMs = smooth(this.grabMs, this.lastSent - frame.captureMs);
      this.inFlight.set(seq, this.lastSent);
      this.ws.send(frame.pack(seq));
    }
  }
}

function smooth(average, value) {
  return average === null ? value : average + SMOOTHING * (value - average);
}
