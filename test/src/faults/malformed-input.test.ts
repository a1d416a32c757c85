// Malformed input against the real daemons: 10,000 fuzzed cases (raw gRPC
// frames with random and mutated protobuf payloads at every sandboxd service
// method, over node:http2; ttrpc frames at sandboxd's events socket and at the
// sandboxer's task socket), absurd sizes, bad ids and paths. Throughout, a
// well-behaved client checks between batches that both daemons still answer;
// neither may crash, hang a call, or leave anything behind.
//
// Seeded: FAULT_SEED=<n> replays a run (the seed is in every failure message).
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { Containers } from "@sandboxd/api/services/containers/v1/containers_pb";
import { Events } from "@sandboxd/api/services/events/v1/events_pb";
import { Introspection } from "@sandboxd/api/services/introspection/v1/introspection_pb";
import { Leases } from "@sandboxd/api/services/leases/v1/leases_pb";
import { Namespaces } from "@sandboxd/api/services/namespaces/v1/namespace_pb";
import { Controller, Store } from "@sandboxd/api/services/sandbox/v1/sandbox_pb";
import { Tasks } from "@sandboxd/api/services/tasks/v1/tasks_pb";
import { Events as TtrpcEvents } from "@sandboxd/api/services/ttrpc/events/v1/events_pb";
import { Version } from "@sandboxd/api/services/version/v1/version_pb";
import { Task as TaskV2 } from "@sandboxd/api/runtime/task/v2/shim_pb";
import { Task as TaskV3 } from "@sandboxd/api/runtime/task/v3/shim_pb";
import { Sandbox as SandboxTtrpc } from "@sandboxd/api/runtime/sandbox/v1/sandbox_pb";
import { Sandboxer } from "@sandboxd/api/sandboxd/sandboxer/v1/sandboxer_pb";
import { packJson, JsonTypeUrl } from "@sandboxd/api";
import { Code, codeOf, kindOf } from "@sandboxd/errdefs";
import { Channel } from "@sandboxd/grpc";
import { mountsUnder, ociSpec } from "@sandboxd/testing";
import {
  MAX_PAYLOAD_LENGTH,
  MessageType,
  connect,
  createClient,
  encodeFrame,
  encodeRequest,
  type Client as TtrpcClient,
} from "@sandboxd/ttrpc";
import { Rng, faultSeed, mutate, nastyStrings, randomMessage, replay } from "./random.js";
import { removeAll, sandboxerPods, startStack, type Stack } from "./stack.js";
import { RawGrpc, grpcFrame, methodsOf, ttrpcExchange, type Method, type Outcome } from "./wire.js";

const GRPC_CASES = 6000;
const EVENTS_TTRPC_CASES = 2000;
const SANDBOXER_TTRPC_CASES = 2000;
const BATCH = 250;
const IN_FLIGHT = 16;
const NS = "fuzz";

let stack: Stack;
const closers: (() => unknown)[] = [];
let channel: Channel;
let sandboxerConn: TtrpcClient;

before(async () => {
  stack = await startStack({ after: (fn) => closers.push(fn) }, { network: false });
  channel = new Channel(stack.sandboxd.address, { metadata: { "containerd-namespace": NS } });
  closers.push(() => channel.close());
  sandboxerConn = await connect(stack.sandboxer.taskSocket);
  closers.push(() => sandboxerConn.close());
  await channel.client(Namespaces).create({ namespace: { name: NS, labels: {} } });
});
after(async () => {
  for (const close of closers.reverse()) await close();
});

function alive(): void {
  const d = stack.sandboxd.process;
  assert.equal(d.exitCode ?? d.signalCode, null, `sandboxd died (${replay()})`);
  const s = stack.sandboxer.process;
  assert.equal(s.exitCode ?? s.signalCode, null, `sbx-sandboxer died (${replay()})`);
}

/**
 * The well-behaved client: both daemons answer, correctly. The deadline is
 * generous: this checks answers, not speed (a busy machine, and a daemon
 * still collecting the garbage of a 7 MiB request, answer late).
 */
