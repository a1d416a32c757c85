// Runs the ```ts blocks of a README, each as its own Node process (Node 24
// strips the types), so documented examples are known to work.
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
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

/**
 * Runs one example with `env` from a directory next to `path` (so package
 * imports resolve in the workspace). Returns its output; throws with its
 * stderr if it fails.
 */
export async function runExample(
  path: string,
  example: Example,
  env: Record<string, string>,
  timeoutMs = 60_000,
): Promise<{ stdout: string; stderr: string }> {
  const dir = await mkdtemp(join(dirname(path), ".example-"));
  const file = join(dir, "example.mts");
  try {
    await writeFile(file, example.code);
    return await execFileAsync(process.execPath, ["--no-warnings", file], {
      env: { ...process.env, ...env },
      timeout: timeoutMs,
    });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`example "${example.title}" failed: ${e.stderr || e.message}`, { cause: err });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
