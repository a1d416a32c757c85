// CRI conformance, part 2: what critest's "Streaming" (exec, exec with
// stdin, attach, port-forward) and "Networking" (hostname, DNS config, pod
// IP reachable from the host) specs assert, through the URLs sandboxd's CRI
// returns and a real SPDY/3.1 client (remotecommand v4, portforward.k8s.io).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { portForwardProtocol, Protocol, spdyConnect, type SpdyStream } from "@sandboxd/streaming";
import { run, waitUntil } from "@sandboxd/testing";
import { containerConfig, openCri, podConfig, runContainer, type CriWorld } from "./harness.js";

function collect(stream: SpdyStream | null): Promise<string> {
  if (!stream) return Promise.resolve("");
  const chunks: Buffer[] = [];
  stream.on("data", (c: Buffer) => chunks.push(c));
  return new Promise((resolve) => {
    const done = (): void => resolve(Buffer.concat(chunks).toString());
    stream.once("end", done);
    stream.once("close", done);
  });
}

/** kubectl's remotecommand flow: error stream first, then stdin/stdout/stderr. */
async function spdyExec(url: string, stdin?: string) {
  const { session, protocol } = await spdyConnect(url, [Protocol.V4, Protocol.V3, Protocol.V2]);
  const error = await session.openStream({ streamtype: "error" });
  const error$ = collect(error);
  error.end();
  const input = stdin !== undefined ? await session.openStream({ streamtype: "stdin" }) : null;
  const stdout = await session.openStream({ streamtype: "stdout" });
  const stdout$ = collect(stdout);
  stdout.end();
  const stderr = await session.openStream({ streamtype: "stderr" });
  const stderr$ = collect(stderr);
  stderr.end();
  if (input) input.end(stdin);
  const [out, err, status] = await Promise.all([stdout$, stderr$, error$]);
  session.destroy();
  return { protocol, stdout: out, stderr: err, error: status };
}

const webCommand = [
  "sh",
  "-c",
  "mkdir -p /tmp/www && echo hello-cri > /tmp/www/index.html && exec httpd -f -p 8000 -h /tmp/www",
];

