// The bad-input table of errors.test.ts: each call is made against sandboxd
// and containerd 1.6 side by side and must fail with the same gRPC code.
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code } from "@sandboxd/errdefs";
import { Channel } from "@sandboxd/grpc";
import { packJson, JsonTypeUrl } from "@sandboxd/api";
import { Containers } from "@sandboxd/api/services/containers/v1/containers_pb";
import { Events } from "@sandboxd/api/services/events/v1/events_pb";
import { Leases } from "@sandboxd/api/services/leases/v1/leases_pb";
import { Namespaces } from "@sandboxd/api/services/namespaces/v1/namespace_pb";
import { Tasks } from "@sandboxd/api/services/tasks/v1/tasks_pb";

/** Typed clients of one daemon, with the namespace header when given. */
export function clients(address: string, namespace?: string) {
  const channel = new Channel(address, {
    metadata: namespace === undefined ? {} : { "containerd-namespace": namespace },
  });
  return {
    channel,
    containers: channel.client(Containers),
    tasks: channel.client(Tasks),
    namespaces: channel.client(Namespaces),
    leases: channel.client(Leases),
    events: channel.client(Events),
  };
}

/** A minimal OCI spec over `rootfs` as an Any. */
export function specOf(rootfs: string, args: string[] = ["/bin/sleep", "600"]) {
  return packJson(JsonTypeUrl.Spec, {
    ociVersion: "1.0.2",
    process: { args, cwd: "/", env: ["PATH=/bin"], user: { uid: 0, gid: 0 } },
    root: { path: rootfs },
    linux: { namespaces: [{ type: "pid" }, { type: "mount" }, { type: "ipc" }, { type: "uts" }] },
    mounts: [{ destination: "/proc", type: "proc", source: "proc" }],
  });
}

/** Container `id` for Create: runc (or `runtime`) running `args` over `rootfs`. */
export function containerOf(
  rootfs: string,
  id: string,
  o: { args?: string[]; runtime?: string } = {},
) {
  return {
    id,
    runtime: { name: o.runtime ?? "io.containerd.runc.v2" },
    spec: specOf(rootfs, o.args),
  };
}

export interface BadInputCase {
  name: string;
  code: number;
  run: (c: ReturnType<typeof clients>, ns: string) => Promise<unknown>;
  namespace?: string | null;
}

