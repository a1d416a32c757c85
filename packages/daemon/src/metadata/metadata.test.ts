import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { background, withNamespace, type Ctx } from "@sandboxd/core";
import {
  isAlreadyExists,
  isFailedPrecondition,
  isInvalidArgument,
  isNotFound,
  isNotImplemented,
  isUnavailable,
} from "@sandboxd/errdefs";
import { packJson, JsonTypeUrl, pack } from "@sandboxd/api";
import { TaskExitSchema } from "@sandboxd/api/events/task_pb";
import { MetadataDb } from "./db.js";
import { migrations } from "./migrations.js";
import { openMetadata, type Metadata } from "./metadata.js";
import type { NewContainer } from "./containers.js";

async function withDb(fn: (m: Metadata, path: string) => void | Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "sbxd-meta-"));
  const path = join(dir, "meta.db");
  const m = openMetadata(path);
  try {
    await fn(m, path);
  } finally {
    m.db.close();
    await rm(dir, { recursive: true, force: true });
  }
}

const ctxIn = (ns: string): Ctx => withNamespace(background(), ns);

function container(id: string, extra: Partial<NewContainer> = {}): NewContainer {
  return {
    id,
    labels: {},
    image: "",
    runtime: { name: "io.containerd.runc.v2" },
    spec: packJson(JsonTypeUrl.Spec, { ociVersion: "1.0.2" }),
    snapshotter: "",
    snapshotKey: "",
    extensions: {},
    sandbox: "",
    ...extra,
  };
}

