import assert from "node:assert/strict";
import { test } from "node:test";
import { isInvalidArgument, isNotFound } from "@sandboxd/errdefs";
import { resolveUser } from "./user.js";

const passwd = [
  "root:x:0:0:root:/root:/bin/sh",
  "# a comment",
  "www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin",
  "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin",
  "app:x:1000:50000::/home/app:/bin/sh",
  "broken:x:notanumber:1::/:/bin/sh",
].join("\n");
const group = [
  "root:x:0:",
  "adm:x:4:www-data,app",
  "www-data:x:33:www-data",
  "video:x:44:app",
  "predefined:x:50000:",
  "nogroup:x:65534:",
].join("\n");

test("resolveUser: names and ids, with and without a group", () => {
  assert.deepEqual(resolveUser("", passwd, group), {
    uid: 0,
    gid: 0,
    additionalGids: [0],
    username: "root",
  });
  assert.deepEqual(resolveUser("www-data", passwd, group), {
    uid: 33,
    gid: 33,
    additionalGids: [33, 4],
    username: "www-data",
  });
  assert.deepEqual(resolveUser("1000", passwd, group), {
    uid: 1000,
    gid: 50000,
    additionalGids: [50000, 4, 44],
    username: "app",
  });
  // A uid without an entry: gid 0, no supplementary groups.
  assert.deepEqual(resolveUser("1002", passwd, group), { uid: 1002, gid: 0, additionalGids: [0] });
  assert.deepEqual(resolveUser("1003:1004", passwd, group), {
    uid: 1003,
    gid: 1004,
    additionalGids: [1004],
  });
  assert.deepEqual(resolveUser("www-data:1004", passwd, group).gid, 1004);
  assert.deepEqual(resolveUser("nobody:video", passwd, group), {
    uid: 65534,
    gid: 44,
    additionalGids: [44],
    username: "nobody",
  });
  assert.deepEqual(resolveUser("33:nogroup", passwd, group).gid, 65534);
  // No passwd at all: numeric ids still work.
  assert.deepEqual(resolveUser("7:8"), { uid: 7, gid: 8, additionalGids: [8] });
});

test("resolveUser: unknown names are NotFound, bad values InvalidArgument", () => {
  assert.throws(
    () => resolveUser("ghost", passwd, group),
    (e) => isNotFound(e) && /ghost/.test(String(e)),
  );
  assert.throws(
    () => resolveUser("root:ghosts", passwd, group),
    (e) => isNotFound(e) && /ghosts/.test(String(e)),
  );
  assert.throws(() => resolveUser("www-data"), isNotFound);
  assert.throws(() => resolveUser("broken", passwd, group), isNotFound);
  assert.throws(() => resolveUser("1:2:3", passwd, group), isInvalidArgument);
  assert.throws(() => resolveUser("1:", passwd, group), isInvalidArgument);
  assert.throws(
    () => resolveUser("4294967296", passwd, group),
    (e) => isInvalidArgument(e) && /out of range/.test(String(e)),
  );
});
