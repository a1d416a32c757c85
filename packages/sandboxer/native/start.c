/*
 * sbx-start: starts a container that `runc create` made, as `runc start` does, without
 * runc's Go runtime coming up for it.
 *
 *   sbx-start EXEC_FIFO INIT_PID
 *
 * runc's init waits, blocked opening EXEC_FIFO (runc's <root>/<id>/exec.fifo) for
 * writing, until a reader opens it; it then writes one byte and execs the container's
 * process, which closes the FIFO (close-on-exec). `runc start` opens the FIFO for
 * reading, reads until that close and removes the FIFO; so does this, in a process of
 * its own: a kill -9 of the sandboxer that spawned it does not take the reader away
 * from an init about to write.
 *
 * An init that died before opening its end would leave the open blocked for good, so
 * every 100 ms (runc's interval) the open is interrupted and INIT_PID looked at; once
 * it is gone or a zombie, the FIFO is opened without blocking, for a byte written
 * just before it went.
 *
 * Exit status 0 once the process runs; otherwise 1, with runc's wording on stderr:
 * "container not created: ..." when there is no FIFO (started already, or never made),
 * "cannot start an already running container" when the FIFO gave nothing,
 * "container process is already dead" when the init went without writing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

static void interrupt(int sig) { (void)sig; }

/* Whether PID has exited: gone, or a zombie (state Z or X after the command's ')'). */
static int init_gone(pid_t pid) {
  char path[64], buf[512];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 1;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 1;
  buf[n] = '\0';
  char *paren = strrchr(buf, ')');
  if (!paren || paren[1] != ' ') return 0;
  return paren[2] == 'Z' || paren[2] == 'X';
}

/* Reads FD until EOF; the number of bytes read, or -1. */
static long drain(int fd) {
  char buf[64];
  long total = 0;
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -1;
    if (n == 0) return total;
    total += n;
  }
}

static int fail(const char *what, const char *why) {
  fprintf(stderr, "%s%s%s\n", what, why ? ": " : "", why ? why : "");
  return 1;
}

int main(int argc, char **argv) {
  if (argc != 3) return fail("usage: sbx-start EXEC_FIFO INIT_PID", NULL);
  const char *fifo = argv[1];
  pid_t pid = (pid_t)atoi(argv[2]);
  if (pid <= 0) return fail("sbx-start: bad init pid", argv[2]);

  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = interrupt; /* no SA_RESTART: the blocked open returns EINTR */
  sigaction(SIGALRM, &sa, NULL);
  struct itimerval every = {{0, 100000}, {0, 100000}};
  setitimer(ITIMER_REAL, &every, NULL);

  int fd;
  for (;;) {
    fd = open(fifo, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) break;
    if (errno == ENOENT) return fail("container not created", "its exec FIFO is gone");
    if (errno != EINTR) return fail("open exec FIFO", strerror(errno));
    if (init_gone(pid)) {
      fd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
      char byte;
      if (fd < 0 || read(fd, &byte, 1) != 1) return fail("container process is already dead", NULL);
      unlink(fifo);
      return 0;
    }
  }
  long got = drain(fd);
  close(fd);
  if (got < 0) return fail("read exec FIFO", strerror(errno));
  if (got == 0) return fail("cannot start an already running container", NULL);
  if (unlink(fifo) != 0 && errno != ENOENT) return fail("remove exec FIFO", strerror(errno));
  return 0;
}
