/**
 * Start-to-exit of one container running `/bin/true`, every system in the
 * same rounds, the order rotated each round (drift and "who runs after whom"
 * hit every system alike):
 *
 * - `runc run` of a prepared bundle: the floor (no daemon, no monitor);
 * - `ctr run --rm --rootfs` through Debian's containerd 1.6 (runc shim);
 * - the same `ctr run --rm` through sandboxd (runc shim): issue 3's comparison;
 * - `sbx run --rm --rootfs` through sandboxd + sbx-sandboxer: a pod per container, the
 *   sandboxer reached as sandboxd's proxy sandbox controller (a node service);
 * - the same with `--net none`: a pod with loopback only, like the empty network
 *   namespace that ctr's and runc's containers get (issue 13 judges both);
 * - the same with `--sandboxer shim`: sandboxd runs `containerd-shim-sbx-v1 start` per pod;
 * - the SDK in this long-running process: create sandbox + container, start,
 *   wait, delete task, container and sandbox (no process start-up per run);
 *   again with no network, and once more also without seccomp: `runc run`'s
 *   own work (sbx and the SDK apply containerd's RuntimeDefault profile by
 *   default, which ctr and `runc spec` do not; runc compiles it at every create).
 *
 * Every run must exit 0. Besides the time, the number of processes the
 * machine started during each run (/proc/stat) shows what each path spawns.
 */
import { spawn } from "node:child_process";
import type { Client } from "@sandboxd/client";
import { defaultSpec } from "@sandboxd/client";
import { runCtr, type Containerd } from "@sandboxd/testing";
import { forksSinceBoot } from "./pss.js";
import { alternate, summarize, type Summary } from "./stats.js";
import { NAMESPACE, type RuncBundle, type SbxStack } from "./systems.js";

export const System = {
  runc: "runc run",
  ctrContainerd: "ctr run --rm → containerd 1.6",
  ctrSandboxd: "ctr run --rm → sandboxd",
  sbx: "sbx run --rm",
  sbxNone: "sbx run --rm --net none",
  sbxShim: "sbx run --rm (shim controller)",
  sdk: "SDK (long-running process)",
  sdkNone: "SDK, no network",
  sdkBare: "SDK, no network, no seccomp",
} as const;
export type System = (typeof System)[keyof typeof System];

export interface StartToExitOptions {
  rounds: number;
  warmup: number;
  rootfs: string;
  runc: RuncBundle;
  containerd: Containerd;
  stack: SbxStack;
  /** The sbx executable (its launcher). */
  sbxBin: string;
}

export interface SystemResult {
  /** ms per run. */
  summary: Summary;
  samples: number[];
  /**
   * Fewest processes started on the machine during one run (the machine's counter: other
   * work adds to it, so the fewest of the rounds is the closest to what the run starts).
   */
  forks: number;
}

export interface StartToExitResult {
  rounds: number;
  warmup: number;
  results: Partial<Record<System, SystemResult>>;
  /** Systems that could not be measured, and why. */
  skipped: Partial<Record<System, string>>;
}

/** Spawns a command with no stdin/stdout; resolves with its exit code and stderr. */
export function exitOf(
  file: string,
  args: readonly string[],
  env?: NodeJS.ProcessEnv,
): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ["ignore", "ignore", "pipe"], env });
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, stderr }));
  });
}

function check(what: string, r: { code: number | null; stderr: string }): void {
  if (r.code !== 0) throw new Error(`${what} exited with ${r.code}: ${r.stderr.trim()}`);
}

export interface SdkRunOptions {
  /** The pod's network: the sandboxer's CNI network by default. */
  network?: "none";
  /** The container's seccomp filter: containerd's RuntimeDefault by default. */
  seccomp?: "unconfined";
}

