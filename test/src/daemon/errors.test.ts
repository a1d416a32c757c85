// Bad input gets the gRPC error containerd gives. Every case runs against
// sandboxd and against a real containerd 1.6 side by side, so the expected
// codes are containerd's, checked, not remembered. Failed creates leave
// nothing behind: no row, no bundle, no shim.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import http2 from "node:http2";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, kindOf, codeOf } from "@sandboxd/errdefs";
import { Channel } from "@sandboxd/grpc";
import { packJson, JsonTypeUrl } from "@sandboxd/api";
import { Containers } from "@sandboxd/api/services/containers/v1/containers_pb";
import { Events } from "@sandboxd/api/services/events/v1/events_pb";
import { Leases } from "@sandboxd/api/services/leases/v1/leases_pb";
import { Namespaces } from "@sandboxd/api/services/namespaces/v1/namespace_pb";
import { Tasks } from "@sandboxd/api/services/tasks/v1/tasks_pb";
import { openStack, startContainerd, type Containerd } from "@sandboxd/testing";
import type { Sandboxd } from "./harness.js";

interface Target {
  name: string;
  address: string;
  state: string;
}

let sandboxd: Sandboxd;
let containerd: Containerd;
let rootfs: string;
const closers: (() => Promise<void>)[] = [];

before(async () => {
  const opened = await openStack({ rootfs: true });
  sandboxd = opened.sandboxd;
  closers.push(opened.close);
  rootfs = opened.rootfs;
  const dir = await mkdtemp(join(tmpdir(), "sbxc-"));
  containerd = await startContainerd({ dir });
  closers.push(async () => {
    await containerd.stop();
    await rm(dir, { recursive: true, force: true });
  });
});
after(async () => {
  for (const close of closers.reverse()) await close();
});

function targets(): Target[] {
  return [
    { name: "sandboxd", address: sandboxd.address, state: sandboxd.state },
    { name: "containerd", address: containerd.address, state: containerd.state },
  ];
}

function clients(address: string, namespace?: string) {
  const channel = new Channel(address, {
    metadata: namespace === undefined ? {} : { "containerd-namespace": namespace },
  });
  return {
    channel,
    containers: channel.client(Containers),
    tasks: channel.client(Tasks),
    namespaces: channel.client(Namespaces),
    leases: channel.client(Leases),
    events: channel.client(Events),
  };
}

function spec(args: string[] = ["/bin/sleep", "600"]) {
  return packJson(JsonTypeUrl.Spec, {
    ociVersion: "1.0.2",
    process: { args, cwd: "/", env: ["PATH=/bin"], user: { uid: 0, gid: 0 } },
    root: { path: rootfs },
    linux: { namespaces: [{ type: "pid" }, { type: "mount" }, { type: "ipc" }, { type: "uts" }] },
    mounts: [{ destination: "/proc", type: "proc", source: "proc" }],
  });
}

/** The gRPC code a call fails with (OK when it succeeds). */
async function codeOfCall(call: Promise<unknown>): Promise<{ code: number; message: string }> {
  try {
    await call;
    return { code: Code.OK, message: "" };
  } catch (err) {
    return { code: codeOf(kindOf(err)), message: (err as Error).message };
  }
}

/** Runs `fn` against both daemons (a fresh namespace each) and returns both outcomes. */
async function both(
  fn: (c: ReturnType<typeof clients>, ns: string) => Promise<unknown>,
  namespace: string | null = `ns-${Math.random().toString(36).slice(2, 8)}`,
): Promise<Record<string, { code: number; message: string }>> {
  const out: Record<string, { code: number; message: string }> = {};
  for (const target of targets()) {
    const c = clients(target.address, namespace ?? undefined);
    try {
      out[target.name] = await codeOfCall(fn(c, namespace ?? ""));
    } finally {
      c.channel.close();
    }
  }
  return out;
}

