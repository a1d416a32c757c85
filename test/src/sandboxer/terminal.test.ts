// Terminals: conmon holds the pty; output comes from its log, input through
// socat into its attach socket, ResizePty through its ctl FIFO.
import assert from "node:assert/strict";
import { test } from "node:test";
import { JsonTypeUrl, packJson } from "@sandboxd/api";
import { requireBinary } from "@sandboxd/testing";
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
