// sbx through sandboxd's CLI server (sbx-client, packages/cli/native/client.c):
// what is served and what goes back to the Node CLI, the caller's working
// directory, stdin, stdout, stderr, exit status and signals, a client that
// vanishes mid-call, and a peer that is not sbx-client. Root.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { waitUntil } from "@sandboxd/testing";
import { assertEmpty, sbxBin, setupSbx } from "./harness.js";
import type { Result } from "./harness.js";

interface RunOptions {
  env: Record<string, string>;
  input?: string;
  cwd?: string;
  mode?: "served" | "local";
}

interface Run {
  child: ChildProcessWithoutNullStreams;
  done: Promise<Result>;
  stdout: () => string;
}

function runSbx(args: string[], options: RunOptions): Run {
  const child: ChildProcessWithoutNullStreams = spawn(sbxBin, args, {
    env: { ...options.env, SANDBOXD_CLI: options.mode ?? "served" },
    cwd: options.cwd,
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  child.stdin.end(options.input);
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  const done = once(child, "exit").then(([status, signal]): Result => {
    clearTimeout(timer);
    return {
      status: status as number | null,
      signal: signal as NodeJS.Signals | null,
      stdout,
      stderr,
    };
  });
  return { child, done, stdout: () => stdout };
}

test("served: the same output and status as the Node CLI, and usage errors too", async (t) => {
  const { env } = await setupSbx(t, "served-it");
  for (const args of [["version"], ["sandbox", "ls"], ["nonsense"], ["sandbox", "ls", "--bogus"]]) {
    const served = await runSbx(args, { env }).done;
    const local = await runSbx(args, { env, mode: "local" }).done;
    assert.deepEqual(
      { status: served.status, stdout: served.stdout, stderr: served.stderr },
      { status: local.status, stdout: local.stdout, stderr: local.stderr },
      `sbx ${args.join(" ")}`,
    );
  }
});

test("served run: stdin, stdout, stderr, exit status, and --env-file relative to the caller", async (t) => {
  const { env, client } = await setupSbx(t, "served-it");
  const cwd = await mkdtemp(join(tmpdir(), "sbx-served-"));
  t.after(() => rm(cwd, { recursive: true, force: true }));
  await writeFile(join(cwd, "vars"), "GREETING=from-the-file\n");
  const r = await runSbx(
    [
      "run",
      "--rm",
      "--net",
      "none",
      "--env-file",
      "vars",
      "io",
      "sh",
      "-c",
      'read line; echo "$line $GREETING"; echo err >&2; exit 7',
    ],
    { env, cwd, input: "typed\n" },
  ).done;
  assert.equal(r.status, 7, r.stderr);
  assert.equal(r.stdout, "typed from-the-file\n");
  assert.equal(r.stderr, "err\n");
  await assertEmpty(client);
});

test("served run: signals reach the container; a vanished client hangs the call up", async (t) => {
  const { env, client } = await setupSbx(t, "served-it");
  const trapper = runSbx(
    [
      "run",
      "--rm",
      "--net",
      "none",
      "trapper",
      "sh",
      "-c",
      "trap 'echo got TERM; exit 143' TERM; echo ready; sleep 1000 & wait",
    ],
    { env },
  );
  await waitUntil(() => trapper.stdout() === "ready\n", { timeoutMs: 60_000, what: "ready" });
  trapper.child.kill("SIGTERM");
  const r = await trapper.done;
  assert.equal(r.status, 143, r.stderr);
  assert.equal(r.stdout, "ready\ngot TERM\n");
  await assertEmpty(client);

  // kill -9 of sbx-client: sandboxd sees the hang-up and passes SIGHUP on, which sh as
  // PID 1 ignores; SIGINT and SIGTERM follow (the second kills it), and --rm removes
  // everything.
  const hup = runSbx(
    ["run", "--rm", "--net", "none", "hup", "sh", "-c", "echo ready; sleep 1000 & wait"],
    { env },
  );
  await waitUntil(() => hup.stdout() === "ready\n", { timeoutMs: 60_000, what: "ready" });
  hup.child.kill("SIGKILL");
  await hup.done;
  await waitUntil(async () => (await client.sandboxes()).length === 0, {
    timeoutMs: 60_000,
    what: "the hung-up run removes its sandbox",
  });
  await assertEmpty(client);
});

test("a terminal and image archives go to the Node CLI", async (t) => {
  const { env } = await setupSbx(t, "served-it");
  for (const args of [
    ["run", "-t", "--rm", "x", "true"],
    ["image", "export", "-", "busybox"],
  ]) {
    const r = await runSbx(args, { env }).done;
    assert.equal(r.status, 1, `sbx ${args.join(" ")}`);
    assert.match(r.stderr, /SANDBOXD_CLI=served, but the server leaves this command/);
  }
  // Without SANDBOXD_CLI=served the Node CLI runs it, as it would with no server.
  const r = await runSbx(["--address", "/nonexistent/sandboxd.sock", "version"], {
    env: { ...env, SANDBOXD_CLI: "" },
  }).done;
  assert.equal(r.status, 1);
  assert.match(r.stderr, /\/nonexistent\/sandboxd\.sock/);
});

test("no server: sbx runs in Node; a peer that is not sbx-client is dropped", async (t) => {
  const { env, daemon } = await setupSbx(t, "served-it");
  const noServer = await runSbx(["version"], {
    env: { ...env, SANDBOXD_ADDRESS: join(daemon.dir, "missing.sock") },
  }).done;
  assert.equal(noServer.status, 1);
  assert.match(noServer.stderr, /SANDBOXD_CLI=served, but no CLI server at .*missing\.sock\.cli/);

  for (const garbage of [
    Buffer.from("GET / HTTP/1.1\r\n\r\n"),
    Buffer.from([0x48, 0, 0, 0, 3, 1, 2, 3]),
  ]) {
    const socket = connect(`${daemon.address}.cli`);
    await once(socket, "connect");
    socket.write(garbage);
    socket.resume();
    await once(socket, "close");
  }
  const after = await runSbx(["version"], { env }).done;
  assert.equal(after.status, 0, after.stderr);
});
