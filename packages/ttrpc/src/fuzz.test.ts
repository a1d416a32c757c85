/**
 * Codec fuzzing against a live server: thousands of random, mutated and malformed frames,
 * each connection's answers checked, while a well-behaved client on its own connection
 * keeps getting correct answers. Seeded: set TTRPC_FUZZ_SEED to replay a failure.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { StringValueSchema } from "@bufbuild/protobuf/wkt";
import type { TestContext } from "node:test";
import { Code } from "./code.js";
import type { Frame } from "./frame.js";
import { Flag, MAX_PAYLOAD_LENGTH, MessageType, encodeFrame } from "./frame.js";
import { decodeResponse, encodeRequest } from "./messages.js";
import { createClient } from "./typed-client.js";
import { EchoService, RawConnection, startClient, startServer } from "./test-helpers.js";

const seed = Number(process.env["TTRPC_FUZZ_SEED"] ?? 0x5eed7);

/** mulberry32: small, fast, good enough to pick test cases. */
function prng(s: number): () => number {
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let x = Math.imul(s ^ (s >>> 15), 1 | s);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

class Gen {
  readonly next: () => number;
  constructor(s: number) {
    this.next = prng(s);
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.int(256);
    return out;
  }
}

const SERVICE = "ttrpc.test.Echo";
const sv = (v: string): Uint8Array =>
  toBinary(StringValueSchema, create(StringValueSchema, { value: v }));
const request = (service: string, method: string, payload: Uint8Array): Uint8Array =>
  encodeRequest({ service, method, payload, timeoutNano: 0n, metadata: [] });

/** Payloads that are not a valid ttrpc.Request. */
const badRequests = [
  Uint8Array.of(0x0f), // wire type 7
  Uint8Array.of(0x0a, 0x05, 0x61), // string longer than the message
  Uint8Array.of(0x0a, 0x01, 0xff), // invalid UTF-8 in service
  Uint8Array.of(0x2a, 0x03, 0x0a, 0x09, 0x00), // metadata with a truncated key
  Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x80, 0x80), // runaway varint tag
  Uint8Array.of(0x00), // field number 0
];

interface Expected {
  readonly id: number;
  readonly code: number;
  /** For OK: the echoed value. Else a prefix of the status message. */
  readonly text: string;
}

function describe(f: Frame): Expected {
  assert.equal(f.type, MessageType.Response, `frame type ${f.type} on stream ${f.streamId}`);
  const res = decodeResponse(f.payload);
  const code = res.status?.code ?? 0;
  if (code !== Code.OK) return { id: f.streamId, code, text: res.status?.message ?? "" };
  const value = res.payload.length === 0 ? "" : Buffer.from(res.payload.subarray(2)).toString();
  return { id: f.streamId, code, text: value };
}

const key = (e: Expected): string => `${e.id}|${e.code}|${e.text}`;

/**
 * One connection of frames whose answers are predictable: the server's stream-id state
 * is modelled, and every frame's answer is known.
 */
