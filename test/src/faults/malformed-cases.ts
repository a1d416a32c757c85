// The fuzz cases of malformed-input.test.ts: what to send, generated from a
// seeded Rng so that FAULT_SEED replays a run. No sockets here; the harness
// sends them.
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { Containers } from "@sandboxd/api/services/containers/v1/containers_pb";
import { Events } from "@sandboxd/api/services/events/v1/events_pb";
import { Introspection } from "@sandboxd/api/services/introspection/v1/introspection_pb";
import { Leases } from "@sandboxd/api/services/leases/v1/leases_pb";
import { Namespaces } from "@sandboxd/api/services/namespaces/v1/namespace_pb";
import { Controller, Store } from "@sandboxd/api/services/sandbox/v1/sandbox_pb";
import { Tasks } from "@sandboxd/api/services/tasks/v1/tasks_pb";
import { Version } from "@sandboxd/api/services/version/v1/version_pb";
import { MAX_PAYLOAD_LENGTH, MessageType, encodeFrame, encodeRequest } from "@sandboxd/ttrpc";
import { mutate, nastyStrings, randomMessage, type Rng } from "./random.js";
import { grpcFrame, methodsOf, type Method } from "./wire.js";

/** The namespace every well-formed case (and the well-behaved client) uses. */
export const NS = "fuzz";

export const sandboxdMethods: Method[] = methodsOf(
  Containers,
  Events,
  Introspection,
  Leases,
  Namespaces,
  Tasks,
  Version,
  Store,
  Controller,
);

export interface GrpcCase {
  path: string;
  body: Uint8Array;
  headers: Record<string, string>;
  streaming: boolean;
  label: string;
}

export function grpcCase(rng: Rng): GrpcCase {
  const m = rng.pick(sandboxdMethods);
  const headers: Record<string, string> = { "containerd-namespace": NS };
  let body: Uint8Array;
  let label: string;
  const kind = rng.int(100);
  if (kind < 40) {
    body = grpcFrame(randomMessage(rng, m.input));
    label = "random message";
  } else if (kind < 70) {
    body = grpcFrame(mutate(rng, randomMessage(rng, m.input)));
    label = "mutated message";
  } else if (kind < 78) {
    body = grpcFrame(rng.bytes(rng.int(200)));
    label = "random bytes";
  } else if (kind < 90) {
    const payload = randomMessage(rng, m.input);
    switch (rng.int(6)) {
      case 0:
        body = grpcFrame(payload, { compressed: true });
        label = "compressed flag without grpc-encoding";
        break;
      case 1:
        body = grpcFrame(payload, { declaredLength: payload.length + 1 + rng.int(1 << 20) });
        label = "declared length beyond the body";
        break;
      case 2:
        body = grpcFrame(payload, { declaredLength: Math.max(0, payload.length - 1 - rng.int(4)) });
        label = "declared length short of the body";
        break;
      case 3:
        body = Buffer.concat([grpcFrame(payload), grpcFrame(payload)]);
        label = "two messages for a unary call";
        break;
      case 4:
        body = new Uint8Array(0);
        label = "no message at all";
        break;
      default:
        body = grpcFrame(payload).subarray(0, 1 + rng.int(4));
        label = "truncated prefix";
    }
  } else {
    body = grpcFrame(randomMessage(rng, m.input));
    switch (rng.int(5)) {
      case 0:
        headers["containerd-namespace"] = rng.pick(nastyStrings).replace(/[\0\r\n]/g, "");
        label = "hostile namespace header";
        break;
      case 1:
        headers["grpc-timeout"] = rng.pick(["1x", "-1S", "99999999999H", "", "0n", "1m"]);
        label = "bad grpc-timeout";
        break;
      case 2:
        headers["content-type"] = rng.pick([
          "application/json",
          "text/plain",
          "application/grpc+proto",
          "",
        ]);
        label = "other content-type";
        break;
      case 3:
        headers["grpc-encoding"] = rng.pick(["gzip", "snappy", "identity", "x"]);
        body = grpcFrame(rng.bytes(rng.int(100)), { compressed: true });
        label = "encoded body";
        break;
      default:
        label = "unknown method";
        return { path: `/${m.service}/${m.name}X`, body, headers, streaming: false, label };
    }
  }
  return { path: m.path, body, headers, streaming: m.streaming, label };
}

function ttrpcRequestFrame(
  rng: Rng,
  streamId: number,
  service: string,
  method: string,
  payload: Uint8Array,
  metadata: { key: string; value: string }[],
): Uint8Array {
  return encodeFrame(
    streamId,
    MessageType.Request,
    0,
    encodeRequest({
      service,
      method,
      payload,
      timeoutNano: rng.chance(0.2) ? BigInt(rng.int(1e9)) : 0n,
      metadata,
    }),
  );
}

