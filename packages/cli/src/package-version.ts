// sbx's own version, from packages/cli/package.json. This module sits at the
// top of dist/, as the bundle does (scripts/bundle.mjs), so the same relative
// path finds package.json in both.
import { readFile } from "node:fs/promises";

export async function cliVersion(): Promise<string> {
  const pkg = JSON.parse(await readFile(new URL("../package.json", import.meta.url), "utf8")) as {
    version: string;
  };
  return pkg.version;
}
