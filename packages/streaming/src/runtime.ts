/**
 * What the streaming server needs from a runtime: the CRI service implements this over its
 * tasks and sandboxes. The server knows nothing else about the daemon.
 */
import type { Duplex, Readable, Writable } from "node:stream";

export interface TerminalSize {
  width: number;
  height: number;
}

/**
 * The client's side of one exec or attach. Streams the client did not ask for are null. With
 * `tty`, stderr is null (the terminal merges it) and `resize` yields the sizes the client sends,
 * in order, ending when the session ends.
 */
export interface StreamIO {
  stdin: Readable | null;
  stdout: Writable | null;
  stderr: Writable | null;
  tty: boolean;
  resize: AsyncIterable<TerminalSize> | null;
}

export interface Runtime {
  /**
   * Runs `cmd` in the container and resolves with its exit code once it exited and its output
   * was written to `io`. `signal` aborts when the client went away: kill the process then
   * (containerd does) and release everything it held.
   */
  exec(
    containerId: string,
    cmd: readonly string[],
    io: StreamIO,
    signal: AbortSignal,
  ): Promise<number>;
  /** Connects `io` to the container's own stdio; resolves when its output ends or on `signal`. */
  attach(containerId: string, io: StreamIO, signal: AbortSignal): Promise<void>;
  /**
   * Connects `stream` to `port` on the pod's loopback (inside its network namespace); resolves
   * when either side closed. On `signal`, close the connection to the pod.
   */
  portForward(
    podSandboxId: string,
    port: number,
    stream: Duplex,
    signal: AbortSignal,
  ): Promise<void>;
}

export interface ExecRequest {
  containerId: string;
  cmd: readonly string[];
  tty: boolean;
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
}

export interface AttachRequest {
  containerId: string;
  tty: boolean;
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
}

export interface PortForwardRequest {
  podSandboxId: string;
  /** Informational (kubelet ignores it too): the ports come from each stream's headers. */
  ports?: readonly number[];
}
