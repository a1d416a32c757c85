// Helpers of the host port tests (sandboxer and CRI): free ports, GETs over
// 127.0.0.1 with retries, and portmap's nat rules of one CNI container id.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import http from "node:http";
import net from "node:net";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

/** A port nobody listens on now (the kernel picks it). */
export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve));
  const addr = srv.address();
  await new Promise((resolve) => srv.close(resolve));
  assert.ok(addr && typeof addr === "object");
  return addr.port;
}

/** GET over 127.0.0.1, retried until it answers or the deadline passes. */
export async function fetchLocal(port: number, path: string, deadlineMs = 60_000): Promise<string> {
  const until = Date.now() + deadlineMs;
  let last: unknown;
  while (Date.now() < until) {
    try {
      return await new Promise<string>((resolve, reject) => {
        const req = http.get({ host: "127.0.0.1", port, path, timeout: 5000 }, (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (d: Buffer) => chunks.push(d));
          res.on("end", () =>
            res.statusCode === 200
              ? resolve(Buffer.concat(chunks).toString())
              : reject(new Error(`status ${res.statusCode}: ${Buffer.concat(chunks).toString()}`)),
          );
        });
        req.on("timeout", () => req.destroy(new Error("timeout")));
        req.on("error", reject);
      });
    } catch (err) {
      last = err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`127.0.0.1:${port}${path} never answered: ${String(last)}`);
}

/** The nat table's rules that name this CNI container id (portmap's comments carry it). */
export async function natRulesOf(cniId: string): Promise<string[]> {
  const { stdout } = await execFileAsync("iptables-save", ["-t", "nat"]);
  return stdout.split("\n").filter((l) => l.includes(cniId));
}

/**
 * Removes portmap's rules of a CNI id by hand: registered by tests so that a
 * failure before the pod's shutdown leaves nothing in the host's nat table.
 */
export async function dropNatRules(cniId: string): Promise<void> {
  const ipt = (...args: string[]) =>
    execFileAsync("iptables", ["-t", "nat", ...args]).catch(() => ({ stdout: "" }));
  for (const rule of await natRulesOf(cniId)) {
    const chain = /-j (CNI-DN-[0-9a-f]+)/.exec(rule)?.[1];
    if (!chain) continue;
    // By rule number: the comment's escaped quotes do not survive a re-split of the text.
    const rules = (await ipt("-S", "CNI-HOSTPORT-DNAT")).stdout.split("\n").slice(1);
    const n = rules.findIndex((r) => r.endsWith(`-j ${chain}`));
    if (n >= 0) await ipt("-D", "CNI-HOSTPORT-DNAT", String(n + 1));
    await ipt("-F", chain);
    await ipt("-X", chain);
  }
}
