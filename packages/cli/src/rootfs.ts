// The root filesystem `sbx run` uses without --rootfs: busybox, prepared once.

/** Where the busybox rootfs is kept. */
export function rootfsCacheDir(env: Record<string, string | undefined>): string {
  return env.SANDBOXD_ROOTFS_CACHE || "/var/lib/sandboxd/rootfs/busybox";
}

/** The default rootfs directory, prepared on first use (a no-op once it is there). */
export async function defaultRootfs(env: Record<string, string | undefined>): Promise<string> {
  const { prepareBusyboxRootfs } = await import("@sandboxd/client");
  return prepareBusyboxRootfs(rootfsCacheDir(env));
}
