/*
 * sbx-userns: the two things sbx-sandboxer needs for pods with a user namespace
 * (CRI userns_options mode POD) that neither runc 1.1 nor util-linux 2.38 can do.
 *
 *   sbx-userns pin UIDMAP GIDMAP HOSTNAME USERFILE [net=FILE] [ipc=FILE] [uts=FILE]
 *     Creates a user namespace with one mapping each for uids and gids
 *     ("CONTAINER:HOST:LENGTH"), then, from inside it, the listed namespaces, so
 *     that they are owned by it (runc can only mount sysfs, proc and mqueue in a
 *     container whose net, pid and ipc namespaces belong to its user namespace).
 *     HOSTNAME (unless empty) names the new uts namespace. Each namespace is
 *     pinned by a bind mount of /proc/CHILD/ns/KIND onto its FILE (created if
 *     missing; its directory must not be a shared mount). The child then exits.
 *     util-linux's unshare could pin, but it maps ids only through newuidmap and
 *     binds from inside the new user namespace, where the host's mount namespace
 *     refuses it.
 *
 *   sbx-userns idmap USERFILE SOURCE TARGET
 *     Mounts an idmapped copy of the mount tree at SOURCE (recursively) on TARGET
 *     (which may be SOURCE itself: the copy stacks on top), mapped through the
 *     user namespace USERFILE pins: a file owned by uid N on disk shows as N inside
 *     that namespace, and what its root writes lands on disk as uid 0.
 *     open_tree(OPEN_TREE_CLONE) + mount_setattr(MOUNT_ATTR_IDMAP) + move_mount,
 *     as runc 1.2 does for idmapped mounts; runc 1.1 has no such option.
 *
 * Exit status 0 on success; otherwise 1 with the failing step on stderr, and
 * nothing left mounted.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_PINS 4

static int fail(const char *what, const char *arg) {
  fprintf(stderr, "sbx-userns: %s%s%s: %s\n", what, arg ? " " : "", arg ? arg : "", strerror(errno));
  return 1;
}

/* "C:H:L" with L >= 1, into the kernel's "C H L\n". */
static int parse_map(const char *s, char *out, size_t size) {
  unsigned long c, h, l;
  char extra;
  if (sscanf(s, "%lu:%lu:%lu%c", &c, &h, &l, &extra) != 3 || l == 0 || c > 0xffffffffUL ||
      h > 0xffffffffUL || l > 0xffffffffUL) {
    fprintf(stderr, "sbx-userns: bad id mapping %s (want CONTAINER:HOST:LENGTH)\n", s);
    return -1;
  }
  snprintf(out, size, "%lu %lu %lu\n", c, h, l);
  return 0;
}

static int write_file(const char *path, const char *data) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = write(fd, data, strlen(data));
  int saved = errno;
  close(fd);
  errno = saved;
  return n == (ssize_t)strlen(data) ? 0 : -1;
}

static void signal_peer(int fd) {
  char c = 1;
  while (write(fd, &c, 1) < 0 && errno == EINTR) {
  }
}

static int await_peer(int fd) {
  char c;
  ssize_t n;
  while ((n = read(fd, &c, 1)) < 0 && errno == EINTR) {
  }
  return n == 1 ? 0 : -1;
}

struct pin {
  const char *kind, *file;
  int flag;
};

