import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { closeSync, openSync, readdirSync, readFileSync } from "node:fs";
import { mkdtemp, realpath, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isCanceled, isDeadlineExceeded, isUnknown } from "@sandboxd/errdefs";
import { background, withSignal, withTimeout } from "../context/context.js";
import { spawnChild } from "./child.js";
import { run } from "./process.js";

const ctx = background();

/** Children of this process in state Z (not reaped). */
function zombies(): number[] {
  const found: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, "utf8");
    } catch {
      continue;
    }
    // After the command's ")": state, ppid.
    const [state, ppid] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (state === "Z" && Number(ppid) === process.pid) found.push(Number(name));
  }
  return found;
}

test("posix_spawn is what run() uses here (koffi loads)", async () => {
  const child = await spawnChild("true", []);
  assert.ok(child, "spawnChild fell back: koffi or libc did not load");
  child.stdout?.destroy();
  child.stderr?.destroy();
  child.stdin?.destroy();
  assert.deepEqual(await child.exited, { code: 0, signal: null });
});

test("exit codes and signals are decoded as Node's", async () => {
  for (const code of [0, 1, 3, 255]) {
    const r = await run(ctx, "sh", ["-c", `exit ${code}`]);
    assert.deepEqual([r.code, r.signal], [code, null]);
  }
  const killed = await run(ctx, "sh", ["-c", "kill -TERM $$; sleep 5"]);
  assert.deepEqual([killed.code, killed.signal], [null, "SIGTERM"]);
  const segv = await run(ctx, "sh", ["-c", "kill -SEGV $$; sleep 5"]);
  assert.equal(segv.signal, "SIGSEGV");
});

test("stdin is written and closed; MBs on both pipes arrive whole", async () => {
  const input = Buffer.alloc(3 << 20, "a");
  const r = await run(ctx, "sh", ["-c", "cat; head -c 4000000 /dev/zero >&2"], { input });
  assert.equal(r.bytes.stdout.length, input.length);
  assert.ok(r.bytes.stdout.equals(input));
  assert.equal(r.bytes.stderr.length, 4_000_000);
  assert.equal(r.bytes.combined.length, input.length + 4_000_000);
});

test("a program that does not read its input still ends normally", async () => {
  const r = await run(ctx, "true", [], { input: Buffer.alloc(1 << 20) });
  assert.equal(r.code, 0);
});

test("a missing program is Unknown naming it, on a path or through PATH", async () => {
  for (const file of ["/nonexistent/prog", "no-such-program-sandboxd"]) {
    await assert.rejects(run(ctx, file, ["x"]), (e) => {
      assert.ok(isUnknown(e));
      assert.match(String(e), new RegExp(`${file}: cannot start: spawn ${file} ENOENT`));
      return true;
    });
  }
  await assert.rejects(run(ctx, "true", [], { cwd: "/nonexistent/dir" }), (e) => isUnknown(e));
});

test("abort and timeout kill the program", async () => {
  await assert.rejects(run(ctx, "sleep", ["60"], { timeoutMs: 50 }), (e) => {
    assert.ok(isDeadlineExceeded(e));
    assert.match(String(e), /sleep 60: timed out after 50 ms/);
    return true;
  });
  const controller = new AbortController();
  const running = run(withSignal(ctx, controller.signal), "sleep", ["60"]);
  setTimeout(() => controller.abort(), 50);
  await assert.rejects(running, (e) => isCanceled(e) && /sleep 60: killed/.test(String(e)));
  const { ctx: short, done } = withTimeout(ctx, 50);
  await assert.rejects(run(short, "sleep", ["60"]), (e) => isDeadlineExceeded(e));
  done();
  assert.deepEqual(zombies(), []);
});

