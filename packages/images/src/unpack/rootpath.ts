/**
 * containerd's fs.RootPath: resolves `rel` inside `root` following symlinks
 * as if `root` were `/`: absolute targets restart at root and `..` never
 * climbs above it. Whatever a layer (or an earlier one) put in the tree, the
 * result is root or a path under it.
 */
import { lstatSync, readlinkSync } from "node:fs";
import { posix } from "node:path";
import { invalidArgument } from "@sandboxd/errdefs";

const maxLinks = 255;

export function rootPath(root: string, rel: string): string {
  const pending = rel.split("/").reverse();
  const out: string[] = [];
  let links = 0;
  let missing = false;
  while (pending.length > 0) {
    const part = pending.pop() as string;
    if (part === "" || part === ".") continue;
    if (part === "..") {
      out.pop();
      missing = false;
      continue;
    }
    out.push(part);
    if (missing) continue;
    const path = `${root}/${out.join("/")}`;
    const st = lstatSync(path, { throwIfNoEntry: false });
    if (!st) {
      missing = true;
      continue;
    }
    if (!st.isSymbolicLink()) continue;
    if (++links > maxLinks) throw invalidArgument(`too many symlinks resolving ${rel}`);
    out.pop();
    const target = readlinkSync(path);
    if (target.startsWith("/")) out.length = 0;
    for (const p of target.split("/").reverse()) pending.push(p);
  }
  return out.length === 0 ? root : `${root}/${out.join("/")}`;
}

/** A tar entry's name cleaned as containerd does (Clean("/" + name)), without the leading slash. */
export function cleanName(name: string): string {
  const cleaned = posix.normalize(`/${name}`);
  return cleaned.replace(/^\/+/, "").replace(/\/+$/, "");
}
