/** Container: wire message ⇄ store record (containerd's containerFromProto / containerToProto). */
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  ContainerSchema,
  type Container as ContainerMessage,
} from "@sandboxd/api/services/containers/v1/containers_pb";
import type { NewContainer } from "../../metadata/containers.js";
import type { Container } from "../../metadata/types.js";

export function containerFromProto(c: ContainerMessage | undefined): NewContainer {
  return {
    id: c?.id ?? "",
    labels: { ...c?.labels },
    image: c?.image ?? "",
    runtime: { name: c?.runtime?.name ?? "", options: c?.runtime?.options },
    spec: c?.spec,
    snapshotter: c?.snapshotter ?? "",
    snapshotKey: c?.snapshotKey ?? "",
    extensions: { ...c?.extensions },
    sandbox: c?.sandbox ?? "",
  };
}

export function containerToProto(c: Container): MessageInitShape<typeof ContainerSchema> {
  return create(ContainerSchema, {
    id: c.id,
    labels: c.labels,
    image: c.image,
    runtime: { name: c.runtime.name, options: c.runtime.options },
    spec: c.spec,
    snapshotter: c.snapshotter,
    snapshotKey: c.snapshotKey,
    createdAt: timestampFromMs(c.createdAt),
    updatedAt: timestampFromMs(c.updatedAt),
    extensions: c.extensions,
    sandbox: c.sandbox,
  });
}
