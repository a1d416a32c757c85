import { test } from "node:test";
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { pack } from "@sandboxd/api";
import { MetricsSchema as V1 } from "@sandboxd/api/cgroups/cgroup1/stats/metrics_pb";
import { MetricsSchema as V2 } from "@sandboxd/api/cgroups/cgroup2/stats/metrics_pb";
import { MetricSchema } from "@sandboxd/api/types/metrics_pb";
import { decodeMetric } from "./metrics.js";

test("decodes cgroup v1 and v2 metrics", async () => {
  const v1 = await decodeMetric(
    create(MetricSchema, { id: "a", data: pack(V1, { pids: { current: 3n, limit: 10n } }) }),
  );
  assert.equal(v1.cgroup, "v1");
  if (v1.cgroup === "v1") assert.equal(v1.data.pids?.current, 3n);
  const v2 = await decodeMetric(
    create(MetricSchema, { id: "b", data: pack(V2, { memory: { usage: 4096n } }) }),
  );
  assert.equal(v2.cgroup, "v2");
  if (v2.cgroup === "v2") assert.equal(v2.data.memory?.usage, 4096n);
});

test("unknown data is kept raw", async () => {
  const m = await decodeMetric(create(MetricSchema, { id: "c" }));
  assert.equal(m.cgroup, "unknown");
  assert.equal(m.data, undefined);
});
