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
import { Code, kindOf, codeOf, messageOf } from "@sandboxd/errdefs";
import { openStack, startContainerd, type Containerd } from "@sandboxd/testing";
import type { Sandboxd } from "./harness.js";
import { badInputCases, clients, containerOf } from "./error-cases.js";

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

/** The gRPC code a call fails with (OK when it succeeds). */
async function codeOfCall(call: Promise<unknown>): Promise<{ code: number; message: string }> {
  try {
    await call;
    return { code: Code.OK, message: "" };
  } catch (err) {
    return { code: codeOf(kindOf(err)), message: messageOf(err) };
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

const cases = badInputCases(() => rootfs);
const container = (id: string, o?: { args?: string[]; runtime?: string }) =>
  containerOf(rootfs, id, o);

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
    await c.containers.create({ container: container("rt", { runtime: "io.containerd.nope.v1" }) });
    await c.containers.create({
      container: container("noexec", { args: ["/bin/does-not-exist"] }),
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
    await c.containers.create({ container: container("noexec", { args: ["/bin/true"] }) });
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
    await c.containers.create({ container: container("busy") });
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
