/**
 * Shim and task API addresses as containerd writes and reads them.
 *
 * - `unix:///abs/path` is a filesystem socket; a bare string with no scheme is a
 *   Linux abstract socket (containerd's AnonDialer), never a path.
 * - Sandbox endpoints carry the protocol: `ttrpc+unix:///path`, `grpc+unix:///path`.
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import { invalidArgument } from "@sandboxd/errdefs";

export type Protocol = "ttrpc" | "grpc";

export interface Endpoint {
  protocol: Protocol;
  /** What to pass to net.connect: a filesystem path, or "\0name" for an abstract socket. */
  socketPath: string;
  /** The address without the protocol prefix, as a shim prints it (`unix:///...`). */
  address: string;
}

/** Parses `unix:///p`, `ttrpc+unix:///p`, `grpc+unix:///p` or a bare abstract name. */
export function parseAddress(raw: string, defaultProtocol: Protocol = "ttrpc"): Endpoint {
  const address = raw.trim();
  if (address === "") throw invalidArgument("empty shim address");
  let protocol: Protocol = defaultProtocol;
  let rest = address;
  const plus = address.indexOf("+");
  const scheme = address.indexOf("://");
  if (plus > 0 && scheme > plus) {
    const p = address.slice(0, plus);
    if (p !== "ttrpc" && p !== "grpc")
      throw invalidArgument(
        `address ${JSON.stringify(raw)}: unknown protocol ${JSON.stringify(p)}`,
      );
    protocol = p;
    rest = address.slice(plus + 1);
  }
  if (rest.startsWith("unix://")) {
    const path = rest.slice("unix://".length);
    if (!path.startsWith("/"))
      throw invalidArgument(`address ${JSON.stringify(raw)}: unix path must be absolute`);
    return { protocol, socketPath: path, address: rest };
  }
  if (rest.includes("://")) {
    throw invalidArgument(`address ${JSON.stringify(raw)}: only unix sockets are supported`);
  }
  return { protocol, socketPath: `\0${rest}`, address: rest };
}

/**
 * containerd's socket naming: `<dir>/<hex sha256(join(grpcAddress, ns, id))>`,
 * short enough for the unix path limit whatever the ids are.
 */
export function socketPathFor(
  socketDir: string,
  grpcAddress: string,
  namespace: string,
  id: string,
): string {
  const digest = createHash("sha256")
    .update(join(grpcAddress, namespace, id))
    .digest("hex");
  return join(socketDir, digest);
}
