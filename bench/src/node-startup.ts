/**
 * What a Node command line pays before its first call, measured apart from
 * the runs: Node's own start-up, and the import of sbx's modules.
 */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { exitOf } from "./start-to-exit.js";
import { summarize, type Summary } from "./stats.js";

const execFileAsync = promisify(execFile);

export interface NodeStartup {
  /** `node -e 0`, spawn to exit. */
  bareMs: Summary;
  /** Importing sbx's modules (its main and @sandboxd/client) with the compile cache on. */
  importMs: Summary;
  /** How many modules those imports load. */
  modules: number;
}

const NODE = process.execPath;

/** `node -e 0`, and the import of the CLI's modules in a fresh process, `rounds` times each. */
export async function nodeStartup(rounds: number): Promise<NodeStartup> {
  const cliMain = fileURLToPath(new URL("../../packages/cli/dist/main.js", import.meta.url));
  const client = fileURLToPath(new URL("../../packages/client/dist/index.js", import.meta.url));
  // As sbx starts: compile cache first, then its modules.
  const script = [
    'import m from "node:module";',
    "m.enableCompileCache?.();",
    "let n = 0;",
    "m.registerHooks?.({ load(u, c, next) { n++; return next(u, c); } });",
    "const t = performance.now();",
    `await import(${JSON.stringify(cliMain)});`,
    `await import(${JSON.stringify(client)});`,
    "process.stdout.write(JSON.stringify({ ms: performance.now() - t, n }));",
  ].join("\n");
  const bare: number[] = [];
  const imports: number[] = [];
  let modules = 0;
  for (let i = 0; i < rounds + 1; i++) {
    const t0 = performance.now();
    await exitOf(NODE, ["-e", "0"]);
    const t1 = performance.now();
    const { stdout: out } = await execFileAsync(NODE, ["--input-type=module", "-e", script]);
    const r = JSON.parse(out) as { ms: number; n: number };
    if (i === 0) continue;
    bare.push(t1 - t0);
    imports.push(r.ms);
    modules = r.n;
  }
  return { bareMs: summarize(bare), importMs: summarize(imports), modules };
}
