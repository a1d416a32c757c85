// transfer.v1 + streaming.v1 against a real sandboxd, driven with our own gRPC client
// exactly as containerd 2.x's ctr drives them (no ctr 2.x here). From containerd's
// source (cmd/ctr/commands/images/pull.go, core/transfer/proxy/transfer.go,
// core/streaming/proxy/streaming.go), `ctr images pull REF` without --local does:
//   1. Streaming.Stream, first message Any(StreamInit{id "progress-<nanos>-<rand>"}),
//      reads one reply (Any google.protobuf.Empty) — the stream is now registered;
//   2. (only with credentials) a second stream "creds-…" answering AuthRequest;
//   3. Transfer{source Any(OCIRegistry{reference, resolver{default_scheme "http" with
//      --plain-http}}), destination Any(ImageStore{name REF, platforms [host],
//      all_metadata, unpacks [{platform, snapshotter}]}), options{progress_stream id}},
//      while a goroutine reads Progress messages off the progress stream until EOF
//      (the daemon closes it when the transfer ends).
// Import/export (`ctr images import|export` in 2.x) open a byte stream "import-…" /
// "export-…" the same way and move Data chunks under WindowUpdate credit; the SDK's
// importImage/exportImage do exactly that and are exercised here too.
// The daemon's registry hosts come from containerd 2.x's CRI key in its config.
import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { test } from "node:test";
import { Client } from "@sandboxd/client";
import { Channel } from "@sandboxd/grpc";
import { pack } from "@sandboxd/api/names";
import { Transfer } from "@sandboxd/api/services/transfer/v1/transfer_pb";
import { ImageStoreSchema } from "@sandboxd/api/types/transfer/imagestore_pb";
import { ImageImportStreamSchema } from "@sandboxd/api/types/transfer/importexport_pb";
import { OCIRegistrySchema } from "@sandboxd/api/types/transfer/registry_pb";
import { isInvalidArgument, isNotFound, isNotImplemented, messageOf } from "@sandboxd/errdefs";
import {
  buildImage,
  multiLayerSpec,
  pushImage,
  requireRoot,
  startRegistry,
  startStack,
  tempDir,
} from "@sandboxd/testing";
import { progressStream } from "./transfer-streams.js";

const platform = { os: "linux", architecture: "amd64", variant: "" };

