import assert from "node:assert/strict";
import { test } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { StringValueSchema } from "@bufbuild/protobuf/wkt";
import { Code } from "./code.js";
import { TtrpcError, isTtrpcError } from "./errors.js";
import { Flag, MessageType } from "./frame.js";
import { decodeResponse, encodeRequest } from "./messages.js";
import { createClient } from "./typed-client.js";
import { EchoService, RawConnection, deferred, startClient, startServer } from "./test-helpers.js";

const text = (s: string): Uint8Array => Buffer.from(s);
const str = (b: Uint8Array): string => Buffer.from(b).toString();

function* from<T>(items: T[]): Generator<T> {
  for (const item of items) yield item;
}

async function collect<T>(source: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of source) out.push(item);
  return out;
}

function echoServer(): Parameters<typeof startServer>[1] {
  return (s) =>
    s.register(EchoService, {
      echo: (req) => ({ value: req.value }),
      *count(req) {
        for (let i = 0; i < Number(req.value); i++) yield { value: `${i}` };
      },
      async join(requests) {
        const parts: string[] = [];
        for await (const r of requests) parts.push(r.value);
        return { value: parts.join(",") };
      },
      async *chat(requests) {
        for await (const r of requests) yield { value: `re:${r.value}` };
      },
    });
}

test("server streaming: one request, many responses", async (t) => {
  const { path } = await startServer(t, echoServer());
  const echo = createClient(await startClient(t, path), EchoService);
  const got = await collect(echo.count({ value: "5" }));
  assert.deepEqual(
    got.map((m) => m.value),
    ["0", "1", "2", "3", "4"],
  );
  assert.deepEqual(await collect(echo.count({ value: "0" })), []);
});

test("client streaming: many requests, one response", async (t) => {
  const { path } = await startServer(t, echoServer());
  const echo = createClient(await startClient(t, path), EchoService);
  assert.equal(
    (await echo.join(from([{ value: "a" }, { value: "b" }, { value: "c" }]))).value,
    "a,b,c",
  );
  assert.equal((await echo.join(from([]))).value, "");
});

test("bidi streaming, including empty messages (zero-length Data frames)", async (t) => {
  const { path } = await startServer(t, echoServer());
  const echo = createClient(await startClient(t, path), EchoService);
  const got = await collect(echo.chat(from([{ value: "x" }, { value: "" }, { value: "y" }])));
  assert.deepEqual(
    got.map((m) => m.value),
    ["re:x", "re:", "re:y"],
  );
});

test("bidi streaming, interleaved: each answer arrives before the next request is sent", async (t) => {
  const { path } = await startServer(t, echoServer());
  const client = await startClient(t, path);
  const stream = client.bidiStream("ttrpc.test.Echo", "Chat");
  for (const word of ["one", "two", "three"]) {
    await stream.send(toBinary(StringValueSchema, create(StringValueSchema, { value: word })));
    const next = await stream.next();
    assert.equal(next.done, false);
    assert.equal(str(next.value).slice(2), `re:${word}`);
  }
  await stream.closeSend();
  assert.equal((await stream.next()).done, true);
});

test("the wire shape of each kind matches Go's ttrpc", async (t) => {
  const { path } = await startServer(t, echoServer());
  const raw = await RawConnection.open(t, path);
  const request = (method: string, payload: Uint8Array = new Uint8Array(0)): Uint8Array =>
    encodeRequest({ service: "ttrpc.test.Echo", method, payload, timeoutNano: 0n, metadata: [] });
  const sv = (v: string): Uint8Array =>
    toBinary(StringValueSchema, create(StringValueSchema, { value: v }));

  // server streaming: Request RC; Data…; Data RC|NoData
  raw.send(1, MessageType.Request, Flag.RemoteClosed, request("Count", sv("2")));
  const frames = [await raw.next(), await raw.next(), await raw.next()];
  assert.deepEqual(
    frames.map((f) => [f?.streamId, f?.type, f?.flags]),
    [
      [1, MessageType.Data, 0],
      [1, MessageType.Data, 0],
      [1, MessageType.Data, Flag.RemoteClosed | Flag.NoData],
    ],
  );

  // client streaming: Request RO (a present payload is the first message); Data; Data RC|NoData; Response
  raw.send(3, MessageType.Request, Flag.RemoteOpen, request("Join", sv("first")));
  raw.send(3, MessageType.Data, 0, sv("second"));
  raw.send(3, MessageType.Data, Flag.RemoteClosed | Flag.NoData);
  const res = await raw.next();
  assert.equal(res?.type, MessageType.Response);
  assert.equal(str(decodeResponse(res.payload).payload).slice(2), "first,second");

  // a unary-style Request (flags 0) to a client-streaming method: no Data follows
  raw.send(5, MessageType.Request, 0, request("Join"));
  assert.equal((await raw.next())?.type, MessageType.Response);
});

