// Removing a container whose init exited: sbx-sandboxer does what `runc delete`
// does by hand when runc has nothing else to do, and leaves the rest to runc.
// These are the cases where runc must still act, and what must be gone after.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { waitUntil } from "@sandboxd/testing";
import { bundle, sandboxerFixture } from "./helpers.js";

/** Host pids of live processes whose command line is exactly `argv`. */
async function pidsRunning(argv: string[]): Promise<number[]> {
  const want = argv.join("\0") + "\0";
  const found: number[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, "utf8").catch(() => "");
    if (cmdline !== want) continue;
    const stat = await readFile(`/proc/${entry}/stat`, "utf8").catch(() => "");
    if (!/\) Z /.test(stat)) found.push(Number(entry));
  }
  return found;
}

/** Every cgroup directory named `name` below the sandboxer's cgroup parent, in any hierarchy. */
async function cgroupDirsNamed(parent: string, name: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      if (!e.isDirectory()) continue;
      if (e.name === name) out.push(join(dir, e.name));
      await walk(join(dir, e.name));
    }
  };
  for (const h of await readdir("/sys/fs/cgroup")) await walk(join("/sys/fs/cgroup", h, parent));
  return out;
}

test("removing an exited container kills what its init left in the pod's pid namespace, and its cgroups and runc state go", async (t) => {
  const f = await sandboxerFixture(t, { network: false });
  const ctl = f.controller();
  const tasks = f.tasks();
  await ctl.create({ sandboxId: "pod", annotations: { "io.sandboxd.pod.share-pid": "true" } });
  await ctl.start({ sandboxId: "pod" });
  // A duration no other test's sleep has, to find this one among the host's processes.
  const orphan = ["/bin/sleep", String(100_000 + process.pid)];
  const dir = await bundle(f, "leaver", {
    args: ["/bin/sh", "-c", `${orphan.join(" ")} & exit 0`],
    sandboxId: "pod",
  });
  await tasks.create({ id: "leaver", bundle: dir, stdout: "", stderr: "" });
  const wait = tasks.wait({ id: "leaver" });
  await tasks.start({ id: "leaver" });
  assert.equal((await wait).exitStatus, 0);
  // The shell is gone; its child lives on under the pod's pid namespace holder.
  assert.equal((await pidsRunning(orphan)).length, 1, "the orphan runs");
  assert.ok((await cgroupDirsNamed(f.sbx.cgroupParent, "leaver")).length > 0);

  await tasks.delete({ id: "leaver" });
  await waitUntil(async () => (await pidsRunning(orphan)).length === 0, {
    timeoutMs: 30_000,
    what: "the orphan killed",
  });
  assert.deepEqual(await cgroupDirsNamed(f.sbx.cgroupParent, "leaver"), []);
  assert.equal(existsSync(join(f.sbx.stateDir, "runc", "default", "leaver")), false);
  await ctl.shutdown({ sandboxId: "pod" });
  await f.checkLeaks();
});

test("removing an exited container runs its poststop hook", async (t) => {
  const f = await sandboxerFixture(t, { network: false });
  const ctl = f.controller();
  const tasks = f.tasks();
  await ctl.create({ sandboxId: "pod" });
  await ctl.start({ sandboxId: "pod" });
  const mark = join(f.dir, "poststop-ran");
  const dir = await bundle(f, "hooked", {
    args: ["/bin/true"],
    sandboxId: "pod",
    hooks: { poststop: [{ path: "/bin/sh", args: ["sh", "-c", `touch ${mark}`] }] },
  });
  await tasks.create({ id: "hooked", bundle: dir, stdout: "", stderr: "" });
  const wait = tasks.wait({ id: "hooked" });
  await tasks.start({ id: "hooked" });
  assert.equal((await wait).exitStatus, 0);
  assert.equal(existsSync(mark), false, "not before the removal");
  await tasks.delete({ id: "hooked" });
  assert.equal(existsSync(mark), true, "the poststop hook ran");
  assert.deepEqual(await cgroupDirsNamed(f.sbx.cgroupParent, "hooked"), []);
  await ctl.shutdown({ sandboxId: "pod" });
  await f.checkLeaks();
});
