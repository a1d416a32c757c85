// @sandboxd/ttrpc against Go's ttrpc, both ways: Debian's containerd-shim-runc-v2
// (containerd 1.6) is started the way containerd starts it, our client drives its
// containerd.task.v2.Task service, and our server receives the events it forwards to
// TTRPC_ADDRESS (containerd.services.events.ttrpc.v1.Events/Forward).
import assert from "node:assert/strict";
import { openSync, constants as fsConstants } from "node:fs";
import { readFile, rm } from "node:fs/promises";
import net from "node:net";
import { join } from "node:path";
import { test } from "node:test";
import { fromBinary } from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { ServiceName, Topic, unpackAs } from "@sandboxd/api";
import {
  TaskCreateSchema,
  TaskDeleteSchema,
  TaskExitSchema,
  TaskStartSchema,
} from "@sandboxd/api/events/task_pb";
import { DeleteResponseSchema, Task } from "@sandboxd/api/runtime/task/v2/shim_pb";
import type { Envelope } from "@sandboxd/api/types/event_pb";
import { Events } from "@sandboxd/api/services/ttrpc/events/v1/events_pb";
import { Status } from "@sandboxd/api/types/task/task_pb";
import {
  createCleanup,
  killAndWait,
  ociSpec,
  processAlive,
  requireBinary,
  requireRoot,
  run,
  tempDir,
  unmountAll,
  waitUntil,
  waitForExit,
  writeBundleSpec,
} from "@sandboxd/testing";
import { Server, connect, createClient, isClosedError } from "@sandboxd/ttrpc";
// Until @sandboxd/client exports it (it will, as the SDK's default rootfs).
import { prepareBusyboxRootfs } from "../../../packages/client/dist/rootfs/busybox.js";

const SHIM = "/usr/bin/containerd-shim-runc-v2";
const CONTAINERD = "/usr/bin/containerd";
const RUNC_ROOT = "/run/containerd/runc"; // the runc shim's default runc --root parent

