/** Sandbox: wire message ⇄ store record (containerd's sandbox.FromProto / ToProto). */
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { SandboxSchema, type Sandbox as SandboxMessage } from "@sandboxd/api/types/sandbox_pb";
import type { NewSandbox } from "../metadata/sandboxes.js";
import type { Sandbox } from "../metadata/types.js";

/** A request's sandbox; missing parts are empty (Go's FromProto would crash on them). */
export function sandboxFromProto(s: SandboxMessage | undefined): NewSandbox {
  return {
    id: s?.sandboxId ?? "",
    runtime: { name: s?.runtime?.name ?? "", options: s?.runtime?.options },
    spec: s?.spec,
    labels: { ...s?.labels },
    extensions: { ...s?.extensions },
    sandboxer: s?.sandboxer ?? "",
  };
}

export function sandboxToProto(s: Sandbox): MessageInitShape<typeof SandboxSchema> {
  return create(SandboxSchema, {
    sandboxId: s.id,
    runtime: { name: s.runtime.name, options: s.runtime.options },
    spec: s.spec,
    labels: s.labels,
    createdAt: timestampFromMs(s.createdAt),
    updatedAt: timestampFromMs(s.updatedAt),
    extensions: s.extensions,
    sandboxer: s.sandboxer,
  });
}
