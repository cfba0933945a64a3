// The pose model off the page's thread: MediaPipe's PoseLandmarker (tasks-vision's classic
// bundle, served by the tutor) in a dedicated worker, so that the page draws and reads the
// tutor's answers while a frame is being estimated. A classic worker, because tasks-vision
// loads its WebAssembly glue with importScripts.
//
// Messages in:  {type: "load", bundle, wasm, model}  then  {type: "detect", frame: ImageBitmap, timestamp}
// Messages out: {type: "loaded"} | {type: "pose", landmarks, world, inferenceMs} | {type: "failed", message}

let landmarker = null;

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
  const result = landmarker.detectForVideo(frame, timestamp);
  frame.close();
  const points = result.landmarks?.[0] ?? null;
  const world = result.worldLandmarks?.[0] ?? null;
  return {
    type: "pose",
    landmarks: points && points.map((p) => [p.x, p.y, p.z, p.visibility ?? 0]),
    world: world && world.map((p) => [p.x, p.y, p.z]),
    inferenceMs: performance.now() - started,
  };
}

self.onmessage = async ({ data }) => {
  try {
    if (data.type === "load") {
      await load(data);
      self.postMessage({ type: "loaded" });
    } else if (data.type === "detect") {
      self.postMessage(detect(data));
    }
  } catch (err) {
    self.postMessage({ type: "failed", message: String(err?.message ?? err) });
  }
};
