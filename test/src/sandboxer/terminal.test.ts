// Terminals: conmon holds the pty; output comes from its log, input through
// socat into its attach socket, ResizePty through its ctl FIFO.
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { JsonTypeUrl, packJson } from "@sandboxd/api";
import { requireBinary, waitUntil } from "@sandboxd/testing";
import { bundle, collect, feed, fifos, sandboxerFixture } from "./helpers.js";

test("a terminal task and a terminal exec: output, input, resize, exit code", async (t) => {
  await requireBinary("/usr/bin/socat", "socat");
  const f = await sandboxerFixture(t, { network: false });
  const tasks = f.tasks();
  const io = await fifos(f, "tty");
  const out = collect(io.stdout);
  const b = await bundle(f, "tty", {
    args: ["/bin/sh", "-c", "tty; read x; echo got:$x; stty size; exit 6"],
    terminal: true,
  });
  await tasks.create({ id: "tty", bundle: b, terminal: true, stdin: io.stdin, stdout: io.stdout });
  const wait = tasks.wait({ id: "tty" });
  await tasks.start({ id: "tty" });
  await tasks.resizePty({ id: "tty", width: 100, height: 30 });

  // An exec with its own terminal while the task waits for input.
  const eio = await fifos(f, "exec");
  const eout = collect(eio.stdout);
  await tasks.exec({
    id: "tty",
    execId: "t1",
    terminal: true,
    stdout: eio.stdout,
    spec: packJson(JsonTypeUrl.Process, {
      args: ["/bin/sh", "-c", "tty; echo exec-tty; exit 2"],
      cwd: "/",
      env: ["PATH=/bin"],
      user: { uid: 0, gid: 0 },
      terminal: true,
    }),
  });
  const ewait = tasks.wait({ id: "tty", execId: "t1" });
  await tasks.start({ id: "tty", execId: "t1" });
  assert.equal((await ewait).exitStatus, 2);
  assert.match(await eout, /^\/dev\/pts\/\d+\r\nexec-tty\r\n$/);
  await tasks.delete({ id: "tty", execId: "t1" });

  await feed(io.stdin, "hello\n");
  assert.equal((await wait).exitStatus, 6);
  // The pty echoes the input and turns \n into \r\n.
  assert.equal(await out, "/dev/pts/0\r\nhello\r\ngot:hello\r\n30 100\r\n");
  await tasks.delete({ id: "tty" });
  await f.checkLeaks();
});

test("a terminal survives a sandboxer kill -9: input still flows, output written meanwhile follows", async (t) => {
  await requireBinary("/usr/bin/socat", "socat");
  const f = await sandboxerFixture(t, { network: false });
  let tasks = f.tasks();
  const io = await fifos(f, "tty");
  const out = collect(io.stdout);
  const b = await bundle(f, "tty", {
    args: [
      "/bin/sh",
      "-c",
      "echo before; read x; echo after:$x; while [ ! -e /tmp/done-tty ]; do sleep 0.05; done",
    ],
    terminal: true,
  });
  const { pid } = await tasks.create({
    id: "tty",
    bundle: b,
    terminal: true,
    stdin: io.stdin,
    stdout: io.stdout,
  });
  await tasks.start({ id: "tty" });
  // Killed once the client has read "before": what it has seen must not come again.
  await waitUntil(() => out.sofar() === "before\r\n", { what: "the client to read before" });
  await f.sbx.kill("SIGKILL");
  // The client types while the sandboxer is down; the process answers (into conmon's log).
  await feed(io.stdin, "go\n");
  const log = join(
    f.sbx.stateDir,
    "sandboxes",
    "default",
    "tty",
    "containers",
    "tty",
    "console.log",
  );
  await waitUntil(async () => (await readFile(log, "utf8").catch(() => "")).includes("after:go"), {
    what: "the answer in conmon's log",
  });
  await f.sbx.restart();
  await f.reconnect();
  tasks = f.tasks();
  await writeFile(`/proc/${pid}/root/tmp/done-tty`, "");
  assert.equal((await tasks.wait({ id: "tty" })).exitStatus, 0);
  // The client saw no end of output while the sandboxer was away, and nothing is missing.
  assert.equal(await out, "before\r\ngo\r\nafter:go\r\n");
  await tasks.delete({ id: "tty" });
  await f.checkLeaks();
});
