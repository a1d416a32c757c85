// transfer.v1's registry auth stream against auth-protected docker-registries on loopback,
// driven as containerd 2.x's ctr drives it (core/transfer/registry/registry.go): the client
// opens a "creds-…" stream next to the progress stream and names it in
// RegistryResolver.auth_stream; the daemon sends AuthRequest{host, reference} when a
// registry challenges it and reads one AuthResponse per question (CREDENTIALS: username and
// secret). containerd's authorizer asks once per host, so one pull asks once.
import assert from "node:assert/strict";
import { test, type TestContext } from "node:test";
import { Channel } from "@sandboxd/grpc";
import { messageOf, isUnauthenticated } from "@sandboxd/errdefs";
import { pack, unpackAs } from "@sandboxd/api/names";
import { Transfer } from "@sandboxd/api/services/transfer/v1/transfer_pb";
import { ImageStoreSchema } from "@sandboxd/api/types/transfer/imagestore_pb";
import {
  AuthRequestSchema,
  AuthResponseSchema,
  AuthType,
  OCIRegistrySchema,
  type AuthRequest,
} from "@sandboxd/api/types/transfer/registry_pb";
import {
  buildImage,
  multiLayerSpec,
  pushImage,
  requireRoot,
  startRegistry,
  startStack,
  type Registry,
} from "@sandboxd/testing";
import { openStream, progressStream } from "./transfer-streams.js";

const platform = { os: "linux", architecture: "amd64", variant: "" };

interface Answer {
  readonly authType: AuthType;
  readonly username?: string;
  readonly secret?: string;
}

/** A "creds-…" stream answering every AuthRequest with `answer`; collects the questions. */
async function authStream(
  channel: Channel,
  id: string,
  namespace: string,
  answer: Answer,
): Promise<{ asked: AuthRequest[]; done: Promise<void> }> {
  const stream = await openStream(channel, id, namespace);
  const asked: AuthRequest[] = [];
  const done = (async () => {
    for (;;) {
      // The daemon may reset the stream when the transfer failed; the Transfer call reports why.
      const next = await stream.recv().catch(() => undefined);
      if (!next) break;
      const req = unpackAs(next, AuthRequestSchema);
      if (!req) continue;
      asked.push(req);
      stream.send(
        pack(AuthResponseSchema, {
          authType: answer.authType,
          username: answer.username ?? "",
          secret: answer.secret ?? "",
        }),
      );
    }
  })();
  return { asked, done };
}

let seq = 0;

/** One Transfer pull of `ref` with an auth stream answering `answer`. */
async function pullWithAuth(
  channel: Channel,
  namespace: string,
  ref: string,
  answer: Answer,
): Promise<{ asked: AuthRequest[]; result: Promise<unknown> }> {
  seq += 1;
  const progressId = `progress-${process.hrtime.bigint()}-${seq}`;
  const credsId = `creds-${process.hrtime.bigint()}-${seq}`;
  const { events } = await progressStream(channel, progressId, namespace);
  const { asked } = await authStream(channel, credsId, namespace, answer);
  const result = channel
    .client(Transfer)
    .transfer(
      {
        source: pack(OCIRegistrySchema, {
          reference: ref,
          resolver: { defaultScheme: "http", authStream: credsId },
        }),
        destination: pack(ImageStoreSchema, {
          name: ref,
          platforms: [platform],
          unpacks: [{ platform, snapshotter: "overlayfs" }],
        }),
        options: { progressStream: progressId },
      },
      { metadata: { "containerd-namespace": namespace } },
    )
    .finally(() => events.catch(() => undefined));
  return { asked, result };
}

async function setup(
  t: TestContext,
  auth: "basic" | "token",
): Promise<{ reg: Registry; ref: string; channel: Channel; ctr: Ctr }> {
  const reg = await startRegistry(t, { auth });
  const ref = await pushImage(reg, "private/app", "1", buildImage(multiLayerSpec("oci")));
  const stack = await startStack(t);
  const channel = new Channel(stack.sandboxd.address);
  t.after(() => channel.close());
  const ctr: Ctr = async (args, namespace) =>
    (await stack.sandboxd.ctr(args, { namespace })).stdout.trim();
  return { reg, ref, channel, ctr };
}

type Ctr = (args: string[], namespace: string) => Promise<string>;

for (const auth of ["basic", "token"] as const) {
  test(`transfer.v1 auth stream (${auth} auth registry): the right credentials pull, asked once; wrong ones are Unauthenticated naming the registry and commit nothing`, async (t) => {
    requireRoot("sandboxd runs as root");
    const { reg, ref, channel, ctr } = await setup(t, auth);

    const good = await pullWithAuth(channel, "authok", ref, {
      authType: AuthType.CREDENTIALS,
      username: reg.username,
      secret: reg.password,
    });
    await good.result;
    assert.deepEqual(
      good.asked.map((r) => ({ host: r.host, reference: r.reference })),
      [{ host: reg.host, reference: ref }],
    );
    assert.equal(await ctr(["images", "ls", "-q"], "authok"), ref);
    const run = await ctr(["run", "--rm", ref, "a1", "/bin/cat", "/dir/c"], "authok");
    assert.equal(run, "c");

    const bad = await pullWithAuth(channel, "authbad", ref, {
      authType: AuthType.CREDENTIALS,
      username: reg.username,
      secret: "not-the-password",
    });
    await assert.rejects(bad.result, (err) => {
      t.diagnostic(messageOf(err));
      assert.ok(isUnauthenticated(err), messageOf(err));
      assert.match(messageOf(err), new RegExp(reg.host.replace(/\./g, "\\.")));
      return true;
    });
    assert.equal(bad.asked.length, 1);
    assert.equal(await ctr(["images", "ls", "-q"], "authbad"), "");
    assert.equal(await ctr(["content", "ls", "-q"], "authbad"), "");
    assert.equal(await ctr(["snapshots", "ls"], "authbad").then((s) => s.split("\n").length), 1);

    // A client that answers NONE (no credentials for the host) gets Unauthenticated too.
    const none = await pullWithAuth(channel, "authnone", ref, { authType: AuthType.NONE });
    await assert.rejects(none.result, (err) => {
      t.diagnostic(messageOf(err));
      assert.ok(isUnauthenticated(err), messageOf(err));
      assert.match(messageOf(err), new RegExp(reg.host.replace(/\./g, "\\.")));
      return true;
    });
    assert.equal(await ctr(["images", "ls", "-q"], "authnone"), "");
  });
}
