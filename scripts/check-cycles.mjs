#!/usr/bin/env node
// Fails when runtime imports form a cycle: between source files of the
// packages, test and bench (relative imports), and between the packages
// themselves (@sandboxd/* imports). Type-only imports are erased at build time
// and dynamic import() runs late, so neither can cycle at load; both are left
// out. Part of `npm run lint`; no dependencies.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const root = resolve(dirname(new URL(import.meta.url).pathname), "..");
const roots = [
  ...readdirSync(join(root, "packages")).map((p) => join("packages", p, "src")),
  "test/src",
  "bench/src",
];

function files(dir) {
  let out = [];
  let names;
  try {
    names = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of names) {
    const path = join(dir, name);
    if (name === "gen" || name === "node_modules") continue;
    if (statSync(path).isDirectory()) out = out.concat(files(path));
    else if (name.endsWith(".ts") && !name.endsWith(".d.ts")) out.push(path);
  }
  return out;
}

// Static import/export ... from "x", unless type-only (`import type`, or every name `type X`).
const importRe = /^\s*(import|export)\s+(type\s+)?([^;]*?)\s*from\s*["']([^"']+)["']/gms;
const bareRe = /^\s*import\s+["']([^"']+)["']/gm;

function runtimeImports(text) {
  const out = [];
  for (const m of text.matchAll(importRe)) {
    if (m[2]) continue;
    const clause = m[3];
    const braces = /^\{([^}]*)\}$/s.exec(clause.trim());
    if (braces) {
      const names = braces[1]
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean);
      if (names.length > 0 && names.every((n) => n.startsWith("type "))) continue;
    }
    out.push(m[4]);
  }
  for (const m of text.matchAll(bareRe)) out.push(m[1]);
  return out;
}

const fileGraph = new Map();
const packageGraph = new Map();
const packageOf = (file) => {
  const rel = relative(root, file).split("/");
  return rel[0] === "packages" ? `@sandboxd/${rel[1]}` : rel[0];
};
for (const dir of roots) {
  for (const file of files(join(root, dir))) {
    const edges = [];
    const from = packageOf(file);
    if (!packageGraph.has(from)) packageGraph.set(from, new Set());
    for (const spec of runtimeImports(readFileSync(file, "utf8"))) {
      if (spec.startsWith(".")) {
        edges.push(resolve(dirname(file), spec.replace(/\.js$/, ".ts")));
      } else if (spec.startsWith("@sandboxd/")) {
        const to = spec.split("/").slice(0, 2).join("/");
        if (to !== from) packageGraph.get(from).add(to);
      }
    }
    fileGraph.set(file, edges);
  }
}

// Tarjan's strongly connected components; a component of more than one node is a cycle.
function cycles(graph) {
  let index = 0;
  const stack = [];
  const info = new Map();
  const found = [];
  const visit = (v) => {
    info.set(v, { index, low: index, onStack: true });
    index++;
    stack.push(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!info.has(w)) {
        visit(w);
        info.get(v).low = Math.min(info.get(v).low, info.get(w).low);
      } else if (info.get(w).onStack) {
        info.get(v).low = Math.min(info.get(v).low, info.get(w).index);
      }
    }
    if (info.get(v).low === info.get(v).index) {
      const component = [];
      let w;
      do {
        w = stack.pop();
        info.get(w).onStack = false;
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || (graph.get(v) ?? []).includes?.(v)) found.push(component);
    }
  };
  for (const v of graph.keys()) if (!info.has(v)) visit(v);
  return found;
}

const problems = [
  ...cycles(fileGraph).map((c) => `import cycle: ${c.map((f) => relative(root, f)).join(" -> ")}`),
  ...cycles(new Map([...packageGraph].map(([k, v]) => [k, [...v]]))).map(
    (c) => `package cycle: ${c.join(" -> ")}`,
  ),
];
if (problems.length > 0) {
  for (const p of problems) process.stderr.write(`${p}\n`);
  process.exit(1);
}
process.stdout.write(`no import cycles (${fileGraph.size} files)\n`);
