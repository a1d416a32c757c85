// Builds packages/api/test-data/containerd-fields.json: the field numbers, types
// and labels of every message, the values of every enum, and the methods of
// every service that packages/api/proto covers, read from containerd's own
// .proto text (and containerd/cgroups', and googleapis' google.rpc.Status as
// vendored by containerd 1.6). fields.test.ts compares the generated
// descriptors against it.
//
//   node packages/api/scripts/extract-fields.mjs [--containerd GITDIR] [--cgroups GITDIR]
//
// Also records, under "history", the same facts at containerd v1.6.0, v1.7.0
// and v2.0.0 (and cgroups v1.1.0 / v3.0.1), so the test can check that the
// covered HEAD protos are a wire superset of what older daemons and shims send.
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as prettier from "prettier";

import { parseFile, qualify, render } from "./proto-text.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "test-data", "containerd-fields.json");

function flag(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}
const repos = {
  containerd: flag("--containerd", "/work/.mirror/containerd+containerd/repo"),
  cgroups: flag("--cgroups", "/work/.mirror/containerd+cgroups/repo"),
};

// The pinned revisions the protos follow.
const CONTAINERD_HEAD = "301026e58c619e63d09c0ec411012e54c0124b03";
const CGROUPS_HEAD = "360fd8b6c2ce402eddcbe6291e2393b0f202e253";

// Our proto file -> [repo, path in that repo]. Every message, enum, service and
// extension of these upstream files must be present in ours.
const covered = {
  "types/mount.proto": ["containerd", "api/types/mount.proto"],
  "types/sandbox.proto": ["containerd", "api/types/sandbox.proto"],
  "types/metrics.proto": ["containerd", "api/types/metrics.proto"],
  "types/platform.proto": ["containerd", "api/types/platform.proto"],
  "types/descriptor.proto": ["containerd", "api/types/descriptor.proto"],
  "types/fieldpath.proto": ["containerd", "api/types/fieldpath.proto"],
  "types/event.proto": ["containerd", "api/types/event.proto"],
  "types/introspection.proto": ["containerd", "api/types/introspection.proto"],
  "types/task/task.proto": ["containerd", "api/types/task/task.proto"],
  "types/runc/options/oci.proto": ["containerd", "api/types/runc/options/oci.proto"],
  "types/runtimeoptions/v1/api.proto": ["containerd", "api/types/runtimeoptions/v1/api.proto"],
  "services/containers/v1/containers.proto": [
    "containerd",
    "api/services/containers/v1/containers.proto",
  ],
  "services/tasks/v1/tasks.proto": ["containerd", "api/services/tasks/v1/tasks.proto"],
  "services/sandbox/v1/sandbox.proto": ["containerd", "api/services/sandbox/v1/sandbox.proto"],
  "services/events/v1/events.proto": ["containerd", "api/services/events/v1/events.proto"],
  "services/ttrpc/events/v1/events.proto": [
    "containerd",
    "api/services/ttrpc/events/v1/events.proto",
  ],
  "services/namespaces/v1/namespace.proto": [
    "containerd",
    "api/services/namespaces/v1/namespace.proto",
  ],
  "services/leases/v1/leases.proto": ["containerd", "api/services/leases/v1/leases.proto"],
  "services/version/v1/version.proto": ["containerd", "api/services/version/v1/version.proto"],
  "services/introspection/v1/introspection.proto": [
    "containerd",
    "api/services/introspection/v1/introspection.proto",
  ],
  "services/transfer/v1/transfer.proto": ["containerd", "api/services/transfer/v1/transfer.proto"],
  "services/streaming/v1/streaming.proto": [
    "containerd",
    "api/services/streaming/v1/streaming.proto",
  ],
  "types/transfer/imagestore.proto": ["containerd", "api/types/transfer/imagestore.proto"],
  "types/transfer/importexport.proto": ["containerd", "api/types/transfer/importexport.proto"],
  "types/transfer/progress.proto": ["containerd", "api/types/transfer/progress.proto"],
  "types/transfer/registry.proto": ["containerd", "api/types/transfer/registry.proto"],
  "types/transfer/streaming.proto": ["containerd", "api/types/transfer/streaming.proto"],
  "runtime/task/v2/shim.proto": ["containerd", "api/runtime/task/v2/shim.proto"],
  "runtime/task/v3/shim.proto": ["containerd", "api/runtime/task/v3/shim.proto"],
  "runtime/bootstrap/v1/bootstrap.proto": [
    "containerd",
    "api/runtime/bootstrap/v1/bootstrap.proto",
  ],
  "runtime/sandbox/v1/sandbox.proto": ["containerd", "api/runtime/sandbox/v1/sandbox.proto"],
  "events/task.proto": ["containerd", "api/events/task.proto"],
  "events/container.proto": ["containerd", "api/events/container.proto"],
  "events/namespace.proto": ["containerd", "api/events/namespace.proto"],
  "events/sandbox.proto": ["containerd", "api/events/sandbox.proto"],
  "events/image.proto": ["containerd", "api/events/image.proto"],
  "events/content.proto": ["containerd", "api/events/content.proto"],
  "events/snapshot.proto": ["containerd", "api/events/snapshot.proto"],
  "cgroups/cgroup1/stats/metrics.proto": ["cgroups", "cgroup1/stats/metrics.proto"],
  "cgroups/cgroup2/stats/metrics.proto": ["cgroups", "cgroup2/stats/metrics.proto"],
};

