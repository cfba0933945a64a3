// The webcam: open it into a <video>, size the stage to it, and grab frames as JPEG.

// Opens the camera into `video`. When `signal` aborts first (the learner left the view), the
// camera is stopped again and the promise rejects with the signal's reason.
export async function openCamera(video, signal = null) {
  if (!navigator.mediaDevices?.getUserMedia) {
    throw new Error("This browser cannot use the camera here (the page needs https or localhost).");
  }
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: false,
    video: { facingMode: "user", width: { ideal: 1280 }, height: { ideal: 720 } },
  });
  try {
    signal?.throwIfAborted();
    video.srcObject = stream;
    if (video.readyState < 2) await loaded(video, signal);
    await video.play();
    signal?.throwIfAborted();
  } catch (err) {
    for (const track of stream.getTracks()) track.stop();
    if (video.srcObject === stream) video.srcObject = null;
    throw err;
  }
  const stage = video.parentElement;
  stage.style.setProperty("--stage-aspect", String(video.videoWidth / video.videoHeight));
  stage.style.aspectRatio = `${video.videoWidth} / ${video.videoHeight}`;
  return stream;
}

function loaded(video, signal) {
  return new Promise((resolve, reject) => {
    const abort = () => reject(signal.reason);
    signal?.addEventListener("abort", abort, { once: true });
    video.addEventListener("loadeddata", () => {
      signal?.removeEventListener("abort", abort);
      resolve();
    }, { once: true });
  });
}

export function closeCamera(video) {
  const stream = video.srcObject;
  if (stream) for (const track of stream.getTracks()) track.stop();
  video.srcObject = null;
}

// Grabs the current video frame, scaled so its longer side is at most `maxSide`, as JPEG.
export class FrameGrabber {
  constructor(video, { maxSide = 640, quality = 0.75 } = {}) {
    this.video = video;
    this.quality = quality;
    const scale = Math.min(1, maxSide / Math.max(video.videoWidth, video.videoHeight));
    this.canvas = document.createElement("canvas");
    this.canvas.width = Math.round(video.videoWidth * scale);
    this.canvas.height = Math.round(video.videoHeight * scale);
    this.ctx = this.canvas.getContext("2d");
  }

  async grab() {
    const captureMs = performance.now();
    this.ctx.drawImage(this.video, 0, 0, this.canvas.width, this.canvas.height);
    const blob = await new Promise((resolve) => this.canvas.toBlob(resolve, "image/jpeg", this.quality));
    return { jpeg: await blob.arrayBuffer(), captureMs };
  }
}
