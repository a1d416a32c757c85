// Every command's name, flags, help and examples, without its code: help and
// completion read this table, and `load` imports a command only when it runs.
import type { FlagSpec, Parsed } from "./args.js";
import type { Context } from "./context.js";

/** What a command module exports. */
export interface CommandModule {
  /** Returns the exit status. */
  run(ctx: Context, args: Parsed): Promise<number>;
}

export interface CommandSpec {
  /** Full name: `run`, `sandbox ls`. */
  name: string;
  /** Other words for the last part of the name (`list` for `ls`). */
  aliases?: readonly string[];
  summary: string;
  /** What follows the name in the usage line. */
  usage: string;
  /** Longer explanation (plain text, wrapped by hand). */
  description?: string;
  flags: readonly FlagSpec[];
  /** Bounds on positional arguments. */
  args: { min: number; max?: number; names: string };
  /** After this many positionals the rest are passed through (`run ID CMD...`). */
  passthroughAfter?: number;
  /** What completion offers for positionals. */
  complete?: "sandbox" | "container" | "task" | "namespace" | "shell";
  examples: readonly string[];
  /** Needs no daemon (no connection is made). */
  offline?: boolean;
  load: () => Promise<CommandModule>;
}

export interface GroupSpec {
  name: string;
  aliases: readonly string[];
  summary: string;
}

export const DEFAULT_ADDRESS = "/run/sandboxd/sandboxd.sock";

/** Flags every command accepts. */
export const globalFlags: readonly FlagSpec[] = [
  {
    name: "address",
    type: "value",
    valueName: "PATH",
    env: "SANDBOXD_ADDRESS",
    default: DEFAULT_ADDRESS,
    description: "sandboxd's socket",
  },
  {
    name: "namespace",
    short: "n",
    type: "value",
    valueName: "NAME",
    env: "SANDBOXD_NAMESPACE",
    default: "default",
    description: "namespace to work in",
  },
  {
    name: "output",
    short: "o",
    type: "value",
    valueName: "FORMAT",
    choices: ["table", "json"],
    default: "table",
    description: "output format: table (for people) or json (for scripts)",
  },
  { name: "debug", type: "switch", description: "print stack traces and error causes" },
  { name: "help", short: "h", type: "switch", description: "show help" },
];

export const groups: readonly GroupSpec[] = [
  { name: "sandbox", aliases: ["sandboxes", "sb"], summary: "manage sandboxes (pods)" },
  { name: "container", aliases: ["containers", "c"], summary: "manage containers" },
  { name: "task", aliases: ["tasks", "t"], summary: "manage running containers' processes" },
  { name: "namespace", aliases: ["namespaces", "ns"], summary: "manage namespaces" },
];

const force = (what: string): FlagSpec => ({
  name: "force",
  short: "f",
  type: "switch",
  description: what,
});
const quiet: FlagSpec = {
  name: "quiet",
  short: "q",
  type: "switch",
  description: "print ids only",
};
const runtime: FlagSpec = {
  name: "runtime",
  type: "value",
  valueName: "NAME",
  description: "runtime (default io.containerd.sbx.v1)",
};
const sandboxer: FlagSpec = {
  name: "sandboxer",
  type: "value",
  valueName: "NAME",
  description: "sandbox controller: shim (default) or a proxy sandboxer's name",
};
const label: FlagSpec = {
  name: "label",
  short: "l",
  type: "value",
  multiple: true,
  valueName: "K=V",
  description: "add a label (repeatable)",
};
const env: FlagSpec = {
  name: "env",
  short: "e",
  type: "value",
  multiple: true,
  valueName: "K=V",
  description: "set an environment variable (repeatable)",
};
const cwd: FlagSpec = {
  name: "cwd",
  short: "w",
  type: "value",
  valueName: "DIR",
  description: "working directory inside the container",
};
const tty: FlagSpec = {
  name: "tty",
  short: "t",
  type: "switch",
  description: "give the process a terminal",
};
const interactive: FlagSpec = {
  name: "interactive",
  short: "i",
  type: "switch",
  description: "attach stdin even when it is a terminal (implied by -t, and when stdin is a pipe)",
};