// Facts that are not in the HEAD files above: [our file, repo, ref, path, names].
const extra = [
  // containerd 1.x's per-package envelopes, kept for descriptors that name them.
  [
    "services/events/v1/events.proto",
    "containerd",
    "v1.7.0",
    "api/services/events/v1/events.proto",
    ["containerd.services.events.v1.Envelope"],
  ],
  [
    "services/ttrpc/events/v1/events.proto",
    "containerd",
    "v1.7.0",
    "api/services/ttrpc/events/v1/events.proto",
    ["containerd.services.events.ttrpc.v1.Envelope"],
  ],
  // containerd's HEAD imports google/rpc/status.proto from googleapis; 1.6 vendored it.
  [
    "google/rpc/status.proto",
    "containerd",
    "v1.6.0",
    "vendor/github.com/gogo/googleapis/google/rpc/status.proto",
    ["google.rpc.Status"],
  ],
];

// Older releases: [label, repo, ref, paths]. Paths moved between releases.
const history = [
  ["containerd v1.6.0", "containerd", "v1.6.0", historyPaths("v1.6.0")],
  ["containerd v1.7.0", "containerd", "v1.7.0", historyPaths("v1.7.0")],
  ["containerd v2.0.0", "containerd", "v2.0.0", historyPaths("v2.0.0")],
  ["cgroups v1.1.0", "cgroups", "v1.1.0", ["stats/v1/metrics.proto", "v2/stats/metrics.proto"]],
  [
    "cgroups v3.0.1",
    "cgroups",
    "v3.0.1",
    ["cgroup1/stats/metrics.proto", "cgroup2/stats/metrics.proto"],
  ],
];

function historyPaths(ref) {
  const moved = {
    "api/runtime/task/v2/shim.proto": ["runtime/v2/task/shim.proto"],
    "api/types/runc/options/oci.proto": ["runtime/v2/runc/options/oci.proto"],
    "api/types/runtimeoptions/v1/api.proto": ["pkg/runtimeoptions/v1/api.proto"],
  };
  const paths = [];
  for (const [repo, path] of Object.values(covered)) {
    if (repo !== "containerd") continue;
    for (const candidate of [path, ...(moved[path] ?? [])]) {
      if (exists(repos.containerd, ref, candidate)) {
        paths.push(candidate);
        break;
      }
    }
  }
  return paths;
}

function git(repo, ...args) {
  return execFileSync("git", ["-C", repo, ...args], {
    encoding: "utf8",
    maxBuffer: 1 << 26,
    stdio: ["ignore", "pipe", "pipe"],
  });
}

function exists(repo, ref, path) {
  try {
    git(repo, "cat-file", "-e", `${ref}:${path}`);
    return true;
  } catch {
    return false;
  }
}

function show(repo, ref, path) {
  return git(repo, "show", `${ref}:${path}`);
}

function sortKeys(obj) {
  return Object.fromEntries(Object.entries(obj).sort(([a], [b]) => (a < b ? -1 : 1)));
}

function commitOf(repo, ref) {
  return git(repos[repo], "rev-parse", `${ref}^{commit}`).trim();
}

// ---- main ----

const headFiles = [];
const fileMap = {};
for (const [ours, [repo, path]] of Object.entries(covered)) {
  const ref = repo === "containerd" ? CONTAINERD_HEAD : CGROUPS_HEAD;
  const origin = `${repo}@${ref.slice(0, 7)}:${path}`;
  const parsed = qualify(parseFile(show(repos[repo], ref, path), origin));
  headFiles.push({ ...parsed, origin, ours });
  fileMap[ours] = [origin];
}
for (const [ours, repo, ref, path, names] of extra) {
  const origin = `${repo}@${ref}:${path}`;
  const parsed = qualify(parseFile(show(repos[repo], ref, path), origin));
  const picked = {
    ...parsed,
    messages: parsed.messages.filter((m) => names.includes(m.name)),
    enums: [],
    services: [],
    extensions: [],
  };
  if (picked.messages.length !== names.length) throw new Error(`${origin}: missing ${names}`);
  headFiles.push({ ...picked, origin, ours });
  (fileMap[ours] ??= []).push(`${origin} (${names.join(", ")})`);
}
const head = render(headFiles);

const historical = {};
for (const [label, repo, ref, paths] of history) {
  const files = paths.map((path) => {
    const origin = `${repo}@${ref}:${path}`;
    return { ...qualify(parseFile(show(repos[repo], ref, path), origin)), origin };
  });
  const r = render(files);
  historical[label] = {
    commit: commitOf(repo, ref),
    messages: sortKeys(r.messages),
    enums: sortKeys(r.enums),
  };
}

const data = {
  comment:
    "Generated by packages/api/scripts/extract-fields.mjs from containerd's and containerd/cgroups' .proto text. Field values are [number, type]; types are proto syntax with full names.",
  sources: {
    containerd: commitOf("containerd", CONTAINERD_HEAD),
    cgroups: commitOf("cgroups", CGROUPS_HEAD),
  },
  files: fileMap,
  messages: sortKeys(head.messages),
  enums: sortKeys(head.enums),
  services: sortKeys(head.services),
  extensions: sortKeys(head.extensions),
  history: historical,
};

const config = (await prettier.resolveConfig(out)) ?? {};
const text = await prettier.format(JSON.stringify(data), { ...config, parser: "json" });
writeFileSync(out, text);
console.log(
  `extract-fields: ${Object.keys(data.messages).length} messages, ${Object.keys(data.enums).length} enums, ${Object.keys(data.services).length} services -> ${out}`,
);