/** The cases; `rootfs()` is the busybox rootfs of the suite (read when a case runs). */
export function badInputCases(rootfs: () => string): BadInputCase[] {
  const spec = (args?: string[]) => specOf(rootfs(), args);
  const container = (id: string, o?: { args?: string[]; runtime?: string }) =>
    containerOf(rootfs(), id, o);
  return [
    {
      name: "no namespace header",
      code: Code.FailedPrecondition,
      namespace: null,
      run: (c) => c.containers.list({}),
    },
    {
      name: "invalid namespace header",
      code: Code.InvalidArgument,
      namespace: "bad..ns",
      run: (c) => c.containers.list({}),
    },
    {
      name: "container id ../x",
      code: Code.InvalidArgument,
      run: (c) => c.containers.create({ container: container("../x") }),
    },
    {
      name: "container id too long",
      code: Code.InvalidArgument,
      run: (c) => c.containers.create({ container: container("a".repeat(77)) }),
    },
    {
      name: "container without runtime name",
      code: Code.InvalidArgument,
      run: (c) => c.containers.create({ container: { id: "c", spec: spec() } }),
    },
    {
      name: "container without spec",
      code: Code.InvalidArgument,
      run: (c) =>
        c.containers.create({ container: { id: "c", runtime: { name: "io.containerd.runc.v2" } } }),
    },
    {
      name: "snapshot key without snapshotter",
      code: Code.InvalidArgument,
      run: (c) =>
        c.containers.create({
          container: {
            id: "c",
            runtime: { name: "io.containerd.runc.v2" },
            spec: spec(),
            snapshotKey: "k",
          },
        }),
    },
    {
      name: "label too long",
      code: Code.InvalidArgument,
      run: (c) =>
        c.containers.create({
          container: {
            id: "c",
            runtime: { name: "io.containerd.runc.v2" },
            spec: spec(),
            labels: { k: "v".repeat(5000) },
          },
        }),
    },
    {
      name: "duplicate container",
      code: Code.AlreadyExists,
      run: async (c) => {
        const existing = container("dup");
        await c.containers.create({ container: existing });
        return c.containers.create({ container: existing });
      },
    },
    {
      name: "get a missing container",
      code: Code.NotFound,
      run: (c) => c.containers.get({ id: "missing" }),
    },
    {
      name: "delete a missing container",
      code: Code.NotFound,
      run: (c) => c.containers.delete({ id: "missing" }),
    },
    {
      name: "update with an unknown field path",
      code: Code.InvalidArgument,
      run: async (c) => {
        const existing = container("upd");
        await c.containers.create({ container: existing });
        return c.containers.update({ container: existing, updateMask: { paths: ["runtime"] } });
      },
    },
    {
      name: "update changing the runtime without a mask",
      code: Code.InvalidArgument,
      run: async (c) => {
        const existing = container("upd2");
        await c.containers.create({ container: existing });
        return c.containers.update({
          container: { ...existing, runtime: { name: "io.other.v1" } },
        });
      },
    },
    {
      name: "task for a missing container",
      code: Code.NotFound,
      run: (c) => c.tasks.create({ containerId: "missing" }),
    },
    {
      name: "get a task that does not exist",
      code: Code.NotFound,
      run: async (c) => {
        await c.containers.create({ container: container("notask") });
        return c.tasks.get({ containerId: "notask" });
      },
    },
    {
      name: "delete a task that does not exist",
      code: Code.NotFound,
      run: async (c) => {
        await c.containers.create({ container: container("notask") });
        return c.tasks.delete({ containerId: "notask" });
      },
    },
    {
      name: "task with an unknown runtime",
      code: Code.Unknown,
      run: async (c) => {
        await c.containers.create({
          container: container("rt", { runtime: "io.containerd.nope.v1" }),
        });
        return c.tasks.create({ containerId: "rt" });
      },
    },
    {
      name: "task whose process cannot start (runc create fails in the shim)",
      code: Code.Unknown,
      run: async (c) => {
        await c.containers.create({
          container: container("noexec", { args: ["/bin/does-not-exist"] }),
        });
        return c.tasks.create({ containerId: "noexec" });
      },
    },
    {
      name: "exec with an empty exec id",
      code: Code.InvalidArgument,
      run: async (c) => {
        await c.containers.create({ container: container("ex") });
        return c.tasks.exec({ containerId: "ex", execId: "" });
      },
    },
    {
      name: "duplicate lease",
      code: Code.AlreadyExists,
      run: async (c) => {
        await c.leases.create({ id: "l1" });
        return c.leases.create({ id: "l1" });
      },
    },
    {
      name: "delete a missing lease",
      code: Code.NotFound,
      run: (c) => c.leases.delete({ id: "missing" }),
    },
    {
      name: "delete a missing namespace",
      code: Code.NotFound,
      run: (c) => c.namespaces.delete({ name: "no-such-namespace" }),
    },
    {
      name: "create an invalid namespace",
      code: Code.InvalidArgument,
      run: (c) => c.namespaces.create({ namespace: { name: "a--b" } }),
    },
    {
      name: "namespace get of a missing namespace answers OK",
      code: Code.OK,
      run: (c) => c.namespaces.get({ name: "never-created" }),
    },
    {
      name: "forward an envelope without a timestamp",
      code: Code.InvalidArgument,
      run: (c, ns) => c.events.forward({ envelope: { namespace: ns, topic: "/x/y" } }),
    },
    {
      name: "forward an envelope with a bad topic",
      code: Code.InvalidArgument,
      run: (c, ns) =>
        c.events.forward({
          envelope: { namespace: ns, topic: "x", timestamp: timestampFromMs(Date.now()) },
        }),
    },
    {
      name: "publish to a bad topic",
      code: Code.InvalidArgument,
      run: (c) =>
        c.events.publish({ topic: "/a//b", event: { typeUrl: "x", value: new Uint8Array() } }),
    },
    {
      name: "list containers with a bad filter",
      code: Code.InvalidArgument,
      run: (c) => c.containers.list({ filters: ["labels.a=="] }),
    },
  ];
}
