/**
 * The user of a CRI container resolved against its own root filesystem, as
 * containerd's oci.WithUser does: the snapshot is mounted read-only on a
 * temporary directory, /etc/passwd and /etc/group are read inside it
 * (symlinks followed within the root), and the mount is always undone. What
 * was read is kept per image chain (ImageUserFiles).
 */
import { lstat, mkdir, readFile, readlink, rmdir } from "node:fs/promises";
import { join, posix } from "node:path";
import type { ContainerConfig } from "@sandboxd/api/cri/runtime/v1/api_pb";
import { exitText, run, type Ctx } from "@sandboxd/core";
import { resolveUser, type ResolvedUser } from "@sandboxd/core/oci";
import { invalidArgument, unknown as unknownError } from "@sandboxd/errdefs";
import type { Mount } from "../backend.js";

/** The mounts made read-only: an overlay's upper dir becomes its top lower dir; binds get `ro`. */
export function readonlyMounts(mounts: readonly Mount[]): Mount[] {
  return mounts.map((m) => {
    if (m.type === "overlay") {
      let upper = "";
      let lower = "";
      const rest: string[] = [];
      for (const o of m.options) {
        if (o.startsWith("upperdir=")) upper = o.slice("upperdir=".length);
        else if (o.startsWith("lowerdir=")) lower = o.slice("lowerdir=".length);
        else if (!o.startsWith("workdir=") && o !== "rw" && o !== "volatile") rest.push(o);
      }
      const lowers = [upper, lower].filter(Boolean).join(":");
      return { ...m, options: [...rest, `lowerdir=${lowers}`] };
    }
    return { ...m, options: [...m.options.filter((o) => o !== "rw" && o !== "ro"), "ro"] };
  });
}

function mountArgs(m: Mount, target: string): string[] {
  const bind = m.type === "bind" || m.options.includes("bind") || m.options.includes("rbind");
  const options =
    bind && !m.options.some((o) => o === "bind" || o === "rbind")
      ? ["bind", ...m.options]
      : m.options;
  return [...(bind ? [] : ["-t", m.type]), "-o", options.join(","), m.source, target];
}

/** `rel` inside `root`, following symlinks as if `root` were `/` (at most 40). */
async function resolveInRoot(root: string, rel: string): Promise<string> {
  const parts = rel.split("/").filter(Boolean);
  const done: string[] = [];
  let links = 0;
  while (parts.length) {
    const part = parts.shift() ?? "";
    if (part === ".") continue;
    if (part === "..") {
      done.pop();
      continue;
    }
    const here = join(root, ...done, part);
    const st = await lstat(here).catch(() => undefined);
    if (st?.isSymbolicLink()) {
      if (++links > 40) throw unknownError(`too many symlinks resolving ${rel} in the rootfs`);
      const target = await readlink(here);
      if (posix.isAbsolute(target)) done.length = 0;
      parts.unshift(...target.split("/").filter(Boolean));
      continue;
    }
    done.push(part);
  }
  return join(root, ...done);
}

async function readInRoot(root: string, rel: string): Promise<string | undefined> {
  const path = await resolveInRoot(root, rel);
  return readFile(path, "utf8").catch((err: unknown) => {
    if (err instanceof Error && "code" in err && (err.code === "ENOENT" || err.code === "ENOTDIR"))
      return undefined;
    throw err;
  });
}

export interface UserFiles {
  passwd?: string;
  group?: string;
}

/** /etc/passwd and /etc/group of a directory root filesystem. */
export async function userFilesOfDir(root: string): Promise<UserFiles> {
  const passwd = await readInRoot(root, "etc/passwd");
  const group = await readInRoot(root, "etc/group");
  return { ...(passwd === undefined ? {} : { passwd }), ...(group === undefined ? {} : { group }) };
}

/**
 * /etc/passwd and /etc/group of a snapshot, through a read-only mount on a
 * fresh directory under `scratch`; unmounted and removed whatever happens.
 */
