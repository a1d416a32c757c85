/**
 * The OCI runtime spec tests run: the SDK's `defaultSpec` (containerd's
 * defaults, what users get) with test options: a TERM, a fixed hostname, an
 * optional cgroups path and annotations. One spec, so tests cannot drift
 * from what users run.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { defaultSpec, withAnnotations, withCgroupsPath, type SpecOpt } from "@sandboxd/client";

export interface OciSpecOptions {
  /** The command (default `["sh"]`). */
  readonly args?: readonly string[];
  /** Extra `KEY=VALUE` environment (PATH and TERM are set). */
  readonly env?: readonly string[];
  readonly cwd?: string;
  readonly terminal?: boolean;
  readonly hostname?: string;
  /** Relative to the bundle (default `rootfs`). */
  readonly rootfs?: string;
  readonly readonlyRootfs?: boolean;
  /** `linux.cgroupsPath`, e.g. `/sbx-test/<id>`; runc picks one when unset. */
  readonly cgroupsPath?: string;
  readonly annotations?: Readonly<Record<string, string>>;
}

/** The spec as a plain JSON object (the OCI schema, not typed field by field here). */
export type OciSpec = Record<string, unknown>;

export function ociSpec(options: OciSpecOptions = {}): OciSpec {
  const extra: SpecOpt[] = [];
  if (options.cgroupsPath !== undefined) extra.push(withCgroupsPath(options.cgroupsPath));
  if (options.annotations !== undefined) extra.push(withAnnotations({ ...options.annotations }));
  const spec = defaultSpec(
    {
      args: options.args ?? ["sh"],
      env: ["TERM=xterm", ...(options.env ?? [])],
      cwd: options.cwd ?? "/",
      terminal: options.terminal ?? false,
      hostname: options.hostname ?? "sbx-test",
      rootfs: options.rootfs ?? "rootfs",
      readonlyRootfs: options.readonlyRootfs ?? false,
    },
    ...extra,
  );
  return { ...spec };
}

/** Writes `<bundle>/config.json` (creating the bundle directory) and returns the bundle path. */
export async function writeBundleSpec(bundle: string, spec: OciSpec): Promise<string> {
  await mkdir(bundle, { recursive: true });
  await writeFile(join(bundle, "config.json"), JSON.stringify(spec, null, 2));
  return bundle;
}