describe("CRI streaming (SPDY) and networking", { timeout: 120_000 }, () => {
  let w: CriWorld;
  before(async () => {
    w = await openCri();
  });
  after(async () => {
    await w?.close();
  });

  test("runtime should support exec with tty=false (SPDY, remotecommand v4), exit codes on the error stream", async () => {
    const pod = podConfig(w, "exec");
    const { podId, id } = await runContainer(w, pod, containerConfig(w, "c", ["sleep", "3600"]));
    const { url } = await w.rt.exec({
      containerId: id,
      cmd: ["sh", "-c", "echo hello; echo oops >&2"],
      stdout: true,
      stderr: true,
    });
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/exec\//);
    const r = await spdyExec(url);
    assert.equal(r.protocol, Protocol.V4);
    assert.equal(r.stdout, "hello\n");
    assert.equal(r.stderr, "oops\n");
    assert.match(r.error, /"status":"Success"/);
    // The token is single-use.
    await assert.rejects(spdyConnect(url, [Protocol.V4]));

    const failing = await w.rt.exec({
      containerId: id,
      cmd: ["sh", "-c", "exit 3"],
      stdout: true,
      stderr: true,
    });
    const f = await spdyExec(failing.url);
    assert.match(f.error, /NonZeroExitCode/);
    assert.match(f.error, /"message":"3"/);
    await w.rt.removePodSandbox({ podSandboxId: podId });
  });

  test("runtime should support exec with stdin", async () => {
    const pod = podConfig(w, "stdin");
    const { podId, id } = await runContainer(w, pod, containerConfig(w, "c", ["sleep", "3600"]));
    const { url } = await w.rt.exec({
      containerId: id,
      cmd: ["cat"],
      stdin: true,
      stdout: true,
      stderr: true,
    });
    const r = await spdyExec(url, "from stdin\n");
    assert.equal(r.stdout, "from stdin\n");
    await w.rt.removePodSandbox({ podSandboxId: podId });
  });

  test("runtime should support attach", async () => {
    const pod = podConfig(w, "attach");
    const { podId, id } = await runContainer(
      w,
      pod,
      containerConfig(w, "c", ["sh", "-c", "while read l; do echo got:$l; done"], { stdin: true }),
    );
    const { url } = await w.rt.attach({ containerId: id, stdin: true, stdout: true, stderr: true });
    const { session } = await spdyConnect(url, [Protocol.V4]);
    const error = await session.openStream({ streamtype: "error" });
    error.end();
    const stdin = await session.openStream({ streamtype: "stdin" });
    const stdout = await session.openStream({ streamtype: "stdout" });
    stdout.end();
    // Every stream the request named must be opened before the server starts.
    const stderr = await session.openStream({ streamtype: "stderr" });
    stderr.end();
    let out = "";
    stdout.on("data", (c: Buffer) => (out += c.toString()));
    stdin.write("ping\n");
    await waitUntil(() => out.includes("got:ping"), {
      timeoutMs: 20_000,
      what: "the attached output",
    });
    session.destroy();
    await w.rt.removePodSandbox({ podSandboxId: podId });
  });

  test("runtime should support port-forward (portforward.k8s.io over SPDY)", async () => {
    const pod = podConfig(w, "pf");
    const { podId, id } = await runContainer(w, pod, containerConfig(w, "web", webCommand));
    await waitUntil(
      async () => {
        const r = await w.rt.execSync({
          containerId: id,
          cmd: ["sh", "-c", "netstat -ltn | grep -q :8000"],
          timeout: 0n,
        });
        return r.exitCode === 0;
      },
      { timeoutMs: 20_000, what: "httpd to listen" },
    );
    const { url } = await w.rt.portForward({ podSandboxId: podId, port: [8000] });
    const { session, protocol } = await spdyConnect(url, [portForwardProtocol]);
    assert.equal(protocol, portForwardProtocol);
    const error = await session.openStream({ streamtype: "error", port: "8000", requestid: "0" });
    const error$ = collect(error);
    error.end();
    const data = await session.openStream({ streamtype: "data", port: "8000", requestid: "0" });
    const body$ = collect(data);
    data.write("GET / HTTP/1.0\r\n\r\n");
    const body = await body$;
    assert.match(body, /^HTTP\/1\.[01] 200/);
    assert.match(body, /hello-cri/);
    assert.equal(await error$, "");
    session.destroy();
    await w.rt.removePodSandbox({ podSandboxId: podId });
  });

  test("runtime should support DNS config and set the hostname", async () => {
    const pod = podConfig(w, "dns", {
      hostname: "cri-host",
      dnsConfig: { servers: ["8.8.8.8"], searches: ["cri.example"], options: ["ndots:3"] },
    });
    const { podId, id } = await runContainer(w, pod, containerConfig(w, "c", ["sleep", "3600"]));
    const resolv = await w.rt.execSync({
      containerId: id,
      cmd: ["cat", "/etc/resolv.conf"],
      timeout: 0n,
    });
    const text = Buffer.from(resolv.stdout).toString();
    assert.match(text, /nameserver 8\.8\.8\.8/);
    assert.match(text, /search cri\.example/);
    assert.match(text, /options ndots:3/);
    const host = await w.rt.execSync({ containerId: id, cmd: ["hostname"], timeout: 0n });
    assert.equal(Buffer.from(host.stdout).toString().trim(), "cri-host");
    await w.rt.removePodSandbox({ podSandboxId: podId });
  });

  test("runtime should support a pod IP reachable from the host (web server on the pod network)", async () => {
    const pod = podConfig(w, "web");
    const { podId } = await runContainer(w, pod, containerConfig(w, "web", webCommand));
    const st = await w.rt.podSandboxStatus({ podSandboxId: podId });
    const ip = st.status?.network?.ip ?? "";
    assert.match(ip, /^\d+\.\d+\.\d+\.\d+$/);
    // The test sandboxer runs with is_gateway = false (host sysctls untouched); give the host
    // the bridge's gateway address, as is_gateway would, so it routes to the pod subnet.
    const gateway = w.sandboxer.subnet.replace(/\.0\/24$/, ".1/24");
    await run("ip", ["addr", "add", gateway, "dev", w.sandboxer.bridge]).catch(() => undefined);
    const body = await waitUntil(
      async () => {
        const r = await fetch(`http://${ip}:8000/`).catch(() => undefined);
        return r?.status === 200 && (await r.text());
      },
      { timeoutMs: 20_000, what: `http://${ip}:8000/ to answer` },
    );
    assert.match(body, /hello-cri/);
    await w.rt.removePodSandbox({ podSandboxId: podId });
  });
});
