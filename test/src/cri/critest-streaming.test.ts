// critest "Streaming" specs that streaming.test.ts does not reach: exec with
// tty=true and stdin=true (remotecommand v4 with a resize stream and no
// stderr), and port-forward into a host-network pod, whose ports are the
// host's own (there is no pod network namespace to enter). And Networking's
// "port mapping with only container port": such a pod runs and its web
// server answers on the pod IP.
import assert from "node:assert/strict";
import net from "node:net";
import { after, before, describe, test } from "node:test";
import { NamespaceMode } from "@sandboxd/api/cri/runtime/v1/api_pb";
import { portForwardProtocol, Protocol, spdyConnect, type SpdyStream } from "@sandboxd/streaming";
import { run, waitUntil } from "@sandboxd/testing";
import { containerConfig, openCri, podConfig, runContainer, type CriWorld } from "./harness.js";

function collect(stream: SpdyStream): Promise<string> {
  const chunks: Buffer[] = [];
  stream.on("data", (c: Buffer) => chunks.push(c));
  return new Promise((resolve) => {
    const done = (): void => resolve(Buffer.concat(chunks).toString());
    stream.once("end", done);
    stream.once("close", done);
  });
}

/** A TCP port nothing listens on right now (the kernel's pick, released). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

describe(
  "critest Streaming (tty exec, port-forward in host network), Networking",
  { timeout: 180_000 },
  () => {
    let w: CriWorld;
    before(async () => {
      w = await openCri();
    });
    after(async () => {
      await w?.close();
    });

    test("runtime should support exec with tty=true and stdin=true", async () => {
      const pod = podConfig(w, "tty");
      const { podId, id } = await runContainer(w, pod, containerConfig(w, "c", ["sleep", "3600"]));
      const { url } = await w.rt.exec({
        containerId: id,
        cmd: ["echo", "-n", "hello"],
        tty: true,
        stdin: true,
        stdout: true,
      });
      const { session, protocol } = await spdyConnect(url, [Protocol.V4]);
      assert.equal(protocol, Protocol.V4);
      const error = await session.openStream({ streamtype: "error" });
      const error$ = collect(error);
      error.end();
      const stdin = await session.openStream({ streamtype: "stdin" });
      const stdout = await session.openStream({ streamtype: "stdout" });
      const stdout$ = collect(stdout);
      stdout.end();
      const resize = await session.openStream({ streamtype: "resize" });
      resize.write(JSON.stringify({ Width: 80, Height: 24 }));
      const [out, status] = await Promise.all([stdout$, error$]);
      stdin.end();
      resize.end();
      session.destroy();
      // A terminal may turn "\n" into "\r\n"; critest only asks that "hello" arrives.
      assert.match(out, /hello/);
      // remotecommand v4 reports the exit as a metav1.Status on the error stream.
      assert.equal((JSON.parse(status) as { status?: string }).status, "Success");
      await w.rt.removePodSandbox({ podSandboxId: podId });
    });

    test("runtime should support portforward in host network", async () => {
      const port = await freePort();
      const pod = podConfig(w, "hostnet-pf", {
        portMappings: [{ containerPort: port }],
        linux: { securityContext: { namespaceOptions: { network: NamespaceMode.NODE } } },
      });
      const web = containerConfig(w, "web", [
        "sh",
        "-c",
        `mkdir -p /tmp/www && echo hello-hostnet > /tmp/www/index.html && exec httpd -f -p 127.0.0.1:${port} -h /tmp/www`,
      ]);
      const { podId } = await runContainer(w, pod, web);
      // The server is on the host's own loopback: the host reaches it directly.
      await waitUntil(
        async () =>
          (await fetch(`http://127.0.0.1:${port}/`).catch(() => undefined))?.status === 200,
        { timeoutMs: 30_000, what: "the host-network web server to answer on the host" },
      );
      const { url } = await w.rt.portForward({ podSandboxId: podId, port: [port] });
      const { session } = await spdyConnect(url, [portForwardProtocol]);
      const headers = { port: String(port), requestid: "0" };
      const error = await session.openStream({ streamtype: "error", ...headers });
      const error$ = collect(error);
      error.end();
      const data = await session.openStream({ streamtype: "data", ...headers });
      const body$ = collect(data);
      data.write("GET / HTTP/1.0\r\n\r\n");
      const body = await body$;
      assert.match(body, /^HTTP\/1\.[01] 200/);
      assert.match(body, /hello-hostnet/);
      assert.equal(await error$, "");
      session.destroy();
      await w.rt.removePodSandbox({ podSandboxId: podId });
    });

    test("runtime should support port mapping with only container port (pod IP:port answers)", async () => {
      const pod = podConfig(w, "cport", { portMappings: [{ containerPort: 8000 }] });
      const web = containerConfig(w, "web", [
        "sh",
        "-c",
        "mkdir -p /tmp/www && echo hello-cport > /tmp/www/index.html && exec httpd -f -p 8000 -h /tmp/www",
      ]);
      const { podId } = await runContainer(w, pod, web);
      const ip = (await w.rt.podSandboxStatus({ podSandboxId: podId })).status?.network?.ip ?? "";
      assert.match(ip, /^\d+\.\d+\.\d+\.\d+$/);
      // The test sandboxer's bridge is no gateway (host sysctls untouched): give the host its
      // gateway address, as is_gateway would, so the host routes to the pod subnet.
      const gateway = w.sandboxer.subnet.replace(/\.0\/24$/, ".1/24");
      await run("ip", ["addr", "add", gateway, "dev", w.sandboxer.bridge]).catch(() => undefined);
      const body = await waitUntil(
        async () => {
          const res = await fetch(`http://${ip}:8000/`).catch(() => undefined);
          return res?.status === 200 && (await res.text());
        },
        { timeoutMs: 30_000, what: `http://${ip}:8000/ to answer` },
      );
      assert.match(body, /hello-cport/);
      await w.rt.removePodSandbox({ podSandboxId: podId });
    });
  },
);
