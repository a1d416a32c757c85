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

// ---- a small parser for the proto3 text containerd uses ----

function tokenize(text) {
  const tokens = [];
  const re =
    /\s+|\/\/[^\n]*|\/\*[\s\S]*?\*\/|"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|-?\d[\w.+-]*|\.?[A-Za-z_][\w.]*|[{}[\]()<>;=,:]/y;
  let m;
  while (re.lastIndex < text.length) {
    const at = re.lastIndex;
    m = re.exec(text);
    if (!m) throw new Error(`cannot tokenize at ${text.slice(at, at + 40)}`);
    const t = m[0];
    if (/^\s/.test(t) || t.startsWith("//") || t.startsWith("/*")) continue;
    tokens.push(t);
  }
  return tokens;
}

function parseFile(text, origin) {
  const toks = tokenize(text);
  let i = 0;
  const peek = () => toks[i];
  const next = () => toks[i++];
  const expect = (t) => {
    const got = next();
    if (got !== t) throw new Error(`${origin}: expected ${t}, got ${got} (token ${i})`);
  };
  // Skips balanced brackets after an opener has been consumed.
  const skipBlock = (open, close) => {
    let depth = 1;
    while (depth > 0) {
      const t = next();
      if (t === undefined) throw new Error(`${origin}: unbalanced ${open}`);
      if (t === open) depth++;
      else if (t === close) depth--;
    }
  };
  const skipStatement = () => {
    while (peek() !== ";") {
      if (next() === "{") skipBlock("{", "}");
    }
    next();
  };
  const skipFieldOptions = () => {
    if (peek() === "[") {
      next();
      skipBlock("[", "]");
    }
  };

  const file = { package: "", messages: [], enums: [], services: [], extensions: [] };

  const parseField = (label, scope) => {
    let type = next();
    let key;
    if (type === "map") {
      expect("<");
      key = next();
      expect(",");
      type = next();
      expect(">");
      label = "map";
    }
    const name = next();
    expect("=");
    const number = Number(next());
    skipFieldOptions();
    expect(";");
    return { name, number, label, type, key, scope };
  };

  const parseEnum = (scope) => {
    const name = next();
    const full = scope ? `${scope}.${name}` : name;
    const values = {};
    expect("{");
    while (peek() !== "}") {
      const t = next();
      if (t === "option" || t === "reserved") {
        skipStatement();
        continue;
      }
      expect("=");
      values[t] = Number(next());
      skipFieldOptions();
      expect(";");
    }
    next();
    file.enums.push({ name: full, values });
  };

  const parseMessage = (scope) => {
    const name = next();
    const full = scope ? `${scope}.${name}` : name;
    const msg = { name: full, fields: [] };
    file.messages.push(msg);
    expect("{");
    while (peek() !== "}") {
      const t = peek();
      if (t === "message") {
        next();
        parseMessage(full);
      } else if (t === "enum") {
        next();
        parseEnum(full);
      } else if (t === "option" || t === "reserved" || t === "extensions") {
        skipStatement();
      } else if (t === "oneof") {
        next();
        next();
        expect("{");
        while (peek() !== "}") {
          if (peek() === "option") skipStatement();
          else msg.fields.push(parseField("oneof", full));
        }
        next();
      } else if (t === "repeated" || t === "optional" || t === "required") {
        next();
        msg.fields.push(parseField(t, full));
      } else {
        msg.fields.push(parseField("singular", full));
      }
    }
    next();
  };

  const parseService = () => {
    const name = next();
    const methods = [];
    expect("{");
    while (peek() !== "}") {
      const t = next();
      if (t === "option") {
        skipStatement();
        continue;
      }
      if (t !== "rpc") throw new Error(`${origin}: unexpected ${t} in service ${name}`);
      const method = next();
      expect("(");
      let clientStream = false;
      if (peek() === "stream") {
        next();
        clientStream = true;
      }
      const input = next();
      expect(")");
      expect("returns");
      expect("(");
      let serverStream = false;
      if (peek() === "stream") {
        next();
        serverStream = true;
      }
      const output = next();
      expect(")");
      if (peek() === "{") {
        next();
        skipBlock("{", "}");
        if (peek() === ";") next();
      } else {
        expect(";");
      }
      methods.push({ name: method, input, output, clientStream, serverStream });
    }
    next();
    file.services.push({ name, methods });
  };

  while (i < toks.length) {
    const t = next();
    if (t === "package") {
      file.package = next();
      expect(";");
    } else if (t === "message") parseMessage("");
    else if (t === "enum") parseEnum("");
    else if (t === "service") parseService();
    else if (t === "extend") {
      const extendee = next();
      expect("{");
      while (peek() !== "}") {
        const lt = peek();
        const label = lt === "optional" || lt === "repeated" ? next() : "singular";
        file.extensions.push({ extendee, ...parseField(label, "") });
      }
      next();
    } else if (t === "syntax" || t === "import" || t === "option") skipStatement();
    else if (t === ";") continue;
    else throw new Error(`${origin}: unexpected top-level token ${t}`);
  }
  return file;
}

