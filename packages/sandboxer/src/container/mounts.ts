/**
 * The rootfs mounts of a task (CreateTaskRequest.rootfs) on <bundle>/rootfs:
 * a new filesystem (an overlay snapshot) with mount(2), what needs more (bind,
 * propagation, ...) with util-linux mount(8); an empty list means config.json's root.path is used
 * as is (`ctr run --rootfs DIR`).
 */
import { mkdir } from "node:fs/promises";
import type { Ctx } from "@sandboxd/core";
import { invalidArgument, messageOf, unknown as unknownError } from "@sandboxd/errdefs";
import { exitText, mountFs, mountOptions, run, unmount } from "@sandboxd/core";
import { helperTimeoutMs } from "../util/time.js";

export interface MountSpec {
  type: string;
  source: string;
  target?: string;
  options: string[];
}

/** mount(8) arguments for one containerd Mount. */
export function mountArgs(m: MountSpec, target: string): string[] {
  if (m.source === "")
    throw invalidArgument(`rootfs mount of type ${JSON.stringify(m.type)}: empty source`);
  const options = [...m.options];
  const isBind =
    m.type === "bind" ||
    m.type === "rbind" ||
    options.includes("bind") ||
    options.includes("rbind");
  if (isBind && !options.includes("bind") && !options.includes("rbind")) {
    options.unshift(m.type === "rbind" ? "rbind" : "bind");
  }
  const args: string[] = [];
  if (!isBind && m.type !== "" && m.type !== "none") args.push("-t", m.type);
  if (options.length) args.push("-o", options.join(","));
  args.push(m.source, target);
  return args;
}

/** Mounts every entry on `target`; on failure unmounts what was mounted. */
export async function mountRootfs(
  ctx: Ctx,
  mounts: readonly MountSpec[],
  target: string,
): Promise<void> {
  await mkdir(target, { recursive: true, mode: 0o711 });
  let done = 0;
  try {
    for (const m of mounts) {
      const direct = directMount(m);
      if (direct) {
        await mountFs(m.source, target, m.type, direct.flags, direct.data).catch((err: unknown) => {
          throw unknownError(`mount rootfs ${m.type} ${m.source} on ${target}: ${messageOf(err)}`, {
            cause: err,
          });
        });
        done++;
        continue;
      }
      const r = await run(ctx, "mount", mountArgs(m, target), { timeoutMs: helperTimeoutMs });
      if (r.code !== 0) {
        throw unknownError(
          `mount rootfs ${m.type} ${m.source} on ${target}: ${r.stderr.trim() || exitText(r)}`,
        );
      }
      done++;
    }
  } catch (err) {
    if (done > 0) await unmountAll(ctx, target).catch(() => undefined);
    throw err;
  }
}

/** Flags and data for mount(2) when `m` is a new filesystem of a named type (no process needed). */
function directMount(m: MountSpec): { flags: number; data: string } | undefined {
  if (m.source === "" || m.type === "" || m.type === "none" || m.type === "bind") return undefined;
  if (m.type === "rbind") return undefined;
  return mountOptions(m.options);
}

/**
 * Unmounts `target` until nothing is mounted there (stacked mounts included),
 * with umount2(2): no umount(8) per layer, and the context is checked between.
 */
export async function unmountAll(ctx: Ctx, target: string): Promise<void> {
  for (let i = 0; i < 32; i++) {
    ctx.signal.throwIfAborted();
    const removed = await unmount(target).catch((err: unknown) => {
      throw unknownError(`unmount ${target}: ${messageOf(err)}`, { cause: err });
    });
    if (!removed) return;
  }
  throw unknownError(`unmount ${target}: still mounted after 32 unmounts`);
}
