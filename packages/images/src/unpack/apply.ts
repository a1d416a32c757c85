/**
 * Applies one layer's tar entries under `root` (containerd archive/tar.go),
 * synchronously: it runs in the unpack worker, where a blocking syscall per
 * step is the fast path. Every name is cleaned and its parent resolved inside
 * root (rootPath), an existing final component is removed before anything is
 * created there (so nothing is ever written through a symlink), and hardlink
 * targets resolve inside root too.
 *
 * overlay mode writes into an overlay upperdir: `.wh.NAME` becomes a 0/0
 * character device and `.wh..wh..opq` sets trusted.overlay.opaque=y on its
 * directory. plain mode (native snapshots, bind mounts) deletes instead.
 */
import {
  closeSync,
  fchmodSync,
  fchownSync,
  futimesSync,
  linkSync,
  lchownSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  chmodSync,
  utimesSync,
  writeSync,
  constants,
} from "node:fs";
import { invalidArgument } from "@sandboxd/errdefs";
import { cleanName, rootPath } from "./rootpath.js";
import { lsetxattr, makedev, mknod, S_IFBLK, S_IFCHR, S_IFIFO } from "./syscalls.js";
import { TypeFlag, type TarHeader, type TarSink } from "./tar.js";

export interface ApplyOptions {
  root: string;
  overlay: boolean;
  /** Lower layers (overlay lowerdirs, newest first): where missing parent dirs take their attributes from. */
  parents?: string[];
}

const whiteoutPrefix = ".wh.";
const opaqueWhiteout = ".wh..wh..opq";
const createFlags =
  constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/** The process umask, read without changing it (process.umask() writes it). */
function currentUmask(): number {
  try {
    const m = /^Umask:\s+([0-7]+)$/m.exec(readFileSync("/proc/self/status", "utf8"));
    return m ? parseInt(m[1] as string, 8) : 0o022;
  } catch {
    return 0o022;
  }
}

export class LayerApplier implements TarSink {
  readonly #root: string;
  readonly #overlay: boolean;
  readonly #parents: string[];
  readonly #uid = process.getuid?.() ?? 0;
  readonly #gid = process.getgid?.() ?? 0;
  readonly #umask = currentUmask();
  /** Resolved parent directories known to exist, by cleaned relative name. */
  readonly #dirs = new Map<string, string>();
  readonly #dirTimes: [string, number, number][] = [];
  /** plain mode: what this layer unpacked, and the dirs it made opaque. */
  readonly #unpacked = new Set<string>();
  readonly #opaque: string[] = [];
  #fd = -1;
  #file: { path: string; h: TarHeader } | undefined;

  constructor(options: ApplyOptions) {
    this.#root = options.root;
    this.#overlay = options.overlay;
    this.#parents = options.parents ?? [];
  }

  header(h: TarHeader): void {
    const rel = cleanName(h.name);
    if (rel === "") return;
    const slash = rel.lastIndexOf("/");
    const parentRel = slash < 0 ? "" : rel.slice(0, slash);
    const base = rel.slice(slash + 1);
    const parent = this.#parentDir(parentRel);
    if (base.startsWith(whiteoutPrefix)) return this.#whiteout(h, parent, base);
    const path = `${parent}/${base}`;
    if (!this.#overlay) this.#unpacked.add(path);
    switch (h.type) {
      case TypeFlag.File:
      case TypeFlag.OldFile:
      case TypeFlag.Contiguous:
        this.#fd = this.#create(path, () => openSync(path, createFlags, h.mode & 0o777));
        this.#file = { path, h };
        return;
      case TypeFlag.Dir:
        return this.#dir(path, h);
      case TypeFlag.Symlink:
        this.#create(path, () => symlinkSync(h.linkname, path));
        lchownSync(path, h.uid, h.gid);
        this.#dirs.clear();
        return this.#times(path, h, true);
      case TypeFlag.Link: {
        const target = this.#linkTarget(h.linkname);
        this.#create(path, () => linkSync(target, path));
        return;
      }
      case TypeFlag.Char:
      case TypeFlag.Block:
      case TypeFlag.Fifo: {
        const kind =
          h.type === TypeFlag.Char ? S_IFCHR : h.type === TypeFlag.Block ? S_IFBLK : S_IFIFO;
        this.#create(path, () =>
          mknod(path, kind | (h.mode & 0o7777), makedev(h.devmajor, h.devminor)),
        );
        this.#attrs(path, h);
        return this.#times(path, h, false);
      }
      default:
        throw invalidArgument(`tar: unhandled entry type ${JSON.stringify(h.type)} for ${h.name}`);
    }
  }

