// Concurrency: 200 create/delete calls at once per kind of object
// (containers, sandboxes in the Store, namespaces, leases), half of them on a
// few shared ids, half on ids of their own. Every call returns within a
// deadline (no deadlock); a create fails only with AlreadyExists and a delete
// only with NotFound; no id is listed twice; for every id the acknowledged
// creates minus the acknowledged deletes is 0 or 1 and matches whether it
// exists at the end (no lost object, no duplicate); the daemon keeps serving.
// Then Controller calls (Start, Stop, Shutdown, Status) at once on a few
// sandboxes of the real sbx-sandboxer: each call returns within the deadline
// with an answer its contract allows, and at the end sandboxd's Status and
// the sandboxer's pods agree (a pod exactly when Status is not NotFound).
//
// Seeded: FAULT_SEED=<n> replays the ids and order of the calls.
import assert from "node:assert/strict";
import { test } from "node:test";
import { packJson, JsonTypeUrl } from "@sandboxd/api";
import { Containers } from "@sandboxd/api/services/containers/v1/containers_pb";
import { Leases } from "@sandboxd/api/services/leases/v1/leases_pb";
import { Namespaces } from "@sandboxd/api/services/namespaces/v1/namespace_pb";
import { Controller, Store } from "@sandboxd/api/services/sandbox/v1/sandbox_pb";
import { Code, codeOf, kindOf, messageOf } from "@sandboxd/errdefs";
import { Channel } from "@sandboxd/grpc";
import { ociSpec } from "@sandboxd/testing";
import { Rng, faultSeed, replay } from "./random.js";
import { removeAll, sandboxerPods, startStack } from "./stack.js";

const CALLS = 200;
const HOT_IDS = 4;
const NS = "conc";
const DEADLINE = { timeoutMs: 30_000 };

interface Kind {
  name: string;
  create(id: string): Promise<unknown>;
  remove(id: string): Promise<unknown>;
  list(): Promise<string[]>;
}

interface Tally {
  creates: number;
  deletes: number;
}

test(`concurrency: ${CALLS} parallel create/delete of the same and different ids, per kind`, async (t) => {
  const stack = await startStack(t, { network: false });
  const rng = Rng.for("concurrency");
  const channel = new Channel(stack.sandboxd.address, { metadata: { "containerd-namespace": NS } });
  t.after(() => channel.close());
  await channel.client(Namespaces).create({ namespace: { name: NS, labels: {} } });
  const spec = packJson(JsonTypeUrl.Spec, ociSpec({ args: ["/bin/true"], rootfs: stack.rootfs }));
  assert.ok(await stack.sandboxApi(), "sandboxd must serve the Sandbox API");

  const kinds: Kind[] = [
    {
      name: "container",
      create: (id) =>
        channel
          .client(Containers)
          .create(
            { container: { id, runtime: { name: "io.containerd.runc.v2" }, spec } },
            DEADLINE,
          ),
      remove: (id) => channel.client(Containers).delete({ id }, DEADLINE),
      list: async () =>
        (await channel.client(Containers).list({}, DEADLINE)).containers.map((c) => c.id),
    },
    {
      name: "namespace",
      create: (id) =>
        channel.client(Namespaces).create({ namespace: { name: id, labels: {} } }, DEADLINE),
      remove: (id) => channel.client(Namespaces).delete({ name: id }, DEADLINE),
      list: async () =>
        (await channel.client(Namespaces).list({}, DEADLINE)).namespaces
          .map((n) => n.name)
          .filter((n) => n !== NS),
    },
    {
      name: "lease",
      create: (id) => channel.client(Leases).create({ id, labels: {} }, DEADLINE),
      remove: (id) => channel.client(Leases).delete({ id, sync: false }, DEADLINE),
      list: async () => (await channel.client(Leases).list({}, DEADLINE)).leases.map((l) => l.id),
    },
  ];
  {
    kinds.push({
      name: "sandbox",
      create: (id) =>
        channel.client(Store).create(
          {
            sandbox: { sandboxId: id, runtime: { name: "io.containerd.sbx.v1" }, sandboxer: "sbx" },
          },
          DEADLINE,
        ),
      remove: (id) => channel.client(Store).delete({ sandboxId: id }, DEADLINE),
      list: async () =>
        (await channel.client(Store).list({}, DEADLINE)).list.map((s) => s.sandboxId),
    });
  }

  const summary: string[] = [];
  for (const kind of kinds) {
    const tally = new Map<string, Tally>();
    const unexpected: string[] = [];
    const calls = Array.from({ length: CALLS }, (_, i) => {
      const hot = rng.chance(0.5);
      const id = hot ? `${kind.name}-hot-${rng.int(HOT_IDS)}` : `${kind.name}-own-${i}`;
      // Own ids: a create, then sometimes a delete right behind it.
      const op: "create" | "delete" = hot ? rng.pick(["create", "delete"] as const) : "create";
      const alsoDelete = !hot && rng.chance(0.5);
      return { id, op, alsoDelete };
    });
    const record = (id: string, field: keyof Tally): void => {
      const x = tally.get(id) ?? { creates: 0, deletes: 0 };
      x[field]++;
      tally.set(id, x);
    };
    const call = async (id: string, op: "create" | "delete"): Promise<void> => {
      try {
        await (op === "create" ? kind.create(id) : kind.remove(id));
        record(id, op === "create" ? "creates" : "deletes");
      } catch (err) {
        const code = codeOf(kindOf(err));
        const expected = op === "create" ? Code.AlreadyExists : Code.NotFound;
        if (code !== expected) unexpected.push(`${op} ${id}: ${messageOf(err)}`);
      }
    };
    await Promise.all(
      calls.map(async (c) => {
        await call(c.id, c.op);
        if (c.alsoDelete) await call(c.id, "delete");
      }),
    );
    assert.deepEqual(unexpected, [], `${kind.name}: unexpected errors (${replay()})`);

    const listed = await kind.list();
    assert.equal(new Set(listed).size, listed.length, `${kind.name}: an id listed twice`);
    const ids = new Set([...calls.map((c) => c.id), ...listed]);
    for (const id of ids) {
      const x = tally.get(id) ?? { creates: 0, deletes: 0 };
      const balance = x.creates - x.deletes;
      assert.ok(
        balance === 0 || balance === 1,
        `${kind.name} ${id}: ${x.creates} creates and ${x.deletes} deletes acknowledged (${replay()})`,
      );
      assert.equal(
        listed.includes(id),
        balance === 1,
        `${kind.name} ${id}: ${x.creates} creates, ${x.deletes} deletes acknowledged, listed: ${listed.includes(id)} (${replay()})`,
      );
    }
    // Everything left can be removed, and then nothing is listed.
    for (const id of listed) await kind.remove(id);
    assert.deepEqual(await kind.list(), [], `${kind.name}: left after removal`);
    const ok = [...tally.values()].reduce((n, x) => n + x.creates + x.deletes, 0);
    summary.push(`${kind.name}: ${ok} acknowledged, ${listed.length} left`);
  }
  t.diagnostic(`seed ${faultSeed}: ${summary.join("; ")}`);

  await removeAll(stack.sandboxd.address);
  await stack.checkLeaks();
});

