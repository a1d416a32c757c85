import { test } from "node:test";
import assert from "node:assert/strict";
import { renderChart } from "./chart.js";

test("renders one bar per system and escapes text", () => {
  const svg = renderChart("start <latency>", [
    {
      title: "run",
      unit: "ms",
      bars: [
        { system: "runc", value: 40, p99: 50 },
        { system: "sbx", value: 45 },
      ],
    },
    { title: "rps", unit: "calls/s", better: "higher", bars: [{ system: "ts", value: 10000 }] },
  ]);
  assert.match(svg, /^<svg /);
  assert.match(svg, /start &lt;latency&gt;/);
  assert.equal(svg.match(/<rect x=/g)?.length, 3);
  assert.match(svg, /higher is better/);
});

test("draws target lines with their labels and scales to include them", () => {
  const svg = renderChart("t", [
    {
      title: "mem",
      unit: "MB",
      bars: [{ system: "a", value: 0.5 }],
      targets: [{ value: 1, label: "target ≤ 1 MB" }],
    },
  ]);
  assert.match(svg, /stroke-dasharray/);
  assert.match(svg, /target ≤ 1 MB/);
  // The bar (0.5) is half as wide as the scale's end (the target, 1).
  const width = Number(/<rect x="[\d.]+" y="[\d.]+" width="([\d.]+)" height="22"/.exec(svg)?.[1]);
  const line = Number(/<line x1="([\d.]+)"[^>]*stroke-dasharray/.exec(svg)?.[1]);
  const barX = Number(/<rect x="([\d.]+)" y="[\d.]+" width="[\d.]+" height="22"/.exec(svg)?.[1]);
  assert.ok(Math.abs(barX + 2 * width - line) < 1, `${barX} + 2 × ${width} vs ${line}`);
});
