// `npm run demo` (demo/dist/demo.js, built) as a new user runs it (root): it
// exits 0, shows what the pod did (the fetching container got the server's
// page, the events, the pod's metrics) and leaves nothing behind; and Ctrl-C
// in the middle of it still removes everything.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { access, readdir, readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { cgroupMounts, mountsUnder, requireRoot, tempDir, waitUntil } from "@sandboxd/testing";

const demoJs = fileURLToPath(new URL("../../../demo/dist/demo.js", import.meta.url));
/** The demo's own network bridge and cgroup parent (demo/src/daemons.ts). */
const bridge = "sbxdemo0";
const cgroupParent = "sbx-demo";

interface Demo {
  done: Promise<{ status: number | null; signal: NodeJS.Signals | null }>;
  output: () => string;
  kill: (signal: NodeJS.Signals) => void;
}

/** Runs the built demo with its temporary state under `tmp`; killed if the test ends first. */
function startDemo(t: { after: (fn: () => unknown) => void }, tmp: string): Demo {
  const child = spawn(process.execPath, [demoJs], {
    env: { ...process.env, TMPDIR: tmp },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr.on("data", (d: Buffer) => (output += d.toString()));
  const done = once(child, "exit").then(([status, signal]) => ({
    status: status as number | null,
    signal: signal as NodeJS.Signals | null,
  }));
  // A demo that hangs fails the test after 90 s instead of holding the suite.
  const timer = setTimeout(() => child.kill("SIGKILL"), 90_000);
  t.after(async () => {
    clearTimeout(timer);
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await done;
  });
  return { done, output: () => output, kill: (signal) => child.kill(signal) };
}

/** Everything the demo could leave on the host, as readable lines (none when clean). */
async function leftovers(tmp: string): Promise<string[]> {
  const found: string[] = [];
  // Node's compile cache (module.enableCompileCache) is kept on purpose, in the temp dir.
  // The demo's FIFOs are in its own directory too (not /run/sandboxd/fifo).
  for (const entry of await readdir(tmp))
    if (entry !== "node-compile-cache") found.push(`file: ${tmp}/${entry}`);
  for (const m of await mountsUnder(tmp)) found.push(`mount: ${m}`);
  for (const pid of await readdir("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
    if (cmdline.includes(tmp)) found.push(`process: ${pid} ${cmdline.replaceAll("\0", " ")}`);
  }
  const exists = (path: string): Promise<boolean> =>
    access(path).then(
      () => true,
      () => false,
    );
  for (const h of await cgroupMounts())
    if (await exists(`${h}/${cgroupParent}`)) found.push(`cgroup: ${h}/${cgroupParent}`);
  if (await exists(`/sys/class/net/${bridge}`)) found.push(`bridge: ${bridge}`);
  return found;
}

async function assertNothingLeft(tmp: string): Promise<void> {
  let last: string[] = [];
  await waitUntil(async () => (last = await leftovers(tmp)).length === 0, {
    what: "the demo's leftovers to go",
    timeoutMs: 10_000,
  }).catch(() => assert.fail(`the demo left:\n  ${last.join("\n  ")}`));
}

test("npm run demo: exits 0, shows the pod's output, events and metrics, leaves nothing", async (t) => {
  requireRoot();
  await access(demoJs).catch(() => assert.fail(`${demoJs} is missing: run npx tsc -b`));
  const tmp = await tempDir(t, "sbx-demo-it-");
  const demo = startDemo(t, tmp);
  const { status, signal } = await demo.done;
  const out = demo.output();
  assert.equal(status, 0, `demo exited with ${status ?? signal}:\n${out}`);
  // The fetching container saw the serving one over the pod's localhost.
  assert.match(out, /client stdout: hello from the web container\n/);
  assert.match(out, /client exit status: 0\n/);
  // The web container stopped on SIGTERM (its PID 1 handles it).
  assert.match(out, /web exit status: 0\n/);
  // The pod's metrics.
  assert.match(
    out,
    /== pod metrics[^\n]*\ncpu usage: +[\d.]+ ms\nmemory usage: +[\d.]+ MiB\npids: +\d+\n/,
  );
  // The events, in the order they happened.
  const events = [...out.matchAll(/^\S+Z +(\/\S+)/gm)].map((m) => m[1]);
  for (const topic of [
    "/sandboxes/create",
    "/sandboxes/start",
    "/containers/create",
    "/tasks/create",
    "/tasks/start",
    "/tasks/exit",
    "/tasks/delete",
    "/containers/delete",
    "/sandboxes/exit",
  ])
    assert.ok(events.includes(topic), `event ${topic} shown; got ${events.join(" ")}`);
  assert.ok(events.indexOf("/sandboxes/start") < events.indexOf("/tasks/start"));
  assert.match(out, /== done: daemons stopped, \S+ removed\n/);
  await assertNothingLeft(tmp);
});

test("Ctrl-C in the middle of the demo still removes everything", async (t) => {
  requireRoot();
  const tmp = await tempDir(t, "sbx-demo-it-");
  const demo = startDemo(t, tmp);
  await waitUntil(
    () => /^web: +pid \d+/m.test(demo.output()) || demo.output().includes("== done"),
    {
      what: "the demo to start its web container",
      timeoutMs: 60_000,
    },
  );
  demo.kill("SIGINT");
  const { status, signal } = await demo.done;
  const out = demo.output();
  if (status === 0 && !out.includes("demo: SIGINT")) {
    // The demo finished before the signal came: still nothing may be left.
    t.diagnostic("the demo ended before SIGINT arrived");
  } else {
    assert.equal(status, 130, `demo exited with ${status ?? signal}:\n${out}`);
    assert.match(out, /demo: SIGINT, cleaning up/);
    assert.match(out, /== done: daemons stopped/);
  }
  await assertNothingLeft(tmp);
});