async function healthy(when: string): Promise<void> {
  alive();
  const o = { timeoutMs: 30_000 };
  try {
    const v = await channel.client(Version).version({}, o);
    assert.match(v.version, /sandboxd/);
    const ns = await channel.client(Namespaces).list({}, o);
    assert.ok(ns.namespaces.some((n) => n.name === NS));
    await assert.rejects(
      channel.client(Containers).get({ id: "no-such-container" }, o),
      (e) => codeOf(kindOf(e)) === Code.NotFound,
    );
    const info = await createClient(sandboxerConn, Sandboxer).info({}, o);
    assert.equal(info.pid, stack.sandboxer.pid);
    const ctl = new Channel(stack.sandboxer.listen, { metadata: { "containerd-namespace": NS } });
    try {
      await assert.rejects(
        ctl.client(Controller).status({ sandboxId: "no-such-pod" }, o),
        (e) => codeOf(kindOf(e)) === Code.NotFound,
      );
    } finally {
      ctl.close();
    }
  } catch (err) {
    throw new Error(
      `a well-behaved client failed ${when} (${replay()}): ${(err as Error).message}`,
      { cause: err },
    );
  }
}

/** An outcome's kind for the tally: "status 3", "reset", "response", "closed"... */
function describe(o: unknown): string {
  const inner = (o as { outcome?: { kind: string; code?: number } }).outcome;
  if (!inner) return "?";
  return inner.code === undefined ? inner.kind : `${inner.kind} ${codeName(inner.code)}`;
}

/** Runs `cases` with `inFlight` at a time, checking health after each batch. */
async function batches<T>(
  what: string,
  count: number,
  make: (i: number) => () => Promise<T>,
  check: (outcome: T, i: number) => void,
): Promise<Map<string, number>> {
  const kinds = new Map<string, number>();
  for (let start = 0; start < count; start += BATCH) {
    const end = Math.min(count, start + BATCH);
    let next = start;
    const worker = async (): Promise<void> => {
      while (next < end) {
        const i = next++;
        const outcome = await make(i)();
        check(outcome, i);
        const k = describe(outcome);
        kinds.set(k, (kinds.get(k) ?? 0) + 1);
      }
    };
    await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
    await healthy(`after ${what} case ${end}`);
  }
  return kinds;
}

const sandboxdMethods: Method[] = methodsOf(
  Containers,
  Events,
  Introspection,
  Leases,
  Namespaces,
  Tasks,
  Version,
  Store,
  Controller,
);

interface GrpcCase {
  path: string;
  body: Uint8Array;
  headers: Record<string, string>;
  streaming: boolean;
  label: string;
}

function grpcCase(rng: Rng): GrpcCase {
  const m = rng.pick(sandboxdMethods);
  const headers: Record<string, string> = { "containerd-namespace": NS };
  let body: Uint8Array;
  let label: string;
  const kind = rng.int(100);
  if (kind < 40) {
    body = grpcFrame(randomMessage(rng, m.input));
    label = "random message";
  } else if (kind < 70) {
    body = grpcFrame(mutate(rng, randomMessage(rng, m.input)));
    label = "mutated message";
  } else if (kind < 78) {
    body = grpcFrame(rng.bytes(rng.int(200)));
    label = "random bytes";
  } else if (kind < 90) {
    const payload = randomMessage(rng, m.input);
    switch (rng.int(6)) {
      case 0:
        body = grpcFrame(payload, { compressed: true });
        label = "compressed flag without grpc-encoding";
        break;
      case 1:
        body = grpcFrame(payload, { declaredLength: payload.length + 1 + rng.int(1 << 20) });
        label = "declared length beyond the body";
        break;
      case 2:
        body = grpcFrame(payload, { declaredLength: Math.max(0, payload.length - 1 - rng.int(4)) });
        label = "declared length short of the body";
        break;
      case 3:
        body = Buffer.concat([grpcFrame(payload), grpcFrame(payload)]);
        label = "two messages for a unary call";
        break;
      case 4:
        body = new Uint8Array(0);
        label = "no message at all";
        break;
      default:
        body = grpcFrame(payload).subarray(0, 1 + rng.int(4));
        label = "truncated prefix";
    }
  } else {
    body = grpcFrame(randomMessage(rng, m.input));
    switch (rng.int(5)) {
      case 0:
        headers["containerd-namespace"] = rng.pick(nastyStrings).replace(/[\0\r\n]/g, "");
        label = "hostile namespace header";
        break;
      case 1:
        headers["grpc-timeout"] = rng.pick(["1x", "-1S", "99999999999H", "", "0n", "1m"]);
        label = "bad grpc-timeout";
        break;
      case 2:
        headers["content-type"] = rng.pick([
          "application/json",
          "text/plain",
          "application/grpc+proto",
          "",
        ]);
        label = "other content-type";
        break;
      case 3:
        headers["grpc-encoding"] = rng.pick(["gzip", "snappy", "identity", "x"]);
        body = grpcFrame(rng.bytes(rng.int(100)), { compressed: true });
        label = "encoded body";
        break;
      default:
        label = "unknown method";
        return { path: `/${m.service}/${m.name}X`, body, headers, streaming: false, label };
    }
  }
  return { path: m.path, body, headers, streaming: m.streaming, label };
}

