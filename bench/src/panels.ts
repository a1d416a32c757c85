/**
 * The chart's panels (docs/benchmarks.svg): one per measurement, our bars in
 * one colour, containerd's and runc/Go's in theirs, targets as dashed lines.
 */
import type { Panel } from "./chart.js";
import { ConcurrentSystem } from "./concurrent.js";
import { profilePanel } from "./profile-report.js";
import { MB, type BenchResults } from "./results.js";
import { System } from "./start-to-exit.js";

const OURS = "sandboxd / sbx-sandboxer / @sandboxd";
const CONTAINERD = "containerd 1.6";
const RUNC = "runc / Go";

function groupOf(system: string): string {
  if (system.includes("containerd") && !system.includes("sandboxd")) return CONTAINERD;
  if (system.startsWith("runc") || system.includes("go runc shim")) return RUNC;
  return OURS;
}

export function panels(r: BenchResults): Panel[] {
  return [
    ...panelsOf(r).map((p) => ({
      ...p,
      bars: p.bars.map((b) => ({ ...b, group: groupOf(b.system) })),
    })),
    ...(r.profile ? [profilePanel(r.profile)] : []),
  ];
}

function panelsOf(r: BenchResults): Panel[] {
  const out: Panel[] = [];
  if (r.startToExit) {
    const med = (s: System): number => r.startToExit?.results[s]?.summary.median ?? Number.NaN;
    out.push({
      title: "Start to exit, /bin/true",
      unit: "ms (median)",
      targets: [
        { value: 2.0 * med(System.runc), label: "SDK (no network) target: 2.0 × runc run" },
        {
          value: 0.8 * med(System.ctrContainerd),
          label: "sbx run --net none target: 0.8 × ctr run → containerd",
        },
      ],
      bars: Object.values(System).flatMap((name) => {
        const s = r.startToExit?.results[name]?.summary;
        return s ? [{ system: name, value: s.median, p99: s.p99 }] : [];
      }),
    });
  }
  if (r.concurrent) {
    out.push({
      title: `${r.concurrent.pods} pods at once, until all run`,
      unit: "ms (median)",
      bars: Object.values(ConcurrentSystem).flatMap((name) => {
        const s = r.concurrent?.results[name]?.summary;
        return s ? [{ system: name, value: s.median, p99: s.p99 }] : [];
      }),
    });
  }
  if (r.memory) {
    const m = r.memory;
    const bars = [
      ...(m.sbx
        ? [
            { system: "sandboxd stack: per pod", value: m.sbx.perPodPssKiB / MB },
            { system: "sandboxd stack: increment", value: m.sbx.incrementPerPodPssKiB / MB },
          ]
        : []),
      { system: "containerd: per pod", value: m.containerd.perPodPssKiB / MB },
      { system: "containerd: increment", value: m.containerd.incrementPerPodPssKiB / MB },
    ];
    out.push({
      title: `Runtime PSS at ${m.pods} pods`,
      unit: "MB per pod",
      bars,
      targets: [{ value: 1, label: "target: 1 MB per pod" }],
    });
  }
  if (r.recovery) {
    const rec = r.recovery;
    out.push({
      title: `Recovery after kill -9, ${rec.pods} pods`,
      unit: "ms (median)",
      targets: [{ value: 1000, label: "target: 1 s" }],
      bars: [
        {
          system: "sbx-sandboxer",
          value: rec.sandboxer.allAnswerMs.median,
          p99: rec.sandboxer.allAnswerMs.p99,
        },
        ...(rec.sandboxd
          ? [
              {
                system: "sandboxd",
                value: rec.sandboxd.allKnownMs.median,
                p99: rec.sandboxd.allKnownMs.p99,
              },
            ]
          : []),
      ],
    });
  }
  if (r.ttrpc) {
    out.push({
      title: "ttrpc unary calls",
      unit: "calls/s",
      better: "higher",
      bars: r.ttrpc
        .filter((t) => t.skipped === undefined)
        .map((t) => ({ system: t.name, value: t.callsPerSec })),
    });
  }
  return out;
}
