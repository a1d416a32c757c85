/**
 * Task bundles (containerd core/runtime/v2/bundle.go): the state directory a
 * shim runs in, `<state>/io.containerd.runtime.v2.task/<ns>/<id>` (0700,
 * parents 0711), with `config.json` (the container's spec), an empty
 * `rootfs/` for the shim to mount on, and `work`, a symlink to the
 * persistent `<root>/io.containerd.runtime.v2.task/<ns>/<id>`.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { lstatSync, mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { readdir, readFile, readlink, rm, rmdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { alreadyExists } from "@sandboxd/errdefs";
import { isValidIdentifier, validateIdentifier, writeFileAtomic } from "@sandboxd/core";

const execFileAsync = promisify(execFile);

/** containerd's plugin id for the v2 runtime, used as the bundle directory name. */
const runtimePluginId = "io.containerd.runtime.v2.task";

/** Files in a bundle that the daemon reads or writes. */
export const BundleFile = {
  Config: "config.json",
  ShimBinaryPath: "shim-binary-path",
  Bootstrap: "bootstrap.json",
  /** Written by 1.x shims: their ttrpc address. */
  Address: "address",
  Log: "log",
  /** The sandbox id, for a task served by its sandbox's task API. */
  Sandbox: "sandbox",
  /** sandboxd's own: the exit of a task whose shim died, kept until the task is deleted. */
  Exit: "exit.json",
} as const;

export class Bundle {
  readonly namespace: string;
  readonly id: string;
  readonly path: string;
  readonly workPath: string;

  constructor(namespace: string, id: string, path: string, workPath: string) {
    this.namespace = namespace;
    this.id = id;
    this.path = path;
    this.workPath = workPath;
  }

  file(name: string): string {
    return join(this.path, name);
  }

  /** A file's text, or undefined when it does not exist. */
  async read(name: string): Promise<string | undefined> {
    try {
      return await readFile(this.file(name), "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw err;
    }
  }

  /**
   * Writes a file whole or not at all: these files are rewritten while tasks
   * run (bootstrap.json on reconnect), and a daemon killed mid-write must not
   * leave an empty one for the next start to read. Not fsynced: the bundle is
   * state (a tmpfs on a node), gone after a reboot anyway.
   */
  write(name: string, data: string | Uint8Array): Promise<void> {
    return writeFileAtomic(this.file(name), data, { durable: false });
  }

  /**
   * `write`, done now on the calling thread: for the few bytes a task's create path
   * records before its shim starts, where four trips through the thread pool (open,
   * write, close, rename), each waking two threads, cost more than the syscalls.
   */
  writeNow(name: string, data: string | Uint8Array): void {
    const temp = this.file(`.${name}.${randomBytes(4).toString("hex")}.tmp`);
    try {
      writeFileSync(temp, data, { mode: 0o600, flag: "wx" });
      renameSync(temp, this.file(name));
    } catch (err) {
      rmSync(temp, { force: true });
      throw err;
    }
  }
}

export interface BundleDirs {
  /** `<state>/io.containerd.runtime.v2.task` */
  readonly state: string;
  /** `<root>/io.containerd.runtime.v2.task` */
  readonly root: string;
}

/** The task bundles' dirs, or another plugin's (the shim sandbox controller's) with `pluginId`. */
export function bundleDirs(root: string, state: string, pluginId = runtimePluginId): BundleDirs {
  return { root: join(root, pluginId), state: join(state, pluginId) };
}

function bundleFor(dirs: BundleDirs, namespace: string, id: string): Bundle {
  return new Bundle(namespace, id, join(dirs.state, namespace, id), join(dirs.root, namespace, id));
}

/**
 * Creates the bundle. On failure everything made so far is removed; a bundle
 * that already exists is AlreadyExists and left alone.
 *
 * The directories, the link and config.json (a few KiB) are made on the calling
 * thread, as containerd makes them in its request goroutine: about ten metadata
 * syscalls, no fsync, on the state dir (a tmpfs on a node). On an ext4 state dir at
 * load 16 they took a median 0.8 ms this way, 4.3 ms as thread-pool trips (each
 * wakes a worker, then the loop). Only a work dir left by an earlier task, of
 * unknown size, is removed off the thread.
 */
export async function createBundle(
  dirs: BundleDirs,
  namespace: string,
  id: string,
  spec: Uint8Array | undefined,
): Promise<Bundle> {
  validateIdentifier(id);
  const bundle = bundleFor(dirs, namespace, id);
  mkdirSync(join(dirs.state, namespace), { recursive: true, mode: 0o711 });
  try {
    mkdirSync(bundle.path, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST")
      throw alreadyExists(`bundle ${bundle.path}`);
    throw err;
  }
  try {
    mkdirSync(bundle.file("rootfs"), { mode: 0o711 });
    mkdirSync(join(dirs.root, namespace), { recursive: true, mode: 0o711 });
    if (lstatSync(bundle.workPath, { throwIfNoEntry: false }) !== undefined)
      await rm(bundle.workPath, { recursive: true, force: true });
    mkdirSync(bundle.workPath, { mode: 0o711 });
    symlinkSync(bundle.workPath, bundle.file("work"));
    if (spec !== undefined) writeFileSync(bundle.file(BundleFile.Config), spec, { mode: 0o666 });
  } catch (err) {
    await deleteBundle(bundle).catch(() => undefined);
    throw err;
  }
  return bundle;
}

/**
 * Removes the bundle and its work dir. Never deletes through a mount: the
 * rootfs is removed with rmdir, and a rootfs still mounted (EBUSY) is
 * unmounted first.
 */
export async function deleteBundle(bundle: Bundle): Promise<void> {
  const rootfs = bundle.file("rootfs");
  try {
    await rmdir(rootfs);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EBUSY") {
      await execFileAsync("umount", ["-R", rootfs]).catch(() =>
        execFileAsync("umount", ["-l", rootfs]),
      );
      await rmdir(rootfs);
    } else if (code !== "ENOENT" && code !== "ENOTEMPTY") {
      throw err;
    } else if (code === "ENOTEMPTY" && (await isMountpoint(rootfs))) {
      throw err;
    }
  }
  const work = await readlink(bundle.file("work")).catch(() => undefined);
  await rm(bundle.path, { recursive: true, force: true });
  if (work !== undefined) await rm(work, { recursive: true, force: true });
}

async function isMountpoint(path: string): Promise<boolean> {
  const mountinfo = await readFile("/proc/self/mountinfo", "utf8");
  return mountinfo.split("\n").some((line) => line.split(" ")[4] === path);
}

/** Every bundle on disk, by namespace; entries that are not identifiers are skipped. */
export async function listBundles(dirs: BundleDirs): Promise<Bundle[]> {
  const out: Bundle[] = [];
  for (const ns of await readdir(dirs.state).catch(() => [] as string[])) {
    if (!isValidIdentifier(ns)) continue;
    const nsDir = join(dirs.state, ns);
    if (!(await stat(nsDir)).isDirectory()) continue;
    for (const id of await readdir(nsDir)) {
      if (isValidIdentifier(id)) out.push(bundleFor(dirs, ns, id));
    }
  }
  return out;
}
