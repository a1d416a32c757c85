// containerd's Go client code paths against sandboxd, call for call at the
// gRPC level (client/sandbox.go, client/container_opts.go WithSandbox), with
// the real sbx-sandboxer behind both controllers sandboxd has:
//
// - NewSandbox: Store.Create, then Controller.Create (the record, sandboxer
//   set), then sandbox.Start → Controller.Start; or Start alone;
// - LoadSandbox: Store.Get (+ Controller.Status, as CRI does);
// - NewContainer(WithSandbox) + NewTask: Containers.Create with `sandbox`,
//   Tasks.Create/Start: the container runs inside the sandbox (its network
//   and UTS namespaces, its hostname), with no shim of its own;
// - sandbox.Shutdown: Controller.Shutdown, then Store.Delete; nothing left.
//
// containerd 1.7's `ctr sandboxes` is not needed for this (Debian ships 1.6,
// whose ctr has no sandbox commands): these are the calls the Go client makes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { isFailedPrecondition, isNotFound } from "@sandboxd/errdefs";
import { Namespaces } from "@sandboxd/api/services/namespaces/v1/namespace_pb";
import { Status } from "@sandboxd/api/types/task/task_pb";
import { waitUntil } from "@sandboxd/testing";
import { collectEvents, processesMentioning } from "./helpers.js";
import {
  modeNames,
  modes,
  namespacesOf,
  newContainer,
  pinnedNamespace,
  readOut,
  sbxSandbox,
  sbxWorld,
} from "./sbx.js";

