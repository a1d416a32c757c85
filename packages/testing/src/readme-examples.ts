// Runs the ```ts blocks of a README, each as its own Node process (Node 24
// strips the types), so documented examples are known to work
// (test/src/client/readme-examples.test.ts runs the SDK's).
import { execFile } from "node:child_process";
import { access, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

export interface Example {
  /** The heading above the block. */
  title: string;
  code: string;
}

/** The ```ts blocks of a markdown file, with their headings. */
export async function readmeExamples(path: string): Promise<Example[]> {
  const text = await readFile(path, "utf8");
  const examples: Example[] = [];
  let title = "";
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.startsWith("#")) title = line.replace(/^#+\s*/, "");
    if (line.trim() === "```ts") {
      const start = i + 1;
      while (i + 1 < lines.length && lines[i + 1]!.trim() !== "```") i++;
      examples.push({ title, code: lines.slice(start, i + 1).join("\n") });
      i++;
    }
  }
  return examples;
}

/** The nearest `node_modules` above `dir` that holds the workspace's packages. */
async function workspaceModules(dir: string): Promise<string> {
  for (let d = dir; ; d = dirname(d)) {
    const candidate = join(d, "node_modules");
    try {
      await access(join(candidate, "@sandboxd"));
      return candidate;
    } catch {
      if (dirname(d) === d) throw new Error(`no node_modules/@sandboxd above ${dir}`);
    }
  }
}

export interface RunExampleOptions {
  /** Where the example's temporary directory goes (default: the OS temp dir). */
  tmpDir?: string;
  /** Killed (SIGKILL) after this long (default 60 s). */
  timeoutMs?: number;
}

/**
 * Runs one example with `env` from a temporary directory (removed afterwards,
 * whatever happens) whose `node_modules` links to the workspace's, so package
 * imports resolve as they do for `path`. Returns its output; throws with its
 * output if it fails.
 */
export async function runExample(
  path: string,
  example: Example,
  env: Record<string, string>,
  options: RunExampleOptions = {},
): Promise<{ stdout: string; stderr: string }> {
  const modules = await workspaceModules(dirname(path));
  const dir = await mkdtemp(join(options.tmpDir ?? tmpdir(), "sbx-example-"));
  try {
    await symlink(modules, join(dir, "node_modules"));
    const file = join(dir, "example.mts");
    await writeFile(file, example.code);
    return await execFileAsync(process.execPath, ["--no-warnings", file], {
      cwd: dir,
      env: { ...process.env, ...env },
      timeout: options.timeoutMs ?? 60_000,
      killSignal: "SIGKILL",
    });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    const output = [e.stdout, e.stderr].filter(Boolean).join("\n");
    throw new Error(`example "${example.title}" failed: ${e.message}\n${output}`, { cause: err });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
