/**
 * Runtime name → shim binary, as containerd resolves it (pkg/shim BinaryName,
 * shim_manager resolveRuntimePath): `io.containerd.runc.v2` →
 * `containerd-shim-runc-v2`, looked up on PATH; an absolute path is used as is.
 */
import { accessSync, constants } from "node:fs";
import { delimiter, isAbsolute, join } from "node:path";
import { invalidArgument, notFound } from "@sandboxd/errdefs";

/** The binary name for a runtime name, or undefined when the name has no `name.version` form. */
export function shimBinaryName(runtime: string): string | undefined {
  const parts = runtime.split(".");
  if (parts.length < 2 || parts[0] === "") return undefined;
  const name = parts[parts.length - 2];
  const version = parts[parts.length - 1];
  if (!name || !version) return undefined;
  return `containerd-shim-${name}-${version}`;
}

export interface ResolveOptions {
  /** The PATH to search (default: process.env.PATH). */
  path?: string | undefined;
  /** Directories searched after PATH (containerd searches its own executable's directory). */
  extraDirs?: readonly string[] | undefined;
}

/**
 * The absolute path of the shim binary for `runtime`. Throws InvalidArgument for
 * a name that cannot be a runtime, NotFound when no such binary is installed.
 */
export function resolveShimBinary(runtime: string, options: ResolveOptions = {}): string {
  if (runtime === "") throw invalidArgument("runtime name must not be empty");
  if (isAbsolute(runtime)) {
    if (!isExecutable(runtime))
      throw notFound(`runtime ${JSON.stringify(runtime)}: no executable at that path`);
    return runtime;
  }
  if (runtime.includes("/")) {
    throw invalidArgument(`runtime ${JSON.stringify(runtime)}: a path must be absolute`);
  }
  const binary = shimBinaryName(runtime);
  if (!binary) {
    throw invalidArgument(
      `runtime ${JSON.stringify(runtime)}: expected a name like io.containerd.runc.v2`,
    );
  }
  const dirs = [
    ...(options.path ?? process.env.PATH ?? "").split(delimiter).filter(Boolean),
    ...(options.extraDirs ?? []),
  ];
  for (const dir of dirs) {
    const candidate = join(dir, binary);
    if (isExecutable(candidate)) return candidate;
  }
  throw notFound(`runtime ${JSON.stringify(runtime)}: binary ${binary} not installed on PATH`);
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
