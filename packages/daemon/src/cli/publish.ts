/**
 * `sandboxd publish --topic T --namespace N`: reads a protobuf Any from stdin
 * and publishes it to the daemon at `--address` over gRPC
 * (containerd.services.events.v1.Events/Publish). This is the
 * `-publish-binary` contract of runtime v2 shims.
 */
import { fromBinary } from "@bufbuild/protobuf";
import { AnySchema } from "@bufbuild/protobuf/wkt";
import { invalidArgument, messageOf } from "@sandboxd/errdefs";
import { Channel } from "@sandboxd/grpc";
import { namespaceHeader } from "@sandboxd/core";
import { Events } from "@sandboxd/api/services/events/v1/events_pb";

export async function publish(options: {
  address: string;
  topic: string;
  namespace: string;
  input: AsyncIterable<Uint8Array>;
}): Promise<void> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of options.input) chunks.push(chunk);
  let event;
  try {
    event = fromBinary(AnySchema, Buffer.concat(chunks));
  } catch (err) {
    throw invalidArgument(`publish: stdin is not a protobuf Any: ${messageOf(err)}`);
  }
  const channel = new Channel(options.address, {
    metadata: { [namespaceHeader]: options.namespace },
  });
  try {
    await channel.client(Events).publish({ topic: options.topic, event }, { timeoutMs: 10_000 });
  } finally {
    channel.close();
  }
}
