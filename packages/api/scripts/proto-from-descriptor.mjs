// Writes a .proto file from a compiled descriptor (buf build -o X.binpb): the
// schema's facts (package, messages, fields, numbers, labels, enums, services)
// in our own layout, without the upstream comments or Go-only options.
//   node proto-from-descriptor.mjs IMAGE.binpb FILE_NAME OUT.proto [header lines...]
import { readFileSync, writeFileSync } from "node:fs";
import { fromBinary, isFieldSet } from "@bufbuild/protobuf";
import { FieldDescriptorProtoSchema, FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";

const [image, fileName, out, ...header] = process.argv.slice(2);
const set = fromBinary(FileDescriptorSetSchema, readFileSync(image));
const file = set.file.find((f) => f.name === fileName);
if (!file) throw new Error(`${fileName} not in ${image}`);

const scalar = {
  1: "double",
  2: "float",
  3: "int64",
  4: "uint64",
  5: "int32",
  6: "fixed64",
  7: "fixed32",
  8: "bool",
  9: "string",
  12: "bytes",
  13: "uint32",
  15: "sfixed32",
  16: "sfixed64",
  17: "sint32",
  18: "sint64",
};
const pkgPrefix = `.${file.package}.`;
const typeName = (n) => (n.startsWith(pkgPrefix) ? n.slice(pkgPrefix.length) : n.slice(1));

function emitEnum(e, ind) {
  const lines = [`${ind}enum ${e.name} {`];
  for (const v of e.value)
    lines.push(
      `${ind}  ${v.name} = ${v.number}${v.options?.deprecated ? " [deprecated = true]" : ""};`,
    );
  lines.push(`${ind}}`);
  return lines;
}

function emitMessage(m, ind) {
  const lines = [`${ind}message ${m.name} {`];
  const maps = new Map();
  for (const n of m.nestedType) if (n.options?.mapEntry) maps.set(n.name, n);
  for (const e of m.enumType) lines.push(...emitEnum(e, ind + "  "));
  for (const n of m.nestedType) if (!n.options?.mapEntry) lines.push(...emitMessage(n, ind + "  "));
  const fieldType = (f) => (f.type === 11 || f.type === 14 ? typeName(f.typeName) : scalar[f.type]);
  const oneofs = new Map();
  for (const f of m.field) {
    const short = f.typeName?.split(".").pop();
    let text;
    if (
      f.type === 11 &&
      f.label === 3 &&
      maps.has(short) &&
      f.typeName.endsWith(`${m.name}.${short}`)
    ) {
      const entry = maps.get(short);
      text = `map<${fieldType(entry.field[0])}, ${fieldType(entry.field[1])}> ${f.name} = ${f.number};`;
    } else {
      const label =
        f.label === 3
          ? "repeated "
          : isFieldSet(f, FieldDescriptorProtoSchema.field.proto3Optional) && f.proto3Optional
            ? "optional "
            : "";
      text = `${label}${fieldType(f)} ${f.name} = ${f.number}${f.options?.deprecated ? " [deprecated = true]" : ""};`;
    }
    if (isFieldSet(f, FieldDescriptorProtoSchema.field.oneofIndex) && !f.proto3Optional) {
      const list = oneofs.get(f.oneofIndex) ?? [];
      list.push(text);
      if (!oneofs.has(f.oneofIndex)) {
        oneofs.set(f.oneofIndex, list);
        lines.push({ oneof: f.oneofIndex });
      }
    } else lines.push(`${ind}  ${text}`);
  }
  const flat = [];
  for (const l of lines) {
    if (typeof l === "string") flat.push(l);
    else {
      flat.push(`${ind}  oneof ${m.oneofDecl[l.oneof].name} {`);
      for (const t of oneofs.get(l.oneof)) flat.push(`${ind}    ${t}`);
      flat.push(`${ind}  }`);
    }
  }
  flat.push(`${ind}}`);
  return flat;
}

const body = [
  ...header.map((h) => `// ${h}`),
  `syntax = "${file.syntax || "proto2"}";`,
  "",
  `package ${file.package};`,
  "",
];
if (file.options?.goPackage) body.push(`option go_package = "${file.options.goPackage}";`, "");
for (const dep of file.dependency) body.push(`import "${dep}";`);
if (file.dependency.length) body.push("");
for (const s of file.service) {
  body.push(`service ${s.name} {`);
  for (const meth of s.method) {
    const i = meth.clientStreaming ? "stream " : "";
    const o = meth.serverStreaming ? "stream " : "";
    body.push(
      `  rpc ${meth.name}(${i}${typeName(meth.inputType)}) returns (${o}${typeName(meth.outputType)}) {}`,
    );
  }
  body.push("}", "");
}
for (const m of file.messageType) body.push(...emitMessage(m, ""), "");
for (const e of file.enumType) body.push(...emitEnum(e, ""), "");
writeFileSync(out, body.join("\n").trimEnd() + "\n");
