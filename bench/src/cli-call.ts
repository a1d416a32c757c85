/**
 * One CLI call, `sbx version` against `ctr version`, both at the same
 * sandboxd: issue 13's target 1 (≤ 1.5× ctr's wall, ≤ 40 ms of CPU, ≤ 50 MiB
 * peak). sbx as installed (sbx-client handing the command to sandboxd's CLI
 * server), sbx in a Node of its own (SANDBOXD_CLI=local) and ctr run in turn,
 * each under /usr/bin/time for its CPU (user + system, in 10 ms steps) and
 * peak RSS as the operating system accounts the finished process, and with
 * sandboxd's own CPU read before and after: a served call's work is done
 * there, and is counted. (A Python wrapper reading the child's rusage was
 * tried: under it ctr took 45-80 ms of CPU instead of about 10.) Where the
 * Node CLI's time goes is in docs/benchmarks-startup.md.
 */
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fmt, type Section, type Target } from "./report.js";
import { ratio, summarize, type Summary } from "./stats.js";

export interface CliRuns {
  wallMs: Summary;
  cpuMs: Summary;
  peakMiB: Summary;
  /** sandboxd's CPU during the call (user + system, mean per call: /proc ticks are 10 ms). */
  daemonCpuMs: number;
}

export interface CliCallResult {
  rounds: number;
  /** sbx as installed: sbx-client, the command run in sandboxd's CLI server. */
  sbx: CliRuns;
  /** sbx in a Node of its own (SANDBOXD_CLI=local, what runs without a server). */
  node: CliRuns;
  ctr: CliRuns;
  /** sbx's wall over ctr's, round by round. */
  wallRatio: Summary;
  nodeWallRatio: Summary;
  /** sandboxd's resident memory before the first sbx call and after the last (the CLI loads at the first). */
  daemonRssMiB: { before: number; after: number };
}

interface Run {
  wallMs: number;
  cpuMs: number;
  peakMiB: number;
  daemonCpuMs: number;
}

/** utime + stime of `pid`, in ms. */
async function cpuOf(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // Fields 14 and 15 of proc(5), counted from the state (field 3).
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  return Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? NaN) / 1024;
}