test(`gRPC: ${GRPC_CASES} fuzzed requests at every sandboxd method (${sandboxdMethods.length} methods)`, async (t) => {
  const rng = Rng.for("grpc");
  const raw = new RawGrpc(stack.sandboxd.address);
  t.after(() => raw.close());
  const statuses = new Map<number, number>();
  const kinds = await batches(
    "gRPC",
    GRPC_CASES,
    () => {
      const c = grpcCase(rng);
      return async () => ({
        c,
        outcome: await raw.call(c.path, c.body, { headers: c.headers, streaming: c.streaming }),
      });
    },
    ({ c, outcome }, i) => {
      assert.notEqual(
        outcome.kind,
        "timeout",
        `case ${i} (${c.label} at ${c.path}) got no answer in 20 s (${replay()})`,
      );
      if (outcome.kind === "status") {
        statuses.set(outcome.code, (statuses.get(outcome.code) ?? 0) + 1);
        // INTERNAL is what gRPC (Go's and grpc-js alike) answers for bytes that do not
        // parse; for a message that parses, INTERNAL or UNKNOWN means the daemon failed
        // to classify what it was given: a bug.
        // A malformed grpc-timeout is INTERNAL in grpc-go too ("malformed grpc-timeout").
        const unparsable =
          (c.label !== "random message" &&
            /deserializ|unmarshal|parse|decompress|compress/i.test(outcome.message)) ||
          (c.label === "bad grpc-timeout" && /timeout/i.test(outcome.message));
        if (!unparsable) {
          assert.ok(
            outcome.code !== Code.Internal && outcome.code !== Code.Unknown,
            `case ${i} (${c.label} at ${c.path}): ${codeName(outcome.code)}: ${outcome.message} (${replay()})`,
          );
        }
      }
    },
  );
  t.diagnostic(
    `seed ${faultSeed}; grpc statuses ${JSON.stringify([...statuses])}; sessions lost ${raw.sessionsLost}`,
  );
  t.diagnostic(`outcomes ${JSON.stringify([...kinds].slice(0, 12))}`);
});

function ttrpcRequestFrame(
  rng: Rng,
  streamId: number,
  service: string,
  method: string,
  payload: Uint8Array,
  metadata: { key: string; value: string }[],
): Uint8Array {
  return encodeFrame(
    streamId,
    MessageType.Request,
    0,
    encodeRequest({
      service,
      method,
      payload,
      timeoutNano: rng.chance(0.2) ? BigInt(rng.int(1e9)) : 0n,
      metadata,
    }),
  );
}

interface TtrpcCase {
  bytes: Uint8Array;
  chunks: number[];
  /** A well-formed request to a served method: it must get an answer. */
  mustAnswer: boolean;
  label: string;
}

