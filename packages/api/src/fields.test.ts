// Compares the generated descriptors with test-data/containerd-fields.json,
// which scripts/extract-fields.mjs builds from containerd's own .proto text.
// Field values are [number, type], the type in proto syntax with full names
// ("repeated containerd.types.Mount", "map<string, google.protobuf.Any>",
// "optional string").
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import type {
  DescEnum,
  DescExtension,
  DescField,
  DescMessage,
  DescService,
} from "@bufbuild/protobuf";
import { ScalarType } from "@bufbuild/protobuf";

import { apiFiles } from "./index.js";

type FieldFacts = Record<string, [number, string]>;
interface MessageFacts {
  file: string;
  fields: FieldFacts;
}
interface Facts {
  sources: { containerd: string; cgroups: string };
  files: Record<string, string[]>;
  messages: Record<string, MessageFacts>;
  enums: Record<string, { values: Record<string, number> }>;
  services: Record<string, { methods: Record<string, string> }>;
  extensions: Record<string, { extendee: string; field: [number, string] }>;
  history: Record<string, { messages: Record<string, MessageFacts> }>;
}

const facts = JSON.parse(
  readFileSync(new URL("../test-data/containerd-fields.json", import.meta.url), "utf8"),
) as Facts;

const scalarNames = new Map<ScalarType, string>(
  Object.entries(ScalarType)
    .filter((e): e is [string, ScalarType] => typeof e[1] === "number")
    .map(([name, value]) => [value, name.toLowerCase()]),
);

function scalarName(t: ScalarType): string {
  const name = scalarNames.get(t);
  assert.ok(name, `unknown scalar type ${t}`);
  return name;
}

/** A field in the table's notation. */
function describe(field: DescField | DescExtension): string {
  switch (field.fieldKind) {
    case "scalar":
      return (field.proto.proto3Optional ? "optional " : "") + scalarName(field.scalar);
    case "enum":
      return (field.proto.proto3Optional ? "optional " : "") + field.enum.typeName;
    case "message":
      return field.message.typeName;
    case "list": {
      const element =
        field.listKind === "scalar"
          ? scalarName(field.scalar)
          : field.listKind === "enum"
            ? field.enum.typeName
            : field.message.typeName;
      return `repeated ${element}`;
    }
    case "map": {
      const value =
        field.mapKind === "scalar"
          ? scalarName(field.scalar)
          : field.mapKind === "enum"
            ? field.enum.typeName
            : field.message.typeName;
      return `map<${scalarName(field.mapKey)}, ${value}>`;
    }
  }
}

function collect(): {
  messages: Map<string, DescMessage>;
  enums: Map<string, DescEnum>;
  services: Map<string, DescService>;
  extensions: Map<string, DescExtension>;
} {
  const messages = new Map<string, DescMessage>();
  const enums = new Map<string, DescEnum>();
  const services = new Map<string, DescService>();
  const extensions = new Map<string, DescExtension>();
  const walk = (m: DescMessage): void => {
    if (m.proto.options?.mapEntry) return;
    messages.set(m.typeName, m);
    m.nestedMessages.forEach(walk);
    for (const e of m.nestedEnums) enums.set(e.typeName, e);
  };
  for (const file of apiFiles) {
    file.messages.forEach(walk);
    for (const e of file.enums) enums.set(e.typeName, e);
    for (const s of file.services) services.set(s.typeName, s);
    for (const x of file.extensions) extensions.set(x.typeName, x);
  }
  return { messages, enums, services, extensions };
}

const ours = collect();

test("the table is containerd 301026e and cgroups 360fd8b", () => {
  assert.equal(facts.sources.containerd, "301026e58c619e63d09c0ec411012e54c0124b03");
  assert.equal(facts.sources.cgroups, "360fd8b6c2ce402eddcbe6291e2393b0f202e253");
});

test("every proto file is generated, and every generated file has facts", () => {
  const generated = apiFiles.map((f) => `${f.name}.proto`).sort();
  assert.deepEqual(generated, Object.keys(facts.files).sort());
});

test("every message has containerd's fields: names, numbers, types, labels", () => {
  for (const [name, want] of Object.entries(facts.messages)) {
    const desc = ours.messages.get(name);
    assert.ok(desc, `${name} (${want.file}) is missing`);
    const got: FieldFacts = {};
    for (const f of desc.fields) got[f.name] = [f.number, describe(f)];
    assert.deepEqual(got, want.fields, `${name} differs from ${want.file}`);
  }
  const extra = [...ours.messages.keys()].filter((n) => !(n in facts.messages));
  assert.deepEqual(extra, [], "messages without containerd facts");
});

