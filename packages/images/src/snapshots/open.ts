/** Opening the snapshotters the daemon serves: overlayfs (default) when the kernel has it, native always. */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { ImagesDb } from "../db.js";
import { DirSnapshotter, type Backend } from "./snapshotter.js";

/** containerd's plugin directory for a snapshotter under the daemon root. */
export function snapshotterDir(root: string, name: Backend): string {
  return join(root, `io.containerd.snapshotter.v1.${name}`);
}

/** Whether the kernel supports overlayfs (module loaded or built in). */
export function overlaySupported(): boolean {
  try {
    return /\toverlay$/m.test(readFileSync("/proc/filesystems", "utf8"));
  } catch {
    return false;
  }
}

export async function openSnapshotter(
  root: string,
  name: Backend,
  db: ImagesDb,
): Promise<DirSnapshotter> {
  const s = new DirSnapshotter(name, snapshotterDir(root, name), db, {
    // containerd adds index=off when the module exposes the parameter.
    indexOff: existsSync("/sys/module/overlay/parameters/index"),
  });
  await s.init();
  return s;
}
