/**
 * Recovery after kill -9: N pods (one `sleep` container each) are running, the
 * sandboxer is killed with SIGKILL and started again on the same state. Reported:
 * the sandboxer's own recovery time (loading every record, re-arming every exit
 * watch, checking every monitor: the `recovery_ms` it reports), and the wall time
 * from exec to its sockets answering (process start included). Target: 100 pods
 * recovered in under 1 s.
 *
 *   node bench/dist/sandboxer-recovery.js [--pods N] [--rounds N] [--network]
 *
 * prints a table and writes bench/results/sandboxer-recovery.json.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { Controller } from "@sandboxd/api/services/sandbox/v1/sandbox_pb";
import { Task } from "@sandboxd/api/runtime/task/v3/shim_pb";
import { Sandboxer } from "@sandboxd/api/sandboxd/sandboxer/v1/sandboxer_pb";
import { prepareBusyboxRootfs } from "../../packages/client/dist/rootfs/busybox.js";
import { Channel } from "@sandboxd/grpc";
import { ociSpec, startSandboxer, writeBundleSpec } from "@sandboxd/testing";
import { connect, createClient } from "@sandboxd/ttrpc";
import { summarize, type Summary } from "./stats.js";

export interface RecoveryOptions {
  pods?: number;
  rounds?: number;
  network?: boolean;
}

export interface RecoveryResult {
  pods: number;
  containers: number;
  rounds: number;
  /** The sandboxer's own measure of recovery, ms. */
  recoveryMs: Summary;
  /** exec → task socket accepting connections, ms. */
  restartToListenMs: Summary;
}

async function listening(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(path);
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

export async function benchSandboxerRecovery(o: RecoveryOptions = {}): Promise<RecoveryResult> {
  const pods = o.pods ?? 100;
  const rounds = o.rounds ?? 5;
  const dir = await mkdtemp(join(tmpdir(), "sbx-rec-"));
  try {
    const rootfs = await prepareBusyboxRootfs(join(dir, "rootfs"));
    const sbx = await startSandboxer({
      dir: join(dir, "sbx"),
      network: o.network ?? false,
      logLevel: "info",
    });
    try {
      const channel = new Channel(sbx.listen, { metadata: { "containerd-namespace": "bench" } });
      const ctl = channel.client(Controller);
      let conn = await connect(sbx.taskSocket);
      const tasks = createClient(conn, Task);
      const md = { metadata: { "containerd-namespace-ttrpc": "bench" } };
      for (let i = 0; i < pods; i++) {
        const id = `pod${i}`;
        await ctl.create({ sandboxId: id });
        await ctl.start({ sandboxId: id });
        const bundle = join(dir, "bundles", id);
        await writeBundleSpec(bundle, ociSpec({ args: ["/bin/sleep", "100000"], rootfs }));
        await writeFile(join(bundle, "sandbox"), id);
        await tasks.create({ id: `${id}-c`, bundle, stdout: "", stderr: "" }, md);
        await tasks.start({ id: `${id}-c` }, md);
      }
      await conn.close();
      const recoveryMs: number[] = [];
      const listenMs: number[] = [];
      let containers = 0;
      for (let r = 0; r < rounds; r++) {
        await sbx.kill("SIGKILL");
        const started = performance.now();
        const restart = sbx.restart();
        // restart() itself polls for the socket; measure the same moment independently.
        while (!(await listening(sbx.taskSocket))) await new Promise((res) => setTimeout(res, 2));
        listenMs.push(performance.now() - started);
        await restart;
        conn = await connect(sbx.taskSocket);
        const info = await createClient(conn, Sandboxer).info({});
        if (info.sandboxes !== pods)
          throw new Error(`recovered ${info.sandboxes} of ${pods} sandboxes`);
        containers = info.containers;
        recoveryMs.push(info.recoveryMs);
        await conn.close();
      }
      for (let i = 0; i < pods; i++) {
        await ctl.stop({ sandboxId: `pod${i}`, timeoutSecs: 0 });
        await ctl.shutdown({ sandboxId: `pod${i}` });
      }
      channel.close();
      return {
        pods,
        containers,
        rounds,
        recoveryMs: summarize(recoveryMs),
        restartToListenMs: summarize(listenMs),
      };
    } finally {
      await sbx.stop();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { pods: { type: "string" }, rounds: { type: "string" }, network: { type: "boolean" } },
  });
  const result = await benchSandboxerRecovery({
    ...(values.pods ? { pods: Number(values.pods) } : {}),
    ...(values.rounds ? { rounds: Number(values.rounds) } : {}),
    ...(values.network ? { network: true } : {}),
  });
  const f = (s: Summary): string =>
    `median ${s.median.toFixed(1)} ms, min ${s.min.toFixed(1)}, max ${s.max.toFixed(1)}`;
  process.stdout.write(
    `${result.pods} pods, ${result.containers} containers, ${result.rounds} kill -9 + restart rounds\n` +
      `  recovery (the sandboxer's own measure): ${f(result.recoveryMs)}\n` +
      `  exec to listening (process start + recovery): ${f(result.restartToListenMs)}\n`,
  );
  const out = fileURLToPath(new URL("../results/sandboxer-recovery.json", import.meta.url));
  await mkdir(dirname(out), { recursive: true });
  await writeFile(
    out,
    `${JSON.stringify({ node: process.version, date: new Date().toISOString(), ...result }, null, 2)}\n`,
  );
  process.stdout.write(`wrote ${out}\n`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  });
}
