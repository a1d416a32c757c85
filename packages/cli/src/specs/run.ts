// The specs of `sbx run`: names, flags, help and examples (the code is in ../commands/).
import { defineCommand, runtime, sandboxer, label, env, cwd, tty, interactive } from "./common.js";

export const runCommandFlags = [
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
  {
    name: "image",
    type: "value",
    valueName: "REF",
    description: "run this image (pulled when missing), with its config as defaults",
  },
  {
    name: "entrypoint",
    type: "value",
    valueName: "PATH",
    description: "replace the image's Entrypoint (and drop its Cmd); CMD becomes its arguments",
  },
  { name: "rootfs", type: "value", valueName: "DIR", description: "root filesystem directory" },
  { name: "read-only", type: "switch", description: "mount the root filesystem read-only" },
  {
    name: "user",
    short: "u",
    type: "value",
    valueName: "USER[:GROUP]",
    description: "run as this user (default: the image's, else root)",
  },
  env,
  cwd,
  label,
  {
    name: "hostname",
    type: "value",
    valueName: "NAME",
    description: "hostname (default: the sandbox id)",
  },
] as const;

const runCommand = defineCommand({
  name: "run",
  summary: "run a command in a new container (and its own sandbox)",
  usage: "[flags] ID [CMD [ARG...]]",
  description:
    "Creates a container ID running CMD (default: sh) and waits for it; sbx exits with the\n" +
    "container's exit status. With --image REF, the root filesystem is a snapshot of the\n" +
    "image (pulled first when the daemon does not have it) and the image config gives the\n" +
    "defaults: CMD replaces its Cmd (after its Entrypoint); environment, working directory\n" +
    "and user flags add to its Env or replace its WorkingDir and User (names from its\n" +
    "/etc/passwd and /etc/group; numeric uid[:gid] only without an image).\n" +
    "Removing the container (--rm) removes its snapshot too. Without --sandbox, a sandbox\n" +
    "with the same ID is made for it (and removed with --rm); with --sandbox, the container\n" +
    "joins that sandbox. Without --image or --rootfs, a busybox root filesystem is\n" +
    "prepared on first use (under /var/lib/sandboxd/rootfs/busybox, or\n" +
    "$SANDBOXD_ROOTFS_CACHE) and mounted read-only.\n" +
    "Ctrl-C and SIGTERM are passed on to the container; a second one sends SIGKILL\n" +
    "(its PID 1 gets only the signals it handles: sleep there ignores SIGTERM).",
  flags: runCommandFlags,
  args: { min: 1, names: "ID [CMD...]" },
  passthroughAfter: 1,
  complete: "shell",
  examples: [
    "sbx run --rm hello echo hello world",
    "sbx run --rm -t shell sh",
    "sbx run -d web httpd -f -p 8080",
    "sbx run --rm --sandbox web sidecar wget -qO- localhost:8080",
    "sbx run --rm --rootfs /srv/rootfs --env A=1 job /bin/job --once",
    "sbx run --rm --image docker.io/library/alpine:3.20 hello echo hello",
  ],
  load: () => import("../commands/run.js"),
});

export const runCommands = [runCommand] as const;
