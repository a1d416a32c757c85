import { test } from "node:test";
import assert from "node:assert/strict";
import { commands } from "./commands.js";
import { commandHelp } from "./help.js";

test("help says each flag's extras once (no '(repeatable) (repeatable)')", () => {
  for (const spec of commands) {
    const text = commandHelp(spec);
    assert.doesNotMatch(text, /repeatable\)? \(repeatable/, spec.name);
    for (const flag of spec.flags.filter((f) => f.multiple)) {
      const line = text.split("\n").find((l) => l.includes(`--${flag.name} `));
      assert.match(line ?? "", /\(repeatable\)$/, `${spec.name} --${flag.name}`);
    }
  }
});
