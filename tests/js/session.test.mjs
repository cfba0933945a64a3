// The /ws/practice client's pure parts: the frame header, reading messages, pacing frames.
import assert from "node:assert/strict";
import { test } from "node:test";

import { captureAt, HEADER_BYTES, IN_FLIGHT_TIMEOUT_MS, LiveSocket, MAX_IN_FLIGHT, packFrame, parseMessage } from "../../web/js/session.js";

test("a frame is a little-endian sequence number and capture time, then the JPEG", () => {
  const jpeg = new Uint8Array([0xff, 0xd8, 1, 2, 3]).buffer;
  const message = packFrame(258, 1234.5, jpeg);
  const view = new DataView(message);
  assert.equal(message.byteLength, HEADER_BYTES + 5);
  assert.equal(view.getUint32(0, true), 258);
  assert.equal(view.getFloat64(4, true), 1234.5);
  assert.deepEqual([...new Uint8Array(message, HEADER_BYTES)], [0xff, 0xd8, 1, 2, 3]);
});

test("a server message is JSON text holding an object with a type", () => {
  assert.deepEqual(parseMessage('{"type": "ready", "session": "abc"}'), { type: "ready", session: "abc" });
  for (const bad of ["not json", '{"type": ', "null", "42", '"ready"', "[1, 2]", '{"kind": "ready"}', '{"type": 3}']) {
    assert.equal(parseMessage(bad), null, bad);
  }
  assert.equal(parseMessage(new ArrayBuffer(4)), null);
});

const idle = { next: 1000, inFlight: new Map(), lastSent: 0, serverMs: null, grabMs: null };

test("with nothing in flight the next frame goes at its slot in the frame rate", () => {
  assert.equal(captureAt(idle), 1000);
  assert.equal(captureAt({ ...idle, serverMs: 80, lastSent: 990 }), 1000);
});

test("with a frame in flight the next is captured to arrive as the server finishes it", () => {
  const one = { ...idle, inFlight: new Map([[7, 990]]), lastSent: 990, serverMs: 80, grabMs: 15 };
  assert.equal(captureAt(one), 990 + 80 - 15);
  assert.equal(captureAt({ ...one, serverMs: 5 }), 1000, "never before its slot");
  assert.equal(captureAt({ ...one, serverMs: null }), 1000, "the server's pace is not known yet");
});

test("with the window full the next frame waits for the oldest to time out", () => {
  const sent = new Map(Array.from({ length: MAX_IN_FLIGHT }, (_, k) => [k, 900 + 50 * k]));
  assert.equal(captureAt({ ...idle, inFlight: sent, lastSent: 950, serverMs: 40 }), 900 + IN_FLIGHT_TIMEOUT_MS);
});

test("every camera frame is grabbed, and sent only as often as the tutor's pace asks", async () => {
  globalThis.WebSocket ??= { OPEN: 1 };
  const socket = new LiveSocket({ type: "start" }, {});
  const sent = [];
  socket.ws = { readyState: WebSocket.OPEN, send: (data) => sent.push(data) };
  let grabbed = 0;
  const grabber = {
    maxInFlight: 1000,
    grab: async () => {
      grabbed += 1;
      return { captureMs: performance.now(), pack: (seq) => seq };
    },
  };
  socket.paceMs = 100;
  const streaming = socket.stream(grabber, 50);
  await new Promise((resolve) => setTimeout(resolve, 450));
  socket.streaming = false;
  socket.wake();
  await streaming;
  assert.ok(grabbed >= 15, `grabbed ${grabbed} frames at 50 fps in 0.45 s`);
  assert.ok(sent.length >= 4 && sent.length <= 6, `sent ${sent.length} frames 100 ms apart in 0.45 s`);
  assert.deepEqual(sent, sent.map((_, k) => k), "sequence numbers count the frames sent");
});
