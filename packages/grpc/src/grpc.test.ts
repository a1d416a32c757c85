import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
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
  isDeadlineExceeded,
  isInvalidArgument,
  isNotFound,
  isNotImplemented,
  isUnavailable,
  notFound,
} from "@sandboxd/errdefs";
import { Channel, GrpcServer } from "./index.js";

// A tiny service built at runtime, so this package's tests need no generated API.
const file = create(FileDescriptorProtoSchema, {
  name: "echo.proto",
  package: "test.echo.v1",
  syntax: "proto3",
  messageType: [
    {
      name: "Msg",
      field: [
        {
          name: "text",
          number: 1,
          type: FieldDescriptorProto_Type.STRING,
          label: FieldDescriptorProto_Label.OPTIONAL,
          jsonName: "text",
        },
        {
          name: "count",
          number: 2,
          type: FieldDescriptorProto_Type.UINT32,
          label: FieldDescriptorProto_Label.OPTIONAL,
          jsonName: "count",
        },
      ],
    },
  ],
  service: [
    {
      name: "Echo",
      method: [
        { name: "Say", inputType: ".test.echo.v1.Msg", outputType: ".test.echo.v1.Msg" },
        {
          name: "Repeat",
          inputType: ".test.echo.v1.Msg",
          outputType: ".test.echo.v1.Msg",
          serverStreaming: true,
        },
        { name: "Missing", inputType: ".test.echo.v1.Msg", outputType: ".test.echo.v1.Msg" },
        {
          name: "Chat",
          inputType: ".test.echo.v1.Msg",
          outputType: ".test.echo.v1.Msg",
          clientStreaming: true,
          serverStreaming: true,
        },
        {
          name: "Relay",
          inputType: ".test.echo.v1.Msg",
          outputType: ".test.echo.v1.Msg",
          clientStreaming: true,
          serverStreaming: true,
        },
      ],
    },
  ],
});
interface Msg {
  text: string;
  count: number;
}
const Echo = createFileRegistry(file, () => undefined).getService(
  "test.echo.v1.Echo",
) as DescService as GenService<never>;

async function withServer(
  fn: (channel: Channel) => Promise<void>,
  options?: ConstructorParameters<typeof GrpcServer>[0],
): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "grpc-test-"));
  const socket = join(dir, "s.sock");
  const server = new GrpcServer(options);
  const impl = {
    say: (
      req: Msg,
      call: {
        header(k: string): string | undefined;
        signal: AbortSignal;
        deadline: number | undefined;
      },
    ) => {
      if (req.text === "missing") throw notFound(`thing ${JSON.stringify(req.text)}`);
      if (req.text === "slow") {
        return new Promise((resolve) =>
          call.signal.addEventListener("abort", () => resolve({ text: "late" })),
        );
      }
      return {
        text: `${req.text}|ns=${call.header("containerd-namespace") ?? ""}`,
        count: req.count + 1,
      };
    },
    // Bidi with for-await: a running byte count per request; "stop" leaves the loop early.
    relay: async function* (requests: AsyncIterable<Msg>) {
      let total = 0;
      for await (const req of requests) {
        if (req.text === "stop") {
          yield { text: "stopped", count: total };
          return;
        }
        total += req.text.length;
        yield { text: req.text.slice(0, 8), count: total };
      }
    },
    repeat: async function* (req: Msg) {
      for (let i = 0; i < req.count; i++) {
        await Promise.resolve();
        yield { text: req.text, count: i };
      }
    },
  };
  // Echoes each message; "bye" ends the call from the server while the client still sends.
  const chat = async function* (requests: AsyncIterable<Msg>) {
    // By hand here; `relay` reads with for-await and leaves it early.
    const it = requests[Symbol.asyncIterator]();
    for (;;) {
      const next = await it.next();
      if (next.done || next.value.text === "bye") return;
      yield { text: next.value.text.toUpperCase(), count: next.value.count };
    }
  };
  server.register(Echo, { ...impl, chat });
  await server.listenUnix(socket);
  const channel = new Channel(socket, { metadata: { "containerd-namespace": "default" } });
  try {
    await fn(channel);
  } finally {
    channel.close();
    await server.shutdown(1000);
    await rm(dir, { recursive: true, force: true });
  }
}

type Loose = Record<
  string,
  (req: unknown, opts?: unknown) => Promise<unknown> & AsyncIterable<unknown>
>;

test("unary calls carry headers and return typed messages", async () => {
  await withServer(async (channel) => {
    const echo = channel.client(Echo) as unknown as Loose;
    const reply = (await echo.say!({ text: "hi", count: 1 })) as Msg;
    assert.equal(reply.text, "hi|ns=default");
    assert.equal(reply.count, 2);
    const other = (await echo.say!(
      { text: "x" },
      { metadata: { "containerd-namespace": "other" } },
    )) as Msg;
    assert.equal(other.text, "x|ns=other");
  });
});

