// The webcam: open it into a <video>, size the stage to it, and grab frames as JPEG.

export async function openCamera(video) {
  if (!navigator.mediaDevices?.getUserMedia) {
    throw new Error("This browser cannot use the camera here (the page needs https or localhost).");
  }
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: false,
    video: { facingMode: "user", width: { ideal: 1280 }, height: { ideal: 720 } },
  });
  video.srcObject = stream;
  if (video.readyState < 2) {
    await new Promise((resolve) => video.addEventListener("loadeddata", resolve, { once: true }));
  }
  await video.play();
  const stage = video.parentElement;
  stage.style.setProperty("--stage-aspect", String(video.videoWidth / video.videoHeight));
  stage.style.aspectRatio = `${video.videoWidth} / ${video.videoHeight}`;
  return stream;
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
