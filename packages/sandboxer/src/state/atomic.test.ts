import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { isFailedPrecondition } from "@sandboxd/errdefs";
import {
  ensureDir,
  readJson,
  readRecord,
  readText,
  writeFileAtomic,
  writeJsonAtomic,
} from "./atomic.js";
import { recordVersion } from "./records.js";
import { Layout } from "./layout.js";

test("atomic writes replace the file whole and leave no temp files", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sbx-atomic-"));
  try {
    const file = join(dir, "state.json");
    await writeJsonAtomic(file, { a: 1 });
    await writeJsonAtomic(file, { a: 2, b: "x" });
    assert.deepEqual(await readJson(file), { a: 2, b: "x" });
    assert.deepEqual(readdirSync(dir), ["state.json"]);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    await writeFileAtomic(join(dir, "hosts"), "127.0.0.1 localhost\n", 0o644);
    assert.equal(statSync(join(dir, "hosts")).mode & 0o777, 0o644);
    assert.equal(readFileSync(join(dir, "hosts"), "utf8"), "127.0.0.1 localhost\n");
    assert.equal(await readJson(join(dir, "missing.json")), undefined);
    assert.equal(await readText(join(dir, "missing")), undefined);
    await ensureDir(join(dir, "a", "b"));
    assert.ok(statSync(join(dir, "a", "b")).isDirectory());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a failed write leaves the old content", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sbx-atomic-"));
  try {
    const file = join(dir, "x");
    await writeFileAtomic(file, "old");
    // A directory where the file should go makes rename fail.
    await assert.rejects(writeFileAtomic(join(dir, "missing-dir", "x"), "new"));
    assert.equal(readFileSync(file, "utf8"), "old");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the layout puts each thing in its documented place", () => {
  const l = new Layout("/run/sbx");
  assert.equal(l.sandboxFile("default", "p1"), "/run/sbx/sandboxes/default/p1/sandbox.json");
  assert.equal(
    l.containerFile("default", "p1", "c1"),
    "/run/sbx/sandboxes/default/p1/containers/c1/container.json",
  );
  assert.equal(
    l.execDir("default", "p1", "c1", "e1"),
    "/run/sbx/sandboxes/default/p1/containers/c1/execs/e1",
  );
  assert.equal(l.pinDir("k8s.io", "p1"), "/run/sbx/ns/k8s.io/p1");
  assert.equal(l.runcRoot("default"), "/run/sbx/runc/default");
  assert.equal(l.eventsFile("default"), "/run/sbx/events/default.json");
});

test("readRecord checks the record's version", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "sbx-record-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, "sandbox.json");
  assert.equal(await readRecord(file), undefined);
  await writeFile(file, JSON.stringify({ version: recordVersion, id: "a" }));
  assert.deepEqual(await readRecord(file), { version: recordVersion, id: "a" });
  await writeFile(file, JSON.stringify({ version: recordVersion + 1, id: "a" }));
  await assert.rejects(
    readRecord(file),
    (e) => isFailedPrecondition(e) && /version 2/.test(String(e)),
  );
  await writeFile(file, "[]");
  await assert.rejects(readRecord(file), /not a JSON object/);
});
