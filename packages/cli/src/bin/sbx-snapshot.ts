// The entry of sbx's V8 startup snapshot (scripts/bundle.mjs bundles it into
// dist/sbx.snapshot.cjs and runs `node --build-snapshot` on it; bin/sbx starts
// Node from the blob when it is current). Node deserializes the heap below
// instead of reading, compiling and evaluating the modules: their top levels,
// protobuf-es's descriptors above all, are done. Their functions are not: the
// blob is built without compiled code (scripts/snapshot.mjs says why), so code
// run here to train the blob would gain nothing (measured: 2%, not kept).
// Figures in docs/benchmarks-startup.md.
//
// What is evaluated here is frozen into the blob: only module top levels that
// read nothing from the environment, the clock or the file system belong here.
// process.env, process.argv and the standard streams are the run's own again
// when the main function below starts.
import { pathToFileURL } from "node:url";
import { startupSnapshot } from "node:v8";
import { main } from "../main.js";
// Every command that talks to sandboxd loads these; booting protobuf-es's
// descriptors (descriptor.proto and the services the SDK uses) is most of what
// the snapshot saves.
import { Client } from "@sandboxd/client";
import { Channel } from "@sandboxd/grpc/client";
import { Version } from "@sandboxd/api/services/version/v1/version_pb";

// Used, so that the bundler keeps them: their packages say they have no side effects.
if ([Client, Channel, Version].includes(undefined as never)) {
  throw new Error("sbx snapshot: a preloaded module exports nothing");
}

/** What `import.meta.url` reads in the snapshot bundle (it is a script, not a module). */
interface MetaUrl {
  __sbxImportMetaUrl?: string;
}

startupSnapshot.setDeserializeMainFunction(() => {
  // The launcher passes the bundle's entry (dist/sbx.mjs) as the script: the
  // bundled modules find package.json relative to it, as in the bundle.
  (globalThis as MetaUrl).__sbxImportMetaUrl = pathToFileURL(process.argv[1] ?? "").href;
  main(process.argv.slice(2)).then(
    (status) => process.exit(status),
    (err: unknown) => {
      // main turns every error into a message: this is a bug in sbx itself.
      process.stderr.write(`sbx: ${String(err)}\n`);
      process.exit(1);
    },
  );
});