  data(chunk: Buffer): void {
    let off = 0;
    while (off < chunk.length) off += writeSync(this.#fd, chunk, off, chunk.length - off);
  }

  end(): void {
    if (this.#fd < 0 || !this.#file) return;
    const fd = this.#fd;
    const { path, h } = this.#file;
    this.#fd = -1;
    this.#file = undefined;
    try {
      if (h.uid !== this.#uid || h.gid !== this.#gid) fchownSync(fd, h.uid, h.gid);
      if (h.xattrs) this.#xattrs(path, h.xattrs);
      // open() applied mode & ~umask; chmod only when that lost bits (or after chown cleared set-id).
      const mode = h.mode & 0o7777;
      if (mode & 0o7000 || mode & this.#umask) fchmodSync(fd, mode);
      futimesSync(fd, h.atime ?? h.mtime, h.mtime);
    } finally {
      closeSync(fd);
    }
  }

  /** After the last entry: directory times, and plain-mode opaque directories. */
  finish(): void {
    if (this.#fd >= 0) closeSync(this.#fd);
    for (const dir of this.#opaque) {
      for (const name of readdirSync(dir)) {
        const p = `${dir}/${name}`;
        if (!this.#unpacked.has(p)) rmSync(p, { recursive: true, force: true });
      }
    }
    for (const [path, atime, mtime] of this.#dirTimes) utimesSync(path, atime, mtime);
  }

  #dir(path: string, h: TarHeader): void {
    try {
      mkdirSync(path, 0o700);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const st = lstatSync(path);
      if (!st.isDirectory()) {
        this.#remove(path);
        mkdirSync(path, 0o700);
      }
    }
    this.#attrs(path, h);
    this.#dirTimes.push([path, h.atime ?? h.mtime, h.mtime]);
  }

  #whiteout(h: TarHeader, parent: string, base: string): void {
    if (base === opaqueWhiteout) {
      if (this.#overlay) lsetxattr(parent, "trusted.overlay.opaque", Buffer.from("y"));
      else this.#opaque.push(parent);
      return;
    }
    const path = `${parent}/${base.slice(whiteoutPrefix.length)}`;
    if (path === this.#root) return;
    if (!this.#overlay) {
      this.#remove(path);
      return;
    }
    this.#create(path, () => mknod(path, S_IFCHR, 0n));
    lchownSync(path, h.uid, h.gid);
  }

  /** Runs `make`; when the name exists (not a dir to merge), removes it and retries once. */
  #create<T>(path: string, make: () => T): T {
    try {
      return make();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    this.#remove(path);
    return make();
  }

  #remove(path: string): void {
    rmSync(path, { recursive: true, force: true });
    this.#dirs.clear();
  }

  #attrs(path: string, h: TarHeader): void {
    if (h.uid !== this.#uid || h.gid !== this.#gid) lchownSync(path, h.uid, h.gid);
    if (h.xattrs) this.#xattrs(path, h.xattrs);
    chmodSync(path, h.mode & 0o7777);
  }

  #xattrs(path: string, xattrs: Map<string, Buffer>): void {
    for (const [name, value] of xattrs) lsetxattr(path, name, value);
  }

  #times(path: string, h: TarHeader, symlink: boolean): void {
    if (symlink) lutimesSync(path, h.atime ?? h.mtime, h.mtime);
    else utimesSync(path, h.atime ?? h.mtime, h.mtime);
  }

  /** The parent directory of an entry, resolved inside root and created when missing. */
  #parentDir(parentRel: string): string {
    if (parentRel === "") return this.#root;
    const cached = this.#dirs.get(parentRel);
    if (cached) return cached;
    const resolved = rootPath(this.#root, parentRel);
    const st = lstatSync(resolved, { throwIfNoEntry: false });
    if (!st) this.#mkparent(resolved);
    else if (!st.isDirectory())
      throw invalidArgument(`tar: parent of an entry is not a directory: ${parentRel}`);
    this.#dirs.set(parentRel, resolved);
    return resolved;
  }

  /** Creates the missing directories of `abs` (under root), copying attributes from lower layers. */
  #mkparent(abs: string): void {
    const rel = abs.slice(this.#root.length + 1).split("/");
    let path = this.#root;
    let relPath = "";
    for (const part of rel) {
      path = `${path}/${part}`;
      relPath = relPath ? `${relPath}/${part}` : part;
      if (lstatSync(path, { throwIfNoEntry: false })) continue;
      mkdirSync(path, 0o755);
      for (const lower of this.#parents) {
        const st = statSync(`${lower}/${relPath}`, { throwIfNoEntry: false });
        if (!st?.isDirectory()) continue;
        lchownSync(path, st.uid, st.gid);
        chmodSync(path, st.mode & 0o7777);
        utimesSync(path, st.atime, st.mtime);
        break;
      }
      if (!this.#overlay) this.#unpacked.add(path);
    }
  }

  /** A hardlink's target: the cleaned name, its directory resolved inside root; never a path outside. */
  #linkTarget(linkname: string): string {
    const rel = cleanName(linkname);
    if (rel === "") throw invalidArgument(`tar: hardlink to the root directory`);
    const slash = rel.lastIndexOf("/");
    const dir = slash < 0 ? this.#root : rootPath(this.#root, rel.slice(0, slash));
    const target = `${dir}/${rel.slice(slash + 1)}`;
    if (!lstatSync(target, { throwIfNoEntry: false })) {
      throw invalidArgument(
        `tar: hardlink target ${JSON.stringify(linkname)} does not exist in the layer`,
      );
    }
    return target;
  }
}
