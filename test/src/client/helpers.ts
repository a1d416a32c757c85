// Shared by the SDK's integration tests: root check, a busybox rootfs, temp dirs.
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, rm, stat, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

/** Fails (never skips) when not root: these tests run containers. */
export function requireRoot(): void {
  if (process.getuid?.() !== 0) {
    throw new Error("this test runs containers and needs root (CI runs it as root)");
  }
}

/** A directory removed after the test. */
export async function tempDir(
  t: { after: (fn: () => Promise<void>) => void },
  prefix: string,
): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * A busybox root filesystem in `dir`: the SDK's prepareBusyboxRootfs when the
 * SDK has it, else busybox-static's applets installed by hand.
 */
export async function busyboxRootfs(dir: string): Promise<string> {
  const sdk = (await import("@sandboxd/client")) as Record<string, unknown>;
  const prepare = sdk.prepareBusyboxRootfs as ((dir: string) => Promise<unknown>) | undefined;
  if (typeof prepare === "function") {
    await prepare(dir);
    return dir;
  }
  const busybox = "/bin/busybox";
  await stat(busybox).catch(() => {
    throw new Error("busybox-static is missing (apt-get install busybox-static)");
  });
  for (const sub of ["bin", "proc", "sys", "dev", "tmp", "etc", "run"]) {
    await mkdir(join(dir, sub), { recursive: true });
  }
  await execFileAsync("cp", [busybox, join(dir, "bin", "busybox")]);
  const { stdout } = await execFileAsync(busybox, ["--list"]);
  for (const applet of stdout.split("\n").filter((a) => a && a !== "busybox")) {
    await symlink("busybox", join(dir, "bin", applet)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== "EEXIST") throw err;
    });
  }
  return dir;
}
