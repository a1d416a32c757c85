import assert from "node:assert/strict";
import { duplexPair } from "node:stream";
import { test } from "node:test";
import { Channel } from "./channel.js";
import { Code } from "./code.js";
import { isTtrpcError } from "./errors.js";
import type { Frame, FrameHeader } from "./frame.js";
import { Flag, FrameParser, MAX_PAYLOAD_LENGTH, MessageType, encodeFrame } from "./frame.js";

function collect(parser: FrameParser): { frames: Frame[]; oversize: FrameHeader[] } {
  const frames: Frame[] = [];
  const oversize: FrameHeader[] = [];
  for (let p = parser.next(); p !== undefined; p = parser.next()) {
    if (p.kind === "frame") frames.push(p.frame);
    else oversize.push(p.header);
  }
  return { frames, oversize };
}

test("header is 10 bytes, big-endian, length excluding the header", () => {
  const bytes = encodeFrame(
    0x01020305,
    MessageType.Data,
    Flag.RemoteClosed | Flag.NoData,
    Uint8Array.of(9, 8, 7),
  );
  assert.deepEqual([...bytes], [0, 0, 0, 3, 1, 2, 3, 5, 3, 5, 9, 8, 7]);
});

test("frames survive being split at every byte boundary", () => {
  const stream = Buffer.concat([
    encodeFrame(1, MessageType.Request, 0, Buffer.from("hello")),
    encodeFrame(3, MessageType.Data, 0),
    encodeFrame(5, MessageType.Response, 0, Buffer.alloc(300, 7)),
  ]);
  for (let split = 0; split <= stream.length; split++) {
    const parser = new FrameParser();
    parser.push(stream.subarray(0, split));
    const first = collect(parser);
    parser.push(stream.subarray(split));
    const frames = [...first.frames, ...collect(parser).frames];
    assert.deepEqual(
      frames.map((f) => [f.streamId, f.type, Buffer.from(f.payload).toString("latin1")]),
      [
        [1, 1, "hello"],
        [3, 3, ""],
        [5, 2, "\x07".repeat(300)],
      ],
      `split at ${split}`,
    );
    assert.equal(parser.partial, false);
  }
});

test("frames survive arriving one byte at a time", () => {
  const stream = Buffer.concat([
    encodeFrame(7, 1, 2, Buffer.from("abc")),
    encodeFrame(9, 3, 1, Buffer.from("de")),
  ]);
  const parser = new FrameParser();
  const frames: Frame[] = [];
  for (const byte of stream) {
    parser.push(Uint8Array.of(byte));
    frames.push(...collect(parser).frames);
  }
  assert.deepEqual(
    frames.map((f) => [f.streamId, f.type, f.flags, Buffer.from(f.payload).toString()]),
    [
      [7, 1, 2, "abc"],
      [9, 3, 1, "de"],
    ],
  );
});

test("an oversize payload is skipped without buffering and the next frame parses", () => {
  const parser = new FrameParser();
  const header = Buffer.alloc(10);
  header.writeUInt32BE(MAX_PAYLOAD_LENGTH + 1, 0);
  header.writeUInt32BE(11, 4);
  header[8] = MessageType.Request;
  parser.push(header);
  assert.deepEqual(collect(parser).oversize, [
    { length: MAX_PAYLOAD_LENGTH + 1, streamId: 11, type: 1, flags: 0 },
  ]);
  // The payload arrives in pieces; none of it is kept.
  for (let sent = 0; sent < MAX_PAYLOAD_LENGTH + 1; sent += 1 << 20) {
    parser.push(Buffer.alloc(Math.min(1 << 20, MAX_PAYLOAD_LENGTH + 1 - sent)));
    assert.equal(collect(parser).frames.length, 0);
  }
  parser.push(encodeFrame(13, MessageType.Request, 0, Buffer.from("next")));
  const { frames } = collect(parser);
  assert.equal(frames.length, 1);
  assert.equal(frames[0]!.streamId, 13);
});

test("encoding refuses a payload of 4 MiB + 1 with RESOURCE_EXHAUSTED", () => {
  assert.throws(
    () => encodeFrame(1, MessageType.Request, 0, new Uint8Array(MAX_PAYLOAD_LENGTH + 1)),
    (err) =>
      isTtrpcError(err) &&
      err.code === Code.ResourceExhausted &&
      /exceed maximum message size/.test(err.message),
  );
});

function channelPair(): {
  a: Channel;
  b: Channel;
  received: Frame[];
  oversize: FrameHeader[];
  closed: Promise<void>;
} {
  const [left, right] = duplexPair();
  const received: Frame[] = [];
  const oversize: FrameHeader[] = [];
  let onClosed!: () => void;
  const closed = new Promise<void>((resolve) => (onClosed = resolve));
  const a = new Channel(left, { frame: () => {}, oversize: () => {}, close: () => {} });
  const b = new Channel(right, {
    frame: (f) => received.push(f),
    oversize: (h) => oversize.push(h),
    close: () => onClosed(),
  });
  return { a, b, received, oversize, closed };
}

async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((resolve) => setImmediate(resolve));
}

test("channel round trip over an in-memory duplex", async () => {
  const { a, received } = channelPair();
  a.send(1, MessageType.Request, 0, Buffer.from("one"));
  a.send(3, MessageType.Data, Flag.RemoteClosed | Flag.NoData);
  a.send(5, MessageType.Response, 0, Buffer.alloc(100_000, 1)); // above the copy threshold
  await until(() => received.length === 3);
  assert.deepEqual(
    received.map((f) => [f.streamId, f.type, f.flags, f.payload.length]),
    [
      [1, 1, 0, 3],
      [3, 3, 5, 0],
      [5, 2, 0, 100_000],
    ],
  );
  await a.destroy();
});

test("exactly 4 MiB goes through; 4 MiB + 1 is refused by the sender", async () => {
  const { a, received } = channelPair();
  a.send(1, MessageType.Request, 0, new Uint8Array(MAX_PAYLOAD_LENGTH).fill(0xab));
  await until(() => received.length === 1);
  assert.equal(received[0]!.payload.length, MAX_PAYLOAD_LENGTH);
  assert.equal(received[0]!.payload[MAX_PAYLOAD_LENGTH - 1], 0xab);
  assert.throws(
    () => a.send(3, MessageType.Request, 0, new Uint8Array(MAX_PAYLOAD_LENGTH + 1)),
    (err) => isTtrpcError(err) && err.code === Code.ResourceExhausted,
  );
  await a.destroy();
});

test("a held channel stops delivering frames until released", async () => {
  const { a, b, received } = channelPair();
  const holder = {};
  b.hold(holder);
  a.send(1, MessageType.Request, 0);
  a.send(3, MessageType.Request, 0);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(received.length, 0);
  b.release(holder);
  await until(() => received.length === 2);
  await a.destroy();
});

test("peer EOF closes the channel and sending then fails with the closed error", async () => {
  const { a, b, closed } = channelPair();
  await a.end();
  await closed;
  assert.equal(b.closed, true);
  assert.throws(
    () => b.send(1, MessageType.Request, 0),
    (err) => isTtrpcError(err) && err.code === Code.Unavailable,
  );
});
