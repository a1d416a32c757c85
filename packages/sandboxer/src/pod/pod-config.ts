/**
 * The parts of a CRI `runtime.v1.PodSandboxConfig` the sandboxer honours.
 * containerd 2.x's CRI passes the whole config as ControllerCreateRequest.options
 * (`sb.WithOptions(config)`, an Any with type URL `runtime.v1.PodSandboxConfig`,
 * protobuf bytes). Decoded field by field with protobuf-es' wire reader (field
 * numbers from k8s.io/cri-api v0.32 api.proto), so the sandboxer needs no copy
 * of the CRI proto. Unknown fields are skipped.
 */
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import { invalidArgument, messageOf } from "@sandboxd/errdefs";

export const podSandboxConfigTypeUrl = "runtime.v1.PodSandboxConfig";

/** CRI's NamespaceMode. */
export const NamespaceMode = { POD: 0, CONTAINER: 1, NODE: 2, TARGET: 3 } as const;
export type NamespaceMode = (typeof NamespaceMode)[keyof typeof NamespaceMode];

/** The name of a NamespaceMode value, for error messages. */
export function modeName(mode: number): string {
  return Object.entries(NamespaceMode).find(([, v]) => v === mode)?.[0] ?? String(mode);
}

export interface DnsConfig {
  servers: string[];
  searches: string[];
  options: string[];
}

/** CRI's Protocol enum, as portmap names it. */
const protocols = ["tcp", "udp", "sctp"] as const;

export interface PodPortMapping {
  protocol: (typeof protocols)[number];
  containerPort: number;
  hostPort: number;
  hostIp: string;
}

/** CRI's IDMapping: `length` ids from `containerId` on inside are those from `hostId` on outside. */
export interface IdMapping {
  containerId: number;
  hostId: number;
  length: number;
}

/** A pod's own user namespace: one mapping each for uids and gids, container id 0 mapped. */
export interface PodUserns {
  uid: IdMapping;
  gid: IdMapping;
}

function readIdMapping(r: BinaryReader): IdMapping {
  const m: IdMapping = { containerId: 0, hostId: 0, length: 0 };
  sub(r, (r, f, w) => {
    if (w !== WireType.Varint || f < 1 || f > 3) return false;
    const v = r.uint32();
    if (f === 1) m.hostId = v;
    else if (f === 2) m.containerId = v;
    else m.length = v;
    return true;
  });
  return m;
}

export interface PodConfig {
  name: string;
  uid: string;
  namespace: string;
  attempt: number;
  hostname: string;
  logDirectory: string;
  dns?: DnsConfig | undefined;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  cgroupParent: string;
  network: NamespaceMode;
  pid: NamespaceMode;
  ipc: NamespaceMode;
  /** userns_options.mode, when the pod asks for a user namespace setting. */
  userns?: NamespaceMode | undefined;
  /** userns_options.uids and .gids, as given (checked in pod-cri.ts). */
  usernsUids?: IdMapping[] | undefined;
  usernsGids?: IdMapping[] | undefined;
  privileged: boolean;
  sysctls: Record<string, string>;
  portMappings: PodPortMapping[];
}

/** Whether an Any's type URL names a PodSandboxConfig (bare or type.googleapis.com/ prefixed). */
export function isPodSandboxConfig(typeUrl: string): boolean {
  return typeUrl === podSandboxConfigTypeUrl || typeUrl.endsWith(`/${podSandboxConfigTypeUrl}`);
}

type Fields = (r: BinaryReader, field: number, wire: WireType) => boolean;

/** Reads a message of `length` bytes (or to the end), giving each field to `on`. */
function readMessage(r: BinaryReader, end: number, on: Fields): void {
  while (r.pos < end) {
    const [field, wire] = r.tag();
    if (!on(r, field, wire)) r.skip(wire, field);
  }
}

function sub(r: BinaryReader, on: Fields): void {
  const len = r.uint32();
  readMessage(r, r.pos + len, on);
}

function mapEntry(r: BinaryReader, into: Record<string, string>): void {
  let key = "";
  let value = "";
  sub(r, (rr, f, w) => {
    if (w !== WireType.LengthDelimited) return false;
    if (f === 1) key = rr.string();
    else if (f === 2) value = rr.string();
    else return false;
    return true;
  });
  into[key] = value;
}