// ---- name resolution and rendering ----

const SCALARS = new Set([
  "double",
  "float",
  "int32",
  "int64",
  "uint32",
  "uint64",
  "sint32",
  "sint64",
  "fixed32",
  "fixed64",
  "sfixed32",
  "sfixed64",
  "bool",
  "string",
  "bytes",
]);
const WELL_KNOWN = [
  "google.protobuf.Any",
  "google.protobuf.Timestamp",
  "google.protobuf.Duration",
  "google.protobuf.Empty",
  "google.protobuf.FieldMask",
  "google.protobuf.FileOptions",
  "google.protobuf.MessageOptions",
  "google.protobuf.FieldOptions",
  "google.rpc.Status",
];

// protobuf scoping: look the name up from the innermost scope outwards.
function resolve(ref, scope, known) {
  if (SCALARS.has(ref)) return ref;
  if (ref.startsWith(".")) return ref.slice(1);
  const parts = scope.split(".").filter(Boolean);
  for (let n = parts.length; n >= 0; n--) {
    const candidate = [...parts.slice(0, n), ref].join(".");
    if (known.has(candidate)) return candidate;
  }
  throw new Error(`cannot resolve type ${ref} in scope ${scope}`);
}

// Qualifies a parsed file's names with its package.
function qualify(file) {
  const pkg = file.package;
  const q = (n) => (pkg ? `${pkg}.${n}` : n);
  return {
    package: pkg,
    messages: file.messages.map((m) => ({
      name: q(m.name),
      fields: m.fields.map((f) => ({ ...f, scope: q(f.scope) })),
    })),
    enums: file.enums.map((e) => ({ name: q(e.name), values: e.values })),
    services: file.services.map((s) => ({
      name: q(s.name),
      methods: s.methods.map((m) => ({ ...m, scope: pkg })),
    })),
    extensions: file.extensions.map((x) => ({ ...x, name: q(x.name), scope: pkg })),
  };
}

function render(files) {
  const known = new Set(WELL_KNOWN);
  for (const f of files) {
    for (const m of f.messages) known.add(m.name);
    for (const e of f.enums) known.add(e.name);
  }
  const messages = {};
  const enums = {};
  const services = {};
  const extensions = {};
  for (const f of files) {
    for (const m of f.messages) {
      const fields = {};
      for (const fd of [...m.fields].sort((a, b) => a.number - b.number)) {
        const type = resolve(fd.type, fd.scope, known);
        let text;
        if (fd.label === "map") text = `map<${fd.key}, ${type}>`;
        else if (fd.label === "singular") text = type;
        else text = `${fd.label} ${type}`;
        fields[fd.name] = [fd.number, text];
      }
      messages[m.name] = { file: f.origin, fields };
    }
    for (const e of f.enums) enums[e.name] = { file: f.origin, values: e.values };
    for (const s of f.services) {
      const methods = {};
      for (const m of s.methods) {
        const input = resolve(m.input, m.scope, known);
        const output = resolve(m.output, m.scope, known);
        methods[m.name] =
          `${m.clientStream ? "stream " : ""}${input} -> ${m.serverStream ? "stream " : ""}${output}`;
      }
      services[s.name] = { file: f.origin, methods };
    }
    for (const x of f.extensions) {
      const type = resolve(x.type, x.scope, known);
      extensions[x.name] = {
        file: f.origin,
        extendee: resolve(x.extendee, x.scope, known),
        field: [x.number, x.label === "singular" ? type : `${x.label} ${type}`],
      };
    }
  }
  return { messages, enums, services, extensions };
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
