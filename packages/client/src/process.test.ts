import { test } from "node:test";
import assert from "node:assert/strict";
import { isInvalidArgument } from "@sandboxd/errdefs";
import { signalNumber } from "./process.js";

test("signalNumber takes names and numbers", () => {
  assert.equal(signalNumber("SIGTERM"), 15);
  assert.equal(signalNumber("SIGKILL"), 9);
  assert.equal(signalNumber("hup" as NodeJS.Signals), 1);
  assert.equal(signalNumber(2), 2);
  assert.throws(() => signalNumber("SIGNOPE" as NodeJS.Signals), isInvalidArgument);
  assert.throws(() => signalNumber(0), isInvalidArgument);
  assert.throws(() => signalNumber(1.5), isInvalidArgument);
});
