// The running target of malformed-input.test.ts: sbx-sandboxer and sandboxd
// (one stack for the whole file), a well-behaved client that checks between
// batches that both still answer, and the batch runner that throws the cases
// at them and tallies what came back.
import assert from "node:assert/strict";
import { after, before } from "node:test";
import { Containers } from "@sandboxd/api/services/containers/v1/containers_pb";
import { Namespaces } from "@sandboxd/api/services/namespaces/v1/namespace_pb";
import { Controller } from "@sandboxd/api/services/sandbox/v1/sandbox_pb";
import { Version } from "@sandboxd/api/services/version/v1/version_pb";
import { Sandboxer } from "@sandboxd/api/sandboxd/sandboxer/v1/sandboxer_pb";
import { Code, codeOf, kindOf, messageOf } from "@sandboxd/errdefs";
import { Channel } from "@sandboxd/grpc";
import { connect, createClient, type Client as TtrpcClient } from "@sandboxd/ttrpc";
import { NS, ttrpcCase } from "./malformed-cases.js";
import { Rng, faultSeed, replay } from "./random.js";
import { startStack, type Stack } from "./stack.js";
import { ttrpcExchange, type Method } from "./wire.js";

const BATCH = 250;
const IN_FLIGHT = 16;

/** The stack and its clients; started before the file's first test, stopped after its last. */
export class FuzzTarget {
  stack!: Stack;
  channel!: Channel;
  sandboxerConn!: TtrpcClient;
  readonly #closers: (() => unknown)[] = [];

  /** Registers the file's before/after hooks that start and stop the target. */
  static open(): FuzzTarget {
    const target = new FuzzTarget();
    before(() => target.#start());
    after(() => target.#stop());
    return target;
  }

  async #start(): Promise<void> {
    const closers = this.#closers;
    this.stack = await startStack({ after: (fn) => closers.push(fn) }, { network: false });
    this.channel = new Channel(this.stack.sandboxd.address, {
      metadata: { "containerd-namespace": NS },
    });
    closers.push(() => this.channel.close());
    this.sandboxerConn = await connect(this.stack.sandboxer.taskSocket);
    closers.push(() => this.sandboxerConn.close());
    await this.channel.client(Namespaces).create({ namespace: { name: NS, labels: {} } });
  }

  async #stop(): Promise<void> {
    for (const close of this.#closers.reverse()) await close();
  }

  alive(): void {
    const d = this.stack.sandboxd.process;
    assert.equal(d.exitCode ?? d.signalCode, null, `sandboxd died (${replay()})`);
    const s = this.stack.sandboxer.process;
    assert.equal(s.exitCode ?? s.signalCode, null, `sbx-sandboxer died (${replay()})`);
  }

  /**
   * The well-behaved client: both daemons answer, correctly. The deadline is
   * generous: this checks answers, not speed (a busy machine, and a daemon
   * still collecting the garbage of a 7 MiB request, answer late).
   */
  async healthy(when: string): Promise<void> {
    this.alive();
    const { channel, stack } = this;
    const o = { timeoutMs: 30_000 };
    try {
      const v = await channel.client(Version).version({}, o);
      assert.match(v.version, /sandboxd/);
      const ns = await channel.client(Namespaces).list({}, o);
      assert.ok(ns.namespaces.some((n) => n.name === NS));
      await assert.rejects(
        channel.client(Containers).get({ id: "no-such-container" }, o),
        (e) => codeOf(kindOf(e)) === Code.NotFound,
      );
      const info = await createClient(this.sandboxerConn, Sandboxer).info({}, o);
      assert.equal(info.pid, stack.sandboxer.pid);
      const ctl = new Channel(stack.sandboxer.listen, { metadata: { "containerd-namespace": NS } });
      try {
        await assert.rejects(
          ctl.client(Controller).status({ sandboxId: "no-such-pod" }, o),
          (e) => codeOf(kindOf(e)) === Code.NotFound,
        );
      } finally {
        ctl.close();
      }
    } catch (err) {
      throw new Error(`a well-behaved client failed ${when} (${replay()}): ${messageOf(err)}`, {
        cause: err,
      });
    }
  }

  /** Runs `count` cases with IN_FLIGHT at a time, checking health after each batch. */
  async batches<T>(
    what: string,
    count: number,
    make: (i: number) => () => Promise<T>,
    check: (outcome: T, i: number) => void,
  ): Promise<Map<string, number>> {
    const kinds = new Map<string, number>();
    for (let start = 0; start < count; start += BATCH) {
      const end = Math.min(count, start + BATCH);
      let next = start;
      const worker = async (): Promise<void> => {
        while (next < end) {
          const i = next++;
          const outcome = await make(i)();
          check(outcome, i);
          const k = describe(outcome);
          kinds.set(k, (kinds.get(k) ?? 0) + 1);
        }
      };
      await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
      await this.healthy(`after ${what} case ${end}`);
    }
    return kinds;
  }

  /** `count` fuzzed ttrpc frames at `socket`; a well-formed unary request must be answered. */
  async fuzzTtrpc(
    t: { diagnostic(s: string): void },
    what: string,
    socket: string,
    methods: Method[],
    nsKey: string,
    count: number,
  ): Promise<void> {
    const rng = Rng.for(what);
    const kinds = await this.batches(
      what,
      count,
      () => {
        const c = ttrpcCase(rng, methods, nsKey);
        return async () => ({
          c,
          outcome: await ttrpcExchange(socket, c.bytes, {
            waitMs: c.mustAnswer ? 20_000 : 150,
            chunks: c.chunks,
          }),
        });
      },
      ({ c, outcome }, i) => {
        assert.notEqual(
          outcome.kind,
          "error",
          `case ${i} (${c.label}): ${JSON.stringify(outcome)} (${replay()})`,
        );
        if (c.mustAnswer) {
          assert.equal(
            outcome.kind,
            "response",
            `case ${i} (${c.label}) got no response: ${JSON.stringify(outcome)} (${replay()})`,
          );
        }
      },
    );
    t.diagnostic(`seed ${faultSeed}; outcomes ${JSON.stringify([...kinds])}`);
  }
}

/** An outcome's kind for the tally: "status 3", "reset", "response", "closed"... */
function describe(o: unknown): string {
  const inner = (o as { outcome?: { kind: string; code?: number } }).outcome;
  if (!inner) return "?";
  return inner.code === undefined ? inner.kind : `${inner.kind} ${codeName(inner.code)}`;
}

export function codeName(c: number): string {
  return Object.entries(Code).find(([, v]) => v === c)?.[0] ?? String(c);
}
