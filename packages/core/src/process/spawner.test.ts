import { test } from "node:test";
import assert from "node:assert/strict";
import { closeSync, readFileSync, readdirSync } from "node:fs";
import { Socket } from "node:net";
import { threadId } from "node:worker_threads";
import { isCanceled, isDeadlineExceeded, isUnavailable, isUnknown } from "@sandboxd/errdefs";
import { background, withSignal } from "../context/context.js";
import { pipe } from "../sys/libc.js";
import { run, runChecked } from "./process.js";
import { spawnChild, spawnerRunning, stopSpawner } from "./spawner.js";

/** Threads of this process running the spawner's worker (named after it; comm keeps 15 bytes). */
function spawnerThreads(): number {
  return readdirSync("/proc/self/task").filter((t) => {
    try {
      return readFileSync(`/proc/self/task/${t}/comm`, "utf8").startsWith("sandboxd-spawne");
    } catch {
      return false; // a thread that ended while we looked
    }
  }).length;
}

function read(socket: Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = "";
    socket.setEncoding("utf8");
    socket.on("data", (d: string) => (text += d));
    socket.once("end", () => resolve(text));
    socket.once("error", reject);
  });
}

test("exit codes, signals and stdin: /bin/true, /bin/false, sh -c", async () => {
  assert.equal((await run(background(), "/bin/true", [])).code, 0);
  assert.equal((await run(background(), "/bin/false", [])).code, 1);
  const killed = await run(background(), "/bin/sh", ["-c", "kill -TERM $$"]);
  assert.equal(killed.code, null);
  assert.equal(killed.signal, "SIGTERM");
  const echoed = await run(background(), "/bin/sh", ["-c", "cat; echo done >&2"], {
    input: new Uint8Array([104, 105]),
  });
  assert.equal(echoed.stdout, "hi");
  assert.equal(echoed.bytes.combined.toString(), "hidone\n");
  assert.equal(threadId, 0, "the tests themselves run on the main thread");
  assert.ok(spawnerRunning(), "run() went through the spawner's worker");
  assert.equal(spawnerThreads(), 1);
});

test("env and cwd reach the child; a large output arrives whole and in order", async () => {
  const env = await runChecked(background(), "/bin/sh", ["-c", 'echo "$SPAWN_TEST" && pwd'], {
    env: { PATH: "/usr/bin:/bin", SPAWN_TEST: "value" },
    cwd: "/tmp",
  });
  assert.equal(env, "value\n/tmp\n");
  // 8 MiB on stdout with a marker on stderr half way: every byte, in order.
  const big = await run(background(), "/bin/sh", [
    "-c",
    "head -c 4194304 /dev/zero; echo mid >&2; head -c 4194304 /dev/zero",
  ]);
  assert.equal(big.bytes.stdout.length, 8 << 20);
  assert.ok(big.bytes.stdout.every((b) => b === 0));
  assert.equal(big.stderr, "mid\n");
  // Interleaved as it arrived: no later than the end of the first half, less what a
  // pipe buffer may still have held when it was written.
  const at = big.bytes.combined.indexOf("mid\n");
  assert.ok(at >= 3 << 20 && at <= 4 << 20, `stderr arrived after the first half (at ${at})`);
});

test("a missing binary, a timeout and an abort are typed and name the command", async () => {
  await assert.rejects(run(background(), "/nonexistent/spawn-test", ["a"]), (e) => {
    assert.ok(isUnknown(e));
    assert.match(String(e), /\/nonexistent\/spawn-test: cannot start: .*ENOENT/);
    return true;
  });
  await assert.rejects(run(background(), "/bin/sleep", ["60"], { timeoutMs: 50 }), (e) => {
    assert.ok(isDeadlineExceeded(e));
    assert.match(String(e), /\/bin\/sleep 60: timed out after 50 ms/);
    return true;
  });
  const controller = new AbortController();
  const running = run(withSignal(background(), controller.signal), "/bin/sleep", ["61"]);
  setTimeout(() => controller.abort(), 20);
  await assert.rejects(running, (e) => isCanceled(e) && /\/bin\/sleep 61: killed/.test(String(e)));
});

test("the call ends when every pipe closes, not when the process exits", async () => {
  // The child exits at once; its background grandchild holds stdout a little longer.
  const r = await run(background(), "/bin/sh", ["-c", "(sleep 0.3; echo late) & echo early"]);
  assert.equal(r.stdout, "early\nlate\n");
});

test("many spawns at once all complete, each with its own output", async () => {
  const n = 60;
  const results = await Promise.all(
    Array.from({ length: n }, (_, i) =>
      run(background(), "/bin/sh", ["-c", `echo ${i}; exit ${i % 7}`]),
    ),
  );
  results.forEach((r, i) => {
    assert.equal(r.stdout, `${i}\n`);
    assert.equal(r.code, i % 7);
  });
});

test("descriptors pass by number; a detached child is awaited only when asked", async () => {
  const [readFd, writeFd] = await pipe();
  const reader = new Socket({ fd: readFd, readable: true, writable: false });
  const output = read(reader);
  const child = spawnChild("/bin/sh", ["-c", "echo on-fd-3 >&3"], {
    stdio: ["ignore", "ignore", "ignore", writeFd],
    detached: true,
    awaited: "spawn",
  });
  const pid = await child.spawned;
  closeSync(writeFd);
  assert.ok(pid > 0);
  assert.equal(await output, "on-fd-3\n");
  assert.deepEqual(await child.wait(), { code: 0, signal: null });
  assert.deepEqual(child.status, { code: 0, signal: null });
  // Killing after the exit was reported signals nothing (the pid may be reused).
  child.kill("SIGKILL");
});

test("kill reaches a running child; its status says how it ended", async () => {
  const child = spawnChild("/bin/sleep", ["62"], { stdio: ["ignore", "ignore", "ignore"] });
  await child.spawned;
  assert.equal(child.status, undefined);
  child.kill("SIGTERM");
  assert.deepEqual(await child.wait(), { code: null, signal: "SIGTERM" });
});

test("after stopSpawner no worker is left; what waited learns it; a new spawn starts again", async () => {
  const sleeper = spawnChild("/bin/sleep", ["63"], { stdio: ["ignore", "ignore", "ignore"] });
  const pid = await sleeper.spawned;
  const waiting = sleeper.wait();
  await stopSpawner();
  assert.equal(spawnerRunning(), false);
  assert.equal(spawnerThreads(), 0);
  await assert.rejects(waiting, (e) => isUnavailable(e));
  process.kill(pid, "SIGKILL");
  assert.equal((await run(background(), "/bin/true", [])).code, 0);
  assert.ok(spawnerRunning());
  await stopSpawner();
  assert.equal(spawnerRunning(), false);
  assert.equal(spawnerThreads(), 0);
});
