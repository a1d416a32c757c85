// A full disk under the daemons' state: one small tmpfs (4 MiB) bind-mounted
// as sandboxd's root and state and as the sandboxer's state dir (logs stay
// off it), filled to the last byte by the test while a pod runs. Then:
// - every create either succeeds completely or fails with a clear error
//   (no space named; ResourceExhausted, Unavailable, InvalidArgument or
//   FailedPrecondition, never Unknown/Internal) and leaves nothing behind
//   (no row, no bundle, no sandboxer pod, no temp file);
// - what existed is intact and keeps working while the disk is full;
// - both daemons survive; after space returns, kill -9 and restart of both
//   finds every record readable and unchanged (no corruption), and the
//   creates that failed now succeed;
// - everything removed, nothing leaked; the tmpfs is always unmounted.
//
// Seeded for the order of the creates under a full disk: FAULT_SEED=<n>.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir, open, readdir, rm, symlink } from "node:fs/promises";
import { dirname, join } from "node:path";
import { test } from "node:test";
import type { Client } from "@sandboxd/client";
import { defaultSpec, execProcess } from "@sandboxd/client";
import { Code, codeOf, kindOf, messageOf } from "@sandboxd/errdefs";
import { run, unmountAll, waitUntil } from "@sandboxd/testing";
import { Rng, faultSeed, replay } from "./random.js";
import { removeAll, sandboxerPods, startStack, type Stack } from "./stack.js";

const NS = "disk";
const SIZE = "4m";
const CALL = { timeoutMs: 30_000 };

/** Codes a client can act on for a full disk (as containerd's would be). */
const clearCodes: number[] = [
  Code.ResourceExhausted,
  Code.Unavailable,
  Code.InvalidArgument,
  Code.FailedPrecondition,
];
const noSpace = /ENOSPC|no space left|disk is full/i;

function codeName(c: number): string {
  return Object.entries(Code).find(([, v]) => v === c)?.[0] ?? String(c);
}

/** Fills the filesystem of `dir` to the last byte; returns the filler's path. */
async function fill(dir: string): Promise<string> {
  const path = join(dir, "filler");
  const file = await open(path, "w");
  try {
    for (const size of [1 << 20, 64 << 10, 4 << 10, 512, 1]) {
      const chunk = Buffer.alloc(size, 0x5a);
      for (;;) {
        try {
          await file.write(chunk);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== "ENOSPC") throw err;
          break;
        }
      }
    }
  } finally {
    await file.close().catch(() => undefined);
  }
  return path;
}

/** The atomic writers' temp files (`.<name>.<hex>.tmp`) and SQLite's journals left anywhere. */
async function strayFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (/\.tmp$|-journal$/.test(e.name)) out.push(p);
    }
  };
  await walk(dir);
  return out;
}

interface Outcome {
  what: string;
  ok: boolean;
  code?: number;
  message?: string;
}

async function attempt(what: string, fn: () => Promise<unknown>): Promise<Outcome> {
  try {
    await fn();
    return { what, ok: true };
  } catch (err) {
    return { what, ok: false, code: codeOf(kindOf(err)), message: messageOf(err) };
  }
}

function podSpec(stack: Stack, id: string): ReturnType<typeof defaultSpec> {
  return defaultSpec({
    id,
    namespace: NS,
    args: ["/bin/sleep", "100000"],
    rootfs: stack.rootfs,
    readonlyRootfs: true,
    hostname: id,
  });
}

async function runPod(client: Client, stack: Stack, id: string): Promise<void> {
  const sandbox = await client.newSandbox(id, {}, CALL);
  await sandbox.start(CALL);
  const container = await sandbox.newContainer(id, { spec: podSpec(stack, id) }, CALL);
  const task = await container.newTask({}, CALL);
  await task.start(CALL);
}

async function execTrue(client: Client, id: string, execId: string): Promise<void> {
  const container = await client.loadContainer(id, CALL);
  const task = await container.task({}, CALL);
  const proc = await task.exec(
    execId,
    execProcess(await container.spec(CALL), { args: ["/bin/true"] }),
    {},
    CALL,
  );
  try {
    const exited = proc.wait(CALL);
    await proc.start(CALL);
    assert.equal((await exited).exitStatus, 0, `exec ${execId} in ${id}`);
  } finally {
    await proc.delete(CALL).catch(() => undefined);
  }
}

/** Everything one namespace holds, as sandboxd and the sandboxer see it. */
async function inventory(client: Client, stack: Stack): Promise<string[]> {
  const out: string[] = [];
  for (const n of await client.namespaces.list()) out.push(`namespace ${n.name}`);
  for (const s of await client.sandboxes()) out.push(`sandbox ${s.id}`);
  for (const c of await client.containers()) out.push(`container ${c.id}`);
  for (const t of await client.tasks()) out.push(`task ${t.id} ${t.status}`);
  for (const p of await sandboxerPods(stack.sandboxer)) out.push(`sandboxer pod ${p}`);
  return out.sort();
}

