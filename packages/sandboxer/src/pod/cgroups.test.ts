import assert from "node:assert/strict";
import { test } from "node:test";
import { parseFlatKeyed } from "./cgroup-stats.js";
import { Cgroups, containerCgroupsPath, detectLayout, sandboxCgroup } from "./cgroups.js";
import { sumResources } from "./resources.js";

const hybrid = `25 30 0:22 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
26 25 0:23 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate
27 25 0:24 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,xattr,name=systemd
28 25 0:25 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:12 - cgroup cgroup rw,cpu,cpuacct
29 25 0:26 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup rw,memory
30 25 0:27 / /sys/fs/cgroup/freezer rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,freezer
31 25 0:28 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,pids`;

const unified = `25 30 0:22 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot`;

test("hybrid v1: one hierarchy per controller group, the empty unified tree included", () => {
  const layout = detectLayout(hybrid);
  assert.equal(layout.version, 1);
  if (layout.version !== 1) return;
  assert.deepEqual(
    layout.hierarchies.map((h) => `${h.mount}=${h.controllers.join("+")}`),
    [
      "/sys/fs/cgroup/unified=",
      "/sys/fs/cgroup/systemd=",
      "/sys/fs/cgroup/cpu,cpuacct=cpu+cpuacct",
      "/sys/fs/cgroup/memory=memory",
      "/sys/fs/cgroup/freezer=freezer",
      "/sys/fs/cgroup/pids=pids",
    ],
  );
  const cg = new Cgroups(layout);
  const rel = sandboxCgroup("sbx", "default", "pod1");
  assert.equal(rel, "sbx/default/pod1");
  assert.equal(cg.dirs(rel).length, 6);
  assert.equal(cg.dirFor(rel, "cpuacct"), "/sys/fs/cgroup/cpu,cpuacct/sbx/default/pod1");
  assert.equal(cg.dirFor(rel, "freezer"), "/sys/fs/cgroup/freezer/sbx/default/pod1");
  assert.equal(cg.dirFor(rel, "blkio"), undefined);
  assert.equal(containerCgroupsPath(rel, "c1"), "/sbx/default/pod1/c1");
});

test("pure v2: a single tree; freezing is built in", () => {
  const layout = detectLayout(unified);
  assert.equal(layout.version, 2);
  const cg = new Cgroups(layout);
  assert.deepEqual(cg.dirs("/sbx/ns/p"), ["/sys/fs/cgroup/sbx/ns/p"]);
  assert.equal(cg.dirFor("sbx/ns/p", "freezer"), "/sys/fs/cgroup/sbx/ns/p");
});

test("flat keyed files parse to counters", () => {
  const m = parseFlatKeyed("usage_usec 120\nuser_usec 100\nsystem_usec 20\nbad line here\n");
  assert.equal(m.get("usage_usec"), 120n);
  assert.equal(m.get("system_usec"), 20n);
  assert.equal(m.has("bad"), false);
});

test("a sandbox is sized as the sum of its containers; one unlimited container unlimits the pod", () => {
  assert.deepEqual(sumResources([]), {});
  assert.deepEqual(
    sumResources([
      {
        cpu: { quota: 50000, period: 100000, shares: 512 },
        memory: { limit: 100 },
        pids: { limit: 10 },
      },
      {
        cpu: { quota: 20000, period: 50000, shares: 256 },
        memory: { limit: 50 },
        pids: { limit: 5 },
      },
    ]),
    { cpuQuotaUs: 90000, cpuPeriodUs: 100000, memoryBytes: 150, pids: 15, cpuShares: 768 },
  );
  assert.deepEqual(sumResources([{ memory: { limit: 100 } }, undefined]), {});
  assert.deepEqual(
    sumResources([{ memory: { limit: 100 } }, { memory: { limit: 20 }, cpu: { quota: 10 } }]),
    {
      memoryBytes: 120,
    },
  );
});
