// containerd.services.sandbox.v1.Store on a real sandboxd, over gRPC: records,
// server-set times, filters, field-path updates and their rules (runtime.name
// immutable on every update, sandboxer only without an instance, unknown
// paths named), ids, duplicates, namespaces. Root (sandboxd runs as root).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { AnySchema, timestampFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import {
  isAlreadyExists,
  isFailedPrecondition,
  isInvalidArgument,
  isNotFound,
} from "@sandboxd/errdefs";
import { JsonTypeUrl, packJson } from "@sandboxd/api";
import { Namespaces } from "@sandboxd/api/services/namespaces/v1/namespace_pb";
import type { Sandboxd } from "../daemon/harness.js";
import {
  clients,
  collectEvents,
  sandboxRecord,
  openSandboxd,
  testRuntime,
  type Clients,
} from "./helpers.js";

let daemon: Sandboxd;
let close: () => Promise<void>;
let n = 0;

before(async () => {
  const opened = await openSandboxd();
  daemon = opened.sandboxd;
  close = opened.close;
});
after(() => close?.());

/** A fresh namespace per test, so tests do not see each other's sandboxes. */
function ns(t: { after: (fn: () => unknown) => void }): Clients {
  const c = clients(daemon.address, `store-${++n}`);
  t.after(() => c.channel.close());
  return c;
}

const ext = (v: string) =>
  create(AnySchema, { typeUrl: "sandboxd.test.Ext", value: Buffer.from(v) });

test("create sets the times, ignores the client's, and get/list give the record back", async (t) => {
  const c = ns(t);
  const spec = packJson(JsonTypeUrl.Spec, { ociVersion: "1.1.0", hostname: "pod" });
  const before = Date.now();
  const created = await c.store.create({
    sandbox: sandboxRecord("pod1", {
      runtime: { name: testRuntime, options: ext("opts") },
      spec,
      labels: { app: "web" },
      extensions: { e1: ext("one") },
      sandboxer: "shim",
      createdAt: timestampFromMs(1000),
      updatedAt: timestampFromMs(1000),
    }),
  });
  const s = created.sandbox!;
  assert.equal(s.sandboxId, "pod1");
  const createdAt = timestampMs(s.createdAt!);
  assert.ok(createdAt >= before - 1000, "created_at is the server's");
  assert.equal(timestampMs(s.updatedAt!), createdAt);
  const got = (await c.store.get({ sandboxId: "pod1" })).sandbox!;
  assert.equal(got.runtime?.name, testRuntime);
  assert.equal(Buffer.from(got.runtime.options!.value).toString(), "opts");
  assert.equal(got.spec?.typeUrl, JsonTypeUrl.Spec);
  assert.deepEqual(JSON.parse(Buffer.from(got.spec.value).toString()), {
    ociVersion: "1.1.0",
    hostname: "pod",
  });
  assert.deepEqual(got.labels, { app: "web" });
  assert.deepEqual(Object.keys(got.extensions), ["e1"]);
  assert.equal(got.sandboxer, "shim");
  assert.deepEqual(
    (await c.store.list({})).list.map((x) => x.sandboxId),
    ["pod1"],
  );
});

test("bad input: duplicate ids, invalid ids, missing sandbox, labels too long", async (t) => {
  const c = ns(t);
  await c.store.create({ sandbox: sandboxRecord("dup") });
  await assert.rejects(
    c.store.create({ sandbox: sandboxRecord("dup") }),
    (e: Error) => isAlreadyExists(e) && e.message.includes('sandbox "dup"'),
  );
  for (const id of ["", "a..b", "-x", "x".repeat(77), "../etc"]) {
    await assert.rejects(c.store.create({ sandbox: sandboxRecord(id) }), isInvalidArgument, id);
    await assert.rejects(c.store.get({ sandboxId: id }), isInvalidArgument, `get ${id}`);
    await assert.rejects(c.store.delete({ sandboxId: id }), isInvalidArgument, `delete ${id}`);
  }
  await assert.rejects(c.store.create({}), isInvalidArgument);
  await assert.rejects(
    c.store.create({ sandbox: sandboxRecord("big", { labels: { k: "v".repeat(5000) } }) }),
    (e: Error) =>
      isInvalidArgument(e) && /label key and value greater than maximum size/.test(e.message),
  );
  await assert.rejects(
    c.store.create({ sandbox: sandboxRecord("noext", { extensions: { "": ext("x") } }) }),
    isInvalidArgument,
  );
  await assert.rejects(c.store.get({ sandboxId: "missing" }), isNotFound);
  await assert.rejects(c.store.delete({ sandboxId: "missing" }), isNotFound);
  await assert.rejects(
    c.store.update({ sandbox: sandboxRecord("missing"), fields: ["labels"] }),
    isNotFound,
  );
  assert.deepEqual(
    (await c.store.list({})).list.map((x) => x.sandboxId),
    ["dup"],
    "nothing written for invalid input",
  );
});

