import assert from "node:assert/strict";
import net from "node:net";
import { test } from "node:test";
import { isFailedPrecondition, isNotFound } from "@sandboxd/errdefs";
import { conmonArgs, readSyncMessages } from "./conmon.js";
import { cleanRuncMessage, lastRuncLogError, runcError } from "./runc.js";

test("conmon runs runc with our root and log, passthrough stdio, and files in the container dir", () => {
  const args = conmonArgs({
    conmon: "/usr/bin/conmon",
    runc: "/usr/sbin/runc",
    runcRoot: "/s/runc/default",
    cid: "c1",
    dir: "/s/c1",
    bundle: "/b/c1",
    stdio: [0, 1, 2],
  });
  const joined = args.join(" ");
  assert.match(joined, /--api-version 1 -c c1 -u c1 -r \/usr\/sbin\/runc/);
  assert.match(joined, /--runtime-arg=--root --runtime-arg=\/s\/runc\/default/);
  assert.match(
    joined,
    /--runtime-arg=--log --runtime-arg=\/s\/c1\/runc.log --runtime-arg=--log-format --runtime-arg=json/,
  );
  assert.match(
    joined,
    /-p \/s\/c1\/pid -P \/s\/c1\/conmon.pid --persist-dir \/s\/c1 -l passthrough/,
  );
  assert.match(joined, / -b \/b\/c1$/);
  assert.ok(!args.includes("--sync"), "conmon must double-fork to outlive us");
  const exec = conmonArgs({
    conmon: "c",
    runc: "r",
    runcRoot: "/root",
    cid: "c1",
    dir: "/s/c1/execs/e1",
    processSpec: "/s/c1/execs/e1/process.json",
    stdio: [0, 1, 2],
  });
  assert.match(exec.join(" "), / -e --exec-process-spec \/s\/c1\/execs\/e1\/process.json$/);
});

test("sync pipe messages: pid, then (exec) the exit code; undefined at EOF", async () => {
  const server = net.createServer();
  const path = `\0sbx-sync-test-${process.pid}`;
  await new Promise<void>((r) => server.listen(path, r));
  const accepted = new Promise<net.Socket>((r) => server.once("connection", r));
  const client = net.connect(path);
  const ours = await accepted;
  const messages = readSyncMessages(ours);
  client.write('{"data": 4242}\n{"data": 3, "mess');
  assert.deepEqual(await messages.next(), { data: 4242 });
  client.end('age": "runc said no"}\n');
  assert.deepEqual(await messages.next(), { data: 3, message: "runc said no" });
  assert.equal(await messages.next(), undefined);
  server.close();
});

test("runc's messages lose their logrus decoration and map to error kinds", () => {
  assert.equal(
    cleanRuncMessage(
      'time="2024-01-01T00:00:00Z" level=error msg="container \\"c1\\" does not exist"\n',
    ),
    'container "c1" does not exist',
  );
  assert.equal(cleanRuncMessage("container not running\n"), "container not running");
  assert.ok(isNotFound(runcError(["kill", "c1"], 'level=error msg="container does not exist"')));
  assert.ok(isFailedPrecondition(runcError(["pause", "c1"], "container not running")));
  const log = [
    '{"level":"info","msg":"starting"}',
    "not json",
    '{"level":"error","msg":"runc create failed: unable to start container process: exec: \\"nope\\": executable file not found in $PATH"}',
  ].join("\n");
  assert.match(lastRuncLogError(log) ?? "", /exec: "nope": executable file not found/);
  assert.equal(lastRuncLogError(""), undefined);
});
