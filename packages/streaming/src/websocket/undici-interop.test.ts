import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { StreamingServer } from "../server.js";
import { waitUntil } from "@sandboxd/testing";
import { ProcessRuntime, execOf } from "../testing/process-runtime.js";

// Node's own WebSocket (undici): an RFC 6455 client this package did not write.
let server: StreamingServer;
before(async () => {
  server = await StreamingServer.start({ runtime: new ProcessRuntime() });
});
after(async () => {
  await server.close();
});

test("exec over v5.channel.k8s.io with Node's built-in WebSocket client", async () => {
  const { url } = server.getExec(
    execOf(["sh", "-c", "wc -c; exit 2"], { stdin: true, stderr: true }),
  );
  const ws = new WebSocket(url.replace(/^http/, "ws"), ["v5.channel.k8s.io"]);
  ws.binaryType = "arraybuffer";
  const channels = new Map<number, string>();
  let first: number[] | null = null;
  const closed = new Promise<number>((resolve) =>
    ws.addEventListener("close", (e) => resolve(e.code)),
  );
  ws.addEventListener("message", (e) => {
    const bytes = Buffer.from(e.data as ArrayBuffer);
    first ??= [...bytes];
    channels.set(bytes[0]!, (channels.get(bytes[0]!) ?? "") + bytes.subarray(1).toString());
  });
  await new Promise((resolve, reject) => {
    ws.addEventListener("open", resolve);
    ws.addEventListener("error", reject);
  });
  assert.equal(ws.protocol, "v5.channel.k8s.io");
  const payload = Buffer.alloc(100_000, 0x61);
  ws.send(Buffer.concat([Buffer.of(0), payload]));
  ws.send(Buffer.of(255, 0));
  assert.equal(await closed, 1000);
  assert.deepEqual(first, [1]);
  assert.equal(channels.get(1)!.trim(), "100000");
  const status = JSON.parse(channels.get(3)!) as {
    reason: string;
    details: { causes: { message: string }[] };
  };
  assert.equal(status.reason, "NonZeroExitCode");
  assert.equal(status.details.causes[0]!.message, "2");
  await waitUntil(() => server.activeSessions === 0, { what: "the session to be released" });
});
