import assert from "node:assert/strict";
import { waitUntil } from "@sandboxd/testing";
import { test } from "node:test";
import { connect } from "./client.js";
import { Code } from "./code.js";
import { TtrpcError, isClosedError, isTtrpcError } from "./errors.js";
import { MAX_PAYLOAD_LENGTH } from "./frame.js";
import type { HandlerContext } from "./services.js";
import { deferred, startClient, startServer } from "./test-helpers.js";

const text = (s: string): Uint8Array => Buffer.from(s);
const str = (b: Uint8Array): string => Buffer.from(b).toString();

function rejectsWith(code: Code, message?: RegExp | string): (err: unknown) => boolean {
  return (err) => {
    assert.ok(isTtrpcError(err), `expected a TtrpcError, got ${String(err)}`);
    assert.equal(err.code, code, `code of: ${err.message}`);
    if (typeof message === "string") assert.equal(err.message, message);
    else if (message !== undefined) assert.match(err.message, message);
    return true;
  };
}

test("unary round trip over a unix socket", async (t) => {
  const { path } = await startServer(t, (s) =>
    s.registerMethod("test.S", "Upper", (req) => text(str(req).toUpperCase())),
  );
  const client = await startClient(t, path);
  assert.equal(str(await client.call("test.S", "Upper", text("hi"))), "HI");
  assert.equal(str(await client.call("test.S", "Upper", new Uint8Array(0))), "");
});

test("concurrent calls on one connection are matched by stream id, in any order", async (t) => {
  const gates = new Map<string, ReturnType<typeof deferred<void>>>();
  const { path } = await startServer(t, (s) =>
    s.registerMethod("test.S", "Wait", async (req) => {
      const gate = deferred();
      gates.set(str(req), gate);
      await gate.promise;
      return req;
    }),
  );
  const client = await startClient(t, path);
  const names = Array.from({ length: 20 }, (_, i) => `call-${i}`);
  const calls = names.map((n) => client.call("test.S", "Wait", text(n)).then(str));
  await waitUntil(() => gates.size === names.length);
  for (const n of [...names].reverse()) gates.get(n)!.resolve();
  assert.deepEqual(await Promise.all(calls), names);
});

test("metadata reaches the handler with lower-cased keys and every value", async (t) => {
  let seen: HandlerContext["metadata"] | undefined;
  const { path } = await startServer(t, (s) =>
    s.registerMethod("test.S", "M", (req, ctx) => {
      seen = ctx.metadata;
      return req;
    }),
  );
  const client = await startClient(t, path);
  await client.call("test.S", "M", new Uint8Array(0), {
    metadata: { "Containerd-Namespace-Ttrpc": "ns1", multi: ["a", "b"] },
  });
  assert.equal(seen?.get("containerd-namespace-ttrpc"), "ns1");
  assert.deepEqual(seen?.getAll("multi"), ["a", "b"]);
  assert.deepEqual([...seen.keys()], ["containerd-namespace-ttrpc", "multi"]);
});

test("the server sees the caller's deadline", async (t) => {
  let deadline: number | undefined;
  const { path } = await startServer(t, (s) =>
    s.registerMethod("test.S", "D", (req, ctx) => {
      deadline = ctx.deadline;
      return req;
    }),
  );
  const client = await startClient(t, path);
  const want = Date.now() + 60_000;
  await client.call("test.S", "D", new Uint8Array(0), { deadline: want });
  assert.ok(
    deadline !== undefined && Math.abs(deadline - want) < 1000,
    `deadline ${deadline} vs ${want}`,
  );
  await client.call("test.S", "D", new Uint8Array(0));
  assert.equal(deadline, undefined, "no deadline when the caller sets none");
});

test("a call past its deadline fails with DEADLINE_EXCEEDED on both sides", async (t) => {
  const handlerReason = deferred<unknown>();
  const { path } = await startServer(t, (s) =>
    s.registerMethod("test.S", "Slow", async (_req, ctx) => {
      await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve, { once: true }));
      handlerReason.resolve(ctx.signal.reason);
      throw ctx.signal.reason;
    }),
  );
  const client = await startClient(t, path);
  await assert.rejects(
    client.call("test.S", "Slow", new Uint8Array(0), { timeoutMs: 50 }),
    rejectsWith(Code.DeadlineExceeded),
  );
  const reason = await handlerReason.promise;
  assert.ok(isTtrpcError(reason) && reason.code === Code.DeadlineExceeded);
});

