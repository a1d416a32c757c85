/**
 * Preconditions of integration tests. Tests never skip silently: a missing requirement is
 * a failure whose message says what is missing and how to get it.
 */
import { access, constants } from "node:fs/promises";

/** Fails unless running as root. */
export function requireRoot(why = "this test runs containers"): void {
  if (process.getuid?.() !== 0) throw new Error(`${why} and needs root (CI runs it as root)`);
}

/** Fails unless `path` is an executable file; `pkg` names the Debian package that has it. */
export async function requireBinary(path: string, pkg: string): Promise<string> {
  try {
    await access(path, constants.X_OK);
  } catch {
    throw new Error(`${path} is missing: apt-get install ${pkg}`);
  }
  return path;
}

/**
 * Fails unless a pod can run here: root, and the runtime's Debian packages (runc, conmon, the
 * CNI plugins, busybox-static for the rootfs).
 */
export async function requirePodRuntime(why?: string): Promise<void> {
  requireRoot(why);
  await requireBinary("/usr/sbin/runc", "runc");
  await requireBinary("/usr/bin/conmon", "conmon");
  await requireBinary("/usr/lib/cni/bridge", "containernetworking-plugins");
  await requireBinary("/bin/busybox", "busybox-static");
}
