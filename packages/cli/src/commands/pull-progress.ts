// `sbx pull` progress, like nerdctl's: on a terminal a live table redrawn in place (one
// row per blob with state, bar and bytes); otherwise plain lines, one per state change;
// with -o json one JSON object per event.
import type { Writable } from "node:stream";

/** The part of the SDK's pull events (PullProgress) the display uses. */
export interface ProgressEvent {
  /** resolving, resolved, manifest, blob, unpacking, done. */
  kind: string;
  name?: string;
  digest?: string;
  mediaType?: string;
  state?: string;
  offset?: number;
  total?: number;
  attempt?: number;
  error?: string;
  elapsedMs?: number;
}

export type ProgressMode = "tty" | "plain" | "json";

export function humanBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u += 1;
  }
  return `${u === 0 ? v : v.toFixed(1)} ${units[u]}`;
}

function kindOf(mediaType: string): string {
  if (/manifest|index/.test(mediaType)) return "manifest";
  if (/config/.test(mediaType)) return "config";
  return "layer";
}

function bar(offset: number, total: number, width = 20): string {
  const filled = total > 0 ? Math.min(width, Math.round((offset / total) * width)) : 0;
  return `|${"+".repeat(filled)}${" ".repeat(width - filled)}|`;
}

interface Row {
  label: string;
  state: string;
  offset: number;
  total: number;
}

export class PullProgress {
  readonly #out: Writable;
  readonly #mode: ProgressMode;
  readonly #rows = new Map<string, Row>();
  readonly #lastState = new Map<string, string>();
  #header = "";
  #drawn = 0;

  constructor(out: Writable, mode: ProgressMode) {
    this.#out = out;
    this.#mode = mode;
  }

  event(e: ProgressEvent): void {
    if (this.#mode === "json") {
      this.#out.write(`${JSON.stringify(e)}\n`);
      return;
    }
    const name = e.name ?? "";
    const digest = e.digest ?? "";
    const offset = e.offset ?? 0;
    const total = e.total ?? 0;
    const state = e.state ?? "";
    switch (e.kind) {
      case "resolving":
        this.#header = `${name}: resolving`;
        if (this.#mode === "plain") this.#line(this.#header);
        break;
      case "resolved":
        this.#header = `${name}: resolved ${digest}`;
        if (this.#mode === "plain") this.#line(this.#header);
        break;
      case "blob": {
        const label = `${kindOf(e.mediaType ?? "")}-${digest.slice(0, 19)}`;
        this.#rows.set(digest, { label, state, offset, total });
        if (this.#mode === "plain" && this.#lastState.get(digest) !== state) {
          this.#lastState.set(digest, state);
          const retry =
            state === "retrying" && e.error ? ` (attempt ${(e.attempt ?? 0) + 1}: ${e.error})` : "";
          this.#line(`${label}: ${state} ${humanBytes(offset)}/${humanBytes(total)}${retry}`);
        }
        break;
      }
      case "unpacking":
        this.#header = `${name}: unpacking`;
        if (this.#mode === "plain") this.#line(this.#header);
        break;
      case "done":
        this.#header = `${name}: done in ${((e.elapsedMs ?? 0) / 1000).toFixed(1)} s (${digest})`;
        if (this.#mode === "plain") this.#line(this.#header);
        break;
      default:
        break;
    }
    if (this.#mode === "tty") this.#redraw();
  }

  #line(text: string): void {
    this.#out.write(`${text}\n`);
  }

  #redraw(): void {
    const lines = [this.#header];
    for (const r of this.#rows.values()) {
      lines.push(
        `${r.label}: ${r.state.padEnd(11)} ${bar(r.offset, r.total)} ${humanBytes(r.offset)}/${humanBytes(r.total)}`,
      );
    }
    const up = this.#drawn > 0 ? `\x1b[${this.#drawn}F` : "";
    this.#out.write(`${up}${lines.map((l) => `\x1b[2K${l}`).join("\n")}\n`);
    this.#drawn = lines.length;
  }
}
