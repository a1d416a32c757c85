/**
 * mkfifo(3), mount(2) and umount2(2) through koffi's FFI into libc, for the
 * request paths that would otherwise fork a helper (mkfifo(1), mount(8),
 * umount(8)) per call: a spawn
 * blocks the daemon's event loop while its large process forks and until the
 * child runs, which a busy machine stretches to tens of milliseconds. koffi is
 * loaded on first use, so importing core does not load it.
 */
import { closeSync, openSync } from "node:fs";
import { constants } from "node:os";
import type KoffiModule from "koffi";

/** The libc calls this folder shares (pin.ts and spawn.ts add their own to these). */
export interface Libc {
  mkfifo: (path: string, mode: number) => number;
  mount: (source: string, target: string, fstype: string, flags: number, data: string) => number;
  umount2: (target: string, flags: number) => number;
  setns: (fd: number, nstype: number) => number;
  sethostname: (name: string, len: number) => number;
  errno: () => number;
}

// A type-only import: koffi itself is loaded on first use.
type Koffi = typeof KoffiModule;

let opened: Promise<{ koffi: Koffi; lib: ReturnType<Koffi["load"]> }> | undefined;

/** koffi and libc, loaded once for every binding of this folder (mount, spawn, ...). */
export function openLibc(): Promise<{ koffi: Koffi; lib: ReturnType<Koffi["load"]> }> {
  opened ??= import("koffi").then(({ default: koffi }) => ({
    koffi,
    lib: koffi.load("libc.so.6"),
  }));
  return opened;
}

let libc: Promise<Libc> | undefined;

export function loadLibc(): Promise<Libc> {
  libc ??= openLibc().then(({ koffi, lib }) => ({
    mkfifo: lib.func("int mkfifo(const char *path, uint32_t mode)") as Libc["mkfifo"],
    mount: lib.func(
      "int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data)",
    ) as Libc["mount"],
    umount2: lib.func("int umount2(const char *target, int flags)") as Libc["umount2"],
    setns: lib.func("int setns(int fd, int nstype)") as Libc["setns"],
    sethostname: lib.func("int sethostname(const char *name, size_t len)") as Libc["sethostname"],
    errno: () => koffi.errno(),
  }));
  return libc;
}

const errnoNames = new Map<number, string>(
  Object.entries(constants.errno).map(([name, n]) => [n, name]),
);

/**
 * An error like Node's own (`code` EEXIST, ..., `errno`, `syscall`, `path`),
 * its message built from the code.
 */
export function errnoError(
  errno: number,
  syscall: string,
  path: string,
  message: (code: string) => string,
): NodeJS.ErrnoException {
  const code = errnoNames.get(errno) ?? `E${errno}`;
  const err: NodeJS.ErrnoException = new Error(message(code));
  err.code = code;
  err.errno = -errno;
  err.syscall = syscall;
  err.path = path;
  return err;
}

/** As Node's fs errors: `EEXIST: mkfifo PATH`. */
function failure(errno: number, syscall: string, path: string): NodeJS.ErrnoException {
  return errnoError(errno, syscall, path, (code) => `${code}: ${syscall} ${path}`);
}

/** Makes a FIFO at `path` (the process umask applies to `mode`, as with mkfifo(1) without -m). */
export async function mkfifo(path: string, mode: number): Promise<void> {
  const c = await loadLibc();
  if (c.mkfifo(path, mode) !== 0) throw failure(c.errno(), "mkfifo", path);
}

/** mount(2)'s flags that mount(8) takes from option words (the rest is the filesystem's data). */
export const MountFlag = {
  rdonly: 0x1,
  nosuid: 0x2,
  nodev: 0x4,
  noexec: 0x8,
  synchronous: 0x10,
  dirsync: 0x80,
  noatime: 0x400,
  nodiratime: 0x800,
  relatime: 0x200000,
  strictatime: 0x1000000,
} as const;

