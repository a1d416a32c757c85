import assert from "node:assert/strict";
import { test } from "node:test";
import { Code } from "./code.js";
import { TtrpcError, isTtrpcError } from "./errors.js";
import { Server } from "./server.js";
import { createClient } from "./typed-client.js";
import { EchoService, startClient, startServer } from "./test-helpers.js";

test("typed unary call with a message init; the handler gets the message and context", async (t) => {
  const { path } = await startServer(t, (s) =>
    s.register(EchoService, {
      echo: (req, ctx) => ({
        value: `${req.value}/${ctx.service}/${ctx.method}/${ctx.metadata.get("k")}`,
      }),
    }),
  );
  const echo = createClient(await startClient(t, path), EchoService);
  const res = await echo.echo({ value: "v" }, { metadata: { k: "m" } });
  assert.equal(res.$typeName, "google.protobuf.StringValue");
  assert.equal(res.value, "v/ttrpc.test.Echo/Echo/m");
});

test("one implementation registered under two service names", async (t) => {
  const impl = { echo: (req: { value: string }) => ({ value: req.value.toUpperCase() }) };
  const { path } = await startServer(t, (s) => {
    s.register(EchoService, impl, { serviceName: "containerd.task.v2.Task" });
    s.register(EchoService, impl, { serviceName: "containerd.task.v3.Task" });
  });
  const client = await startClient(t, path);
  for (const serviceName of ["containerd.task.v2.Task", "containerd.task.v3.Task"]) {
    const echo = createClient(client, EchoService, { serviceName });
    assert.equal((await echo.echo({ value: "x" })).value, "X");
  }
  await assert.rejects(
    createClient(client, EchoService).echo({ value: "x" }),
    (err) =>
      isTtrpcError(err) &&
      err.code === Code.Unimplemented &&
      err.message === "service ttrpc.test.Echo",
  );
});

test("methods left out of an implementation are UNIMPLEMENTED", async (t) => {
  const { path } = await startServer(t, (s) => s.register(EchoService, { echo: (r) => r }));
  const echo = createClient(await startClient(t, path), EchoService);
  await assert.rejects(
    echo.join([]),
    (err) => isTtrpcError(err) && err.code === Code.Unimplemented && err.message === "method Join",
  );
});

test("a typed handler's TtrpcError reaches the caller unchanged", async (t) => {
  const { path } = await startServer(t, (s) =>
    s.register(EchoService, {
      echo: () => {
        throw new TtrpcError(Code.AlreadyExists, 'task "t": already exists');
      },
    }),
  );
  const echo = createClient(await startClient(t, path), EchoService);
  await assert.rejects(
    echo.echo({}),
    (err) =>
      isTtrpcError(err) &&
      err.code === Code.AlreadyExists &&
      err.message === 'task "t": already exists',
  );
});

test("an undecodable request is INTERNAL, as in Go", async (t) => {
  const { path } = await startServer(t, (s) => s.register(EchoService, { echo: (r) => r }));
  const client = await startClient(t, path);
  await assert.rejects(
    client.call("ttrpc.test.Echo", "Echo", Uint8Array.of(0x0a, 0x05)),
    (err) =>
      isTtrpcError(err) && err.code === Code.Internal && /unmarshalling payload/.test(err.message),
  );
});

test("a duplicate registration throws", () => {
  const impl = { echo: (r: { value: string }) => r };
  const server = new Server().register(EchoService, impl);
  assert.throws(() => server.register(EchoService, impl), /duplicate method ttrpc.test.Echo\/Echo/);
});