test("an aborted call fails with CANCELLED, its late answer is dropped, the connection goes on", async (t) => {
  const release = deferred();
  const { path } = await startServer(t, (s) => {
    s.registerMethod("test.S", "Block", async (req) => {
      await release.promise;
      return req;
    });
    s.registerMethod("test.S", "Echo", (req) => req);
  });
  const client = await startClient(t, path);
  const ac = new AbortController();
  const call = client.call("test.S", "Block", text("late"), { signal: ac.signal });
  ac.abort();
  await assert.rejects(call, rejectsWith(Code.Canceled));
  release.resolve();
  assert.equal(str(await client.call("test.S", "Echo", text("next"))), "next");
  assert.equal(client.pendingCalls, 0);
  await assert.rejects(
    client.call("test.S", "Echo", text("x"), { signal: AbortSignal.abort() }),
    rejectsWith(Code.Canceled),
  );
});

test("unknown service and method are UNIMPLEMENTED, worded like Go", async (t) => {
  const { path } = await startServer(t, (s) => s.registerMethod("test.S", "Known", (r) => r));
  const client = await startClient(t, path);
  await assert.rejects(
    client.call("no.Such", "Known", new Uint8Array(0)),
    rejectsWith(Code.Unimplemented, "service no.Such"),
  );
  await assert.rejects(
    client.call("test.S", "Nope", new Uint8Array(0)),
    rejectsWith(Code.Unimplemented, "method Nope"),
  );
});

test("handler errors become statuses: TtrpcError, numeric code, errno, anything else", async (t) => {
  const { path } = await startServer(t, (s) => {
    s.registerMethod("test.S", "Typed", () => {
      throw new TtrpcError(Code.NotFound, 'container "x": not found');
    });
    s.registerMethod("test.S", "Coded", () => {
      throw Object.assign(new Error("busy"), { code: Code.FailedPrecondition });
    });
    s.registerMethod("test.S", "Errno", () => {
      throw Object.assign(new Error("ENOENT: no such file"), { code: "ENOENT" });
    });
    s.registerMethod("test.S", "Plain", () => Promise.reject(new Error("boom")));
    s.registerMethod("test.S", "Nil", () => undefined as unknown as Uint8Array);
  });
  const client = await startClient(t, path);
  const call = (m: string): Promise<Uint8Array> => client.call("test.S", m, new Uint8Array(0));
  await assert.rejects(call("Typed"), rejectsWith(Code.NotFound, 'container "x": not found'));
  await assert.rejects(call("Coded"), rejectsWith(Code.FailedPrecondition, "busy"));
  await assert.rejects(call("Errno"), rejectsWith(Code.NotFound));
  await assert.rejects(call("Plain"), rejectsWith(Code.Unknown, "boom"));
  await assert.rejects(call("Nil"), rejectsWith(Code.Unknown, "ttrpc: marshal called with nil"));
});

test("errorToStatus replaces the default mapping", async (t) => {
  const { path } = await startServer(
    t,
    (s) =>
      s.registerMethod("test.S", "E", () => {
        throw new Error("inner");
      }),
    {
      errorToStatus: (err) => ({
        code: Code.Aborted,
        message: `mapped: ${err instanceof Error ? err.message : String(err)}`,
      }),
    },
  );
  const client = await startClient(t, path);
  await assert.rejects(
    client.call("test.S", "E", new Uint8Array(0)),
    rejectsWith(Code.Aborted, "mapped: inner"),
  );
});

test("a response over 4 MiB is answered RESOURCE_EXHAUSTED instead", async (t) => {
  const { path } = await startServer(t, (s) =>
    s.registerMethod("test.S", "Big", () => new Uint8Array(MAX_PAYLOAD_LENGTH)),
  );
  const client = await startClient(t, path);
  await assert.rejects(
    client.call("test.S", "Big", new Uint8Array(0)),
    rejectsWith(Code.ResourceExhausted),
  );
});

test("a request over 4 MiB is refused by the client before sending", async (t) => {
  const { path } = await startServer(t, (s) => s.registerMethod("test.S", "E", (r) => r));
  const client = await startClient(t, path);
  await assert.rejects(
    client.call("test.S", "E", new Uint8Array(MAX_PAYLOAD_LENGTH)),
    rejectsWith(Code.ResourceExhausted),
  );
  assert.equal(str(await client.call("test.S", "E", text("ok"))), "ok");
});

