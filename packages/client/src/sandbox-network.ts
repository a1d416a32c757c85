// A sandbox's network as `newSandbox({ network, portMappings })` asks for it. sbx-sandboxer
// reads a pod's network settings from a CRI PodSandboxConfig in Controller.Create's
// options (containerd 2.x's CRI sends one there), so the SDK writes the same message:
// host network as NamespaceMode NODE, ports as PodSandboxConfig.port_mappings (the
// sandboxer's CNI portmap reads them). "none" is an annotation: a pod of its own network
// namespace with only loopback, which CRI cannot express. Encoded by hand (field numbers
// from k8s.io/cri-api's api.proto) so that the SDK does not load the CRI descriptors.
import { create } from "@bufbuild/protobuf";
import { AnySchema, type Any } from "@bufbuild/protobuf/wkt";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { invalidArgument } from "@sandboxd/errdefs";

/** `bridge` (the sandboxer's CNI network, the default), the host's, or loopback only. */
export type SandboxNetwork = "bridge" | "host" | "none";

/** A port of the host forwarded to the sandbox (CNI portmap). */
export interface PortMapping {
  /** Default tcp. */
  protocol?: "tcp" | "udp" | "sctp" | undefined;
  containerPort: number;
  hostPort: number;
  /** The host address to listen on (default: all). */
  hostIp?: string | undefined;
}

/** The annotation that makes sbx-sandboxer skip CNI for a pod (value `none`). */
export const podNetworkAnnotation = "io.sandboxd.pod.network";

const podSandboxConfigTypeUrl = "runtime.v1.PodSandboxConfig";
const protocols = { tcp: 0, udp: 1, sctp: 2 } as const;
/** CRI's NamespaceMode values used here. */
const modeContainer = 1;
const modeNode = 2;

function checkPort(what: string, port: number): void {
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw invalidArgument(`port mapping: ${what} ${port} is not a port (1-65535)`);
}

/** Checks `network` and `portMappings` together; throws InvalidArgument naming what is wrong. */
export function checkSandboxNetwork(
  id: string,
  network: SandboxNetwork | undefined,
  ports: readonly PortMapping[],
): void {
  if (network !== undefined && !["bridge", "host", "none"].includes(network))
    throw invalidArgument(
      `sandbox "${id}": network ${JSON.stringify(network)}: use bridge, host or none`,
    );
  if (ports.length > 0 && (network === "host" || network === "none")) {
    throw invalidArgument(
      `sandbox "${id}": port mappings need the sandbox's own network, not network ${network}`,
    );
  }
  for (const p of ports) {
    checkPort("container port", p.containerPort);
    checkPort("host port", p.hostPort);
    if (p.protocol !== undefined && !(p.protocol in protocols))
      throw invalidArgument(
        `port mapping: protocol ${JSON.stringify(p.protocol)}: use tcp, udp or sctp`,
      );
  }
}

function stringEntry(w: BinaryWriter, field: number, key: string, value: string): void {
  w.tag(field, WireType.LengthDelimited).fork();
  w.tag(1, WireType.LengthDelimited).string(key);
  w.tag(2, WireType.LengthDelimited).string(value);
  w.join();
}

/** The PodSandboxConfig (as an Any) that asks the sandboxer for this network. */
export function podNetworkConfig(
  id: string,
  namespace: string,
  network: SandboxNetwork,
  ports: readonly PortMapping[],
): Any {
  const w = new BinaryWriter();
  w.tag(1, WireType.LengthDelimited).fork(); // metadata
  w.tag(1, WireType.LengthDelimited).string(id);
  w.tag(3, WireType.LengthDelimited).string(namespace);
  w.join();
  for (const p of ports) {
    w.tag(5, WireType.LengthDelimited).fork();
    const protocol = protocols[p.protocol ?? "tcp"];
    if (protocol !== 0) w.tag(1, WireType.Varint).int32(protocol);
    w.tag(2, WireType.Varint).int32(p.containerPort);
    w.tag(3, WireType.Varint).int32(p.hostPort);
    if (p.hostIp) w.tag(4, WireType.LengthDelimited).string(p.hostIp);
    w.join();
  }
  if (network === "none") stringEntry(w, 7, podNetworkAnnotation, "none");
  w.tag(8, WireType.LengthDelimited).fork(); // linux
  w.tag(2, WireType.LengthDelimited).fork(); // security_context
  w.tag(1, WireType.LengthDelimited).fork(); // namespace_options
  if (network === "host") w.tag(1, WireType.Varint).int32(modeNode);
  // Each container its own pid namespace, as without a PodSandboxConfig (CRI's default,
  // POD, would put a pid-1 holder in front of them).
  w.tag(2, WireType.Varint).int32(modeContainer);
  w.join();
  w.join();
  w.join();
  return create(AnySchema, { typeUrl: podSandboxConfigTypeUrl, value: w.finish() });
}
