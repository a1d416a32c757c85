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
    name: "name",
    type: "value",
    valueName: "ID",
    description: "the container id; then the first word is the IMAGE",
  },
  {
    name: "image",
    type: "value",
    valueName: "REF",
    description: "run this image (pulled when missing), with its config as defaults",
  },
  {
    name: "platform",
    type: "value",
    valueName: "OS/ARCH[/VARIANT]",
    description: "platform to pull the image for when it is missing",
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
  {
    name: "env-file",
    type: "value",
    multiple: true,
    valueName: "FILE",
    description: "read KEY=VALUE lines (a bare KEY takes sbx's value); --env wins",
  },
  cwd,
  label,
  {
    name: "volume",
    short: "v",
    type: "value",
    multiple: true,
    valueName: "HOST:CTR[:ro]",
    description: "bind-mount a host directory or file (made when missing)",
  },
  {
    name: "mount",
    type: "value",
    multiple: true,
    valueName: "type=bind,src=H,dst=C[,ro]",
    description: "a bind mount (or type=tmpfs,dst=C)",
  },
  {
    name: "publish",
    short: "p",
    type: "value",
    multiple: true,
    valueName: "[IP:]HOST:CTR[/PROTO]",
    description: "forward a host port to the container (CNI portmap; a sandbox of its own)",
  },
  {
    name: "net",
    type: "value",
    valueName: "MODE",
    choices: ["bridge", "host", "none"],
    description: "the sandbox's network: bridge (CNI, default), host, or none (loopback only)",
  },
  {
    name: "network",
    type: "value",
    valueName: "MODE",
    choices: ["bridge", "host", "none"],
    description: "same as --net",
  },
  {
    name: "memory",
    short: "m",
    type: "value",
    valueName: "SIZE",
    description: "memory limit, e.g. 512m or 1g",
  },
  { name: "cpus", type: "value", valueName: "N", description: "CPU limit, e.g. 0.5 or 2" },
  {
    name: "privileged",
    type: "switch",
    description: "every capability and host device, no masked paths or seccomp",
  },
  {
    name: "cap-add",
    type: "value",
    multiple: true,
    valueName: "CAP",
    description: "add a capability (NET_ADMIN, CAP_SYS_TIME, ALL)",
  },
  {
    name: "cap-drop",
    type: "value",
    multiple: true,
    valueName: "CAP",
    description: "drop a capability (or ALL)",
  },
  {
    name: "security-opt",
    type: "value",
    multiple: true,
    valueName: "OPT",
    description:
      "seccomp=unconfined or seccomp=PROFILE.json (default: containerd's RuntimeDefault), no-new-privileges[=false]",
  },
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
  usage: "[flags] (IMAGE | ID) [CMD [ARG...]]",
  description:
    "`sbx run IMAGE [CMD...]` runs an image as nerdctl and podman do: the first word is an\n" +
    "image when it has a '/', ':' or '@' (busybox:latest, 127.0.0.1:5000/app), or when\n" +
    "--name gives the container id (else the id is <repository>-<random>). A plain word is\n" +
    "the container id of sbx's own form below; one that also names an image the daemon has\n" +
    "is refused as ambiguous.\n" +
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
  args: { min: 0, names: "(IMAGE | ID) [CMD...]" },
  passthroughAfter: 1,
  complete: "shell",
  examples: [
    "sbx run --rm hello echo hello world",
    "sbx run --rm -t shell sh",
    "sbx run -d web httpd -f -p 8080",
    "sbx run --rm --sandbox web sidecar wget -qO- localhost:8080",
    "sbx run --rm --rootfs /srv/rootfs --env A=1 job /bin/job --once",
    "sbx run --rm --image docker.io/library/alpine:3.20 hello echo hello",
    "sbx run --rm 127.0.0.1:5000/library/busybox:latest echo hello",
    "sbx run -d --name web -p 8080:80 -v /srv/www:/www:ro busybox:latest httpd -f -h /www",
    "sbx run --rm --net none --memory 64m --cpus 0.5 --cap-drop ALL alpine:3.20 id",
  ],
  load: () => import("../commands/run.js"),
});

export const runCommands = [runCommand] as const;
