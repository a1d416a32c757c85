/**
 * `npm run bench` (scripts/bench.sh runs this after scripts/setup.sh): every
 * measurement in one run, side by side with runc and containerd 1.6, then
 * docs/benchmarks.md (targets, machine, date, command, one table per
 * measurement) and docs/benchmarks.svg. Raw samples go to
 * bench/results/bench.json (full run) or next to the results file (--quick).
 *
 *   node bench/dist/main.js [--quick] [--only cli,start,concurrent,memory,ttrpc,recovery,images,cri,profile]
 *                           [--out docs/benchmarks.md]
 *   node bench/dist/main.js --from-json bench/results/bench.json [--out FILE]
 *
 * --quick writes bench/results/raw/quick/ (ignored by git) unless --out says
 * otherwise; --from-json only writes the results file and chart again from a
 * stored run.
 *
 * Everything it starts is removed at the end, also after a failure or
 * SIGINT/SIGTERM; what the final sweep still had to remove is printed and
 * written to the results file.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { basename, dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { requireBinary, requireRoot } from "@sandboxd/testing";
import { renderChart } from "./chart.js";
import { Sections, full, quick, type Plan, type SectionName } from "./plan.js";
import { startBenchRegistry } from "./bench-images.js";
import { benchCliCall } from "./cli-call.js";
import { benchConcurrent, clearContainerd } from "./concurrent.js";
import { benchCri } from "./cri.js";
import { errorText, openBenchEnv, type BenchEnv } from "./harness.js";
import { benchImages } from "./images.js";
import { benchMemory } from "./memory.js";
import { sample } from "./pss.js";
import { benchProfile } from "./profile.js";
import { benchRecovery } from "./recovery.js";
import { machineInfo, machineLoad, renderReport, type Machine } from "./report.js";
import { explanations } from "./explain.js";
import { panels } from "./panels.js";
import { sections, targets, type BenchResults } from "./results.js";
import { benchStartToExit } from "./start-to-exit.js";
import {
  busyboxRootfs,
  removeSandboxes,
  runcBundle,
  startBenchContainerd,
  startSbxStack,
  type SbxStack,
} from "./systems.js";
import { runTtrpcBench } from "./ttrpc.js";

const repo = fileURLToPath(new URL("../..", import.meta.url));
const sbxBin = join(repo, "packages", "cli", "bin", "sbx");

function log(line: string): void {
  process.stderr.write(`bench: ${line}\n`);
}

async function section<T>(
  results: BenchResults,
  name: SectionName,
  only: ReadonlySet<SectionName>,
  run: () => Promise<T>,
  afterFailure: () => Promise<void>,
): Promise<T | undefined> {
  if (!only.has(name)) return undefined;
  const started = performance.now();
  log(`${name}: running`);
  try {
    const value = await run();
    log(`${name}: done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    return value;
  } catch (err) {
    results.failed[name] = errorText(err);
    log(`${name}: FAILED: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    await afterFailure().catch((e: unknown) =>
      log(`${name}: clean-up after failure: ${errorText(e)}`),
    );
    return undefined;
  }
}

async function measure(
  env: BenchEnv,
  plan: Plan,
  only: ReadonlySet<SectionName>,
): Promise<BenchResults> {
  const results: BenchResults = { failed: {}, leftovers: [] };
  results.ttrpc = await section(
    results,
    "ttrpc",
    only,
    () => runTtrpcBench(plan.ttrpc),
    async () => {},
  );
  const needsDaemons = [...only].some((s) => s !== "ttrpc");
  if (!needsDaemons) return results;

  const rootfs = await busyboxRootfs(env);
  const runc = await runcBundle(env, rootfs);
  const containerd = await startBenchContainerd(env);
  const stack: SbxStack = await startSbxStack(env);
  // The daemons as they start, before the sections use them (the memory section runs later).
  const freshPssKiB = {
    sandboxd: (await sample([stack.sandboxd.process.pid ?? 0])).pssKiB,
    "sbx-sandboxer": (await sample([stack.sandboxer.pid])).pssKiB,
    containerd: (await sample([containerd.process.pid ?? 0])).pssKiB,
  };
  if (!stack.sandboxApi)
    log("sandboxd has no Sandbox API yet: the sbx and SDK parts are not measured");
  const clear = async (): Promise<void> => {
    await clearContainerd(containerd);
    if (stack.sandboxApi) await removeSandboxes(stack.client);
  };

  results.cli = await section(
    results,
    "cli",
    only,
    () =>
      benchCliCall({
        ...plan.cli,
        address: stack.sandboxd.address,
        sbxBin,
        daemonPid: stack.sandboxd.process.pid ?? 0,
      }),
    async () => {},
  );
  results.startToExit = await section(
    results,
    "start",
    only,
    () => benchStartToExit({ ...plan.start, rootfs, runc, containerd, stack, sbxBin }),
    clear,
  );
  results.concurrent = await section(
    results,
    "concurrent",
    only,
    () => benchConcurrent({ ...plan.concurrent, rootfs, containerd, stack, sbxBin }),
    clear,
  );
  results.memory = await section(
    results,
    "memory",
    only,
    () => benchMemory({ ...plan.memory, rootfs, containerd, stack, freshPssKiB, inProcess: true }),
    clear,
  );
  results.recovery = await section(
    results,
    "recovery",
    only,
    () => benchRecovery({ ...plan.recovery, rootfs, stack }),
    clear,
  );
  // Both need the registry; the CRI section starts CRI-enabled daemons of its own.
  const registry =
    only.has("images") || only.has("cri") ? await startBenchRegistry(env) : undefined;
  if (registry) {
    results.images = await section(
      results,
      "images",
      only,
      () => benchImages({ ...plan.images, containerd, stack, images: registry, sbxBin }),
      clear,
    );
    results.cri = await section(
      results,
      "cri",
      only,
      () => benchCri({ ...plan.cri, env, registry: registry.registry, busybox: registry.busybox }),
      async () => {},
    );
  }
  // Last, on a stack of its own (debug logs): nothing it does can disturb the timings above.
  if (stack.sandboxApi) {
    results.profile = await section(
      results,
      "profile",
      only,
      () => benchProfile({ ...plan.profile, env, rootfs, sbxBin }),
      async () => {},
    );
  }
  return results;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: "boolean" },
      only: { type: "string" },
      out: { type: "string" },
      "from-json": { type: "string" },
    },
  });
  if (values["from-json"] !== undefined) {
    // Only the writing: the results file and chart again from a stored run.
    const record = JSON.parse(await readFile(values["from-json"], "utf8")) as RunRecord;
    await publish(record, resolve(values.out ?? join(repo, "docs", "benchmarks.md")));
    return;
  }
  requireRoot("the benchmarks run containers");
  for (const [bin, pkg] of [
    ["/usr/sbin/runc", "runc"],
    ["/usr/bin/conmon", "conmon"],
    ["/usr/bin/containerd", "containerd"],
    ["/usr/bin/ctr", "containerd"],
    ["/usr/lib/cni/bridge", "containernetworking-plugins"],
    ["/bin/busybox", "busybox-static"],
  ] as const) {
    await requireBinary(bin, pkg);
  }
  const plan = values.quick ? quick : full;
  const only = new Set<SectionName>(
    values.only === undefined
      ? Sections
      : values.only.split(",").map((s) => {
          if (!(Sections as readonly string[]).includes(s)) {
            throw new Error(`--only: unknown section "${s}" (one of ${Sections.join(", ")})`);
          }
          return s as SectionName;
        }),
  );
  // A quick run (while developing) leaves the committed results alone.
  const out = resolve(
    values.out ??
      (values.quick
        ? join(repo, "bench", "results", "raw", "quick", "benchmarks.md")
        : join(repo, "docs", "benchmarks.md")),
  );
  const command = `npm run bench${values.quick ? " -- --quick" : ""}${values.only ? ` (--only ${values.only})` : ""}`;
  const date = new Date();
  const loadAtStart = await machineLoad();
  const started = performance.now();

  const env = await openBenchEnv();
  const onSignal = (signal: NodeJS.Signals): void => {
    log(`${signal}: cleaning up`);
    void env.close().then((left) => {
      for (const l of left) log(`removed: ${l}`);
      process.exit(130);
    });
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);

  let results: BenchResults;
  try {
    results = await measure(env, plan, only);
  } catch (err) {
    results = { failed: { setup: errorText(err) }, leftovers: [] };
    log(`setup FAILED: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  } finally {
    const left = await env.close();
    for (const l of left) log(`removed at the end: ${l}`);
    results ??= { failed: {}, leftovers: [] };
    results.leftovers = left;
  }

  const machine = {
    ...(await machineInfo()),
    load: { start: loadAtStart, end: await machineLoad() },
  };
  const record: RunRecord = {
    date: date.toISOString(),
    command,
    plan,
    machine,
    wholeRunS: Math.round((performance.now() - started) / 1000),
    results,
  };
  const raw = plan.quick
    ? join(dirname(out), "bench.json")
    : join(repo, "bench", "results", "bench.json");
  await mkdir(dirname(raw), { recursive: true });
  await writeFile(raw, `${JSON.stringify(record, null, 2)}\n`);
  await publish(record, out);
  log(`wrote ${relative(process.cwd(), raw)}`);
  for (const t of targets(results)) {
    log(
      `target ${t.name}: ${t.goal}: ${t.measured} → ${t.met === undefined ? "not measured" : t.met ? "met" : "MISSED"}`,
    );
  }
  if (Object.keys(results.failed).length) process.exitCode = 1;
}

/** What one run measured, as bench/results/bench.json keeps it. */
interface RunRecord {
  date: string;
  command: string;
  plan: Plan;
  machine: Machine;
  wholeRunS: number;
  results: BenchResults;
}

