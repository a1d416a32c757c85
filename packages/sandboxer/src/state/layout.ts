/**
 * Where the sandboxer keeps things, all below one state directory:
 *
 *   sandboxes/<ns>/<id>/sandbox.json             a sandbox (atomic JSON)
 *   sandboxes/<ns>/<id>/etc/{hosts,hostname,resolv.conf}
 *   sandboxes/<ns>/<id>/containers/<cid>/        a container: container.json, conmon's
 *                                                pid/exit/oom files, runc.log, the
 *                                                process spec of each exec under execs/
 *   ns/<ns>/<id>/{net,ipc,uts}                   pinned namespaces (ns/ is a private mount)
 *   ns/.prepared/<id>/net                        a prepared pod network's namespace
 *   prepared/<id>.json                           a prepared pod network (pod/network-pool.ts)
 *   runc/<ns>/                                   runc's --root for the namespace
 *   cni/                                         host-local IPAM leases
 *   events/<ns>.json                             event endpoints registered by shims
 */
import { join } from "node:path";

export class Layout {
  readonly root: string;

  constructor(root: string) {
    this.root = root;
  }

  get sandboxesDir(): string {
    return join(this.root, "sandboxes");
  }

  get pinRoot(): string {
    return join(this.root, "ns");
  }

  /** conmon's attach sockets of terminal processes (a short path: unix socket limit). */
  get ttyRoot(): string {
    return join(this.root, "tty");
  }

  get cniDataDir(): string {
    return join(this.root, "cni");
  }

  get eventsDir(): string {
    return join(this.root, "events");
  }

  runcRoot(namespace: string): string {
    return join(this.root, "runc", namespace);
  }

  sandboxDir(namespace: string, id: string): string {
    return join(this.sandboxesDir, namespace, id);
  }

  sandboxFile(namespace: string, id: string): string {
    return join(this.sandboxDir(namespace, id), "sandbox.json");
  }

  /** Namespace names start with a letter or digit: `.prepared` is nobody's. */
  preparedPinDir(id: string): string {
    return join(this.pinRoot, ".prepared", id);
  }

  get preparedDir(): string {
    return join(this.root, "prepared");
  }

  pinDir(namespace: string, id: string): string {
    return join(this.pinRoot, namespace, id);
  }

  etcDir(namespace: string, id: string): string {
    return join(this.sandboxDir(namespace, id), "etc");
  }

  containerDir(namespace: string, sandboxId: string, containerId: string): string {
    return join(this.sandboxDir(namespace, sandboxId), "containers", containerId);
  }

  containerFile(namespace: string, sandboxId: string, containerId: string): string {
    return join(this.containerDir(namespace, sandboxId, containerId), "container.json");
  }

  execDir(namespace: string, sandboxId: string, containerId: string, execId: string): string {
    return join(this.containerDir(namespace, sandboxId, containerId), "execs", execId);
  }

  eventsFile(namespace: string): string {
    return join(this.eventsDir, `${namespace}.json`);
  }
}
