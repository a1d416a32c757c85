// `sbx run`'s flags gathered into what the SDK takes: the sandbox's network and ports,
// and the spec changes of the container.
import type { PortMapping, SandboxNetwork, SpecOpt } from "@sandboxd/client";
import { invalidArgument } from "@sandboxd/errdefs";
import { parsePublish } from "./run-net.js";
import {
  parseCpus,
  parseMemory,
  parseMount,
  parseVolume,
  withCapabilityChanges,
  withHostNetwork,
  withPrivileged,
} from "./run-spec.js";

interface NetFlags {
  net?: string | undefined;
  network?: string | undefined;
  publish: readonly string[];
  sandbox?: string | undefined;
}

export function sandboxNetwork(flags: NetFlags): {
  network: SandboxNetwork | undefined;
  portMappings: PortMapping[];
} {
  if (flags.net !== undefined && flags.network !== undefined && flags.net !== flags.network)
    throw invalidArgument(`run: --net ${flags.net} and --network ${flags.network} disagree`);
  const network = (flags.net ?? flags.network) as SandboxNetwork | undefined;
  const portMappings = flags.publish.map(parsePublish);
  if (flags.sandbox !== undefined && (network !== undefined || portMappings.length > 0)) {
    throw invalidArgument(
      "run: --net and --publish set up a sandbox of the container's own: not with --sandbox " +
        "(the sandbox's network is set when it is made)",
    );
  }
  if (portMappings.length > 0 && (network === "host" || network === "none"))
    throw invalidArgument(`run: --publish needs the sandbox's own network, not --net ${network}`);
  return { network, portMappings };
}

interface SpecFlags {
  volume: readonly string[];
  mount: readonly string[];
  memory?: string | undefined;
  cpus?: string | undefined;
  privileged: boolean;
  "cap-add": readonly string[];
  "cap-drop": readonly string[];
  net?: string | undefined;
  network?: string | undefined;
}

/** The flags' spec changes, in the order docker applies them (privileged, then caps). */
export function containerSpecOpts(flags: SpecFlags): SpecOpt[] {
  const opts: SpecOpt[] = [];
  const mounts = [...flags.volume.map(parseVolume), ...flags.mount.map(parseMount)];
  if (mounts.length > 0) {
    opts.push((spec) => {
      // A later mount on the same destination replaces an earlier one (e.g. of /run).
      const destinations = new Set(mounts.map((m) => m.destination));
      spec.mounts = [
        ...(spec.mounts ?? []).filter((m) => !destinations.has(m.destination)),
        ...mounts,
      ];
    });
  }
  if (flags.memory !== undefined) {
    const limit = parseMemory(flags.memory);
    opts.push((spec) => {
      const resources = ((spec.linux ??= {}).resources ??= {});
      resources.memory = { ...resources.memory, limit };
    });
  }
  if (flags.cpus !== undefined) {
    const { quota, period } = parseCpus(flags.cpus);
    opts.push((spec) => {
      const resources = ((spec.linux ??= {}).resources ??= {});
      resources.cpu = { ...resources.cpu, quota, period };
    });
  }
  if ((flags.net ?? flags.network) === "host") opts.push(withHostNetwork());
  if (flags.privileged) opts.push(withPrivileged());
  if (flags["cap-add"].length > 0 || flags["cap-drop"].length > 0)
    opts.push(withCapabilityChanges(flags["cap-add"], flags["cap-drop"]));
  return opts;
}
