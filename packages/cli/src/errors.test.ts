// sbx's hints key on the message texts that the throwing code builds from
// @sandboxd/core/messages; this ties every such text to its hint, using the
// real thrower where one runs without a daemon.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Client } from "@sandboxd/client";
import { background, namespaceRequired } from "@sandboxd/core";
import {
  cannotDeleteContainerText,
  cannotReachText,
  stillHasContainersText,
} from "@sandboxd/core/messages";
import { failedPrecondition } from "@sandboxd/errdefs";
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