test("list filters: id, labels, runtime.name, sandboxer (containerd syntax, ORed)", async (t) => {
  const c = ns(t);
  await c.store.create({ sandbox: sandboxRecord("web", { labels: { app: "web", tier: "" } }) });
  await c.store.create({
    sandbox: sandboxRecord("db", {
      labels: { app: "db" },
      runtime: { name: "io.containerd.other.v1" },
      sandboxer: "sbx",
    }),
  });
  const ids = async (filters: string[]) =>
    (await c.store.list({ filters })).list.map((s) => s.sandboxId);
  assert.deepEqual(await ids([]), ["db", "web"]);
  assert.deepEqual(await ids(["labels.app==web"]), ["web"]);
  assert.deepEqual(await ids(["labels.tier"]), ["web"], "a label with an empty value is present");
  assert.deepEqual(await ids(["runtime.name==io.containerd.other.v1"]), ["db"]);
  assert.deepEqual(await ids(["sandboxer==sbx"]), ["db"]);
  assert.deepEqual(await ids(["sandboxer"]), ["db"], "an empty sandboxer is absent");
  assert.deepEqual(await ids(["id~=^w", "id==db"]), ["db", "web"]);
  assert.deepEqual(await ids(["labels.app==web,runtime.name==io.containerd.other.v1"]), []);
  await assert.rejects(ids(["labels.a=="]), isInvalidArgument);
});