test(`full disk: a ${SIZE} tmpfs under sandboxd's root and state and the sandboxer's state`, async (t) => {
  let disk = "";
  const ref: { sandboxer?: Stack["sandboxer"] } = {};
  const stack = await startStack(t, {
    network: false,
    async prepare({ sandboxdDir, sandboxerDir }) {
      disk = join(dirname(sandboxdDir), "disk");
      await mkdir(disk);
      const m = await run("mount", ["-t", "tmpfs", "-o", `size=${SIZE},mode=0711`, "tmpfs", disk]);
      assert.equal(m.code, 0, `mount tmpfs: ${String(m.stderr)}`);
      for (const [name, target] of [
        ["root", join(sandboxdDir, "root")],
        ["state", join(sandboxdDir, "state")],
        ["sbx", join(sandboxerDir, "sbx")],
      ] as const) {
        await mkdir(join(disk, name));
        await mkdir(target, { recursive: true });
        const b = await run("mount", ["--bind", join(disk, name), target]);
        assert.equal(b.code, 0, `bind ${target}: ${String(b.stderr)}`);
      }
      // The sandboxer's log (its stdout) stays off the small disk.
      await symlink(
        join(sandboxerDir, "sandboxer.log"),
        join(sandboxerDir, "sbx", "sandboxer.log"),
      );
    },
    async release() {
      // sandboxd has stopped; the sandboxer goes before its state is unmounted.
      await ref.sandboxer?.kill();
      await unmountAll(dirname(disk));
    },
  });
  ref.sandboxer = stack.sandboxer;
  assert.ok(await stack.sandboxApi(), "sandboxd must serve the Sandbox API");
  const rng = Rng.for("full-disk");

  let client = await stack.client(NS);
  await client.namespaces.create(NS, { "containerd.io/defaults/sandboxer": "sbx" });
  // Before the disk fills: a running pod and a container without a task.
  await runPod(client, stack, "before");
  await client.newContainer("bare", { spec: podSpec(stack, "bare"), sandbox: "before" }, CALL);
  const before = await inventory(client, stack);

  const filler = await fill(disk);
  t.diagnostic(`disk full (${disk})`);

  // Creates under a full disk, in a seeded order.
  const creates: [string, () => Promise<unknown>, () => Promise<boolean>][] = [
    [
      "namespace",
      () => client.namespaces.create("full-ns", {}),
      async () => (await client.namespaces.list()).some((n) => n.name === "full-ns"),
    ],
    [
      "container",
      () => client.newContainer("full-c", { spec: podSpec(stack, "full-c") }, CALL),
      async () => (await client.containers()).some((c) => c.id === "full-c"),
    ],
    [
      "sandbox",
      () => client.newSandbox("full-pod", {}, CALL),
      async () =>
        (await client.sandboxes()).some((s) => s.id === "full-pod") ||
        (await sandboxerPods(stack.sandboxer)).includes(`${NS}/full-pod`),
    ],
    [
      "task",
      async () => (await client.loadContainer("bare", CALL)).newTask({}, CALL),
      async () =>
        (await client.tasks()).some((x) => x.id === "bare") ||
        existsSync(join(stack.sandboxd.state, "io.containerd.runtime.v2.task", NS, "bare")),
    ],
    ["exec", () => execTrue(client, "before", "full-exec"), () => Promise.resolve(false)],
  ];
  const outcomes: Outcome[] = [];
  for (const [what, create, present] of rng.shuffle(creates)) {
    const o = await attempt(what, create);
    outcomes.push(o);
    t.diagnostic(
      `${what} on a full disk: ${o.ok ? "created" : `${codeName(o.code!)}: ${o.message}`}`,
    );
    if (o.ok) continue;
    assert.ok(
      clearCodes.includes(o.code!) && noSpace.test(o.message ?? ""),
      `${what} on a full disk: want ${clearCodes.map(codeName).join("/")} naming the full disk, got ${codeName(o.code!)}: ${o.message} (${replay()})`,
    );
    assert.equal(await present(), false, `${what} failed but is (partly) there (${replay()})`);
  }
  // A task needs a bundle written under the state dir: that create cannot succeed.
  assert.equal(
    outcomes.find((o) => o.what === "task")?.ok,
    false,
    "a task was created on a full disk",
  );

  // What existed is intact and keeps working.
  const alive = (): void => {
    for (const p of [stack.sandboxd.process, stack.sandboxer.process]) {
      assert.equal(p.exitCode ?? p.signalCode, null, `a daemon died on a full disk (${replay()})`);
    }
  };
  alive();
  const during = await inventory(client, stack);
  for (const item of before) assert.ok(during.includes(item), `${item} lost on a full disk`);
  const sandbox = await client.loadSandbox("before", CALL);
  assert.equal((await sandbox.status({}, CALL)).state, "SANDBOX_READY");

  // Space returns. Both daemons die hard and come back: every record must read back.
  await rm(filler);
  await stack.sandboxer.kill("SIGKILL");
  await stack.sandboxer.restart();
  await stack.restartSandboxd();
  client = await stack.client(NS);
  const after = await waitUntil(
    async () => {
      const now = await inventory(client, stack).catch(() => undefined);
      return now && !now.some((i) => i.includes(" unknown")) ? now : undefined;
    },
    { timeoutMs: 20_000, what: "sandboxd to see its tasks again" },
  );
  assert.deepEqual(after, during, `records changed across the restart (${replay()})`);
  assert.deepEqual(await strayFiles(disk), [], "temp files left on the disk");

  // The creates that failed now succeed, and the old pod still works.
  for (const o of outcomes.filter((x) => !x.ok)) {
    const create = creates.find(([w]) => w === o.what)![1];
    await create();
  }
  await execTrue(client, "before", "after-exec");
  await runPod(client, stack, "after");
  await execTrue(client, "after", "after-exec");
  t.diagnostic(
    `seed ${faultSeed}: ${outcomes.filter((o) => !o.ok).length}/${outcomes.length} creates refused on a full disk`,
  );

  await removeAll(stack.sandboxd.address);
  await client.namespaces.delete("full-ns").catch(() => undefined);
  assert.deepEqual(
    (await inventory(client, stack)).filter((i) => !i.startsWith("namespace")),
    [],
  );
  await stack.checkLeaks();
});
