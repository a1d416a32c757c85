/**
 * containerd's filter syntax (pkg/filters), used by List and Subscribe calls:
 *
 *   selectors := selector ("," selector)*        all must match
 *   selector  := fieldpath (operator value)?     no operator: the field is present
 *   fieldpath := field ("." field)*
 *   field     := quoted | [A-Za-z0-9_]+
 *   operator  := "==" | "!=" | "~="             "~=" is a regular expression
 *   value     := quoted | [^\s,]+
 *   quoted    := "..." (Go string syntax); /.../ and |...| also for "~=" values
 *
 * Several filter strings are ORed (ParseAll). A parse error is InvalidArgument
 * and points at the offending character like containerd's.
 */
import { invalidArgument } from "@sandboxd/errdefs";

/** Maps a field path to its value; undefined when the field is absent. */
export type Adaptor = (fieldpath: readonly string[]) => string | undefined;

export type Filter = (adaptor: Adaptor) => boolean;

type Operator = "present" | "==" | "!=" | "~=";

interface Selector {
  fieldpath: string[];
  operator: Operator;
  value: string;
  re?: RegExp | undefined;
}

export const always: Filter = () => true;

/** Parses filter strings; the result matches when any of them matches. */
export function parseFilters(filters: readonly string[]): Filter {
  const parsed = filters.filter((f) => f !== "").map(parseFilter);
  if (parsed.length === 0) return always;
  return (adaptor) => parsed.some((f) => f(adaptor));
}

/** Parses one filter string: comma-separated selectors that must all match. */
export function parseFilter(input: string): Filter {
  if (input === "") return always;
  const selectors = new Parser(input).selectors();
  return (adaptor) => selectors.every((s) => matches(s, adaptor));
}

function matches(s: Selector, adaptor: Adaptor): boolean {
  const value = adaptor(s.fieldpath);
  switch (s.operator) {
    case "present":
      return value !== undefined;
    case "==":
      return value !== undefined && value === s.value;
    case "!=":
      return (value ?? "") !== s.value;
    case "~=":
      return s.re !== undefined && s.re.test(value ?? "");
  }
}

const quoteChars = new Set(['"', "/", "|"]);
const isFieldChar = (c: string): boolean => /^[A-Za-z0-9_]$/.test(c);
const isSpace = (c: string): boolean => /^\s$/u.test(c);

class Parser {
  readonly #input: string;
  #pos = 0;

  constructor(input: string) {
    this.#input = input;
  }