export const commands: readonly CommandSpec[] = [
  {
    name: "run",
    summary: "run a command in a new container (and its own sandbox)",
    usage: "[flags] ID [CMD [ARG...]]",
    description:
      "Creates a container ID running CMD (default: sh) and waits for it; sbx exits with the\n" +
      "container's exit status. Without --sandbox, a sandbox with the same ID is made for it\n" +
      "(and removed with --rm); with --sandbox, the container joins that sandbox.\n" +
      "Without --rootfs, a busybox root filesystem is prepared on first use (under\n" +
      "/var/lib/sandboxd/rootfs/busybox, or $SANDBOXD_ROOTFS_CACHE) and mounted read-only.\n" +
      "Ctrl-C and SIGTERM are passed on to the container; a second one sends SIGKILL\n" +
      "(its PID 1 gets only the signals it handles: sleep there ignores SIGTERM).",
    flags: [
      {
        name: "rm",
        type: "switch",
        description: "remove the container (and its sandbox) when it exits",
      },
      {
        name: "detach",
        short: "d",
        type: "switch",
        description: "start it, print its id and return",
      },
      tty,
      interactive,
      {
        name: "sandbox",
        type: "value",
        valueName: "ID",
        description: "run in this existing sandbox instead of a new one",
      },
      runtime,
      sandboxer,
      { name: "rootfs", type: "value", valueName: "DIR", description: "root filesystem directory" },
      { name: "read-only", type: "switch", description: "mount --rootfs read-only" },
      env,
      cwd,
      label,
      {
        name: "hostname",
        type: "value",
        valueName: "NAME",
        description: "hostname (default: the sandbox id)",
      },
    ],
    args: { min: 1, names: "ID [CMD...]" },
    passthroughAfter: 1,
    complete: "shell",
    examples: [
      "sbx run --rm hello echo hello world",
      "sbx run --rm -t shell sh",
      "sbx run -d web httpd -f -p 8080",
      "sbx run --rm --sandbox web sidecar wget -qO- localhost:8080",
      "sbx run --rm --rootfs /srv/rootfs --env A=1 job /bin/job --once",
    ],
    load: () => import("./commands/run.js"),
  },
  {
    name: "sandbox run",
    aliases: ["create"],
    summary: "create and start a sandbox",
    usage: "[flags] ID",
    flags: [runtime, sandboxer, label],
    args: { min: 1, max: 1, names: "ID" },
    examples: ["sbx sandbox run web", "sbx sandbox run --label app=web web"],
    load: () => import("./commands/sandbox-run.js"),
  },
  {
    name: "sandbox ls",
    aliases: ["list"],
    summary: "list sandboxes",
    usage: "[flags] [FILTER...]",
    description: "FILTERs use containerd's syntax: id==web, labels.app==web, id~=^db.",
    flags: [quiet],
    args: { min: 0, names: "[FILTER...]" },
    examples: [
      "sbx sandbox ls",
      "sbx sandbox ls -q",
      "sbx sandbox ls labels.app==web",
      "sbx -o json sandbox ls",
    ],
    load: () => import("./commands/sandbox-ls.js"),
  },
  {
    name: "sandbox inspect",
    aliases: ["info"],
    summary: "show sandboxes in detail (JSON)",
    usage: "ID...",
    flags: [],
    args: { min: 1, names: "ID..." },
    complete: "sandbox",
    examples: ["sbx sandbox inspect web"],
    load: () => import("./commands/sandbox-inspect.js"),
  },
  {
    name: "sandbox stop",
    summary: "stop sandboxes (their containers get SIGTERM, then SIGKILL)",
    usage: "[flags] ID...",
    flags: [
      {
        name: "timeout",
        type: "value",
        valueName: "SECONDS",
        default: "10",
        description: "grace period before SIGKILL",
      },
    ],
    args: { min: 1, names: "ID..." },
    complete: "sandbox",
    examples: ["sbx sandbox stop web", "sbx sandbox stop --timeout 0 web db"],
    load: () => import("./commands/sandbox-stop.js"),
  },
  {
    name: "sandbox pause",
    summary: "pause every container of sandboxes",
    usage: "ID...",
    flags: [],
    args: { min: 1, names: "ID..." },
    complete: "sandbox",
    examples: ["sbx sandbox pause web"],
    load: () => import("./commands/sandbox-pause.js"),
  },
  {
    name: "sandbox resume",
    summary: "resume every container of sandboxes",
    usage: "ID...",
    flags: [],
    args: { min: 1, names: "ID..." },
    complete: "sandbox",
    examples: ["sbx sandbox resume web"],
    load: () => import("./commands/sandbox-resume.js"),
  },
  {
    name: "sandbox rm",
    aliases: ["remove", "delete"],
    summary: "remove sandboxes",
    usage: "[flags] ID...",
    description: "Refuses a sandbox that still has containers, unless --force.",
    flags: [force("also remove its containers, killing what runs")],
    args: { min: 1, names: "ID..." },
    complete: "sandbox",
    examples: ["sbx sandbox rm web", "sbx sandbox rm -f web db"],
    load: () => import("./commands/sandbox-rm.js"),
  },
  {
    name: "sandbox metrics",
    aliases: ["stats"],
    summary: "show a sandbox's resource usage",
    usage: "ID",
    flags: [],
    args: { min: 1, max: 1, names: "ID" },
    complete: "sandbox",
    examples: ["sbx sandbox metrics web", "sbx -o json sandbox metrics web"],
    load: () => import("./commands/sandbox-metrics.js"),
  },
  {
    name: "container ls",
    aliases: ["list"],
    summary: "list containers",
    usage: "[flags] [FILTER...]",
    description:
      "FILTERs use containerd's syntax: id==web, labels.app==web, runtime.name==io.containerd.sbx.v1.",
    flags: [quiet],
    args: { min: 0, names: "[FILTER...]" },
    examples: ["sbx container ls", "sbx container ls -q", "sbx -o json container ls"],
    load: () => import("./commands/container-ls.js"),
  },
  {
    name: "container info",
    aliases: ["inspect"],
    summary: "show containers in detail (JSON)",
    usage: "ID...",
    flags: [],
    args: { min: 1, names: "ID..." },
    complete: "container",
    examples: ["sbx container info web"],
    load: () => import("./commands/container-info.js"),
  },
  {
    name: "container rm",
    aliases: ["remove", "delete"],
    summary: "remove containers",
    usage: "[flags] ID...",
    description: "Refuses a container with a running task, unless --force.",
    flags: [force("kill and remove the container's task first")],
    args: { min: 1, names: "ID..." },
    complete: "container",
    examples: ["sbx container rm web", "sbx container rm -f web"],
    load: () => import("./commands/container-rm.js"),
  },
  {
    name: "task ls",
    aliases: ["list"],
    summary: "list tasks",
    usage: "[flags]",
    flags: [quiet],
    args: { min: 0, max: 0, names: "" },
    examples: ["sbx task ls", "sbx -o json task ls"],
    load: () => import("./commands/task-ls.js"),
  },
  {
    name: "task ps",
    summary: "list a task's processes",
    usage: "ID",
    flags: [],
    args: { min: 1, max: 1, names: "ID" },
    complete: "task",
    examples: ["sbx task ps web"],
    load: () => import("./commands/task-ps.js"),
  },
  {
    name: "task exec",
    summary: "run a command in a running task",
    usage: "[flags] ID CMD [ARG...]",
    description: "sbx exits with the command's exit status.",
    flags: [
      tty,
      interactive,
      {
        name: "exec-id",
        type: "value",
        valueName: "ID",
        description: "id of the new process (default: generated)",
      },
      env,
      cwd,
      { name: "detach", short: "d", type: "switch", description: "start it and return" },
    ],
    args: { min: 2, names: "ID CMD..." },
    passthroughAfter: 1,
    complete: "task",
    examples: [
      "sbx task exec web ps",
      "sbx task exec -t web sh",
      "sbx task exec --exec-id dbg web cat /etc/hosts",
    ],
    load: () => import("./commands/task-exec.js"),
  },
  {
    name: "task kill",
    summary: "signal tasks",
    usage: "[flags] ID...",
    flags: [
      {
        name: "signal",
        short: "s",
        type: "value",
        valueName: "SIGNAL",
        default: "SIGTERM",
        description: "signal name or number",
      },
      { name: "all", short: "a", type: "switch", description: "signal every process of the task" },
      {
        name: "exec-id",
        type: "value",
        valueName: "ID",
        description: "signal this exec process instead",
      },
    ],
    args: { min: 1, names: "ID..." },
    complete: "task",
    examples: ["sbx task kill web", "sbx task kill -s KILL -a web", "sbx task kill -s 1 web"],
    load: () => import("./commands/task-kill.js"),
  },
  {
    name: "task attach",
    summary: "connect to a running task's stdio",
    usage: "ID",
    description:
      "Works for tasks started with FIFOs that are still there (e.g. by the SDK); tasks started\n" +
      "with sbx run -d have no stdio to attach to.",
    flags: [],
    args: { min: 1, max: 1, names: "ID" },
    complete: "task",
    examples: ["sbx task attach web"],
    load: () => import("./commands/task-attach.js"),
  },
  {
    name: "task metrics",
    aliases: ["stats"],
    summary: "show a task's resource usage",
    usage: "ID",
    flags: [],
    args: { min: 1, max: 1, names: "ID" },
    complete: "task",
    examples: ["sbx task metrics web", "sbx -o json task metrics web"],
    load: () => import("./commands/task-metrics.js"),
  },
  {
    name: "events",
    summary: "print events as they happen",
    usage: "[flags] [FILTER...]",
    description:
      "Shows the current namespace's events (all namespaces with -A). FILTERs use containerd's\n" +
      "syntax and are ORed; commas inside one AND: topic==/tasks/exit, 'topic~=^/sandboxes/',\n" +
      "event.container_id==web (values with / and other symbols are quoted for you).\n" +
      "Stops on Ctrl-C.",
    flags: [
      {
        name: "all-namespaces",
        short: "A",
        type: "switch",
        description: "events of every namespace",
      },
    ],
    args: { min: 0, names: "[FILTER...]" },
    examples: ["sbx events", "sbx events topic==/tasks/exit", "sbx -o json events -A"],
    load: () => import("./commands/events.js"),
  },
  {
    name: "namespace create",
    aliases: ["add"],
    summary: "create a namespace",
    usage: "NAME [K=V...]",
    flags: [],
    args: { min: 1, names: "NAME [K=V...]" },
    examples: ["sbx ns create team-a", "sbx ns create team-a owner=me"],
    load: () => import("./commands/namespace-create.js"),
  },
  {
    name: "pull",
    summary: "pull an image into sandboxd (resolve, fetch, unpack) with per-layer progress",
    usage: "[flags] IMAGE",
    description:
      "The daemon pulls: registry hosts and mirrors come from its hosts.toml config_path\n(/etc/sandboxd/certs.d). Plain lines when stdout is not a terminal, JSON lines with -o json.",
    flags: [
      {
        name: "platform",
        type: "value",
        valueName: "OS/ARCH[/VARIANT]",
        description: "platform to pull (default: the daemon's)",
      },
      {
        name: "user",
        short: "u",
        type: "value",
        valueName: "USER[:PASSWORD]",
        env: "SBX_REGISTRY_USER",
        description: "registry credentials (password also from $SBX_REGISTRY_PASSWORD)",
      },
    ],
    args: { min: 1, max: 1, names: "IMAGE" },
    examples: [
      "sbx pull 127.0.0.1:5000/library/busybox:latest",
      "sbx -o json pull registry.k8s.io/pause:3.10",
    ],
    load: () => import("./commands/image-pull.js"),
  },
  {
    name: "namespace ls",
    aliases: ["list"],
    summary: "list namespaces",
    usage: "[flags]",
    flags: [quiet],
    args: { min: 0, max: 0, names: "" },
    examples: ["sbx ns ls", "sbx -o json ns ls"],
    load: () => import("./commands/namespace-ls.js"),
  },
  {
    name: "namespace rm",
    aliases: ["remove", "delete"],
    summary: "remove empty namespaces",
    usage: "NAME...",
    flags: [],
    args: { min: 1, names: "NAME..." },
    complete: "namespace",
    examples: ["sbx ns rm team-a"],
    load: () => import("./commands/namespace-rm.js"),
  },
  {
    name: "namespace label",
    summary: "set or remove a namespace's labels (K= removes K)",
    usage: "NAME [K=V...]",
    description: "Without K=V, prints the labels.",
    flags: [],
    args: { min: 1, names: "NAME [K=V...]" },
    complete: "namespace",
    examples: [
      "sbx ns label team-a owner=me",
      "sbx ns label default containerd.io/defaults/sandboxer=shim",
      "sbx ns label team-a owner=",
    ],
    load: () => import("./commands/namespace-label.js"),
  },
  {
    name: "version",
    summary: "show sbx's and sandboxd's versions",
    usage: "",
    flags: [],
    args: { min: 0, max: 0, names: "" },
    examples: ["sbx version", "sbx -o json version"],
    load: () => import("./commands/version.js"),
  },
  {
    name: "completion",
    summary: "print a shell completion script",
    usage: "bash|zsh",
    description:
      "bash: add  source <(sbx completion bash)  to ~/.bashrc\n" +
      'zsh:  add  source <(sbx completion zsh)  to ~/.zshrc (after "compinit")',
    flags: [],
    args: { min: 1, max: 1, names: "bash|zsh" },
    examples: ["sbx completion bash > /etc/bash_completion.d/sbx", "source <(sbx completion zsh)"],
    offline: true,
    load: () => import("./commands/completion.js"),
  },
];

/** The group a word names (by name or alias). */
export function findGroup(word: string): GroupSpec | undefined {
  return groups.find((g) => g.name === word || g.aliases.includes(word));
}

/** The command named by `words` (group aliases and command aliases allowed), and how many words it used. */
export function findCommand(
  words: readonly string[],
): { spec: CommandSpec; used: number } | undefined {
  const [first, second] = words;
  if (first === undefined) return undefined;
  const group = findGroup(first);
  if (group) {
    if (second === undefined) return undefined;
    const spec = commands.find((c) => {
      const [g, sub] = c.name.split(" ");
      return g === group.name && (sub === second || (c.aliases ?? []).includes(second));
    });
    return spec ? { spec, used: 2 } : undefined;
  }
  const spec = commands.find(
    (c) => c.name === first || (!c.name.includes(" ") && (c.aliases ?? []).includes(first)),
  );
  return spec ? { spec, used: 1 } : undefined;
}

/** The commands of a group. */
export function groupCommands(group: string): CommandSpec[] {
  return commands.filter((c) => c.name.startsWith(`${group} `));
}