test(
  "containerd-shim-runc-v2 (Go ttrpc) and @sandboxd/ttrpc interoperate",
  { timeout: 120_000 },
  async (t) => {
    requireRoot();
    await requireBinary(SHIM, "containerd");
    await requireBinary("/usr/sbin/runc", "runc");

    const cleanup = createCleanup(t);
    const dir = await tempDir(cleanup, "sbx-ttrpc-");
    const ns = `sbx-ttrpc-${process.pid}`;
    const grpcAddress = join(dir, "containerd.sock"); // never served: the 1.6 shim only hashes it
    cleanup.after(() => rm(join(RUNC_ROOT, ns), { recursive: true, force: true }));

    // Our ttrpc server in containerd's place, receiving the shim's events.
    const envelopes: Envelope[] = [];
    const events = new Server().register(Events, {
      forward(req) {
        if (req.envelope !== undefined) envelopes.push(req.envelope);
        return {};
      },
    });
    const eventsAddress = join(dir, "events.sock");
    await events.listen(eventsAddress);
    cleanup.after(() => events.close());

    // Two bundles; the runc shim's `delete` finds a bundle as <cwd>/../<id>, so dir name = id.
    const bundle = async (id: string, args: string[]): Promise<string> => {
      const path = join(dir, id);
      await prepareBusyboxRootfs(join(path, "rootfs"));
      await writeBundleSpec(path, ociSpec({ args }));
      return path;
    };
    const hello = await bundle("hello", ["sh", "-c", "echo hi; exit 3"]);
    const sleeper = await bundle("sleeper", ["sleep", "600"]);
    cleanup.after(() => unmountAll(dir));
    for (const id of ["hello", "sleeper"]) {
      // If the test fails half-way, runc may still hold a container.
      cleanup.after(() => run("runc", ["--root", join(RUNC_ROOT, ns), "delete", "--force", id]));
    }

    // containerd creates <bundle>/log as a FIFO before `start` and keeps it open for reading;
    // the shim's server process opens it for writing (and blocks until someone reads).
    await run("mkfifo", ["-m", "0700", join(hello, "log")]);
    const logFd = openSync(join(hello, "log"), fsConstants.O_RDWR | fsConstants.O_NONBLOCK);
    const log = new net.Socket({ fd: logFd, readable: true, writable: false });
    let shimLog = "";
    log.on("data", (chunk: Buffer) => (shimLog += chunk.toString()));
    log.on("error", () => {});
    cleanup.after(() => log.destroy());
    // Shown when the test fails: the first place to look when the shim misbehaves.
    let passed = false;
    cleanup.after(() => {
      if (!passed && shimLog !== "")
        t.diagnostic(`shim log:\n${shimLog.trimEnd().split("\n").slice(-40).join("\n")}`);
    });

    // `start`, exactly as containerd 1.6 runs it.
    const env = {
      ...process.env,
      GOMAXPROCS: "2",
      MAX_SHIM_VERSION: "2",
      TTRPC_ADDRESS: eventsAddress,
      GRPC_ADDRESS: grpcAddress,
      NAMESPACE: ns,
    };
    const flags = [
      "-namespace",
      ns,
      "-address",
      grpcAddress,
      "-publish-binary",
      CONTAINERD,
      "-id",
      "hello",
    ];
    const started = await run(SHIM, [...flags, "start"], { cwd: hello, env });
    assert.equal(
      started.code,
      0,
      `start failed: ${started.stdout.toString()}${started.stderr.toString()}`,
    );
    const address = started.stdout.toString().trim();
    assert.match(
      address,
      /^unix:\/\/\/run\/containerd\/s\/[0-9a-f]{64}$/,
      "1.6 prints a plain unix:// address",
    );
    cleanup.after(() => rm(address.slice("unix://".length), { force: true }));

    const conn = await connect(address);
    cleanup.after(() => conn.close());
    const task = createClient(conn, Task);
    assert.equal(ServiceName.TaskV2, Task.typeName);
    const opts = { timeoutMs: 30_000, metadata: { "containerd-namespace-ttrpc": ns } };

    const connected = await task.connect({ id: "hello" }, opts);
    const shimPid = connected.shimPid;
    assert.ok(shimPid > 0);
    cleanup.after(() => killAndWait(shimPid));

    // hello: create, start, wait, state, delete
    // file:// output: the 1.6 shim writes both streams to the file, and needs both set
    // (with stderr empty it dereferences a nil pipe and crashes).
    const output = `file://${join(dir, "hello.out")}`;
    const created = await task.create(
      { id: "hello", bundle: hello, stdout: output, stderr: output, terminal: false },
      opts,
    );
    assert.ok(created.pid > 0);
    assert.equal((await task.connect({ id: "hello" }, opts)).taskPid, created.pid);
    assert.equal((await task.start({ id: "hello" }, opts)).pid, created.pid);
    const waited = await task.wait({ id: "hello" }, opts);
    assert.equal(waited.exitStatus, 3);
    assert.ok(waited.exitedAt !== undefined && timestampDate(waited.exitedAt).getTime() > 0);
    const state = await task.state({ id: "hello" }, opts);
    assert.equal(state.status, Status.STOPPED);
    assert.equal(state.exitStatus, 3);
    assert.equal(state.bundle, hello);
    await waitUntil(
      async () => (await readFile(join(dir, "hello.out"), "utf8").catch(() => "")) === "hi\n",
      {
        what: "the container's stdout in hello.out",
      },
    );

    // sleeper: a second container in the same shim, killed
    await task.create({ id: "sleeper", bundle: sleeper }, opts);
    const sleeperPid = (await task.start({ id: "sleeper" }, opts)).pid;
    assert.equal((await task.state({ id: "sleeper" }, opts)).status, Status.RUNNING);
    assert.ok(await processAlive(sleeperPid));
    const sleeperExit = task.wait({ id: "sleeper" }, opts);
    await task.kill({ id: "sleeper", signal: 9 }, opts);
    assert.equal((await sleeperExit).exitStatus, 137);
    await waitForExit(sleeperPid);

    // an error status from Go: a container that does not exist
    await assert.rejects(task.state({ id: "nope" }, opts), (err: unknown) => {
      assert.ok(err instanceof Error && "code" in err);
      assert.equal((err as { code: number }).code, 5, `NOT_FOUND, got ${String(err)}`);
      return true;
    });

    assert.equal((await task.delete({ id: "sleeper" }, opts)).exitStatus, 137);
    const deleted = await task.delete({ id: "hello" }, opts);
    assert.equal(deleted.exitStatus, 3);
    assert.equal(deleted.pid, created.pid);

    // With no containers left, Shutdown makes the shim exit; like containerd, accept the
    // connection closing under the call.
    await task.shutdown({ id: "hello" }, opts).catch((err: unknown) => {
      if (!isClosedError(err)) throw err;
    });
    await waitUntil(() => conn.closed, { what: "the shim to close the connection" });
    await waitForExit(shimPid);

    // The events the shim forwarded to our server, per container, in order.
    const topics = (id: string): string[] =>
      envelopes
        .filter((e) => {
          const ev = e.event;
          if (ev === undefined) return false;
          const msg =
            unpackAs(ev, TaskCreateSchema) ??
            unpackAs(ev, TaskStartSchema) ??
            unpackAs(ev, TaskExitSchema) ??
            unpackAs(ev, TaskDeleteSchema);
          return msg?.containerId === id;
        })
        .map((e) => e.topic);
    const lifecycle = [Topic.TaskCreate, Topic.TaskStart, Topic.TaskExit, Topic.TaskDelete];
    await waitUntil(() => topics("hello").length >= 4 && topics("sleeper").length >= 4, {
      what: "the shim's /tasks/* events",
    });
    assert.deepEqual(topics("hello"), lifecycle);
    assert.deepEqual(topics("sleeper"), lifecycle);
    for (const e of envelopes) {
      assert.equal(e.namespace, ns);
      assert.ok(e.timestamp !== undefined && timestampDate(e.timestamp).getTime() > 0);
    }
    const exit = envelopes
      .map((e) => (e.event ? unpackAs(e.event, TaskExitSchema) : undefined))
      .find((m) => m?.containerId === "hello");
    assert.equal(exit?.exitStatus, 3);
    assert.equal(exit?.pid, created.pid);

    // What containerd runs after closing the connection: the binary's `delete`, which
    // prints a protobuf DeleteResponse on stdout.
    const removed = await run(SHIM, [...flags, "-bundle", hello, "delete"], { cwd: hello, env });
    assert.equal(removed.code, 0, `delete failed: ${removed.stderr.toString()}`);
    const response = fromBinary(DeleteResponseSchema, removed.stdout);
    assert.equal(response.exitStatus, 128 + 9);
    assert.equal(response.pid, created.pid);
    assert.ok(response.exitedAt !== undefined && timestampDate(response.exitedAt).getTime() > 0);

    passed = true;
  },
);