const CONTROLLER_CALLS = 80;
const PODS = 3;

test(`concurrency: ${CONTROLLER_CALLS} parallel Controller calls on ${PODS} sandboxes agree with the sandboxer`, async (t) => {
  const stack = await startStack(t, { network: false });
  const rng = Rng.for("concurrency-controller");
  const channel = new Channel(stack.sandboxd.address, { metadata: { "containerd-namespace": NS } });
  t.after(() => channel.close());
  await channel.client(Namespaces).create({ namespace: { name: NS, labels: {} } });
  assert.ok(await stack.sandboxApi(), "sandboxd must serve the Sandbox API");
  const ids = Array.from({ length: PODS }, (_, i) => `ctl-${i}`);
  for (const id of ids) {
    await channel
      .client(Store)
      .create(
        { sandbox: { sandboxId: id, runtime: { name: "io.containerd.sbx.v1" }, sandboxer: "sbx" } },
        DEADLINE,
      );
  }
  const controller = channel.client(Controller);
  type Op = "start" | "stop" | "shutdown" | "status";
  // What each call may answer besides success: Start of a stopped pod is
  // FailedPrecondition; Status of a sandbox no controller holds is NotFound.
  const allowed: Record<Op, Code[]> = {
    start: [Code.FailedPrecondition],
    stop: [],
    shutdown: [],
    status: [Code.NotFound],
  };
  const unexpected: string[] = [];
  const counts: Record<string, number> = {};
  await Promise.all(
    Array.from({ length: CONTROLLER_CALLS }, async () => {
      const id = rng.pick(ids);
      const op = rng.pick(["start", "start", "stop", "shutdown", "status"] as const);
      try {
        if (op === "start") await controller.start({ sandboxId: id }, DEADLINE);
        else if (op === "stop") await controller.stop({ sandboxId: id, timeoutSecs: 1 }, DEADLINE);
        else if (op === "shutdown") await controller.shutdown({ sandboxId: id }, DEADLINE);
        else await controller.status({ sandboxId: id }, DEADLINE);
        counts[op] = (counts[op] ?? 0) + 1;
      } catch (err) {
        if (!allowed[op].includes(codeOf(kindOf(err))))
          unexpected.push(`${op} ${id}: ${messageOf(err)}`);
      }
    }),
  );
  assert.deepEqual(unexpected, [], `unexpected answers (${replay()})`);
  const pods = await sandboxerPods(stack.sandboxer);
  for (const id of ids) {
    let state = "notfound";
    try {
      state = (await controller.status({ sandboxId: id }, DEADLINE)).state;
    } catch (err) {
      if (codeOf(kindOf(err)) !== Code.NotFound) throw err;
    }
    assert.equal(
      pods.includes(`${NS}/${id}`),
      state !== "notfound",
      `${id}: Status ${state}, sandboxer pods ${JSON.stringify(pods)} (${replay()})`,
    );
  }
  t.diagnostic(`seed ${faultSeed}: ${JSON.stringify(counts)} acknowledged`);
  await removeAll(stack.sandboxd.address);
  assert.deepEqual(await sandboxerPods(stack.sandboxer), [], "sandboxer pods left");
  await stack.checkLeaks();
});
