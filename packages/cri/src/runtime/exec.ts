/**
 * Processes in a running container: ExecSync (output collected, a timeout
 * kills the exec, not the container) and the streaming server's exec and
 * attach, all through Tasks.Exec/Start/Wait with FIFO stdio.
 */
import { closeSync, constants, openSync } from "node:fs";
import { rm } from "node:fs/promises";
import net from "node:net";
import { join } from "node:path";
import type { Readable, Writable } from "node:stream";
import { create } from "@bufbuild/protobuf";
import {
  DeleteProcessRequestSchema,
  ExecProcessRequestSchema,
  KillRequestSchema,
  ResizePtyRequestSchema,
  StartRequestSchema,
  WaitRequestSchema,
  CloseIORequestSchema,
} from "@sandboxd/api/services/tasks/v1/tasks_pb";
import type { Ctx } from "@sandboxd/core";
import { deadlineExceeded, failedPrecondition, invalidArgument } from "@sandboxd/errdefs";
import type { StreamIO } from "@sandboxd/streaming";
import type { Backend } from "../backend.js";
import { FifoReader } from "../logs/cri-log.js";
import type { Containers } from "./containers.js";
import { makeFifos } from "./io.js";
import type { CriContainer } from "./records.js";
import { ignoreNotFound, jsonAny, newId } from "./util.js";

export interface ExecIO {
  stdin?: Readable | null;
  stdout: (data: Buffer) => void;
  stderr: (data: Buffer) => void;
  tty: boolean;
}

export class Execs {
  readonly #b: Backend;
  readonly #containers: Containers;

  constructor(b: Backend, containers: Containers) {
    this.#b = b;
    this.#containers = containers;
  }

