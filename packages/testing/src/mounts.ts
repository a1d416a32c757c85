/**
 * Mount checks for tests: what is mounted under a directory (to assert nothing leaked) and
 * a cleanup that unmounts it, deepest first.
 */
import { readFile } from "node:fs/promises";
import { run } from "./processes.js";

/** Mount points at or below `dir`, from /proc/self/mountinfo, deepest first. */
export async function mountsUnder(dir: string): Promise<string[]> {
  const info = await readFile("/proc/self/mountinfo", "utf8");
  const prefix = dir.endsWith("/") ? dir : `${dir}/`;
  const points = info
    .split("\n")
    .filter((line) => line !== "")
    // Field 5 is the mount point, with spaces and other specials octal-escaped.
    .map((line) =>
      line
        .split(" ")[4]!
        .replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))),
    )
    .filter((point) => point === dir || point.startsWith(prefix));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

/** Lazily unmounts everything at or below `dir`; ignores what is already gone. */
export async function unmountAll(dir: string): Promise<void> {
  for (const point of await mountsUnder(dir)) await run("umount", ["-l", point]);
}
