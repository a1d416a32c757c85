/** A CRI ContainerStatus from the container's record and CRI state. */
import { create } from "@bufbuild/protobuf";
import { ContainerStatusSchema, type ContainerStatus } from "@sandboxd/api/cri/runtime/v1/api_pb";
import { statusUser } from "./identity.js";
import { stateOf, type CriContainer } from "./records.js";
import { nsOf } from "./util.js";

export function containerStatus(c: CriContainer): ContainerStatus {
  const s = c.state;
  return create(ContainerStatusSchema, {
    id: c.id,
    metadata: c.config.metadata,
    state: stateOf(c),
    createdAt: nsOf(c.createdAtMs),
    startedAt: nsOf(s.startedAt),
    finishedAt: nsOf(s.finishedAt),
    exitCode: s.exitCode ?? 0,
    image: c.config.image,
    imageRef: s.image,
    imageId: s.image,
    reason: s.reason ?? "",
    message: s.message ?? "",
    labels: c.config.labels,
    annotations: c.config.annotations,
    mounts: c.config.mounts,
    logPath: s.logPath,
    ...(s.user ? { user: statusUser(s.user) } : {}),
  });
}
