// Shared by the daemon's integration and interop tests: ctr in the background
// (the stack itself comes from @sandboxd/testing's openStack/startStack).
import { spawn } from "node:child_process";
import type { AfterHook, Sandboxd } from "@sandboxd/testing";

export type { Sandboxd };

/** `ctr events` (or another long-running ctr command) in the background; its output so far. */
export function ctrInBackground(
  t: AfterHook,
  address: string,
  args: readonly string[],
): { output: () => string; stop: () => void } {
  const child = spawn("/usr/bin/ctr", ["--address", address, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
  child.stderr.setEncoding("utf8").on("data", (d: string) => (out += d));
  const stop = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  };
  t.after(stop);
  return { output: () => out, stop };
}
