/**
 * What a shim's `start` prints, in every form containerd understands, and the
 * `bootstrap.json` containerd 2.x writes so a restarted daemon can reconnect:
 *
 * - a plain address (`unix:///run/containerd/s/<hash>`; containerd 1.x shims);
 * - JSON `{"version":2|3,"address":"...","protocol":"ttrpc"|"grpc"}` (2.0-2.2);
 * - a protobuf BootstrapResult (2.3+).
 */
import { fromBinary } from "@bufbuild/protobuf";
import { invalidArgument } from "@sandboxd/errdefs";
import { BootstrapResultSchema } from "@sandboxd/api/runtime/bootstrap/v1/bootstrap_pb";
import type { Bundle } from "./bundle.js";
import { BundleFile } from "./bundle.js";

export interface BootstrapInfo {
  /** Task API version served at `address`: 2 (`containerd.task.v2.Task`) or 3. */
  version: number;
  address: string;
  protocol: "ttrpc" | "grpc";
}

/** The highest task API version sandboxd speaks. */
const maxTaskApiVersion = 3;

export function parseStartOutput(output: Uint8Array): BootstrapInfo {
  const text = Buffer.from(output).toString("utf8").trim();
  if (text === "") throw invalidArgument("shim start printed nothing");
  if (text.startsWith("{")) return fromJson(text);
  if (isPrintable(text)) return { version: 2, address: text, protocol: "ttrpc" };
  let result;
  try {
    result = fromBinary(BootstrapResultSchema, output);
  } catch (err) {
    throw invalidArgument(`unreadable shim start output ${JSON.stringify(text.slice(0, 200))}`, {
      cause: err,
    });
  }
  if (result.address === "") throw invalidArgument("shim start output has no address");
  return check({
    version: result.version || 2,
    address: result.address,
    protocol: result.protocol === "grpc" ? "grpc" : "ttrpc",
  });
}

function fromJson(text: string): BootstrapInfo {
  let raw: { version?: unknown; address?: unknown; protocol?: unknown };
  try {
    raw = JSON.parse(text) as typeof raw;
  } catch (err) {
    throw invalidArgument(`invalid shim bootstrap JSON ${JSON.stringify(text.slice(0, 200))}`, {
      cause: err,
    });
  }
  const version = typeof raw.version === "number" ? raw.version : 2;
  if (typeof raw.address !== "string" || raw.address === "") {
    throw invalidArgument("shim bootstrap JSON has no address");
  }
  if (version < 2) return { version: 2, address: text, protocol: "ttrpc" };
  return check({
    version,
    address: raw.address,
    protocol: raw.protocol === "grpc" ? "grpc" : "ttrpc",
  });
}

function check(info: BootstrapInfo): BootstrapInfo {
  if (info.version > maxTaskApiVersion) {
    throw invalidArgument(`unsupported shim version (${info.version})`);
  }
  return info;
}

function isPrintable(text: string): boolean {
  return /^[\x20-\x7e]+$/.test(text);
}

export function writeBootstrap(bundle: Bundle, info: BootstrapInfo): Promise<void> {
  return bundle.write(BundleFile.Bootstrap, bootstrapJson(info));
}

/** bootstrap.json's text for `info`. */
export function bootstrapJson(info: BootstrapInfo): string {
  return JSON.stringify({ version: info.version, address: info.address, protocol: info.protocol });
}

/** bootstrap.json, else a 1.x shim's `address` file (version 2, ttrpc); undefined if neither. */
export async function readBootstrap(bundle: Bundle): Promise<BootstrapInfo | undefined> {
  const json = await bundle.read(BundleFile.Bootstrap);
  // Empty: a daemon before atomic writes was killed while writing it; as good as not written.
  if (json !== undefined && json.trim() !== "") return fromJson(json);
  const address = await bundle.read(BundleFile.Address);
  if (address !== undefined && address.trim() !== "") {
    return { version: 2, address: address.trim(), protocol: "ttrpc" };
  }
  return undefined;
}
