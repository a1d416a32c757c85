/**
 * The CRI plugged into the daemon, as containerd's CRI plugin is: it gets
 * the daemon's service layer (the same local services the gRPC API calls)
 * and the `[plugins]` config, and registers runtime.v1 on the main socket.
 */
import { join } from "node:path";
import { Cri, type Backend } from "@sandboxd/cri";
import type { Ctx } from "@sandboxd/core";
import type { GrpcServer } from "@sandboxd/grpc";
import { sandboxerNames, type Config } from "../config/config.js";
import type { Exchange } from "../events/exchange.js";
import type { CtxOf } from "../server/rpc.js";
import type { ContainersLocal } from "./containers/local.js";
import { criImages } from "./cri-images.js";
import type { ImageStack } from "./images/stack.js";
import { pullServiceOf } from "./pull/register.js";
import type { SandboxControllerLocal } from "./sandbox/controller-local.js";
import type { SandboxStoreLocal } from "./sandbox/store-local.js";
import type { TasksLocal } from "./tasks/local.js";

export interface CriDeps {
  config: Config;
  root: Ctx;
  grpc: GrpcServer;
  ctxOf: CtxOf;
  exchange: Exchange;
  containers: ContainersLocal;
  tasks: TasksLocal;
  sandboxStore: SandboxStoreLocal;
  sandboxController: SandboxControllerLocal;
  images: ImageStack;
  version: string;
}

export async function startCri(d: CriDeps): Promise<Cri> {
  const backend: Backend = {
    containers: d.containers,
    tasks: d.tasks,
    sandboxStore: d.sandboxStore,
    sandboxController: d.sandboxController,
    images: criImages(d.images, pullServiceOf(d.images), d.exchange),
    events: { subscribe: (signal, filters) => d.exchange.subscribe(signal, filters) },
    sandboxers: sandboxerNames(d.config),
    defaultSandboxer: d.config.sandbox.defaultSandboxer,
  };
  const cri = await Cri.start({
    backend,
    plugins: d.config.plugins,
    stateDir: join(d.config.state, "io.containerd.grpc.v1.cri"),
    root: d.root,
    version: d.version,
  });
  cri.register(d.grpc, d.ctxOf);
  return cri;
}
