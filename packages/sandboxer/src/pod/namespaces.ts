/**
 * Pod namespaces without a pause container. The net, ipc and uts namespaces are
 * made by core's pinNewNamespaces, with no process: the event loop's thread
 * unshares them, names the pod, sets lo up, bind-mounts each onto its FILE and
 * returns to its own (what `unshare --net=FILE --ipc=FILE --uts=FILE hostname NAME`
 * did); the bind mounts keep the namespaces alive. The files live in a
 * directory that is a private bind mount of itself (nsfs bind mounts are refused
 * on shared mounts, as `ip netns` knows). A shared pid namespace cannot be pinned
 * that way (it dies with its init), so it gets one small holder process whose
 * PID 1 is an init (catatonit) that reaps the pod's orphans.
 */
import { existsSync } from "node:fs";
import { mkdir, open, readFile, readdir, readlink, rm, rmdir } from "node:fs/promises";
import { join } from "node:path";
import type { Ctx } from "@sandboxd/core";
import { messageOf, unknown as unknownError } from "@sandboxd/errdefs";
import { exitText, pinNewNamespaces, run, runChecked, unmount } from "@sandboxd/core";
import { helperTimeoutMs } from "../util/time.js";
import { spawnDetached } from "../util/detached.js";
import type { IdMapping } from "./pod-config.js";

export type PinnedKind = "net" | "ipc" | "uts";

export interface PinnedNamespaces {
  dir: string;
  net?: string | undefined;
  /** Absent: the pod shares the host's (host IPC; host network also shares the host's UTS). */
  ipc?: string | undefined;
  uts?: string | undefined;
  /** The pod's own user namespace (it owns the others); absent: the host's. */
  user?: string | undefined;
}

/** A user namespace to make first, with the helper that makes it (native/userns.c). */
export interface UsernsRequest {
  helper: string;
  uid: IdMapping;
  gid: IdMapping;
}

export interface PidHolder {
  /** The unshare process that made the namespace (gone once the init runs). */
  pid: number;
  /** The namespace's init, whose /proc/PID/ns/pid containers join. */
  initPid: number;
  /** /proc/<initPid>/ns/pid inode at creation, to recognise it after a restart. */
  nsInode: string;
}

/** Pin roots this process found private (Pod.start checks again when pinning fails). */
const privatePinRoots = new Set<string>();

/** Forgets that `dir` was found private: the next ensurePinRoot reads mountinfo again. */
export function forgetPinRoot(dir: string): void {
  privatePinRoots.delete(dir);
}

/** Makes `dir` a private bind mount of itself, once (one mountinfo read per process). */
export async function ensurePinRoot(ctx: Ctx, dir: string): Promise<void> {
  if (privatePinRoots.has(dir)) return;
  await ensurePrivate(ctx, dir);
  privatePinRoots.add(dir);
}

async function ensurePrivate(ctx: Ctx, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o711 });
  const entry = mountEntry(await readFile("/proc/self/mountinfo", "utf8"), dir);
  if (entry && !entry.shared) return;
  if (!entry) await runChecked(ctx, "mount", ["--bind", dir, dir], { timeoutMs: helperTimeoutMs });
  await runChecked(ctx, "mount", ["--make-private", dir], { timeoutMs: helperTimeoutMs });
}

/** The mountinfo entry for `mountPoint` (the last one wins, as the kernel stacks them). */
export function mountEntry(mountinfo: string, mountPoint: string): { shared: boolean } | undefined {
  let found: { shared: boolean } | undefined;
  for (const line of mountinfo.split("\n")) {
    const sep = line.indexOf(" - ");
    if (sep < 0) continue;
    const fields = line.slice(0, sep).split(" ");
    if (fields[4] !== mountPoint) continue;
    found = { shared: fields.slice(6).some((f) => f.startsWith("shared:")) };
  }
  return found;
}

/**
 * Creates and pins new namespaces under `dir` and sets the pod's hostname (when
 * it has a UTS namespace of its own). A kind left out is the host's (or, for
 * net, a netns the pod was given).
 */
export async function pinNamespaces(
  ctx: Ctx,
  dir: string,
  options: {
    net: boolean;
    ipc?: boolean;
    uts?: boolean;
    hostname: string;
    userns?: UsernsRequest | undefined;
  },
): Promise<PinnedNamespaces> {
  await mkdir(dir, { recursive: true, mode: 0o711 });
  const wanted: Record<PinnedKind, boolean> = {
    net: options.net,
    ipc: options.ipc ?? true,
    uts: options.uts ?? true,
  };
  const kinds = (["net", "ipc", "uts"] as const).filter((k) => wanted[k]);
  if (options.userns) return pinInUserns(ctx, dir, kinds, options.hostname, options.userns);
  if (kinds.length === 0) return { dir };
  for (const kind of kinds) await (await open(join(dir, kind), "a", 0o444)).close();
  try {
    await pinNewNamespaces(Object.fromEntries(kinds.map((kind) => [kind, join(dir, kind)])), {
      hostname: wanted.uts ? options.hostname : undefined,
      // As a pod's loopback plugin (and Docker's --network none) has it: lo is up.
      loopback: true,
    });
  } catch (err) {
    await unpinNamespaces(ctx, dir);
    throw unknownError(`pin namespaces: ${messageOf(err)}`);
  }
  return {
    dir,
    net: wanted.net ? join(dir, "net") : undefined,
    ipc: wanted.ipc ? join(dir, "ipc") : undefined,
    uts: wanted.uts ? join(dir, "uts") : undefined,
  };
}

