import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { StreamingServer } from "../server.js";
import { spdyConnect } from "../client/spdy.js";
import { Protocol } from "../protocol/remotecommand.js";
import { waitUntil } from "@sandboxd/testing";
import { ProcessRuntime, execOf, waitKilledAndReleased } from "../testing/process-runtime.js";
import type { SpdySession, SpdyStream } from "./session.js";

function collect(stream: SpdyStream | null): Promise<string> {
  if (!stream) return Promise.resolve("");
  const chunks: Buffer[] = [];
  stream.on("data", (c: Buffer) => chunks.push(c));
  return new Promise((resolve) => {
    stream.once("end", () => resolve(Buffer.concat(chunks).toString()));
    stream.once("close", () => resolve(Buffer.concat(chunks).toString()));
  });
}

interface ExecResult {
  protocol: string;
  stdout: string;
  stderr: string;
  error: string;
}

/** What kubectl's remotecommand client does: one stream per channel, error stream first. */
async function spdyExec(
  url: string,
  opts: {
    protocols?: string[];
    stdin?: string;
    tty?: boolean;
    stderr?: boolean;
    beforeStdin?: (session: SpdySession, resize: SpdyStream | null) => Promise<void>;
  } = {},
): Promise<ExecResult> {
  const { session, protocol } = await spdyConnect(
    url,
    opts.protocols ?? [Protocol.V4, Protocol.V3, Protocol.V2, Protocol.V1],
  );
  const error = await session.openStream({ streamtype: "error" });
  const error$ = collect(error);
  error.end();
  const stdin = opts.stdin !== undefined ? await session.openStream({ streamtype: "stdin" }) : null;
  const stdout = await session.openStream({ streamtype: "stdout" });
  const stdout$ = collect(stdout);
  stdout.end();
  const stderr =
    opts.stderr === false || opts.tty ? null : await session.openStream({ streamtype: "stderr" });
  const stderr$ = collect(stderr);
  stderr?.end();
  const resize = opts.tty ? await session.openStream({ streamtype: "resize" }) : null;
  await opts.beforeStdin?.(session, resize);
  if (stdin) stdin.end(opts.stdin);
  const [out, err, status] = await Promise.all([stdout$, stderr$, error$]);
  return { protocol, stdout: out, stderr: err, error: status };
}

