// Debian's containerd 1.6, unmodified, runs containers through sbx-sandboxer:
// `ctr run --runtime io.containerd.sbx.v1` finds containerd-shim-sbx-v1 on its
// PATH; the shim starts the sandboxer (on this test's temp dirs, named by
// SBX_SANDBOXER_CONFIG in containerd's environment) and hands containerd its
// task address. Output, stdin, exit codes, exec, pause, events, and the
// clean-up after a kill -9 of the sandboxer, with leak checks. Root.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { Containerd, LeakSnapshot, SandboxerConfig } from "@sandboxd/testing";
import {
  busyboxRootfs,
  assertNoLeaks,
  binDir,
  cleanupSandboxerInstance,
  snapshotLeaks,
  startContainerd,
  waitUntil,
  writeSandboxerConfig,
} from "@sandboxd/testing";
import { requireRuntime } from "../sandboxer/helpers.js";

const runtime = ["--runtime", "io.containerd.sbx.v1"];
let dir: string;
let rootfs: string;
let config: SandboxerConfig;
let containerd: Containerd;
let baseline: LeakSnapshot | undefined;

async function sandboxerPids(): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, "utf8").catch(() => "");
    if (/sbx-sandboxer\.m?js/.test(cmdline) && cmdline.includes(config.path))
      pids.push(Number(entry));
  }
  return pids;
}

const scope = () => ({
  paths: [config.stateDir],
  cgroupParents: [config.cgroupParent],
  bridges: [config.bridge],
});

before(async () => {
  await requireRuntime();
  dir = await mkdtemp("/tmp/sbx-ctd-");
  rootfs = await busyboxRootfs(join(dir, "rootfs"));
  config = await writeSandboxerConfig({ dir: join(dir, "sbx") });
  // containerd passes its environment to the shims it starts, and the shim to the sandboxer.
  process.env.SBX_SANDBOXER_CONFIG = config.path;
  containerd = await startContainerd({ dir: join(dir, "containerd"), extraPath: [binDir] });
});

