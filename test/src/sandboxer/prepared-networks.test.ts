// Pod networks made ahead of time (`[network] prepared_networks`): a pod takes
// one (namespaces + CNI network) instead of making its own, gets its own name and
// address in it, and gives it back like any other; a kill -9 keeps the prepared
// ones, a clean stop gives them all back.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { waitUntil } from "@sandboxd/testing";
import { bundle, collect, fifos, sandboxerFixture, type Fixture } from "./helpers.js";

const leaseName = /^\d+\.\d+\.\d+\.\d+$/;

async function preparedIds(f: Fixture): Promise<string[]> {
  const names = await readdir(join(f.sbx.stateDir, "prepared")).catch(() => []);
  return names.filter((n) => n.endsWith(".json")).sort();
}

async function leases(f: Fixture): Promise<string[]> {
  const names = await readdir(join(f.sbx.stateDir, "cni", "sbx")).catch(() => []);
  return names.filter((n) => leaseName.test(n)).sort();
}

/** Prepared records whose ADD answered (a record is written before its ADD too). */
async function readyCount(f: Fixture): Promise<number> {
  let n = 0;
  for (const id of await preparedIds(f)) {
    const rec = JSON.parse(await readFile(join(f.sbx.stateDir, "prepared", id), "utf8")) as {
      network?: unknown;
    };
    if (rec.network) n++;
  }
  return n;
}

/** Starts pod `id` with a container that prints its hostname, /etc/hosts and eth0's address. */
async function podSees(f: Fixture, id: string): Promise<{ ip: string; out: string }> {
  const ctl = f.controller();
  const tasks = f.tasks();
  await ctl.create({ sandboxId: id });
  await ctl.start({ sandboxId: id });
  const ip = (await ctl.status({ sandboxId: id, verbose: true })).info.ip ?? "";
  const io = await fifos(f, id);
  const out = collect(io.stdout);
  const dir = await bundle(f, `${id}-look`, {
    args: ["/bin/sh", "-c", "hostname; cat /etc/hosts; ip -4 addr show eth0"],
    sandboxId: id,
  });
  await tasks.create({ id: `${id}-look`, bundle: dir, stdout: io.stdout, stderr: io.stderr });
  const wait = tasks.wait({ id: `${id}-look` });
  await tasks.start({ id: `${id}-look` });
  assert.equal((await wait).exitStatus, 0);
  await tasks.delete({ id: `${id}-look` });
  return { ip, out: await out };
}

function assertOwnNetwork(f: Fixture, id: string, seen: { ip: string; out: string }): void {
  const prefix = f.sbx.subnet.split(".").slice(0, 3).join(".");
  assert.ok(seen.ip.startsWith(`${prefix}.`), `pod ip ${seen.ip} in ${f.sbx.subnet}`);
  const [name, ...rest] = seen.out.split("\n");
  assert.equal(name, id, "the pod's own hostname");
  assert.match(rest.join("\n"), new RegExp(`${seen.ip.replace(/\./g, "\\.")}\\s+${id}`));
  assert.match(rest.join("\n"), new RegExp(`inet ${seen.ip.replace(/\./g, "\\.")}/`));
}

/** A clean stop (SIGTERM) gives every prepared network back: no pin, lease or veth is left. */
async function stopsClean(f: Fixture): Promise<void> {
  await f.sbx.kill("SIGTERM");
  assert.deepEqual(await preparedIds(f), []);
  assert.deepEqual(await leases(f), []);
  const mountinfo = await readFile("/proc/self/mountinfo", "utf8");
  assert.ok(!mountinfo.includes(join(f.sbx.stateDir, "ns", ".prepared")), "no prepared pin");
  assert.equal(
    existsSync(`/sys/class/net/${f.sbx.bridge}`),
    false,
    "the bridge went with its last veth",
  );
}

test("pods take prepared networks, each with its own name and address; more are made; a clean stop gives them back", async (t) => {
  const f = await sandboxerFixture(t, { preparedNetworks: 2 });
  await waitUntil(async () => (await readyCount(f)) === 2, {
    timeoutMs: 60_000,
    what: "2 prepared networks",
  });
  const before = await preparedIds(f);
  const one = await podSees(f, "one");
  assertOwnNetwork(f, "one", one);
  const two = await podSees(f, "two");
  assertOwnNetwork(f, "two", two);
  assert.notEqual(one.ip, two.ip);
  // Both were taken (their records went) and two others made in their place.
  await waitUntil(async () => (await readyCount(f)) === 2, {
    timeoutMs: 60_000,
    what: "the pool refilled",
  });
  const after = await preparedIds(f);
  assert.deepEqual(
    after.filter((id) => before.includes(id)),
    [],
    "the ones prepared first were taken",
  );
  const ctl = f.controller();
  await ctl.shutdown({ sandboxId: "one" });
  await ctl.shutdown({ sandboxId: "two" });
  // The pods' leases went with them; the prepared ones hold the rest.
  assert.equal((await leases(f)).length, 2);
  assert.ok(!(await leases(f)).includes(one.ip) && !(await leases(f)).includes(two.ip));
  await stopsClean(f);
});

test("after a kill -9 the prepared networks are kept and still given to pods", async (t) => {
  const f = await sandboxerFixture(t, { preparedNetworks: 1 });
  await waitUntil(async () => (await readyCount(f)) === 1, {
    timeoutMs: 60_000,
    what: "1 prepared network",
  });
  const kept = await preparedIds(f);
  await f.sbx.kill("SIGKILL");
  await f.sbx.restart();
  await f.reconnect();
  assert.deepEqual(await preparedIds(f), kept, "recovered, not made again");
  const seen = await podSees(f, "late");
  assertOwnNetwork(f, "late", seen);
  assert.ok(!(await preparedIds(f)).includes(kept[0]!), "the kept one was taken");
  await waitUntil(async () => (await readyCount(f)) === 1, {
    timeoutMs: 60_000,
    what: "the pool refilled",
  });
  await f.controller().shutdown({ sandboxId: "late" });
  await stopsClean(f);
});
