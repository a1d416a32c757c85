/** The metadata stores over one database, opened once by the daemon. */
import { join } from "node:path";
import { ContainerStore } from "./containers.js";
import { MetadataDb, metadataDir, metadataFile } from "./db.js";
import { LeaseStore } from "./leases.js";
import { NamespaceStore } from "./namespaces.js";
import { SandboxStore } from "./sandboxes.js";

export interface Metadata {
  readonly db: MetadataDb;
  readonly namespaces: NamespaceStore;
  readonly containers: ContainerStore;
  readonly leases: LeaseStore;
  readonly sandboxes: SandboxStore;
}

/** `root/io.containerd.metadata.v1.sqlite/meta.db` */
export function metadataPath(root: string): string {
  return join(root, metadataDir, metadataFile);
}

export function openMetadata(path: string): Metadata {
  const db = MetadataDb.open(path);
  const namespaces = new NamespaceStore(db);
  return {
    db,
    namespaces,
    containers: new ContainerStore(db, namespaces),
    leases: new LeaseStore(db, namespaces),
    sandboxes: new SandboxStore(db, namespaces),
  };
}
