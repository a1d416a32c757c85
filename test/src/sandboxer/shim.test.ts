// containerd-shim-sbx-v1 as containerd runs it: `start` makes sure one
// sandboxer runs and prints its task address in the caller's form; `delete`
// cleans a task up (through the sandboxer, or from its state files when it
// cannot run); -v and -info. No shim process stays behind.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  BootstrapParamsSchema,
  BootstrapResultSchema,
} from "@sandboxd/api/runtime/bootstrap/v1/bootstrap_pb";
import { DeleteResponseSchema } from "@sandboxd/api/runtime/task/v2/shim_pb";
import { Sandboxer } from "@sandboxd/api/sandboxd/sandboxer/v1/sandboxer_pb";
import { Task } from "@sandboxd/api/runtime/task/v3/shim_pb";
import { RuntimeInfoSchema } from "@sandboxd/api/types/introspection_pb";
import type { SandboxerConfig } from "@sandboxd/testing";
import {
  busyboxRootfs,
  assertNoLeaks,
  cleanupSandboxerInstance,
  processAlive,
  sbxShimBin,
  snapshotLeaks,
  waitUntil,
  writeSandboxerConfig,
} from "@sandboxd/testing";
import { connect, createClient } from "@sandboxd/ttrpc";
import { requireRuntime } from "./helpers.js";
import { ociSpec, writeBundleSpec } from "@sandboxd/testing";

interface ShimResult {
  code: number;
  stdout: Buffer;
  stderr: string;
}

function shim(
  args: string[],
  o: { env: NodeJS.ProcessEnv; cwd: string; input?: Uint8Array },
): Promise<ShimResult> {
  return new Promise((resolve) => {
    const child = execFile(
      sbxShimBin,
      args,
      { env: o.env, cwd: o.cwd, encoding: "buffer", timeout: 60_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
        resolve({ code, stdout, stderr: stderr.toString() });
      },
    );
    child.stdin?.end(o.input ?? new Uint8Array());
  });
}

async function sandboxerPids(config: SandboxerConfig): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, "utf8").catch(() => "");
    if (/sbx-sandboxer\.m?js/.test(cmdline) && cmdline.includes(config.path))
      pids.push(Number(entry));
  }
  return pids;
}

async function setup(t: { after(fn: () => unknown): void }) {
  await requireRuntime();
  const dir = await mkdtemp("/tmp/sbx-shim-");
  const config = await writeSandboxerConfig({ dir: join(dir, "i"), network: false });
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    SBX_SANDBOXER_CONFIG: config.path,
    TTRPC_ADDRESS: join(dir, "no-events.sock"),
  };
  delete env.GRPC_ADDRESS;
  t.after(async () => {
    for (const pid of await sandboxerPids(config)) process.kill(pid, "SIGKILL");
    await waitUntil(async () => (await sandboxerPids(config)).length === 0, {
      what: "the sandboxer to exit",
    });
    await cleanupSandboxerInstance(config);
    await rm(dir, { recursive: true, force: true });
  });
  return { dir, config, env };
}

const startArgs = (id: string, ns = "default", extra: string[] = []) => [
  "-namespace",
  ns,
  "-address",
  "/run/containerd-test/containerd.sock",
  "-publish-binary",
  "/usr/bin/containerd",
  "-id",
  id,
  ...extra,
  "start",
];

test("-v and -info answer without a sandboxer", async (t) => {
  const { dir, env } = await setup(t);
  const v = await shim(["-v"], { env, cwd: dir });
  assert.equal(v.code, 0);
  assert.match(
    v.stdout.toString(),
    /containerd-shim-sbx-v1:\n\s+Runtime: io\.containerd\.sbx\.v1\n\s+Version: /,
  );
  const info = await shim(["-info"], { env, cwd: dir });
  assert.equal(info.code, 0, info.stderr);
  assert.equal(fromBinary(RuntimeInfoSchema, info.stdout).name, "io.containerd.sbx.v1");
  const unknown = await shim(["-id", "x", "serve"], { env, cwd: dir });
  assert.notEqual(unknown.code, 0);
  assert.match(unknown.stderr, /only knows start and delete/);
});