/** mount(8)'s option words that set or clear a flag. */
const flagWords: Record<string, [flag: number, set: boolean]> = {
  ro: [MountFlag.rdonly, true],
  rw: [MountFlag.rdonly, false],
  nosuid: [MountFlag.nosuid, true],
  suid: [MountFlag.nosuid, false],
  nodev: [MountFlag.nodev, true],
  dev: [MountFlag.nodev, false],
  noexec: [MountFlag.noexec, true],
  exec: [MountFlag.noexec, false],
  sync: [MountFlag.synchronous, true],
  async: [MountFlag.synchronous, false],
  dirsync: [MountFlag.dirsync, true],
  noatime: [MountFlag.noatime, true],
  atime: [MountFlag.noatime, false],
  nodiratime: [MountFlag.nodiratime, true],
  diratime: [MountFlag.nodiratime, false],
  relatime: [MountFlag.relatime, true],
  norelatime: [MountFlag.relatime, false],
  strictatime: [MountFlag.strictatime, true],
};

/**
 * Flags and data of a new (not bind, not remount, not propagation) mount from
 * mount(8)-style option words; undefined when a word needs more than mount(2)
 * (bind, remount, propagation, loop, x-*): the caller runs mount(8) then.
 */
export function mountOptions(
  options: readonly string[],
): { flags: number; data: string } | undefined {
  let flags = 0;
  const data: string[] = [];
  for (const o of options) {
    const word = flagWords[o];
    if (word) {
      flags = word[1] ? flags | word[0] : flags & ~word[0];
      continue;
    }
    if (o === "defaults") continue;
    if (
      /^(r?bind|remount|move|loop|r?(private|shared|slave|unbindable))$/.test(o) ||
      o.startsWith("x-") ||
      o.startsWith("loop=")
    )
      return undefined;
    data.push(o);
  }
  return { flags, data: data.join(",") };
}

/** mount(2) of a new filesystem: `mount -t fstype -o options source target`. */
export async function mountFs(
  source: string,
  target: string,
  fstype: string,
  flags: number,
  data: string,
): Promise<void> {
  const c = await loadLibc();
  if (c.mount(source, target, fstype, flags, data) !== 0) throw failure(c.errno(), "mount", target);
}

const MS_BIND = 0x1000;

/** `mount --bind source target` as one mount(2) (e.g. a pinned namespace file on another file). */
export async function bindMount(source: string, target: string): Promise<void> {
  const c = await loadLibc();
  if (c.mount(source, target, "", MS_BIND, "") !== 0) throw failure(c.errno(), "mount", target);
}

const CLONE_NEWUTS = 0x04000000;

/**
 * Sets the hostname of the UTS namespace at `uts` (a pinned namespace file):
 * this thread enters it for the one sethostname(2) call and returns to its own,
 * with no JavaScript running in between (setns moves only the calling thread).
 */
export async function setHostnameIn(uts: string, name: string): Promise<void> {
  const c = await loadLibc();
  const own = openSync("/proc/thread-self/ns/uts", "r");
  try {
    const target = openSync(uts, "r");
    try {
      if (c.setns(target, CLONE_NEWUTS) !== 0) throw failure(c.errno(), "setns", uts);
    } finally {
      closeSync(target);
    }
    const failed = c.sethostname(name, Buffer.byteLength(name)) === 0 ? 0 : c.errno();
    if (c.setns(own, CLONE_NEWUTS) !== 0) {
      // Still in the pod's namespace: this process's own hostname is wrong from here on.
      throw failure(c.errno(), "setns", "/proc/thread-self/ns/uts");
    }
    if (failed) throw failure(failed, "sethostname", uts);
  } finally {
    closeSync(own);
  }
}

/** umount2(2)'s flags. */
export const UnmountFlag = {
  /** MNT_DETACH: lazy, as `umount -l`. */
  detach: 0x2,
} as const;

/**
 * umount2(2) of `target`: true when a mount was removed, false when nothing is
 * mounted there or the path does not exist (EINVAL, ENOENT), which is what a
 * cleanup that may run twice wants; any other failure (EBUSY, EPERM) throws.
 */
export async function unmount(target: string, flags = 0): Promise<boolean> {
  const c = await loadLibc();
  if (c.umount2(target, flags) === 0) return true;
  const errno = c.errno();
  if (errno === constants.errno.EINVAL || errno === constants.errno.ENOENT) return false;
  throw failure(errno, "umount", target);
}

/** Unmounts `target` until nothing is mounted there (stacked mounts included). */
export async function unmountAll(target: string): Promise<void> {
  for (let i = 0; i < 32; i++) if (!(await unmount(target))) return;
  throw failure(constants.errno.EBUSY, "umount (32 stacked mounts)", target);
}
