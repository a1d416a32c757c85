/**
 * A real registry for tests: Debian's `docker-registry` (CNCF distribution 2.8) on a free
 * loopback port with its storage in a temp dir, stopped and removed when the test ends.
 * Variants: open, htpasswd Basic auth, and Bearer token auth backed by a small token
 * server in this file (ES256 JWTs with an x5c chain the registry trusts).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createSign, X509Certificate } from "node:crypto";
import { closeSync, openSync } from "node:fs";
import { mkdir, readFile, rm, writeFile, mkdtemp } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { createServer as createNetServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { harnessCall } from "./registry-http.js";
import { requireBinary } from "./requirements.js";
import { run } from "./processes.js";
import type { AfterHook } from "./temp-dir.js";
import { waitFor } from "./wait-for.js";

export const registryBinary = "/usr/bin/docker-registry";

export type RegistryAuth = "none" | "basic" | "token";

export interface RegistryOptions {
  readonly auth?: RegistryAuth;
  readonly username?: string;
  readonly password?: string;
  /** Serve HTTPS with a fresh self-signed certificate for 127.0.0.1 (`ca` holds it). */
  readonly tls?: boolean;
}

export interface Registry {
  /** `127.0.0.1:<port>`: what image references name. */
  readonly host: string;
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  readonly auth: RegistryAuth;
  readonly username: string;
  readonly password: string;
  readonly dir: string;
  /** The PEM certificate a TLS registry serves (its own CA), else undefined. */
  readonly ca: string | undefined;
  /** Token requests the token server answered with a token (token auth only). */
  readonly tokenRequests: () => number;
  /** An Authorization header value for the harness's own pushes (full access), if needed. */
  authorization(repo: string): string | undefined;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function b64url(data: Buffer | string): string {
  return Buffer.from(data).toString("base64url");
}

interface TokenServer {
  realm: string;
  mint(sub: string, access: { name: string; actions: string[] }[]): string;
  requests: () => number;
  close(): Promise<void>;
}

const service = "sandboxd-test-registry";
const issuer = "sandboxd-test-issuer";

async function startTokenServer(
  dir: string,
  users: Record<string, string>,
): Promise<{ server: TokenServer; certPath: string }> {
  const keyPath = join(dir, "token.key");
  const certPath = join(dir, "token.crt");
  const args = ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];
  args.push(
    "-nodes",
    "-keyout",
    keyPath,
    "-out",
    certPath,
    "-subj",
    "/CN=sandboxd-token",
    "-days",
    "2",
  );
  const made = await run("/usr/bin/openssl", args);
  if (made.code !== 0) throw new Error(`openssl req failed: ${made.stderr.toString()}`);
  const key = await readFile(keyPath, "utf8");
  const cert = new X509Certificate(await readFile(certPath));
  const x5c = [cert.raw.toString("base64")];
  const mint = (sub: string, access: { name: string; actions: string[] }[]): string => {
    const now = Math.floor(Date.now() / 1000);
    const head = b64url(JSON.stringify({ typ: "JWT", alg: "ES256", x5c }));
    const claims = {
      iss: issuer,
      sub,
      aud: service,
      exp: now + 300,
      nbf: now - 10,
      iat: now,
      jti: `${now}-${Math.random()}`,
      access: access.map((a) => ({ type: "repository", ...a })),
    };
    const body = b64url(JSON.stringify(claims));
    const signature = createSign("SHA256")
      .update(`${head}.${body}`)
      .sign({ key, dsaEncoding: "ieee-p1363" });
    return `${head}.${body}.${b64url(signature)}`;
  };
  let answered = 0;
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    const authz = req.headers.authorization ?? "";
    let user = "";
    if (authz.startsWith("Basic ")) {
      const [u = "", p = ""] = Buffer.from(authz.slice(6), "base64").toString().split(":");
      if (users[u] !== p) {
        res
          .writeHead(401, { "content-type": "application/json" })
          .end('{"details":"bad credentials"}');
        return;
      }
      user = u;
    }
    const access = url.searchParams.getAll("scope").flatMap((scope) => {
      const [type, name = "", actions = ""] = scope.split(":");
      if (type !== "repository" || user === "") return [];
      return [{ name, actions: actions.split(",").filter((a) => a === "pull" || a === "push") }];
    });
    const token = mint(user, access);
    answered += 1;
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ token, access_token: token, expires_in: 300 }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    certPath,
    server: {
      realm: `http://127.0.0.1:${port}/token`,
      mint,
      requests: () => answered,
      close: () => new Promise((resolve) => server.close(() => resolve())),
    },
  };
}