after(async () => {
  await containerd?.stop();
  if (config) {
    for (const pid of await sandboxerPids()) process.kill(pid, "SIGKILL");
    await waitUntil(async () => (await sandboxerPids()).length === 0, {
      what: "the sandboxer to exit",
    });
    await cleanupSandboxerInstance(config);
  }
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** The leak baseline: taken once the shim has started the sandboxer, before pods of the next test. */
async function leakBaseline(): Promise<LeakSnapshot> {
  baseline ??= await snapshotLeaks(scope());
  return baseline;
}

test("ctr run prints the output and returns the exit code; stdin reaches the container", async () => {
  const r = await containerd.ctr(
    ["run", ...runtime, "--rootfs", rootfs, "c1", "/bin/sh", "-c", "echo hello from sbx; exit 3"],
    {
      namespace: "default",
    },
  );
  assert.equal(r.stderr, "");
  assert.equal(r.stdout, "hello from sbx\n");
  assert.equal(r.code, 3);
  assert.equal(
    (await containerd.ctr(["containers", "rm", "c1"], { namespace: "default" })).code,
    0,
  );
  assert.equal((await sandboxerPids()).length, 1, "the shim started one sandboxer");
  const before = await leakBaseline();

  const cat = await containerd.ctr(
    ["run", "--rm", ...runtime, "--rootfs", rootfs, "c2", "/bin/cat"],
    {
      namespace: "default",
      input: "through stdin\n",
    },
  );
  assert.equal(cat.code, 0, cat.stderr);
  assert.equal(cat.stdout, "through stdin\n");
  await assertNoLeaks(before, scope());
});

test("detached task: ls, exec, pause/resume, kill, delete; events reach containerd", async () => {
  const before = await leakBaseline();
  const events = spawn("/usr/bin/ctr", ["--address", containerd.address, "events"], {
    stdio: ["ignore", "pipe", "ignore"],
  });
  let eventLog = "";
  events.stdout.setEncoding("utf8").on("data", (d: string) => (eventLog += d));
  try {
    const ns = { namespace: "ev" };
    const run = await containerd.ctr(
      ["run", "-d", ...runtime, "--rootfs", rootfs, "d1", "/bin/sleep", "1000"],
      ns,
    );
    assert.equal(run.code, 0, run.stderr);
    const ls = await containerd.ctr(["tasks", "ls"], ns);
    assert.match(ls.stdout, /^d1\s+\d+\s+RUNNING$/m);
    const exec = await containerd.ctr(
      ["tasks", "exec", "--exec-id", "e1", "d1", "/bin/sh", "-c", "echo from exec; hostname"],
      ns,
    );
    assert.equal(exec.code, 0, exec.stderr);
    assert.equal(exec.stdout, "from exec\nd1\n");
    assert.equal((await containerd.ctr(["tasks", "pause", "d1"], ns)).code, 0);
    assert.match((await containerd.ctr(["tasks", "ls"], ns)).stdout, /^d1\s+\d+\s+PAUSED$/m);
    assert.equal((await containerd.ctr(["tasks", "resume", "d1"], ns)).code, 0);
    assert.equal((await containerd.ctr(["tasks", "kill", "-s", "SIGKILL", "d1"], ns)).code, 0);
    await waitUntil(
      async () => /^d1\s+\d+\s+STOPPED$/m.test((await containerd.ctr(["tasks", "ls"], ns)).stdout),
      {
        what: "d1 to stop",
      },
    );
    assert.equal((await containerd.ctr(["tasks", "rm", "d1"], ns)).code, 0);
    assert.equal((await containerd.ctr(["containers", "rm", "d1"], ns)).code, 0);
    await waitUntil(() => /\/tasks\/delete/.test(eventLog) && /\/tasks\/exit/.test(eventLog), {
      what: "task events in ctr events",
    });
    for (const topic of [
      "/tasks/create",
      "/tasks/start",
      "/tasks/exec-added",
      "/tasks/exec-started",
      "/tasks/paused",
      "/tasks/resumed",
      "/tasks/exit",
      "/tasks/delete",
    ]) {
      assert.match(eventLog, new RegExp(`ev ${topic.replace(/\//g, "\\/")} `), topic);
    }
  } finally {
    events.kill();
  }
  await assertNoLeaks(before, scope());
});

test("kill -9 of the sandboxer: containerd treats the task as dead and the shim's delete cleans up fully", async () => {
  const before = await leakBaseline();
  const ns = { namespace: "crash" };
  const run = await containerd.ctr(
    ["run", "-d", ...runtime, "--rootfs", rootfs, "k1", "/bin/sleep", "1000"],
    ns,
  );
  assert.equal(run.code, 0, run.stderr);
  const pid = Number(/^k1\s+(\d+)/m.exec((await containerd.ctr(["tasks", "ls"], ns)).stdout)?.[1]);
  assert.ok(pid > 0);
  for (const p of await sandboxerPids()) process.kill(p, "SIGKILL");
  // containerd sees its connection drop, runs `containerd-shim-sbx-v1 delete`, and forgets the task.
  await waitUntil(async () => !/^k1\s/m.test((await containerd.ctr(["tasks", "ls"], ns)).stdout), {
    what: "containerd to drop the task",
    timeoutMs: 30_000,
  });
  await waitUntil(
    async () => (await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "")) === "",
    {
      what: "the container process to be gone",
    },
  );
  assert.equal((await containerd.ctr(["containers", "rm", "k1"], ns)).code, 0);
  await assertNoLeaks(before, scope());
  // And the next container runs as usual (the delete or the next start brought the sandboxer back).
  const again = await containerd.ctr(
    ["run", "--rm", ...runtime, "--rootfs", rootfs, "k2", "/bin/echo", "back"],
    ns,
  );
  assert.equal(again.stdout, "back\n");
  await assertNoLeaks(before, scope());
});

test("ctr run -t: a terminal through containerd (ctr in a pty made by script(1))", async () => {
  const before = await leakBaseline();
  const ctr = `/usr/bin/ctr --address ${containerd.address} run -t --rm ${runtime.join(" ")} --rootfs ${rootfs} t1 /bin/sh -c 'tty; echo in-a-tty; exit 4'`;
  const r = await new Promise<{ code: number; out: string }>((resolve) => {
    const child = spawn("script", ["-qec", ctr, "/dev/null"], {
      stdio: ["pipe", "pipe", "inherit"],
      env: { ...process.env, CONTAINERD_SUPPRESS_DEPRECATION_WARNINGS: "true" },
    });
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
    child.once("close", (code) => resolve({ code: code ?? 1, out }));
  });
  // script(1)'s own pty adds a second \r.
  assert.match(r.out, /\/dev\/pts\/0\r+\nin-a-tty\r+\n/);
  assert.equal(r.code, 4);
  await assertNoLeaks(before, scope());
});
