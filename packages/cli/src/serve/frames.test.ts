import { test } from "node:test";
import assert from "node:assert/strict";
import { encodeFrame, encodeHello, Frame, FrameReader, maxFrame, parseHello } from "./frames.js";
import type { Hello } from "./frames.js";
import { servedHere } from "./policy.js";

const hello: Hello = {
  cwd: "/home/me",
  stdinIsTTY: false,
  stdoutIsTTY: true,
  stderrIsTTY: true,
  columns: 120,
  rows: 40,
  argv: ["run", "--rm", "x", "sh", "-c", "echo 'a b'=c"],
  env: { PATH: "/bin", EMPTY: "", WITH_EQ: "a=b" },
};

test("a hello survives the wire, split anywhere", () => {
  const wire = Buffer.concat([encodeHello(hello), encodeFrame(Frame.Signal, "SIGINT")]);
  for (const cut of [1, 4, 5, 17, wire.length - 1]) {
    const reader = new FrameReader();
    const frames = [...reader.push(wire.subarray(0, cut)), ...reader.push(wire.subarray(cut))];
    assert.deepEqual(
      frames.map((f) => f.type),
      [Frame.Hello, Frame.Signal],
    );
    assert.deepEqual(parseHello(frames[0]!.payload), hello);
    assert.equal(frames[1]!.payload.toString(), "SIGINT");
  }
});

test("malformed hellos and oversized frames are refused", () => {
  const bad = (words: string[]): Buffer => Buffer.from(words.map((w) => `${w}\0`).join(""));
  assert.throws(() => parseHello(bad(["sbx-cli 2", "/", "000", "0 0", "0"])), /protocol/);
  assert.throws(() => parseHello(bad(["sbx-cli 1", "/", "0x0", "0 0", "0"])), /malformed/);
  assert.throws(() => parseHello(bad(["sbx-cli 1", "/", "000", "0 0", "3", "a"])), /count/);
  assert.throws(() => parseHello(Buffer.from("sbx-cli 1")), /NUL/);
  const head = Buffer.from([Frame.Stdin, 0, 0, 0, 0]);
  head.writeUInt32BE(maxFrame + 1, 1);
  assert.throws(() => new FrameReader().push(head), /frame of/);
});

test("what is served: not a terminal, not archives, not another daemon", () => {
  const own = "/run/sandboxd/sandboxd.sock";
  const call = (argv: string[], env: Record<string, string> = {}, cwd = "/"): boolean =>
    servedHere({ ...hello, argv, env, cwd }, own);
  assert.equal(call(["version"]), true);
  assert.equal(call(["--help"]), true);
  assert.equal(call(["nonsense"]), true);
  assert.equal(call(["run", "--rm", "x", "true"]), true);
  assert.equal(call(["run", "-it", "x", "sh"]), false);
  assert.equal(call(["task", "exec", "-t", "x", "sh"]), false);
  assert.equal(call(["task", "attach", "x"]), false);
  assert.equal(call(["image", "import", "f.tar"]), false);
  assert.equal(call(["--address", "/other.sock", "sandbox", "ls"]), false);
  assert.equal(call(["sandbox", "ls"], { SANDBOXD_ADDRESS: "/other.sock" }), false);
  assert.equal(call(["--address", "sandboxd.sock", "sandbox", "ls"], {}, "/run/sandboxd"), true);
});
