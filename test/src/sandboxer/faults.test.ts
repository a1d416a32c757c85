// Bad input and failing steps: a clear error naming what failed, and nothing
// left behind (every multi-step operation rolls back).
import assert from "node:assert/strict";
import { mkdtemp, readdir, rm, symlink } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { Channel } from "@sandboxd/grpc";
import { Controller } from "@sandboxd/api/services/sandbox/v1/sandbox_pb";
import {
  isAlreadyExists,
  isFailedPrecondition,
  isInvalidArgument,
  isNotFound,
} from "@sandboxd/errdefs";
import { bundle, sandboxerFixture } from "./helpers.js";

/** A ttrpc error's gRPC code. */
function code(n: number): (e: unknown) => boolean {
  return (e) => (e as { code?: number }).code === n;
}
const ALREADY_EXISTS = 6;
const NOT_FOUND = 5;
const FAILED_PRECONDITION = 9;
const INVALID_ARGUMENT = 3;

test("bad input: duplicates, invalid ids, missing things, wrong states", async (t) => {
  const f = await sandboxerFixture(t, { network: false });
  const ctl = f.controller();
  const tasks = f.tasks();
  await ctl.create({ sandboxId: "p" });
  await assert.rejects(
    ctl.create({ sandboxId: "p" }),
    (e: Error) => isAlreadyExists(e) && /sandbox "p"/.test(e.message),
  );
  await assert.rejects(ctl.create({ sandboxId: "bad--id" }), (e: Error) => isInvalidArgument(e));
  await ctl.start({ sandboxId: "p" });
  await assert.rejects(
    ctl.wait({ sandboxId: "nope" }),
    (e: Error) => isNotFound(e) && /sandbox "nope"/.test(e.message),
  );
  await assert.rejects(ctl.status({ sandboxId: "nope" }), (e: Error) => isNotFound(e));
  // Stop and Shutdown of what is not there succeed.
  await ctl.stop({ sandboxId: "nope" });
  await ctl.shutdown({ sandboxId: "nope" });
  // containerd's rule: no namespace, no service.
  const bare = new Channel(f.sbx.listen).client(Controller);
  await assert.rejects(
    bare.status({ sandboxId: "p" }),
    (e: Error) => isFailedPrecondition(e) && /namespace is required/.test(e.message),
  );

  const ok = await bundle(f, "c1", { args: ["/bin/sleep", "100"], sandboxId: "p" });
  await tasks.create({ id: "c1", bundle: ok, stdout: "", stderr: "" });
  await assert.rejects(
    tasks.create({ id: "c1", bundle: ok, stdout: "", stderr: "" }),
    code(ALREADY_EXISTS),
  );
  await tasks.start({ id: "c1" });
  await assert.rejects(tasks.delete({ id: "c1" }), code(FAILED_PRECONDITION));
  await assert.rejects(tasks.start({ id: "c1" }), code(FAILED_PRECONDITION));
  await assert.rejects(tasks.state({ id: "ghost" }), code(NOT_FOUND));
  await assert.rejects(
    tasks.create({ id: "x--y", bundle: ok, stdout: "", stderr: "" }),
    code(INVALID_ARGUMENT),
  );

  // A bundle naming a sandbox that does not exist.
  const orphan = await bundle(f, "orphan", { args: ["/bin/true"], sandboxId: "missing-pod" });
  await assert.rejects(
    tasks.create({ id: "orphan", bundle: orphan, stdout: "", stderr: "" }),
    (e: Error) => code(NOT_FOUND)(e) && /sandbox "missing-pod"/.test(e.message),
  );
  // A rootfs that does not exist.
  const noRoot = await bundle(f, "noroot", { args: ["/bin/true"], sandboxId: "p" });
  const spec = JSON.parse(
    await import("node:fs/promises").then((fs) => fs.readFile(join(noRoot, "config.json"), "utf8")),
  ) as {
    root: { path: string };
  };
  spec.root.path = join(f.dir, "no-such-rootfs");
  await import("node:fs/promises").then((fs) =>
    fs.writeFile(join(noRoot, "config.json"), JSON.stringify(spec)),
  );
  await assert.rejects(
    tasks.create({ id: "noroot", bundle: noRoot, stdout: "", stderr: "" }),
    (e: Error) => code(NOT_FOUND)(e) && /rootfs .*no-such-rootfs/.test(e.message),
  );
  // runc fails: a command that does not exist. The error says so; nothing remains.
  const bad = await bundle(f, "bad", { args: ["/no/such/command"], sandboxId: "p" });
  await assert.rejects(
    tasks.create({ id: "bad", bundle: bad, stdout: "", stderr: "" }),
    (e: Error) => /runc create bad: .*no\/such\/command.*(no such file|not found)/i.test(e.message),
  );
  await assert.rejects(tasks.state({ id: "bad" }), code(NOT_FOUND));
  const containersDir = join(f.sbx.stateDir, "sandboxes", "default", "p", "containers");
  assert.deepEqual(await readdir(containersDir), ["c1"]);
  // The same id works once the cause is fixed.
  const fixed = await bundle(f, "bad2", { args: ["/bin/true"], sandboxId: "p" });
  await tasks.create({ id: "bad", bundle: fixed, stdout: "", stderr: "" });
  await tasks.delete({ id: "bad" });

  await tasks.kill({ id: "c1", signal: 9 });
  await tasks.wait({ id: "c1" });
  await assert.rejects(
    tasks.kill({ id: "c1", signal: 9 }),
    (e: Error) => code(NOT_FOUND)(e) && /process already finished/.test(e.message),
  );
  await tasks.delete({ id: "c1" });

  await ctl.stop({ sandboxId: "p" });
  await ctl.stop({ sandboxId: "p" });
  const late = await bundle(f, "late", { args: ["/bin/true"], sandboxId: "p" });
  await assert.rejects(
    tasks.create({ id: "late", bundle: late, stdout: "", stderr: "" }),
    code(FAILED_PRECONDITION),
  );
  await ctl.shutdown({ sandboxId: "p" });
  await ctl.shutdown({ sandboxId: "p" });
  await f.checkLeaks();
});

test("CNI failures name the plugin and leave no netns, lease, veth or cgroup", async (t) => {
  // A plugin directory with loopback and bridge but no host-local: the bridge's IPAM step fails.
  const cniDir = await mkdtemp("/tmp/sbx-cni-");
  t.after(() => rm(cniDir, { recursive: true, force: true }));
  for (const p of ["loopback", "bridge"]) await symlink(`/usr/lib/cni/${p}`, join(cniDir, p));
  const f = await sandboxerFixture(t, { cniBinDir: cniDir });
  const ctl = f.controller();
  await ctl.create({ sandboxId: "net" });
  await assert.rejects(ctl.start({ sandboxId: "net" }), (e: Error) =>
    /CNI plugin bridge: .*host-local/.test(e.message),
  );
  assert.equal((await ctl.status({ sandboxId: "net" })).state, "SANDBOX_NOTREADY");
  await f.checkLeaks();
  // The bridge plugin missing (lo is set up without the loopback plugin).
  await rm(join(cniDir, "bridge"));
  await assert.rejects(
    ctl.start({ sandboxId: "net" }),
    (e: Error) => isFailedPrecondition(e) && /CNI plugin bridge: not found/.test(e.message),
  );
  await f.checkLeaks();
  await ctl.shutdown({ sandboxId: "net" });
  await f.checkLeaks();
});