function ttrpcCase(rng: Rng, methods: Method[], nsKey: string): TtrpcCase {
  const m = rng.pick(methods);
  const metadata = rng.chance(0.8)
    ? [{ key: nsKey, value: rng.chance(0.8) ? NS : rng.pick(nastyStrings) }]
    : [];
  const streamId = rng.chance(0.9)
    ? 1 + 2 * rng.int(1000)
    : rng.pick([0, 2, 0xffffffff, 2 * rng.int(1000)]);
  const chunks = rng.chance(0.3) ? Array.from({ length: 3 }, () => 1 + rng.int(16)) : [];
  const kind = rng.int(100);
  const odd = streamId % 2 === 1;
  if (kind < 35) {
    const payload = randomMessage(rng, m.input);
    return {
      bytes: ttrpcRequestFrame(rng, streamId, m.service, m.name, payload, metadata),
      chunks,
      mustAnswer: odd && !m.streaming,
      label: `random ${m.name}`,
    };
  }
  if (kind < 60) {
    const payload = mutate(rng, randomMessage(rng, m.input));
    return {
      bytes: ttrpcRequestFrame(rng, streamId, m.service, m.name, payload, metadata),
      chunks,
      mustAnswer: odd && !m.streaming,
      label: `mutated payload ${m.name}`,
    };
  }
  if (kind < 70) {
    const req = encodeRequest({
      service: m.service,
      method: m.name,
      payload: randomMessage(rng, m.input),
      timeoutNano: 0n,
      metadata,
    });
    return {
      bytes: encodeFrame(streamId, MessageType.Request, 0, mutate(rng, req)),
      chunks,
      mustAnswer: false,
      label: "mutated Request",
    };
  }
  if (kind < 78) {
    const service = rng.chance(0.5) ? m.service : rng.pick(nastyStrings);
    const method = rng.chance(0.5) ? m.name : rng.pick(nastyStrings);
    return {
      bytes: ttrpcRequestFrame(rng, streamId, service, method, rng.bytes(rng.int(50)), metadata),
      chunks,
      mustAnswer: false,
      label: "unknown service or method",
    };
  }
  if (kind < 86) {
    const type = rng.pick([0, MessageType.Response, MessageType.Data, 4, 0xff]);
    const flags = rng.int(256);
    return {
      bytes: encodeFrame(streamId, type, flags, rng.bytes(rng.int(64))),
      chunks,
      mustAnswer: false,
      label: `frame type ${type} flags ${flags}`,
    };
  }
  if (kind < 93) {
    // A header that lies about the length: more than follows, or past the limit.
    const frame = Buffer.from(
      ttrpcRequestFrame(rng, streamId, m.service, m.name, randomMessage(rng, m.input), metadata),
    );
    frame.writeUInt32BE(
      rng.chance(0.5) ? frame.length + rng.int(1000) : MAX_PAYLOAD_LENGTH + 1 + rng.int(1000),
      0,
    );
    return { bytes: frame, chunks, mustAnswer: false, label: "lying length" };
  }
  if (kind < 97) {
    // Two requests on one stream id, then garbage.
    const f = ttrpcRequestFrame(
      rng,
      streamId,
      m.service,
      m.name,
      randomMessage(rng, m.input),
      metadata,
    );
    return {
      bytes: Buffer.concat([f, f, rng.bytes(rng.int(30))]),
      chunks,
      mustAnswer: false,
      label: "reused stream id",
    };
  }
  return { bytes: rng.bytes(1 + rng.int(100)), chunks, mustAnswer: false, label: "garbage" };
}

async function fuzzTtrpc(
  t: { diagnostic(s: string): void },
  what: string,
  socket: string,
  methods: Method[],
  nsKey: string,
  count: number,
): Promise<void> {
  const rng = Rng.for(what);
  const kinds = await batches(
    what,
    count,
    () => {
      const c = ttrpcCase(rng, methods, nsKey);
      return async () => ({
        c,
        outcome: await ttrpcExchange(socket, c.bytes, {
          waitMs: c.mustAnswer ? 20_000 : 150,
          chunks: c.chunks,
        }),
      });
    },
    ({ c, outcome }, i) => {
      assert.notEqual(
        outcome.kind,
        "error",
        `case ${i} (${c.label}): ${JSON.stringify(outcome)} (${replay()})`,
      );
      if (c.mustAnswer) {
        assert.equal(
          outcome.kind,
          "response",
          `case ${i} (${c.label}) got no response: ${JSON.stringify(outcome)} (${replay()})`,
        );
      }
    },
  );
  t.diagnostic(`seed ${faultSeed}; outcomes ${JSON.stringify([...kinds])}`);
}

test(`ttrpc: ${EVENTS_TTRPC_CASES} fuzzed frames at sandboxd's events socket`, async (t) => {
  await fuzzTtrpc(
    t,
    "sandboxd ttrpc",
    stack.sandboxd.ttrpcAddress,
    methodsOf(TtrpcEvents),
    "containerd-namespace-ttrpc",
    EVENTS_TTRPC_CASES,
  );
});

