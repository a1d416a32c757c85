// Frame-level protocol rules, checked with a raw connection that sends what a
// well-behaved client would not.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Code } from "./code.js";
import { decodeResponse, encodeRequest } from "./messages.js";
import { Flag, MAX_PAYLOAD_LENGTH, MessageType } from "./frame.js";
import { RawConnection, deferred, startServer } from "./test-helpers.js";

const text = (s: string): Uint8Array => Buffer.from(s);
const str = (b: Uint8Array): string => Buffer.from(b).toString();

test("a frame over 4 MiB is answered RESOURCE_EXHAUSTED on its stream; the connection stays", async (t) => {
  const { path } = await startServer(t, (s) => s.registerMethod("test.S", "E", (r) => r));
  const raw = await RawConnection.open(t, path);
  const header = Buffer.alloc(10);
  header.writeUInt32BE(MAX_PAYLOAD_LENGTH + 1, 0);
  header.writeUInt32BE(1, 4);
  header[8] = MessageType.Request;
  raw.write(header);
  raw.write(Buffer.alloc(MAX_PAYLOAD_LENGTH + 1));
  const frame = await raw.next();
  assert.equal(frame?.streamId, 1);
  assert.equal(frame?.type, MessageType.Response);
  assert.equal(decodeResponse(frame.payload).status?.code, Code.ResourceExhausted);
  raw.send(
    3,
    MessageType.Request,
    0,
    encodeRequest({
      service: "test.S",
      method: "E",
      payload: text("after"),
      timeoutNano: 0n,
      metadata: [],
    }),
  );
  const after = await raw.next();
  assert.equal(after?.streamId, 3);
  assert.equal(str(decodeResponse(after.payload).payload), "after");
});

test("stream-id rules: even, re-used, and unknown-stream Data are INVALID_ARGUMENT", async (t) => {
  const { path } = await startServer(t, (s) => s.registerMethod("test.S", "E", (r) => r));
  const raw = await RawConnection.open(t, path);
  const req = encodeRequest({
    service: "test.S",
    method: "E",
    payload: text("x"),
    timeoutNano: 0n,
    metadata: [],
  });
  const expectStatus = async (id: number, message: string): Promise<void> => {
    const f = await raw.next();
    assert.equal(f?.streamId, id);
    assert.equal(f.type, MessageType.Response);
    assert.deepEqual(
      {
        code: decodeResponse(f.payload).status?.code,
        message: decodeResponse(f.payload).status?.message,
      },
      { code: Code.InvalidArgument, message },
    );
  };
  raw.send(2, MessageType.Request, 0, req);
  await expectStatus(2, "StreamID must be odd for client initiated streams");
  raw.send(0, MessageType.Request, 0, req);
  await expectStatus(0, "StreamID must be odd for client initiated streams");
  raw.send(5, MessageType.Request, 0, req);
  assert.equal((await raw.next())?.streamId, 5);
  raw.send(5, MessageType.Request, 0, req);
  await expectStatus(5, "StreamID cannot be re-used and must increment");
  raw.send(3, MessageType.Request, 0, req);
  await expectStatus(3, "StreamID cannot be re-used and must increment");
  raw.send(7, MessageType.Data, 0, text("x"));
  await expectStatus(7, "StreamID is no longer active");
  raw.send(9, 0x7f, 0);
  await expectStatus(9, "message type 127 is not accepted by a server");
  raw.send(11, MessageType.Request, 0, text("\xff\xff garbage"));
  const f = await raw.next();
  assert.equal(decodeResponse(f!.payload).status?.code, Code.InvalidArgument);
  assert.match(decodeResponse(f!.payload).status?.message ?? "", /^unmarshal request error: /);
  raw.send(13, MessageType.Request, 0, req);
  assert.equal(
    str(decodeResponse((await raw.next())!.payload).payload),
    "x",
    "the connection still works",
  );
});

test("Data frames on a unary stream and a close carrying data are INVALID_ARGUMENT", async (t) => {
  const release = deferred();
  const { path } = await startServer(t, (s) =>
    s.registerMethod("test.S", "Block", async (r) => {
      await release.promise;
      return r;
    }),
  );
  const raw = await RawConnection.open(t, path);
  raw.send(
    1,
    MessageType.Request,
    0,
    encodeRequest({
      service: "test.S",
      method: "Block",
      payload: new Uint8Array(0),
      timeoutNano: 0n,
      metadata: [],
    }),
  );
  raw.send(1, MessageType.Data, Flag.RemoteClosed, text("x"));
  const f = await raw.next();
  assert.equal(f?.streamId, 1);
  assert.deepEqual(decodeResponse(f.payload).status, {
    code: Code.InvalidArgument,
    message: "data handling error: ttrpc: stream closed",
    details: [],
  });
  release.resolve();
});
