import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { closeSync, constants, openSync, readSync } from "node:fs";
import { appendFile, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { TerminalOutput, decodeK8sLog, parseTerminalPosition, terminalPaths } from "./terminal.js";

test("conmon's k8s-file log lines become the bytes the terminal printed", () => {
  const log = Buffer.from(
    "2026-01-01T00:00:00.000000001+00:00 stdout F /dev/pts/0\r\n" +
      "2026-01-01T00:00:00.000000002+00:00 stdout P $ \n" +
      "2026-01-01T00:00:00.000000003+00:00 stdout F  two  spaces \r\n" +
      "2026-01-01T00:00:00.000000004+00:00 stdout F incompl",
  );
  const { out, consumed } = decodeK8sLog(log);
  assert.equal(out.toString(), "/dev/pts/0\r\n$  two  spaces \r\n");
  assert.equal(
    log.subarray(consumed).toString(),
    "2026-01-01T00:00:00.000000004+00:00 stdout F incompl",
  );
  assert.equal(decodeK8sLog(Buffer.alloc(0)).consumed, 0);
});

test("terminal paths stay short enough for a unix socket", () => {
  const p = terminalPaths("/run/sbx-sandboxer/tty", "/s/c1", "/bundle", "default\0c1");
  assert.match(p.attach, /^\/run\/sbx-sandboxer\/tty\/[0-9a-f]{16}\/attach$/);
  assert.equal(p.ctl, "/bundle/ctl");
  assert.equal(p.log, "/s/c1/console.log");
  assert.notEqual(terminalPaths("/t", "/d", "/b", "default\0c1\0e1").cuuid, p.cuuid);
});

test("a saved terminal position reads back, old and bad ones included", () => {
  assert.deepEqual(parseTerminalPosition("120 7" + " ".repeat(30) + "\n"), { base: 120, skip: 7 });
  assert.deepEqual(parseTerminalPosition("120\n"), { base: 120, skip: 0 });
  assert.deepEqual(parseTerminalPosition(""), { base: 0, skip: 0 });
  assert.deepEqual(parseTerminalPosition("x -1"), { base: 0, skip: 0 });
});

/** A k8s-file log of `lines` lines, some split into P parts; and the bytes it stands for. */
function k8sLog(lines: number): { log: string; bytes: string } {
  let log = "";
  let bytes = "";
  for (let i = 0; i < lines; i++) {
    const text = `line ${i} ${"x".repeat((i * 37) % 900)}`;
    const ts = `2026-01-01T00:00:00.${String(i).padStart(9, "0")}+00:00`;
    if (i % 3 === 0) {
      log += `${ts} stdout P ${text.slice(0, 5)}\n${ts} stdout F ${text.slice(5)}\r\n`;
    } else log += `${ts} stdout F ${text}\r\n`;
    bytes += `${text}\r\n`;
  }
  return { log, bytes };
}

/** Everything in the FIFO right now (the reader is non-blocking). */
function drain(fd: number): string {
  const parts: Buffer[] = [];
  const buf = Buffer.alloc(65536);
  for (;;) {
    let n: number;
    try {
      n = readSync(fd, buf);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "EAGAIN") break;
      throw err;
    }
    if (n === 0) break;
    parts.push(Buffer.from(buf.subarray(0, n)));
  }
  return Buffer.concat(parts).toString();
}

async function fifoDir(t: { after(fn: () => unknown): void }) {
  const dir = await mkdtemp(join(tmpdir(), "sbx-tty-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const fifo = join(dir, "out");
  execFileSync("mkfifo", [fifo]);
  const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  t.after(() => closeSync(reader));
  return { dir, fifo, reader, paths: terminalPaths(join(dir, "tty"), dir, dir, "k") };
}

test("terminal output follows the log, and the client gets EOF after finish", async (t) => {
  const { fifo, reader, paths } = await fifoDir(t);
  const all = k8sLog(20);
  const half = all.log.indexOf("line 10 ") - 45;
  await writeFile(paths.log, all.log.slice(0, all.log.lastIndexOf("\n", half) + 1));
  const out = new TerminalOutput(paths, fifo, { base: 0, skip: 0 });
  await out.pump();
  const first = drain(reader);
  await appendFile(paths.log, all.log.slice(all.log.lastIndexOf("\n", half) + 1));
  await out.finish();
  assert.equal(first + drain(reader), all.bytes);
  assert.equal(readSync(reader, Buffer.alloc(1)), 0, "EOF");
  assert.equal(out.backlog, 0);
  assert.deepEqual(parseTerminalPosition(await readFile(paths.offsetFile, "utf8")), {
    base: Buffer.byteLength(all.log),
    skip: 0,
  });
});

test("terminal output is delivered exactly once across kill -9s while the client's pipe is full", async (t) => {
  const { fifo, reader, paths } = await fifoDir(t);
  // Far more than a pipe holds: each run delivers a pipe's worth, then waits for the client.
  const { log, bytes } = k8sLog(800);
  await writeFile(paths.log, log);
  const module = new URL("./terminal.js", import.meta.url).href;
  // A sandboxer that delivers what it can, says how much is left, and is killed while it waits.
  const script = `
    const { TerminalOutput } = await import(${JSON.stringify(module)});
    const out = await TerminalOutput.resume(${JSON.stringify(paths)}, ${JSON.stringify(fifo)});
    await out.pump();
    process.stdout.write(out.backlog + "\\n");
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
  `;
  let received = "";
  for (let run = 0; ; run++) {
    assert.ok(run < 100, "the output never ran out");
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    const [line] = (await once(child.stdout, "data")) as [Buffer];
    child.kill("SIGKILL");
    await once(child, "exit");
    received += drain(reader);
    if (Number(line.toString().trim()) === 0) break;
  }
  assert.equal(received.length, bytes.length);
  assert.equal(received, bytes);
});