/** One run through the SDK: what `sbx run --rm` does, without the process. */
export async function sdkRun(
  client: Client,
  id: string,
  rootfs: string,
  args: readonly string[],
  options: SdkRunOptions = {},
): Promise<number> {
  const podSpec = defaultSpec({ id, namespace: client.namespace, hostname: id });
  delete podSpec.process;
  delete podSpec.root;
  const sandbox = await client.newSandbox(id, {
    spec: podSpec,
    ...(options.network ? { network: options.network } : {}),
  });
  try {
    await sandbox.start();
    const spec = defaultSpec({
      ...{ id, namespace: client.namespace, args: [...args], rootfs, hostname: id },
      ...(options.seccomp ? { seccomp: options.seccomp } : {}),
    });
    const container = await sandbox.newContainer(id, { spec });
    try {
      const task = await container.newTask();
      const exited = task.wait();
      exited.catch(() => undefined);
      await task.start();
      const { exitStatus } = await exited;
      await task.delete();
      return exitStatus;
    } finally {
      await container.delete({ force: true });
    }
  } finally {
    await sandbox.shutdown({ force: true });
  }
}

export async function benchStartToExit(o: StartToExitOptions): Promise<StartToExitResult> {
  const skipped: StartToExitResult["skipped"] = {};
  let n = 0;
  const id = (prefix: string): string => `${prefix}${process.pid}-${n++}`;
  const systems: Partial<Record<System, () => Promise<void>>> = {
    [System.runc]: async () => {
      check(
        "runc run",
        await exitOf("runc", ["--root", o.runc.root, "run", "--bundle", o.runc.bundle, id("r")]),
      );
    },
    [System.ctrContainerd]: async () => {
      const r = await runCtr(
        o.containerd.address,
        ["run", "--rm", "--rootfs", o.rootfs, id("c"), "/bin/true"],
        { namespace: NAMESPACE },
      );
      check("ctr run --rm (containerd)", { code: r.code, stderr: r.stderr });
    },
    [System.ctrSandboxd]: async () => {
      const r = await runCtr(
        o.stack.sandboxd.address,
        ["run", "--rm", "--rootfs", o.rootfs, id("d"), "/bin/true"],
        { namespace: NAMESPACE },
      );
      check("ctr run --rm (sandboxd)", { code: r.code, stderr: r.stderr });
    },
  };
  if (o.stack.sandboxApi) {
    const sbxRun = (extra: string[]) => async (): Promise<void> => {
      check(
        `sbx run --rm ${extra.join(" ")}`,
        await exitOf(o.sbxBin, [
          "--address",
          o.stack.sandboxd.address,
          "-n",
          NAMESPACE,
          "run",
          "--rm",
          ...extra,
          "--rootfs",
          o.rootfs,
          id("s"),
          "/bin/true",
        ]),
      );
    };
    systems[System.sbx] = sbxRun([]);
    systems[System.sbxNone] = sbxRun(["--net", "none"]);
    // The out-of-the-box path: sandboxd runs containerd-shim-sbx-v1 (start) per sandbox,
    // which finds (or starts) a sandboxer; measured for comparison, not for a target.
    systems[System.sbxShim] = sbxRun(["--sandboxer", "shim"]);
    const sdk = (options: SdkRunOptions) => async (): Promise<void> => {
      const status = await sdkRun(o.stack.client, id("k"), o.rootfs, ["/bin/true"], options);
      if (status !== 0) throw new Error(`SDK run exited with ${status}`);
    };
    systems[System.sdk] = sdk({});
    systems[System.sdkNone] = sdk({ network: "none" });
    systems[System.sdkBare] = sdk({ network: "none", seccomp: "unconfined" });
  } else {
    const why = "sandboxd does not serve the Sandbox API yet";
    for (const s of [System.sbx, System.sbxNone, System.sbxShim]) skipped[s] = why;
    for (const s of [System.sdk, System.sdkNone, System.sdkBare]) skipped[s] = why;
  }

  const forks: Record<string, number[]> = {};
  const counted = Object.fromEntries(
    Object.entries(systems).map(([name, once]) => [
      name,
      async (): Promise<void> => {
        const before = await forksSinceBoot();
        await once();
        (forks[name] ??= []).push((await forksSinceBoot()) - before);
      },
    ]),
  );
  const samples = await alternate(counted, o.rounds, o.warmup, { rotate: true });
  const results: StartToExitResult["results"] = {};
  for (const [name, s] of Object.entries(samples)) {
    results[name as System] = {
      summary: summarize(s),
      samples: s,
      forks: Math.min(...(forks[name] ?? [Number.NaN])),
    };
  }
  return { rounds: o.rounds, warmup: o.warmup, results, skipped };
}
