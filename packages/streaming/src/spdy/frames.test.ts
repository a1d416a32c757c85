import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { headerDictionary } from "./dictionary.js";
import {
  FrameReader,
  RstStatus,
  encodeData,
  encodeGoAway,
  encodePing,
  encodeRstStream,
  encodeSettings,
  encodeSynReply,
  encodeSynStream,
  encodeWindowUpdate,
  flagFin,
} from "./frames.js";
import { HeaderCodec, decodeHeaderBlock, encodeHeaderBlock } from "./headers.js";

test("the SPDY/3 dictionary is byte for byte the one Go's spdy framer uses", () => {
  assert.equal(headerDictionary.length, 1423);
  assert.equal(
    createHash("sha256").update(headerDictionary).digest("hex"),
    "51d27341373f923f3cd88e1eb7162aeaa3723d7585ff2399201dc06498407f02",
  );
});

test("header blocks compressed by another zlib with the dictionary decode in order", async () => {
  // Two consecutive blocks of one stream, produced by Python's zlib (compressobj with zdict,
  // Z_SYNC_FLUSH per block); the header's DICTID e3c6a7c2 is the dictionary's Adler-32.
  const codec = new HeaderCodec();
  const first = Buffer.from(
    "78f9e3c6a7c202253a703a2b294a4dcc851625aca9a0808614cb45e01c6061606100a4398b20d198094ade8c0600000000ffff",
    "hex",
  );
  const second = Buffer.from("c2aa19540e2512d60b000000ffff", "hex");
  assert.deepEqual(await codec.decompress(first), {
    streamtype: "error",
    port: "8080",
    requestid: "0",
  });
  assert.deepEqual(await codec.decompress(second), {
    streamtype: "data",
    port: "8080",
    requestid: "0",
  });
  codec.close();
});

test("one codec's compressed blocks decode with another's, block after block", async () => {
  const a = new HeaderCodec();
  const b = new HeaderCodec();
  for (let i = 0; i < 5; i++) {
    const headers = { streamtype: i % 2 ? "stdout" : "stdin", "x-n": String(i), multi: "a\0b" };
    const block = await a.compress(headers);
    assert.deepEqual(await b.decompress(block), headers);
  }
  a.close();
  b.close();
});

test("header block names are lowercased", () => {
  assert.deepEqual(decodeHeaderBlock(encodeHeaderBlock({ StreamType: "error" })), {
    streamtype: "error",
  });
});

test("frames round-trip through the reader, also split at any byte", () => {
  const hb = Buffer.from([1, 2, 3]);
  const wire = Buffer.concat([
    encodeSynStream(1, 0, 3, flagFin, hb),
    encodeSynReply(2, 0, hb),
    encodeData(1, flagFin, Buffer.from("hello")),
    encodeRstStream(3, RstStatus.Cancel),
    encodeSettings([{ id: 7, value: 65536 }]),
    encodePing(5),
    encodeGoAway(9, 0),
    encodeWindowUpdate(0, 1000),
  ]);
  for (const split of [wire.length, 1, 7, 13]) {
    const reader = new FrameReader();
    const frames = [];
    for (let at = 0; at < wire.length; at += split)
      frames.push(...reader.push(wire.subarray(at, at + split)));
    assert.deepEqual(
      frames.map((f) => f.kind),
      [
        "syn_stream",
        "syn_reply",
        "data",
        "rst_stream",
        "settings",
        "ping",
        "goaway",
        "window_update",
      ],
    );
    const syn = frames[0]!;
    assert.ok(
      syn.kind === "syn_stream" &&
        syn.streamId === 1 &&
        syn.priority === 3 &&
        syn.flags === flagFin,
    );
    assert.deepEqual(syn.headerBlock, hb);
    const data = frames[2]!;
    assert.ok(data.kind === "data" && data.data.toString() === "hello" && data.flags === flagFin);
    const wu = frames[7]!;
    assert.ok(wu.kind === "window_update" && wu.streamId === 0 && wu.delta === 1000);
  }
});

test("a control frame of another SPDY version is a protocol error", () => {
  const frame = encodePing(1);
  frame.writeUInt16BE(0x8002, 0);
  assert.throws(() => new FrameReader().push(frame), /unsupported spdy version 2/);
});
