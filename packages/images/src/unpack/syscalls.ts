/**
 * The few syscalls Node's fs lacks (mknod, lsetxattr, lgetxattr), through
 * koffi's FFI into libc. Loaded on first use; errors carry the errno code
 * like Node's fs errors.
 */
import koffi from "koffi";
import { constants } from "node:os";

interface Libc {
  mknod: (path: string, mode: number, dev: bigint) => number;
  lsetxattr: (path: string, name: string, value: Buffer, size: number, flags: number) => number;
  lgetxattr: (path: string, name: string, value: Buffer, size: number) => number;
}

let libc: Libc | undefined;

function load(): Libc {
  if (libc) return libc;
  const lib = koffi.load("libc.so.6");
  libc = {
    mknod: lib.func("int mknod(const char *path, uint32_t mode, uint64_t dev)") as Libc["mknod"],
    lsetxattr: lib.func(
      "int lsetxattr(const char *path, const char *name, const void *value, size_t size, int flags)",
    ) as Libc["lsetxattr"],
    lgetxattr: lib.func(
      "long lgetxattr(const char *path, const char *name, void *value, size_t size)",
    ) as Libc["lgetxattr"],
  };
  return libc;
}

const errnoNames = new Map<number, string>(
  Object.entries(constants.errno).map(([name, n]) => [n, name]),
);

function fail(syscall: string, path: string): never {
  const errno = koffi.errno();
  const code = errnoNames.get(errno) ?? `E${errno}`;
  const err = new Error(`${code}: ${syscall} ${path}`) as NodeJS.ErrnoException;
  err.code = code;
  err.errno = -errno;
  err.syscall = syscall;
  err.path = path;
  throw err;
}

/** glibc's makedev. */
export function makedev(major: number, minor: number): bigint {
  const ma = BigInt(major);
  const mi = BigInt(minor);
  return (
    ((ma & 0xfffff000n) << 32n) | ((ma & 0xfffn) << 8n) | ((mi & 0xffffff00n) << 12n) | (mi & 0xffn)
  );
}

export function mknod(path: string, mode: number, dev: bigint): void {
  if (load().mknod(path, mode, dev) !== 0) fail("mknod", path);
}

/** Sets an xattr on the path itself (not a symlink's target); false when the filesystem does not support it. */
export function lsetxattr(path: string, name: string, value: Buffer): boolean {
  if (load().lsetxattr(path, name, value, value.length, 0) === 0) return true;
  const errno = koffi.errno();
  if (errno === constants.errno.ENOTSUP) return false;
  fail("lsetxattr", path);
}

export const S_IFCHR = 0o020000;
export const S_IFBLK = 0o060000;
export const S_IFIFO = 0o010000;

/** Reads an xattr of the path itself; undefined when it is not set. */
export function lgetxattr(path: string, name: string): Buffer | undefined {
  const buf = Buffer.alloc(64 << 10);
  const n = load().lgetxattr(path, name, buf, buf.length);
  if (n >= 0) return buf.subarray(0, n);
  if (koffi.errno() === constants.errno.ENODATA) return undefined;
  fail("lgetxattr", path);
}
