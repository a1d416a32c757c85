import { test } from "node:test";
import assert from "node:assert/strict";
import { StreamingServer } from "./server.js";
import { spdyConnect } from "./client/spdy.js";
import { wsConnect } from "./client/ws.js";
import { Protocol, portForwardProtocol } from "./protocol/remotecommand.js";
import { waitUntil } from "@sandboxd/testing";
import { ProcessRuntime, execOf } from "./testing/process-runtime.js";

const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;

test("clients that leave half-way leave no timers, sockets or sessions behind", async () => {
  const hour = 60 * 60 * 1000;
  const server = await StreamingServer.start({
    runtime: new ProcessRuntime(),
    streamCreationTimeoutMs: hour,
  });
  try {
    const baseline = timers();
    // exec: only the error stream created, then gone (the creation timer is pending).
    const exec = server.getExec(execOf(["true"]));
    const a = await spdyConnect(exec.url, [Protocol.V4]);
    await a.session.openStream({ streamtype: "error" });
    // port-forward: an error stream without its data stream (the pair timer is pending).
    const pf = server.getPortForward({ podSandboxId: "p" });
    const b = await spdyConnect(pf.url, [portForwardProtocol]);
    await b.session.openStream({ streamtype: "error", port: "80", requestid: "0" });
    // WebSocket exec of a long process.
    const ws = server.getExec(execOf(["sleep", "1000"], { stdin: true }));
    let hello = false;
    const c = await wsConnect(ws.url, [Protocol.V5], () => (hello = true));
    await waitUntil(() => hello && server.activeSessions === 3, { what: "three live sessions" });
    assert.ok(timers() > baseline, "the creation timers are pending");
    a.session.destroy();
    b.session.destroy();
    c.ws.destroy();
    await waitUntil(() => server.activeSessions === 0, { what: "every session to be released" });
    await waitUntil(() => timers() === baseline, { what: "every timer to be cleared" });
  } finally {
    await server.close();
  }
});

test("a plain request without upgrade is a 400", async () => {
  const server = await StreamingServer.start({ runtime: new ProcessRuntime() });
  try {
    const { url } = server.getExec(execOf(["true"]));
    const res = await fetch(url, { method: "POST" });
    assert.equal(res.status, 400);
    assert.match(await res.text(), /missing upgrade headers/);
  } finally {
    await server.close();
  }
});

test("a configured address is honoured and a bad one is InvalidArgument", async () => {
  const server = await StreamingServer.start({ runtime: new ProcessRuntime(), address: "[::1]:0" });
  try {
    assert.match(server.url, /^http:\/\/\[::1\]:\d+$/);
  } finally {
    await server.close();
  }
  const v6 = await StreamingServer.start({ runtime: new ProcessRuntime(), address: "::1:0" });
  assert.match(v6.url, /^http:\/\/\[::1\]:\d+$/);
  await v6.close();
  await assert.rejects(
    StreamingServer.start({ runtime: new ProcessRuntime(), address: "localhost" }),
    /is not host:port/,
  );
});
