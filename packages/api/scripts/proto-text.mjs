// Reads the proto3 text containerd writes (messages, nested types, maps, oneofs,
// enums, services, extensions; options are skipped) into plain objects, and
// renders them as the fact table extract-fields.mjs writes. Not a general
// protobuf parser: it knows just enough for containerd's, cgroups' and
// googleapis' files.

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

export function parseFile(text, origin) {
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
export function qualify(file) {
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

export function render(files) {
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