test(`ttrpc: ${SANDBOXER_TTRPC_CASES} fuzzed frames at the sandboxer's task socket`, async (t) => {
  await fuzzTtrpc(
    t,
    "sandboxer ttrpc",
    stack.sandboxer.taskSocket,
    methodsOf(TaskV2, TaskV3, SandboxTtrpc, Sandboxer),
    "containerd-namespace-ttrpc",
    SANDBOXER_TTRPC_CASES,
  );
});

/** A message whose field `no` is repeated `count` times with `value` (length-delimited). */
function repeated(no: number, count: number, value: Uint8Array | string): Uint8Array {
  const w = new BinaryWriter();
  for (let i = 0; i < count; i++) {
    if (typeof value === "string") w.tag(no, WireType.LengthDelimited).string(value);
    else w.tag(no, WireType.LengthDelimited).bytes(value);
  }
  return w.finish();
}

test("absurd sizes: a 16 MiB + 1 message, huge repeated fields, oversize ttrpc frames", async (t) => {
  // A fresh connection per call: grpc-js (1.14, on Node 24) refuses every later stream of a
  // connection that once sent a message over the limit (ENHANCE_YOUR_CALM); other
  // connections are unaffected, which healthy() checks.
  const call = async (path: string, body: Uint8Array, timeoutMs = 20_000): Promise<Outcome> => {
    const raw = new RawGrpc(stack.sandboxd.address);
    try {
      return await raw.call(path, body, { headers: { "containerd-namespace": NS }, timeoutMs });
    } finally {
      raw.close();
    }
  };
  const statusOf = (o: Outcome): string =>
    o.kind === "status" ? `status ${o.code}: ${o.message}` : JSON.stringify(o);

  // One byte over gRPC's 16 MiB limit: RESOURCE_EXHAUSTED, or the stream reset with
  // ENHANCE_YOUR_CALM, which gRPC clients (Go's and grpc-js) report as RESOURCE_EXHAUSTED.
  // (containerd 1.6 does not answer at all until the client gives up.)
  const over = await call(
    "/containerd.services.containers.v1.Containers/Create",
    grpcFrame(new Uint8Array((16 << 20) + 1)),
  );
  assert.ok(
    (over.kind === "status" && over.code === Code.ResourceExhausted) ||
      (over.kind === "reset" && over.message.includes("ENHANCE_YOUR_CALM")),
    `16 MiB + 1: ${statusOf(over)}`,
  );
  await healthy("after a 16 MiB + 1 message");

  // A length prefix of 4 GiB - 1 over a few bytes.
  const lying = await call(
    "/containerd.services.version.v1.Version/Version",
    grpcFrame(new Uint8Array(3), { declaredLength: 0xffffffff }),
  );
  assert.notEqual(lying.kind, "timeout", `lying length: ${statusOf(lying)}`);

  // Huge repeated fields, each under the limit: a million list filters, 300,000 labels,
  // 100,000 rootfs mounts, 200,000 container ids in a lease. Answered, whatever the answer,
  // within the call's time, and the daemon keeps serving.
  const label = (i: number): Uint8Array => {
    const w = new BinaryWriter();
    w.tag(1, WireType.LengthDelimited).string(`k${i}`).tag(2, WireType.LengthDelimited).string("v");
    return w.finish();
  };
  const labels = new BinaryWriter();
  for (let i = 0; i < 300_000; i++) labels.tag(2, WireType.LengthDelimited).bytes(label(i));
  const nsMsg = new BinaryWriter()
    .tag(1, WireType.LengthDelimited)
    .string("huge-labels")
    .raw(labels.finish())
    .finish();
  const mount = new BinaryWriter()
    .tag(1, WireType.LengthDelimited)
    .string("bind")
    .tag(2, WireType.LengthDelimited)
    .string("/tmp")
    .finish();
  const huge: [string, string, Uint8Array][] = [
    [
      "a million filters",
      "/containerd.services.containers.v1.Containers/List",
      repeated(1, 1_000_000, ""),
    ],
    [
      "300,000 labels",
      "/containerd.services.namespaces.v1.Namespaces/Create",
      new BinaryWriter().tag(1, WireType.LengthDelimited).bytes(nsMsg).finish(),
    ],
    [
      "100,000 rootfs mounts",
      "/containerd.services.tasks.v1.Tasks/Create",
      new BinaryWriter()
        .tag(1, WireType.LengthDelimited)
        .string("no-such-container")
        .raw(repeated(3, 100_000, mount))
        .finish(),
    ],
    [
      "a million sandbox filters",
      "/containerd.services.sandbox.v1.Store/List",
      repeated(1, 1_000_000, "id==x"),
    ],
  ];
  for (const [what, path, message] of huge) {
    const outcome = await call(path, grpcFrame(message), 60_000);
    t.diagnostic(
      `${what} (${(message.length / 2 ** 20).toFixed(1)} MiB): ${statusOf(outcome).slice(0, 160)}`,
    );
    assert.notEqual(outcome.kind, "timeout", `${what}: no answer in 60 s`);
    if (outcome.kind === "status")
      assert.notEqual(outcome.code, Code.Internal, `${what}: ${outcome.message}`);
    await healthy(`after ${what}`);
  }
  await channel
    .client(Namespaces)
    .delete({ name: "huge-labels" })
    .catch(() => undefined);

  // ttrpc: a frame that announces MAX + 1 bytes (and sends them), at both daemons.
  for (const socket of [stack.sandboxd.ttrpcAddress, stack.sandboxer.taskSocket]) {
    const header = Buffer.alloc(10);
    header.writeUInt32BE(MAX_PAYLOAD_LENGTH + 1, 0);
    header.writeUInt32BE(1, 4);
    header[8] = MessageType.Request;
    const outcome = await ttrpcExchange(
      socket,
      Buffer.concat([header, Buffer.alloc(MAX_PAYLOAD_LENGTH + 1)]),
      { waitMs: 20_000 },
    );
    t.diagnostic(
      `ttrpc ${socket.endsWith("task.sock") ? "sandboxer" : "sandboxd"}, MAX + 1: ${JSON.stringify(outcome)}`,
    );
    assert.ok(
      outcome.kind === "response" || outcome.kind === "closed",
      `oversize ttrpc frame: ${JSON.stringify(outcome)}`,
    );
    await healthy("after an oversize ttrpc frame");
  }
});

