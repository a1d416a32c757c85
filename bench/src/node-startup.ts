/**
 * What a Node command line pays before its first call, measured apart from
 * the runs: Node's own start-up, and sbx's (`sbx --version`, no RPC).
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { exitOf } from "./start-to-exit.js";
import { summarize, type Summary } from "./stats.js";

const execFileAsync = promisify(execFile);

export interface NodeStartup {
  /** `node -e 0`, spawn to exit. */
  bareMs: Summary;
  /**
   * `sbx --version` through its launcher, spawn to exit: Node, the launcher and
   * sbx's start-up (the bundle when it is current), no RPC.
   */
  importMs: Summary;
  /** How many modules (files and node: builtins) that run loads: none from a snapshot. */
  modules: number;
}

const NODE = process.execPath;

/** `node -e 0`, and `sbx --version` in a fresh process, `rounds` times each. */
export async function nodeStartup(rounds: number): Promise<NodeStartup> {
  const sbx = fileURLToPath(new URL("../../packages/cli/bin/sbx", import.meta.url));
  // Counts what the process loads, through Node's own options (the launcher execs Node). A
  // --require'd file, not --import: Node started from a snapshot (the launcher's choice
  // while sbx's blob is current) runs --require preloads but ignores --import.
  const hookDir = await mkdtemp(join(tmpdir(), "sbxb-modules-"));
  const hook = join(hookDir, "count.cjs");
  await writeFile(
    hook,
    [
      'const m = require("node:module");',
      "let n = 0;",
      "m.registerHooks?.({ load(u, c, next) { n++; return next(u, c); } });",
      'process.on("exit", () => process.stderr.write(`modules=${n}\\n`));',
    ].join("\n"),
  );
  const counting = { ...process.env, NODE_OPTIONS: `--require=${hook}` };
  const bare: number[] = [];
  const runs: number[] = [];
  for (let i = 0; i < rounds + 1; i++) {
    const t0 = performance.now();
    await exitOf(NODE, ["-e", "0"]);
    const t1 = performance.now();
    await exitOf(sbx, ["--version"]);
    const t2 = performance.now();
    if (i === 0) continue;
    bare.push(t1 - t0);
    runs.push(t2 - t1);
  }
  let modules: number;
  try {
    const { stderr } = await execFileAsync(sbx, ["--version"], { env: counting });
    modules = Number(/modules=(\d+)/.exec(stderr)?.[1] ?? Number.NaN);
  } finally {
    await rm(hookDir, { recursive: true, force: true });
  }
  return { bareMs: summarize(bare), importMs: summarize(runs), modules };
}