test("schema: migrations run once and set user_version; a newer schema is refused", async () => {
  await withDb((m, path) => {
    assert.equal(m.db.schemaVersion, migrations.length);
    m.db.close();
    const again = MetadataDb.open(path);
    assert.equal(again.schemaVersion, migrations.length);
    const names = again
      .stmt("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
      .all()
      .map((r) => r.name);
    assert.deepEqual(names, [
      "containers",
      "lease_resources",
      "leases",
      "namespaces",
      "sandbox_instances",
      "sandboxes",
    ]);
    again.stmt("SELECT 1").get();
    again.close();
    const raw = new DatabaseSync(path);
    raw.exec(`PRAGMA user_version = ${migrations.length + 1}`);
    raw.close();
    assert.throws(
      () => MetadataDb.open(path),
      (err: Error) => isFailedPrecondition(err) && /newer/.test(err.message),
    );
  });
});

test("durable(): commits are not synced by SQLite; one WAL sync covers every caller before it", async () => {
  await withDb(async (m) => {
    const row = m.db.stmt("PRAGMA synchronous").get() as { synchronous: number };
    assert.equal(row.synchronous, 1, "NORMAL: the commit itself does not fsync");
    await m.db.durable();
    const ctx = ctxIn("default");
    m.namespaces.create("default", {});
    for (let i = 0; i < 5; i++) m.containers.create(ctx, container(`c${i}`));
    // Callers while a sync runs wait for it (or the next one): all resolve.
    await Promise.all([m.db.durable(), m.db.durable(), m.db.durable()]);
    // Nothing written since: nothing to wait for.
    await m.db.durable();
    m.db.close();
    await m.db.durable();
  });
});

test("the database is locked while open: a second opener fails fast", async () => {
  await withDb((_m, path) => {
    assert.throws(
      () => MetadataDb.open(path),
      (err: Error) => isUnavailable(err) && /locked by another process/.test(err.message),
    );
  });
});

test("namespaces: create, labels, update by key or whole, delete only when empty", async () => {
  await withDb((m) => {
    m.namespaces.create("a", { x: "1" });
    assert.throws(
      () => m.namespaces.create("a", {}),
      (e: Error) => isAlreadyExists(e) && e.message === 'namespace "a": already exists',
    );
    assert.throws(() => m.namespaces.create("a..b", {}), isInvalidArgument);
    assert.deepEqual(m.namespaces.labels("a"), { x: "1" });
    assert.deepEqual(m.namespaces.labels("missing"), {});
    assert.deepEqual(m.namespaces.updateLabels("a", { y: "2", x: "" }, ["y", "x"]), { y: "2" });
    assert.deepEqual(m.namespaces.updateLabels("a", { z: "3" }), { z: "3" });
    m.containers.create(ctxIn("a"), container("c"));
    m.leases.create(ctxIn("a"), "l", {});
    assert.throws(
      () => m.namespaces.delete("a"),
      (e: Error) =>
        isFailedPrecondition(e) &&
        e.message ===
          'namespace "a" must be empty, but it still has containers, leases: failed precondition',
    );
    m.containers.delete(ctxIn("a"), "c");
    m.leases.delete(ctxIn("a"), "l");
    m.namespaces.delete("a");
    assert.throws(() => m.namespaces.delete("a"), isNotFound);
    assert.deepEqual(m.namespaces.list(), []);
  });
});

test("containers: create validates like containerd, is namespaced, sets times", async () => {
  await withDb((m) => {
    const ctx = ctxIn("ns1");
    const c = m.containers.create(ctx, container("c1", { labels: { a: "b" }, sandbox: "sb1" }));
    assert.ok(c.createdAt > 0 && c.createdAt === c.updatedAt);
    assert.deepEqual(
      m.namespaces.list().map((n) => n.name),
      ["ns1"],
      "creating in a namespace creates it",
    );
    const got = m.containers.get(ctx, "c1");
    assert.equal(got.sandbox, "sb1");
    assert.deepEqual(got.labels, { a: "b" });
    assert.equal(got.spec?.typeUrl, JsonTypeUrl.Spec);
    assert.throws(
      () => m.containers.get(ctxIn("ns2"), "c1"),
      (e: Error) => e.message === 'container "c1" in namespace "ns2": not found',
    );
    assert.throws(
      () => m.containers.create(ctx, container("c1")),
      (e: Error) => isAlreadyExists(e) && e.message === 'container "c1": already exists',
    );
    assert.throws(() => m.containers.get(background(), "c1"), isFailedPrecondition);
    const invalid: [Partial<NewContainer>, string][] = [
      [
        { id: "../x" },
        'create container failed validation: container.ID: identifier "../x" must match',
      ],
      [
        { runtime: { name: "" } },
        "create container failed validation: container.Runtime.Name must be set",
      ],
      [{ spec: undefined }, "create container failed validation: container.Spec must be set"],
      [{ snapshotKey: "k" }, "container.Snapshotter must be set if container.SnapshotKey is set"],
      [
        { extensions: { "": pack(TaskExitSchema, {}) } },
        "container.Extension keys must not be zero-length",
      ],
    ];
    for (const [bad, message] of invalid) {
      assert.throws(
        () => m.containers.create(ctx, container("v", bad)),
        (e: Error) => isInvalidArgument(e) && e.message.includes(message),
        message,
      );
    }
    assert.throws(
      () => m.containers.get(ctx, "v"),
      isNotFound,
      "nothing written for invalid input",
    );
  });
});

test("containers: list filters (id, runtime.name, image, labels) like containerd", async () => {
  await withDb((m) => {
    const ctx = ctxIn("f");
    m.containers.create(
      ctx,
      container("web", { labels: { app: "web", tier: "" }, image: "nginx" }),
    );
    m.containers.create(
      ctx,
      container("db", { labels: { app: "db" }, runtime: { name: "io.other.v1" } }),
    );
    const ids = (filters: string[]) => m.containers.list(ctx, filters).map((c) => c.id);
    assert.deepEqual(ids([]), ["db", "web"]);
    assert.deepEqual(ids(["labels.app==web"]), ["web"]);
    assert.deepEqual(ids(["labels.tier"]), ["web"], "a label with an empty value is present");
    assert.deepEqual(ids(["image"]), ["web"], "an empty field is absent");
    assert.deepEqual(ids(["runtime.name==io.other.v1"]), ["db"]);
    assert.deepEqual(ids(["id~=^w", "id==db"]), ["db", "web"], "filters are ORed");
    assert.deepEqual(ids(["labels.app==web,image==nginx"]), ["web"]);
    assert.throws(() => ids(["labels.a=="]), isInvalidArgument);
  });
});

test("containers: update by field paths, immutable fields, unknown paths", async () => {
  await withDb((m) => {
    const ctx = ctxIn("u");
    const ext = pack(TaskExitSchema, { containerId: "x" });
    m.containers.create(
      ctx,
      container("c", { labels: { a: "1", b: "2" }, extensions: { e1: ext } }),
    );
    const u1 = m.containers.update(ctx, container("c", { labels: { a: "9" }, image: "img" }), [
      "labels.a",
      "labels.b",
      "image",
    ]);
    assert.deepEqual(u1.labels, { a: "9" });
    assert.equal(u1.image, "img");
    assert.deepEqual(Object.keys(u1.extensions), ["e1"]);
    const u2 = m.containers.update(ctx, container("c", { extensions: {} }), ["extensions.e1"]);
    assert.deepEqual(u2.extensions, {});
    assert.throws(
      () => m.containers.update(ctx, container("c"), ["runtime"]),
      (e: Error) =>
        isInvalidArgument(e) &&
        e.message === 'cannot update "runtime" field on "c": invalid argument',
    );
    assert.throws(
      () => m.containers.update(ctx, container("c", { runtime: { name: "io.x.v1" } })),
      (e: Error) => e.message === "container.Runtime.Name field is immutable: invalid argument",
    );
    const full = m.containers.update(ctx, container("c", { labels: { z: "z" } }));
    assert.deepEqual(full.labels, { z: "z" });
    assert.equal(full.image, "", "an update without paths replaces the default set");
    assert.ok(full.updatedAt >= full.createdAt);
    assert.throws(() => m.containers.update(ctx, container("missing")), isNotFound);
  });
});

test("leases: generated ids, filters, resources", async () => {
  await withDb((m) => {
    const ctx = ctxIn("l");
    const gen = m.leases.create(ctx, "", { "containerd.io/gc.expire": "2030-01-01T00:00:00Z" });
    assert.match(gen.id, /^\d+-[A-Za-z0-9_-]{4}$/);
    m.leases.create(ctx, "1700000000-AbC_", {});
    assert.throws(() => m.leases.create(ctx, "1700000000-AbC_", {}), isAlreadyExists);
    assert.deepEqual(
      m.leases.list(ctx, ["id==1700000000-AbC_"]).map((l) => l.id),
      ["1700000000-AbC_"],
    );
    assert.throws(() => m.leases.list(ctx, ["labels.containerd.io/gc.expire"]), isInvalidArgument);
    assert.equal(m.leases.list(ctx, ['labels."containerd.io/gc.expire"']).length, 1);
    const digest = `sha256:${"a".repeat(64)}`;
    m.leases.addResource(ctx, gen.id, { id: digest, type: "content" });
    m.leases.addResource(ctx, gen.id, { id: "k", type: "snapshots/overlayfs" });
    assert.deepEqual(m.leases.listResources(ctx, gen.id), [
      { type: "content", id: digest },
      { type: "snapshots/overlayfs", id: "k" },
    ]);
    assert.throws(
      () => m.leases.addResource(ctx, gen.id, { id: "x", type: "content" }),
      isInvalidArgument,
    );
    assert.throws(
      () => m.leases.addResource(ctx, gen.id, { id: "x", type: "images" }),
      isNotImplemented,
    );
    assert.throws(
      () => m.leases.addResource(ctx, "missing", { id: "k", type: "ingests" }),
      isNotFound,
    );
    m.leases.deleteResource(ctx, gen.id, { id: "k", type: "snapshots/overlayfs" });
    m.leases.delete(ctx, gen.id);
    assert.throws(() => m.leases.listResources(ctx, gen.id), isNotFound);
    assert.throws(() => m.leases.delete(ctx, gen.id), isNotFound);
  });
});

test("kill -9 during writes never corrupts the database or leaves half an object", async () => {
  const dir = await mkdtemp(join(tmpdir(), "sbxd-crash-"));
  const path = join(dir, "meta.db");
  const metadataModule = new URL("./metadata.js", import.meta.url).href;
  const coreModule = import.meta.resolve("@sandboxd/core");
  const apiModule = import.meta.resolve("@sandboxd/api");
  // The writer creates containers (namespace + row in one transaction) and
  // rewrites them, printing each committed id; it is killed mid-stream.
  const writer = `
    const { openMetadata } = await import(${JSON.stringify(metadataModule)});
    const { background, withNamespace } = await import(${JSON.stringify(coreModule)});
    const { packJson } = await import(${JSON.stringify(apiModule)});
    const m = openMetadata(${JSON.stringify(path)});
    const big = "x".repeat(3000);
    for (let i = 0; ; i++) {
      const ctx = withNamespace(background(), "ns" + (i % 7));
      const id = "c" + i;
      const c = { id, labels: { big, n: String(i) }, image: "", runtime: { name: "io.containerd.runc.v2" },
        spec: packJson("types.containerd.io/opencontainers/runtime-spec/1/Spec", { n: i, big }),
        snapshotter: "", snapshotKey: "", extensions: {}, sandbox: "" };
      m.containers.create(ctx, c);
      m.containers.update(ctx, { ...c, labels: { big, n: String(i), updated: "yes" } }, ["labels"]);
      process.stdout.write(id + "\\n");
    }
  `;
  try {
    for (let round = 0; round < 4; round++) {
      const child = spawn(process.execPath, ["--input-type=module", "-e", writer], {
        stdio: ["ignore", "pipe", "inherit"],
      });
      let committed = "";
      const target = 20 + round * 37;
      await new Promise<void>((resolve) => {
        child.stdout.setEncoding("utf8").on("data", (d: string) => {
          committed += d;
          if (committed.split("\n").length > target && child.exitCode === null) {
            child.kill("SIGKILL");
          }
        });
        child.once("exit", () => resolve());
      });
      const m = openMetadata(path);
      try {
        const raw = m.db.stmt("PRAGMA integrity_check").get();
        assert.equal(raw?.integrity_check, "ok");
        const done = committed.split("\n").filter(Boolean);
        for (let n = 0; n < 7; n++) {
          for (const c of m.containers.list(withNamespace(background(), `ns${n}`))) {
            assert.equal(c.labels.big?.length, 3000, `${c.id}: labels whole`);
            assert.ok(c.spec && c.spec.value.length > 3000, `${c.id}: spec whole`);
          }
        }
        for (const id of done) {
          const i = Number(id.slice(1));
          const c = m.containers.get(withNamespace(background(), `ns${i % 7}`), id);
          assert.equal(c.labels.updated, "yes", `${id} was committed before the kill`);
        }
        // Restart the sequence where it may have stopped: drop everything for the next round.
        for (let n = 0; n < 7; n++) {
          const ctx = withNamespace(background(), `ns${n}`);
          for (const c of m.containers.list(ctx)) m.containers.delete(ctx, c.id);
        }
      } finally {
        m.db.close();
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
