/**
 * The shim's `-info` answer: a protobuf containerd.types.RuntimeInfo with the
 * runtime's name and version and, as containerd's runc shim does, the OCI
 * runtime's features (`runc features`, JSON in an Any of type
 * `types.containerd.io/opencontainers/runtime-spec/1/features/Features`).
 * containerd's CRI reads `mountOptions` ("rro": recursive read-only mounts) and
 * the namespaces from it to fill the handler's features in Status. containerd
 * 2.0–2.3 introspect only the runtime type io.containerd.runc.v2; 2.4 every type.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { promisify } from "node:util";
import { encode } from "./wire.js";
import type { Field } from "./wire.js";

export const featuresTypeUrl =
  "types.containerd.io/opencontainers/runtime-spec/1/features/Features";

/** `runc features` of the runc the sandboxer uses, or undefined when it cannot tell. */
export async function runcFeatures(runc: string): Promise<Uint8Array | undefined> {
  const binary = existsSync(runc) ? runc : "runc";
  try {
    const { stdout } = await promisify(execFile)(binary, ["features"], {
      encoding: "buffer",
      timeout: 10_000,
    });
    JSON.parse(stdout.toString("utf8"));
    return new Uint8Array(stdout);
  } catch {
    return undefined;
  }
}

export function runtimeInfo(
  name: string,
  version: string,
  features: Uint8Array | undefined,
): Uint8Array {
  // containerd.types.RuntimeInfo{name=1, version=2 RuntimeVersion{version=1}, features=4 Any}
  const fields: Field[] = [
    [1, "string", name],
    [2, "message", [[1, "string", version]]],
  ];
  if (features) {
    fields.push([
      4,
      "message",
      [
        [1, "string", featuresTypeUrl],
        [2, "bytes", features],
      ],
    ]);
  }
  return encode(fields);
}