test("cwd and env reach the program, PATH looked up in the given env", async () => {
  const dir = await realpath(await mkdtemp(join(tmpdir(), "child-test-")));
  try {
    const r = await run(ctx, "sh", ["-c", 'pwd; echo "$FOO"; env | wc -l'], {
      cwd: dir,
      env: { PATH: "/usr/bin:/bin", FOO: "bar baz" },
    });
    assert.deepEqual(r.stdout.split("\n").slice(0, 2), [dir, "bar baz"]);
    // sh adds PWD (and maybe SHLVL, _); the daemon's own environment is not passed.
    assert.ok(Number(r.stdout.split("\n")[2]) <= 5, r.stdout);
    await assert.rejects(run(ctx, "sh", ["-c", "true"], { env: { PATH: dir } }), (e) =>
      isUnknown(e),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("detached gets its own session and process group; signals start default and unblocked", async () => {
  const own = await run(ctx, "sh", ["-c", "ps -o sid=,pgid= -p $$"], { detached: true });
  const [sid, pgid] = own.stdout.trim().split(/\s+/).map(Number);
  assert.ok(sid !== undefined && pgid !== undefined);
  assert.notEqual(sid, readSid(process.pid));
  assert.equal(sid, pgid);
  const attached = await run(ctx, "sh", ["-c", "ps -o sid= -p $$"]);
  assert.equal(Number(attached.stdout.trim()), readSid(process.pid));
  // Node ignores SIGPIPE; the child must not inherit that (nor any ignored or blocked signal).
  const st = await run(ctx, "grep", ["-E", "^Sig(Ign|Blk)", "/proc/self/status"]);
  assert.match(st.stdout, /SigBlk:\s+0+\n/);
  assert.match(st.stdout, /SigIgn:\s+0+\n/);
  // With SIGPIPE ignored, yes(1) would see EPIPE and complain on stderr instead of dying quietly.
  const pipe = await run(ctx, "sh", ["-c", "yes | head -c 1 >/dev/null"]);
  assert.deepEqual([pipe.code, pipe.stderr], [0, ""]);
});

function readSid(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[3]);
}

test("50 at once, alongside Node's own children, and no zombie left", async () => {
  const forked = new Promise<number | null>((resolve) =>
    spawn("sh", ["-c", "exit 7"]).once("exit", (code) => resolve(code)),
  );
  const results = await Promise.all(
    Array.from({ length: 50 }, (_, i) => run(ctx, "sh", ["-c", `echo ${i}; exit ${i % 4}`])),
  );
  results.forEach((r, i) => {
    assert.equal(r.stdout, `${i}\n`);
    assert.equal(r.code, i % 4);
  });
  assert.equal(await forked, 7, "libuv's child was reaped by libuv, with its code");
  assert.deepEqual(zombies(), []);
});

test("more fds than stdio: a pipe at fd 3 (conmon's sync pipe) and a parent's fd as-is", async () => {
  const dir = await mkdtemp(join(tmpdir(), "child-fds-"));
  const file = join(dir, "out");
  const fd = openSync(file, "w");
  try {
    // fd 2 is the parent's own stderr, passed as-is under its own number.
    const child = await spawnChild("sh", ["-c", "echo sync >&3; echo held >&4; echo out"], {
      stdio: ["ignore", "pipe", 2, "pipe", fd],
    });
    assert.ok(child);
    const [sync, out] = [child.stdio[3], child.stdout];
    assert.ok(sync && out);
    const read = (s: NodeJS.ReadableStream): Promise<string> =>
      new Promise((resolve) => {
        let text = "";
        s.on("data", (d: Buffer) => (text += d.toString()));
        s.once("end", () => resolve(text));
      });
    const [syncText, outText, exit] = await Promise.all([read(sync), read(out), child.exited]);
    assert.deepEqual([syncText, outText, exit.code], ["sync\n", "out\n", 0]);
    assert.equal(readFileSync(file, "utf8"), "held\n");
  } finally {
    closeSync(fd);
    await rm(dir, { recursive: true, force: true });
  }
});