  /** Runs `cmd`; resolves with its exit code. `timeoutMs` > 0 kills it then (DeadlineExceeded). */
  async run(
    ctx: Ctx,
    c: CriContainer,
    cmd: readonly string[],
    io: ExecIO,
    timeoutMs: number,
    signal?: AbortSignal,
    resize?: AsyncIterable<{ width: number; height: number }> | null,
  ): Promise<number> {
    if (cmd.length === 0) throw invalidArgument("cmd must not be empty");
    if (!this.#containers.live.has(c.id))
      throw failedPrecondition(`container ${c.id} is not running`);
    const execId = newId().slice(0, 24);
    const dir = join(this.#containers.dir(c.id), "execs", execId);
    const names = io.tty ? ["stdout"] : ["stdout", "stderr"];
    const fifos = await makeFifos(dir, io.stdin ? [...names, "stdin"] : names);
    const readers = [new FifoReader(fifos.stdout!, io.stdout, () => undefined)];
    if (fifos.stderr) readers.push(new FifoReader(fifos.stderr, io.stderr, () => undefined));
    let stdinFd: number | undefined;
    let stdinSock: net.Socket | undefined;
    const spec = JSON.parse(
      Buffer.from(c.record.spec?.value ?? new Uint8Array()).toString("utf8"),
    ) as { process: Record<string, unknown> };
    const process = { ...spec.process, args: [...cmd], terminal: io.tty };
    try {
      if (fifos.stdin) {
        // Held before the exec exists, so its stdin sees no EOF until the client's stdin ends.
        stdinFd = openSync(fifos.stdin, constants.O_RDWR | constants.O_NONBLOCK);
        stdinSock = new net.Socket({ fd: stdinFd, readable: false, writable: true });
        stdinFd = undefined;
        stdinSock.on("error", () => undefined);
      }
      await this.#b.tasks.exec(
        ctx,
        create(ExecProcessRequestSchema, {
          containerId: c.id,
          execId,
          stdout: fifos.stdout ?? "",
          stderr: fifos.stderr ?? "",
          stdin: fifos.stdin ?? "",
          terminal: io.tty,
          spec: jsonAny("types.containerd.io/opencontainers/runtime-spec/1/Process", process),
        }),
      );
      let markStarted: () => void = () => undefined;
      const started = new Promise<void>((r) => (markStarted = r));
      if (stdinSock && io.stdin) {
        const sock = stdinSock;
        io.stdin.on("data", (d: Buffer) => sock.write(d));
        let ended = false;
        const endInput = (): void => {
          if (ended) return;
          ended = true;
          // A FIFO cannot be half-closed: closing our descriptor, once what was written left
          // the socket, is the EOF (end() alone may leave it open).
          // Not before the exec started: a FIFO both of whose ends are closed drops what it holds.
          void started.then(() => {
            if (sock.writableLength === 0) sock.destroy();
            else sock.once("drain", () => sock.destroy());
          });
          // CloseIO only once the exec started (before, the sandboxer has no stdin to close).
          void started
            .then(() =>
              ignoreNotFound(() =>
                this.#b.tasks.closeIO(
                  ctx,
                  create(CloseIORequestSchema, { containerId: c.id, execId, stdin: true }),
                ),
              ),
            )
            .catch(() => undefined);
        };
        io.stdin.once("end", endInput);
        io.stdin.once("close", endInput);
      }
      const exited = Promise.resolve(
        this.#b.tasks.wait(ctx, create(WaitRequestSchema, { containerId: c.id, execId })),
      );
      await this.#b.tasks.start(ctx, create(StartRequestSchema, { containerId: c.id, execId }));
      markStarted();
      if (resize) {
        void (async () => {
          for await (const s of resize) {
            await ignoreNotFound(() =>
              this.#b.tasks.resizePty(
                ctx,
                create(ResizePtyRequestSchema, {
                  containerId: c.id,
                  execId,
                  width: s.width,
                  height: s.height,
                }),
              ),
            ).catch(() => undefined);
          }
        })();
      }
      const kill = (): void => {
        void ignoreNotFound(() =>
          this.#b.tasks.kill(
            ctx,
            create(KillRequestSchema, { containerId: c.id, execId, signal: 9 }),
          ),
        ).catch(() => undefined);
      };
      signal?.addEventListener("abort", kill, { once: true });
      let timedOut = false;
      const timer =
        timeoutMs > 0
          ? setTimeout(() => {
              timedOut = true;
              kill();
            }, timeoutMs)
          : undefined;
      const w = await exited.finally(() => clearTimeout(timer));
      signal?.removeEventListener("abort", kill);
      for (const r of readers) r.release();
      await Promise.all(readers.map((r) => r.done));
      if (timedOut)
        throw deadlineExceeded(
          `command ${JSON.stringify(cmd.join(" "))} timed out after ${timeoutMs / 1000}s`,
        );
      return w.exitStatus ?? 0;
    } finally {
      for (const r of readers) r.destroy();
      stdinSock?.destroy();
      if (stdinFd !== undefined) closeSync(stdinFd);
      await ignoreNotFound(() =>
        this.#b.tasks.deleteProcess(
          ctx,
          create(DeleteProcessRequestSchema, { containerId: c.id, execId }),
        ),
      ).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    }
  }

  /** Exec for the streaming server. */
  async stream(
    ctx: Ctx,
    c: CriContainer,
    cmd: readonly string[],
    io: StreamIO,
    signal: AbortSignal,
  ): Promise<number> {
    const out =
      (w: Writable | null) =>
      (d: Buffer): void => {
        w?.write(d);
      };
    return this.run(
      ctx,
      c,
      cmd,
      { stdin: io.stdin, stdout: out(io.stdout), stderr: out(io.stderr), tty: io.tty },
      0,
      signal,
      io.resize,
    );
  }

  /** Attach: the container's output as it comes (its stdin FIFO when it has one). */
  async attach(c: CriContainer, io: StreamIO, signal: AbortSignal): Promise<void> {
    const live = this.#containers.live.get(c.id);
    if (!live) throw failedPrecondition(`container ${c.id} is not running`);
    const listener = (stream: "stdout" | "stderr", data: Buffer): void => {
      if (stream === "stdout" || io.tty) io.stdout?.write(data);
      else io.stderr?.write(data);
    };
    live.output.listeners.add(listener);
    const input = io.stdin && live.stdin ? io.stdin : undefined;
    const toContainer = (d: Buffer): void => void live.stdin?.write(d);
    input?.on("data", toContainer);
    if (input && c.config.stdinOnce) {
      input.on("end", () => live.stdin?.end(() => live.stdin?.destroy()));
    }
    try {
      await Promise.race([
        live.exited,
        new Promise<void>((r) => signal.addEventListener("abort", () => r(), { once: true })),
      ]);
    } finally {
      live.output.listeners.delete(listener);
      input?.off("data", toContainer);
    }
  }
}