test("server shutdown lets calls in flight finish, then closes", async (t) => {
  const started = deferred();
  const proceed = deferred();
  let n = 0;
  const { server, path } = await startServer(t, (s) =>
    s.registerMethod("test.S", "Wait", async (req) => {
      if (++n === 5) started.resolve();
      await proceed.promise;
      return req;
    }),
  );
  const client = await startClient(t, path);
  const idle = await startClient(t, path); // a second, idle connection
  const calls = Array.from({ length: 5 }, (_, i) =>
    client.call("test.S", "Wait", text(`${i}`)).then(str),
  );
  await started.promise;
  const shutdown = server.shutdown({ timeoutMs: 10_000 });
  await waitUntil(() => idle.closed, { what: "the idle connection to close" });
  await assert.rejects(connect(path), rejectsWith(Code.Unavailable));
  await assert.rejects(
    client.call("test.S", "Wait", text("new")),
    rejectsWith(Code.Unavailable, "ttrpc: server closed"),
  );
  proceed.resolve();
  assert.deepEqual(await Promise.all(calls), ["0", "1", "2", "3", "4"]);
  await shutdown;
  assert.equal(server.connectionCount, 0);
  await waitUntil(() => client.closed, { what: "the client to see the close" });
});

test("shutdown gives up after its timeout and aborts what is left", async (t) => {
  const started = deferred();
  const aborted = deferred();
  const { server, path } = await startServer(t, (s) =>
    s.registerMethod("test.S", "Hang", async (_req, ctx) => {
      started.resolve();
      await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve, { once: true }));
      aborted.resolve();
      throw ctx.signal.reason;
    }),
  );
  const client = await startClient(t, path);
  const call = client.call("test.S", "Hang", new Uint8Array(0)).catch((err: unknown) => err);
  await started.promise;
  await server.shutdown({ timeoutMs: 50 });
  await aborted.promise;
  assert.ok(isClosedError(await call));
});

test("when the server goes away, pending and later calls fail with the closed error", async (t) => {
  const { server, path } = await startServer(t, (s) =>
    s.registerMethod("test.S", "Hang", () => new Promise<Uint8Array>(() => {})),
  );
  const closedWith = deferred<Error | undefined>();
  const client = await connect(path, { onClose: (err) => closedWith.resolve(err) });
  t.after(() => client.close());
  const pending = client.call("test.S", "Hang", new Uint8Array(0));
  await waitUntil(() => server.connectionCount === 1);
  await server.close();
  await assert.rejects(
    pending,
    (err) => isClosedError(err) && (err as TtrpcError).code === Code.Unavailable,
  );
  await closedWith.promise;
  assert.equal(client.closed, true);
  await assert.rejects(client.call("test.S", "Hang", new Uint8Array(0)), (err) =>
    isClosedError(err),
  );
});

test("a closed client connection is released by the server (no leak)", async (t) => {
  const { server, path } = await startServer(t, (s) => s.registerMethod("test.S", "E", (r) => r));
  assert.equal(server.connectionCount, 0);
  const clients = await Promise.all(Array.from({ length: 10 }, () => connect(path)));
  await Promise.all(clients.map((c) => c.call("test.S", "E", text("x"))));
  assert.equal(server.connectionCount, 10);
  await Promise.all(clients.map((c) => c.close()));
  await waitUntil(() => server.connectionCount === 0, { what: "connections to be released" });
});

test("a handler's signal aborts when its connection closes", async (t) => {
  const aborted = deferred<unknown>();
  const { server, path } = await startServer(t, (s) =>
    s.registerMethod("test.S", "Hang", (_req, ctx) => {
      ctx.signal.addEventListener("abort", () => aborted.resolve(ctx.signal.reason), {
        once: true,
      });
      return new Promise<Uint8Array>(() => {});
    }),
  );
  const client = await connect(path);
  void client.call("test.S", "Hang", new Uint8Array(0)).catch(() => {});
  await waitUntil(() => server.connectionCount === 1);
  await client.close();
  assert.ok(isClosedError(await aborted.promise));
});

test("onConnection can refuse a connection", async (t) => {
  let seen = 0;
  const { server, path } = await startServer(t, (s) => s.registerMethod("test.S", "E", (r) => r), {
    onConnection: () => ++seen !== 1,
  });
  const refused = await connect(path);
  await assert.rejects(refused.call("test.S", "E", text("x")), (err) => isClosedError(err));
  const accepted = await startClient(t, path);
  assert.equal(str(await accepted.call("test.S", "E", text("y"))), "y");
  assert.equal(server.connectionCount, 1);
});

test("connecting to a missing socket is UNAVAILABLE", async () => {
  await assert.rejects(
    connect("unix:///nonexistent/ttrpc.sock"),
    rejectsWith(Code.Unavailable, /ENOENT/),
  );
});
