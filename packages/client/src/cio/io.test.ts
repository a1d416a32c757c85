import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { access, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { capture, nullIO, preparedIO, withStreams } from "./io.js";

// A fake shim: a shell that opens the FIFOs the way runc's process would.
function fakeShim(script: string, env: Record<string, string>): Promise<number> {
  return startShim(script, env).exited;
}

function startShim(
  script: string,
  env: Record<string, string>,
): { pid: number; exited: Promise<number> } {
  const child = spawn("/bin/sh", ["-c", script], {
    env: { ...env, PATH: "/usr/bin:/bin" },
    stdio: "ignore",
  });
  return { pid: child.pid!, exited: once(child, "exit").then(([code]) => code as number) };
}

async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "sbx-io-test-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test("nullIO passes no paths", async () => {
  const io = await nullIO().create("x");
  assert.deepEqual(io.config, { stdin: "", stdout: "", stderr: "", terminal: false });
  io.started();
  await io.drain();
  await io.close();
});

test("capture collects stdout and stderr and feeds stdin", async (t) => {
  const fifoDir = await tempDir(t);
  const out = capture("hello from stdin\n", { fifoDir });
  const io = await out.create("c1");
  assert.match(io.config.stdin, /c1-stdin$/);
  assert.match(io.config.stdout, /c1-stdout$/);
  assert.match(io.config.stderr, /c1-stderr$/);
  const shim = startShim('exec <"$I"; cat >"$O"; echo err >"$E"', {
    I: io.config.stdin,
    O: io.config.stdout,
    E: io.config.stderr,
  });
  io.started();
  assert.equal(await shim.exited, 0);
  await io.drain();
  assert.equal(out.stdout, "hello from stdin\n");
  assert.equal(out.stderr, "err\n");
  await io.close();
  assert.deepEqual(await readdir(fifoDir), [], "the FIFO directory is removed");
});

test("output written before the reader's peer opens is not lost (placeholder)", async (t) => {
  const fifoDir = await tempDir(t);
  const out = capture(undefined, { fifoDir });
  const io = await out.create("late");
  io.started();
  // The writer opens, writes, closes, and another writer comes later: no EOF in between.
  assert.equal(await fakeShim('echo one >"$O"', { O: io.config.stdout }), 0);
  assert.equal(await fakeShim('echo two >"$O"', { O: io.config.stdout }), 0);
  await io.drain();
  assert.equal(out.stdout, "one\ntwo\n");
  await io.close();
});

test("terminal mode uses one FIFO pair", async (t) => {
  const fifoDir = await tempDir(t);
  const stdout = new PassThrough();
  const io = await withStreams(
    { stdout, stderr: new PassThrough() },
    { fifoDir, terminal: true },
  ).create("tty");
  assert.equal(io.config.terminal, true);
  assert.equal(io.config.stdin, "");
  assert.equal(io.config.stderr, "");
  const chunks: Buffer[] = [];
  stdout.on("data", (c: Buffer) => chunks.push(c));
  assert.equal(await fakeShim('printf x >"$O"', { O: io.config.stdout }), 0);
  await io.drain();
  assert.equal(Buffer.concat(chunks).toString(), "x");
  await io.close();
});

test("closeStdin gives the reader EOF while the process runs", async (t) => {
  const fifoDir = await tempDir(t);
  const stdin = new PassThrough();
  const out = capture(undefined, { fifoDir });
  const io = await withStreams({ stdin, stdout: new PassThrough() }, { fifoDir }).create("in");
  const sink = await out.create("sink");
  const shim = startShim('exec <"$I"; cat >"$O"', { I: io.config.stdin, O: sink.config.stdout });
  io.started();
  stdin.write("partial\n");
  io.closeStdin();
  assert.equal(await shim.exited, 0, "cat saw EOF");
  await sink.drain();
  assert.equal(out.stdout, "partial\n");
  await io.close();
  await sink.close();
});

test("close without a peer cleans up and is idempotent", async (t) => {
  const fifoDir = await tempDir(t);
  const out = capture("data", { fifoDir });
  const io = await out.create("gone");
  const dir = join(io.config.stdout, "..");
  await io.close();
  await io.close();
  await assert.rejects(access(dir));
});

test("preparedIO makes the FIFOs ahead, hands them over once, and discard removes unused ones", async (t) => {
  const dir = await tempDir(t);
  const out = new PassThrough();
  const used = preparedIO(withStreams({ stdout: out }, { fifoDir: dir }), "p1");
  await assert.rejects(used.create("other"), { kind: "invalid argument" });
  const io = await used.create("p1");
  await access(io.config.stdout);
  await used.discard(); // taken by a task: not closed by discard
  await access(io.config.stdout);
  const chunks: Buffer[] = [];
  out.on("data", (d: Buffer) => chunks.push(d));
  io.started();
  assert.equal(await fakeShim('printf made > "$OUT"', { OUT: io.config.stdout }), 0);
  await io.drain();
  assert.equal(Buffer.concat(chunks).toString(), "made");
  await io.close();

  const unused = preparedIO(withStreams({ stdout: new PassThrough() }, { fifoDir: dir }), "p2");
  await unused.discard();
  await unused.discard();
  assert.deepEqual(await readdir(dir), []);
});
