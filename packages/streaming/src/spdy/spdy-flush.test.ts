import { test } from "node:test";
import assert from "node:assert/strict";
import type { Duplex } from "node:stream";
import { StreamingServer } from "../server.js";
import { spdyConnect } from "../client/spdy.js";
import { Protocol } from "../protocol/remotecommand.js";
import type { Runtime, StreamIO } from "../runtime.js";
import { execOf } from "../testing/process-runtime.js";

/** A runtime that dumps 16 MiB on stdout at once, ignoring backpressure, and exits 0. */
class FloodRuntime implements Runtime {
  exec(_id: string, _cmd: readonly string[], io: StreamIO): Promise<number> {
    io.stdout!.write(Buffer.alloc(8 << 20, 0x61));
    io.stdout!.write(Buffer.alloc(8 << 20, 0x62));
    return Promise.resolve(0);
  }
  attach(): Promise<void> {
    return Promise.reject(new Error("unused"));
  }
  portForward(_p: string, _port: number, _s: Duplex): Promise<void> {
    return Promise.reject(new Error("unused"));
  }
}

test("output still queued when the command ends reaches the client, then the status", async () => {
  const server = await StreamingServer.start({ runtime: new FloodRuntime() });
  try {
    const { url } = server.getExec(execOf(["x"]));
    const { session } = await spdyConnect(url, [Protocol.V4]);
    const error = await session.openStream({ streamtype: "error" });
    const stdout = await session.openStream({ streamtype: "stdout" });
    let bytes = 0;
    let last = 0;
    stdout.on("data", (c: Buffer) => {
      bytes += c.length;
      last = c[c.length - 1]!;
    });
    let status = "";
    error.on("data", (c: Buffer) => (status += c.toString()));
    await Promise.all([
      new Promise((resolve) => stdout.once("end", resolve)),
      new Promise((resolve) => error.once("end", resolve)),
    ]);
    assert.equal(bytes, 16 << 20);
    assert.equal(last, 0x62);
    assert.deepEqual(JSON.parse(status), { metadata: {}, status: "Success" });
  } finally {
    await server.close();
  }
});
