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
import { test } from "node:test";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { Containers } from "@sandboxd/api/services/containers/v1/containers_pb";
import { Namespaces } from "@sandboxd/api/services/namespaces/v1/namespace_pb";
import { Controller, Store } from "@sandboxd/api/services/sandbox/v1/sandbox_pb";
import { Tasks } from "@sandboxd/api/services/tasks/v1/tasks_pb";
import { Events as TtrpcEvents } from "@sandboxd/api/services/ttrpc/events/v1/events_pb";
import { Task as TaskV2 } from "@sandboxd/api/runtime/task/v2/shim_pb";
import { Task as TaskV3 } from "@sandboxd/api/runtime/task/v3/shim_pb";
import { Sandbox as SandboxTtrpc } from "@sandboxd/api/runtime/sandbox/v1/sandbox_pb";
import { Sandboxer } from "@sandboxd/api/sandboxd/sandboxer/v1/sandboxer_pb";
import { packJson, JsonTypeUrl } from "@sandboxd/api";
import { Code, codeOf, kindOf, messageOf } from "@sandboxd/errdefs";
import { Channel } from "@sandboxd/grpc";
import { mountsUnder, ociSpec } from "@sandboxd/testing";
import { MAX_PAYLOAD_LENGTH, MessageType, createClient } from "@sandboxd/ttrpc";
import { NS, badIds, grpcCase, repeated, sandboxdMethods } from "./malformed-cases.js";
import { FuzzTarget, codeName } from "./malformed-harness.js";
import { Rng, faultSeed, replay } from "./random.js";
import { removeAll, sandboxerPods } from "./stack.js";
import { RawGrpc, grpcFrame, methodsOf, ttrpcExchange, type Outcome } from "./wire.js";

const GRPC_CASES = 6000;
const EVENTS_TTRPC_CASES = 2000;
const SANDBOXER_TTRPC_CASES = 2000;

const target = FuzzTarget.open();

