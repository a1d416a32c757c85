import { test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import type { AddressInfo } from "node:net";
import { CloseCode, Opcode, WsConnection, acceptKey, encodeFrame } from "./conn.js";

/** A connected TCP pair: a server-side WsConnection and the raw client socket. */
async function pair(): Promise<{
  server: WsConnection;
  client: net.Socket;
  done: () => Promise<void>;
}> {
  const listener = net.createServer();
  await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
  const accepted = new Promise<net.Socket>((resolve) => listener.once("connection", resolve));
  const client = net.connect((listener.address() as AddressInfo).port, "127.0.0.1");
  const server = new WsConnection(await accepted, { server: true });
  return {
    server,
    client,
    done: async () => {
      client.destroy();
      server.destroy();
      await new Promise<void>((resolve) => listener.close(() => resolve()));
    },
  };
}

function nextBytes(socket: net.Socket, n: number): Promise<Buffer> {
  let got = Buffer.alloc(0);
  return new Promise((resolve) => {
    const on = (c: Buffer): void => {
      got = Buffer.concat([got, c]);
      if (got.length >= n) {
        socket.off("data", on);
        resolve(got);
      }
    };
    socket.on("data", on);
  });
}

test("the accept key is RFC 6455's example", () => {
  assert.equal(acceptKey("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
});

test("masked fragments of every length encoding reassemble; pings are answered", async () => {
  const { server, client, done } = await pair();
  try {
    const messages: Buffer[] = [];
    server.on("message", (m) => messages.push(m));
    const big = Buffer.alloc(70_000, 7);
    const mid = Buffer.alloc(300, 3);
    client.write(encodeFrame(Opcode.Binary, Buffer.from("ab"), true, false));
    client.write(encodeFrame(Opcode.Ping, Buffer.from("p"), true));
    client.write(encodeFrame(Opcode.Continuation, mid, true, false));
    client.write(encodeFrame(Opcode.Continuation, big, true, true));
    const pong = await nextBytes(client, 3);
    assert.deepEqual([...pong.subarray(0, 3)], [0x80 | Opcode.Pong, 1, "p".charCodeAt(0)]);
    await new Promise<void>((resolve) => {
      const check = (): void => (messages.length > 0 ? resolve() : void setImmediate(check));
      check();
    });
    assert.deepEqual(messages[0], Buffer.concat([Buffer.from("ab"), mid, big]));
  } finally {
    await done();
  }
});

test("an unmasked client frame is a protocol error (close 1002)", async () => {
  const { server, client, done } = await pair();
  try {
    const closed = new Promise<number>((resolve) => server.once("close", resolve));
    const reply = nextBytes(client, 4);
    client.write(encodeFrame(Opcode.Binary, Buffer.from("x"), false));
    assert.equal(await closed, CloseCode.ProtocolError);
    const frame = await reply;
    assert.equal(frame[0], 0x80 | Opcode.Close);
    assert.equal(frame.readUInt16BE(2), CloseCode.ProtocolError);
  } finally {
    await done();
  }
});
