/*
 * sbx-client: sbx's front end. It hands the command to sandboxd's CLI server,
 * which runs it in a Node that is already up, instead of starting Node for it.
 *
 *   sbx-client ARGS...            (run by bin/sbx, with SBX_LAUNCHER=bin/sbx)
 *
 * The server is at ADDRESS.cli, ADDRESS being the last `--address PATH` or
 * `--address=PATH` before a `--`, else $SANDBOXD_ADDRESS, else sandboxd's default.
 * The client sends its argv, environment, working directory and whether its
 * stdin, stdout and stderr are terminals; then copies frames: the command's
 * stdout and stderr to its own, its stdin once the command reads it, the
 * signals it gets and its terminal's new sizes. It exits with the command's
 * status. The frames are described in packages/cli/src/serve/frames.ts.
 *
 * When no server answers there, or the server answers that the Node CLI should
 * run the command (a terminal in the container, image archives, another
 * daemon's address), the client execs $SBX_LAUNCHER with SANDBOXD_CLI=local:
 * the command then runs exactly as it did before the server existed.
 * SANDBOXD_CLI=served turns that fallback into an error (for tests).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

extern char **environ;

#define DEFAULT_ADDRESS "/run/sandboxd/sandboxd.sock"
#define PROTOCOL "sbx-cli 1"
#define MAX_FRAME (16u << 20)

static const int forwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};
#define NFORWARDED (sizeof forwarded / sizeof forwarded[0])
static int signal_pipe[2] = {-1, -1};

static char **saved_argv;

/* Runs the Node CLI in this process's place, or fails when that is not allowed. */
static void run_locally(const char *why) {
  const char *mode = getenv("SANDBOXD_CLI");
  const char *launcher = getenv("SBX_LAUNCHER");
  if (mode && strcmp(mode, "served") == 0) {
    fprintf(stderr, "sbx: SANDBOXD_CLI=served, but %s\n", why);
    exit(1);
  }
  if (!launcher || !*launcher) {
    fprintf(stderr, "sbx: %s, and SBX_LAUNCHER (the Node CLI) is not set\n", why);
    exit(127);
  }
  for (size_t i = 0; i < NFORWARDED; i++) signal(forwarded[i], SIG_DFL);
  setenv("SANDBOXD_CLI", "local", 1);
  saved_argv[0] = (char *)launcher;
  execv(launcher, saved_argv);
  fprintf(stderr, "sbx: cannot run %s: %s\n", launcher, strerror(errno));
  exit(127);
}

static const char *server_address(int argc, char **argv) {
  const char *address = NULL;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--") == 0) break;
    if (strcmp(argv[i], "--address") == 0 && i + 1 < argc) address = argv[++i];
    else if (strncmp(argv[i], "--address=", 10) == 0) address = argv[i] + 10;
  }
  if (!address) address = getenv("SANDBOXD_ADDRESS");
  if (!address || !*address) address = DEFAULT_ADDRESS;
  return address;
}

static int connect_server(const char *address) {
  struct sockaddr_un sun = {.sun_family = AF_UNIX};
  if ((size_t)snprintf(sun.sun_path, sizeof sun.sun_path, "%s.cli", address) >=
      sizeof sun.sun_path)
    return -1;
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (connect(fd, (struct sockaddr *)&sun, sizeof sun) < 0) {
    close(fd);
    return -1;
  }
  return fd;
}

/* Writes all of buf, waiting out EAGAIN on descriptors someone left non-blocking. */
static int write_all(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
        poll(&pfd, 1, -1);
        continue;
      }
      return -1;
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

static void send_frame(int sock, char type, const void *payload, size_t len) {
  unsigned char head[5] = {(unsigned char)type, (unsigned char)(len >> 24),
                           (unsigned char)(len >> 16), (unsigned char)(len >> 8),
                           (unsigned char)len};
  if (write_all(sock, head, 5) < 0 || (len && write_all(sock, payload, len) < 0)) {
    fprintf(stderr, "sbx: lost sandboxd's CLI server: %s\n", strerror(errno));
    exit(1);
  }
}

/* A growable buffer of NUL-terminated words (the hello). */
struct words {
  char *data;
  size_t len, cap;
};

static void add_word(struct words *w, const char *s) {
  size_t n = strlen(s) + 1;
  if (w->len + n > w->cap) {
    w->cap = (w->len + n) * 2;
    w->data = realloc(w->data, w->cap);
    if (!w->data) {
      fputs("sbx: out of memory\n", stderr);
      exit(1);
    }
  }
  memcpy(w->data + w->len, s, n);
  w->len += n;
}

static void send_hello(int sock, int argc, char **argv) {
  char cwd[PATH_MAX];
  if (!getcwd(cwd, sizeof cwd)) run_locally("the working directory cannot be read");
  struct words w = {0};
  char buf[64];
  add_word(&w, PROTOCOL);
  add_word(&w, cwd);
  snprintf(buf, sizeof buf, "%d%d%d", isatty(0), isatty(1), isatty(2));
  add_word(&w, buf);
  struct winsize ws = {0};
  if (isatty(1)) ioctl(1, TIOCGWINSZ, &ws);
  snprintf(buf, sizeof buf, "%u %u", ws.ws_col, ws.ws_row);
  add_word(&w, buf);
  snprintf(buf, sizeof buf, "%d", argc - 1);
  add_word(&w, buf);
  for (int i = 1; i < argc; i++) add_word(&w, argv[i]);
  for (char **e = environ; *e; e++) add_word(&w, *e);
  send_frame(sock, 'H', w.data, w.len);
  free(w.data);
}