async function makeCert(dir: string): Promise<{ cert: string; key: string; pem: string }> {
  const cert = join(dir, "tls.crt");
  const key = join(dir, "tls.key");
  const args = [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
  ];
  args.push("-keyout", key, "-out", cert, "-subj", "/CN=127.0.0.1", "-days", "2");
  args.push("-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost");
  const made = await run("/usr/bin/openssl", args);
  if (made.code !== 0) throw new Error(`openssl req failed: ${made.stderr.toString()}`);
  return { cert, key, pem: await readFile(cert, "utf8") };
}

function config(
  port: number,
  dir: string,
  auth: string,
  tls?: { cert: string; key: string },
): string {
  return [
    "version: 0.1",
    "log:",
    "  level: error",
    "  accesslog:",
    "    disabled: true",
    "storage:",
    "  filesystem:",
    `    rootdirectory: ${join(dir, "storage")}`,
    "  delete:",
    "    enabled: true",
    "http:",
    `  addr: 127.0.0.1:${port}`,
    ...(tls ? ["  tls:", `    certificate: ${tls.cert}`, `    key: ${tls.key}`] : []),
    auth,
  ].join("\n");
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
  await exited;
  clearTimeout(timer);
}

/** Starts a registry that is stopped (and its storage removed) when `t` ends. */
export async function startRegistry(
  t: AfterHook,
  options: RegistryOptions = {},
): Promise<Registry> {
  await requireBinary(registryBinary, "docker-registry");
  const auth = options.auth ?? "none";
  const username = options.username ?? "tester";
  const password = options.password ?? "s3cret-pass";
  const dir = await mkdtemp(join(tmpdir(), "sbx-reg-"));
  let token: TokenServer | undefined;
  let child: ChildProcess | undefined;
  const stop = async (): Promise<void> => {
    if (child) await stopProcess(child);
    await token?.close();
    await rm(dir, { recursive: true, force: true, maxRetries: 3 });
  };
  t.after(stop);
  await mkdir(join(dir, "storage"));
  let authConfig = "";
  if (auth === "basic") {
    const made = await run("/usr/bin/htpasswd", ["-Bbn", username, password]);
    if (made.code !== 0) throw new Error(`htpasswd failed: ${made.stderr.toString()}`);
    await writeFile(join(dir, "htpasswd"), made.stdout);
    authConfig = `auth:\n  htpasswd:\n    realm: sandboxd-test\n    path: ${join(dir, "htpasswd")}`;
  } else if (auth === "token") {
    const started = await startTokenServer(dir, { [username]: password });
    token = started.server;
    authConfig = [
      "auth:",
      "  token:",
      `    realm: ${token.realm}`,
      `    service: ${service}`,
      `    issuer: ${issuer}`,
      `    rootcertbundle: ${started.certPath}`,
    ].join("\n");
  }
  const tls = options.tls ? await makeCert(dir) : undefined;
  const scheme = tls ? "https" : "http";
  const log = join(dir, "registry.log");
  for (let attempt = 1; ; attempt += 1) {
    const port = await freePort();
    const configPath = join(dir, "config.yml");
    await writeFile(configPath, config(port, dir, authConfig, tls));
    const fd = openSync(log, "a");
    const proc = spawn(registryBinary, ["serve", configPath], { stdio: ["ignore", fd, fd] });
    closeSync(fd);
    child = proc;
    const url = `${scheme}://127.0.0.1:${port}`;
    const up = await waitFor(
      async () => {
        if (proc.exitCode !== null) return "exited";
        const res = await harnessCall(`${url}/v2/`, tls ? { ca: tls.pem } : {}).catch(
          () => undefined,
        );
        return res && (res.status === 200 || res.status === 401) ? "up" : undefined;
      },
      { timeoutMs: 20_000, what: `docker-registry on ${url}` },
    );
    if (up === "up") {
      const tok = token;
      return {
        host: `127.0.0.1:${port}`,
        url,
        auth,
        username,
        password,
        dir,
        ca: tls?.pem,
        tokenRequests: () => tok?.requests() ?? 0,
        authorization(repo) {
          if (auth === "basic")
            return `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}`;
          if (tok)
            return `Bearer ${tok.mint(username, [{ name: repo, actions: ["pull", "push"] }])}`;
          return undefined;
        },
        stop,
      };
    }
    if (attempt >= 3) {
      const text = await readFile(log, "utf8").catch(() => "");
      throw new Error(`docker-registry did not start: ${text.slice(-2000)}`);
    }
  }
}