test(`gRPC: ${GRPC_CASES} fuzzed requests at every sandboxd method (${sandboxdMethods.length} methods)`, async (t) => {
  const rng = Rng.for("grpc");
  const raw = new RawGrpc(target.stack.sandboxd.address);
  t.after(() => raw.close());
  const statuses = new Map<number, number>();
  const kinds = await target.batches(
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

test(`ttrpc: ${EVENTS_TTRPC_CASES} fuzzed frames at sandboxd's events socket`, async (t) => {
  await target.fuzzTtrpc(
    t,
    "sandboxd ttrpc",
    target.stack.sandboxd.ttrpcAddress,
    methodsOf(TtrpcEvents),
    "containerd-namespace-ttrpc",
    EVENTS_TTRPC_CASES,
  );
});

test(`ttrpc: ${SANDBOXER_TTRPC_CASES} fuzzed frames at the sandboxer's task socket`, async (t) => {
  await target.fuzzTtrpc(
    t,
    "sandboxer ttrpc",
    target.stack.sandboxer.taskSocket,
    methodsOf(TaskV2, TaskV3, SandboxTtrpc, Sandboxer),
    "containerd-namespace-ttrpc",
    SANDBOXER_TTRPC_CASES,
  );
});

test("absurd sizes: a 16 MiB + 1 message, huge repeated fields, oversize ttrpc frames", async (t) => {
  // A fresh connection per call: grpc-js (1.14, on Node 24) refuses every later stream of a
  // connection that once sent a message over the limit (ENHANCE_YOUR_CALM); other
  // connections are unaffected, which healthy() checks.
  const call = async (path: string, body: Uint8Array, timeoutMs = 20_000): Promise<Outcome> => {
    const raw = new RawGrpc(target.stack.sandboxd.address);
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
  await target.healthy("after a 16 MiB + 1 message");

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
    await target.healthy(`after ${what}`);
  }
  await target.channel
    .client(Namespaces)
    .delete({ name: "huge-labels" })
    .catch(() => undefined);

  // ttrpc: a frame that announces MAX + 1 bytes (and sends them), at both daemons.
  for (const socket of [target.stack.sandboxd.ttrpcAddress, target.stack.sandboxer.taskSocket]) {
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
    await target.healthy("after an oversize ttrpc frame");
  }
});

test("bad ids and paths: refused with InvalidArgument (or NotFound), nothing made anywhere", async (t) => {
  let lastMessage = "";
  const code = async (call: Promise<unknown>): Promise<number> => {
    try {
      await call;
      lastMessage = "";
      return Code.OK;
    } catch (err) {
      lastMessage = messageOf(err);
      // ttrpc errors carry the wire code; gRPC ones come back as errdefs kinds.
      const wire = (err as { code?: unknown }).code;
      return typeof wire === "number" ? wire : codeOf(kindOf(err));
    }
  };
  const spec = packJson(
    JsonTypeUrl.Spec,
    ociSpec({ args: ["/bin/true"], rootfs: target.stack.rootfs }),
  );
  const refused = (what: string, c: number, also: number[] = []): void => {
    assert.ok(
      c === Code.InvalidArgument || also.includes(c),
      `${what}: got ${codeName(c)} (${lastMessage}), want InvalidArgument${also.length ? ` or ${also.map(codeName).join("/")}` : ""}`,
    );
  };
  const sandboxApi = await target.stack.sandboxApi();
  for (const id of badIds) {
    const q = JSON.stringify(id);
    refused(
      `namespace ${q}`,
      await code(target.channel.client(Namespaces).create({ namespace: { name: id, labels: {} } })),
    );
    refused(
      `container ${q}`,
      await code(
        target.channel
          .client(Containers)
          .create({ container: { id, runtime: { name: "io.containerd.runc.v2" }, spec } }),
      ),
    );
    // Lease ids are not validated (containerd 1.6 takes "../x" too): rows, never paths.
    refused(
      `task of container ${q}`,
      await code(target.channel.client(Tasks).create({ containerId: id })),
      [Code.NotFound],
    );
    if (sandboxApi) {
      refused(
        `sandbox ${q}`,
        await code(
          target.channel.client(Store).create({
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
        await code(target.channel.client(Controller).create({ sandboxId: id, sandboxer: "sbx" })),
        [Code.NotFound],
      );
    }
    if (!/[\0]/.test(id)) {
      const bad = new Channel(target.stack.sandboxd.address, {
        metadata: { "containerd-namespace": id },
      });
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
  const ctl = new Channel(target.stack.sandboxer.listen, {
    metadata: { "containerd-namespace": NS },
  });
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
      await code(
        createClient(target.sandboxerConn, TaskV3).create({ id, bundle: target.stack.dir }, md),
      ),
    );
  }
  refused(
    `sandboxer Task.Create with a relative bundle`,
    await code(
      createClient(target.sandboxerConn, TaskV3).create({ id: "relbundle", bundle: "../../x" }, md),
    ),
  );

  // A rootfs mount whose target climbs out of the bundle: refused, or kept inside it.
  const escape = join("/tmp", `sbxf-escape-${faultSeed}`);
  await target.channel
    .client(Containers)
    .create({ container: { id: "esc", runtime: { name: "io.containerd.runc.v2" }, spec } });
  const r = await code(
    target.channel.client(Tasks).create({
      containerId: "esc",
      rootfs: [
        {
          type: "bind",
          source: target.stack.rootfs,
          target: `../../../../../../../../..${escape}`,
          options: ["rbind", "ro"],
        },
      ],
    }),
  );
  t.diagnostic(`task with an escaping rootfs target: ${codeName(r)}`);
  assert.equal(existsSync(escape), false, `${escape} was created`);
  assert.deepEqual(await mountsUnder(escape), [], `something was mounted at ${escape}`);
  await target.channel
    .client(Tasks)
    .delete({ containerId: "esc" })
    .catch(() => undefined);
  await target.channel.client(Containers).delete({ id: "esc" });

  // Nothing named after a bad id anywhere in the daemons' directories, nothing beside them.
  const ns = await target.channel.client(Namespaces).list({});
  for (const id of badIds)
    assert.ok(!ns.namespaces.some((n) => n.name === id), `namespace ${JSON.stringify(id)} exists`);
  for (const dir of [
    target.stack.sandboxd.root,
    target.stack.sandboxd.state,
    target.stack.sandboxer.stateDir,
  ]) {
    assert.equal(existsSync(join(dir, "x")), false, `${dir}/x exists`);
    assert.equal(existsSync(join(dir, "..", "x")), false, `${dir}/../x exists`);
  }
  await target.healthy("after bad ids");
});

test("afterwards: both daemons alive, everything removable, nothing leaked", async () => {
  await target.healthy("at the end");
  await removeAll(target.stack.sandboxd.address);
  // Pods the fuzzer made on the sandboxer directly (valid random ids can succeed).
  const ctlNs = new Set((await sandboxerPods(target.stack.sandboxer)).map((p) => p.split("/")[0]!));
  for (const ns of ctlNs) {
    const ctl = new Channel(target.stack.sandboxer.listen, {
      metadata: { "containerd-namespace": ns },
    });
    for (const pod of await sandboxerPods(target.stack.sandboxer)) {
      const [pns, id] = pod.split("/") as [string, string];
      if (pns !== ns) continue;
      await ctl.client(Controller).shutdown({ sandboxId: id });
    }
    ctl.close();
  }
  assert.deepEqual(await sandboxerPods(target.stack.sandboxer), []);
  await target.stack.checkLeaks();
  target.alive();
});
