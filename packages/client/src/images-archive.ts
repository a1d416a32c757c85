// Image archives through the daemon's transfer.v1 and streaming.v1, the calls
// containerd 2.x's ctr makes for `images import` and `images export`: a
// progress stream, a byte stream (Data chunks of at most 32 KiB within the
// receiver's WindowUpdate credit), then one Transfer naming both by id.
import type { Any } from "@bufbuild/protobuf/wkt";
import { invalidArgument } from "@sandboxd/errdefs";
import { pack, unpackAs } from "@sandboxd/api/names";
import type { CallOptions as GrpcCallOptions, Client as GrpcClient } from "@sandboxd/grpc";
import type { Session } from "./session.js";

import type * as StreamingPb from "@sandboxd/api/services/streaming/v1/streaming_pb";
import type * as TransferPb from "@sandboxd/api/services/transfer/v1/transfer_pb";
import type * as ByteStream from "@sandboxd/api/byte-stream";

type StreamingModule = typeof StreamingPb;
type TransferModule = typeof TransferPb;
type ByteStreamModule = typeof ByteStream;

export interface ImportImageOptions {
  /** Names for archive entries tagged only by a tag (ctr's --base-name). */
  baseName?: string | undefined;
  /** Default true: unpack into the default snapshotter. */
  unpack?: boolean | undefined;
  /** `os/arch[/variant]` to unpack; default the daemon's platform. */
  platform?: string | undefined;
  /** Each progress event as the daemon sends it (`saved`, `unpacked`). */
  onProgress?: ((event: { event: string; name: string }) => void) | undefined;
  signal?: AbortSignal | undefined;
}

export interface ExportImageOptions {
  /** `os/arch[/variant]` of manifest.json's entries; default the daemon's platform. */
  platform?: string | undefined;
  /** Leave out docker's manifest.json. */
  skipDockerManifest?: boolean | undefined;
  signal?: AbortSignal | undefined;
}

/** containerd's streaming.GenerateID. */
function streamId(prefix: string): string {
  const rand = Math.floor(Math.random() * 0xffffff)
    .toString(16)
    .padStart(6, "0");
  return `${prefix}-${process.hrtime.bigint() % 1_000_000_000n}-${rand}`;
}

function platformMessage(p: string | undefined) {
  if (!p) return undefined;
  const [os = "", architecture = "", variant = ""] = p.split("/");
  if (!os || !architecture)
    throw invalidArgument(`platform ${JSON.stringify(p)}: want os/arch[/variant]`);
  return { os, architecture, variant };
}

/** A queue read as the requests of a bidi call. */
class Outbox implements AsyncIterable<Any> {
  readonly #items: Any[] = [];
  #ended = false;
  #wake: (() => void) | undefined;

  push(a: Any): void {
    this.#items.push(a);
    this.#wake?.();
  }