for (const mode of modes) {
  test(`Go client flow through ${modeNames[mode]}: NewSandbox, LoadSandbox, a container inside it, Shutdown + Store.Delete`, async (t) => {
    const w = await sbxWorld(t, mode);
    const { c } = w;
    const events = await collectEvents(t, c, [`namespace==${w.namespace}`]);

    // client.defaultSandboxer: the namespace label, when there is one (Namespaces.Get).
    await c.channel
      .client(Namespaces)
      .get({ name: w.namespace })
      .catch((e: Error) => {
        if (!isNotFound(e)) throw e;
      });

    // NewSandbox: Store.Create, then Controller.Create with the record.
    const record = sbxSandbox(w, "pod", "gopod");
    const stored = (await c.store.create({ sandbox: record })).sandbox!;
    assert.equal(stored.sandboxer, w.sandboxer);
    await c.controller.create({ sandboxId: "pod", sandbox: stored, sandboxer: w.sandboxer });
    // sandbox.Start.
    const started = await c.controller.start({ sandboxId: "pod", sandboxer: w.sandboxer });
    assert.equal(started.sandboxId, "pod");
    assert.match(started.address, /^ttrpc\+unix:\/\/\//);
    assert.equal(started.version, 3);

    // LoadSandbox: Store.Get, and the controller's status.
    const loaded = (await c.store.get({ sandboxId: "pod" })).sandbox!;
    assert.equal(loaded.runtime?.name, "io.containerd.sbx.v1");
    assert.deepEqual(loaded.labels, { "io.sandboxd.test": mode });
    assert.equal(timestampMs(loaded.createdAt!), timestampMs(stored.createdAt!));
    const status = await c.controller.status({
      sandboxId: "pod",
      sandboxer: loaded.sandboxer,
      verbose: true,
    });
    assert.equal(status.state, "SANDBOX_READY");
    assert.equal(status.info.hostname, "gopod");
    assert.equal(status.address, started.address);
    assert.ok(status.info.netns, "the sandboxer reports the pod's netns");
    assert.equal((await c.controller.platform({ sandboxId: "pod" })).platform?.os, "linux");

    // NewContainer(WithSandbox("pod")) + NewTask + Start.
    await newContainer(w, "pod", "web", ["sleep", "1000"]);
    const created = await c.tasks.create({ containerId: "web" });
    await c.tasks.start({ containerId: "web" });
    assert.ok(created.pid > 0);
    const ns = await namespacesOf(created.pid);
    assert.equal(ns.net, await pinnedNamespace("net", status.info.netns), "the pod's network");
    assert.equal((await c.tasks.get({ containerId: "web" })).process?.status, Status.RUNNING);

    // A second container: runs to its exit code, sees the pod's hostname and network.
    await newContainer(w, "pod", "probe", [
      "sh",
      "-c",
      "hostname > /out/hostname; readlink /proc/self/ns/uts > /out/uts; exit 7",
    ]);
    await c.tasks.create({ containerId: "probe" });
    const probeExit = c.tasks.wait({ containerId: "probe" });
    await c.tasks.start({ containerId: "probe" });
    assert.equal((await probeExit).exitStatus, 7);
    assert.equal((await readOut(w, "hostname")).trim(), "gopod");
    assert.equal((await readOut(w, "uts")).trim(), ns.uts, "both containers share the pod's UTS");
    await c.tasks.delete({ containerId: "probe" });
    await c.containers.delete({ id: "probe" });
    assert.deepEqual(
      (await processesMentioning("containerd-shim-sbx-v1")).filter((p) =>
        p.includes(w.daemon.address),
      ),
      [],
      "no shim process stays for the sandbox or its containers",
    );

    // Shutdown with a live container is refused (CRI removes containers first).
    await assert.rejects(c.controller.shutdown({ sandboxId: "pod" }), isFailedPrecondition);
    const webExit = c.tasks.wait({ containerId: "web" });
    await c.tasks.kill({ containerId: "web", signal: 9 });
    assert.equal((await webExit).exitStatus, 137);
    await c.tasks.delete({ containerId: "web" });
    await c.containers.delete({ id: "web" });

    // sandbox.Stop, Wait, then sandbox.Shutdown: Controller.Shutdown, then Store.Delete.
    const sandboxExit = c.controller.wait({ sandboxId: "pod" });
    await c.controller.stop({ sandboxId: "pod", timeoutSecs: 5 });
    await sandboxExit;
    await c.controller.shutdown({ sandboxId: "pod", sandboxer: w.sandboxer });
    await c.store.delete({ sandboxId: "pod" });
    await assert.rejects(c.store.get({ sandboxId: "pod" }), isNotFound);
    await waitUntil(() => events.of("/sandboxes/exit").length > 0, { what: "/sandboxes/exit" });
    assert.deepEqual(
      events.topics().filter((x) => x.startsWith("/sandboxes/")),
      ["/sandboxes/create", "/sandboxes/start", "/sandboxes/exit"],
    );
    for (const topic of ["/tasks/create", "/tasks/start", "/tasks/exit", "/tasks/delete"]) {
      assert.ok(events.topics().includes(topic), `${topic} from the sandboxer`);
    }
    await w.checkLeaks();
  });

  test(`Start alone (Store.Create, then Controller.Start) through ${mode}; a forced Shutdown with a running container leaves nothing`, async (t) => {
    const w = await sbxWorld(t, mode);
    const { c } = w;
    await c.store.create({ sandbox: sbxSandbox(w, "lazy", "lazy") });
    const started = await c.controller.start({ sandboxId: "lazy" });
    assert.equal(started.version, 3);
    assert.equal((await c.controller.status({ sandboxId: "lazy" })).state, "SANDBOX_READY");
    await newContainer(w, "lazy", "app", ["sleep", "1000"]);
    await c.tasks.create({ containerId: "app" });
    await c.tasks.start({ containerId: "app" });
    await c.controller.shutdown({ sandboxId: "lazy" }, { metadata: { "sandboxd-force": "true" } });
    assert.deepEqual((await c.tasks.list({})).tasks, []);
    assert.deepEqual((await c.containers.list({})).containers, []);
    await c.store.delete({ sandboxId: "lazy" });
    await w.checkLeaks();
  });
}
