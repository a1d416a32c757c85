// Task events reach the configured events endpoint as containerd envelopes, in
// runtime-v2 order, including exec, pause/resume and OOM events.
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { JsonTypeUrl, packJson, unpack } from "@sandboxd/api";
import { Events } from "@sandboxd/api/services/ttrpc/events/v1/events_pb";
import type { Envelope } from "@sandboxd/api/types/event_pb";
import { waitUntil } from "@sandboxd/testing";
import { Server } from "@sandboxd/ttrpc";
import { bundle, collect, fifos, sandboxerFixture } from "./helpers.js";

interface Seen {
  topic: string;
  namespace: string;
  event: Record<string, unknown>;
  typeUrl: string;
  seconds: bigint;
}

async function eventsEndpoint(
  t: { after(fn: () => unknown): void },
  path: string,
): Promise<Seen[]> {
  const seen: Seen[] = [];
  const server = new Server();
  server.register(Events, {
    forward(req) {
      const e: Envelope | undefined = req.envelope;
      if (e?.event) {
        seen.push({
          topic: e.topic,
          namespace: e.namespace,
          event: unpack(e.event) ?? {},
          typeUrl: e.event.typeUrl,
          seconds: e.timestamp?.seconds ?? 0n,
        });
      }
      return {};
    },
  });
  await server.listen(path);
  t.after(() => server.close());
  return seen;
}

test("task events: create, start, exec, pause/resume, OOM, exit, delete, in order", async (t) => {
  const socketDir = await import("node:fs/promises").then((fs) => fs.mkdtemp("/tmp/sbx-ev-"));
  t.after(() =>
    import("node:fs/promises").then((fs) => fs.rm(socketDir, { recursive: true, force: true })),
  );
  const eventsSocket = join(socketDir, "events.sock");
  const seen = await eventsEndpoint(t, eventsSocket);
  const f = await sandboxerFixture(t, { eventsAddress: eventsSocket });
  const ctl = f.controller("evns");
  const tasks = f.tasks("evns");
  await ctl.create({ sandboxId: "ev" });
  await ctl.start({ sandboxId: "ev" });

  const io = await fifos(f, "main");
  const out = collect(io.stdout);
  const b = await bundle(f, "main", { args: ["/bin/sh", "-c", "read x; exit 5"], sandboxId: "ev" });
  await tasks.create({
    id: "main",
    bundle: b,
    stdin: io.stdin,
    stdout: io.stdout,
    stderr: io.stderr,
  });
  const wait = tasks.wait({ id: "main" });
  await tasks.start({ id: "main" });
  await tasks.exec({
    id: "main",
    execId: "e1",
    stdout: "",
    stderr: "",
    spec: packJson(JsonTypeUrl.Process, {
      args: ["/bin/true"],
      cwd: "/",
      user: { uid: 0, gid: 0 },
    }),
  });
  const execWait = tasks.wait({ id: "main", execId: "e1" });
  await tasks.start({ id: "main", execId: "e1" });
  await execWait;
  await tasks.pause({ id: "main" });
  await tasks.resume({ id: "main" });
  // The client never opened its end of stdin: CloseIO alone is the EOF.
  await tasks.closeIO({ id: "main", stdin: true });
  assert.equal((await wait).exitStatus, 5);
  await out;
  await tasks.delete({ id: "main" });

  // A container over its memory limit is OOM-killed: /tasks/oom, exit 137.
  const hog = await bundle(f, "hog", {
    args: ["/bin/sh", "-c", "x=0123456789; while true; do x=$x$x; done"],
    sandboxId: "ev",
    resources: { memory: { limit: 16 << 20 } },
  });
  await tasks.create({ id: "hog", bundle: hog, stdout: "", stderr: "" });
  const hogWait = tasks.wait({ id: "hog" });
  await tasks.start({ id: "hog" });
  assert.equal((await hogWait).exitStatus, 137);
  await tasks.delete({ id: "hog" });
  await ctl.shutdown({ sandboxId: "ev" });

  const topics = (id: string): string[] =>
    seen
      .filter((e) => e.event.containerId === id)
      .map((e) => {
        const execId = typeof e.event.id === "string" ? e.event.id : "";
        return e.topic + (execId && execId !== id ? `:${execId}` : "");
      });
  await waitUntil(
    () => topics("main").includes("/tasks/delete") && topics("hog").includes("/tasks/delete"),
    {
      what: "the delete events",
    },
  );
  assert.deepEqual(topics("main"), [
    "/tasks/create",
    "/tasks/start",
    "/tasks/exec-added",
    "/tasks/exec-started",
    "/tasks/exit:e1",
    "/tasks/paused",
    "/tasks/resumed",
    "/tasks/exit",
    "/tasks/delete",
  ]);
  const hogTopics = topics("hog");
  assert.ok(hogTopics.includes("/tasks/oom"), `OOM event in ${hogTopics.join(", ")}`);
  assert.deepEqual(
    hogTopics.filter((x) => x !== "/tasks/oom"),
    ["/tasks/create", "/tasks/start", "/tasks/exit", "/tasks/delete"],
  );
  const exit = seen.find(
    (e) => e.topic === "/tasks/exit" && e.event.containerId === "main" && e.event.id === "main",
  );
  assert.equal(exit?.typeUrl, "containerd.events.TaskExit");
  assert.equal(exit?.namespace, "evns");
  assert.equal(exit?.event.exitStatus, 5);
  assert.ok((exit?.seconds ?? 0n) > 0n);
  const start = seen.find((e) => e.topic === "/tasks/start" && e.event.containerId === "main");
  assert.equal(start?.event.pid, exit?.event.pid);
  await f.checkLeaks();
});
