/** A pod's /dev/shm: one tmpfs that its containers share, as a pause pod's IPC has. */
import { mkdir, rm } from "node:fs/promises";
import { MountFlag, mountFs, unmount, type Ctx } from "@sandboxd/core";
import { messageOf, unknown as unknownError } from "@sandboxd/errdefs";

/** A tmpfs with mount(2), as `mount -t tmpfs -o mode=1777,size=65536k,nosuid,nodev,noexec shm DIR`. */
export async function mountShm(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const flags = MountFlag.nosuid | MountFlag.nodev | MountFlag.noexec;
  await mountFs("shm", dir, "tmpfs", flags, "mode=1777,size=65536k").catch((err: unknown) => {
    throw unknownError(`mount /dev/shm of the pod on ${dir}: ${messageOf(err)}`, { cause: err });
  });
}

export async function unmountShm(ctx: Ctx, dir: string): Promise<void> {
  ctx.signal.throwIfAborted();
  await unmount(dir).catch((err: unknown) => {
    throw unknownError(`unmount ${dir}: ${messageOf(err)}`, { cause: err });
  });
  await rm(dir, { recursive: true, force: true });
}
