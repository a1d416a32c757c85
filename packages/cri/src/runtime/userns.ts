/**
 * CRI user namespaces (`hostUsers: false`): which handlers run them and which
 * userns_options are refused before a sandbox record exists. Pods of
 * sbx-sandboxer get one user namespace each, with idmapped rootfs layers
 * (packages/sandboxer, native/userns.c); other runtimes here (runc 1.1 through
 * a shim) cannot idmap a rootfs, so they do not offer it.
 */
import {
  NamespaceMode,
  type IDMapping,
  type PodSandboxConfig,
} from "@sandboxd/api/cri/runtime/v1/api_pb";
import { invalidArgument } from "@sandboxd/errdefs";

const sbxRuntime = "io.containerd.sbx.v1";
const modeNames: Record<number, string> = { 1: "CONTAINER", 3: "TARGET" };

/** Whether pods of a handler with this runtime_type can have a user namespace. */
export function supportsUserns(runtimeType: string): boolean {
  return runtimeType === sbxRuntime;
}

/**
 * Refuses what containerd's CRI refuses (one mapping line each, container id 0
 * mapped, NODE without mappings, no CONTAINER or TARGET mode), and a pod whose
 * handler cannot honour mode POD.
 */
export function checkUserns(config: PodSandboxConfig, runtimeType: string): void {
  const opts = config.linux?.securityContext?.namespaceOptions?.usernsOptions;
  if (!opts) return;
  const where = "PodSandboxConfig.linux.security_context.namespace_options.userns_options";
  if (opts.mode === NamespaceMode.NODE) {
    if (opts.uids.length > 0 || opts.gids.length > 0)
      throw invalidArgument(
        `${where}: mode NODE takes no mappings, got ${opts.uids.length} uid and ${opts.gids.length} gid mappings`,
      );
    return;
  }
  if (opts.mode !== NamespaceMode.POD)
    throw invalidArgument(
      `${where}: mode ${modeNames[opts.mode] ?? opts.mode} is not supported for user namespaces (NODE or POD)`,
    );
  checkMapping(opts.uids, `${where}.uids`);
  checkMapping(opts.gids, `${where}.gids`);
  const ns = config.linux?.securityContext?.namespaceOptions;
  if (
    ns?.network === NamespaceMode.NODE ||
    ns?.ipc === NamespaceMode.NODE ||
    ns?.pid === NamespaceMode.NODE
  )
    throw invalidArgument(
      `${where}: a pod with its own user namespace cannot share the host's network, IPC or PID namespace`,
    );
  if (!supportsUserns(runtimeType))
    throw invalidArgument(
      `${where}: mode POD: runtime ${JSON.stringify(runtimeType)} cannot run pods with a user namespace`,
    );
}

function checkMapping(list: readonly IDMapping[], where: string): void {
  if (list.length !== 1)
    throw invalidArgument(`${where}: exactly one mapping is supported, got ${list.length}`);
  const m = list[0]!;
  if (m.length < 1) throw invalidArgument(`${where}[0]: length ${m.length} is not positive`);
  if (m.containerId !== 0)
    throw invalidArgument(
      `${where}[0]: container id 0 must be mapped (the mapping starts at container id ${m.containerId})`,
    );
  if (m.hostId + m.length > 2 ** 32 - 1)
    throw invalidArgument(`${where}[0]: host ids ${m.hostId}+${m.length} run past 4294967294`);
}
