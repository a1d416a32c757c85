import { test } from "node:test";
import assert from "node:assert/strict";
import { create, createFileRegistry } from "@bufbuild/protobuf";
import type { DescService } from "@bufbuild/protobuf";
import type { GenService } from "@bufbuild/protobuf/codegenv2";
import {
  FileDescriptorProtoSchema,
  FieldDescriptorProto_Label,
  FieldDescriptorProto_Type,
} from "@bufbuild/protobuf/wkt";
import { isNotFound, isNotImplemented, notFound } from "@sandboxd/errdefs";
import { localClient } from "./local.js";
import type { ServerCall } from "./types.js";

// A service built at runtime (no generated API in this package): one unary, one streaming method.
const file = create(FileDescriptorProtoSchema, {
  name: "local.proto",
  package: "test.local.v1",
  syntax: "proto3",
  messageType: [
    {
      name: "Msg",
      field: [
        {
          name: "text",
          number: 1,
          type: FieldDescriptorProto_Type.STRING,
          label: FieldDescriptorProto_Label.OPTIONAL,
          jsonName: "text",
        },
        {
          name: "count",
          number: 2,
          type: FieldDescriptorProto_Type.UINT32,
          label: FieldDescriptorProto_Label.OPTIONAL,
          jsonName: "count",
        },
      ],
    },
  ],
  service: [
    {
      name: "Echo",
      method: [
        { name: "Say", inputType: ".test.local.v1.Msg", outputType: ".test.local.v1.Msg" },
        { name: "Missing", inputType: ".test.local.v1.Msg", outputType: ".test.local.v1.Msg" },
        {
          name: "Repeat",
          inputType: ".test.local.v1.Msg",
          outputType: ".test.local.v1.Msg",
          serverStreaming: true,
        },
      ],
    },
  ],
});
const Echo = createFileRegistry(file, () => undefined).getService(
  "test.local.v1.Echo",
) as DescService as GenService<never>;

interface Msg {
  $typeName?: string;
  text: string;
  count: number;
}

test("localClient: full messages both ways, the call's headers, path and deadline; errors as thrown", async () => {
  const calls: ServerCall[] = [];
  const impl = {
    say(req: Msg, call: ServerCall) {
      calls.push(call);
      if (req.text === "missing") throw notFound("thing");
      if (req.text === "slow") {
        return new Promise((resolve) =>
          call.signal.addEventListener("abort", () => resolve({ text: "aborted" })),
        );
      }
      // A request with defaults filled, as a decoded one; an answer given partially.
      return { text: `${req.$typeName}:${req.text}|${req.count}|${call.header("X-Ns") ?? ""}` };
    },
  };
  const client = localClient(Echo, impl as never) as unknown as Record<
    string,
    (req: object, o?: object) => Promise<Msg>
  >;
  const reply = await client.say!({ text: "hi" }, { metadata: { "x-ns": "n1" } });
  assert.equal(reply.$typeName, "test.local.v1.Msg");
  assert.equal(reply.text, "test.local.v1.Msg:hi|0|n1");
  assert.equal(reply.count, 0, "the answer's unset fields have their defaults");
  assert.equal(calls[0]!.path, "/test.local.v1.Echo/Say");
  assert.equal(calls[0]!.deadline, undefined);
  assert.ok(calls[0]!.signal.aborted, "the call's signal ends with the call");

  await assert.rejects(client.say!({ text: "missing" }), isNotFound);
  await assert.rejects(client.missing!({}), isNotImplemented);
  assert.throws(() => client.repeat!({}), isNotImplemented);

  const before = Date.now();
  const late = await client.say!({ text: "slow" }, { timeoutMs: 50 });
  assert.equal(late.text, "aborted", "the deadline aborts the handler's signal");
  assert.ok(calls[2]!.deadline! >= before + 50);

  const caller = new AbortController();
  const pending = client.say!({ text: "slow" }, { signal: caller.signal });
  caller.abort();
  assert.equal((await pending).text, "aborted", "the caller's signal aborts it");
});