export function decodePodSandboxConfig(bytes: Uint8Array): PodConfig {
  const c: PodConfig = {
    name: "",
    uid: "",
    namespace: "",
    attempt: 0,
    hostname: "",
    logDirectory: "",
    labels: {},
    annotations: {},
    cgroupParent: "",
    network: NamespaceMode.POD,
    pid: NamespaceMode.POD,
    ipc: NamespaceMode.POD,
    privileged: false,
    sysctls: {},
    portMappings: [],
  };
  const r = new BinaryReader(bytes);
  const LD = WireType.LengthDelimited;
  let badPort: string | undefined;
  try {
    readMessage(r, bytes.length, (r, f, w) => {
      if (w !== LD) return false;
      switch (f) {
        case 1: // metadata
          sub(r, (r, f, w) => {
            if (f === 4 && w === WireType.Varint) c.attempt = r.uint32();
            else if (w !== LD) return false;
            else if (f === 1) c.name = r.string();
            else if (f === 2) c.uid = r.string();
            else if (f === 3) c.namespace = r.string();
            else return false;
            return true;
          });
          return true;
        case 2:
          c.hostname = r.string();
          return true;
        case 3:
          c.logDirectory = r.string();
          return true;
        case 4: {
          const dns: DnsConfig = { servers: [], searches: [], options: [] };
          sub(r, (r, f, w) => {
            if (w !== LD) return false;
            const list =
              f === 1 ? dns.servers : f === 2 ? dns.searches : f === 3 ? dns.options : undefined;
            if (!list) return false;
            list.push(r.string());
            return true;
          });
          c.dns = dns;
          return true;
        }
        case 5: {
          const m: PodPortMapping = { protocol: "tcp", containerPort: 0, hostPort: 0, hostIp: "" };
          let proto = 0;
          sub(r, (r, f, w) => {
            if (w === WireType.Varint && f >= 1 && f <= 3) {
              const v = r.int32();
              if (f === 1) proto = v;
              else if (f === 2) m.containerPort = v;
              else m.hostPort = v;
              return true;
            }
            if (f !== 4 || w !== LD) return false;
            m.hostIp = r.string();
            return true;
          });
          const name = protocols[proto];
          if (!name && badPort === undefined)
            badPort = `PodSandboxConfig.port_mappings[${c.portMappings.length}]: protocol ${proto} is not TCP, UDP or SCTP`;
          m.protocol = name ?? "tcp";
          c.portMappings.push(m);
          return true;
        }
        case 6:
          mapEntry(r, c.labels);
          return true;
        case 7:
          mapEntry(r, c.annotations);
          return true;
        case 8:
          sub(r, (r, f, w) => readLinux(r, f, w, c));
          return true;
        default:
          return false;
      }
    });
  } catch (err) {
    throw invalidArgument(`PodSandboxConfig: not a valid protobuf message: ${messageOf(err)}`);
  }
  if (badPort !== undefined) throw invalidArgument(badPort);
  return c;
}

function readLinux(r: BinaryReader, f: number, w: WireType, c: PodConfig): boolean {
  if (w !== WireType.LengthDelimited) return false;
  if (f === 1) c.cgroupParent = r.string();
  else if (f === 3) mapEntry(r, c.sysctls);
  else if (f === 2) {
    // security_context
    sub(r, (r, f, w) => {
      if (f === 6 && w === WireType.Varint) {
        c.privileged = r.bool();
        return true;
      }
      if (f !== 1 || w !== WireType.LengthDelimited) return false;
      // namespace_options
      sub(r, (r, f, w) => {
        if (w === WireType.Varint && f >= 1 && f <= 3) {
          const mode = r.uint32() as NamespaceMode;
          if (f === 1) c.network = mode;
          else if (f === 2) c.pid = mode;
          else c.ipc = mode;
          return true;
        }
        if (f === 5 && w === WireType.LengthDelimited) {
          c.userns = NamespaceMode.POD;
          sub(r, (r, f, w) => {
            if (f === 1 && w === WireType.Varint) c.userns = r.uint32() as NamespaceMode;
            else if (w !== WireType.LengthDelimited) return false;
            else if (f === 2) (c.usernsUids ??= []).push(readIdMapping(r));
            else if (f === 3) (c.usernsGids ??= []).push(readIdMapping(r));
            else return false;
            return true;
          });
          return true;
        }
        return false;
      });
      return true;
    });
  } else return false;
  return true;
}