function scriptedCase(g: Gen): {
  frames: Uint8Array[];
  expected: Expected[];
  tail?: "oversize" | "truncated";
} {
  const frames: Uint8Array[] = [];
  const expected: Expected[] = [];
  let last = 0;
  const nextOdd = (): number => last + 1 + 2 * g.int(3) + (last % 2 === 0 ? 0 : 1);
  const n = 10 + g.int(20);
  for (let i = 0; i < n; i++) {
    switch (g.int(8)) {
      case 0: {
        const id = nextOdd();
        last = id;
        const value = `v${g.int(1000)}`;
        frames.push(
          encodeFrame(
            id,
            MessageType.Request,
            g.pick([0, Flag.RemoteClosed]),
            request(SERVICE, "Echo", sv(value)),
          ),
        );
        expected.push({ id, code: Code.OK, text: value });
        break;
      }
      case 1: {
        const id = 2 * g.int(1000);
        frames.push(encodeFrame(id, g.pick([1, 2, 3, 9]), g.int(256), g.bytes(g.int(8))));
        expected.push({ id, code: Code.InvalidArgument, text: "StreamID must be odd" });
        break;
      }
      case 2: {
        if (last === 0) break;
        const id = last - 2 * g.int(Math.ceil(last / 2));
        frames.push(encodeFrame(id, MessageType.Request, 0, request(SERVICE, "Echo", sv("x"))));
        expected.push({ id, code: Code.InvalidArgument, text: "StreamID cannot be re-used" });
        break;
      }
      case 3: {
        const id = nextOdd();
        last = id;
        frames.push(encodeFrame(id, MessageType.Request, g.int(8), g.pick(badRequests)));
        expected.push({ id, code: Code.InvalidArgument, text: "unmarshal request error: " });
        break;
      }
      case 4: {
        const id = nextOdd();
        last = id;
        const [service, method, text] = g.pick([
          ["no.Such", "Echo", "service no.Such"],
          [SERVICE, "Nope", "method Nope"],
          ["", "", "service "],
        ] as const);
        frames.push(
          encodeFrame(
            id,
            MessageType.Request,
            g.int(8),
            request(service, method, g.bytes(g.int(16))),
          ),
        );
        expected.push({ id, code: Code.Unimplemented, text });
        break;
      }
      case 5: {
        // Data on a stream that is not open: ids ahead of `last` are never opened by Data.
        const id = last + 2 * (1 + g.int(5)) - (last % 2 === 0 ? 1 : 0);
        frames.push(encodeFrame(id, MessageType.Data, g.int(8) & ~Flag.NoData, g.bytes(g.int(16))));
        expected.push({ id, code: Code.InvalidArgument, text: "StreamID is no longer active" });
        break;
      }
      case 6: {
        const id = last + 2 * (1 + g.int(5)) - (last % 2 === 0 ? 1 : 0);
        const type = 4 + g.int(252);
        frames.push(encodeFrame(id, type, g.int(256), g.bytes(g.int(16))));
        expected.push({
          id,
          code: Code.InvalidArgument,
          text: `message type ${type} is not accepted`,
        });
        break;
      }
      case 7: {
        // A Request to a client-streaming method with a bad payload is still refused first.
        const id = nextOdd();
        last = id;
        frames.push(encodeFrame(id, MessageType.Request, Flag.RemoteOpen, g.pick(badRequests)));
        expected.push({ id, code: Code.InvalidArgument, text: "unmarshal request error: " });
        break;
      }
    }
  }
  const tail = g.pick([undefined, undefined, "oversize", "truncated"] as const);
  if (tail === "oversize") {
    // On a stream that is not open (on an open one it would end that stream instead).
    const id = last + 2 * (1 + g.int(5)) - (last % 2 === 0 ? 1 : 0);
    const header = Buffer.alloc(10);
    header.writeUInt32BE(MAX_PAYLOAD_LENGTH + 1 + g.int(0x7fffffff), 0);
    header.writeUInt32BE(id, 4);
    header[8] = g.pick([1, 2, 3]);
    frames.push(Buffer.concat([header, g.bytes(g.int(64))]));
    expected.push({ id, code: Code.ResourceExhausted, text: "message length" });
  } else if (tail === "truncated") {
    const whole = encodeFrame(
      last + 2,
      MessageType.Request,
      0,
      request(SERVICE, "Echo", sv("cut")),
    );
    frames.push(whole.subarray(0, g.int(whole.length - 1) + 1));
  }
  return tail === undefined ? { frames, expected } : { frames, expected, tail };
}

/** Random bytes and bit-flipped valid frames: only well-formedness of the answers is known. */
function randomCase(g: Gen): Uint8Array[] {
  const frames: Uint8Array[] = [];
  const n = 5 + g.int(25);
  for (let i = 0; i < n; i++) {
    const valid = encodeFrame(
      1 + 2 * i,
      g.pick([1, 3]),
      g.int(8),
      request(SERVICE, g.pick(["Echo", "Chat", "Count", "Join"]), sv("m")),
    );
    switch (g.int(4)) {
      case 0:
        frames.push(g.bytes(g.int(40)));
        break;
      case 1: {
        const flipped = Buffer.from(valid);
        for (let k = 0; k < 1 + g.int(4); k++) {
          const at = g.int(flipped.length);
          flipped[at] = flipped[at]! ^ (1 << g.int(8));
        }
        frames.push(flipped);
        break;
      }
      case 2: {
        // a valid header around a random payload
        frames.push(encodeFrame(1 + 2 * i, g.int(5), g.int(8), g.bytes(g.int(64))));
        break;
      }
      default:
        frames.push(valid);
    }
  }
  return frames;
}