  end(): void {
    this.#ended = true;
    this.#wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Any> {
    for (;;) {
      const next = this.#items.shift();
      if (next) {
        yield next;
        continue;
      }
      if (this.#ended) return;
      await new Promise<void>((resolve) => (this.#wake = resolve));
      this.#wake = undefined;
    }
  }
}

/** One Streaming.Stream call, registered under `id` (StreamInit answered by Empty). */
class ClientStream {
  readonly #out: Outbox;
  readonly #in: AsyncIterator<Any>;

  private constructor(out: Outbox, replies: AsyncIterable<Any>) {
    this.#out = out;
    this.#in = replies[Symbol.asyncIterator]();
  }

  static async open(
    client: GrpcClient<StreamingModule["Streaming"]>,
    mod: StreamingModule,
    id: string,
    call: GrpcCallOptions,
  ): Promise<ClientStream> {
    const out = new Outbox();
    out.push(pack(mod.StreamInitSchema, { id }));
    const stream = new ClientStream(out, client.stream(out, call));
    const ack = await stream.#in.next();
    if (ack.done) throw invalidArgument(`stream ${id}: the daemon ended it before acknowledging`);
    return stream;
  }

  send(a: Any): void {
    this.#out.push(a);
  }

  close(): void {
    this.#out.end();
  }

  async recv(): Promise<Any | undefined> {
    const next = await this.#in.next();
    return next.done ? undefined : next.value;
  }
}

interface Modules {
  streaming: StreamingModule;
  transfer: TransferModule;
  bytes: ByteStreamModule;
  streamingClient: GrpcClient<StreamingModule["Streaming"]>;
  transferClient: GrpcClient<TransferModule["Transfer"]>;
}

async function modules(session: Session): Promise<Modules> {
  const [streaming, transfer, bytes] = await Promise.all([
    import("@sandboxd/api/services/streaming/v1/streaming_pb"),
    import("@sandboxd/api/services/transfer/v1/transfer_pb"),
    import("@sandboxd/api/byte-stream"),
  ]);
  const channel = session.services.channel;
  return {
    streaming,
    transfer,
    bytes,
    streamingClient: channel.client(streaming.Streaming),
    transferClient: channel.client(transfer.Transfer),
  };
}

/** Imports an image archive (OCI layout or docker-archive tar); returns the names recorded. */
export async function importImage(
  session: Session,
  source: AsyncIterable<Uint8Array>,
  options: ImportImageOptions = {},
): Promise<string[]> {
  const m = await modules(session);
  const call = session.call({ signal: options.signal });
  const { ImageImportStreamSchema } = await import("@sandboxd/api/types/transfer/importexport_pb");
  const { ImageStoreSchema } = await import("@sandboxd/api/types/transfer/imagestore_pb");
  const { ProgressSchema } = await import("@sandboxd/api/types/transfer/progress_pb");
  const progressId = streamId("progress");
  const progress = await ClientStream.open(m.streamingClient, m.streaming, progressId, call);
  const names: string[] = [];
  const events = (async () => {
    for (;;) {
      const a = await progress.recv().catch(() => undefined);
      if (!a) break;
      const p = unpackAs(a, ProgressSchema);
      if (!p) continue;
      if (p.event === "saved" && !names.includes(p.name)) names.push(p.name);
      options.onProgress?.({ event: p.event, name: p.name });
    }
  })();
  const importId = streamId("import");
  const bytes = await ClientStream.open(m.streamingClient, m.streaming, importId, call);
  // A daemon that went away before all was sent fails the Transfer call itself.
  const sending = m.bytes.sendBytes(bytes, source);
  const platform = platformMessage(options.platform);
  try {
    await m.transferClient.transfer(
      {
        source: pack(ImageImportStreamSchema, { stream: importId }),
        destination: pack(ImageStoreSchema, {
          extraReferences: options.baseName ? [{ name: options.baseName, isPrefix: true }] : [],
          unpacks: options.unpack === false ? [] : [{ ...(platform ? { platform } : {}) }],
        }),
        options: { progressStream: progressId },
      },
      call,
    );
  } finally {
    bytes.close();
    progress.close();
  }
  await sending;
  await events;
  return names;
}

/** The archive of `names` (OCI layout + docker manifest.json), streamed from the daemon. */
export async function* exportImage(
  session: Session,
  names: readonly string[],
  options: ExportImageOptions = {},
): AsyncIterable<Uint8Array> {
  if (names.length === 0) throw invalidArgument("export: name at least one image");
  const m = await modules(session);
  const call = session.call({ signal: options.signal });
  const { ImageExportStreamSchema } = await import("@sandboxd/api/types/transfer/importexport_pb");
  const { ImageStoreSchema } = await import("@sandboxd/api/types/transfer/imagestore_pb");
  const id = streamId("export");
  const stream = await ClientStream.open(m.streamingClient, m.streaming, id, call);
  const platform = platformMessage(options.platform);
  const transfer = m.transferClient.transfer(
    {
      source: pack(ImageStoreSchema, {
        name: names[0] ?? "",
        extraReferences: names.slice(1).map((name) => ({ name })),
      }),
      destination: pack(ImageExportStreamSchema, {
        stream: id,
        platforms: platform ? [platform] : [],
        skipCompatibilityManifest: options.skipDockerManifest === true,
      }),
    },
    call,
  );
  // Errors surface from the transfer once the stream ends.
  transfer.catch(() => undefined);
  yield* m.bytes.receiveBytes(stream);
  await transfer;
}
