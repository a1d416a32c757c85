/**
 * The pull service a daemon-side caller uses (CRI's PullImage, transfer.v1, sbx through
 * the daemon): registry hosts from containerd's `config_path`, credentials from the
 * configuration plus per-call ones (CRI AuthConfig, the SDK), one BlobFetcher shared by
 * all pulls (3 downloads at a time in total, one download per blob), and the unpack hook.
 */
import type { Ctx } from "@sandboxd/core";
import type { ContentStore } from "../content/types.js";
import type { Credentials, CredentialsProvider } from "../distribution/auth.js";
import { RegistryClient, type HostsResolver } from "../distribution/client.js";
import { chainCredentials, credentialsKey } from "../distribution/credentials.js";
import { BlobFetcher } from "../distribution/fetcher.js";
import type { Platform } from "../distribution/platforms.js";
import { parseReference } from "../distribution/reference.js";
import { configureHosts } from "../hosts/hosts.js";
import { Puller } from "./pull.js";
import type { ImageRecords, PulledImage, PullEvent } from "./types.js";

export interface PullServiceOptions {
  readonly content: ContentStore;
  readonly images: ImageRecords;
  /** containerd's `config_path` (hosts.toml directories, `:`-separated). */
  readonly hostsConfigPath?: string;
  /** Or a hosts resolver of the caller's own (wins over hostsConfigPath). */
  readonly hosts?: HostsResolver;
  readonly credentials?: CredentialsProvider;
  /** Blobs downloading at once across all pulls (default 3). */
  readonly maxConcurrentDownloads?: number;
  readonly idleTimeoutMs?: number;
  readonly attempts?: number;
  readonly backoffMs?: number;
  readonly unpack?: (ctx: Ctx, image: PulledImage) => Promise<void>;
}

export interface PullRequest {
  readonly platform?: Platform;
  /** Credentials for this pull only, for the image's registry (CRI's AuthConfig). */
  readonly auth?: Credentials;
  readonly labels?: Readonly<Record<string, string>>;
  readonly onProgress?: (event: PullEvent) => void;
  /** Default true when the service has an unpack hook. */
  readonly unpack?: boolean;
}

export class PullService {
  readonly #options: PullServiceOptions;
  readonly #fetcher: BlobFetcher;
  readonly #hosts: HostsResolver;

  constructor(options: PullServiceOptions) {
    this.#options = options;
    this.#fetcher = new BlobFetcher({ concurrency: options.maxConcurrentDownloads ?? 3 });
    this.#hosts = options.hosts ?? configureHosts(options.hostsConfigPath);
  }

  async pull(ctx: Ctx, reference: string, request: PullRequest = {}): Promise<PulledImage> {
    const ref = parseReference(reference);
    const o = this.#options;
    let credentials = o.credentials;
    if (request.auth) {
      // Per-call credentials apply to the image's registry and to the hosts serving it.
      const own = request.auth;
      const hosts = new Set((await this.#hosts(ref.domain)).map((h) => credentialsKey(h.host)));
      hosts.add(credentialsKey(ref.domain));
      credentials = chainCredentials(
        (host) => (hosts.has(credentialsKey(host)) ? own : undefined),
        o.credentials,
      );
    }
    const client = new RegistryClient({
      hosts: this.#hosts,
      ...(credentials ? { credentials } : {}),
      ...(o.idleTimeoutMs !== undefined ? { idleTimeoutMs: o.idleTimeoutMs } : {}),
      ...(o.attempts !== undefined ? { attempts: o.attempts } : {}),
      ...(o.backoffMs !== undefined ? { backoffMs: o.backoffMs } : {}),
    });
    const puller = new Puller({
      client,
      fetcher: this.#fetcher,
      store: o.content,
      images: o.images,
    });
    const unpack = request.unpack !== false ? o.unpack : undefined;
    return puller.pull(ctx, ref, {
      ...(request.platform ? { platform: request.platform } : {}),
      ...(request.onProgress ? { onProgress: request.onProgress } : {}),
      ...(request.labels ? { labels: request.labels } : {}),
      ...(unpack ? { unpack } : {}),
    });
  }
}
