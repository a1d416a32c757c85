/**
 * The TS ttrpc server of the ttrpc benchmark, run in a worker thread so that client and
 * server each have an event loop, as they would in two processes. Serves
 * bench.Echo/Echo on `workerData.path`, posts "ready", and closes on any message.
 */
import { parentPort, workerData } from "node:worker_threads";
import { Server } from "@sandboxd/ttrpc";

const { path } = workerData as { path: string };
const server = new Server().registerMethod("bench.Echo", "Echo", (req) => req);
await server.listen(path);
parentPort?.postMessage("ready");
parentPort?.once("message", () => {
  void server.close().then(() => parentPort?.close());
});
