// The pose model off the page's thread: MediaPipe's PoseLandmarker (tasks-vision's classic
// bundle, served by the tutor) in a dedicated worker, so that the page draws and reads the
// tutor's answers while a frame is being estimated. A classic worker, because tasks-vision
// loads its WebAssembly glue with importScripts.
//
// Messages in:  {type: "load", bundle, wasm, model};
//               {type: "detect", frame: ImageBitmap, timestamp}: one frame, answered once;
//               {type: "follow", port}: the camera's frames from web/js/frame-worker.js on
//               `port`, the newest one estimated each time the model is free, until
//               {type: "unfollow"}.
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

// Each frame asked for from web/js/frame-worker.js is estimated as it comes in, and the next one
// asked for once it is: the frame worker gives the newest it has then.
function follow({ port }) {
  following = port;
  port.onmessage = ({ data: { frame, captureMs } }) => {
    try {
      const pose = detect({ frame, timestamp: captureMs });
      port.postMessage(null);
      self.postMessage({ ...pose, followed: true, captureMs });
    } catch (err) {
      self.postMessage({ type: "failed", message: String(err?.message ?? err) });
    }
  };
  port.postMessage(null);
}

function unfollow() {
  following?.close();
  following = null;
}

self.onmessage = async ({ data }) => {
  try {
    if (data.type === "load") {
      await load(data);
      self.postMessage({ type: "loaded" });
    } else if (data.type === "detect") {
      self.postMessage(detect(data));
    } else if (data.type === "follow") {
      follow(data);
    } else if (data.type === "unfollow") {
      unfollow();
    }
  } catch (err) {
    self.postMessage({ type: "failed", message: String(err?.message ?? err) });
  }
};
