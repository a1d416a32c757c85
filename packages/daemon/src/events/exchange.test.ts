import { test } from "node:test";
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { background, withNamespace } from "@sandboxd/core";
import { isFailedPrecondition, isInvalidArgument, isResourceExhausted } from "@sandboxd/errdefs";
import { pack } from "@sandboxd/api";
import { ContainerCreateSchema } from "@sandboxd/api/events/container_pb";
import { TaskExitSchema } from "@sandboxd/api/events/task_pb";
import { EnvelopeSchema, type Envelope } from "@sandboxd/api/types/event_pb";
import { Exchange, publishEvent, validateEnvelope, validateTopic } from "./exchange.js";

async function take(it: AsyncIterable<Envelope>, n: number): Promise<Envelope[]> {
  const out: Envelope[] = [];
  if (n === 0) return out;
  for await (const e of it) {
    out.push(e);
    if (out.length === n) break;
  }
  return out;
}

test("publish stamps namespace and time; subscribers see every namespace in order", async () => {
  const ex = new Exchange();
  const ac = new AbortController();
  const all = ex.subscribe(ac.signal);
  publishEvent(ex, withNamespace(background(), "a"), "/tasks/exit", TaskExitSchema, {
    containerId: "c1",
  });
  publishEvent(ex, withNamespace(background(), "b"), "/containers/create", ContainerCreateSchema, {
    id: "c2",
  });
  const got = await take(all, 2);
  assert.deepEqual(
    got.map((e) => [e.namespace, e.topic, e.event?.typeUrl]),
    [
      ["a", "/tasks/exit", "containerd.events.TaskExit"],
      ["b", "/containers/create", "containerd.events.ContainerCreate"],
    ],
  );
  assert.ok((got[0]?.timestamp?.seconds ?? 0n) > 0n);
  ac.abort();
  assert.equal(ex.subscriberCount, 0);
});

test("filters: namespace, topic, event fields, ORed filter strings", async () => {
  const ex = new Exchange();
  const ac = new AbortController();
  const sub = ex.subscribe(ac.signal, ['namespace==b,topic~="^/tasks/"', "event.id==c9"]);
  const a = withNamespace(background(), "a");
  const b = withNamespace(background(), "b");
  publishEvent(ex, a, "/tasks/exit", TaskExitSchema, { containerId: "c1" });
  publishEvent(ex, b, "/containers/create", ContainerCreateSchema, { id: "c2" });
  publishEvent(ex, b, "/tasks/exit", TaskExitSchema, { containerId: "c3", exitStatus: 3 });
  publishEvent(ex, a, "/containers/create", ContainerCreateSchema, { id: "c9" });
  const got = await take(sub, 2);
  assert.deepEqual(
    got.map((e) => `${e.namespace}${e.topic}`),
    ["b/tasks/exit", "a/containers/create"],
  );
  ac.abort();
  const sub2 = ex.subscribe(new AbortController().signal, [
    "event.exit_status==3",
    "event.container_id==zz",
  ]);
  publishEvent(ex, a, "/tasks/exit", TaskExitSchema, { containerId: "x", exitStatus: 3 });
  assert.equal((await take(sub2, 1))[0]?.event?.typeUrl, "containerd.events.TaskExit");
  assert.throws(() => ex.subscribe(ac.signal, ["namespace=="]), isInvalidArgument);
});

test("publish needs a namespace and a valid topic", () => {
  const ex = new Exchange();
  const event = pack(TaskExitSchema, {});
  assert.throws(
    () => ex.publish(background(), "/tasks/exit", event),
    (e: Error) =>
      isFailedPrecondition(e) &&
      e.message === "failed publishing event: namespace is required: failed precondition",
  );
  for (const topic of ["", "tasks", "/", "/a//b", "/a/b--c"]) {
    assert.throws(() => validateTopic(topic), isInvalidArgument, topic);
  }
  validateTopic("/tasks/exec-added");
});

test("forwarded envelopes are validated like containerd's exchange", () => {
  const ok = create(EnvelopeSchema, {
    namespace: "ns",
    topic: "/tasks/exit",
    timestamp: timestampFromMs(Date.now()),
    event: pack(TaskExitSchema, {}),
  });
  validateEnvelope(ok);
  const bad: [Partial<Envelope>, string][] = [
    [{ timestamp: undefined }, "timestamp must be set on forwarded event: invalid argument"],
    [
      { namespace: "" },
      "event envelope has invalid namespace: identifier must not be empty: invalid argument",
    ],
    [{ namespace: "a..b" }, "event envelope has invalid namespace"],
    [
      { topic: "/tasks/bad..x" },
      'envelope topic "/tasks/bad..x": failed validation on component "bad..x"',
    ],
  ];
  for (const [patch, message] of bad) {
    assert.throws(
      () => validateEnvelope({ ...ok, ...patch }),
      (e: Error) => isInvalidArgument(e) && e.message.startsWith(message),
      message,
    );
  }
  const ex = new Exchange();
  let seen = 0;
  ex.listen(() => seen++);
  ex.forward(background(), ok);
  assert.equal(seen, 1, "listeners see forwarded envelopes");
});

test("a subscriber that falls too far behind is dropped with ResourceExhausted", async () => {
  const ex = new Exchange({ maxQueue: 3 });
  const sub = ex.subscribe(new AbortController().signal);
  const ctx = withNamespace(background(), "n");
  for (let i = 0; i < 5; i++) publishEvent(ex, ctx, "/x", TaskExitSchema, {});
  await assert.rejects(take(sub, 10), isResourceExhausted);
  assert.equal(ex.subscriberCount, 0);
});

test("close ends every subscription normally", async () => {
  const ex = new Exchange();
  const sub = ex.subscribe(new AbortController().signal);
  const pending = take(sub, 5);
  ex.close();
  assert.deepEqual(await pending, []);
});
