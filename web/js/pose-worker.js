// The pose model off the page's thread: MediaPipe's PoseLandmarker (tasks-vision's classic
// bundle, served by the tutor) in a dedicated worker, so that the page draws and reads the
// tutor's answers while a frame is being estimated. A classic worker, because tasks-vision
// loads its WebAssembly glue with importScripts.
//
// Messages in:  {type: "load", bundle, wasm, model};
//               {type: "detect", frame: ImageBitmap, timestamp}: one frame, answered once;
//               {type: "follow", readable, timeOrigin}: the camera's frames (a ReadableStream
//               of VideoFrames from a MediaStreamTrackProcessor), each newest one estimated as
//               soon as the model is free, until {type: "unfollow"}.
// Messages out: {type: "loaded"} | {type: "pose", landmarks, world, inferenceMs, followed,
//               captureMs} | {type: "failed", message}

let landmarker = null;
let lastTimestamp = -1;
let following = null;

async function load({ bundle, wasm, model }) {
  importScripts(bundle);
  const { FilesetResolver, PoseLandmarker } = self.Vision;
  const fileset = await FilesetResolver.forVisionTasks(wasm);
  landmarker = await PoseLandmarker.createFromOptions(fileset, {
    baseOptions: { modelAssetPath: model, delegate: "CPU" },
    runningMode: "VIDEO",
    numPoses: 1,
  });
}

function detect({ frame, timestamp }) {
  const started = performance.now();
  lastTimestamp = Math.max(timestamp, lastTimestamp + 1);   // VIDEO mode: increasing
  const result = landmarker.detectForVideo(frame, lastTimestamp);
  frame.close();
  const points = result.landmarks?.[0] ?? null;
  const world = result.worldLandmarks?.[0] ?? null;
  return {
    type: "pose",
    landmarks: points && points.map((p) => [p.x, p.y, p.z, p.visibility ?? 0]),
    world: world && world.map((p) => [p.x, p.y, p.z]),
    inferenceMs: performance.now() - started,
    followed: false,
  };
}

// Each frame's capture time is when it was read, on the page's clock (`timeOrigin` is the
// page's performance.timeOrigin; a worker's own clock starts when the worker did).
async function follow({ readable, timeOrigin }) {
  const reader = readable.getReader();
  following = reader;
  try {
    while (following === reader) {
      const { value: frame, done } = await reader.read();
      if (done) break;
      if (following !== reader) {
        frame.close();
        break;
      }
      const captureMs = performance.timeOrigin + performance.now() - timeOrigin;
      self.postMessage({ ...detect({ frame, timestamp: captureMs }), followed: true, captureMs });
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}

self.onmessage = async ({ data }) => {
  try {
    if (data.type === "load") {
      await load(data);
      self.postMessage({ type: "loaded" });
    } else if (data.type === "detect") {
      self.postMessage(detect(data));
    } else if (data.type === "follow") {
      await follow(data);
    } else if (data.type === "unfollow") {
      following = null;
    }
  } catch (err) {
    self.postMessage({ type: "failed", message: String(err?.message ?? err) });
  }
};
