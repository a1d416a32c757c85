// sbx through sandboxd's CLI server (sbx-client, packages/cli/native/client.c):
// what is served and what goes back to the Node CLI, the caller's working
// directory, stdin, stdout, stderr, exit status and signals, a client that
// vanishes mid-call, and a peer that is not sbx-client. Root.
import { test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { waitUntil } from "@sandboxd/testing";
import { assertEmpty, setupSbx } from "./harness.js";
import type { Running, Sbx } from "./harness.js";

/** sbx through the server only (SANDBOXD_CLI=served: a fallback to the Node CLI fails), or `local`. */
function runner(sbx: Sbx) {
  return (
    args: string[],
    options: {
      input?: string;
      cwd?: string;
      mode?: "served" | "local" | "";
      env?: Record<string, string>;
    } = {},
  ): Running =>
    sbx.start(args, options.input, 60_000, {
      env: { ...options.env, SANDBOXD_CLI: options.mode ?? "served" },
      ...(options.cwd ? { cwd: options.cwd } : {}),
    });
}

test("served: the same output and status as the Node CLI, and usage errors too", async (t) => {
  const sbx = await setupSbx(t, "served-it");
  const runSbx = runner(sbx);
  // A relative --address names the same sandboxd from the caller's directory.
  const relative = await runSbx(["--address", basename(sbx.daemon.address), "sandbox", "ls"], {
    cwd: dirname(sbx.daemon.address),
  }).done;
  assert.equal(relative.status, 0, relative.stderr);
  for (const args of [["version"], ["sandbox", "ls"], ["nonsense"], ["sandbox", "ls", "--bogus"]]) {
    const served = await runSbx(args).done;
    const local = await runSbx(args, { mode: "local" }).done;
    assert.deepEqual(
      { status: served.status, stdout: served.stdout, stderr: served.stderr },
      { status: local.status, stdout: local.stdout, stderr: local.stderr },
      `sbx ${args.join(" ")}`,
    );
  }
});

test("served run: stdin, stdout, stderr, exit status, and --env-file relative to the caller", async (t) => {
  const sbx = await setupSbx(t, "served-it");
  const runSbx = runner(sbx);
  const { client } = sbx;
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
    { cwd, input: "typed\n" },
  ).done;
  assert.equal(r.status, 7, r.stderr);
  assert.equal(r.stdout, "typed from-the-file\n");
  assert.equal(r.stderr, "err\n");
  await assertEmpty(client);
});

test("served run: signals reach the container; a vanished client hangs the call up", async (t) => {
  const sbx = await setupSbx(t, "served-it");
  const runSbx = runner(sbx);
  const { client } = sbx;
  const trapper = runSbx([
    "run",
    "--rm",
    "--net",
    "none",
    "trapper",
    "sh",
    "-c",
    "trap 'echo got TERM; exit 143' TERM; echo ready; sleep 1000 & wait",
  ]);
  await waitUntil(() => trapper.stdout() === "ready\n", { timeoutMs: 60_000, what: "ready" });
  trapper.child.kill("SIGTERM");
  const r = await trapper.done;
  assert.equal(r.status, 143, r.stderr);
  assert.equal(r.stdout, "ready\ngot TERM\n");
  await assertEmpty(client);

  // kill -9 of sbx-client: sandboxd sees the hang-up and passes SIGHUP on, which sh as
  // PID 1 ignores; SIGINT and SIGTERM follow (the second kills it), and --rm removes
  // everything.
  const hup = runSbx([
    "run",
    "--rm",
    "--net",
    "none",
    "hup",
    "sh",
    "-c",
    "echo ready; sleep 1000 & wait",
  ]);
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
  const sbx = await setupSbx(t, "served-it");
  const runSbx = runner(sbx);
  for (const args of [
    ["run", "-t", "--rm", "x", "true"],
    ["image", "export", "-", "busybox"],
  ]) {
    const r = await runSbx(args).done;
    assert.equal(r.status, 1, `sbx ${args.join(" ")}`);
    assert.match(r.stderr, /SANDBOXD_CLI=served, but the server leaves this command/);
  }
  // Without SANDBOXD_CLI=served the Node CLI runs it, as it would with no server.
  const r = await runSbx(["--address", "/nonexistent/sandboxd.sock", "version"], { mode: "" }).done;
  assert.equal(r.status, 1);
  assert.match(r.stderr, /\/nonexistent\/sandboxd\.sock/);
});

test("no server: sbx runs in Node; a peer that is not sbx-client is dropped", async (t) => {
  const sbx = await setupSbx(t, "served-it");
  const runSbx = runner(sbx);
  const { daemon } = sbx;
  const noServer = await runSbx(["version"], {
    env: { SANDBOXD_ADDRESS: join(daemon.dir, "missing.sock") },
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
  const after = await runSbx(["version"]).done;
  assert.equal(after.status, 0, after.stderr);
});
