// A host process standing in for a container's process, with its stdio wired
// to the client's FIFOs the way containerd's runc shim wires them: output by
// shell redirections (the blocking opens happen in the child, never in the
// daemon); stdin read from the FIFO by the daemon, which also holds a writer
// of its own until CloseIO, as the runc shim does.
import { spawn, type ChildProcess } from "node:child_process";
import { close, constants as fsConstants, openSync } from "node:fs";
import { Socket } from "node:net";
import { constants } from "node:os";
import { readFile } from "node:fs/promises";
import { Status } from "@sandboxd/api/types/task/task_pb";

/** The state letter of /proc/PID/stat ("T" = stopped), or "" if gone. */
async function processState(pid: number): Promise<string> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
  return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
}

export interface FakeProcessConfig {
  containerId: string;
  execId: string;
  args: string[];
  env: string[];
  cwd: string;
  stdin: string;
  stdout: string;
  stderr: string;
  terminal: boolean;
}

export class FakeProcess {
  readonly config: FakeProcessConfig;
  status: Status = Status.CREATED;
  pid = 0;
  exitStatus = 0;
  exitedAt: Date | undefined;
  #child: ChildProcess | undefined;
  #stdinReader: Socket | undefined;
  #stdinHolder: number | undefined;
  readonly #exited: Promise<void>;
  #resolveExit!: () => void;

  constructor(config: FakeProcessConfig) {
    this.config = config;
    this.#exited = new Promise((resolve) => (this.#resolveExit = resolve));
  }

  /**
   * Like `runc create`: the process exists and holds its stdio when this
   * resolves, and runs the command only once started (it stops itself in between).
   */
  async create(onExit: (p: FakeProcess) => void): Promise<number> {
    const { stdin, stdout, stderr, terminal } = this.config;
    const errPath = terminal ? stdout : stderr;
    const script = 'exec >"$FAKE_OUT" 2>"$FAKE_ERR"; kill -STOP $$; exec "$@"';
    const env: Record<string, string> = {
      FAKE_OUT: stdout || "/dev/null",
      FAKE_ERR: errPath || "/dev/null",
    };
    for (const entry of this.config.env) {
      const eq = entry.indexOf("=");
      if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
    }
    const child = spawn("/bin/sh", ["-c", script, "sh", ...this.config.args], {
      cwd: this.config.cwd,
      env,
      stdio: [stdin ? "pipe" : "ignore", "ignore", "ignore"],
    });
    if (stdin && child.stdin) {
      const { O_RDONLY, O_RDWR, O_NONBLOCK } = fsConstants;
      this.#stdinHolder = openSync(stdin, O_RDWR | O_NONBLOCK);
      this.#stdinReader = new Socket({
        fd: openSync(stdin, O_RDONLY | O_NONBLOCK),
        readable: true,
        writable: false,
      });
      child.stdin.on("error", () => undefined);
      this.#stdinReader.on("error", () => this.#stdinReader?.destroy());
      this.#stdinReader.pipe(child.stdin);
    }
    this.#child = child;
    this.pid = child.pid ?? 0;
    this.#onExit = onExit;
    child.on("error", () => this.#exit(127));
    child.on("exit", (code, signal) => {
      const bySignal = signal
        ? 128 + ((constants.signals as Record<string, number>)[signal] ?? 0)
        : 0;
      this.#exit(code ?? bySignal);
    });
    const deadline = Date.now() + 10_000;
    while ((await processState(this.pid)) !== "T" && this.status !== Status.STOPPED) {
      if (Date.now() > deadline) throw new Error(`fake process ${this.pid} did not get ready`);
      await new Promise((resolve) => setImmediate(resolve));
    }
    return this.pid;
  }

  /** Lets the created process run its command. */
  start(): number {
    if (this.status === Status.CREATED) {
      this.status = Status.RUNNING;
      process.kill(this.pid, constants.signals.SIGCONT);
    }
    return this.pid;
  }

  #onExit: ((p: FakeProcess) => void) | undefined;

  /** CloseIO: drop our own writer, so the client's EOF reaches the process. */
  closeStdin(): void {
    if (this.#stdinHolder !== undefined) close(this.#stdinHolder, () => undefined);
    this.#stdinHolder = undefined;
  }

  #exit(code: number): void {
    if (this.status === Status.STOPPED) return;
    this.closeStdin();
    this.#stdinReader?.destroy();
    this.status = Status.STOPPED;
    this.exitStatus = code;
    this.exitedAt = new Date();
    this.#resolveExit();
    this.#onExit?.(this);
  }

  wait(): Promise<void> {
    return this.#exited;
  }

  kill(signal: number): void {
    if (this.status === Status.STOPPED || !this.#child) return;
    try {
      process.kill(this.pid, signal);
    } catch {
      // Gone already: the exit handler reports it.
      return;
    }
    if (this.status === Status.CREATED) {
      // Stopped until start: let the signal act now (it takes effect before the exec).
      process.kill(this.pid, constants.signals.SIGCONT);
    }
  }

  pause(): void {
    this.kill(constants.signals.SIGSTOP);
    if (this.status === Status.RUNNING) this.status = Status.PAUSED;
  }

  resume(): void {
    this.kill(constants.signals.SIGCONT);
    if (this.status === Status.PAUSED) this.status = Status.RUNNING;
  }
}
