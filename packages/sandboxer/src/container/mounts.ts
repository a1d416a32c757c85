/**
 * The rootfs mounts of a task (CreateTaskRequest.rootfs) on <bundle>/rootfs:
 * a new filesystem (an overlay snapshot) with mount(2), what needs more (bind,
 * propagation, ...) with util-linux mount(8); an empty list means config.json's root.path is used
 * as is (`ctr run --rootfs DIR`).
 */
import { mkdir } from "node:fs/promises";
import type { Ctx } from "@sandboxd/core";
import { invalidArgument, messageOf, unknown as unknownError } from "@sandboxd/errdefs";
import { exitText, mountFs, mountOptions, run } from "@sandboxd/core";
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

/** Unmounts `target` until nothing is mounted there (stacked mounts included). */
export async function unmountAll(ctx: Ctx, target: string): Promise<void> {
  for (let i = 0; i < 32; i++) {
    const r = await run(ctx, "umount", [target], { timeoutMs: helperTimeoutMs });
    if (r.code === 0) continue;
    if (/not mounted|no mount point|not found|No such file/i.test(r.stderr)) return;
    throw unknownError(`unmount ${target}: ${r.stderr.trim()}`);
  }
}
