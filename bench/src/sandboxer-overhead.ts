/**
 * Runtime overhead per pod: the PSS (/proc/PID/smaps_rollup) of every runtime
 * process, not the workloads, with N pods of one `sleep` container each:
 *
 * - sbx-sandboxer: the sandboxer process + one conmon per container;
 * - containerd 1.6 + containerd-shim-runc-v2: one Go shim per container (the
 *   containerd daemon itself is reported apart; the sandboxer side has no
 *   counterpart of it here because sandboxd is not in the picture).
 *
 * Both in the same run, one after the other. PSS splits shared pages between
 * the processes that map them, so 50 conmons (or 50 shims) share their text.
 *
 *   node bench/dist/sandboxer-overhead.js [--pods N] [--no-network]
 *
 * prints a table and writes bench/results/sandboxer-overhead.json.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { Controller } from "@sandboxd/api/services/sandbox/v1/sandbox_pb";
import { Task } from "@sandboxd/api/runtime/task/v3/shim_pb";
import { prepareBusyboxRootfs } from "../../packages/client/dist/rootfs/busybox.js";
import { Channel } from "@sandboxd/grpc";
import { ociSpec, startContainerd, startSandboxer, writeBundleSpec } from "@sandboxd/testing";
import { connect, createClient } from "@sandboxd/ttrpc";
import { pidsOf, sample, type MemorySample } from "./pss.js";

export type { MemorySample };

export interface OverheadOptions {
  pods?: number;
  /** CNI networking for the sandboxer's pods (default true). */
  network?: boolean;
  /** Also measure containerd + the runc shim (default true). */
  containerd?: boolean;
}

export interface OverheadResult {
  pods: number;
  sandboxer: {
    /** The sandboxer alone, before any pod. */
    idle: MemorySample;
    /** The sandboxer process with N pods. */
    daemon: MemorySample;
    conmon: MemorySample;
    totalPssKiB: number;
    perPodPssKiB: number;
    /** (total with N pods − idle sandboxer) / N: what one more pod costs. */
    marginalPerPodPssKiB: number;
  };
  containerd?: {
    shims: MemorySample;
    daemon: MemorySample;
    perPodPssKiB: number;
  };
}

export async function benchSandboxerOverhead(o: OverheadOptions = {}): Promise<OverheadResult> {
  const pods = o.pods ?? 50;
  const dir = await mkdtemp(join(tmpdir(), "sbx-ovh-"));
  try {
    const rootfs = await prepareBusyboxRootfs(join(dir, "rootfs"));
    const sbx = await startSandboxer({
      dir: join(dir, "sbx"),
      network: o.network ?? true,
      logLevel: "info",
    });
    let result: OverheadResult;
    try {
      const idle = await sample([sbx.pid]);
      const channel = new Channel(sbx.listen, { metadata: { "containerd-namespace": "bench" } });
      const ctl = channel.client(Controller);
      const conn = await connect(sbx.taskSocket);
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
      const daemon = await sample([sbx.pid]);
      const conmon = await sample(await pidsOf("conmon", sbx.stateDir));
      const total = daemon.pssKiB + conmon.pssKiB;
      result = {
        pods,
        sandboxer: {
          idle,
          daemon,
          conmon,
          totalPssKiB: total,
          perPodPssKiB: total / pods,
          marginalPerPodPssKiB: (total - idle.pssKiB) / pods,
        },
      };
      for (let i = 0; i < pods; i++) {
        await ctl.stop({ sandboxId: `pod${i}`, timeoutSecs: 0 });
        await ctl.shutdown({ sandboxId: `pod${i}` });
      }
      await conn.close();
      channel.close();
    } finally {
      await sbx.stop();
    }

    if (o.containerd ?? true) {
      const containerd = await startContainerd({ dir: join(dir, "containerd") });
      try {
        for (let i = 0; i < pods; i++) {
          const r = await containerd.ctr(
            ["run", "-d", "--rootfs", rootfs, `c${i}`, "/bin/sleep", "100000"],
            {
              namespace: "bench",
            },
          );
          if (r.code !== 0) throw new Error(`ctr run c${i}: ${r.stderr}`);
        }
        const shims = await sample(await pidsOf("containerd-shim-runc-v2", containerd.address));
        const daemon = await sample([containerd.process.pid ?? 0]);
        result.containerd = { shims, daemon, perPodPssKiB: shims.pssKiB / pods };
      } finally {
        await containerd.stop();
      }
    }
    return result;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function mb(kib: number): string {
  return (kib / 1024).toFixed(2);
}

export function overheadTable(r: OverheadResult): string {
  const rows = [
    ["what", "processes", "PSS MB", "RSS MB", "PSS MB / pod"],
    ["sbx-sandboxer idle", "1", mb(r.sandboxer.idle.pssKiB), mb(r.sandboxer.idle.rssKiB), ""],
    [
      `sbx-sandboxer, ${r.pods} pods`,
      "1",
      mb(r.sandboxer.daemon.pssKiB),
      mb(r.sandboxer.daemon.rssKiB),
      "",
    ],
    [
      "conmon",
      String(r.sandboxer.conmon.processes),
      mb(r.sandboxer.conmon.pssKiB),
      mb(r.sandboxer.conmon.rssKiB),
      "",
    ],
    ["sandboxer + conmons", "", mb(r.sandboxer.totalPssKiB), "", mb(r.sandboxer.perPodPssKiB)],
    ["  marginal (minus idle)", "", "", "", mb(r.sandboxer.marginalPerPodPssKiB)],
  ];
  if (r.containerd) {
    rows.push(
      [
        "containerd-shim-runc-v2",
        String(r.containerd.shims.processes),
        mb(r.containerd.shims.pssKiB),
        mb(r.containerd.shims.rssKiB),
        mb(r.containerd.perPodPssKiB),
      ],
      [
        "containerd 1.6 (daemon)",
        "1",
        mb(r.containerd.daemon.pssKiB),
        mb(r.containerd.daemon.rssKiB),
        "",
      ],
    );
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  return rows.map((row) => row.map((c, i) => c.padEnd(widths[i]!)).join("  ")).join("\n");
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      pods: { type: "string" },
      "no-network": { type: "boolean" },
      "no-containerd": { type: "boolean" },
    },
  });
  const result = await benchSandboxerOverhead({
    ...(values.pods ? { pods: Number(values.pods) } : {}),
    ...(values["no-network"] ? { network: false } : {}),
    ...(values["no-containerd"] ? { containerd: false } : {}),
  });
  process.stdout.write(`${overheadTable(result)}\n`);
  const out = fileURLToPath(new URL("../results/sandboxer-overhead.json", import.meta.url));
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
