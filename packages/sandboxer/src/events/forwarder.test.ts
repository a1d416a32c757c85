import assert from "node:assert/strict";
import { waitUntil } from "@sandboxd/testing";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { unpackAs } from "@sandboxd/api";
import { TaskExitSchema, TaskStartSchema } from "@sandboxd/api/events/task_pb";
import { Events } from "@sandboxd/api/services/ttrpc/events/v1/events_pb";
import type { Envelope } from "@sandboxd/api/types/event_pb";
import { silentLogger } from "@sandboxd/core";
import { Server } from "@sandboxd/ttrpc";
import { Forwarder } from "./forwarder.js";

async function eventsServer(path: string): Promise<{ got: Envelope[]; server: Server }> {
  const got: Envelope[] = [];
  const server = new Server();
  server.register(Events, {
    forward(req) {
      if (req.envelope) got.push(req.envelope);
      return {};
    },
  });
  await server.listen(path);
  return { got, server };
}

const until = (check: () => boolean) => waitUntil(check, { timeoutMs: 5000 });

test("events are forwarded in order as containerd envelopes", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sbx-fwd-"));
  const path = join(dir, "events.sock");
  const { got, server } = await eventsServer(path);
  const fwd = new Forwarder({
    log: silentLogger,
    targets: (ns) => (ns === "default" ? [path] : []),
  });
  try {
    fwd.publish("default", "/tasks/start", TaskStartSchema, { containerId: "c1", pid: 7 });
    fwd.publish("default", "/tasks/exit", TaskExitSchema, {
      containerId: "c1",
      id: "c1",
      pid: 7,
      exitStatus: 3,
    });
    fwd.publish("other", "/tasks/exit", TaskExitSchema, { containerId: "x" });
    await until(() => got.length === 2);
    assert.deepEqual(
      got.map((e) => e.topic),
      ["/tasks/start", "/tasks/exit"],
    );
    const exit = got[1]!;
    assert.equal(exit.namespace, "default");
    assert.ok(exit.timestamp && exit.timestamp.seconds > 0n);
    assert.equal(exit.event?.typeUrl, "containerd.events.TaskExit");
    assert.equal(unpackAs(exit.event, TaskExitSchema)?.exitStatus, 3);
  } finally {
    await fwd.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("an endpoint that is down at first gets the events once it is up", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sbx-fwd-"));
  const path = join(dir, "events.sock");
  const fwd = new Forwarder({
    log: silentLogger,
    targets: () => [path],
    retryDelayMs: () => 20,
    maxAttempts: 100,
  });
  let server: Server | undefined;
  try {
    fwd.publish("default", "/tasks/start", TaskStartSchema, { containerId: "c1", pid: 1 });
    fwd.publish("default", "/tasks/exit", TaskExitSchema, { containerId: "c1", id: "c1" });
    // publish() only queued: we got here although nobody listens yet.
    const s = await eventsServer(path);
    server = s.server;
    await until(() => s.got.length === 2);
    assert.deepEqual(
      s.got.map((e) => e.topic),
      ["/tasks/start", "/tasks/exit"],
    );
  } finally {
    await fwd.close();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