/** Writes the results file (`out`) and the chart next to it. */
async function publish(record: RunRecord, out: string): Promise<void> {
  const { plan, results } = record;
  const svg = out.replace(/\.md$/, "") + ".svg";
  const date = new Date(record.date);
  const chartPanels = panels(results);
  const notes: string[] = [];
  if (plan.quick) {
    notes.push(
      `Quick mode: ${plan.start.rounds} rounds of start-to-exit, ${plan.concurrent.pods} concurrent pods, memory at ${plan.memory.pods} pods, ` +
        `recovery with ${plan.recovery.pods} pods, ${plan.ttrpc.durationMs} ms per ttrpc scenario. The full run uses ${full.start.rounds} rounds, ` +
        `${full.concurrent.pods} pods, ${full.memory.pods} pods, ${full.recovery.pods} pods and ${full.ttrpc.durationMs} ms; ` +
        "per-pod memory at fewer pods carries more of the fixed cost of the daemons.",
    );
  }
  for (const [name, why] of Object.entries(results.failed))
    notes.push(`Section "${name}" failed: ${why}`);
  if (results.leftovers.length) {
    notes.push(
      `The final sweep had to remove ${results.leftovers.length} thing(s) the normal teardown left: ${results.leftovers.slice(0, 20).join("; ")}`,
    );
  } else {
    notes.push(
      "Nothing was left behind: the final sweep found no container, mount, cgroup, link or process of the run.",
    );
  }
  const report = renderReport({
    date,
    command: record.command,
    machine: record.machine,
    targets: targets(results),
    explanations: explanations(results),
    sections: sections(results, plan.ttrpc.durationMs),
    ...(chartPanels.length ? { chart: basename(svg) } : {}),
    quick: plan.quick,
  });
  const extra = [
    ["## Notes on this run", "", ...notes.map((n) => `- ${n}`), ""].join("\n"),
    `Whole run: ${record.wholeRunS} s. Raw samples: \`bench/results/bench.json\` (of the full run).`,
    "",
    "Start-up, pod and daemon-path measurements made by hand between full runs (issue 13): " +
      "[benchmarks-startup.md](benchmarks-startup.md).",
    "",
  ].join("\n");
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, `${report}\n${extra}`);
  if (chartPanels.length) {
    await writeFile(
      svg,
      renderChart(
        `sandboxd benchmarks (${record.date.slice(0, 10)}${plan.quick ? ", quick" : ""})`,
        chartPanels,
      ),
    );
  }
  log(
    `wrote ${relative(process.cwd(), out)}${chartPanels.length ? ` and ${relative(process.cwd(), svg)}` : ""}`,
  );
}

main().catch((err: unknown) => {
  process.stderr.write(
    `bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exitCode = 1;
});
