import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { test } from "node:test";
import { PullProgress, humanBytes, type ProgressEvent } from "./pull-progress.js";

const digest = `sha256:${"ab".repeat(32)}`;
const events: ProgressEvent[] = [
  { kind: "resolving", name: "127.0.0.1:5000/library/busybox:latest" },
  { kind: "resolved", name: "127.0.0.1:5000/library/busybox:latest", digest, mediaType: "x" },
  {
    kind: "blob",
    digest,
    mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
    state: "downloading",
    offset: 0,
    total: 2048,
  },
  {
    kind: "blob",
    digest,
    mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
    state: "downloading",
    offset: 1024,
    total: 2048,
  },
  {
    kind: "blob",
    digest,
    mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
    state: "retrying",
    offset: 1024,
    total: 2048,
    attempt: 1,
    error: "stalled",
  },
  {
    kind: "blob",
    digest,
    mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
    state: "done",
    offset: 2048,
    total: 2048,
  },
  { kind: "done", name: "127.0.0.1:5000/library/busybox:latest", digest, elapsedMs: 1234 },
];

function render(mode: "tty" | "plain" | "json"): string {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on("data", (c: Buffer) => chunks.push(c));
  const p = new PullProgress(out, mode);
  for (const e of events) p.event(e);
  return Buffer.concat(chunks).toString();
}

test("plain mode prints one line per state change, no escape codes", () => {
  const text = render("plain");
  assert.equal(text.includes("\x1b"), false);
  assert.deepEqual(text.trimEnd().split("\n"), [
    "127.0.0.1:5000/library/busybox:latest: resolving",
    `127.0.0.1:5000/library/busybox:latest: resolved ${digest}`,
    "layer-sha256:abababababab: downloading 0 B/2.0 KiB",
    "layer-sha256:abababababab: retrying 1.0 KiB/2.0 KiB (attempt 2: stalled)",
    "layer-sha256:abababababab: done 2.0 KiB/2.0 KiB",
    `127.0.0.1:5000/library/busybox:latest: done in 1.2 s (${digest})`,
  ]);
});

test("json mode writes every event as one JSON line; tty mode redraws in place", () => {
  const lines = render("json").trimEnd().split("\n");
  assert.equal(lines.length, events.length);
  assert.deepEqual(JSON.parse(lines[3] ?? ""), events[3]);
  const tty = render("tty");
  assert.ok(tty.includes("\x1b[2F"), "cursor moves up to redraw");
  assert.match(tty, /\|\+{20}\| 2\.0 KiB\/2\.0 KiB/);
  assert.equal(humanBytes(3 * 1024 * 1024), "3.0 MiB");
});
