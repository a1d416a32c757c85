import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import type { AddressInfo } from "node:net";
import { StreamingServer } from "../server.js";
import { spdyConnect } from "../client/spdy.js";
import { portForwardProtocol } from "../protocol/remotecommand.js";
import { waitUntil } from "@sandboxd/testing";
import { ProcessRuntime } from "../testing/process-runtime.js";
import type { SpdyStream } from "./session.js";

function collect(stream: SpdyStream): Promise<string> {
  const chunks: Buffer[] = [];
  stream.on("data", (c: Buffer) => chunks.push(c));
  return new Promise((resolve) =>
    stream.once("end", () => resolve(Buffer.concat(chunks).toString())),
  );
}

describe("port-forward over SPDY/3.1", () => {
  const runtime = new ProcessRuntime();
  let server: StreamingServer;
  let target: net.Server;
  let port = 0;
  const open = new Set<net.Socket>();
  before(async () => {
    server = await StreamingServer.start({ runtime });
    // The "pod": a loopback echo server answering each chunk with a prefix.
    target = net.createServer((socket) => {
      open.add(socket);
      socket.on("close", () => open.delete(socket));
      socket.on("data", (c: Buffer) => socket.write(`echo:${c.toString()}`));
      socket.on("end", () => socket.end());
    });
    await new Promise<void>((resolve) => target.listen(0, "127.0.0.1", resolve));
    port = (target.address() as AddressInfo).port;
  });
  after(async () => {
    await server.close();
    await new Promise<void>((resolve) => target.close(() => resolve()));
  });

  test("two connections in one session, each a data + error stream pair", async () => {
    const { url } = server.getPortForward({ podSandboxId: "pod1" });
    const { session, protocol } = await spdyConnect(url, [portForwardProtocol]);
    assert.equal(protocol, portForwardProtocol);
    const conns = [];
    for (const requestid of ["0", "1"]) {
      const error = await session.openStream({
        streamtype: "error",
        port: String(port),
        requestid,
      });
      error.end();
      const data = await session.openStream({ streamtype: "data", port: String(port), requestid });
      conns.push({ error: collect(error), data, out: collect(data) });
    }
    await waitUntil(() => open.size === 2, { what: "two connections to the pod" });
    conns[0]!.data.end("one");
    conns[1]!.data.end("two");
    assert.equal(await conns[0]!.out, "echo:one");
    assert.equal(await conns[1]!.out, "echo:two");
    assert.equal(await conns[0]!.error, "");
    session.destroy();
    await waitUntil(() => server.activeSessions === 0, { what: "the session to be released" });
  });

  test("a port nobody listens on is reported on the error stream", async () => {
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const dead = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const { url } = server.getPortForward({ podSandboxId: "pod1" });
    const { session } = await spdyConnect(url, [portForwardProtocol]);
    const error = await session.openStream({
      streamtype: "error",
      port: String(dead),
      requestid: "0",
    });
    const message = collect(error);
    await session.openStream({ streamtype: "data", port: String(dead), requestid: "0" });
    assert.match(
      await message,
      new RegExp(`^error forwarding port ${dead} to pod pod1, uid : .*ECONNREFUSED`),
    );
    session.destroy();
  });

  test("a client that disconnects mid-stream closes the pod-side socket", async () => {
    const { url } = server.getPortForward({ podSandboxId: "pod1" });
    const { session } = await spdyConnect(url, [portForwardProtocol]);
    await session.openStream({ streamtype: "error", port: String(port), requestid: "7" });
    const data = await session.openStream({
      streamtype: "data",
      port: String(port),
      requestid: "7",
    });
    let got = "";
    data.on("data", (c: Buffer) => (got += c.toString()));
    data.write("ping");
    await waitUntil(() => got === "echo:ping", { what: "the echo" });
    await waitUntil(() => open.size === 1, { what: "one connection to the pod" });
    session.destroy();
    await waitUntil(() => open.size === 0 && runtime.forwards.size === 0, {
      what: "the pod-side socket to close",
    });
    await waitUntil(() => server.activeSessions === 0, { what: "the session to be released" });
  });

  test("a stream without a valid port is refused, the session lives on", async () => {
    const { url } = server.getPortForward({ podSandboxId: "pod1" });
    const { session } = await spdyConnect(url, [portForwardProtocol]);
    await assert.rejects(session.openStream({ streamtype: "data", port: "99999", requestid: "0" }));
    const error = await session.openStream({
      streamtype: "error",
      port: String(port),
      requestid: "1",
    });
    const data = await session.openStream({
      streamtype: "data",
      port: String(port),
      requestid: "1",
    });
    const out = collect(data);
    data.end("ok");
    assert.equal(await out, "echo:ok");
    error.end();
    session.destroy();
  });

  test("an error stream whose data stream never comes is answered after the creation timeout", async () => {
    const quick = await StreamingServer.start({ runtime, streamCreationTimeoutMs: 50 });
    try {
      const { url } = quick.getPortForward({ podSandboxId: "pod1" });
      const { session } = await spdyConnect(url, [portForwardProtocol]);
      const error = await session.openStream({
        streamtype: "error",
        port: String(port),
        requestid: "3",
      });
      assert.equal(
        await collect(error),
        "timed out waiting for both data and error streams for request 3",
      );
      session.destroy();
      await waitUntil(() => quick.activeSessions === 0, { what: "the session to be released" });
    } finally {
      await quick.close();
    }
  });
});
