import assert from "node:assert/strict";
import { test } from "node:test";
import { isInvalidArgument } from "@sandboxd/errdefs";
import { mountArgs } from "./mounts.js";

test("containerd mounts become mount(8) arguments", () => {
  assert.deepEqual(
    mountArgs(
      { type: "overlay", source: "overlay", options: ["lowerdir=/l", "upperdir=/u", "workdir=/w"] },
      "/b/rootfs",
    ),
    ["-t", "overlay", "-o", "lowerdir=/l,upperdir=/u,workdir=/w", "overlay", "/b/rootfs"],
  );
  assert.deepEqual(mountArgs({ type: "bind", source: "/snap", options: ["ro"] }, "/b/rootfs"), [
    "-o",
    "bind,ro",
    "/snap",
    "/b/rootfs",
  ]);
  assert.deepEqual(mountArgs({ type: "none", source: "/snap", options: ["rbind", "rw"] }, "/t"), [
    "-o",
    "rbind,rw",
    "/snap",
    "/t",
  ]);
  assert.throws(
    () => mountArgs({ type: "bind", source: "", options: [] }, "/t"),
    (e: Error) => isInvalidArgument(e),
  );
});
