// sbx's hints key on what the throwing code builds from @sandboxd/core/messages
// (texts, builders, the SDK's missingApi); this ties each to its hint and pins
// the whole output, using the real thrower where one runs without sandboxd.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "@sandboxd/client";
import { Version } from "@sandboxd/api/services/version/v1/version_pb";
import { background, namespaceRequired } from "@sandboxd/core";
import {
  cannotDeleteContainerText,
  cannotReachText,
  listedKinds,
  notFoundText,
  stillHasContainersText,
} from "@sandboxd/core/messages";
import { failedPrecondition, notFound, notImplemented } from "@sandboxd/errdefs";
import { GrpcServer } from "@sandboxd/grpc";
import { describeError } from "./errors.js";

const options = { address: "/nonexistent/sandboxd.sock", debug: false };

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  assert.fail("expected a throw");
}

test("every recognised message text has its hint", async () => {
  const cases: [unknown, RegExp][] = [
    [thrown(() => namespaceRequired(background())), /Give one with -n NAME/],
    [
      failedPrecondition(`sandbox "sb-1" ${stillHasContainersText} "c1": delete them first`),
      /"sbx sandbox rm -f sb-1"/,
    ],
    [
      failedPrecondition(`${cannotDeleteContainerText} "c-1": it has a task`),
      /"sbx task kill c-1"/,
    ],
  ];
  const client = await Client.connect({ address: options.address });
  try {
    const down = await client.version().then(
      () => assert.fail("no daemon should answer"),
      (err: unknown) => err,
    );
    assert.ok(down instanceof Error && down.message.startsWith(cannotReachText));
    cases.push([down, /cannot connect to sandboxd at .*Is sandboxd running\?/]);
  } finally {
    client.close();
  }
  for (const [err, hint] of cases) {
    assert.match(describeError(err, options).text, hint);
  }
});

test("a NotFound built by notFoundText names the command that lists its kind", () => {
  const expected: Record<(typeof listedKinds)[number], string> = {
    sandbox:
      'sbx: sandbox "ghost": not found\n' +
      '  See what exists with "sbx sandbox ls" (in this namespace; -n picks another).\n',
    container:
      'sbx: container "ghost" in namespace "default": not found\n' +
      '  See what exists with "sbx container ls" (in this namespace; -n picks another).\n',
    task: 'sbx: task "ghost": not found\n  See what exists with "sbx task ls".\n',
  };
  const detail = { sandbox: "", container: ' in namespace "default"', task: "" };
  for (const kind of listedKinds) {
    const err = notFound(notFoundText(kind, "ghost", detail[kind]));
    assert.deepEqual(describeError(err, options), { text: expected[kind], status: 1 });
  }
  // Other NotFounds that happen to start with a kind's word get no listing hint.
  for (const message of ['sandboxer "kata" (configured: shim)', "sandbox runtime: no shim"]) {
    assert.equal(describeError(notFound(message), options).text, `sbx: ${message}: not found\n`);
  }
});

test("a daemon without the Sandbox API (containerd 1.6) is named as such", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "sbx-errors-"));
  const server = new GrpcServer().register(Version, {
    version: () => ({ version: "v1.6.38", revision: "" }),
  });
  t.after(async () => {
    await server.shutdown(0);
    await rm(dir, { recursive: true, force: true });
  });
  const address = join(dir, "containerd.sock");
  await server.listenUnix(address);
  const client = await Client.connect({ address });
  try {
    const err = await client.sandboxes().then(
      () => assert.fail("the Sandbox API is not served"),
      (e: unknown) => e,
    );
    const { text, status } = describeError(err, { address, debug: false });
    assert.equal(status, 1);
    assert.match(
      text,
      /^sbx: .*Store.*\n {2}The daemon at .* has no Sandbox API \(containerd 1\.6\?\): sbx needs sandboxd, or containerd 2\.x\.\n$/,
    );
  } finally {
    client.close();
  }
  // NotImplemented from anything else (one sandboxer's method) gets no such hint.
  const other = notImplemented("sandbox metrics");
  assert.equal(describeError(other, options).text, "sbx: sandbox metrics: not implemented\n");
});
