/**
 * The images the image and CRI benchmarks pull, built at bench time with no
 * network (busybox-static plus the testing package's hand-written tar and
 * JSON) and served by Debian's docker-registry on loopback, started inside the
 * bench's {@link BenchEnv} (stopped, its storage removed, at the end):
 *
 * - `busybox`: one gzip layer, busybox and its applets (~1 MB compressed);
 * - `big`: busybox plus a ~20 MB, ~9,000-file gzip layer (issue 11's unpack size);
 * - `pause`: a static pause built from ../shared/critest/src/pause.c, for containerd 1.6's CRI.
 */
import { execFile } from "node:child_process";
import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import {
  buildImage,
  busyboxEntries,
  pushImage,
  startRegistry,
  type BuiltImage,
  type Layer,
  type Registry,
  type TarEntry,
} from "@sandboxd/testing";
import type { BenchEnv } from "./harness.js";

const execFileAsync = promisify(execFile);

/** The C source of the pause process containerd's pods run (issue 12's local pause image). */
export const pauseSource = "/work/shared/critest/src/pause.c";

export interface BenchImage {
  /** `127.0.0.1:PORT/bench/NAME:TAG`. */
  ref: string;
  built: BuiltImage;
}

export interface BenchImages {
  registry: Registry;
  busybox: BenchImage;
  big: BenchImage;
  /** The big image's second layer: ~20 MB of ~9,000 files. */
  bigLayer: Layer;
  /** Files and uncompressed bytes of the big layer. */
  bigLayerFiles: number;
  bigLayerBytes: number;
}

/** Deterministic bytes (xorshift32) so that every run unpacks the same layer. */
function noise(seed: number): (n: number) => Buffer {
  let s = seed >>> 0 || 1;
  const next = (): number => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
  // Hex text: compresses about 2:1 with gzip, closer to a real layer than random bytes.
  const alphabet = Buffer.from("0123456789abcdef");
  return (n) => {
    const out = Buffer.alloc(n);
    for (let i = 0; i < n; i++) out[i] = alphabet[next() & 15]!;
    return out;
  };
}

/**
 * ~9,000 files in 300 directories, 256 B to 4.4 KB each (~20 MB), a symlink per
 * directory: the shape of a language runtime's library tree.
 */
export function bigLayerEntries(files = 9000, dirs = 300): TarEntry[] {
  const bytes = noise(0x5eed);
  const entries: TarEntry[] = [
    { name: "usr/", type: "dir" },
    { name: "usr/lib/", type: "dir" },
  ];
  const perDir = Math.ceil(files / dirs);
  let made = 0;
  for (let d = 0; d < dirs && made < files; d++) {
    const dir = `usr/lib/pkg${String(d).padStart(3, "0")}`;
    entries.push({ name: `${dir}/`, type: "dir" });
    for (let f = 0; f < perDir && made < files; f++, made++) {
      const size = 256 + (((made * 2654435761) >>> 0) % 4096);
      entries.push({
        name: `${dir}/mod${f}.py`,
        mode: 0o644,
        mtime: 1_700_000_000,
        data: bytes(size),
      });
    }
    entries.push({ name: `${dir}/latest.py`, type: "symlink", linkname: "mod0.py" });
  }
  return entries;
}

/** Compiles the static pause binary into `dir` (gcc -static, as the critest scripts do). */
export async function buildPause(dir: string): Promise<Buffer> {
  await mkdir(dir, { recursive: true });
  const out = join(dir, "pause");
  await execFileAsync("gcc", ["-static", "-O2", "-o", out, pauseSource]).catch((err: unknown) => {
    throw new Error(
      `gcc -static ${pauseSource}: ${err instanceof Error ? err.message : String(err)}`,
    );
  });
  return readFile(out);
}

/** A registry of the bench's own (stopped at the end) and the images pushed to it. */
export async function startBenchRegistry(env: BenchEnv): Promise<BenchImages> {
  const registry = await startRegistry({
    after: (fn) => env.defer("stop docker-registry", () => Promise.resolve(fn())),
  });
  const busybox = buildImage({
    layers: [{ entries: busyboxEntries() }],
    config: { Cmd: ["/bin/sh"] },
  });
  const entries = bigLayerEntries();
  const big = buildImage({
    layers: [{ entries: busyboxEntries() }, { entries, compression: "gzip" }],
    config: { Cmd: ["/bin/sh"] },
  });
  const bigLayer = big.layers[1]!;
  const files = entries.filter((e) => e.data !== undefined);
  return {
    registry,
    busybox: { ref: await pushImage(registry, "bench/busybox", "1", busybox), built: busybox },
    big: { ref: await pushImage(registry, "bench/big", "1", big), built: big },
    bigLayer,
    bigLayerFiles: files.length,
    bigLayerBytes: files.reduce((n, e) => n + (e.data?.length ?? 0), 0),
  };
}

/** The pause image for containerd 1.6's CRI, pushed to the bench's registry. */
export async function pushPauseImage(env: BenchEnv, registry: Registry): Promise<BenchImage> {
  const pause = await buildPause(join(env.dir, "pause-build"));
  const built = buildImage({
    layers: [{ entries: [{ name: "pause", mode: 0o755, data: pause }] }],
    config: { Entrypoint: ["/pause"] },
  });
  return { ref: await pushImage(registry, "bench/pause", "1", built), built };
}
