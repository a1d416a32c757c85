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
