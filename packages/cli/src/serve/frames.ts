// The wire between sbx-client (packages/cli/native/client.c) and sandboxd's CLI
// server: frames of a type byte, a 4-byte big-endian length and the payload,
// both ways over one unix stream socket. The client's first frame is `hello`.
// A `local` answer (then nothing else) sends the client to the Node CLI.

/** Frame types, as the bytes both sides use. */
export const Frame = {
  /** client: argv, environment, working directory and terminals (see parseHello). */
  Hello: 0x48, // H
  /** client: bytes of its stdin, after the server asked with ReadStdin. */
  Stdin: 0x49, // I
  /** client: its stdin ended. */
  StdinEnd: 0x69, // i
  /** client: it got a signal; the payload is its name (SIGINT). */
  Signal: 0x53, // S
  /** client: its terminal's new size, "COLUMNS ROWS". */
  Resize: 0x57, // W
  /** server: run this command in the Node CLI instead. */
  Local: 0x4c, // L
  /** server: bytes for the client's stdout or stderr. */
  Stdout: 0x4f, // O
  Stderr: 0x45, // E
  /** server: start sending stdin (it is read only when a command wants it). */
  ReadStdin: 0x52, // R
  /** server: the command ended; the payload is its exit status in decimal. */
  Exit: 0x58, // X
} as const;

/** Frames bigger than this are a broken or foreign peer. */
export const maxFrame = 16 << 20;

export const protocolVersion = "sbx-cli 1";

export function encodeFrame(type: number, payload: Uint8Array | string = ""): Buffer {
  const body = typeof payload === "string" ? Buffer.from(payload) : payload;
  const head = Buffer.allocUnsafe(5);
  head[0] = type;
  head.writeUInt32BE(body.length, 1);
  return Buffer.concat([head, body]);
}

/** Splits a byte stream into frames; throws on a frame over maxFrame. */
export class FrameReader {
  #pending: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): { type: number; payload: Buffer }[] {
    this.#pending = this.#pending.length ? Buffer.concat([this.#pending, chunk]) : chunk;
    const frames: { type: number; payload: Buffer }[] = [];
    while (this.#pending.length >= 5) {
      const length = this.#pending.readUInt32BE(1);
      if (length > maxFrame) throw new Error(`a frame of ${length} bytes (at most ${maxFrame})`);
      if (this.#pending.length < 5 + length) break;
      frames.push({ type: this.#pending[0]!, payload: this.#pending.subarray(5, 5 + length) });
      this.#pending = this.#pending.subarray(5 + length);
    }
    return frames;
  }
}

export interface Hello {
  cwd: string;
  stdinIsTTY: boolean;
  stdoutIsTTY: boolean;
  stderrIsTTY: boolean;
  columns: number;
  rows: number;
  argv: string[];
  env: Record<string, string>;
}

/**
 * The hello's payload: NUL-terminated strings, "sbx-cli 1", the working
 * directory, three 0/1 for whether stdin, stdout and stderr are terminals,
 * "COLUMNS ROWS", the argument count, the arguments, then NAME=VALUE pairs.
 */
export function parseHello(payload: Buffer): Hello {
  const words = payload.toString("utf8").split("\0");
  if (words.pop() !== "") throw new Error("hello: not NUL-terminated");
  const [version, cwd, ttys, size, count, ...rest] = words;
  if (version !== protocolVersion) throw new Error(`hello: protocol ${JSON.stringify(version)}`);
  const argc = Number(count);
  if (cwd === undefined || !/^[01]{3}$/.test(ttys ?? "") || !Number.isInteger(argc)) {
    throw new Error("hello: malformed");
  }
  if (argc < 0 || argc > rest.length) throw new Error("hello: argument count");
  const [columns = 0, rows = 0] = (size ?? "").split(" ").map(Number);
  const env: Record<string, string> = {};
  for (const pair of rest.slice(argc)) {
    const eq = pair.indexOf("=");
    if (eq > 0) env[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return {
    cwd,
    stdinIsTTY: ttys![0] === "1",
    stdoutIsTTY: ttys![1] === "1",
    stderrIsTTY: ttys![2] === "1",
    columns,
    rows,
    argv: rest.slice(0, argc),
    env,
  };
}

/** The hello sbx-client sends (for tests; the client builds it in C). */
export function encodeHello(hello: Hello): Buffer {
  const bit = (b: boolean): string => (b ? "1" : "0");
  const words = [
    protocolVersion,
    hello.cwd,
    `${bit(hello.stdinIsTTY)}${bit(hello.stdoutIsTTY)}${bit(hello.stderrIsTTY)}`,
    `${hello.columns} ${hello.rows}`,
    String(hello.argv.length),
    ...hello.argv,
    ...Object.entries(hello.env).map(([k, v]) => `${k}=${v}`),
  ];
  return encodeFrame(Frame.Hello, words.map((w) => `${w}\0`).join(""));
}