const cases: {
  name: string;
  code: number;
  run: (c: ReturnType<typeof clients>, ns: string) => Promise<unknown>;
  namespace?: string | null;
}[] = [
  {
    name: "no namespace header",
    code: Code.FailedPrecondition,
    namespace: null,
    run: (c) => c.containers.list({}),
  },
  {
    name: "invalid namespace header",
    code: Code.InvalidArgument,
    namespace: "bad..ns",
    run: (c) => c.containers.list({}),
  },
  {
    name: "container id ../x",
    code: Code.InvalidArgument,
    run: (c) =>
      c.containers.create({
        container: { id: "../x", runtime: { name: "io.containerd.runc.v2" }, spec: spec() },
      }),
  },
  {
    name: "container id too long",
    code: Code.InvalidArgument,
    run: (c) =>
      c.containers.create({
        container: { id: "a".repeat(77), runtime: { name: "io.containerd.runc.v2" }, spec: spec() },
      }),
  },
  {
    name: "container without runtime name",
    code: Code.InvalidArgument,
    run: (c) => c.containers.create({ container: { id: "c", spec: spec() } }),
  },
  {
    name: "container without spec",
    code: Code.InvalidArgument,
    run: (c) =>
      c.containers.create({ container: { id: "c", runtime: { name: "io.containerd.runc.v2" } } }),
  },
  {
    name: "snapshot key without snapshotter",
    code: Code.InvalidArgument,
    run: (c) =>
      c.containers.create({
        container: {
          id: "c",
          runtime: { name: "io.containerd.runc.v2" },
          spec: spec(),
          snapshotKey: "k",
        },
      }),
  },
  {
    name: "label too long",
    code: Code.InvalidArgument,
    run: (c) =>
      c.containers.create({
        container: {
          id: "c",
          runtime: { name: "io.containerd.runc.v2" },
          spec: spec(),
          labels: { k: "v".repeat(5000) },
        },
      }),
  },
  {
    name: "duplicate container",
    code: Code.AlreadyExists,
    run: async (c) => {
      const container = { id: "dup", runtime: { name: "io.containerd.runc.v2" }, spec: spec() };
      await c.containers.create({ container });
      return c.containers.create({ container });
    },
  },
  {
    name: "get a missing container",
    code: Code.NotFound,
    run: (c) => c.containers.get({ id: "missing" }),
  },
  {
    name: "delete a missing container",
    code: Code.NotFound,
    run: (c) => c.containers.delete({ id: "missing" }),
  },
  {
    name: "update with an unknown field path",
    code: Code.InvalidArgument,
    run: async (c) => {
      const container = { id: "upd", runtime: { name: "io.containerd.runc.v2" }, spec: spec() };
      await c.containers.create({ container });
      return c.containers.update({ container, updateMask: { paths: ["runtime"] } });
    },
  },
  {
    name: "update changing the runtime without a mask",
    code: Code.InvalidArgument,
    run: async (c) => {
      const container = { id: "upd2", runtime: { name: "io.containerd.runc.v2" }, spec: spec() };
      await c.containers.create({ container });
      return c.containers.update({ container: { ...container, runtime: { name: "io.other.v1" } } });
    },
  },
  {
    name: "task for a missing container",
    code: Code.NotFound,
    run: (c) => c.tasks.create({ containerId: "missing" }),
  },
  {
    name: "get a task that does not exist",
    code: Code.NotFound,
    run: async (c) => {
      await c.containers.create({
        container: { id: "notask", runtime: { name: "io.containerd.runc.v2" }, spec: spec() },
      });
      return c.tasks.get({ containerId: "notask" });
    },
  },
  {
    name: "delete a task that does not exist",
    code: Code.NotFound,
    run: async (c) => {
      await c.containers.create({
        container: { id: "notask", runtime: { name: "io.containerd.runc.v2" }, spec: spec() },
      });
      return c.tasks.delete({ containerId: "notask" });
    },
  },
  {
    name: "task with an unknown runtime",
    code: Code.Unknown,
    run: async (c) => {
      await c.containers.create({
        container: { id: "rt", runtime: { name: "io.containerd.nope.v1" }, spec: spec() },
      });
      return c.tasks.create({ containerId: "rt" });
    },
  },
  {
    name: "task whose process cannot start (runc create fails in the shim)",
    code: Code.Unknown,
    run: async (c) => {
      await c.containers.create({
        container: {
          id: "noexec",
          runtime: { name: "io.containerd.runc.v2" },
          spec: spec(["/bin/does-not-exist"]),
        },
      });
      return c.tasks.create({ containerId: "noexec" });
    },
  },
  {
    name: "exec with an empty exec id",
    code: Code.InvalidArgument,
    run: async (c) => {
      await c.containers.create({
        container: { id: "ex", runtime: { name: "io.containerd.runc.v2" }, spec: spec() },
      });
      return c.tasks.exec({ containerId: "ex", execId: "" });
    },
  },
  {
    name: "duplicate lease",
    code: Code.AlreadyExists,
    run: async (c) => {
      await c.leases.create({ id: "l1" });
      return c.leases.create({ id: "l1" });
    },
  },
  {
    name: "delete a missing lease",
    code: Code.NotFound,
    run: (c) => c.leases.delete({ id: "missing" }),
  },
  {
    name: "delete a missing namespace",
    code: Code.NotFound,
    run: (c) => c.namespaces.delete({ name: "no-such-namespace" }),
  },
  {
    name: "create an invalid namespace",
    code: Code.InvalidArgument,
    run: (c) => c.namespaces.create({ namespace: { name: "a--b" } }),
  },
  {
    name: "namespace get of a missing namespace answers OK",
    code: Code.OK,
    run: (c) => c.namespaces.get({ name: "never-created" }),
  },
  {
    name: "forward an envelope without a timestamp",
    code: Code.InvalidArgument,
    run: (c, ns) => c.events.forward({ envelope: { namespace: ns, topic: "/x/y" } }),
  },
  {
    name: "forward an envelope with a bad topic",
    code: Code.InvalidArgument,
    run: (c, ns) =>
      c.events.forward({
        envelope: { namespace: ns, topic: "x", timestamp: timestampFromMs(Date.now()) },
      }),
  },
  {
    name: "publish to a bad topic",
    code: Code.InvalidArgument,
    run: (c) =>
      c.events.publish({ topic: "/a//b", event: { typeUrl: "x", value: new Uint8Array() } }),
  },
  {
    name: "list containers with a bad filter",
    code: Code.InvalidArgument,
    run: (c) => c.containers.list({ filters: ["labels.a=="] }),
  },
];