test("every enum has containerd's values", () => {
  for (const [name, want] of Object.entries(facts.enums)) {
    const desc = ours.enums.get(name);
    assert.ok(desc, `${name} is missing`);
    const got = Object.fromEntries(desc.values.map((v) => [v.name, v.number]));
    assert.deepEqual(got, want.values, name);
  }
  assert.deepEqual(
    [...ours.enums.keys()].filter((n) => !(n in facts.enums)),
    [],
    "enums without containerd facts",
  );
});

test("every service has containerd's methods, request and response types, streaming", () => {
  for (const [name, want] of Object.entries(facts.services)) {
    const desc = ours.services.get(name);
    assert.ok(desc, `${name} is missing`);
    const got: Record<string, string> = {};
    for (const m of desc.methods) {
      const client = m.methodKind === "client_streaming" || m.methodKind === "bidi_streaming";
      const server = m.methodKind === "server_streaming" || m.methodKind === "bidi_streaming";
      got[m.name] =
        `${client ? "stream " : ""}${m.input.typeName} -> ${server ? "stream " : ""}${m.output.typeName}`;
    }
    assert.deepEqual(got, want.methods, name);
  }
  assert.deepEqual(
    [...ours.services.keys()].filter((n) => !(n in facts.services)),
    [],
    "services without containerd facts",
  );
});

test("the fieldpath extensions match", () => {
  for (const [name, want] of Object.entries(facts.extensions)) {
    const desc = ours.extensions.get(name);
    assert.ok(desc, `${name} is missing`);
    assert.equal(desc.extendee.typeName, want.extendee, name);
    assert.deepEqual([desc.number, describe(desc)], want.field, name);
  }
  assert.equal(ours.extensions.size, Object.keys(facts.extensions).length);
});

// What older releases send must decode the same at HEAD. These are the only
// differences, each checked to be what we expect.
const historyExceptions: Record<string, string> = {
  // Removed from runc options in 2.0 ("reserved 8" at HEAD): a 1.x client's
  // criu_path arrives as an unknown field and is ignored, as in Go.
  "containerd.runc.v1.Options.criu_path": "absent",
  // 1.x forwarded its per-package Envelope; the shape is identical (checked below).
  "containerd.services.events.v1.ForwardRequest.envelope":
    "containerd.services.events.v1.Envelope -> containerd.types.Envelope",
  "containerd.services.events.ttrpc.v1.ForwardRequest.envelope":
    "containerd.services.events.ttrpc.v1.Envelope -> containerd.types.Envelope",
};

test("HEAD is a wire superset of containerd 1.6, 1.7, 2.0 and older cgroups stats", () => {
  const seen = new Set<string>();
  for (const [release, snapshot] of Object.entries(facts.history)) {
    for (const [name, old] of Object.entries(snapshot.messages)) {
      const head = facts.messages[name];
      assert.ok(head, `${release}: ${name} has no HEAD counterpart`);
      const byNumber = new Map(Object.entries(head.fields).map(([n, [num, t]]) => [num, [n, t]]));
      for (const [field, [number, type]] of Object.entries(old.fields)) {
        const key = `${name}.${field}`;
        const now = byNumber.get(number);
        const diff = !now ? "absent" : now[1] !== type ? `${type} -> ${now[1]}` : undefined;
        if (diff === undefined) {
          assert.equal(now?.[0], field, `${release}: ${key} was renamed`);
          continue;
        }
        assert.equal(diff, historyExceptions[key], `${release}: ${key} (${number}) changed`);
        seen.add(key);
      }
    }
  }
  assert.deepEqual([...seen].sort(), Object.keys(historyExceptions).sort());
  const envelope = facts.messages["containerd.types.Envelope"]!.fields;
  for (const legacy of [
    "containerd.services.events.v1.Envelope",
    "containerd.services.events.ttrpc.v1.Envelope",
  ]) {
    assert.deepEqual(facts.messages[legacy]!.fields, envelope, legacy);
  }
});

test("task v2 and v3 are the same API under two packages", () => {
  const strip = (s: string): string => s.replaceAll(/containerd\.task\.v[23]\./g, "");
  for (const [name, v2] of Object.entries(facts.messages)) {
    if (!name.startsWith("containerd.task.v2.")) continue;
    const v3 = facts.messages[name.replace(".v2.", ".v3.")];
    assert.ok(v3, name);
    assert.equal(strip(JSON.stringify(v3.fields)), strip(JSON.stringify(v2.fields)), name);
  }
  const methods = (v: string): string =>
    strip(JSON.stringify(facts.services[`containerd.task.${v}.Task`]!.methods));
  assert.equal(methods("v3"), methods("v2"));
});
