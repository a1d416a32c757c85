import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import type { AddressInfo } from "node:net";
import { StreamingServer } from "../server.js";
import { wsConnect } from "../client/ws.js";
import { waitUntil } from "@sandboxd/testing";
import { ProcessRuntime, execOf, waitKilledAndReleased } from "../testing/process-runtime.js";
import type { WsConnection } from "./conn.js";
import { WsByteStream } from "./tunnel.js";
import { SpdySession } from "../spdy/session.js";

interface Received {
  channels: Map<number, Buffer[]>;
  closed: Promise<number>;
}

/** Connects, recording every message by channel from the first one on. */
async function connect(
  url: string,
  protocols: string[],
  base64 = false,
): Promise<{ ws: WsConnection; protocol: string; r: Received }> {
  const channels = new Map<number, Buffer[]>();
  const { ws, protocol } = await wsConnect(url, protocols, (m) => {
    const ch = base64 ? m[0]! - 0x30 : m[0]!;
    const data = base64 ? Buffer.from(m.subarray(1).toString(), "base64") : m.subarray(1);
    channels.set(ch, [...(channels.get(ch) ?? []), data]);
  });
  const closed = new Promise<number>((resolve) => ws.once("close", resolve));
  return { ws, protocol, r: { channels, closed } };
}

const text = (r: Received, ch: number): string =>
  Buffer.concat(r.channels.get(ch) ?? []).toString();

describe("exec and port-forward over WebSocket", () => {
  const runtime = new ProcessRuntime();
  let server: StreamingServer;
  before(async () => {
    server = await StreamingServer.start({ runtime });
  });
  after(async () => {
    await server.close();
  });

  test("v5: stdin closed by the close signal, output and exit code per channel", async () => {
    const { url } = server.getExec(
      execOf(["sh", "-c", "cat; echo err >&2; exit 4"], { stdin: true, stderr: true }),
    );
    const { ws, protocol, r } = await connect(url, ["v5.channel.k8s.io", "v4.channel.k8s.io"]);
    assert.equal(protocol, "v5.channel.k8s.io");
    await waitUntil(() => r.channels.has(1), { what: "the connected message on stdout" });
    ws.send(Buffer.concat([Buffer.of(0), Buffer.from("from stdin\n")]));
    ws.send(Buffer.of(255, 0));
    await r.closed;
    assert.equal(text(r, 1), "from stdin\n");
    assert.equal(text(r, 2), "err\n");
    const status = JSON.parse(text(r, 3)) as {
      reason: string;
      details: { causes: { message: string }[] };
    };
    assert.equal(status.reason, "NonZeroExitCode");
    assert.equal(status.details.causes[0]!.message, "4");
  });

  test("v4 base64 framing; with a tty stderr folds into stdout", async () => {
    const { url } = server.getExec(execOf(["sh", "-c", "echo hi; echo e >&2"], { tty: true }));
    const { protocol, r } = await connect(url, ["v4.base64.channel.k8s.io"], true);
    assert.equal(protocol, "v4.base64.channel.k8s.io");
    assert.deepEqual(r.channels.get(1)?.[0], Buffer.alloc(0));
    await r.closed;
    assert.equal(text(r, 1), "hi\ne\n");
    assert.deepEqual(JSON.parse(text(r, 3)), { metadata: {}, status: "Success" });
  });

  test("resize messages reach the runtime; disconnect kills the process", async () => {
    const { url } = server.getExec(
      execOf(["sh", "-c", "echo ready; exec sleep 1000"], { tty: true, stdin: true }),
    );
    const { ws, r } = await connect(url, ["v4.channel.k8s.io"]);
    await waitUntil(() => text(r, 1) === "ready\n", { what: "the process to start" });
    const seen = runtime.resizes.length;
    ws.send(Buffer.concat([Buffer.of(4), Buffer.from('{"Width":120,"Height":30}')]));
    await waitUntil(() => runtime.resizes.length === seen + 1, { what: "the resize" });
    assert.deepEqual(runtime.resizes.at(-1), { width: 120, height: 30 });
    const child = runtime.children.at(-1)!;
    ws.destroy();
    await waitKilledAndReleased(child, server);
  });

  test("an unsupported sub-protocol is refused; a used token is 404", async () => {
    const { url } = server.getExec(execOf(["true"]));
    await assert.rejects(
      wsConnect(url, ["v9.channel.k8s.io"]),
      (e: { statusCode?: number }) => e.statusCode === 400,
    );
    await assert.rejects(
      wsConnect(url, ["v5.channel.k8s.io"]),
      (e: { statusCode?: number }) => e.statusCode === 404,
    );
  });

  test("port-forward: port header on both channels, data both ways, closed on disconnect", async () => {
    const open = new Set<net.Socket>();
    const target = net.createServer((s) => {
      open.add(s);
      s.on("close", () => open.delete(s));
      s.on("data", (c: Buffer) => s.write(`echo:${c.toString()}`));
    });
    await new Promise<void>((resolve) => target.listen(0, "127.0.0.1", resolve));
    const port = (target.address() as AddressInfo).port;
    try {
      const { url } = server.getPortForward({ podSandboxId: "p" });
      const { ws, r } = await connect(`${url}?port=${port}`, ["v4.channel.k8s.io"]);
      await waitUntil(() => r.channels.has(0) && r.channels.has(1), { what: "the port headers" });
      assert.equal(r.channels.get(0)![0]!.readUInt16LE(0), port);
      assert.equal(r.channels.get(1)![0]!.readUInt16LE(0), port);
      ws.send(Buffer.concat([Buffer.of(0), Buffer.from("ping")]));
      await waitUntil(() => text(r, 0).endsWith("echo:ping"), { what: "the echo" });
      await waitUntil(() => open.size === 1, { what: "one connection to the pod" });
      ws.destroy();
      await waitUntil(() => open.size === 0, { what: "the pod-side socket to close" });
      await waitUntil(() => server.activeSessions === 0, { what: "the session to be released" });
    } finally {
      await new Promise<void>((resolve) => target.close(() => resolve()));
    }
  });

  test("port-forward: SPDY tunnelled in WebSocket (SPDY/3.1+portforward.k8s.io)", async () => {
    const target = net.createServer((s) =>
      s.on("data", (c: Buffer) => s.end(`echo:${c.toString()}`)),
    );
    await new Promise<void>((resolve) => target.listen(0, "127.0.0.1", resolve));
    const port = String((target.address() as AddressInfo).port);
    try {
      const { url } = server.getPortForward({ podSandboxId: "p" });
      const { ws, protocol } = await wsConnect(url, ["SPDY/3.1+portforward.k8s.io"]);
      assert.equal(protocol, "SPDY/3.1+portforward.k8s.io");
      const session = new SpdySession(new WsByteStream(ws), { server: false });
      const error = await session.openStream({ streamtype: "error", port, requestid: "0" });
      error.end();
      const data = await session.openStream({ streamtype: "data", port, requestid: "0" });
      const chunks: Buffer[] = [];
      data.on("data", (c: Buffer) => chunks.push(c));
      const ended = new Promise((resolve) => data.once("end", resolve));
      data.write("tunnel");
      await ended;
      assert.equal(Buffer.concat(chunks).toString(), "echo:tunnel");
      session.destroy();
      await waitUntil(() => server.activeSessions === 0, { what: "the session to be released" });
    } finally {
      await new Promise<void>((resolve) => target.close(() => resolve()));
    }
  });
});