for (const tc of cases) {
  test(`bad input: ${tc.name}`, async () => {
    const got = await both(tc.run, tc.namespace);
    assert.equal(got.containerd?.code, tc.code, `containerd: ${JSON.stringify(got.containerd)}`);
    assert.equal(
      got.sandboxd?.code,
      tc.code,
      `sandboxd: ${JSON.stringify(got.sandboxd)} (containerd: ${got.containerd?.message})`,
    );
  });
}

test("failed task creates leave no task, no bundle and no shim", async () => {
  const ns = "leftovers";
  const c = clients(sandboxd.address, ns);
  try {
    await c.containers.create({
      container: { id: "rt", runtime: { name: "io.containerd.nope.v1" }, spec: spec() },
    });
    await c.containers.create({
      container: {
        id: "noexec",
        runtime: { name: "io.containerd.runc.v2" },
        spec: spec(["/bin/does-not-exist"]),
      },
    });
    for (const id of ["rt", "noexec"]) {
      await assert.rejects(c.tasks.create({ containerId: id }));
      await assert.rejects(c.tasks.get({ containerId: id }), /not found/);
    }
    assert.deepEqual((await c.tasks.list({})).tasks, []);
    const bundles = join(sandboxd.state, "io.containerd.runtime.v2.task", ns);
    assert.deepEqual(await readdir(bundles).catch(() => []), []);
    assert.equal(await shimCount(sandboxd.address), 0);
    // A good task with the same id works afterwards.
    await c.containers.delete({ id: "noexec" });
    await c.containers.create({
      container: {
        id: "noexec",
        runtime: { name: "io.containerd.runc.v2" },
        spec: spec(["/bin/true"]),
      },
    });
    await c.tasks.create({ containerId: "noexec" });
    await c.tasks.delete({ containerId: "noexec" });
  } finally {
    c.channel.close();
  }
});

test("a failed container create writes no row", async () => {
  const c = clients(sandboxd.address, "norow");
  try {
    await assert.rejects(
      c.containers.create({
        container: { id: "half", runtime: { name: "io.containerd.runc.v2" } },
      }),
    );
    await assert.rejects(c.containers.get({ id: "half" }), /not found/);
    assert.deepEqual((await c.containers.list({})).containers, []);
  } finally {
    c.channel.close();
  }
});

test("deleting a container whose task runs is refused (FailedPrecondition); the task keeps running", async () => {
  const c = clients(sandboxd.address, "busy");
  try {
    await c.containers.create({
      container: { id: "busy", runtime: { name: "io.containerd.runc.v2" }, spec: spec() },
    });
    await c.tasks.create({ containerId: "busy" });
    await c.tasks.start({ containerId: "busy" });
    const r = await codeOfCall(c.containers.delete({ id: "busy" }));
    assert.equal(r.code, Code.FailedPrecondition);
    assert.match(r.message, /cannot delete running task busy/);
    assert.ok((await c.containers.get({ id: "busy" })).container);
    await c.tasks.kill({ containerId: "busy", signal: 9 });
    await c.tasks.wait({ containerId: "busy" });
    await c.tasks.delete({ containerId: "busy" });
    await c.containers.delete({ id: "busy" });
  } finally {
    c.channel.close();
  }
});

test("a malformed request body is an error, and the daemon keeps serving", async () => {
  const session = http2.connect("http://localhost", {
    path: sandboxd.address,
  } as http2.SecureClientSessionOptions & { path: string });
  try {
    const status = await new Promise<string | undefined>((resolve, reject) => {
      const req = session.request({
        ":method": "POST",
        ":path": "/containerd.services.containers.v1.Containers/Get",
        "content-type": "application/grpc",
        te: "trailers",
        "containerd-namespace": "default",
      });
      let code: string | undefined;
      req.on("response", (headers) => (code ??= headers["grpc-status"] as string | undefined));
      req.on(
        "trailers",
        (trailers: http2.IncomingHttpHeaders) =>
          (code = trailers["grpc-status"] as string | undefined),
      );
      req.on("end", () => resolve(code));
      req.on("error", reject);
      req.resume();
      const garbage = Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]);
      const frame = Buffer.alloc(5);
      frame.writeUInt32BE(garbage.length, 1);
      req.end(Buffer.concat([frame, garbage]));
    });
    assert.notEqual(status, undefined);
    assert.notEqual(Number(status), Code.OK);
  } finally {
    session.close();
  }
  // Still serving.
  const c = clients(sandboxd.address, "default");
  try {
    await assert.rejects(c.containers.get({ id: "x" }), /not found/);
  } finally {
    c.channel.close();
  }
});

async function shimCount(address: string): Promise<number> {
  let n = 0;
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, "utf8").catch(() => "");
    if (cmdline.includes("containerd-shim") && cmdline.split("\0").includes(address)) n++;
  }
  return n;
}