test("update: field paths, map keys, runtime.name immutable on every update, unknown paths named", async (t) => {
  const c = ns(t);
  const events = await collectEvents(t, c);
  const created = (
    await c.store.create({
      sandbox: sandboxRecord("u", {
        labels: { a: "1", b: "2" },
        extensions: { e1: ext("one"), e2: ext("two") },
        runtime: { name: testRuntime, options: ext("o1") },
      }),
    })
  ).sandbox!;
  const update = (sandbox: Parameters<typeof sandboxRecord>[1], fields: string[]) =>
    c.store.update({ sandbox: sandboxRecord("u", sandbox), fields }).then((r) => r.sandbox!);

  let s = await update({ labels: { a: "9" } }, ["labels.a", "labels.b"]);
  assert.deepEqual(s.labels, { a: "9" }, "a key absent from the request is removed");
  assert.deepEqual(Object.keys(s.extensions).sort(), ["e1", "e2"]);
  assert.ok(timestampMs(s.updatedAt!) >= timestampMs(created.updatedAt!));
  assert.equal(timestampMs(s.createdAt!), timestampMs(created.createdAt!), "created_at kept");

  s = await update({ extensions: { e2: ext("TWO") } }, ["extensions.e1", "extensions.e2"]);
  assert.deepEqual(Object.keys(s.extensions), ["e2"]);
  assert.equal(Buffer.from(s.extensions.e2!.value).toString(), "TWO");

  s = await update({ runtime: { name: testRuntime, options: ext("o2") } }, ["runtime.options"]);
  assert.equal(Buffer.from(s.runtime!.options!.value).toString(), "o2");
  s = await update({ runtime: { name: testRuntime, options: ext("o3") } }, ["runtime"]);
  assert.equal(Buffer.from(s.runtime!.options!.value).toString(), "o3");
  s = await update({ spec: packJson(JsonTypeUrl.Spec, { ociVersion: "1.2.0" }) }, ["spec"]);
  assert.equal(s.spec?.typeUrl, JsonTypeUrl.Spec);

  const immutable = (e: Error) =>
    isInvalidArgument(e) && /sandbox\.Runtime\.Name field is immutable/.test(e.message);
  for (const fields of [[], ["runtime"], ["runtime.name"], ["labels"], ["spec"]]) {
    await assert.rejects(
      update({ runtime: { name: "io.containerd.other.v1" } }, fields),
      immutable,
      `runtime.name change with paths ${JSON.stringify(fields)}`,
    );
  }
  // A request that leaves runtime out (empty name) and does not touch it is fine.
  s = await update({ runtime: { name: "" }, labels: { z: "1" } }, ["labels.z"]);
  assert.deepEqual(s.labels, { a: "9", z: "1" });

  for (const path of [
    "sandbox_id",
    "created_at",
    "updated_at",
    "runtime.nam",
    "bogus",
    "labelz.x",
  ]) {
    await assert.rejects(
      update({}, [path]),
      (e: Error) => isInvalidArgument(e) && e.message.includes(`cannot update "${path}" field`),
      path,
    );
  }

  // No paths: labels, extensions, spec and runtime options are replaced; sandboxer is kept.
  s = await update({ labels: { only: "this" }, sandboxer: "other" }, []);
  assert.deepEqual(s.labels, { only: "this" });
  assert.deepEqual(s.extensions, {});
  assert.equal(s.spec, undefined);
  assert.equal(s.sandboxer, "", "sandboxer is not in the default paths");

  // sandboxer: may be set while no controller holds an instance.
  s = await update({ sandboxer: "shim" }, ["sandboxer"]);
  assert.equal(s.sandboxer, "shim");
  assert.deepEqual(events.topics(), [], "the Store publishes no events (as containerd)");
});

test("sandboxer cannot change while an instance exists; the record cannot be deleted then", async (t) => {
  const c = ns(t);
  await c.store.create({ sandbox: sandboxRecord("held", { sandboxer: "shim" }) });
  await c.controller.create({ sandboxId: "held" });
  await assert.rejects(
    c.store.update({
      sandbox: sandboxRecord("held", { sandboxer: "elsewhere" }),
      fields: ["sandboxer"],
    }),
    (e: Error) => isFailedPrecondition(e) && /while it has an instance/.test(e.message),
  );
  await assert.rejects(
    c.store.delete({ sandboxId: "held" }),
    (e: Error) =>
      isFailedPrecondition(e) && /still has an instance in sandboxer "shim"/.test(e.message),
  );
  await c.controller.shutdown({ sandboxId: "held" });
  await c.store.update({
    sandbox: sandboxRecord("held", { sandboxer: "elsewhere" }),
    fields: ["sandboxer"],
  });
  await c.store.delete({ sandboxId: "held" });
  await assert.rejects(c.store.get({ sandboxId: "held" }), isNotFound);
});

test("namespaces isolate sandboxes; a namespace holding one cannot be deleted", async (t) => {
  const a = ns(t);
  const b = ns(t);
  await a.store.create({ sandbox: sandboxRecord("same") });
  await b.store.create({ sandbox: sandboxRecord("same", { labels: { in: "b" } }) });
  assert.deepEqual((await a.store.get({ sandboxId: "same" })).sandbox?.labels, {});
  assert.deepEqual((await b.store.get({ sandboxId: "same" })).sandbox?.labels, { in: "b" });
  const namespaces = a.channel.client(Namespaces);
  const name = `store-${n}`;
  await assert.rejects(
    namespaces.delete({ name }),
    (e: Error) => isFailedPrecondition(e) && /sandboxes/.test(e.message),
  );
  await b.store.delete({ sandboxId: "same" });
  await namespaces.delete({ name });
  assert.deepEqual(
    (await a.store.list({})).list.map((s) => s.sandboxId),
    ["same"],
  );
});