function codeName(c: number): string {
  return Object.entries(Code).find(([, v]) => v === c)?.[0] ?? String(c);
}

const badIds = ["../x", "a".repeat(77), "x\0y", "/etc/passwd", "/", "..", "a/b", "x y", "-x"];

test("bad ids and paths: refused with InvalidArgument (or NotFound), nothing made anywhere", async (t) => {
  let lastMessage = "";
  const code = async (call: Promise<unknown>): Promise<number> => {
    try {
      await call;
      lastMessage = "";
      return Code.OK;
    } catch (err) {
      lastMessage = (err as Error).message;
      // ttrpc errors carry the wire code; gRPC ones come back as errdefs kinds.
      const wire = (err as { code?: unknown }).code;
      return typeof wire === "number" ? wire : codeOf(kindOf(err));
    }
  };
  const spec = packJson(JsonTypeUrl.Spec, ociSpec({ args: ["/bin/true"], rootfs: stack.rootfs }));
  const refused = (what: string, c: number, also: number[] = []): void => {
    assert.ok(
      c === Code.InvalidArgument || also.includes(c),
      `${what}: got ${codeName(c)} (${lastMessage}), want InvalidArgument${also.length ? ` or ${also.map(codeName).join("/")}` : ""}`,
    );
  };
  const sandboxApi = await stack.sandboxApi();
  for (const id of badIds) {
    const q = JSON.stringify(id);
    refused(
      `namespace ${q}`,
      await code(channel.client(Namespaces).create({ namespace: { name: id, labels: {} } })),
    );
    refused(
      `container ${q}`,
      await code(
        channel
          .client(Containers)
          .create({ container: { id, runtime: { name: "io.containerd.runc.v2" }, spec } }),
      ),
    );
    // Lease ids are not validated (containerd 1.6 takes "../x" too): rows, never paths.
    refused(
      `task of container ${q}`,
      await code(channel.client(Tasks).create({ containerId: id })),
      [Code.NotFound],
    );
    if (sandboxApi) {
      refused(
        `sandbox ${q}`,
        await code(
          channel.client(Store).create({
            sandbox: {
              sandboxId: id,
              runtime: { name: "io.containerd.sbx.v1" },
              sandboxer: "sbx",
            },
          }),
        ),
      );
      refused(
        `controller create ${q}`,
        await code(channel.client(Controller).create({ sandboxId: id, sandboxer: "sbx" })),
        [Code.NotFound],
      );
    }
    if (!/[\0]/.test(id)) {
      const bad = new Channel(stack.sandboxd.address, { metadata: { "containerd-namespace": id } });
      try {
        refused(`namespace header ${q}`, await code(bad.client(Containers).list({})), [
          Code.FailedPrecondition,
        ]);
      } finally {
        bad.close();
      }
    }
  }
  // The sandboxer's own APIs, as sandboxd and the shim call them.
  const ctl = new Channel(stack.sandboxer.listen, { metadata: { "containerd-namespace": NS } });
  t.after(() => ctl.close());
  const md = { metadata: { "containerd-namespace-ttrpc": NS } };
  for (const id of badIds) {
    const q = JSON.stringify(id);
    refused(
      `sandboxer Controller.Create ${q}`,
      await code(ctl.client(Controller).create({ sandboxId: id })),
    );
    refused(
      `sandboxer Task.Create ${q}`,
      await code(createClient(sandboxerConn, TaskV3).create({ id, bundle: stack.dir }, md)),
    );
  }
  refused(
    `sandboxer Task.Create with a relative bundle`,
    await code(
      createClient(sandboxerConn, TaskV3).create({ id: "relbundle", bundle: "../../x" }, md),
    ),
  );

  // A rootfs mount whose target climbs out of the bundle: refused, or kept inside it.
  const escape = join("/tmp", `sbxf-escape-${faultSeed}`);
  await channel
    .client(Containers)
    .create({ container: { id: "esc", runtime: { name: "io.containerd.runc.v2" }, spec } });
  const r = await code(
    channel.client(Tasks).create({
      containerId: "esc",
      rootfs: [
        {
          type: "bind",
          source: stack.rootfs,
          target: `../../../../../../../../..${escape}`,
          options: ["rbind", "ro"],
        },
      ],
    }),
  );
  t.diagnostic(`task with an escaping rootfs target: ${codeName(r)}`);
  assert.equal(existsSync(escape), false, `${escape} was created`);
  assert.deepEqual(await mountsUnder(escape), [], `something was mounted at ${escape}`);
  await channel
    .client(Tasks)
    .delete({ containerId: "esc" })
    .catch(() => undefined);
  await channel.client(Containers).delete({ id: "esc" });

  // Nothing named after a bad id anywhere in the daemons' directories, nothing beside them.
  const ns = await channel.client(Namespaces).list({});
  for (const id of badIds)
    assert.ok(!ns.namespaces.some((n) => n.name === id), `namespace ${JSON.stringify(id)} exists`);
  for (const dir of [stack.sandboxd.root, stack.sandboxd.state, stack.sandboxer.stateDir]) {
    assert.equal(existsSync(join(dir, "x")), false, `${dir}/x exists`);
    assert.equal(existsSync(join(dir, "..", "x")), false, `${dir}/../x exists`);
  }
  await healthy("after bad ids");
});

test("afterwards: both daemons alive, everything removable, nothing leaked", async () => {
  await healthy("at the end");
  await removeAll(stack.sandboxd.address);
  // Pods the fuzzer made on the sandboxer directly (valid random ids can succeed).
  const ctlNs = new Set((await sandboxerPods(stack.sandboxer)).map((p) => p.split("/")[0]!));
  for (const ns of ctlNs) {
    const ctl = new Channel(stack.sandboxer.listen, { metadata: { "containerd-namespace": ns } });
    for (const pod of await sandboxerPods(stack.sandboxer)) {
      const [pns, id] = pod.split("/") as [string, string];
      if (pns !== ns) continue;
      await ctl.client(Controller).shutdown({ sandboxId: id });
    }
    ctl.close();
  }
  assert.deepEqual(await sandboxerPods(stack.sandboxer), []);
  await stack.checkLeaks();
  alive();
});
