/**
 * The shim's log FIFO (`<bundle>/log`): created before `start` and opened
 * read-write and non-blocking, as containerd does, so the shim's open for
 * writing never blocks and the reader never sees EOF while the shim lives.
 * Each line becomes a daemon log entry with the task's fields.
 *
 * Node has no mkfifo(3), so the FIFO is made with coreutils' `mkfifo`.
 */
import { execFile } from "node:child_process";
import { constants, open } from "node:fs";
import net from "node:net";
import { promisify } from "node:util";
import type { Logger } from "@sandboxd/core";

const execFileAsync = promisify(execFile);
const openFd = promisify(open);

export interface ShimLog {
  close(): void;
}

export async function makeFifo(path: string): Promise<void> {
  await execFileAsync("mkfifo", ["-m", "0700", path]);
}

/** Opens an existing FIFO and copies its lines to `log` until closed. */
export async function openShimLog(path: string, log: Logger): Promise<ShimLog> {
  // A raw fd (not a FileHandle): the socket owns it and closes it.
  const fd = await openFd(path, constants.O_RDWR | constants.O_NONBLOCK);
  const socket = new net.Socket({ fd, readable: true, writable: false });
  let rest = "";
  socket.setEncoding("utf8");
  socket.on("data", (chunk: string) => {
    const lines = (rest + chunk).split("\n");
    rest = lines.pop() ?? "";
    for (const line of lines) if (line.trim() !== "") log.info({ shim_log: true }, line);
  });
  socket.on("error", () => undefined);
  return {
    close() {
      if (rest.trim() !== "") log.info({ shim_log: true }, rest);
      rest = "";
      socket.destroy();
    },
  };
}
