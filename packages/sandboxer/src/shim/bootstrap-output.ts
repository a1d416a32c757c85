/**
 * What `start` prints, in the form the calling containerd parses (facts §2.5):
 *
 * | containerd | how we know                                   | output                          |
 * |------------|-----------------------------------------------|---------------------------------|
 * | 2.3+       | stdin is BootstrapParams with containerd_version | protobuf BootstrapResult v3  |
 * | 1.6        | no GRPC_ADDRESS in the environment (added in 1.7) | plain `unix:///path`          |
 * | 1.7        | `<publish-binary> --version` says v1.x        | plain `unix:///path`            |
 * | 2.0–2.2    | `<publish-binary> --version` says v2.x        | JSON `{"version":3,...}`        |
 *
 * 1.7 rejects a JSON version above 2 and 2.3+ tries protobuf first, so each
 * form goes only where it is understood; when nothing tells, plain works
 * everywhere (2.x then uses task API v2, which is served too).
 */
import { decode, encode, str } from "./wire.js";

export type OutputForm = "plain" | "json" | "proto";

export interface Version {
  major: number;
  minor: number;
  patch: number;
}

/** Parses "v2.3.0", "2.0.0-rc.1", or `containerd github.com/containerd/containerd v1.7.0 <rev>`. */
export function parseVersion(text: string): Version | undefined {
  const m = /(?:^|\s|v)(\d+)\.(\d+)(?:\.(\d+))?/.exec(text.trim());
  if (!m) return undefined;
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3] ?? 0) };
}

/** containerd_version from BootstrapParams on stdin (2.3+), if the bytes are that. */
export function bootstrapVersion(stdin: Uint8Array): string | undefined {
  if (stdin.length === 0) return undefined;
  try {
    // BootstrapParams.containerd_version = 4 (an old options Any has only fields 1 and 2).
    return str(decode(stdin).get(4)) || undefined;
  } catch {
    return undefined;
  }
}

function formForVersion(v: Version): OutputForm {
  if (v.major >= 3 || (v.major === 2 && v.minor >= 3)) return "proto";
  if (v.major === 2) return "json";
  return "plain";
}

export interface FormInputs {
  stdin: Uint8Array;
  env: NodeJS.ProcessEnv;
  /** Lazily asks `<publish-binary> --version` (cached by the caller). */
  publishBinaryVersion: () => Promise<string | undefined>;
}

export async function chooseForm(
  i: FormInputs,
): Promise<{ form: OutputForm; version?: string | undefined }> {
  const fromStdin = bootstrapVersion(i.stdin);
  const parsedStdin = fromStdin ? parseVersion(fromStdin) : undefined;
  if (parsedStdin) return { form: formForVersion(parsedStdin), version: fromStdin };
  if (!i.env.GRPC_ADDRESS) return { form: "plain" };
  const text = await i.publishBinaryVersion();
  const parsed = text ? parseVersion(text) : undefined;
  return {
    form: parsed ? formForVersion(parsed) : "plain",
    version: parsed ? `${parsed.major}.${parsed.minor}.${parsed.patch}` : undefined,
  };
}

/** The bytes to print: never a leading newline or space (2.3+ parses protobuf first). */
export function formatStartOutput(form: OutputForm, address: string): Uint8Array {
  switch (form) {
    case "plain":
      return new TextEncoder().encode(address);
    case "json":
      return new TextEncoder().encode(JSON.stringify({ version: 3, address, protocol: "ttrpc" }));
    case "proto":
      // BootstrapResult{version=1, address=2, protocol=3}
      return encode([
        [1, "varint", 3],
        [2, "string", address],
        [3, "string", "ttrpc"],
      ]);
  }
}
