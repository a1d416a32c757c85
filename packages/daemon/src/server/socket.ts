/**
 * Socket files at start-up: a socket a live daemon answers on is an error
 * (two daemons on one address), a socket file nobody answers on is stale
 * (its daemon died) and is removed, anything else at the path is an error.
 */
import { lstat, mkdir, unlink } from "node:fs/promises";
import net from "node:net";
import { dirname } from "node:path";
import { failedPrecondition } from "@sandboxd/errdefs";

export async function prepareSocket(path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o711 });
  let isSocket: boolean;
  try {
    isSocket = (await lstat(path)).isSocket();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    throw err;
  }
  if (!isSocket) throw failedPrecondition(`${path} exists and is not a socket`);
  if (await answers(path)) {
    throw failedPrecondition(
      `address ${path} is in use: another daemon (sandboxd or containerd) is serving there`,
    );
  }
  await unlink(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== "ENOENT") throw err;
  });
}

function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(path);
    const done = (alive: boolean): void => {
      socket.destroy();
      resolve(alive);
    };
    socket.setTimeout(2000, () => done(true));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}
