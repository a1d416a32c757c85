// What a command gets: the global flags, its streams and a lazily made client.
import type { Client } from "@sandboxd/client";
import type { Writable } from "node:stream";
import type { Caller } from "./caller.js";

/** Output formats. */
export const Output = { Table: "table", Json: "json" } as const;
export type Output = (typeof Output)[keyof typeof Output];

/** Flags that apply to every command. */
export interface Globals {
  address: string;
  namespace: string;
  output: Output;
  debug: boolean;
}

export interface Context {
  readonly globals: Globals;
  readonly stdout: Writable;
  readonly stderr: Writable;
  readonly env: Record<string, string | undefined>;
  /** Where sbx was run from: stdin, terminal, working directory, signals. */
  readonly caller: Caller;
  /** Connects on first use (the SDK is loaded only by commands that talk to the daemon). */
  client(): Promise<Client>;
  /** Writes a line (or lines) to stdout. */
  print(text: string): void;
  /** Writes JSON to stdout (two-space indent, trailing newline). */
  printJson(value: unknown): void;
  /** Closes the client if one was made. */
  close(): void;
}

/**
 * A connection the command may use but not close (sandboxd's CLI server keeps one
 * for all its calls); a view of it in the namespace asked for.
 */
export type SharedConnection = (address: string, namespace: string) => Promise<Client>;

export function createContext(
  globals: Globals,
  streams: { stdout: Writable; stderr: Writable },
  env: Record<string, string | undefined>,
  caller: Caller,
  shared?: SharedConnection,
): Context {
  let client: Promise<Client> | undefined;
  return {
    globals,
    stdout: streams.stdout,
    stderr: streams.stderr,
    env,
    caller,
    client(): Promise<Client> {
      return (client ??= shared
        ? shared(globals.address, globals.namespace)
        : import("@sandboxd/client").then(({ Client }) =>
            Client.connect({ address: globals.address, namespace: globals.namespace }),
          ));
    },
    print(text: string): void {
      streams.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
    },
    printJson(value: unknown): void {
      streams.stdout.write(`${JSON.stringify(value, jsonReplacer, 2)}\n`);
    },
    close(): void {
      if (shared) return;
      void client?.then(
        (c) => c.close(),
        () => undefined,
      );
    },
  };
}

/** bigint (cgroup counters) as numbers when safe, else strings; Uint8Array as base64. */
function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === "bigint") {
    return value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value.toString();
  }
  if (value instanceof Uint8Array) return Buffer.from(value).toString("base64");
  return value;
}