describe("exec and attach over SPDY/3.1", () => {
  const runtime = new ProcessRuntime();
  let server: StreamingServer;
  before(async () => {
    server = await StreamingServer.start({ runtime });
  });
  after(async () => {
    await server.close();
  });

  test("the server listens on loopback with a random port", () => {
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const { url } = server.getExec(execOf(["true"], { containerId: "c1" }));
    assert.match(url, new RegExp(`^${server.url}/exec/[A-Za-z0-9_-]+$`));
  });

  test("stdout, stderr and a non-zero exit code reach the client (v4 status JSON)", async () => {
    const { url } = server.getExec(
      execOf(["sh", "-c", "echo out; echo err >&2; exit 3"], { containerId: "c1", stderr: true }),
    );
    const r = await spdyExec(url);
    assert.equal(r.protocol, Protocol.V4);
    assert.equal(r.stdout, "out\n");
    assert.equal(r.stderr, "err\n");
    assert.deepEqual(JSON.parse(r.error), {
      metadata: {},
      status: "Failure",
      message: "command terminated with non-zero exit code: exit status 3",
      reason: "NonZeroExitCode",
      details: { causes: [{ reason: "ExitCode", message: "3" }] },
    });
  });

  test("stdin flows to the process and a zero exit is Success", async () => {
    const { url } = server.getExec(
      execOf(["sh", "-c", "read line; echo got:$line; cat"], {
        containerId: "c1",
        stdin: true,
        stderr: true,
      }),
    );
    const big = "x".repeat(300_000);
    const r = await spdyExec(url, { stdin: `hello\n${big}` });
    assert.equal(r.stdout, `got:hello\n${big}`);
    assert.deepEqual(JSON.parse(r.error), { metadata: {}, status: "Success" });
  });

  test("tty: resize events reach the runtime in order, stderr folds into stdout", async () => {
    const { url } = server.getExec(
      execOf(["sh", "-c", "read line; echo tty:$line; echo e >&2"], {
        containerId: "c1",
        tty: true,
        stdin: true,
      }),
    );
    const seen = runtime.resizes.length;
    const r = await spdyExec(url, {
      tty: true,
      stdin: "x\n",
      beforeStdin: async (_s, resize) => {
        resize!.write('{"Width":80,"Height":24}');
        resize!.write('{"Width":100,');
        resize!.write('"Height":40}');
        await waitUntil(() => runtime.resizes.length === seen + 2, { what: "two resize events" });
      },
    });
    assert.deepEqual(runtime.resizes.slice(seen), [
      { width: 80, height: 24 },
      { width: 100, height: 40 },
    ]);
    assert.equal(r.stdout, "tty:x\ne\n");
    assert.equal(r.stderr, "");
  });

  test("older protocols: v2 reports a failure as plain text and success as nothing", async () => {
    const fail = server.getExec(execOf(["sh", "-c", "exit 7"], { stderr: true }));
    const r = await spdyExec(fail.url, { protocols: [Protocol.V2] });
    assert.equal(r.protocol, Protocol.V2);
    assert.equal(r.error, "command terminated with non-zero exit code: exit status 7");
    const ok = server.getExec(execOf(["true"], { stderr: true }));
    assert.equal((await spdyExec(ok.url, { protocols: [Protocol.V3] })).error, "");
  });

  test("a runtime failure is an InternalError status", async () => {
    const { url } = server.getExec(execOf(["/nonexistent/binary"], { stderr: true }));
    const status = JSON.parse((await spdyExec(url)).error) as {
      reason: string;
      code: number;
      message: string;
    };
    assert.equal(status.reason, "InternalError");
    assert.equal(status.code, 500);
    assert.match(status.message, /error executing command in container: .*ENOENT/);
  });

  test("attach connects the client to the runtime's stdio", async () => {
    const { url } = server.getAttach({
      containerId: "c",
      tty: false,
      stdin: true,
      stdout: true,
      stderr: true,
    });
    const r = await spdyExec(url, { stdin: "attached\n" });
    assert.equal(r.stdout, "attached\n");
    assert.deepEqual(JSON.parse(r.error), { metadata: {}, status: "Success" });
  });

  test("tokens are single-use; unknown ones are 404; a mismatched protocol is 403", async () => {
    const { url } = server.getExec(execOf(["true"]));
    await spdyExec(url, { stderr: false });
    await assert.rejects(
      spdyConnect(url, [Protocol.V4]),
      (e: { statusCode?: number }) => e.statusCode === 404,
    );
    await assert.rejects(
      spdyConnect(`${server.url}/exec/nope`, [Protocol.V4]),
      (e: { statusCode?: number }) => e.statusCode === 404,
    );
    const pf = server.getPortForward({ podSandboxId: "p" });
    await assert.rejects(
      spdyConnect(pf.url.replace("/portforward/", "/exec/"), [Protocol.V4]),
      (e: { statusCode?: number }) => e.statusCode === 404,
    );
    const other = server.getExec(execOf(["true"]));
    await assert.rejects(
      spdyConnect(other.url, ["v9.channel.k8s.io"]),
      (e: { statusCode?: number; message: string }) => {
        return e.statusCode === 403 && /unable to negotiate protocol/.test(e.message);
      },
    );
  });

  test("an expired token is refused", async () => {
    const short = await StreamingServer.start({ runtime, tokenTtlMs: 0 });
    try {
      const { url } = short.getExec(execOf(["true"]));
      await assert.rejects(
        spdyConnect(url, [Protocol.V4]),
        (e: { statusCode?: number }) => e.statusCode === 404,
      );
    } finally {
      await short.close();
    }
  });

  test("bad requests are InvalidArgument", () => {
    const base = execOf(["true"]);
    assert.throws(
      () => server.getExec({ ...base, containerId: "" }),
      /missing required container_id/,
    );
    assert.throws(
      () => server.getExec({ ...base, tty: true, stderr: true }),
      /tty and stderr cannot both be true/,
    );
    assert.throws(
      () => server.getExec({ ...base, stdout: false }),
      /one of stdin, stdout, or stderr must be set/,
    );
    assert.throws(
      () => server.getPortForward({ podSandboxId: "" }),
      /missing required pod_sandbox_id/,
    );
  });

  test("a client that disconnects mid-stream: the process is killed, the session is gone", async () => {
    const { url } = server.getExec(
      execOf(["sh", "-c", "echo started; exec sleep 1000"], { stdin: true, stderr: true }),
    );
    const { session } = await spdyConnect(url, [Protocol.V4]);
    await session.openStream({ streamtype: "error" });
    await session.openStream({ streamtype: "stdin" });
    const stdout = await session.openStream({ streamtype: "stdout" });
    await session.openStream({ streamtype: "stderr" });
    let out = "";
    stdout.on("data", (c: Buffer) => (out += c.toString()));
    await waitUntil(() => out === "started\n", { what: "the process to start" });
    const child = runtime.children.at(-1)!;
    assert.equal(child.exitCode, null);
    session.destroy();
    await waitKilledAndReleased(child, server);
  });

  test("a client that never creates its streams is dropped after the creation timeout", async () => {
    const quick = await StreamingServer.start({ runtime, streamCreationTimeoutMs: 100 });
    try {
      const { url } = quick.getExec(execOf(["true"]));
      const { session } = await spdyConnect(url, [Protocol.V4]);
      // Whether or not the reply beats the timeout, the session must end.
      session.openStream({ streamtype: "error" }).catch(() => undefined);
      await new Promise<void>((resolve) => session.once("close", resolve));
      await waitUntil(() => quick.activeSessions === 0, { what: "the session to be released" });
    } finally {
      await quick.close();
    }
  });
});
