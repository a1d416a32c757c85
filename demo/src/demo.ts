/**
 * `npm run demo`: sandboxd and sbx-sandboxer on temporary state, a pod with two
 * containers sharing the pod's network (one serves HTTP, one fetches it over
 * localhost), their output, the events and the pod's metrics; then everything
 * is removed. Exits non-zero if any step fails.
 */
import module from "node:module";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Client as ClientType, Envelope, Metrics, Sandbox, Task } from "@sandboxd/client";
import { cleanupHost, startDaemons, type DemoDaemons } from "./daemons.js";

module.enableCompileCache?.();

const namespace = "demo";
const podId = "demo-pod";
const bold = (s: string): string => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
const step = (s: string): void => console.log(`\n${bold(`== ${s}`)}`);
/** Set on Ctrl-C / SIGTERM: the signal handler cleans up and exits, whatever main does then. */
let interrupted = false;

async function main(): Promise<number> {
  if (process.getuid?.() !== 0) {
    console.error("demo: run it as root (pods need namespaces, cgroups and a bridge network)");
    return 1;
  }
  const { Client, capture, defaultSpec, prepareBusyboxRootfs, withMounts } =
    await import("@sandboxd/client");
  const dir = await mkdtemp(join(tmpdir(), "sandboxd-demo-"));
  let daemons: DemoDaemons | undefined;
  let client: ClientType | undefined;
  let sandbox: Sandbox | undefined;
  const tasks: Task[] = [];
  const events: Envelope[] = [];
  const stopEvents = new AbortController();
  // Once, from the end of main or from Ctrl-C / SIGTERM: nothing is left behind either way.
  let cleaning: Promise<void> | undefined;
  const cleanup = (): Promise<void> =>
    (cleaning ??= (async () => {
      stopEvents.abort();
      if (sandbox)
        await sandbox
          .shutdown({ force: true }, { timeoutMs: 30_000 })
          .catch((err: unknown) => console.error(`demo: cleanup: ${String(err)}`));
      client?.close();
      await daemons?.sandboxd.stop();
      await daemons?.sandboxer.stop();
      await cleanupHost(dir);
      await rm(dir, { recursive: true, force: true });
      console.log(`\n${bold("== done")}: daemons stopped, ${dir} removed`);
    })());
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      interrupted = true;
      console.error(`\ndemo: ${signal}, cleaning up`);
      void cleanup().finally(() => process.exit(signal === "SIGINT" ? 130 : 143));
    });
  }
  try {
    step("starting sbx-sandboxer and sandboxd on temporary state");
    daemons = await startDaemons(dir);
    console.log(`state:     ${dir}`);
    console.log(`sandboxd:  ${daemons.address} (pid ${daemons.sandboxd.child.pid})`);
    console.log(
      `sandboxer: ${daemons.sandboxer.socket} (pid ${daemons.sandboxer.child.pid}), as sandbox controller "${daemons.sandboxerName}"`,
    );
    const c = await Client.connect({ address: daemons.address, namespace });
    client = c;
    const { version } = await c.version();
    console.log(`connected: sandboxd ${version}, namespace "${namespace}"`);

    const subscribed = collectEvents(c, events, stopEvents.signal);

    step("preparing the default root filesystem (Debian's busybox-static)");
    const rootfs = join(dir, "rootfs");
    // The tasks' FIFOs too live in the demo's directory, so an interrupted run leaves none.
    const fifoDir = join(dir, "fifo");
    await prepareBusyboxRootfs(rootfs);
    console.log(`rootfs:    ${rootfs} (read-only in the containers)`);

    step(`creating pod "${podId}" (no pause container: its namespaces are pinned files)`);
    const pod = await c.newSandbox(podId, {
      sandboxer: daemons.sandboxerName,
      labels: { app: "demo" },
    });
    sandbox = pod;
    const instance = await pod.start();
    const status = await pod.status({ verbose: true });
    console.log(
      `state:     ${status.state}; task API at ${instance.address} (version ${instance.version})`,
    );
    for (const [key, value] of Object.entries(status.info).sort())
      console.log(`  ${key}: ${value}`);

    const tmp = withMounts([
      {
        destination: "/tmp",
        type: "tmpfs",
        source: "tmpfs",
        options: ["nosuid", "nodev", "size=1m"],
      },
    ]);
    step('starting container "web": busybox httpd on port 8080');
    // PID 1 of a container gets only the signals it handles, so the shell stays
    // PID 1 and handles SIGTERM (httpd itself would ignore it there).
    const webScript =
      "echo 'hello from the web container' > /tmp/index.html; trap 'exit 0' TERM; httpd -f -v -p 8080 -h /tmp & wait";
    const web = await pod.newContainer("web", {
      spec: defaultSpec(
        { id: "web", args: ["sh", "-c", webScript], rootfs, readonlyRootfs: true },
        tmp,
      ),
    });
    const webOutput = capture(undefined, { fifoDir });
    const webTask = await web.newTask({ io: webOutput });
    tasks.push(webTask);
    await webTask.start();
    console.log(`web:       pid ${webTask.pid}`);

    step('starting container "client": wget http://127.0.0.1:8080/ from the same pod');
    const fetchScript =
      "for i in $(seq 1 50); do wget -q -O - http://127.0.0.1:8080/ && exit 0; sleep 0.1; done; echo 'no answer' >&2; exit 1";
    const fetcher = await pod.newContainer("client", {
      spec: defaultSpec({
        id: "client",
        args: ["sh", "-c", fetchScript],
        rootfs,
        readonlyRootfs: true,
      }),
    });
    const fetchOutput = capture(undefined, { fifoDir });
    const fetchTask = await fetcher.newTask({ io: fetchOutput });
    tasks.push(fetchTask);
    const fetched = fetchTask.wait();
    await fetchTask.start();
    const { exitStatus } = await fetched;
    console.log(`client stdout: ${fetchOutput.stdout.trim() || "(nothing)"}`);
    if (fetchOutput.stderr.trim()) console.log(`client stderr: ${fetchOutput.stderr.trim()}`);
    console.log(`client exit status: ${exitStatus}`);
    if (exitStatus !== 0) throw new Error(`the client container exited with ${exitStatus}`);

    step("pod metrics (from the pod's cgroup)");
    printMetrics(await pod.metrics());

    step("stopping the web container");
    const webExited = webTask.wait();
    await webTask.kill("SIGTERM");
    console.log(`web exit status: ${(await webExited).exitStatus}`);
    if (webOutput.stderr.trim())
      console.log(`web log: ${webOutput.stderr.trim().split("\n").slice(-2).join(" | ")}`);

    step("cleaning up: tasks, containers, pod");
    for (const task of tasks.splice(0)) await task.delete();
    await web.delete();
    await fetcher.delete();
    await pod.shutdown();
    sandbox = undefined;
    console.log("pod removed");

    stopEvents.abort();
    await subscribed;
    step(`events published by sandboxd (${events.length})`);
    for (const e of events)
      console.log(`${e.timestamp?.toISOString() ?? ""}  ${e.topic.padEnd(20)} ${describe(e)}`);
    return 0;
  } finally {
    await cleanup();
  }
}

