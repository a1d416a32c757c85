// Concurrency: 200 create/delete calls at once per kind of object
// (containers, sandboxes in the Store, namespaces, leases), half of them on a
// few shared ids, half on ids of their own. Every call returns within a
// deadline (no deadlock); a create fails only with AlreadyExists and a delete
// only with NotFound; no id is listed twice; for every id the acknowledged
// creates minus the acknowledged deletes is 0 or 1 and matches whether it
// exists at the end (no lost object, no duplicate); the daemon keeps serving.
//
// Seeded: FAULT_SEED=<n> replays the ids and order of the calls.
import assert from "node:assert/strict";
import { test } from "node:test";
import { packJson, JsonTypeUrl } from "@sandboxd/api";
import { Containers } from "@sandboxd/api/services/containers/v1/containers_pb";
import { Leases } from "@sandboxd/api/services/leases/v1/leases_pb";
import { Namespaces } from "@sandboxd/api/services/namespaces/v1/namespace_pb";
import { Store } from "@sandboxd/api/services/sandbox/v1/sandbox_pb";
import { Code, codeOf, kindOf } from "@sandboxd/errdefs";
import { Channel } from "@sandboxd/grpc";
import { ociSpec } from "@sandboxd/testing";
import { Rng, faultSeed, replay } from "./random.js";
import { removeAll, startStack } from "./stack.js";

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
        if (code !== expected) unexpected.push(`${op} ${id}: ${(err as Error).message}`);
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
