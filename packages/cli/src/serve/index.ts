// sandboxd's CLI server: sbx-client (packages/cli/native/client.c) connects to
// `<sandboxd's address>.cli` and the command runs here, in a Node that is
// already up, instead of in a Node started for it. What the client forwards
// and what comes back is in frames.ts; which calls are served, in policy.ts.
import { chmod, chown, unlink } from "node:fs/promises";
import { createServer } from "node:net";
import type { Server, Socket } from "node:net";
import type { Client } from "@sandboxd/client";
import type { SharedConnection } from "../context.js";
import { serveCall } from "./call.js";

export interface CliServerOptions {
  /** sandboxd's gRPC socket; the CLI socket is this path plus `.cli`. */
  address: string;
  /** The socket's mode and owner: those of the gRPC socket (anyone who may use one may use the other). */
  mode: number;
  uid?: number;
  gid?: number;
  onError?: (err: unknown) => void;
  /** How this process makes FIFOs for the commands' IO (sandboxd: libc's mkfifo). */
  makeFifos?: (paths: readonly string[]) => Promise<void>;
}

export interface CliServer {
  readonly path: string;
  /** Stops accepting calls, ends those in flight and removes the socket. */
  close(): Promise<void>;
}

/** The CLI socket of the sandboxd at `address`. */
export function cliSocketPath(address: string): string {
  return `${address}.cli`;
}

export async function serveCli(options: CliServerOptions): Promise<CliServer> {
  const path = cliSocketPath(options.address);
  const sockets = new Set<Socket>();
  // One connection to this sandboxd for every call (each takes a view in its namespace),
  // instead of a connection, and an HTTP/2 session in sandboxd, per call.
  let connection: Promise<Client> | undefined;
  // Only calls aimed at this sandboxd are served (policy.ts), whatever path they named it by.
  const shared: SharedConnection = async (_address, namespace) => {
    connection ??= import("@sandboxd/client").then(({ Client }) =>
      Client.connect({ address: options.address }),
    );
    return (await connection).withNamespace(namespace);
  };
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    serveCall(socket, {
      address: options.address,
      onError: options.onError,
      makeFifos: options.makeFifos,
      shared,
    });
  });
  // A socket left by a daemon that was killed.
  await unlink(path).catch(() => undefined);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(path, () => {
      server.off("error", reject);
      resolve();
    });
  });
  await chmod(path, options.mode);
  if (options.uid || options.gid) await chown(path, options.uid ?? 0, options.gid ?? 0);
  return {
    path,
    async close(): Promise<void> {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
      void connection?.then((c) => c.close());
      await unlink(path).catch(() => undefined);
    },
  };
}
