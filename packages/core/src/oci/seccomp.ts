// Seccomp profiles for this host: RuntimeDefault for a capability set, and
// profiles read from JSON files (CRI's Localhost, `--security-opt seccomp=FILE`).
import { readFile } from "node:fs/promises";
import { release } from "node:os";
import { invalidArgument, messageOf, notFound } from "@sandboxd/errdefs";
import { defaultSeccompProfile } from "./seccomp-profile.js";
import type { LinuxSeccomp } from "./types.js";

function kernelVersion(): [number, number] {
  const [major = 0, minor = 0] = release().split(/[.-]/).map(Number);
  return [major, minor];
}

/**
 * The RuntimeDefault seccomp profile for this host's architecture and kernel,
 * for a container whose bounding set is `capabilities` (compute it after the
 * final capability set is known: CAP_SYS_ADMIN, CAP_SYS_PTRACE... widen it).
 */
export function runtimeDefaultSeccomp(capabilities: readonly string[]): LinuxSeccomp {
  return defaultSeccompProfile(capabilities, { arch: process.arch, kernel: kernelVersion() });
}

/**
 * An OCI seccomp profile (`linux.seccomp` JSON) from a file on this host:
 * NotFound when the file is missing, InvalidArgument when it is not such JSON.
 */
export async function loadSeccompProfile(path: string): Promise<LinuxSeccomp> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if (err instanceof Error && "code" in err && err.code === "ENOENT")
      throw notFound(`seccomp profile ${JSON.stringify(path)} does not exist`);
    throw invalidArgument(`cannot read seccomp profile ${JSON.stringify(path)}: ${messageOf(err)}`);
  }
  return parseSeccompProfile(text, path);
}

/** `text` as a seccomp profile; `source` names it in errors. */
export function parseSeccompProfile(text: string, source: string): LinuxSeccomp {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw invalidArgument(
      `seccomp profile ${JSON.stringify(source)} is not JSON: ${messageOf(err)}`,
    );
  }
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw invalidArgument(`seccomp profile ${JSON.stringify(source)} is not a JSON object`);
  const p = value as Record<string, unknown>;
  if (typeof p.defaultAction !== "string")
    throw invalidArgument(
      `seccomp profile ${JSON.stringify(source)}: "defaultAction" must be a string`,
    );
  if (p.syscalls !== undefined && p.syscalls !== null && !Array.isArray(p.syscalls))
    throw invalidArgument(`seccomp profile ${JSON.stringify(source)}: "syscalls" must be a list`);
  return value as LinuxSeccomp;
}