async function collectEvents(
  client: ClientType,
  into: Envelope[],
  signal: AbortSignal,
): Promise<void> {
  try {
    for await (const e of client.subscribe([`namespace==${namespace}`], { signal })) into.push(e);
  } catch (err) {
    if (!signal.aborted) console.error(`demo: event stream ended: ${String(err)}`);
  }
}

function describe(e: Envelope): string {
  const event = e.event as Record<string, unknown> | undefined;
  if (!event) return "";
  const fields = ["sandboxId", "containerId", "id", "pid", "exitStatus"]
    .filter((k) => event[k] !== undefined && event[k] !== "" && event[k] !== 0)
    .map((k) => `${k}=${String(event[k])}`);
  return fields.join(" ");
}

function printMetrics(m: Metrics): void {
  if (m.cgroup === "v1") {
    console.log(`cpu usage:    ${(Number(m.data.cpu?.usage?.total ?? 0n) / 1e6).toFixed(1)} ms`);
    console.log(
      `memory usage: ${(Number(m.data.memory?.usage?.usage ?? 0n) / 2 ** 20).toFixed(2)} MiB`,
    );
    console.log(`pids:         ${m.data.pids?.current ?? 0n}`);
  } else if (m.cgroup === "v2") {
    console.log(`cpu usage:    ${(Number(m.data.cpu?.usageUsec ?? 0n) / 1e3).toFixed(1)} ms`);
    console.log(`memory usage: ${(Number(m.data.memory?.usage ?? 0n) / 2 ** 20).toFixed(2)} MiB`);
    console.log(`pids:         ${m.data.pids?.current ?? 0n}`);
  } else {
    console.log("metrics: (no cgroup data)");
  }
}

main().then(
  (code) => {
    if (!interrupted) process.exit(code);
  },
  (err: unknown) => {
    if (interrupted) return;
    console.error(`demo failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
