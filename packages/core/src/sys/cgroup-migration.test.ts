import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { CgroupMigrationWarmer, ownCgroupProcsFile } from "./cgroup-migration.js";

async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting: ${what}`);
    await sleep(5);
  }
}

async function fakeRoot(dirs: string[], v2 = false): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), "cgroup-root-"));
  for (const dir of dirs) {
    await mkdir(join(root, dir), { recursive: true });
    await writeFile(join(root, dir, "cgroup.procs"), "");
  }
  if (v2) await writeFile(join(root, "cgroup.controllers"), "cpu memory pids\n");
  return root;
}

test("ownCgroupProcsFile: cgroup v2, the hybrid layout's unified hierarchy, else v1's pids", async (t) => {
  const hybrid = await fakeRoot(["unified/system.slice/x.service", "pids/system.slice"]);
  const v2 = await fakeRoot(["", "system.slice/x.service"], true);
  const v1 = await fakeRoot(["pids/system.slice/x.service"]);
  t.after(() => Promise.all([hybrid, v2, v1].map((d) => rm(d, { recursive: true }))));
  const selfHybrid = [
    "9:name=systemd:/system.slice/x.service",
    "8:pids:/system.slice",
    "2:cpu,cpuacct:/",
    "0::/system.slice/x.service",
  ].join("\n");
  assert.equal(
    ownCgroupProcsFile(selfHybrid, hybrid),
    join(hybrid, "unified/system.slice/x.service/cgroup.procs"),
  );
  assert.equal(
    ownCgroupProcsFile("0::/system.slice/x.service\n", v2),
    join(v2, "system.slice/x.service/cgroup.procs"),
  );
  assert.equal(
    ownCgroupProcsFile("3:pids:/system.slice/x.service\n1:cpu:/\n", v1),
    join(v1, "pids/system.slice/x.service/cgroup.procs"),
  );
  // The root cgroup: no doubled slash.
  assert.equal(ownCgroupProcsFile("0::/\n", v2), join(v2, "cgroup.procs"));
  assert.equal(ownCgroupProcsFile("3:cpu:/\n", v1), undefined, "no hierarchy it can use");
});

test("a warmer writes this process's pid while held, and stops when the last hold ends", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "cgroup-warm-"));
  t.after(() => rm(dir, { recursive: true }));
  const procs = join(dir, "cgroup.procs");
  await writeFile(procs, "");
  const warmer = new CgroupMigrationWarmer({ procsFile: procs, periodMs: 1 });
  t.after(() => warmer.close());
  const size = async (): Promise<number> => (await stat(procs)).size;
  const pid = String(process.pid);

  const first = warmer.hold();
  const second = warmer.hold();
  await until("the first writes", async () => (await size()) >= 3 * pid.length);
  first();
  first(); // a second call of the same release does nothing
  const afterFirst = await size();
  await until("writes go on while one hold is left", async () => (await size()) > afterFirst);
  second();
  // A write begun before the release may still land; then nothing more.
  await sleep(20);
  const settled = await size();
  await sleep(50);
  assert.equal(await size(), settled, "no write after the last release");
  const text = await readFile(procs, "utf8");
  assert.equal(text, pid.repeat(text.length / pid.length), "only this process's pid");

  assert.equal(await warmer.during(() => Promise.resolve("done")), "done");
});

test("a warmer that cannot write says why once and holds nothing", async () => {
  const reasons: string[] = [];
  const warmer = new CgroupMigrationWarmer({
    procsFile: join(tmpdir(), "no-such-dir-for-warmer", "cgroup.procs"),
    onDisabled: (why) => reasons.push(why),
  });
  const release = warmer.hold();
  await until("disabled", () => Promise.resolve(reasons.length > 0));
  release();
  warmer.hold()();
  await sleep(20);
  assert.equal(reasons.length, 1);
  assert.match(reasons[0]!, /no-such-dir-for-warmer/);
  await warmer.close();
});

test(
  "on this machine's cgroups, holding moves this process nowhere",
  {
    skip:
      process.getuid?.() !== 0 || !ownCgroupProcsFile()
        ? "needs root and a cgroup.procs of its own"
        : false,
  },
  async () => {
    const before = readFileSync("/proc/self/cgroup", "utf8");
    const reasons: string[] = [];
    const warmer = new CgroupMigrationWarmer({ onDisabled: (why) => reasons.push(why) });
    await warmer.during(() => sleep(30));
    await warmer.close();
    assert.deepEqual(reasons, []);
    assert.equal(readFileSync("/proc/self/cgroup", "utf8"), before);
  },
);
