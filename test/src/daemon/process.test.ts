// The sandboxd process: start-up errors, SIGTERM, sockets, metrics, and the
// `publish` command shims use through -publish-binary.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, toBinary } from "@bufbuild/protobuf";
import { AnySchema } from "@bufbuild/protobuf/wkt";
import { pack } from "@sandboxd/api";
import { ContainerCreateSchema } from "@sandboxd/api/events/container_pb";
import {
  busyboxRootfs,
  requireRoot,
  sandboxdBinary,
  startSandboxd,
  waitUntil,
} from "@sandboxd/testing";
import { ctrInBackground } from "./harness.js";

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function sandboxd(args: string[], input?: Uint8Array): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(sandboxdBinary, args, { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.stdin.end(input ?? new Uint8Array());
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** A temp dir for one test, removed after it (after everything else the test registered). */
async function dirFor(t: {
  after: (fn: () => unknown) => void;
}): Promise<{ dir: string; cleanup: (fn: () => unknown) => void }> {
  const dir = await mkdtemp(join(tmpdir(), "sbxp-"));
  const steps: (() => unknown)[] = [];
  t.after(async () => {
    for (const step of steps.reverse()) await step();
    await rm(dir, { recursive: true, force: true });
  });
  return { dir, cleanup: (fn) => steps.push(fn) };
}

test("--help and --version", async () => {
  const help = await sandboxd(["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^usage: sandboxd/);
  const version = await sandboxd(["--version"]);
  assert.equal(version.code, 0);
  assert.match(version.stdout, /^sandboxd \d+\.\d+\.\d+ \(containerd API 1\.7\.0\)\n$/);
  const bad = await sandboxd(["--frobnicate"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /flag provided but not defined: --frobnicate/);
});

test("a bad config fails at start-up naming the file and the key", async (t) => {
  const { dir } = await dirFor(t);
  const file = join(dir, "config.toml");
  await writeFile(file, '[grpc]\naddress = "relative.sock"\n');
  const r = await sandboxd(["--config", file]);
  assert.equal(r.code, 1);
  assert.equal(
    r.stderr,
    `sandboxd: config ${file}: "grpc.address": must be an absolute path, got "relative.sock": invalid argument\n`,
  );
  const missing = await sandboxd(["--config", join(dir, "nope.toml")]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /config file ".*nope\.toml": not found/);
});

test("a socket another live daemon serves is refused; a stale one is removed", async (t) => {
  requireRoot();
  const { dir, cleanup } = await dirFor(t);
  const first = await startSandboxd({ dir: join(dir, "a") });
  cleanup(() => first.stop());
  // Same address, other root and state: the socket is in use.
  const r = await sandboxd([
    "--root",
    join(dir, "r2"),
    "--state",
    join(dir, "s2"),
    "--address",
    first.address,
  ]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, new RegExp(`address ${first.address} is in use: another daemon`));
  // A dead daemon's socket file (kill -9 leaves it) does not stop the next one.
  await first.kill();
  assert.ok((await stat(first.address)).isSocket());
  const second = await startSandboxd({ dir: join(dir, "a") });
  cleanup(() => second.stop());
  assert.equal((await second.ctr(["version"])).code, 0);
});

test("the same root cannot be used by two daemons at once", async (t) => {
  requireRoot();
  const { dir, cleanup } = await dirFor(t);
  const first = await startSandboxd({ dir: join(dir, "a") });
  cleanup(() => first.stop());
  const r = await sandboxd([
    "--root",
    first.root,
    "--state",
    join(dir, "s2"),
    "--address",
    join(dir, "b.sock"),
  ]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /metadata database .* is locked by another process/);
});

test("SIGTERM stops cleanly and leaves containers running; the next start finds them", async (t) => {
  requireRoot();
  const { dir, cleanup } = await dirFor(t);
  const rootfs = await busyboxRootfs(join(dir, "rootfs"));
  let daemon = await startSandboxd({ dir: join(dir, "d") });
  cleanup(() => daemon.stop());
  const run = await daemon.ctr(["run", "-d", "--rootfs", rootfs, "keep", "/bin/sleep", "600"]);
  assert.equal(run.code, 0, run.stderr);
  const pid = Number(/^keep\s+(\d+)/m.exec((await daemon.ctr(["tasks", "ls"])).stdout)?.[1]);
  assert.ok(pid > 0);
  assert.equal(await daemon.terminate(), 0);
  assert.match(await daemon.log(), /"msg":"stopped"/);
  await assert.rejects(stat(daemon.address), "the socket is removed");
  process.kill(pid, 0); // still running
  daemon = await startSandboxd({ dir: join(dir, "d") });
  assert.match((await daemon.ctr(["tasks", "ls"])).stdout, /^keep\s+\d+\s+RUNNING$/m);
});

test("metrics: RPCs by method and code, latency histogram, tasks by state", async (t) => {
  requireRoot();
  const { dir, cleanup } = await dirFor(t);
  const rootfs = await busyboxRootfs(join(dir, "rootfs"));
  const daemon = await startSandboxd({
    dir: join(dir, "d"),
    extraConfig: '[metrics]\n  address = "127.0.0.1:0"\n',
  });
  cleanup(() => daemon.stop());
  const address = /"metrics":"([^"]+)"/.exec(await daemon.log())?.[1];
  assert.ok(address, "the serving line names the metrics address");
  await daemon.ctr(["run", "-d", "--rootfs", rootfs, "m1", "/bin/sleep", "600"]);
  await daemon.ctr(["containers", "info", "nope"]);
  const text = await (await fetch(`http://${address}/v1/metrics`)).text();
  assert.match(
    text,
    /^grpc_server_handled_total\{grpc_service="containerd\.services\.tasks\.v1\.Tasks",grpc_method="Create",grpc_code="OK"\} 1$/m,
  );
  assert.match(
    text,
    /^grpc_server_handled_total\{grpc_service="containerd\.services\.containers\.v1\.Containers",grpc_method="Get",grpc_code="NotFound"\} 1$/m,
  );
  assert.match(
    text,
    /^grpc_server_handling_seconds_bucket\{grpc_service="containerd\.services\.tasks\.v1\.Tasks",grpc_method="Create",le="\+Inf"\} 1$/m,
  );
  // The status comes from the shim's /tasks/start event, which may land after ctr returns.
  await waitUntil(
    async () =>
      /^sandboxd_tasks\{state="running"\} 1$/m.test(
        await (await fetch(`http://${address}/v1/metrics`)).text(),
      ),
    { timeoutMs: 30_000, what: "sandboxd_tasks counts the started task as running" },
  );
  assert.equal((await fetch(`http://${address}/nope`)).status, 404);
});

test("sandboxd publish sends an event from stdin (the -publish-binary contract)", async (t) => {
  requireRoot();
  const { dir, cleanup } = await dirFor(t);
  const daemon = await startSandboxd({ dir: join(dir, "d") });
  cleanup(() => daemon.stop());
  const events = ctrInBackground(t, daemon.address, ["events"]);
  const event = toBinary(
    AnySchema,
    create(AnySchema, pack(ContainerCreateSchema, { id: "published" })),
  );
  await waitUntil(
    async () => {
      const r = await sandboxd(
        [
          "--address",
          daemon.address,
          "publish",
          "--topic",
          "/containers/create",
          "--namespace",
          "pubns",
        ],
        event,
      );
      assert.equal(r.code, 0, r.stderr);
      return /pubns\s+\/containers\/create\s+\{"id":"published"/.test(events.output());
    },
    { what: "the published event in ctr events" },
  );
  const bad = await sandboxd(
    ["--address", daemon.address, "publish", "--topic", "bad", "--namespace", "pubns"],
    event,
  );
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /envelope topic "bad": must start with '\/'/);
  const notAny = await sandboxd(
    ["--address", daemon.address, "publish", "--topic", "/x", "--namespace", "pubns"],
    new Uint8Array([0xff, 0xff]),
  );
  assert.equal(notAny.code, 1);
  assert.match(notAny.stderr, /stdin is not a protobuf Any/);
});

test("the socket is 0660 and the ttrpc socket sits next to it", async (t) => {
  requireRoot();
  const { dir, cleanup } = await dirFor(t);
  await mkdir(join(dir, "d"), { recursive: true });
  const daemon = await startSandboxd({ dir: join(dir, "d") });
  cleanup(() => daemon.stop());
  assert.equal((await stat(daemon.address)).mode & 0o777, 0o660);
  assert.ok((await stat(daemon.ttrpcAddress)).isSocket());
  assert.equal((await stat(daemon.ttrpcAddress)).mode & 0o777, 0o660);
  const conn = net.connect(daemon.ttrpcAddress);
  await new Promise<void>((resolve, reject) => conn.once("connect", resolve).once("error", reject));
  conn.destroy();
  assert.ok((await readdir(daemon.root)).includes("io.containerd.metadata.v1.sqlite"));
});