test("unary replies wait for beforeReply; its failure becomes the reply", async () => {
  let release: () => void = () => undefined;
  const gate = new Promise<void>((r) => (release = r));
  let reached: () => void = () => undefined;
  const hookReached = new Promise<void>((r) => (reached = r));
  let failing = false;
  await withServer(
    async (channel) => {
      const echo = channel.client(Echo) as unknown as Loose;
      let answered = false;
      const call = echo.say!({ text: "hi", count: 1 }).then((r) => {
        answered = true;
        return r as Msg;
      });
      // The handler has answered once the hook runs; the reply is held until it resolves.
      await hookReached;
      assert.equal(answered, false);
      release();
      assert.equal((await call).count, 2);
      // Errors wait too, and keep their own status.
      await assert.rejects(echo.say!({ text: "missing" }), (err: unknown) => isNotFound(err));
      failing = true;
      await assert.rejects(echo.say!({ text: "hi" }), /disk gone/);
    },
    {
      beforeReply: async () => {
        reached();
        await gate;
        if (failing) throw new Error("disk gone");
      },
    },
  );
});

test("errors cross the wire as typed errdefs errors", async () => {
  await withServer(async (channel) => {
    const echo = channel.client(Echo) as unknown as Loose;
    await assert.rejects(echo.say!({ text: "missing" }), (err: Error) => {
      assert.ok(isNotFound(err));
      assert.equal(err.message, 'thing "missing": not found');
      return true;
    });
    await assert.rejects(echo.missing!({}), (err) => isNotImplemented(err));
    await assert.rejects(echo.say!({ text: "slow" }, { timeoutMs: 50 }), (err) =>
      isDeadlineExceeded(err),
    );
  });
});

test("server streaming yields every message", async () => {
  await withServer(async (channel) => {
    const echo = channel.client(Echo) as unknown as Loose;
    const got: number[] = [];
    for await (const m of echo.repeat!({ text: "r", count: 5 }) as AsyncIterable<Msg>)
      got.push(m.count);
    assert.deepEqual(got, [0, 1, 2, 3, 4]);
  });
});

test("bidi: requests go out as the iterable yields them; the server can end first", async () => {
  await withServer(async (channel) => {
    const echo = channel.client(Echo) as unknown as Record<
      string,
      (req: AsyncIterable<Partial<Msg>>) => AsyncIterable<Msg>
    >;
    let send: ((m: Partial<Msg> | undefined) => void) | undefined;
    const requests = (async function* () {
      for (;;) {
        const next = await new Promise<Partial<Msg> | undefined>((resolve) => (send = resolve));
        if (!next) return;
        yield next;
      }
    })();
    const replies = echo.chat!(requests)[Symbol.asyncIterator]();
    const pending = replies.next();
    // The reply to the first message arrives before the second is sent.
    send?.({ text: "a", count: 1 });
    const first = await pending;
    assert.ok(!first.done);
    assert.equal(first.value.text, "A");
    const second = replies.next();
    send?.({ text: "b", count: 2 });
    const next = await second;
    assert.ok(!next.done);
    assert.equal(next.value.count, 2);
    // The client never half-closes; the server's end still finishes the call.
    const end = replies.next();
    send?.({ text: "bye" });
    assert.equal((await end).done, true);
  });
});

test("a server that is not there is Unavailable, naming the address", async () => {
  const channel = new Channel("/nonexistent/sandboxd-test.sock");
  const echo = channel.client(Echo) as unknown as Loose;
  await assert.rejects(echo.say!({ text: "x" }), (err: Error) => {
    assert.ok(isUnavailable(err), String(err));
    assert.match(err.message, /nonexistent\/sandboxd-test\.sock/);
    return true;
  });
  channel.close();
  assert.ok(!isInvalidArgument(new Error("x")));
});

test("bidi: requests stream past the flow-control windows; replies come as they are made", async () => {
  await withServer(async (channel) => {
    const echo = channel.client(Echo) as unknown as Loose;
    const chunk = "x".repeat(1 << 20);
    let pulled = 0;
    async function* requests() {
      for (let i = 0; i < 6; i++) {
        pulled++;
        await Promise.resolve();
        yield { text: chunk };
      }
    }
    const counts: number[] = [];
    for await (const m of echo.relay!(requests()) as AsyncIterable<Msg>) counts.push(m.count);
    assert.equal(pulled, 6);
    assert.deepEqual(
      counts,
      [1, 2, 3, 4, 5, 6].map((n) => n << 20),
    );
  });
});

test("bidi: a server that ends the call before the client half-closes; the channel stays usable", async () => {
  await withServer(async (channel) => {
    const echo = channel.client(Echo) as unknown as Loose;
    let release!: () => void;
    const never = new Promise<void>((resolve) => (release = resolve));
    async function* requests() {
      yield { text: "a" };
      yield { text: "stop" };
      await never; // the client has more to say, but the server has ended the call
      yield { text: "late" };
    }
    const got: string[] = [];
    for await (const m of echo.relay!(requests()) as AsyncIterable<Msg>) got.push(m.text);
    assert.deepEqual(got, ["a", "stopped"]);
    release();
    const reply = (await echo.say!({ text: "after", count: 0 })) as Msg;
    assert.equal(reply.text, "after|ns=default");
  });
});