export async function userFilesOfMounts(
  ctx: Ctx,
  mounts: readonly Mount[],
  scratch: string,
): Promise<UserFiles> {
  const target = join(
    scratch,
    `user-${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`,
  );
  await mkdir(target, { recursive: true, mode: 0o700 });
  let mounted = 0;
  try {
    for (const m of readonlyMounts(mounts)) {
      const r = await run(ctx, "mount", mountArgs(m, target), { timeoutMs: 30_000 });
      if (r.code !== 0)
        throw unknownError(
          `mount the rootfs read-only to read its users: ${r.stderr.trim() || exitText(r)}`,
        );
      mounted++;
    }
    return await userFilesOfDir(target);
  } finally {
    for (; mounted > 0; mounted--) {
      const r = await run(ctx, "umount", [target], { timeoutMs: 30_000 });
      if (r.code !== 0) {
        // Busy: detach it, so the directory can still go.
        const l = await run(ctx, "umount", ["-l", target], { timeoutMs: 30_000 });
        if (l.code !== 0)
          ctx.log.warn({ target, stderr: r.stderr }, "unmounting a read-only rootfs view");
      }
    }
    // rmdir, never a recursive rm: should the unmount have failed, the snapshot stays intact.
    await rmdir(target).catch((err: unknown) =>
      ctx.log.warn({ error: err, target }, "removing a read-only rootfs view"),
    );
  }
}

/**
 * /etc/passwd and /etc/group of images' root filesystems, by snapshotter and
 * chain ID. A committed chain never changes (its ID hashes its layers), and a
 * container's fresh snapshot shows exactly its image's chain, so the files read
 * through the first container's read-only mount answer every later container of
 * that image without mounting again (kubelet starts many containers of few images).
 * Concurrent reads of one chain share one mount; failures are not kept; the
 * least recently used entries go beyond `limit`.
 */
export class ImageUserFiles {
  readonly #limit: number;
  readonly #entries = new Map<string, Promise<UserFiles>>();

  constructor(limit = 64) {
    this.#limit = limit;
  }

  get(key: string, read: () => Promise<UserFiles>): Promise<UserFiles> {
    const hit = this.#entries.get(key);
    if (hit) {
      // Map order is insertion order: re-inserting marks the entry most recently used.
      this.#entries.delete(key);
      this.#entries.set(key, hit);
      return hit;
    }
    const reading = read();
    this.#entries.set(key, reading);
    reading.catch(() => {
      if (this.#entries.get(key) === reading) this.#entries.delete(key);
    });
    for (const oldest of this.#entries.keys()) {
      if (this.#entries.size <= this.#limit) break;
      this.#entries.delete(oldest);
    }
    return reading;
  }
}

/**
 * The USER string of a container as containerd's CRI builds it:
 * run_as_username or run_as_user, with `:run_as_group`; else the image's USER.
 */
export function userString(config: ContainerConfig, imageUser: string | undefined): string {
  const sc = config.linux?.securityContext;
  const user = sc?.runAsUsername || (sc?.runAsUser ? String(sc.runAsUser.value) : "");
  const group = sc?.runAsGroup ? String(sc.runAsGroup.value) : "";
  if (!user && group)
    throw invalidArgument(
      `container ${config.metadata?.name ?? ""}: run_as_group ${group} is set without run_as_user or run_as_username`,
    );
  if (user) return group ? `${user}:${group}` : user;
  return imageUser ?? "";
}

/** The container's uid, gid and the gids of the groups its passwd entry belongs to. */
export async function containerUser(
  config: ContainerConfig,
  imageUser: string | undefined,
  files: () => Promise<UserFiles>,
): Promise<ResolvedUser> {
  const spec = userString(config, imageUser);
  const { passwd, group } = await files();
  return resolveUser(spec, passwd, group);
}

/** The rootfs of a container of a local-directory image: an overlay on `image` with its upper dir in `dir`. */
export async function overlayRootfs(dir: string, image: string): Promise<Mount[]> {
  await mkdir(join(dir, "upper"), { recursive: true });
  await mkdir(join(dir, "work"), { recursive: true });
  const options = [
    `lowerdir=${image}`,
    `upperdir=${join(dir, "upper")}`,
    `workdir=${join(dir, "work")}`,
  ];
  return [{ type: "overlay", source: "overlay", target: "", options }];
}
