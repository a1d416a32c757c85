/**
 * Kubernetes' remotecommand protocols (k8s.io/apimachinery/pkg/util/remotecommand and kubelet's
 * cri/streaming/remotecommand), independent of the transport: which streams a client creates,
 * what the error stream carries (plain text before v4, a metav1.Status in JSON from v4 on), and
 * how terminal sizes arrive on the resize stream (a sequence of JSON objects).
 */
import type { TerminalSize } from "../runtime.js";

export const Protocol = {
  V1: "channel.k8s.io",
  V2: "v2.channel.k8s.io",
  V3: "v3.channel.k8s.io",
  V4: "v4.channel.k8s.io",
  V5: "v5.channel.k8s.io",
} as const;
export type CommandProtocol = (typeof Protocol)[keyof typeof Protocol];

/** Over SPDY, in the server's order of preference; v5 is WebSocket-only. */
export const spdyCommandProtocols: readonly CommandProtocol[] = [
  Protocol.V4,
  Protocol.V3,
  Protocol.V2,
  Protocol.V1,
];
export const portForwardProtocol = "portforward.k8s.io";

/** The `streamType` header values (SPDY) of remotecommand and portforward. */
export const StreamType = {
  Stdin: "stdin",
  Stdout: "stdout",
  Stderr: "stderr",
  Error: "error",
  Resize: "resize",
  Data: "data",
} as const;

/** metav1.Status as kubelet marshals it (Go's field order, empty fields omitted). */
export interface Status {
  metadata: Record<string, never>;
  status: "Success" | "Failure";
  message?: string;
  reason?: string;
  details?: { causes: { reason?: string; message: string }[] };
  code?: number;
}

export function successStatus(): Status {
  return { metadata: {}, status: "Success" };
}

export function exitCodeStatus(code: number): Status {
  return {
    metadata: {},
    status: "Failure",
    message: `command terminated with non-zero exit code: exit status ${code}`,
    reason: "NonZeroExitCode",
    details: { causes: [{ reason: "ExitCode", message: String(code) }] },
  };
}

export function internalErrorStatus(err: unknown): Status {
  const msg = `error executing command in container: ${err instanceof Error ? err.message : String(err)}`;
  return {
    metadata: {},
    status: "Failure",
    message: `Internal error occurred: ${msg}`,
    reason: "InternalError",
    details: { causes: [{ message: msg }] },
    code: 500,
  };
}

/** What goes on the error stream for this status, or null when nothing does (success, pre-v4). */
export function encodeStatus(protocol: CommandProtocol, status: Status): Buffer | null {
  if (protocol === Protocol.V4 || protocol === Protocol.V5) {
    return Buffer.from(JSON.stringify(status));
  }
  if (status.status === "Success") return null;
  return Buffer.from(status.message ?? "unknown error");
}

/** Does this protocol carry terminal sizes (v3 and later)? */
export function hasResize(protocol: CommandProtocol): boolean {
  return protocol !== Protocol.V1 && protocol !== Protocol.V2;
}

/** Terminal sizes in arrival order, as an async iterable that ends with the session. */
export class ResizeQueue implements AsyncIterable<TerminalSize> {
  private readonly items: TerminalSize[] = [];
  private waiter: (() => void) | null = null;
  private ended = false;

  push(size: TerminalSize): void {
    if (this.ended) return;
    this.items.push(size);
    this.wake();
  }

  end(): void {
    this.ended = true;
    this.wake();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<TerminalSize> {
    for (;;) {
      const next = this.items.shift();
      if (next) {
        yield next;
        continue;
      }
      if (this.ended) return;
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
  }
}

/**
 * Splits a byte stream of concatenated JSON objects (Go's json.Decoder input) into sizes;
 * `{"Width":80,"Height":24}`, field names matched case-insensitively as Go does.
 */
export class ResizeDecoder {
  private pending = "";
  private readonly onSize: (size: TerminalSize) => void;

  constructor(onSize: (size: TerminalSize) => void) {
    this.onSize = onSize;
  }

  push(chunk: Buffer | string): void {
    this.pending += chunk.toString();
    let depth = 0;
    let inString = false;
    let start = -1;
    let consumed = 0;
    for (let i = 0; i < this.pending.length; i++) {
      const c = this.pending[i];
      if (inString) {
        if (c === "\\") i++;
        else if (c === '"') inString = false;
        continue;
      }
      if (c === '"') inString = true;
      else if (c === "{") {
        if (depth++ === 0) start = i;
      } else if (c === "}" && depth > 0 && --depth === 0) {
        this.emit(this.pending.slice(start, i + 1));
        consumed = i + 1;
      }
    }
    this.pending = this.pending.slice(consumed);
    if (this.pending.length > 4096) this.pending = "";
  }

  private emit(text: string): void {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return;
    }
    if (typeof value !== "object" || value === null) return;
    const fields = Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k.toLowerCase(), v as unknown]),
    );
    const width = Number(fields["width"] ?? 0);
    const height = Number(fields["height"] ?? 0);
    if (Number.isInteger(width) && Number.isInteger(height) && width >= 0 && height >= 0) {
      this.onSize({ width, height });
    }
  }
}