async function runScripted(t: TestContext, path: string, g: Gen): Promise<number> {
  const { frames, expected, tail } = scriptedCase(g);
  const raw = await RawConnection.open(t, path);
  for (const f of frames) raw.write(f);
  const got: Expected[] = [];
  for (let i = 0; i < expected.length; i++) {
    const f = await raw.next().catch((err: unknown) => {
      throw new Error(
        `${String(err)}; got ${JSON.stringify(got)}; expected ${JSON.stringify(expected)}`,
      );
    });
    assert.ok(
      f !== undefined,
      `connection closed after ${got.length} of ${expected.length} answers`,
    );
    got.push(describe(f));
  }
  raw.socket.end();
  assert.deepEqual(await raw.drain(), [], "no answers beyond the expected ones");
  assert.ok(raw.ended);
  // Answers of synchronous refusals and of handlers may interleave: compare as multisets,
  // status messages by prefix.
  const norm = (e: Expected): Expected => {
    const want = expected.find(
      (x) => x.id === e.id && x.code === e.code && e.text.startsWith(x.text),
    );
    return want ?? e;
  };
  assert.deepEqual(got.map(norm).map(key).sort(), expected.map(key).sort(), `tail ${tail}`);
  return frames.length;
}

async function runRandom(t: TestContext, path: string, g: Gen): Promise<number> {
  const frames = randomCase(g);
  const raw = await RawConnection.open(t, path);
  for (const f of frames) raw.write(f);
  raw.socket.end();
  for (const f of await raw.drain()) {
    if (f.type === MessageType.Data) continue; // a frame that happened to open a stream
    assert.equal(f.type, MessageType.Response);
    const code = decodeResponse(f.payload).status?.code ?? 0;
    assert.ok(code >= 0 && code <= 16, `status code ${code}`);
  }
  assert.ok(raw.ended, "the server closed the connection after EOF");
  return frames.length;
}

test(`fuzz: 10,000+ malformed frames, each answered on its own connection (seed ${seed})`, async (t) => {
  const { server, path } = await startServer(t, (s) =>
    s.register(EchoService, {
      echo: (r) => r,
      *count(r) {
        yield r;
      },
      async join(rs) {
        for await (const _ of rs) {
          // drain
        }
        return {};
      },
      async *chat(rs) {
        for await (const r of rs) yield r;
      },
    }),
  );

  // A well-behaved client that keeps calling throughout.
  const healthy = createClient(await startClient(t, path), EchoService);
  let stop = false;
  let healthyCalls = 0;
  const background = (async () => {
    while (!stop) {
      const value = `ok-${healthyCalls}`;
      assert.equal((await healthy.echo({ value })).value, value);
      const streamed = [];
      for await (const m of healthy.chat(
        (function* () {
          yield { value };
          yield { value: "" };
        })(),
      ))
        streamed.push(m.value);
      assert.deepEqual(streamed, [value, ""]);
      healthyCalls++;
    }
  })();

  const g = new Gen(seed);
  let sent = 0;
  let connections = 0;
  const PARALLEL = 8;
  while (sent < 12_000) {
    const batch = Array.from({ length: PARALLEL }, (_, i) =>
      i % 2 === 0
        ? runScripted(t, path, new Gen(g.int(2 ** 31)))
        : runRandom(t, path, new Gen(g.int(2 ** 31))),
    );
    for (const n of await Promise.all(batch)) sent += n;
    connections += PARALLEL;
  }
  stop = true;
  await background;

  assert.ok(sent >= 10_000, `${sent} frames`);
  assert.ok(healthyCalls > 10, `healthy client made ${healthyCalls} round trips`);
  t.diagnostic(
    `${sent} frames over ${connections} connections; ${healthyCalls} healthy round trips`,
  );
  // Only the healthy client's connection is left.
  const until = Date.now() + 5000;
  while (server.connectionCount !== 1 && Date.now() < until)
    await new Promise((r) => setTimeout(r, 5));
  assert.equal(server.connectionCount, 1);
});
