/**
 * A minimal root filesystem built from Debian's busybox-static: enough for containers that
 * run shell commands, with no image and no network. It is the SDK's default rootfs.
 *
 * Building is idempotent and safe under concurrency: the tree is assembled in a private
 * temporary directory next to the target and renamed into place in one step, so a reader
 * sees either no rootfs or a complete one, and two builders racing both succeed.
 */
import {
  chmod,
  copyFile,
  mkdir,
  open,
  rename,
  rm,
  stat,
  symlink,
  writeFile,
} from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { promisify } from "node:util";

/** Where Debian's busybox-static package installs busybox. */
export const BUSYBOX_PATH = "/bin/busybox";

/** Written last: its presence means the rootfs is complete. */
const MARKER = ".sandboxd-busybox-rootfs";

export interface BusyboxRootfsOptions {
  /** The busybox binary to install (default {@link BUSYBOX_PATH}); it must be static. */
  readonly busybox?: string;
}

const passwd = [
  "root:x:0:0:root:/root:/bin/sh",
  "nobody:x:65534:65534:nobody:/nonexistent:/bin/false",
  "",
].join("\n");
const group = ["root:x:0:", "nogroup:x:65534:", ""].join("\n");
const hosts = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback", ""].join("\n");

/**
 * Makes `dir` a busybox root filesystem (`bin/busybox` plus one symlink per applet, `etc`
 * basics, empty `proc`, `sys`, `dev`, `tmp`, `run`, `root`, `var`) unless it already is
 * one. `dir` must not exist, be empty, or already hold a rootfs made by this function.
 * Returns `dir`.
 */
export async function prepareBusyboxRootfs(
  dir: string,
  options: BusyboxRootfsOptions = {},
): Promise<string> {
  if (await isReady(dir)) return dir;
  const busybox = options.busybox ?? BUSYBOX_PATH;
  await checkBusybox(busybox);
  await mkdir(dirname(dir), { recursive: true });
  // node:crypto (and node:child_process below) only when a rootfs is built: the SDK's
  // index exports this, and every sbx command would load them at start-up otherwise.
  const { randomBytes } = await import("node:crypto");
  const tmp = join(
    dirname(dir),
    `.${basename(dir)}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`,
  );
  try {
    await build(tmp, busybox);
    try {
      // rename(2) replaces an empty directory, and fails if the target has content.
      await rename(tmp, dir);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if ((code === "ENOTEMPTY" || code === "EEXIST") && (await isReady(dir))) return dir; // another builder won
      if (code === "ENOTEMPTY" || code === "EEXIST") {
        throw new Error(`${dir} exists and is not a busybox rootfs made by prepareBusyboxRootfs`, {
          cause: err,
        });
      }
      throw err;
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return dir;
}

async function isReady(dir: string): Promise<boolean> {
  return stat(join(dir, MARKER)).then(
    () => true,
    () => false,
  );
}

async function build(root: string, busybox: string): Promise<void> {
  await mkdir(root, { mode: 0o755 });
  for (const sub of ["bin", "etc", "proc", "sys", "dev", "run", "var", "root"]) {
    await mkdir(join(root, sub), { mode: 0o755 });
  }
  await mkdir(join(root, "tmp"));
  await chmod(join(root, "tmp"), 0o1777);
  await mkdir(join(root, "usr"));
  // Scripts often name /usr/bin/env and friends; everything lives in /bin.
  await symlink("../bin", join(root, "usr", "bin"));
  await symlink("bin", join(root, "sbin"));
  await copyFile(busybox, join(root, "bin", "busybox"));
  await chmod(join(root, "bin", "busybox"), 0o755);
  for (const applet of await applets(busybox)) {
    if (applet === "busybox") continue;
    await symlink("busybox", join(root, "bin", applet));
  }
  await writeFile(join(root, "etc", "passwd"), passwd);
  await writeFile(join(root, "etc", "group"), group);
  await writeFile(join(root, "etc", "hosts"), hosts);
  await writeFile(join(root, "etc", "hostname"), "sandbox\n");
  await writeFile(join(root, "etc", "resolv.conf"), "");
  await writeFile(join(root, MARKER), "");
}

async function applets(busybox: string): Promise<string[]> {
  const { execFile } = await import("node:child_process");
  const { stdout } = await promisify(execFile)(busybox, ["--list"]);
  return [...new Set(stdout.split("\n").filter((name) => /^[\w.[-]+$/.test(name)))];
}

async function checkBusybox(path: string): Promise<void> {
  let head: Buffer;
  try {
    head = await readHead(path);
  } catch (err) {
    throw new Error(`busybox not found at ${path}: apt-get install busybox-static`, { cause: err });
  }
  if (hasInterpreter(head)) {
    throw new Error(
      `${path} is dynamically linked; the rootfs has no libc: apt-get install busybox-static`,
    );
  }
}

async function readHead(path: string): Promise<Buffer> {
  const file = await open(path, "r");
  try {
    const buf = Buffer.alloc(64 * 1024);
    const { bytesRead } = await file.read(buf, 0, buf.length, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await file.close();
  }
}

/** Whether an ELF file has a PT_INTERP program header (a dynamic loader). */
function hasInterpreter(elf: Buffer): boolean {
  if (elf.length < 64 || elf.readUInt32BE(0) !== 0x7f454c46) return false; // not ELF: let exec decide
  const is64 = elf[4] === 2;
  const le = elf[5] === 1;
  const u16 = (o: number): number => (le ? elf.readUInt16LE(o) : elf.readUInt16BE(o));
  const u32 = (o: number): number => (le ? elf.readUInt32LE(o) : elf.readUInt32BE(o));
  const phoff = is64 ? Number(le ? elf.readBigUInt64LE(32) : elf.readBigUInt64BE(32)) : u32(28);
  const phentsize = u16(is64 ? 54 : 42);
  const phnum = u16(is64 ? 56 : 44);
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    if (at + 4 > elf.length) break;
    if (u32(at) === 3) return true; // PT_INTERP
  }
  return false;
}
