// sbx run -t in a real terminal (util-linux `script` gives sbx a pty), and bash
// completion of ids asking the real sandboxd; root.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { promisify } from "node:util";
import { requireBinary, waitUntil } from "@sandboxd/testing";
import { assertEmpty, sbxBin, setupSbx } from "./harness.js";

const execFileAsync = promisify(execFile);

/** Runs `command` under `script` (a pty on sbx's stdin and stdout); types `input` once it prints `ready`. */
async function inTerminal(
  env: Record<string, string>,
  command: string,
  input?: { ready: RegExp; text: string },
): Promise<{ status: number | null; output: string }> {
  const child = spawn("script", ["-qec", command, "/dev/null"], {
    env,
    stdio: ["pipe", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr.on("data", (d: Buffer) => (output += d.toString()));
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  const exited = once(child, "exit");
  if (input) {
    await waitUntil(() => input.ready.test(output) || child.exitCode !== null, {
      what: `the prompt (${input.ready})`,
      timeoutMs: 30_000,
    }).catch((err: unknown) => {
      child.kill("SIGKILL");
      throw new Error(`${String(err)}; output: ${JSON.stringify(output)}`);
    });
    child.stdin.write(input.text);
  }
  const [status] = (await exited) as [number | null];
  clearTimeout(timer);
  child.stdin.destroy();
  return { status, output };
}

test("sbx run -t: a terminal with the window's size, typed input, the exit status", async (t) => {
  await requireBinary("/usr/bin/script", "util-linux");
  const { env, client } = await setupSbx(t);
  const env2 = { ...env, SBX: sbxBin };
  const sized = await inTerminal(
    env2,
    `stty cols 77 rows 19; "$SBX" run --rm -t tty sh -c 'tty; stty size; exit 6'`,
  );
  assert.equal(sized.status, 6, sized.output);
  assert.match(sized.output, /^\/dev\/(pts\/\d+|console)\r*\n19 77\r*\n/);
  await assertEmpty(client);

  const typed = await inTerminal(env2, `"$SBX" run --rm -t shell sh`, {
    ready: /\/ # /,
    text: "echo typed-$((6*7))\rexit 3\r",
  });
  assert.equal(typed.status, 3, typed.output);
  assert.match(typed.output, /typed-42/);
  await assertEmpty(client);
});

test("bash completion offers the daemon's ids, with the line's --address and -n", async (t) => {
  await requireBinary("/bin/bash", "bash");
  const { sbx, env, daemon } = await setupSbx(t);
  assert.equal((await sbx(["sandbox", "run", "pod-a"])).status, 0);
  assert.equal(
    (await sbx(["run", "-d", "--sandbox", "pod-a", "ctr-a", "sleep", "1000"])).status,
    0,
  );
  assert.equal((await sbx(["-n", "other", "sandbox", "run", "pod-b"])).status, 0);
  const script = (await sbx(["completion", "bash"])).stdout;
  const complete = async (line: string): Promise<string[]> => {
    const words = line.split(" ");
    const { stdout } = await execFileAsync(
      "bash",
      [
        "-c",
        `${script}
sbx() { "$SBX" "$@"; }
COMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")})
COMP_CWORD=${words.length - 1}
_sbx
printf '%s\\n' "\${COMPREPLY[@]}"`,
      ],
      // No SANDBOXD_* in the environment: the line's own flags must be used.
      { env: { PATH: env.PATH!, SBX: sbxBin } },
    );
    return stdout.split("\n").filter(Boolean);
  };
  const a = `--address ${daemon.address} -n cli-it`;
  assert.deepEqual(await complete(`sbx ${a} sandbox rm `), ["pod-a"]);
  assert.deepEqual(await complete(`sbx ${a} task kill -s KILL `), ["ctr-a"]);
  assert.deepEqual(await complete(`sbx ${a} container info c`), ["ctr-a"]);
  assert.deepEqual(await complete(`sbx ${a} run --sandbox `), ["pod-a"]);
  assert.deepEqual(await complete(`sbx --address ${daemon.address} -n other sandbox inspect `), [
    "pod-b",
  ]);
  assert.deepEqual(await complete(`sbx ${a} sandbox r`), ["run", "resume", "rm", "remove"]);
  const zsh = await sbx(["completion", "zsh"]);
  assert.equal(zsh.status, 0);
  assert.match(zsh.stdout, /bashcompinit/);
  await sbx(["-n", "other", "sandbox", "rm", "-f", "pod-b"]);
});
