import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readlinkSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { unmount } from "./libc.js";
import { pinNewNamespaces } from "./pin.js";

const root = process.getuid?.() === 0;

function mounted(path: string): boolean {
  return execFileSync("cat", ["/proc/self/mountinfo"], { encoding: "utf8" })
    .split("\n")
    .some((line) => line.split(" ")[4] === path);
}

/**
 * A directory that is a private bind mount of itself (nsfs bind mounts are refused on a
 * shared mount), removed after the test with whatever is still mounted in it.
 */
async function privateDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "pin-"));
  execFileSync("mount", ["--bind", dir, dir]);
  execFileSync("mount", ["--make-private", dir]);
  t.after(async () => {
    for (const name of ["net", "uts", "ipc"])
      await unmount(join(dir, name), 0x2).catch(() => false);
    await unmount(dir, 0x2);
    await rm(dir, { recursive: true, force: true });
  });
  return dir;
}

function ownNamespaces(): string[] {
  return ["net", "uts", "ipc"].map((k) => readlinkSync(`/proc/thread-self/ns/${k}`));
}

test(
  "pinNewNamespaces: new net, uts and ipc namespaces pinned, named, lo up; this thread stays in its own",
  {
    skip: root ? false : "needs root",
  },
  async (t) => {
    const dir = await privateDir(t);
    const pins = { net: join(dir, "net"), uts: join(dir, "uts"), ipc: join(dir, "ipc") };
    for (const p of Object.values(pins)) await writeFile(p, "");
    const before = ownNamespaces();
    await pinNewNamespaces(pins, { hostname: "pinned-pod", loopback: true });
    assert.deepEqual(ownNamespaces(), before, "the calling thread is back in its namespaces");
    for (const p of Object.values(pins)) assert.ok(mounted(p), `${p} pinned`);
    const inPod = (kind: string, ...cmd: string[]): string =>
      execFileSync("nsenter", [`--${kind}=${pins[kind as keyof typeof pins]}`, ...cmd], {
        encoding: "utf8",
      });
    assert.equal(inPod("uts", "hostname").trim(), "pinned-pod");
    assert.match(inPod("net", "ip", "-o", "link", "show", "lo"), /<LOOPBACK,UP,LOWER_UP>/);
    assert.doesNotMatch(
      inPod("net", "ip", "-o", "link"),
      /eth0|veth/,
      "a network namespace of its own",
    );
    assert.notEqual(
      execFileSync("stat", ["-L", "-c", "%i", pins.net], { encoding: "utf8" }).trim(),
      execFileSync("stat", ["-L", "-c", "%i", "/proc/self/ns/net"], { encoding: "utf8" }).trim(),
    );
  },
);

test(
  "pinNewNamespaces: a pin that cannot be made leaves nothing mounted and this thread where it was",
  {
    skip: root ? false : "needs root",
  },
  async (t) => {
    const dir = await privateDir(t);
    await writeFile(join(dir, "uts"), "");
    const before = ownNamespaces();
    await assert.rejects(
      pinNewNamespaces(
        { uts: join(dir, "uts"), net: join(dir, "missing", "net") },
        { hostname: "x" },
      ),
      { code: "ENOENT", syscall: "mount" },
    );
    assert.deepEqual(ownNamespaces(), before);
    assert.equal(mounted(join(dir, "uts")), false, "the pin made before the failure is gone");
    assert.notEqual(execFileSync("hostname", { encoding: "utf8" }).trim(), "x");
  },
);