async function timed(
  dir: string,
  argv: readonly string[],
  daemonPid: number,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Run> {
  const out = join(dir, "time.txt");
  const daemonBefore = await cpuOf(daemonPid);
  const started = performance.now();
  await new Promise<void>((resolve, reject) => {
    const child = spawn("/usr/bin/time", ["-f", "%U %S %M", "-o", out, ...argv], {
      stdio: ["ignore", "ignore", "pipe"],
      env,
    });
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.on("error", reject);
    child.on("close", (c) =>
      c === 0 ? resolve() : reject(new Error(`${argv.join(" ")}: exit ${c}: ${stderr}`)),
    );
  });
  const wallMs = performance.now() - started;
  const daemonCpuMs = (await cpuOf(daemonPid)) - daemonBefore;
  const [user, sys, maxKiB] = (await readFile(out, "utf8")).trim().split(/\s+/).map(Number);
  if ([user, sys, maxKiB].some((v) => v === undefined || !Number.isFinite(v))) {
    throw new Error(`${argv.join(" ")}: no figures from /usr/bin/time`);
  }
  return { wallMs, cpuMs: (user! + sys!) * 1000, peakMiB: maxKiB! / 1024, daemonCpuMs };
}

function runsOf(runs: readonly Run[]): CliRuns {
  return {
    wallMs: summarize(runs.map((r) => r.wallMs)),
    cpuMs: summarize(runs.map((r) => r.cpuMs)),
    peakMiB: summarize(runs.map((r) => r.peakMiB)),
    daemonCpuMs: runs.reduce((sum, r) => sum + r.daemonCpuMs, 0) / Math.max(1, runs.length),
  };
}

/**
 * `rounds` rounds after `warmup` unrecorded ones, each running the three
 * commands once; which goes first rotates.
 */
export async function benchCliCall(o: {
  rounds: number;
  warmup: number;
  address: string;
  sbxBin: string;
  daemonPid: number;
}): Promise<CliCallResult> {
  const dir = await mkdtemp(join(tmpdir(), "sbxb-cli-"));
  const sbx = [o.sbxBin, "--address", o.address, "version"];
  const ctr = ["/usr/bin/ctr", "--address", o.address, "version"];
  const localEnv = { ...process.env, SANDBOXD_CLI: "local" };
  const kinds = ["sbx", "node", "ctr"] as const;
  const runs: Record<(typeof kinds)[number], Run[]> = { sbx: [], node: [], ctr: [] };
  const before = await rssMiB(o.daemonPid);
  try {
    for (let i = 0; i < o.warmup + o.rounds; i++) {
      const round: Partial<Record<(typeof kinds)[number], Run>> = {};
      for (let k = 0; k < kinds.length; k++) {
        const kind = kinds[(i + k) % kinds.length]!;
        round[kind] =
          kind === "ctr"
            ? await timed(dir, ctr, o.daemonPid)
            : await timed(dir, sbx, o.daemonPid, kind === "node" ? localEnv : process.env);
      }
      if (i < o.warmup) continue;
      for (const kind of kinds) runs[kind].push(round[kind]!);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return {
    rounds: o.rounds,
    sbx: runsOf(runs.sbx),
    node: runsOf(runs.node),
    ctr: runsOf(runs.ctr),
    wallRatio: summarize(runs.sbx.map((r, i) => ratio(r.wallMs, runs.ctr[i]!.wallMs))),
    nodeWallRatio: summarize(runs.node.map((r, i) => ratio(r.wallMs, runs.ctr[i]!.wallMs))),
    daemonRssMiB: { before, after: await rssMiB(o.daemonPid) },
  };
}

export function cliTargets(r: CliCallResult | undefined): Target[] {
  const t = (
    name: string,
    goal: string,
    value: number | undefined,
    limit: number,
    text: string,
  ): Target =>
    value === undefined
      ? { name, goal, measured: "not measured", met: undefined }
      : { name, goal, measured: text, met: value <= limit };
  return [
    t(
      "`sbx version` vs `ctr version`, wall",
      "≤ 1.5×",
      r?.wallRatio.median,
      1.5,
      r
        ? `${r.wallRatio.median.toFixed(2)}× (${fmt(r.sbx.wallMs.median)} vs ${fmt(r.ctr.wallMs.median)} ms, medians)`
        : "",
    ),
    t(
      "`sbx version` CPU, its own and sandboxd's for the call",
      "≤ 40 ms",
      r ? r.sbx.cpuMs.median + r.sbx.daemonCpuMs : undefined,
      40,
      r
        ? `${fmt(r.sbx.cpuMs.median + r.sbx.daemonCpuMs)} ms (sbx-client ${fmt(r.sbx.cpuMs.median)}, median; sandboxd ${fmt(r.sbx.daemonCpuMs)}, mean)`
        : "",
    ),
    t(
      "`sbx version` peak RSS",
      "≤ 50 MiB",
      r?.sbx.peakMiB.median,
      50,
      r
        ? `${fmt(r.sbx.peakMiB.median)} MiB (median; sandboxd's RSS ${fmt(r.daemonRssMiB.before)} → ${fmt(r.daemonRssMiB.after)} MiB once the CLI is loaded)`
        : "",
    ),
  ];
}

export function cliSection(r: CliCallResult): Section {
  const row = (what: string, s: Summary): string[] => [what, fmt(s.median), fmt(s.min), fmt(s.max)];
  const mean = (what: string, ms: number): string[] => [what, fmt(ms), "", ""];
  return {
    title: "One CLI call: `sbx version` vs `ctr version`",
    method:
      `${r.rounds} rounds against the same sandboxd, each running three commands in turn (which goes first rotates): ` +
      "sbx as installed (sbx-client; the command runs in sandboxd's CLI server), sbx in a Node of its own " +
      "(SANDBOXD_CLI=local, as without a server) and ctr. Each runs under /usr/bin/time for its user + system CPU " +
      "(10 ms steps: a few ms read as 0 or 10) and peak RSS; sandboxd's CPU during each call comes from " +
      "/proc/PID/stat (10 ms ticks, so given as the mean over the rounds); " +
      "wall is spawn to exit of /usr/bin/time, the same small overhead on every side. " +
      `sandboxd's RSS: ${fmt(r.daemonRssMiB.before)} MiB before the first sbx call, ${fmt(r.daemonRssMiB.after)} MiB after the last. ` +
      "docs/benchmarks-startup.md says where the Node CLI's instructions and memory go.",
    table: {
      header: ["what", "median", "min", "max"],
      rows: [
        row("sbx wall ms", r.sbx.wallMs),
        row("sbx (Node CLI) wall ms", r.node.wallMs),
        row("ctr wall ms", r.ctr.wallMs),
        row("sbx / ctr wall, paired", r.wallRatio),
        row("sbx (Node CLI) / ctr wall, paired", r.nodeWallRatio),
        row("sbx CPU ms (sbx-client)", r.sbx.cpuMs),
        mean("sandboxd CPU ms per sbx call (mean)", r.sbx.daemonCpuMs),
        row("sbx (Node CLI) CPU ms", r.node.cpuMs),
        mean("sandboxd CPU ms per Node CLI call (mean)", r.node.daemonCpuMs),
        row("ctr CPU ms", r.ctr.cpuMs),
        mean("sandboxd CPU ms per ctr call (mean)", r.ctr.daemonCpuMs),
        row("sbx peak MiB (sbx-client)", r.sbx.peakMiB),
        row("sbx (Node CLI) peak MiB", r.node.peakMiB),
        row("ctr peak MiB", r.ctr.peakMiB),
      ],
    },
  };
}