export interface TtrpcCase {
  bytes: Uint8Array;
  chunks: number[];
  /** A well-formed request to a served method: it must get an answer. */
  mustAnswer: boolean;
  label: string;
}

/**
 * Calls that wait for something to happen: answered at once when what they name does not
 * exist, and only when it exits when it does; a random CreateSandbox may have made it (a
 * fuzzed CreateSandbox("default") then WaitSandbox("default") waited, as it should).
 */
const waits = new Set(["Wait", "WaitSandbox"]);

export function ttrpcCase(rng: Rng, methods: Method[], nsKey: string): TtrpcCase {
  const m = rng.pick(methods);
  const metadata = rng.chance(0.8)
    ? [{ key: nsKey, value: rng.chance(0.8) ? NS : rng.pick(nastyStrings) }]
    : [];
  const streamId = rng.chance(0.9)
    ? 1 + 2 * rng.int(1000)
    : rng.pick([0, 2, 0xffffffff, 2 * rng.int(1000)]);
  const chunks = rng.chance(0.3) ? Array.from({ length: 3 }, () => 1 + rng.int(16)) : [];
  const kind = rng.int(100);
  const odd = streamId % 2 === 1;
  if (kind < 35) {
    const payload = randomMessage(rng, m.input);
    return {
      bytes: ttrpcRequestFrame(rng, streamId, m.service, m.name, payload, metadata),
      chunks,
      mustAnswer: odd && !m.streaming && !waits.has(m.name),
      label: `random ${m.name}`,
    };
  }
  if (kind < 60) {
    const payload = mutate(rng, randomMessage(rng, m.input));
    return {
      bytes: ttrpcRequestFrame(rng, streamId, m.service, m.name, payload, metadata),
      chunks,
      mustAnswer: odd && !m.streaming && !waits.has(m.name),
      label: `mutated payload ${m.name}`,
    };
  }
  if (kind < 70) {
    const req = encodeRequest({
      service: m.service,
      method: m.name,
      payload: randomMessage(rng, m.input),
      timeoutNano: 0n,
      metadata,
    });
    return {
      bytes: encodeFrame(streamId, MessageType.Request, 0, mutate(rng, req)),
      chunks,
      mustAnswer: false,
      label: "mutated Request",
    };
  }
  if (kind < 78) {
    const service = rng.chance(0.5) ? m.service : rng.pick(nastyStrings);
    const method = rng.chance(0.5) ? m.name : rng.pick(nastyStrings);
    return {
      bytes: ttrpcRequestFrame(rng, streamId, service, method, rng.bytes(rng.int(50)), metadata),
      chunks,
      mustAnswer: false,
      label: "unknown service or method",
    };
  }
  if (kind < 86) {
    const type = rng.pick([0, MessageType.Response, MessageType.Data, 4, 0xff]);
    const flags = rng.int(256);
    return {
      bytes: encodeFrame(streamId, type, flags, rng.bytes(rng.int(64))),
      chunks,
      mustAnswer: false,
      label: `frame type ${type} flags ${flags}`,
    };
  }
  if (kind < 93) {
    // A header that lies about the length: more than follows, or past the limit.
    const frame = Buffer.from(
      ttrpcRequestFrame(rng, streamId, m.service, m.name, randomMessage(rng, m.input), metadata),
    );
    frame.writeUInt32BE(
      rng.chance(0.5) ? frame.length + rng.int(1000) : MAX_PAYLOAD_LENGTH + 1 + rng.int(1000),
      0,
    );
    return { bytes: frame, chunks, mustAnswer: false, label: "lying length" };
  }
  if (kind < 97) {
    // Two requests on one stream id, then garbage.
    const f = ttrpcRequestFrame(
      rng,
      streamId,
      m.service,
      m.name,
      randomMessage(rng, m.input),
      metadata,
    );
    return {
      bytes: Buffer.concat([f, f, rng.bytes(rng.int(30))]),
      chunks,
      mustAnswer: false,
      label: "reused stream id",
    };
  }
  return { bytes: rng.bytes(1 + rng.int(100)), chunks, mustAnswer: false, label: "garbage" };
}

/** A message whose field `no` is repeated `count` times with `value` (length-delimited). */
export function repeated(no: number, count: number, value: Uint8Array | string): Uint8Array {
  const w = new BinaryWriter();
  for (let i = 0; i < count; i++) {
    if (typeof value === "string") w.tag(no, WireType.LengthDelimited).string(value);
    else w.tag(no, WireType.LengthDelimited).bytes(value);
  }
  return w.finish();
}

export const badIds = [
  "../x",
  "a".repeat(77),
  "x\0y",
  "/etc/passwd",
  "/",
  "..",
  "a/b",
  "x y",
  "-x",
];
