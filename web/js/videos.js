// The learner's own camera video of an attempt, recorded in the browser and kept on this
// device only (IndexedDB), never sent to the tutor. Off by default; the replay plays it in step
// with the skeletons and deletes it on request.

const DB = "dance-tutor";
const STORE = "videos";
const SETTING = "dance-tutor.video";

export function videoOn() {
  return localStorage.getItem(SETTING) === "on";
}

export function setVideoOn(on) {
  localStorage.setItem(SETTING, on ? "on" : "off");
}

function open() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function run(mode, work) {
  const db = await open();
  return new Promise((resolve, reject) => {
    const tx = db.transaction(STORE, mode);
    const request = work(tx.objectStore(STORE));
    tx.oncomplete = () => resolve(request.result);
    tx.onerror = () => reject(tx.error);
  });
}

// {blob, offsetS}: the video and the attempt time (seconds) its first frame shows, by key
// (a kept practice's id, or "last").
export const keptVideos = {
  put: (key, video) => run("readwrite", (store) => store.put(video, String(key))),
  get: (key) => run("readonly", (store) => store.get(String(key))).catch(() => undefined),
  delete: (key) => run("readwrite", (store) => store.delete(String(key))),
};

// Records a camera stream from start() to stop(), which resolves with the video (or null).
export class VideoRecorder {
  constructor(stream) {
    this.chunks = [];
    this.recorder = typeof MediaRecorder === "function" ? new MediaRecorder(stream) : null;
    if (this.recorder) this.recorder.ondataavailable = (event) => event.data.size && this.chunks.push(event.data);
    this.startedMs = null;
  }

  start() {
    if (!this.recorder || this.recorder.state !== "inactive") return;
    this.recorder.start(1000);
    this.startedMs = performance.now();
  }

  stop() {
    if (!this.recorder || this.recorder.state === "inactive") return Promise.resolve(null);
    return new Promise((resolve) => {
      this.recorder.onstop = () => resolve(new Blob(this.chunks, { type: this.recorder.mimeType || "video/webm" }));
      this.recorder.stop();
    });
  }
}