  selectors(): Selector[] {
    const out = [this.#selector()];
    for (;;) {
      this.#skipSpace();
      if (this.#pos >= this.#input.length) return out;
      if (this.#input[this.#pos] !== ",")
        this.#fail(this.#pos, `unexpected input: ${this.#input[this.#pos]}`);
      this.#pos++;
      out.push(this.#selector());
    }
  }

  #selector(): Selector {
    const fieldpath = this.#fieldpath();
    this.#skipSpace();
    const c = this.#input[this.#pos];
    if (c === undefined || c === ",") return { fieldpath, operator: "present", value: "" };
    const operator = this.#operator();
    const value = this.#value(operator === "~=");
    if (operator !== "~=") return { fieldpath, operator, value };
    let re: RegExp;
    try {
      re = new RegExp(value);
    } catch {
      throw invalidArgument(`filters: invalid regular expression ${JSON.stringify(value)}`);
    }
    return { fieldpath, operator, value, re };
  }

  #fieldpath(): string[] {
    const fields = [this.#field()];
    while (this.#input[this.#pos] === ".") {
      this.#pos++;
      fields.push(this.#field());
    }
    return fields;
  }

  #field(): string {
    this.#skipSpace();
    const start = this.#pos;
    const c = this.#input[this.#pos];
    if (c === '"') return this.#quoted(c);
    while (this.#pos < this.#input.length && isFieldChar(this.#input[this.#pos] ?? "")) this.#pos++;
    if (this.#pos === start) this.#fail(start, "expected field or quoted");
    return this.#input.slice(start, this.#pos);
  }

  #operator(): Operator {
    const start = this.#pos;
    while ("=!~".includes(this.#input[this.#pos] ?? "x")) this.#pos++;
    const op = this.#input.slice(start, this.#pos);
    if (op === "") this.#fail(start, 'expected an operator ("=="|"!="|"~=")');
    if (op !== "==" && op !== "!=" && op !== "~=")
      this.#fail(start, `unsupported operator ${JSON.stringify(op)}`);
    return op;
  }

  #value(allowAltQuotes: boolean): string {
    this.#skipSpace();
    const start = this.#pos;
    const c = this.#input[this.#pos];
    if (c === undefined) this.#fail(start, "unexpected end of input, expected value or quoted");
    if (quoteChars.has(c)) {
      if (c !== '"' && !allowAltQuotes) this.#fail(start, "invalid quote encountered");
      return this.#quoted(c);
    }
    while (this.#pos < this.#input.length) {
      const ch = this.#input[this.#pos] ?? "";
      if (ch === "," || isSpace(ch)) break;
      this.#pos++;
    }
    return this.#input.slice(start, this.#pos);
  }

  #quoted(quote: string): string {
    const start = this.#pos;
    this.#pos++;
    let out = "";
    for (;;) {
      const c = this.#input[this.#pos];
      if (c === undefined || c === "\n") this.#fail(start, "quoted literal not terminated");
      this.#pos++;
      if (c === quote) return out;
      if (c !== "\\") {
        out += c;
        continue;
      }
      out += this.#escape(quote, start);
    }
  }

  #escape(quote: string, start: number): string {
    const c = this.#input[this.#pos++];
    const simple: Record<string, string> = {
      a: "\x07",
      b: "\b",
      f: "\f",
      n: "\n",
      r: "\r",
      t: "\t",
      v: "\v",
      "\\": "\\",
    };
    if (c === undefined) this.#fail(start, "quoted literal not terminated");
    if (c === quote) return quote;
    if (simple[c] !== undefined) return simple[c];
    const hexDigits = c === "x" ? 2 : c === "u" ? 4 : c === "U" ? 8 : 0;
    if (hexDigits) return String.fromCodePoint(this.#digits(16, hexDigits, start));
    if (c >= "0" && c <= "7") {
      this.#pos--;
      return String.fromCodePoint(this.#digits(8, 3, start));
    }
    return this.#fail(start, "illegal escape sequence");
  }

  #digits(base: number, count: number, start: number): number {
    const text = this.#input.slice(this.#pos, this.#pos + count);
    const valid = base === 16 ? /^[0-9a-fA-F]+$/ : /^[0-7]+$/;
    if (text.length !== count || !valid.test(text))
      this.#fail(start, "illegal numeric escape sequence");
    this.#pos += count;
    return Number.parseInt(text, base);
  }

  #skipSpace(): void {
    while (this.#pos < this.#input.length && isSpace(this.#input[this.#pos] ?? "")) this.#pos++;
  }

  #fail(pos: number, message: string): never {
    const input = this.#input;
    const where =
      pos < input.length
        ? `[${input.slice(0, pos)} >|${input.slice(pos, pos + 1)}|< ${input.slice(pos + 1)}]`
        : `[${input}]`;
    throw invalidArgument(`filters: parse error: ${where}: ${message}`);
  }
}

/**
 * An adaptor over a flat record of top-level string fields plus a `labels`
 * map, the shape most containerd objects filter on (`id`, `labels.KEY`, ...).
 */
export function recordAdaptor(
  fields: Record<string, string | undefined>,
  labels: Record<string, string> = {},
): Adaptor {
  return (path) => {
    const [head, ...rest] = path;
    if (head === undefined) return undefined;
    if (head === "labels") {
      if (rest.length === 0) return Object.keys(labels).length ? "" : undefined;
      const key = rest.join(".");
      return Object.hasOwn(labels, key) ? labels[key] : undefined;
    }
    if (rest.length === 0) return fields[head];
    return fields[path.join(".")];
  };
}
