// The camera's frames for the pose worker (web/js/pose-worker.js), as ImageBitmaps made on this
// worker's own thread: each VideoFrame from the camera's MediaStreamTrackProcessor is converted
// to an RGB picture as it arrives, and the newest one is handed over whenever the pose worker
// asks, so that the pose worker spends its time on the model alone (the conversion took it
// 2.5 ms of every 42 ms frame) and never works on an older frame than the newest.
//
// Messages in:  {readable, port, timeOrigin}: the camera's frames (a ReadableStream of
//               VideoFrames), read until the stream ends or this worker is terminated. Each
//               message on `port` asks for the next frame: the newest one not yet given, at
//               once or as soon as there is one, as {frame: ImageBitmap, captureMs}.
// Messages out: {type: "failed", message}
//
// A frame's capture time is when it is handed over, on the page's clock (`timeOrigin` is the
// page's performance.timeOrigin), as it is for a frame the page grabs from the video: the
// device's measured delay (web/js/calibrate.js) counts the wait for the model in both.

let newest = null;
let asked = false;

function give(port, timeOrigin) {
  if (!asked || !newest) return;
  asked = false;
  const captureMs = performance.timeOrigin + performance.now() - timeOrigin;
  port.postMessage({ frame: newest, captureMs }, [newest]);
  newest = null;
}

self.onmessage = async ({ data: { readable, port, timeOrigin } }) => {
  port.onmessage = () => {
    asked = true;
    give(port, timeOrigin);
  };
  const reader = readable.getReader();
  try {
    for (;;) {
      const { value: video, done } = await reader.read();
      if (done) break;
      let frame;
      try {
        frame = await createImageBitmap(video);
      } finally {
        video.close();
      }
      newest?.close();
      newest = frame;
      give(port, timeOrigin);
    }
  } catch (err) {
    self.postMessage({ type: "failed", message: String(err?.message ?? err) });
  } finally {
    reader.cancel().catch(() => {});
    port.close();
  }
};