/**
 * The user namespace and, inside it, the pod's other namespaces (owned by it, as runc
 * needs to mount sysfs, proc and mqueue for containers that join it), made and pinned
 * by the helper: util-linux 2.38's unshare maps ids only through newuidmap.
 */
async function pinInUserns(
  ctx: Ctx,
  dir: string,
  kinds: readonly PinnedKind[],
  hostname: string,
  userns: UsernsRequest,
): Promise<PinnedNamespaces> {
  const map = (m: IdMapping): string => `${m.containerId}:${m.hostId}:${m.length}`;
  const user = join(dir, "user");
  const args = [
    "pin",
    map(userns.uid),
    map(userns.gid),
    kinds.includes("uts") ? hostname : "",
    user,
    ...kinds.map((kind) => `${kind}=${join(dir, kind)}`),
  ];
  const result = await run(ctx, userns.helper, args, { timeoutMs: helperTimeoutMs });
  if (result.code !== 0) {
    await unpinNamespaces(ctx, dir);
    throw unknownError(
      `pin a user namespace with ${userns.helper}: ${exitText(result)}: ${result.stderr.trim()}`,
    );
  }
  const at = (kind: PinnedKind): string | undefined =>
    kinds.includes(kind) ? join(dir, kind) : undefined;
  return { dir, user, net: at("net"), ipc: at("ipc"), uts: at("uts") };
}

/** Unmounts and removes every pin under `dir`; already gone is fine. */
export async function unpinNamespaces(ctx: Ctx, dir: string): Promise<void> {
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    throw err;
  }
  const files = entries.map((name) => join(dir, name));
  if (files.length === 0) {
    await rmdir(dir).catch(() => undefined);
    return;
  }
  // umount2(2) per pin: no umount(8) process for the pod's teardown.
  ctx.signal.throwIfAborted();
  const failed = new Set<string>();
  const failures: string[] = [];
  for (const file of files) {
    await unmount(file).catch((err: unknown) => {
      failed.add(file);
      failures.push(`umount ${file}: ${messageOf(err)}`);
    });
  }
  for (const file of files) if (!failed.has(file)) await rm(file, { force: true });
  if (failures.length) throw unknownError(`unpin namespaces: ${failures.join("; ")}`);
  await rmdir(dir).catch(() => undefined);
}

/**
 * PID 1 of a shared pid namespace: an init that reaps the orphans of every
 * container (Debian's catatonit in pause mode), else `sleep` (which does not reap).
 */
const podInitCandidates: readonly (readonly string[])[] = [
  ["/usr/bin/catatonit", "-P"],
  ["/usr/libexec/podman/catatonit", "-P"],
];

function podInitCommand(): string[] {
  for (const c of podInitCandidates) if (existsSync(c[0]!)) return [...c];
  return ["sleep", "infinity"];
}

/** Starts the holder of a shared pid namespace (detached: it outlives the sandboxer). */
export async function startPidHolder(
  ctx: Ctx,
  owner: { stateDir: string; pod: string },
  userns?: string,
): Promise<PidHolder> {
  // No --kill-child: once the namespace's init runs, unshare (which only waits for it) is
  // killed, so the pod costs one process, the init, reparented to the node's init. Its
  // environment names its sandboxer and pod: its argv cannot, and an operator (or a leak
  // check) looking at a lone catatonit can tell whose it is.
  // In a pod with a user namespace, the pid namespace must belong to it (runc mounts
  // /proc from inside); nsenter enters it as its root and execs unshare (same pid).
  const unshare = ["unshare", "--pid", "--fork", ...podInitCommand()];
  const argv = userns ? ["nsenter", `--user=${userns}`, ...unshare] : unshare;
  const { child, pid } = await spawnDetached(argv[0]!, argv.slice(1), {
    SBX_SANDBOXER_STATE: owner.stateDir,
    SBX_POD: owner.pod,
  });
  for (let i = 0; i < 500; i++) {
    const initPid = await childOf(pid);
    if (initPid !== undefined) {
      const nsInode = await nsInodeOf(initPid, "pid");
      if (nsInode !== undefined && nsInode !== (await nsInodeOf(pid, "pid"))) {
        child.kill("SIGKILL");
        await child.gone;
        return { pid, initPid, nsInode };
      }
    }
    if (child.exited) break;
    ctx.signal.throwIfAborted();
    await new Promise((r) => setTimeout(r, 5));
  }
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // already gone
  }
  throw unknownError("start the shared pid namespace holder: it did not come up");
}

/** Whether the holder recorded earlier still owns its namespace. */
export async function pidHolderAlive(holder: PidHolder): Promise<boolean> {
  return (await nsInodeOf(holder.initPid, "pid")) === holder.nsInode;
}

/** Kills the namespace's init (checked by its namespace inode: a pid is never reused blindly). */
export async function stopPidHolder(holder: PidHolder): Promise<void> {
  if (!(await pidHolderAlive(holder))) return;
  try {
    process.kill(holder.initPid, "SIGKILL");
  } catch {
    // already gone
  }
}

async function nsInodeOf(pid: number, kind: string): Promise<string | undefined> {
  try {
    return await readlink(`/proc/${pid}/ns/${kind}`);
  } catch {
    return undefined;
  }
}

async function childOf(pid: number): Promise<number | undefined> {
  try {
    const children = (await readFile(`/proc/${pid}/task/${pid}/children`, "utf8")).trim();
    const first = children.split(/\s+/)[0];
    return first ? Number(first) : undefined;
  } catch {
    return undefined;
  }
}
