// The client's HTTP/2 against node:http2's server (nghttp2), which can do
// what grpc-js will not on request: GOAWAY, RST_STREAM, odd statuses, and big
// bodies both ways that only go through with flow control.
import { mock, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import * as http2 from "node:http2";
import { Socket, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, createFileRegistry } from "@bufbuild/protobuf";
import type { DescService } from "@bufbuild/protobuf";
import type { GenService } from "@bufbuild/protobuf/codegenv2";
import {
  FileDescriptorProtoSchema,
  FieldDescriptorProto_Label,
  FieldDescriptorProto_Type,
} from "@bufbuild/protobuf/wkt";
import {
  isCanceled,
  isDeadlineExceeded,
  isNotFound,
  isNotImplemented,
  isUnavailable,
} from "@sandboxd/errdefs";
import { Channel } from "../client.js";
import { frame } from "../wire.js";
import { Flag, FrameType, encodeFrame } from "./frames.js";

const file = create(FileDescriptorProtoSchema, {
  name: "blob.proto",
  package: "test.blob.v1",
  syntax: "proto3",
  messageType: [
    {
      name: "Blob",
      field: [
        {
          name: "data",
          number: 1,
          type: FieldDescriptorProto_Type.BYTES,
          label: FieldDescriptorProto_Label.OPTIONAL,
          jsonName: "data",
        },
      ],
    },
  ],
  service: [
    {
      name: "Blobs",
      method: [
        { name: "Echo", inputType: ".test.blob.v1.Blob", outputType: ".test.blob.v1.Blob" },
        {
          name: "Stream",
          inputType: ".test.blob.v1.Blob",
          outputType: ".test.blob.v1.Blob",
          serverStreaming: true,
        },
      ],
    },
  ],
});
const Blobs = createFileRegistry(file, () => undefined).getService(
  "test.blob.v1.Blobs",
) as DescService as GenService<never>;
type Loose = Record<
  string,
  (
    req: unknown,
    opts?: unknown,
  ) => Promise<{ data: Uint8Array }> & AsyncIterable<{ data: Uint8Array }>
>;

/** A protobuf Blob: field 1, bytes. */
function blob(data: Uint8Array): Buffer {
  const header: number[] = [0x0a];
  let n = data.length;
  while (n >= 128) {
    header.push((n & 127) | 128);
    n >>>= 7;
  }
  header.push(n);
  return frame(Buffer.concat([Buffer.from(header), data]));
}

type Handler = (stream: http2.ServerHttp2Stream, body: Buffer) => void;

async function withServer(
  handler: Handler,
  fn: (channel: Channel, sessions: () => number) => Promise<void>,
): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "h2-test-"));
  const socket = join(dir, "s.sock");
  let sessions = 0;
  const server = http2.createServer();
  server.on("session", () => sessions++);
  server.on("stream", (stream) => {
    const parts: Buffer[] = [];
    stream.on("data", (c: Buffer) => parts.push(c));
    stream.on("end", () => handler(stream, Buffer.concat(parts)));
    stream.on("error", () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  const channel = new Channel(socket);
  try {
    await fn(channel, () => sessions);
  } finally {
    channel.close();
    await new Promise((resolve) => server.close(resolve));
    await rm(dir, { recursive: true, force: true });
  }
}

function reply(
  stream: http2.ServerHttp2Stream,
  messages: Buffer[],
  status = "0",
  message?: string,
): void {
  stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
  stream.on("wantTrailers", () =>
    stream.sendTrailers({ "grpc-status": status, ...(message ? { "grpc-message": message } : {}) }),
  );
  for (const m of messages) stream.write(m);
  stream.end();
}

test("bodies larger than every window go through both ways", async () => {
  const big = Buffer.alloc(3 << 20, 7); // over the server's 64 KiB window, under the 4 MiB limit
  await withServer(
    (stream, body) => {
      // The request came through whole: its 3 MiB only pass with the server's WINDOW_UPDATEs.
      const got = body.subarray(5);
      assert.equal(got.length > big.length, true);
      // 12 MiB back, over this client's 4 MiB stream window.
      reply(stream, [blob(big), blob(big), blob(big), blob(big)]);
    },
    async (channel) => {
      const client = channel.client(Blobs) as unknown as Loose;
      let total = 0;
      for await (const m of client.stream!({ data: big })) {
        assert.equal(m.data.length, big.length);
        total += m.data.length;
      }
      assert.equal(total, 4 * big.length);
    },
  );
});

test("statuses map to errdefs errors: grpc-status, grpc-message, HTTP status", async () => {
  await withServer(
    (stream, body) => {
      const text = body.subarray(7).toString();
      if (text === "missing") reply(stream, [], "5", "thing%20%22x%22: not found");
      else stream.respond({ ":status": 404 }, { endStream: true });
    },
    async (channel) => {
      const client = channel.client(Blobs) as unknown as Loose;
      await assert.rejects(client.echo!({ data: Buffer.from("missing") }), (err: unknown) => {
        assert.ok(isNotFound(err));
        assert.match(String(err), /thing "x": not found/);
        return true;
      });
      await assert.rejects(client.echo!({ data: Buffer.from("other") }), (err: unknown) =>
        isNotImplemented(err),
      );
    },
  );
});

test("a stream the server resets fails as Unavailable; the connection serves the next call", async () => {
  let calls = 0;
  await withServer(
    (stream) => {
      if (calls++ === 0) stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
      else reply(stream, [blob(Buffer.from("ok"))]);
    },
    async (channel, sessions) => {
      const client = channel.client(Blobs) as unknown as Loose;
      await assert.rejects(client.echo!({}), (err: unknown) => {
        assert.ok(isUnavailable(err));
        assert.match(String(err), /reset the stream \(HTTP\/2 error code 2\)/);
        return true;
      });
      assert.equal(Buffer.from((await client.echo!({})).data).toString(), "ok");
      assert.equal(sessions(), 1);
    },
  );
});

test("after GOAWAY the call in flight finishes and the next call opens a new connection", async () => {
  let calls = 0;
  await withServer(
    (stream) => {
      // nghttp2 keeps the streams it has seen: this one is answered, later ones go elsewhere.
      if (calls++ === 0) stream.session!.goaway(http2.constants.NGHTTP2_NO_ERROR);
      reply(stream, [blob(Buffer.from(`call ${calls}`))]);
    },
    async (channel, sessions) => {
      const client = channel.client(Blobs) as unknown as Loose;
      assert.equal(Buffer.from((await client.echo!({})).data).toString(), "call 1");
      assert.equal(Buffer.from((await client.echo!({})).data).toString(), "call 2");
      assert.equal(sessions(), 2);
    },
  );
});

test("a call past GOAWAY's last stream fails as Unavailable", async () => {
  const dir = await mkdtemp(join(tmpdir(), "h2-test-"));
  const socket = join(dir, "s.sock");
  // A raw peer: its SETTINGS, then GOAWAY with last stream 0 (nothing processed).
  const server = createServer((s) => {
    s.on("error", () => undefined);
    s.resume();
    s.write(
      Buffer.concat([
        encodeFrame(FrameType.Settings, 0, 0),
        encodeFrame(FrameType.Goaway, 0, 0, Buffer.alloc(8)),
      ]),
    );
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  const channel = new Channel(socket);
  try {
    const client = channel.client(Blobs) as unknown as Loose;
    await assert.rejects(client.echo!({}), (err: unknown) => {
      assert.ok(isUnavailable(err));
      assert.match(String(err), /GOAWAY, HTTP\/2 error code 0\) before the call started/);
      return true;
    });
  } finally {
    channel.close();
    await new Promise((resolve) => server.close(resolve));
    await rm(dir, { recursive: true, force: true });
  }
});

test("a unary request's headers and body leave in one write (the server is woken once)", async () => {
  await withServer(
    (stream, body) => reply(stream, [body]),
    async (channel) => {
      const client = channel.client(Blobs) as unknown as Loose;
      await client.echo!({ data: Buffer.from("first") }); // the connection's set-up is done
      // Every write to the socket, passed through.
      const spy = mock.method(Socket.prototype, "write");
      try {
        const reply = await client.echo!({ data: Buffer.from("second") });
        assert.equal(Buffer.from(reply.data).toString(), "second");
      } finally {
        spy.mock.restore();
      }
      const writes = spy.mock.calls.map((c) => c.arguments[0]).filter((c) => Buffer.isBuffer(c));
      const first = writes[0];
      assert.ok(first, "the request was written");
      const frames: { type: number; flags: number }[] = [];
      for (let at = 0; at + 9 <= first.length; at += 9 + first.readUIntBE(at, 3)) {
        frames.push({ type: first[at + 3]!, flags: first[at + 4]! });
      }
      assert.deepEqual(frames, [
        { type: FrameType.Headers, flags: Flag.EndHeaders },
        { type: FrameType.Data, flags: Flag.EndStream },
      ]);
    },
  );
});

test("a deadline and an abort end the call here and reset the stream there", async () => {
  const resets: number[] = [];
  await withServer(
    (stream) => {
      stream.respond({ ":status": 200, "content-type": "application/grpc" });
      stream.on("close", () => resets.push(stream.rstCode));
    },
    async (channel) => {
      const client = channel.client(Blobs) as unknown as Loose;
      await assert.rejects(client.echo!({}, { timeoutMs: 200 }), (err: unknown) =>
        isDeadlineExceeded(err),
      );
      const abort = new AbortController();
      const call = client.echo!({}, { signal: abort.signal });
      setImmediate(() => abort.abort());
      await assert.rejects(call, (err: unknown) => isCanceled(err));
      const deadline = Date.now() + 10_000;
      while (resets.length < 2 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(resets, [http2.constants.NGHTTP2_CANCEL, http2.constants.NGHTTP2_CANCEL]);
    },
  );
});

test("a server that sends garbage ends the connection as Unavailable", async () => {
  const dir = await mkdtemp(join(tmpdir(), "h2-test-"));
  const socket = join(dir, "s.sock");
  const server = createServer((s) => {
    s.on("error", () => undefined);
    s.resume(); // reads to the end, so the connection closes when the client closes it
    s.end(Buffer.from("HTTP/1.1 400 Bad Request\r\n\r\n"));
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  const channel = new Channel(socket);
  try {
    const client = channel.client(Blobs) as unknown as Loose;
    await assert.rejects(client.echo!({}), (err: unknown) => isUnavailable(err));
  } finally {
    channel.close();
    await new Promise((resolve) => server.close(resolve));
    await rm(dir, { recursive: true, force: true });
  }
});
