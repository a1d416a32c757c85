// CRI users resolved in the container's own rootfs (a pulled image's
// snapshot, mounted read-only for the lookup and unmounted after): image
// USER by name, name:gid and uid, run_as_username, membership groups from
// /etc/group merged with supplemental_groups, a symlinked /etc/passwd, and an
// unknown name refused with nothing left mounted or prepared.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { glob } from "node:fs/promises";
import { test } from "node:test";
import { ImageService } from "@sandboxd/api/cri/runtime/v1/api_pb";
import { Channel } from "@sandboxd/grpc";
import {
  buildImage,
  busyboxEntries,
  pushImage,
  requireRoot,
  startRegistry,
  type TarEntry,
} from "@sandboxd/testing";
import { containerConfig, openCri, podConfig } from "./harness.js";

const passwd = [
  "root:x:0:0:root:/root:/bin/sh",
  "www-data:x:33:33:www-data:/var/www:/bin/false",
  "nobody:x:65534:65534:nobody:/:/bin/false",
  "predef:x:1000:50000::/home/predef:/bin/sh",
  "",
].join("\n");
const group = [
  "root:x:0:",
  "adm:x:4:www-data",
  "www-data:x:33:",
  "video:x:44:www-data,predef",
  "predefined:x:50000:",
  "nogroup:x:65534:",
  "",
].join("\n");

/** busybox with this passwd and group (optionally /etc/passwd as a symlink into /usr/lib). */
function users(user: string, linked = false): ReturnType<typeof buildImage> {
  const base = busyboxEntries().filter((e) => e.name !== "etc/passwd" && e.name !== "etc/group");
  const etc: TarEntry[] = linked
    ? [
        { name: "usr/", type: "dir" },
        { name: "usr/lib/", type: "dir" },
        { name: "usr/lib/passwd", data: passwd },
        { name: "etc/passwd", type: "symlink", linkname: "/usr/lib/passwd" },
      ]
    : [{ name: "etc/passwd", data: passwd }];
  return buildImage({
    layers: [{ entries: base }, { entries: [...etc, { name: "etc/group", data: group }] }],
    config: { User: user },
  });
}

test("CRI users from the container's rootfs", { timeout: 300_000 }, async (t) => {
  requireRoot("sandboxd runs as root");
  const reg = await startRegistry(t);
  const w = await openCri();
  t.after(() => w.close());
  const channel = new Channel(w.daemon.address);
  t.after(() => channel.close());
  const im = channel.client(ImageService);
  const pull = async (repo: string, user: string, linked = false) => {
    const name = await pushImage(reg, `users/${repo}`, "1", users(user, linked));
    await im.pullImage({ image: { image: name } });
    return name;
  };
  const byName = await pull("by-name", "www-data");
  const nameGid = await pull("name-gid", "www-data:1004");
  const byUid = await pull("by-uid", "1000");
  const linked = await pull("linked", "www-data", true);

  const pod = podConfig(w, "users");
  const { podSandboxId } = await w.rt.runPodSandbox({ config: pod });
  const ids = async (
    image: string,
    sc: Parameters<typeof containerConfig>[3] = {},
  ): Promise<string> => {
    const name = `c${Math.random().toString(36).slice(2, 8)}`;
    const extra = { ...sc, image: { image } } as Parameters<typeof containerConfig>[3];
    const config = containerConfig(w, name, ["sleep", "3600"], extra);
    const { containerId } = await w.rt.createContainer({
      podSandboxId,
      config,
      sandboxConfig: pod,
    });
    await w.rt.startContainer({ containerId });
    const r = await w.rt.execSync({
      containerId,
      cmd: ["sh", "-c", 'echo "$(id -u) $(id -g) $(id -G)"'],
      timeout: 0n,
    });
    await w.rt.removeContainer({ containerId });
    // uid, gid, then the groups sorted (id -G puts the primary one first).
    const [uid = "", gid = "", ...groups] = Buffer.from(r.stdout).toString().trim().split(" ");
    return [uid, gid, ...groups.map(Number).sort((a, b) => a - b)].join(" ");
  };

  // USER www-data: its uid and gid, and the groups listing it as a member.
  assert.equal(await ids(byName), "33 33 4 33 44");
  // USER www-data:1004: the given gid replaces the entry's.
  assert.equal((await ids(nameGid)).split(" ").slice(0, 2).join(" "), "33 1004");
  // USER 1000: the entry's gid (50000), and its membership groups.
  assert.equal(await ids(byUid), "1000 50000 44 50000");
  // /etc/passwd as an absolute symlink: followed inside the rootfs, not on the host.
  assert.equal(await ids(linked), "33 33 4 33 44");
  // run_as_username over the image's USER; supplemental_groups merged and sorted.
  assert.equal(
    await ids(byName, {
      linux: { securityContext: { runAsUsername: "nobody", supplementalGroups: [2000n] } },
    }),
    "65534 65534 2000 65534",
  );
  // run_as_user with run_as_group.
  assert.equal(
    await ids(byName, {
      linux: { securityContext: { runAsUser: { value: 33n }, runAsGroup: { value: 7n } } },
    }),
    "33 7 4 7 44",
  );

  // An unknown name is refused; the lookup mount is gone and no rootfs snapshot stays.
  await assert.rejects(
    w.rt.createContainer({
      podSandboxId,
      config: containerConfig(w, "ghost", ["true"], {
        image: { image: byName },
        linux: { securityContext: { runAsUsername: "ghost" } },
      }),
      sandboxConfig: pod,
    }),
    /no user "ghost"/,
  );
  await w.rt.removePodSandbox({ podSandboxId });
  const mountinfo = await readFile("/proc/self/mountinfo", "utf8");
  assert.ok(
    !mountinfo.split("\n").some((l) => l.includes(w.dir) && l.includes("tmpmounts")),
    mountinfo,
  );
  let scratch = 0;
  for await (const _ of glob(`${w.dir}/**/tmpmounts/*`)) scratch++;
  assert.equal(scratch, 0, "every read-only view directory was removed");
  const snapshots = await w.daemon.ctr(["snapshots", "ls"], { namespace: "k8s.io" });
  // The listing works (the images' layers are there); none is an active (container) snapshot.
  assert.match(snapshots.stdout, /\bCommitted\b/);
  assert.ok(
    !snapshots.stdout.split("\n").some((l) => /\bActive\b/.test(l)),
    `no active snapshot is left: ${snapshots.stdout}`,
  );
});