test("start: one sandboxer for concurrent starts, the address in each caller's form, nothing on stderr", async (t) => {
  const { dir, config, env } = await setup(t);
  const bundles = await Promise.all(
    [0, 1, 2, 3, 4].map(async (i) => {
      const b = join(dir, `b${i}`);
      await mkdir(b);
      return b;
    }),
  );
  // containerd 1.6: no GRPC_ADDRESS. Five shims at once start exactly one sandboxer.
  const results = await Promise.all(
    bundles.map((b, i) => shim(startArgs(`c${i}`), { env, cwd: b })),
  );
  const address = `unix://${config.taskSocket}`;
  for (const [i, r] of results.entries()) {
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, "");
    assert.equal(r.stdout.toString(), address);
    assert.equal(await readFile(join(bundles[i]!, "address"), "utf8"), address);
  }
  // The losers of the race find the instance lock taken and exit at once.
  const pids = await waitUntil(
    async () => {
      const now = await sandboxerPids(config);
      return now.length === 1 ? now : undefined;
    },
    { what: "exactly one sandboxer" },
  );
  // The shims themselves are gone: only the sandboxer runs.
  const conn = await connect(config.taskSocket);
  t.after(() => conn.close());
  const info = await createClient(conn, Sandboxer).info({});
  assert.equal(info.pid, pids[0]);

  // containerd 2.0-2.2: GRPC_ADDRESS set, `<publish-binary> --version` says v2.x → JSON v3.
  const fake20 = join(dir, "containerd-2.1");
  await writeFile(
    fake20,
    "#!/bin/sh\necho 'containerd github.com/containerd/containerd/v2 v2.1.4 abc'\n",
  );
  await chmod(fake20, 0o755);
  const env2 = { ...env, GRPC_ADDRESS: "/run/containerd-test/containerd.sock" };
  const args2 = startArgs("j1").map((a) => (a === "/usr/bin/containerd" ? fake20 : a));
  const json = await shim(args2, { env: env2, cwd: bundles[0]! });
  assert.equal(json.code, 0, json.stderr);
  assert.deepEqual(JSON.parse(json.stdout.toString()), { version: 3, address, protocol: "ttrpc" });
  // containerd 1.7: same environment, v1.7 binary → plain.
  const fake17 = join(dir, "containerd-1.7");
  await writeFile(
    fake17,
    "#!/bin/sh\necho 'containerd github.com/containerd/containerd v1.7.0 1fbd703'\n",
  );
  await chmod(fake17, 0o755);
  const args17 = startArgs("j2").map((a) => (a === "/usr/bin/containerd" ? fake17 : a));
  assert.equal((await shim(args17, { env: env2, cwd: bundles[1]! })).stdout.toString(), address);
  // containerd 2.3+: BootstrapParams on stdin → protobuf BootstrapResult.
  const params = toBinary(
    BootstrapParamsSchema,
    create(BootstrapParamsSchema, {
      instanceId: "p1",
      namespace: "default",
      containerdVersion: "2.3.0",
    }),
  );
  const proto = await shim(startArgs("p1"), { env: env2, cwd: bundles[2]!, input: params });
  const result = fromBinary(BootstrapResultSchema, proto.stdout);
  assert.equal(result.address, address);
  assert.equal(result.version, 3);
  assert.equal(result.protocol, "ttrpc");
  assert.equal((await sandboxerPids(config)).length, 1);
});

test("delete: through the sandboxer (idempotent), and from the state files when it cannot run", async (t) => {
  const { dir, config, env } = await setup(t);
  const rootfs = await busyboxRootfs(join(dir, "rootfs"));
  const b = join(dir, "bundle");
  await writeBundleSpec(b, ociSpec({ args: ["/bin/sleep", "1000"], rootfs }));
  const started = await shim(startArgs("c1", "shimns"), { env, cwd: b });
  assert.equal(started.code, 0, started.stderr);
  const scope = {
    paths: [config.stateDir],
    cgroupParents: [config.cgroupParent],
    bridges: [config.bridge],
  };
  const baseline = await snapshotLeaks(scope);

  const conn = await connect(config.taskSocket);
  const md = { metadata: { "containerd-namespace-ttrpc": "shimns" } };
  const tasks = createClient(conn, Task);
  await tasks.create({ id: "c1", bundle: b, stdout: "", stderr: "" }, md);
  await tasks.start({ id: "c1" }, md);
  const deleteArgs = [
    "-namespace",
    "shimns",
    "-address",
    "/x",
    "-publish-binary",
    "/x",
    "-id",
    "c1",
    "-bundle",
    b,
    "delete",
  ];
  const del = await shim(deleteArgs, { env, cwd: b });
  assert.equal(del.code, 0, del.stderr);
  assert.equal(fromBinary(DeleteResponseSchema, del.stdout).exitStatus, 137);
  await assert.rejects(tasks.state({ id: "c1" }, md), /not found/);
  // Again (containerd calls delete after every normal teardown too): same answer.
  const again = await shim(deleteArgs, { env, cwd: b });
  assert.equal(again.code, 0, again.stderr);
  assert.equal(fromBinary(DeleteResponseSchema, again.stdout).exitStatus, 137);
  await assertNoLeaks(baseline, scope);

  // Now a task whose sandboxer dies and cannot be started again.
  const b2 = join(dir, "bundle2");
  await writeBundleSpec(b2, ociSpec({ args: ["/bin/sleep", "1000"], rootfs }));
  await tasks.create({ id: "c2", bundle: b2, stdout: "", stderr: "" }, md);
  const { pid } = await tasks.start({ id: "c2" }, md);
  await conn.close();
  for (const p of await sandboxerPids(config)) process.kill(p, "SIGKILL");
  await waitUntil(async () => (await sandboxerPids(config)).length === 0, {
    what: "the sandboxer to die",
  });
  const broken = join(dir, "broken-bin");
  await mkdir(broken);
  await writeFile(join(broken, "sbx-sandboxer"), "#!/bin/sh\necho cannot start >&2\nexit 1\n");
  await chmod(join(broken, "sbx-sandboxer"), 0o755);
  const offline = await shim(
    deleteArgs.map((a) => (a === "c1" ? "c2" : a === b ? b2 : a)),
    { env: { ...env, SANDBOXD_BIN_DIR: broken }, cwd: b2 },
  );
  assert.equal(offline.code, 0, offline.stderr);
  assert.equal(fromBinary(DeleteResponseSchema, offline.stdout).exitStatus, 137);
  assert.match(offline.stderr, /cleaned up from its state files/);
  assert.equal(await processAlive(pid), false);
  await assertNoLeaks(baseline, scope);
});
