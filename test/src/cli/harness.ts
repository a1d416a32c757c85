// sbx (the real executable) against a fresh sandboxd and sbx-sandboxer, for the
// CLI's integration tests. Root.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@sandboxd/client";
import { sbxStack } from "../client/daemon.js";
import { startStack, type Stack, type StackOptions } from "@sandboxd/testing";

export const sbxBin = fileURLToPath(new URL("../../../packages/cli/bin/sbx", import.meta.url));

export interface Result {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface Running {
  child: ChildProcess;
  done: Promise<Result>;
  /** Output so far. */
  stdout: () => string;
}

export interface Sbx {
  daemon: Stack;
  env: Record<string, string>;
  namespace: string;
  /** A client of the same daemon and namespace. */
  client: Client;
  /**
   * Starts sbx; it is SIGKILLed (and the test fails) if still running after `timeoutMs`
   * (60 s). `with` adds to its environment and sets its working directory.
   */
  start: (args: string[], input?: string, timeoutMs?: number, with_?: SbxWith) => Running;
  /** Runs sbx to the end. */
  sbx: (args: string[], input?: string) => Promise<Result>;
  /** `sbx -o json ARGS`, which must exit 0, parsed. */
  json: (args: string[]) => Promise<unknown>;
}

export interface SbxWith {
  env?: Record<string, string>;
  cwd?: string;
}

export async function setupSbx(
  t: { after: (fn: () => Promise<void>) => void },
  namespace = "cli-it",
  options: Partial<StackOptions> = {},
): Promise<Sbx> {
  const daemon = await startStack(t, { ...sbxStack, ...options });
  const env = {
    ...daemon.env,
    PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin",
    SANDBOXD_ADDRESS: daemon.address,
    SANDBOXD_NAMESPACE: namespace,
    // The embedded default rootfs, prepared on first use, in the test's own directory.
    SANDBOXD_ROOTFS_CACHE: join(daemon.dir, "rootfs-cache"),
  };
  const children = new Set<ChildProcess>();
  const start = (
    args: string[],
    input?: string,
    timeoutMs = 60_000,
    with_: SbxWith = {},
  ): Running => {
    const child = spawn(sbxBin, args, {
      env: { ...env, ...with_.env },
      cwd: with_.cwd,
      stdio: ["pipe", "pipe", "pipe"],
    });
    children.add(child);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.stdin.end(input);
    const timer = setTimeout(() => {
      stderr += `\n(test: sbx ${args.join(" ")} still running after ${timeoutMs} ms, killed)`;
      child.kill("SIGKILL");
    }, timeoutMs);
    const done: Promise<Result> = once(child, "exit").then(([status, signal]) => {
      clearTimeout(timer);
      children.delete(child);
      return {
        status: status as number | null,
        signal: signal as NodeJS.Signals | null,
        stdout,
        stderr,
      };
    });
    return { child, done, stdout: () => stdout };
  };
  const sbx = (args: string[], input?: string): Promise<Result> => start(args, input).done;
  const json = async (args: string[]): Promise<unknown> => {
    const r = await sbx(["-o", "json", ...args]);
    assert.equal(r.status, 0, `sbx -o json ${args.join(" ")}: ${r.stderr}`);
    return JSON.parse(r.stdout) as unknown;
  };
  const client = await Client.connect({ address: daemon.address, namespace });
  t.after(() => {
    client.close();
    for (const child of children) child.kill("SIGKILL");
    return Promise.resolve();
  });
  return { daemon, env, namespace, client, start, sbx, json };
}

/** Asserts that the namespace holds no sandbox, container or task. */
export async function assertEmpty(client: Client): Promise<void> {
  assert.deepEqual(
    (await client.sandboxes()).map((s) => s.id),
    [],
    "no sandbox left",
  );
  assert.deepEqual(
    (await client.containers()).map((c) => c.id),
    [],
    "no container left",
  );
  assert.deepEqual(
    (await client.tasks()).map((t) => t.id),
    [],
    "no task left",
  );
}
