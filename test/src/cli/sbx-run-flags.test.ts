// `sbx run IMAGE` with the container flags nerdctl and podman users type: -v/--mount
// (rw and ro), --memory/--cpus (read back from the container's cgroup on the host),
// --cap-add/--cap-drop, --privileged, --net none|host. Real sbx, sandboxd, sbx-sandboxer,
// runc and docker-registry. Root.
import assert from "node:assert/strict";
import { existsSync, readFileSync, readlinkSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { buildImage, busyboxEntries, pushImage, startRegistry } from "@sandboxd/testing";
import { assertEmpty, setupSbx } from "./harness.js";

/** Prints the effective capability mask (hex) with shell builtins only. */
const capEff = 'while read k v; do [ "$k" = CapEff: ] && echo $v; done < /proc/self/status; true';
/** The network namespace and the interface names, one a line. */
const netView =
  'readlink /proc/self/ns/net; while read l; do case "$l" in *:*) echo "${l%%:*}";; esac; done < /proc/net/dev';

/** What --privileged gives: every capability in the bounding set (of this test, as of sbx). */
function fullMask(): string {
  const m = /^CapBnd:\s*([0-9a-f]+)$/m.exec(readFileSync("/proc/self/status", "utf8"));
  return m?.[1] ?? "?";
}

test("sbx run IMAGE: volumes, limits, capabilities, privileged, network modes", async (t) => {
  const { sbx, client, daemon } = await setupSbx(t);
  const reg = await startRegistry(t);
  const image = await pushImage(
    reg,
    "cli/flags",
    "v1",
    buildImage({
      config: { Cmd: ["sh"], Env: ["PATH=/bin"] },
      layers: [{ compression: "gzip", entries: busyboxEntries() }],
    }),
  );
  const pulled = await sbx(["pull", image]);
  assert.equal(pulled.status, 0, pulled.stderr);
  const run = (...args: string[]) => sbx(["run", "--rm", ...args]);

  await t.test("-v and --mount: read-write and read-only binds", async () => {
    const dir = join(daemon.dir, "vol");
    await mkdir(dir);
    await writeFile(join(dir, "in"), "hello\n");
    const rw = await run(
      "-v",
      `${dir}:/data`,
      image,
      "sh",
      "-c",
      "cat /data/in; echo rw > /data/f",
    );
    assert.equal(rw.status, 0, rw.stderr);
    assert.equal(rw.stdout, "hello\n");
    assert.equal(await readFile(join(dir, "f"), "utf8"), "rw\n");
    const ro = await run(
      "-v",
      `${dir}:/data:ro`,
      image,
      "sh",
      "-c",
      "cat /data/in; echo x > /data/g",
    );
    assert.notEqual(ro.status, 0);
    assert.equal(ro.stdout, "hello\n");
    assert.match(ro.stderr, /read-only/i);
    assert.equal(existsSync(join(dir, "g")), false);
    const mount = await run(
      "--mount",
      `type=bind,src=${dir},dst=/m,ro`,
      image,
      "sh",
      "-c",
      "cat /m/in; touch /m/h",
    );
    assert.notEqual(mount.status, 0);
    assert.equal(mount.stdout, "hello\n");
    assert.equal(existsSync(join(dir, "h")), false);
    const made = await run("-v", `${dir}/new/sub:/n`, image, "touch", "/n/x");
    assert.equal(made.status, 0, made.stderr);
    assert.equal(existsSync(join(dir, "new", "sub", "x")), true, "a missing host dir is made");
    const file = await run("-v", `${dir}/in:/etc/motd:ro`, image, "cat", "/etc/motd");
    assert.equal(file.status, 0, file.stderr);
    assert.equal(file.stdout, "hello\n", "a file is bound as it is");
    const tmpfs = await run(
      "--mount",
      "type=tmpfs,dst=/scratch",
      image,
      "sh",
      "-c",
      "echo t > /scratch/f && cat /scratch/f && while read d m t r; do [ $m = /scratch ] && echo $t; done < /proc/mounts; true",
    );
    assert.equal(tmpfs.status, 0, tmpfs.stderr);
    assert.equal(tmpfs.stdout, "t\ntmpfs\n");
    const relative = await run("-v", "vol:/data", image, "true");
    assert.equal(relative.status, 1);
    assert.match(relative.stderr, /"vol" must be an absolute host path/);
    await assertEmpty(client);
  });

  await t.test("--memory and --cpus reach the container's cgroup", async () => {
    const r = await sbx([
      "run",
      "-d",
      "--name",
      "lim",
      "-m",
      "64m",
      "--cpus",
      "0.5",
      image,
      "sleep",
      "600",
    ]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, "lim\n");
    const container = await client.loadContainer("lim");
    try {
      const pid = (await container.task()).pid;
      const cgroups = await readFile(`/proc/${pid}/cgroup`, "utf8");
      const v1 = (controller: string): string | undefined =>
        new RegExp(`^\\d+:[^:]*\\b${controller}\\b[^:]*:(.*)$`, "m").exec(cgroups)?.[1];
      const memoryV1 = v1("memory");
      if (memoryV1 !== undefined) {
        const memory = join("/sys/fs/cgroup/memory", memoryV1, "memory.limit_in_bytes");
        assert.equal((await readFile(memory, "utf8")).trim(), String(64 << 20));
        const cpu = join("/sys/fs/cgroup/cpu", v1("cpu") ?? "?");
        assert.equal((await readFile(join(cpu, "cpu.cfs_quota_us"), "utf8")).trim(), "50000");
        assert.equal((await readFile(join(cpu, "cpu.cfs_period_us"), "utf8")).trim(), "100000");
      } else {
        const dir = join("/sys/fs/cgroup", /^0::(.*)$/m.exec(cgroups)?.[1] ?? "?");
        assert.equal((await readFile(join(dir, "memory.max"), "utf8")).trim(), String(64 << 20));
        assert.equal((await readFile(join(dir, "cpu.max"), "utf8")).trim(), "50000 100000");
      }
    } finally {
      await container.delete({ force: true });
      await (await client.loadSandbox("lim")).shutdown({ force: true });
    }
    const bad = await run("--memory", "lots", image, "true");
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /--memory "lots": want a size/);
    await assertEmpty(client);
  });

  await t.test("--cap-add and --cap-drop", async () => {
    const only = await run(
      "--cap-drop",
      "ALL",
      "--cap-add",
      "net_bind_service",
      image,
      "sh",
      "-c",
      capEff,
    );
    assert.equal(only.status, 0, only.stderr);
    assert.equal(only.stdout, "0000000000000400\n", "CAP_NET_BIND_SERVICE (10) alone");
    const plain = await run(image, "sh", "-c", capEff);
    const added = await run(
      "--cap-add",
      "CAP_SYS_ADMIN",
      "--cap-drop",
      "chown",
      image,
      "sh",
      "-c",
      capEff,
    );
    assert.equal(added.status, 0, added.stderr);
    const mask = (s: string) => BigInt(`0x${s.trim()}`);
    const sysAdmin = 1n << 21n;
    assert.equal(mask(plain.stdout) & sysAdmin, 0n);
    assert.equal(mask(added.stdout), (mask(plain.stdout) | sysAdmin) & ~1n);
    const bad = await run("--cap-add", "FLY", image, "true");
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /--cap-add "FLY": not a capability/);
  });

  await t.test("--privileged: every capability, and it can mount", async () => {
    const mountTmpfs = "mkdir -p /mnt/t && busybox mount -t tmpfs none /mnt/t && echo mounted";
    const priv = await run("--privileged", image, "sh", "-c", `${capEff}; ${mountTmpfs}`);
    assert.equal(priv.status, 0, priv.stderr);
    assert.equal(priv.stdout, `${fullMask()}\nmounted\n`);
    const plain = await run(image, "sh", "-c", mountTmpfs);
    assert.notEqual(plain.status, 0, "without --privileged the mount is refused");
    assert.equal(plain.stdout, "");
  });

  await t.test("--net none, --net host and the default bridge", async () => {
    const hostNs = readlinkSync("/proc/self/ns/net");
    const none = await run("--net", "none", image, "sh", "-c", netView);
    assert.equal(none.status, 0, none.stderr);
    const [noneNs, ...noneIfs] = none.stdout.trim().split("\n");
    assert.notEqual(noneNs, hostNs);
    assert.deepEqual(
      noneIfs.map((s) => s.trim()),
      ["lo"],
      "loopback only",
    );
    const host = await run("--net", "host", image, "sh", "-c", netView);
    assert.equal(host.status, 0, host.stderr);
    assert.equal(host.stdout.split("\n")[0], hostNs, "the host's network namespace");
    const bridge = await run(image, "sh", "-c", netView);
    assert.equal(bridge.status, 0, bridge.stderr);
    const [bridgeNs, ...bridgeIfs] = bridge.stdout.trim().split("\n");
    assert.notEqual(bridgeNs, hostNs);
    assert.ok(bridgeIfs.map((s) => s.trim()).includes("eth0"), `CNI's eth0 in ${bridge.stdout}`);
    const clash = await run("--net", "none", "-p", "8080:80", image, "true");
    assert.equal(clash.status, 1);
    assert.match(clash.stderr, /--publish needs the sandbox's own network, not --net none/);
    await assertEmpty(client);
  });
});
