/**
 * The CRI metric descriptors (ListMetricDescriptors): cAdvisor's names, label
 * keys and help texts, the set containerd ≥ 2.2 answers with
 * (internal/cri/server/list_metric_descriptors.go), so kubelet's
 * PodAndContainerStatsFromCRI sees the same series from either runtime.
 */
import { create } from "@bufbuild/protobuf";
import { MetricDescriptorSchema, type MetricDescriptor } from "@sandboxd/api/cri/runtime/v1/api_pb";

export const baseLabelKeys = ["pod", "namespace", "container", "id", "image"];
const networkLabelKeys = [...baseLabelKeys, "interface"];
const diskLabelKeys = [...baseLabelKeys, "device"];

type Row = [name: string, help: string, labels?: string[]];

const cpu: Row[] = [
  ["container_cpu_user_seconds_total", "Cumulative user CPU time consumed in seconds."],
  ["container_cpu_system_seconds_total", "Cumulative system CPU time consumed in seconds."],
  ["container_cpu_usage_seconds_total", "Cumulative CPU time consumed in seconds."],
  ["container_cpu_cfs_periods_total", "Number of elapsed enforcement period intervals."],
  ["container_cpu_cfs_throttled_periods_total", "Number of CPU throttled period intervals."],
  [
    "container_cpu_cfs_throttled_seconds_total",
    "Total time duration the container has been throttled.",
  ],
];

const memory: Row[] = [
  [
    "container_memory_cache",
    "Number of bytes of memory used by the container for caching purposes.",
  ],
  [
    "container_memory_rss",
    "Size of RSS in bytes, total anonymous memory and swap cache memory used by the container.",
  ],
  ["container_memory_kernel_usage", "Size of kernel memory allocated to the container in bytes."],
  ["container_memory_mapped_file", "Size of container's memory mapped files in bytes."],
  ["container_memory_swap", "Container swap usage in bytes."],
  [
    "container_memory_failcnt",
    "Number of times container memory usage has hit its cgroup v1 upper memory limit.",
  ],
  [
    "container_memory_usage_bytes",
    "Current memory usage in bytes, including all memory regardless of when it was accessed",
  ],
  ["container_memory_max_usage_bytes", "Maximum container memory usage recorded in bytes"],
  [
    "container_memory_working_set_bytes",
    "Amount of memory that is actively used by the container, excluding cached memory.",
  ],
  [
    "container_memory_total_active_file_bytes",
    "Amount of cache memory bytes, in use by the container, in file on disk.",
  ],
  [
    "container_memory_total_inactive_file_bytes",
    "Amount of inactive cache memory bytes, for the container, in file on disk.",
  ],
  [
    "container_memory_failures_total",
    "Cumulative count of container memory allocation failures.",
    [...baseLabelKeys, "failure_type", "scope"],
  ],
  ["container_oom_events_total", "Count of out of memory events observed for the container"],
];

const network: Row[] = [
  ["container_network_receive_bytes_total", "Cumulative count of bytes received"],
  ["container_network_receive_packets_total", "Cumulative count of packets received"],
  [
    "container_network_receive_packets_dropped_total",
    "Cumulative count of packets dropped while receiving",
  ],
  [
    "container_network_receive_errors_total",
    "Cumulative count of errors encountered while receiving",
  ],
  ["container_network_transmit_bytes_total", "Cumulative count of bytes transmitted"],
  ["container_network_transmit_packets_total", "Cumulative count of packets transmitted"],
  [
    "container_network_transmit_packets_dropped_total",
    "Cumulative count of packets dropped while transmitting",
  ],
  [
    "container_network_transmit_errors_total",
    "Cumulative count of errors encountered while transmitting",
  ],
].map(([n, h]): Row => [n!, h!, networkLabelKeys]);

const disk: Row[] = [
  ["container_fs_inodes_free", "Number of available Inodes"],
  ["container_fs_inodes_total", "Number of Inodes"],
  [
    "container_fs_limit_bytes",
    "Number of bytes that can be consumed by the container on this filesystem.",
  ],
  [
    "container_fs_usage_bytes",
    "Number of bytes that are consumed by the container on this filesystem.",
  ],
  ["container_fs_reads_bytes_total", "Cumulative count of bytes read"],
  ["container_fs_reads_total", "Cumulative count of reads completed"],
  ["container_fs_writes_bytes_total", "Cumulative count of bytes written"],
  ["container_fs_writes_total", "Cumulative count of writes completed"],
].map(([n, h]): Row => [n!, h!, diskLabelKeys]);

const other: Row[] = [
  [
    "container_blkio_device_usage_total",
    "Blkio device bytes usage",
    [...diskLabelKeys, "major", "minor", "operation"],
  ],
  ["container_processes", "Number of processes running inside the container."],
  ["container_file_descriptors", "Number of open file descriptors for the container."],
  ["container_sockets", "Number of open sockets for the container."],
  [
    "container_threads_max",
    "Maximum number of threads allowed inside the container, infinity if value is zero",
  ],
  ["container_threads", "Number of threads running inside the container"],
  [
    "container_ulimits_soft",
    "Soft ulimit values for the container root process. Unlimited if -1, except priority and nice",
    [...baseLabelKeys, "ulimit"],
  ],
  ["container_last_seen", "Last time a container was seen by the exporter"],
  ["container_start_time_seconds", "Start time of the container since unix epoch in seconds"],
  ["container_spec_cpu_period", "CPU period of the container"],
  ["container_spec_cpu_shares", "CPU share of the container"],
  ["container_spec_memory_limit_bytes", "Memory limit for the container"],
  ["container_spec_memory_reservation_limit_bytes", "Memory reservation limit for the container"],
  ["container_spec_memory_swap_limit_bytes", "Memory swap limit for the container"],
];

export function metricDescriptors(): MetricDescriptor[] {
  return [...cpu, ...memory, ...network, ...disk, ...other].map(([name, help, labels]) =>
    create(MetricDescriptorSchema, { name, help, labelKeys: labels ?? baseLabelKeys }),
  );
}
