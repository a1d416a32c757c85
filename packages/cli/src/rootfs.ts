// The root filesystem `sbx run` uses without --rootfs: busybox, prepared once.
import { stat } from "node:fs/promises";
import { join } from "node:path";

/** Where the busybox rootfs is kept. */
export function rootfsCacheDir(env: Record<string, string | undefined>): string {
  return env.SANDBOXD_ROOTFS_CACHE || "/var/lib/sandboxd/rootfs/busybox";
}

/** The default rootfs directory, prepared on first use. */
export async function defaultRootfs(env: Record<string, string | undefined>): Promise<string> {
  const dir = rootfsCacheDir(env);
  const ready = await stat(join(dir, "bin", "sh")).then(
    () => true,
    () => false,
  );
  if (ready) return dir;
  const sdk = (await import("@sandboxd/client")) as Record<string, unknown>;
  const prepare = sdk.prepareBusyboxRootfs as ((dir: string) => Promise<unknown>) | undefined;
  if (typeof prepare !== "function") {
    throw new Error(
      `no default root filesystem in this build: pass --rootfs DIR (the busybox rootfs would go in ${dir})`,
    );
  }
  await prepare(dir);
  return dir;
}
