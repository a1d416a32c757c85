/**
 * One CLI call, `sbx version` against `ctr version`, both at the same
 * sandboxd: issue 13's target 1 (≤ 1.5× ctr's wall, ≤ 40 ms of CPU, ≤ 50 MiB
 * peak). The two run in turn, paired, each under /usr/bin/time for its CPU
 * (user + system, in 10 ms steps) and peak RSS as the operating system
 * accounts the finished process. (A Python wrapper reading the child's
 * rusage was tried: under it ctr took 45-80 ms of CPU instead of about 10.) Where the time goes is in
 * docs/benchmarks-startup.md (instruction counts per phase).
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
}

export interface CliCallResult {
  rounds: number;
  sbx: CliRuns;
  ctr: CliRuns;
  /** sbx's wall over ctr's, pair by pair. */
  wallRatio: Summary;
}

interface Run {
  wallMs: number;
  cpuMs: number;
  peakMiB: number;
}

async function timed(dir: string, argv: readonly string[]): Promise<Run> {
  const out = join(dir, "time.txt");
  const started = performance.now();
  await new Promise<void>((resolve, reject) => {
    const child = spawn("/usr/bin/time", ["-f", "%U %S %M", "-o", out, ...argv], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.on("error", reject);
    child.on("close", (c) =>
      c === 0 ? resolve() : reject(new Error(`${argv.join(" ")}: exit ${c}: ${stderr}`)),
    );
  });
  const wallMs = performance.now() - started;
  const [user, sys, maxKiB] = (await readFile(out, "utf8")).trim().split(/\s+/).map(Number);
  if ([user, sys, maxKiB].some((v) => v === undefined || !Number.isFinite(v))) {
    throw new Error(`${argv.join(" ")}: no figures from /usr/bin/time`);
  }
  return { wallMs, cpuMs: (user! + sys!) * 1000, peakMiB: maxKiB! / 1024 };
}

function runsOf(runs: readonly Run[]): CliRuns {
  return {
    wallMs: summarize(runs.map((r) => r.wallMs)),
    cpuMs: summarize(runs.map((r) => r.cpuMs)),
    peakMiB: summarize(runs.map((r) => r.peakMiB)),
  };
}

/** `rounds` pairs after `warmup` unrecorded ones; the first of each pair alternates. */
export async function benchCliCall(o: {
  rounds: number;
  warmup: number;
  address: string;
  sbxBin: string;
}): Promise<CliCallResult> {
  const dir = await mkdtemp(join(tmpdir(), "sbxb-cli-"));
  const sbx = [o.sbxBin, "--address", o.address, "version"];
  const ctr = ["/usr/bin/ctr", "--address", o.address, "version"];
  const runs: { sbx: Run[]; ctr: Run[] } = { sbx: [], ctr: [] };
  try {
    for (let i = 0; i < o.warmup + o.rounds; i++) {
      let s: Run;
      let c: Run;
      if (i % 2 === 0) {
        s = await timed(dir, sbx);
        c = await timed(dir, ctr);
      } else {
        c = await timed(dir, ctr);
        s = await timed(dir, sbx);
      }
      if (i < o.warmup) continue;
      runs.sbx.push(s);
      runs.ctr.push(c);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return {
    rounds: o.rounds,
    sbx: runsOf(runs.sbx),
    ctr: runsOf(runs.ctr),
    wallRatio: summarize(runs.sbx.map((r, i) => ratio(r.wallMs, runs.ctr[i]!.wallMs))),
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
      "`sbx version` CPU",
      "≤ 40 ms",
      r?.sbx.cpuMs.median,
      40,
      r ? `${fmt(r.sbx.cpuMs.median)} ms (median)` : "",
    ),
    t(
      "`sbx version` peak RSS",
      "≤ 50 MiB",
      r?.sbx.peakMiB.median,
      50,
      r ? `${fmt(r.sbx.peakMiB.median)} MiB (median)` : "",
    ),
  ];
}

export function cliSection(r: CliCallResult): Section {
  const row = (what: string, s: Summary): string[] => [what, fmt(s.median), fmt(s.min), fmt(s.max)];
  return {
    title: "One CLI call: `sbx version` vs `ctr version`",
    method:
      `${r.rounds} pairs against the same sandboxd, the two commands in turn (which goes first alternates), ` +
      "each under /usr/bin/time for its user + system CPU (10 ms steps: ctr's few ms read as 0 or 10) and peak RSS; " +
      "wall is spawn to exit of /usr/bin/time, the same small overhead on both sides. " +
      "docs/benchmarks-startup.md says where sbx's instructions and memory go.",
    table: {
      header: ["what", "median", "min", "max"],
      rows: [
        row("sbx wall ms", r.sbx.wallMs),
        row("ctr wall ms", r.ctr.wallMs),
        row("sbx / ctr wall, paired", r.wallRatio),
        row("sbx CPU ms", r.sbx.cpuMs),
        row("ctr CPU ms", r.ctr.cpuMs),
        row("sbx peak MiB", r.sbx.peakMiB),
        row("ctr peak MiB", r.ctr.peakMiB),
      ],
    },
  };
}