test("transfer.v1 as ctr 2.x: pull registry.k8s.io/… through the CRI config_path mirror, tag, import/export streams, errors", async (t) => {
  requireRoot("sandboxd runs as root");
  const reg = await startRegistry(t);
  const image = buildImage(multiLayerSpec("oci"));
  await pushImage(reg, "e2e/busybox", "1.0", image);
  const direct = await pushImage(reg, "library/bb", "2", image);
  const certs = await tempDir(t, "sbx-transfer-certs-");
  await mkdir(join(certs, "registry.k8s.io"));
  await writeFile(
    join(certs, "registry.k8s.io", "hosts.toml"),
    `server = "https://registry.k8s.io"\n[host."http://${reg.host}"]\n  capabilities = ["pull", "resolve"]\n`,
  );
  const stack = await startStack(t, {
    extraConfig: `[plugins."io.containerd.cri.v1.images".registry]\n  config_path = ${JSON.stringify(certs)}\n`,
  });
  const daemon = stack.sandboxd;
  const channel = new Channel(daemon.address);
  t.after(() => channel.close());
  const ns = "xfer";
  const call = { metadata: { "containerd-namespace": ns } };
  const transfer = channel.client(Transfer);

  // Pull: the name keeps its upstream form; the bytes come from the local registry.
  const ref = "registry.k8s.io/e2e/busybox:1.0";
  const progressId = `progress-${process.hrtime.bigint()}-aBcD`;
  const { events } = await progressStream(channel, progressId, ns);
  await transfer.transfer(
    {
      source: pack(OCIRegistrySchema, { reference: ref, resolver: {} }),
      destination: pack(ImageStoreSchema, {
        name: ref,
        platforms: [platform],
        allMetadata: true,
        unpacks: [{ platform, snapshotter: "overlayfs" }],
      }),
      options: { progressStream: progressId },
    },
    call,
  );
  const got = await events;
  const names = got.map((p) => p.event);
  assert.equal(names[0], `Resolving from OCI Registry (${ref})`);
  assert.equal(names.at(-1), `Completed pull from OCI Registry (${ref})`);
  assert.ok(names.includes("saved"), names.join(", "));
  for (const layer of image.layers) {
    const done = got.find((p) => p.event === "complete" && p.name === `layer-${layer.digest}`);
    assert.ok(done, `a complete event for ${layer.digest}: ${names.join(", ")}`);
    assert.equal(done.desc?.digest, layer.digest);
    assert.equal(done.total, BigInt(layer.size));
  }
  const ls = await daemon.ctr(["images", "ls", "-q"], { namespace: ns });
  assert.equal(ls.stdout.trim(), ref);
  const run = await daemon.ctr(["run", "--rm", ref, "p1", "/bin/cat", "/dir/c"], { namespace: ns });
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout, "c\n");

  // default_scheme "http" (ctr --plain-http) for a registry nothing configures; no progress stream.
  await transfer.transfer(
    {
      source: pack(OCIRegistrySchema, {
        reference: direct,
        resolver: { defaultScheme: "http" },
      }),
      destination: pack(ImageStoreSchema, { name: direct, unpacks: [] }),
    },
    call,
  );

  // Tag: image store → image store.
  await transfer.transfer(
    {
      source: pack(ImageStoreSchema, { name: ref }),
      destination: pack(ImageStoreSchema, { name: "docker.io/library/tagged:1" }),
    },
    call,
  );
  const tagged = await daemon.ctr(["images", "ls", "-q"], { namespace: ns });
  assert.deepEqual(
    tagged.stdout.trim().split("\n").sort(),
    [direct, "docker.io/library/tagged:1", ref].sort(),
  );

  // Export over a byte stream (SDK), then import into a fresh namespace (SDK), run it.
  const client = await Client.connect({ address: daemon.address, namespace: ns });
  t.after(() => client.close());
  const parts: Uint8Array[] = [];
  for await (const c of client.exportImage([ref, "docker.io/library/tagged:1"])) parts.push(c);
  const archive = Buffer.concat(parts);
  assert.ok(archive.length > image.layers.reduce((n, l) => n + l.size, 0));
  const fresh = client.withNamespace("xfer-fresh");
  const progress: string[] = [];
  const imported = await fresh.importImage(
    (async function* () {
      for (let i = 0; i < archive.length; i += 100_000) {
        await Promise.resolve();
        yield archive.subarray(i, i + 100_000);
      }
    })(),
    { onProgress: (e) => progress.push(`${e.event} ${e.name}`) },
  );
  assert.deepEqual(imported.sort(), ["docker.io/library/tagged:1", ref].sort());
  assert.ok(progress.includes(`unpacked ${ref}`), progress.join(", "));
  const run2 = await daemon.ctr(["run", "--rm", ref, "p2", "/bin/ls", "/dir"], {
    namespace: "xfer-fresh",
  });
  assert.equal(run2.code, 0, run2.stderr);
  assert.equal(run2.stdout, "c\n");

  // A gzip-compressed archive with no media type is decompressed by its magic bytes.
  const gz = client.withNamespace("xfer-gz");
  const gzipped = await gz.importImage(
    (async function* () {
      await Promise.resolve();
      yield gzipSync(archive);
    })(),
  );
  assert.deepEqual(gzipped.sort(), ["docker.io/library/tagged:1", ref].sort());

  // A named snapshotter is the one unpacked into; one the daemon lacks is InvalidArgument.
  const pullInto = (snapshotter: string, namespace: string): Promise<unknown> =>
    transfer.transfer(
      {
        source: pack(OCIRegistrySchema, { reference: direct, resolver: { defaultScheme: "http" } }),
        destination: pack(ImageStoreSchema, {
          name: direct,
          unpacks: [{ platform, snapshotter }],
        }),
      },
      { metadata: { "containerd-namespace": namespace } },
    );
  await pullInto("native", "xfer-native");
  const native = await daemon.ctr(["snapshots", "--snapshotter", "native", "ls"], {
    namespace: "xfer-native",
  });
  assert.equal(native.stdout.trim().split("\n").length, 1 + image.layers.length, native.stdout);
  await assert.rejects(pullInto("zfs", "xfer-zfs"), (err) => {
    assert.ok(isInvalidArgument(err), messageOf(err));
    assert.match(messageOf(err), /"zfs"/);
    return true;
  });
  const none = await daemon.ctr(["images", "ls", "-q"], { namespace: "xfer-zfs" });
  assert.equal(none.stdout.trim(), "");

  // Errors: a pair containerd does not have, a stream never opened.
  await assert.rejects(
    transfer.transfer(
      {
        source: pack(ImageStoreSchema, { name: ref }),
        destination: pack(OCIRegistrySchema, { reference: ref }),
      },
      call,
    ),
    (err) => isNotImplemented(err),
  );
  await assert.rejects(
    transfer.transfer(
      {
        source: pack(ImageImportStreamSchema, { stream: "import-never-opened" }),
        destination: pack(ImageStoreSchema, {}),
      },
      call,
    ),
    (err) => isNotFound(err),
  );
});
