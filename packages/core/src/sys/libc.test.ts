import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";
import {
  MountFlag,
  UnmountFlag,
  bindMount,
  mkfifo,
  mountFs,
  mountOptions,
  setHostnameIn,
  unmount,
  unmountAll,
} from "./libc.js";

const run = promisify(execFile);

test("mkfifo makes a FIFO; an existing path is EEXIST, a missing directory ENOENT", async () => {
  const dir = await mkdtemp(join(tmpdir(), "core-libc-"));
  try {
    const p = join(dir, "f");
    await mkfifo(p, 0o600);
    const st = await stat(p);
    assert.ok(st.isFIFO());
    assert.equal(st.mode & 0o700, 0o600);
    await assert.rejects(mkfifo(p, 0o600), { code: "EEXIST", syscall: "mkfifo", path: p });
    await assert.rejects(mkfifo(join(dir, "no", "f"), 0o600), { code: "ENOENT" });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("mountOptions: flag words become flags, the rest data; bind and propagation need mount(8)", () => {
  assert.deepEqual(mountOptions(["rw", "lowerdir=/a:/b", "upperdir=/u", "workdir=/w"]), {
    flags: 0,
    data: "lowerdir=/a:/b,upperdir=/u,workdir=/w",
  });
  assert.deepEqual(mountOptions(["ro", "nosuid", "nodev", "mode=755"]), {
    flags: MountFlag.rdonly | MountFlag.nosuid | MountFlag.nodev,
    data: "mode=755",
  });
  assert.deepEqual(mountOptions(["ro", "rw", "defaults"]), { flags: 0, data: "" });
  for (const o of ["bind", "rbind", "remount", "rprivate", "shared", "x-gvfs-show", "loop"])
    assert.equal(mountOptions(["ro", o]), undefined, o);
});

test("mountFs mounts a new filesystem with its flags and data; failures carry errno", async (t) => {
  if (process.getuid?.() !== 0) {
    t.skip("needs root");
    return;
  }
  const dir = await mkdtemp(join(tmpdir(), "core-libc-"));
  const target = join(dir, "m");
  await mkdir(target);
  try {
    await mountFs(
      "sbxtest",
      target,
      "tmpfs",
      MountFlag.nosuid | MountFlag.nodev,
      "size=1m,mode=700",
    );
    await writeFile(join(target, "x"), "y");
    const line = (await readFile("/proc/self/mountinfo", "utf8"))
      .split("\n")
      .find((l) => l.split(" ")[4] === target);
    assert.ok(line, "mounted");
    assert.match(line, /nosuid,nodev/);
    assert.match(line, /- tmpfs sbxtest rw.*size=1024k,mode=700/);
    await assert.rejects(mountFs("x", join(dir, "none"), "tmpfs", 0, ""), {
      code: "ENOENT",
      syscall: "mount",
    });
  } finally {
    await run("umount", [target]).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
});

test("unmount and unmountAll: stacked mounts all go; nothing mounted or no path is false", async (t) => {
  if (process.getuid?.() !== 0) {
    t.skip("needs root");
    return;
  }
  const dir = await mkdtemp(join(tmpdir(), "core-libc-"));
  const target = join(dir, "m");
  await mkdir(target);
  const mountsAt = async (): Promise<number> =>
    (await readFile("/proc/self/mountinfo", "utf8"))
      .split("\n")
      .filter((l) => l.split(" ")[4] === target).length;
  try {
    assert.equal(await unmount(target), false, "a plain directory");
    assert.equal(await unmount(join(dir, "missing")), false, "a missing path");
    await mountFs("sbxtest", target, "tmpfs", 0, "size=1m");
    assert.equal(await unmount(target), true);
    assert.equal(await mountsAt(), 0);
    for (let i = 0; i < 3; i++) await mountFs(`sbxtest${i}`, target, "tmpfs", 0, "size=1m");
    assert.equal(await mountsAt(), 3);
    await unmountAll(target);
    assert.equal(await mountsAt(), 0);
    await unmountAll(target);
    // Busy: a process holds a directory on the mount, so only a lazy unmount takes it.
    await mountFs("sbxtest", target, "tmpfs", 0, "size=1m");
    await mkdir(join(target, "d"));
    const holder = spawn("sleep", ["600"], { cwd: join(target, "d"), stdio: "ignore" });
    try {
      await new Promise((resolve) => holder.once("spawn", resolve));
      await assert.rejects(unmount(target), { code: "EBUSY", syscall: "umount", path: target });
      assert.equal(await unmount(target, UnmountFlag.detach), true);
      assert.equal(await mountsAt(), 0);
    } finally {
      holder.kill("SIGKILL");
    }
  } finally {
    await run("umount", ["-l", target]).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
});

test("setHostnameIn names a pinned UTS namespace and leaves this process's own; bindMount pins it twice", async (t) => {
  if (process.getuid?.() !== 0) {
    t.skip("needs root");
    return;
  }
  const dir = await mkdtemp(join(tmpdir(), "core-libc-"));
  const uts = join(dir, "uts");
  const again = join(dir, "uts-again");
  t.after(async () => {
    await unmount(again).catch(() => undefined);
    await unmount(uts).catch(() => undefined);
    await unmount(dir).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });
  // A namespace can be pinned only on a private mount (as the sandboxer's pin root is).
  await run("mount", ["--bind", dir, dir]);
  await run("mount", ["--make-private", dir]);
  await writeFile(uts, "");
  await writeFile(again, "");
  await run("unshare", [`--uts=${uts}`, "true"]);
  const own = hostname();
  await setHostnameIn(uts, "pod-name");
  assert.equal(hostname(), own);
  await bindMount(uts, again);
  const seen = await run("nsenter", [`--uts=${again}`, "hostname"]);
  assert.equal(seen.stdout.trim(), "pod-name");
  await assert.rejects(setHostnameIn(join(dir, "missing"), "x"), { code: "ENOENT" });
  // Not a namespace: setns refuses it, and this process stays in its own.
  await writeFile(join(dir, "plain"), "");
  await assert.rejects(setHostnameIn(join(dir, "plain"), "x"), {
    code: "EINVAL",
    syscall: "setns",
  });
  assert.equal(hostname(), own);
});
