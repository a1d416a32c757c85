// Metrics as the daemon sends them (a Metric holding an Any), decoded into the
// cgroup v1 or v2 stats messages.
import type { Any } from "@bufbuild/protobuf/wkt";
import type { Metrics as CgroupV1Metrics } from "@sandboxd/api/cgroups/cgroup1/stats/metrics_pb";
import type { Metrics as CgroupV2Metrics } from "@sandboxd/api/cgroups/cgroup2/stats/metrics_pb";
import type { Metric } from "@sandboxd/api/types/metrics_pb";
import { toDate } from "./convert.js";
import { unpackAs } from "@sandboxd/api/names";

export type { CgroupV1Metrics, CgroupV2Metrics };

/** The resource usage of a task or sandbox. */
export type Metrics =
  | { cgroup: "v1"; id: string; timestamp: Date | undefined; data: CgroupV1Metrics; raw: Any }
  | { cgroup: "v2"; id: string; timestamp: Date | undefined; data: CgroupV2Metrics; raw: Any }
  | {
      cgroup: "unknown";
      id: string;
      timestamp: Date | undefined;
      data: undefined;
      raw: Any | undefined;
    };

/**
 * Decodes a Metric by the type URL of its data. Async: the (large) cgroup
 * schemas are loaded on first use, not with the SDK.
 */
export async function decodeMetric(metric: Metric): Promise<Metrics> {
  const timestamp = toDate(metric.timestamp);
  const raw = metric.data;
  if (raw) {
    const [{ MetricsSchema: CgroupV1MetricsSchema }, { MetricsSchema: CgroupV2MetricsSchema }] =
      await Promise.all([
        import("@sandboxd/api/cgroups/cgroup1/stats/metrics_pb"),
        import("@sandboxd/api/cgroups/cgroup2/stats/metrics_pb"),
      ]);
    const v1 = unpackAs(raw, CgroupV1MetricsSchema);
    if (v1) return { cgroup: "v1", id: metric.id, timestamp, data: v1, raw };
    const v2 = unpackAs(raw, CgroupV2MetricsSchema);
    if (v2) return { cgroup: "v2", id: metric.id, timestamp, data: v2, raw };
  }
  return { cgroup: "unknown", id: metric.id, timestamp, data: undefined, raw };
}