test("a server-stream error after some messages arrives as a Response status", async (t) => {
  const { path } = await startServer(t, (s) =>
    s.register(EchoService, {
      *count() {
        yield { value: "a" };
        yield { value: "b" };
        throw new TtrpcError(Code.DataLoss, "lost it");
      },
    }),
  );
  const echo = createClient(await startClient(t, path), EchoService);
  const got: string[] = [];
  await assert.rejects(
    (async () => {
      for await (const m of echo.count({})) got.push(m.value);
    })(),
    (err) => isTtrpcError(err) && err.code === Code.DataLoss && err.message === "lost it",
  );
  assert.deepEqual(got, ["a", "b"]);
});

test("a stream past its deadline fails with DEADLINE_EXCEEDED", async (t) => {
  const { path } = await startServer(t, (s) =>
    s.register(EchoService, {
      async *count(_req, ctx) {
        yield { value: "first" };
        await new Promise((resolve) =>
          ctx.signal.addEventListener("abort", resolve, { once: true }),
        );
      },
    }),
  );
  const echo = createClient(await startClient(t, path), EchoService);
  const got: string[] = [];
  await assert.rejects(
    (async () => {
      for await (const m of echo.count({}, { timeoutMs: 100 })) got.push(m.value);
    })(),
    (err) => isTtrpcError(err) && err.code === Code.DeadlineExceeded,
  );
  assert.deepEqual(got, ["first"]);
});

test("leaving a bidi stream early tells the server no more input follows", async (t) => {
  const inputEnded = deferred();
  const { path } = await startServer(t, (s) =>
    s.register(EchoService, {
      async *chat(requests) {
        yield { value: "hello" };
        for await (const _ of requests) {
          // drain
        }
        inputEnded.resolve();
      },
    }),
  );
  const client = await startClient(t, path);
  const stream = client.bidiStream("ttrpc.test.Echo", "Chat");
  for await (const _ of stream) break; // return() cancels: Data RC|NoData goes out
  await inputEnded.promise;
  assert.equal(client.pendingCalls, 0);
});

test("a stream nobody reads fails after 1 s with RESOURCE_EXHAUSTED; the connection recovers", async (t) => {
  const allSent = deferred();
  const { path } = await startServer(t, (s) => {
    s.register(EchoService, {
      *count() {
        for (let i = 0; i < 300; i++) yield { value: `${i}` };
        allSent.resolve();
      },
    });
    s.registerMethod("test.S", "Ping", (r) => r);
  });
  const client = await startClient(t, path);
  const stream = client.serverStream("ttrpc.test.Echo", "Count", new Uint8Array(0));
  await allSent.promise;
  // Queued behind the stream's data, so answered once the full stream has been failed and the socket resumed.
  assert.equal(str(await client.call("test.S", "Ping", text("pong"))), "pong");
  let received = 0;
  await assert.rejects(
    (async () => {
      for await (const _ of stream) received++;
    })(),
    (err) =>
      isTtrpcError(err) &&
      err.code === Code.ResourceExhausted &&
      err.message === "ttrpc: stream buffer full",
  );
  assert.ok(received >= 64 && received < 300, `received ${received}`);
});

test("a client stream the handler does not read is ended with RESOURCE_EXHAUSTED", async (t) => {
  const { path } = await startServer(t, (s) =>
    s.register(EchoService, {
      async join(_requests, ctx) {
        await new Promise((resolve) =>
          ctx.signal.addEventListener("abort", resolve, { once: true }),
        );
        return {};
      },
    }),
  );
  const client = await startClient(t, path);
  const stream = client.clientStream("ttrpc.test.Echo", "Join");
  for (let i = 0; i < 200; i++) await stream.send(text(`${i}`)).catch(() => {});
  await assert.rejects(
    stream.response,
    (err) => isTtrpcError(err) && err.code === Code.ResourceExhausted,
  );
});
