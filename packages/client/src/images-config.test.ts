import assert from "node:assert/strict";
import { test } from "node:test";
import { isInvalidArgument, isNotFound } from "@sandboxd/errdefs";
import { imageProcess, resolveUser } from "./images-config.js";

const config = {
  Entrypoint: ["/docker-entrypoint.sh"],
  Cmd: ["httpd", "-f"],
  Env: ["PATH=/bin", "A=1"],
  WorkingDir: "/srv",
  User: "www",
};

test("entrypoint + cmd like docker run: a command replaces Cmd, --entrypoint replaces both", () => {
  assert.deepEqual(imageProcess(config), {
    args: ["/docker-entrypoint.sh", "httpd", "-f"],
    env: ["PATH=/bin", "A=1"],
    cwd: "/srv",
    user: "www",
  });
  assert.deepEqual(imageProcess(config, { args: ["sh", "-c", "true"] }).args, [
    "/docker-entrypoint.sh",
    "sh",
    "-c",
    "true",
  ]);
  assert.deepEqual(imageProcess(config, { entrypoint: ["/bin/sh"] }).args, ["/bin/sh"]);
  assert.deepEqual(imageProcess(config, { entrypoint: ["/bin/sh"], args: ["-c", "id"] }).args, [
    "/bin/sh",
    "-c",
    "id",
  ]);
  assert.deepEqual(imageProcess(config, { env: ["A=2", "B=3"] }).env, ["PATH=/bin", "A=2", "B=3"]);
  assert.equal(imageProcess({ Cmd: ["true"] }).cwd, "/");
  assert.throws(() => imageProcess({}), isInvalidArgument);
});

test("users resolve against the image's passwd and group", () => {
  const passwd = "root:x:0:0::/root:/bin/sh\nwww:x:33:33::/srv:/bin/false\n";
  const group = "root:x:0:\nwww:x:33:\nlogs:x:4:www,other\n";
  assert.deepEqual(resolveUser("", passwd, group), { uid: 0, gid: 0, additionalGids: [] });
  assert.deepEqual(resolveUser("www", passwd, group), { uid: 33, gid: 33, additionalGids: [4] });
  assert.deepEqual(resolveUser("www:logs", passwd, group), { uid: 33, gid: 4, additionalGids: [] });
  assert.deepEqual(resolveUser("1000:1001"), { uid: 1000, gid: 1001, additionalGids: [] });
  assert.deepEqual(resolveUser("33", passwd, group), { uid: 33, gid: 33, additionalGids: [4] });
  assert.throws(() => resolveUser("nobody", passwd, group), isNotFound);
  assert.throws(() => resolveUser("www:nogroup", passwd, group), isNotFound);
});