static void on_signal(int signo) {
  int saved = errno;
  unsigned char b = (unsigned char)signo;
  ssize_t ignored = write(signal_pipe[1], &b, 1);
  (void)ignored;
  errno = saved;
}

static void send_signal(int sock, int signo) {
  char buf[32];
  if (signo == SIGWINCH) {
    struct winsize ws = {0};
    if (ioctl(1, TIOCGWINSZ, &ws) < 0) return;
    int n = snprintf(buf, sizeof buf, "%u %u", ws.ws_col, ws.ws_row);
    send_frame(sock, 'W', buf, (size_t)n);
    return;
  }
  const char *name = sigabbrev_np(signo);
  if (!name) return;
  int n = snprintf(buf, sizeof buf, "SIG%s", name);
  send_frame(sock, 'S', buf, (size_t)n);
}

int main(int argc, char **argv) {
  saved_argv = argv;
  const char *mode = getenv("SANDBOXD_CLI");
  if (mode && strcmp(mode, "local") == 0) run_locally("SANDBOXD_CLI=local");
  const char *address = server_address(argc, argv);
  int sock = connect_server(address);
  if (sock < 0) {
    char why[PATH_MAX + 64];
    snprintf(why, sizeof why, "no CLI server at %s.cli", address);
    run_locally(why);
  }
  if (pipe2(signal_pipe, O_CLOEXEC | O_NONBLOCK) < 0) run_locally("no pipe for signals");
  struct sigaction sa = {.sa_handler = on_signal};
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  for (size_t i = 0; i < NFORWARDED; i++) sigaction(forwarded[i], &sa, NULL);
  send_hello(sock, argc, argv);

  size_t cap = 1 << 16, have = 0;
  unsigned char *buf = malloc(cap);
  int frames_seen = 0, stdin_wanted = 0, stdin_done = 0;
  for (;;) {
    struct pollfd pfds[3] = {
        {.fd = sock, .events = POLLIN},
        {.fd = signal_pipe[0], .events = POLLIN},
        {.fd = stdin_wanted && !stdin_done ? 0 : -1, .events = POLLIN},
    };
    if (poll(pfds, 3, -1) < 0) {
      if (errno == EINTR) continue;
      perror("sbx: poll");
      return 1;
    }
    if (pfds[1].revents & POLLIN) {
      unsigned char signo;
      while (read(signal_pipe[0], &signo, 1) == 1) send_signal(sock, signo);
    }
    if (pfds[2].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) {
      char in[1 << 16];
      ssize_t n = pfds[2].revents & POLLNVAL ? 0 : read(0, in, sizeof in);
      if (n > 0) send_frame(sock, 'I', in, (size_t)n);
      else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
        send_frame(sock, 'i', NULL, 0);
        stdin_done = 1;
      }
    }
    if (!(pfds[0].revents & (POLLIN | POLLHUP | POLLERR))) continue;
    if (have == cap) {
      cap *= 2;
      buf = realloc(buf, cap);
      if (!buf) {
        fputs("sbx: out of memory\n", stderr);
        return 1;
      }
    }
    ssize_t n = read(sock, buf + have, cap - have);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      fprintf(stderr, "sbx: sandboxd's CLI server closed the connection before the command ended%s%s\n",
              n < 0 ? ": " : "", n < 0 ? strerror(errno) : "");
      return 1;
    }
    have += (size_t)n;
    size_t at = 0;
    while (have - at >= 5) {
      unsigned char *f = buf + at;
      uint32_t len = (uint32_t)f[1] << 24 | (uint32_t)f[2] << 16 | (uint32_t)f[3] << 8 | f[4];
      if (len > MAX_FRAME) {
        fputs("sbx: sandboxd's CLI server sent a frame too big to be one\n", stderr);
        return 1;
      }
      if (have - at < 5 + (size_t)len) {
        if (5 + (size_t)len > cap) {
          cap = 5 + (size_t)len;
          memmove(buf, buf + at, have - at);
          have -= at;
          at = 0;
          buf = realloc(buf, cap);
          if (!buf) {
            fputs("sbx: out of memory\n", stderr);
            return 1;
          }
        }
        break;
      }
      unsigned char *payload = f + 5;
      switch (f[0]) {
        case 'L':
          if (frames_seen == 0) {
            close(sock);
            run_locally("the server leaves this command to the Node CLI");
          }
          break;
        case 'O':
          write_all(1, payload, len);
          break;
        case 'E':
          write_all(2, payload, len);
          break;
        case 'R':
          stdin_wanted = 1;
          break;
        case 'X': {
          char status[16] = {0};
          memcpy(status, payload, len < sizeof status - 1 ? len : sizeof status - 1);
          return atoi(status);
        }
        default:
          /* A frame from a newer server: skipped. */
          break;
      }
      frames_seen++;
      at += 5 + (size_t)len;
    }
    memmove(buf, buf + at, have - at);
    have -= at;
  }
}