static int pin(int argc, char **argv) {
  if (argc < 6) {
    fprintf(stderr, "usage: sbx-userns pin UIDMAP GIDMAP HOSTNAME USERFILE [KIND=FILE...]\n");
    return 2;
  }
  char uid_map[64], gid_map[64];
  if (parse_map(argv[2], uid_map, sizeof uid_map) || parse_map(argv[3], gid_map, sizeof gid_map))
    return 2;
  const char *hostname = argv[4];
  struct pin pins[MAX_PINS] = {{"user", argv[5], 0}};
  int npins = 1, flags = 0;
  for (int i = 6; i < argc; i++) {
    char *eq = strchr(argv[i], '=');
    int flag = 0;
    if (eq && !strncmp(argv[i], "net=", 4)) flag = CLONE_NEWNET;
    if (eq && !strncmp(argv[i], "ipc=", 4)) flag = CLONE_NEWIPC;
    if (eq && !strncmp(argv[i], "uts=", 4)) flag = CLONE_NEWUTS;
    if (!flag || (flags & flag)) {
      fprintf(stderr, "sbx-userns: bad or repeated namespace %s (want net=, ipc= or uts=FILE)\n",
              argv[i]);
      return 2;
    }
    *eq = '\0';
    pins[npins++] = (struct pin){argv[i], eq + 1, flag};
    flags |= flag;
  }
  int to_parent[2], to_child[2];
  if (pipe2(to_parent, O_CLOEXEC) || pipe2(to_child, O_CLOEXEC)) return fail("pipe", NULL);
  pid_t child = fork();
  if (child < 0) return fail("fork", NULL);
  if (child == 0) {
    /* The child makes the namespaces; the parent, still root of the host, maps and pins. */
    close(to_parent[0]);
    close(to_child[1]);
    if (unshare(CLONE_NEWUSER)) _exit(fail("unshare user namespace", NULL));
    signal_peer(to_parent[1]);
    if (await_peer(to_child[0])) _exit(1);
    if (flags && unshare(flags)) _exit(fail("unshare namespaces", NULL));
    if ((flags & CLONE_NEWUTS) && hostname[0] && sethostname(hostname, strlen(hostname)))
      _exit(fail("sethostname", hostname));
    signal_peer(to_parent[1]);
    /* Alive until pinned: the parent binds /proc/CHILD/ns/... */
    await_peer(to_child[0]);
    _exit(0);
  }
  close(to_parent[1]);
  close(to_child[0]);
  int mounted = 0, rc = 1;
  char path[64];
  if (await_peer(to_parent[0])) {
    fprintf(stderr, "sbx-userns: the namespace child exited early\n");
    goto out;
  }
  snprintf(path, sizeof path, "/proc/%d/uid_map", (int)child);
  if (write_file(path, uid_map)) {
    fail("write uid_map", uid_map);
    goto out;
  }
  snprintf(path, sizeof path, "/proc/%d/gid_map", (int)child);
  if (write_file(path, gid_map)) {
    fail("write gid_map", gid_map);
    goto out;
  }
  signal_peer(to_child[1]);
  if (await_peer(to_parent[0])) {
    fprintf(stderr, "sbx-userns: the namespace child exited before its namespaces were made\n");
    goto out;
  }
  for (; mounted < npins; mounted++) {
    int fd = open(pins[mounted].file, O_WRONLY | O_CREAT | O_CLOEXEC, 0444);
    if (fd < 0) {
      fail("create", pins[mounted].file);
      goto out;
    }
    close(fd);
    snprintf(path, sizeof path, "/proc/%d/ns/%s", (int)child, pins[mounted].kind);
    if (mount(path, pins[mounted].file, NULL, MS_BIND, NULL)) {
      fail("bind-mount the namespace onto", pins[mounted].file);
      goto out;
    }
  }
  rc = 0;
out:
  signal_peer(to_child[1]);
  close(to_child[1]);
  if (rc) {
    kill(child, SIGKILL);
    while (mounted-- > 0) umount2(pins[mounted].file, MNT_DETACH);
  }
  int status;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  return rc;
}

static int idmap(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: sbx-userns idmap USERFILE SOURCE TARGET\n");
    return 2;
  }
  int userns = open(argv[2], O_RDONLY | O_CLOEXEC);
  if (userns < 0) return fail("open user namespace", argv[2]);
  int tree = (int)syscall(SYS_open_tree, AT_FDCWD, argv[3],
                          OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
  if (tree < 0) return fail("open_tree", argv[3]);
  struct mount_attr attr = {.attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (unsigned long)userns};
  if (syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr))
    return fail("mount_setattr MOUNT_ATTR_IDMAP", argv[3]);
  if (syscall(SYS_move_mount, tree, "", AT_FDCWD, argv[4], MOVE_MOUNT_F_EMPTY_PATH))
    return fail("move_mount onto", argv[4]);
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 2 && !strcmp(argv[1], "pin")) return pin(argc, argv);
  if (argc >= 2 && !strcmp(argv[1], "idmap")) return idmap(argc, argv);
  fprintf(stderr, "usage: sbx-userns pin|idmap ...\n");
  return 2;
}
