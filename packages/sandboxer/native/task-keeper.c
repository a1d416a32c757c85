/*
 * sbx-task-keeper: holds containerd's ttrpc connections to the sandboxer's task
 * socket while the sandboxer restarts.
 *
 * containerd 2.0-2.3 open a task connection once and never reopen it: when the
 * sandboxer process dies, every in-flight Task.Wait fails and CRI records the
 * containers as exited. The keeper listens on the task socket instead of the
 * sandboxer and relays each client connection to the sandboxer's backend socket,
 * frame by frame (ttrpc: 10-byte header, big-endian length and stream id, type,
 * flags). It remembers the requests (type 1) whose response (type 2) has not come
 * back; when the backend connection drops, the client connection stays open, the
 * keeper reconnects as soon as the sandboxer listens again and sends the
 * remembered requests to it. The client sees a slow answer, not a closed socket.
 *
 * usage: sbx-task-keeper LISTEN_SOCKET BACKEND_SOCKET
 * One process per node (about 0.1 MB); it runs until killed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define HEADER 10
#define MAX_FRAME (16u << 20)
#define TYPE_REQUEST 1
#define TYPE_RESPONSE 2

struct buf {
  uint8_t *data;
  size_t len, cap;
};

struct pending {
  uint32_t stream;
  uint8_t *frame;
  size_t len;
  struct pending *next;
};

struct conn {
  int client, backend, dead;
  struct buf from_client, from_backend;
  struct pending *inflight; /* oldest first */
  struct conn *next;
};

static const char *backend_path;
static struct conn *conns;
static int ep;

static void die(const char *what) {
  perror(what);
  exit(1);
}

static void buf_append(struct buf *b, const uint8_t *p, size_t n) {
  if (b->len + n > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n) cap *= 2;
    b->data = realloc(b->data, cap);
    if (!b->data) die("realloc");
    b->cap = cap;
  }
  memcpy(b->data + b->len, p, n);
  b->len += n;
}

static void buf_consume(struct buf *b, size_t n) {
  memmove(b->data, b->data + n, b->len - n);
  b->len -= n;
}

static uint32_t be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Writes everything, waiting for the socket to drain; 0 on success. */
static int write_all(int fd, const uint8_t *p, size_t n) {
  while (n > 0) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w > 0) {
      p += w;
      n -= (size_t)w;
      continue;
    }
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      struct pollfd pfd = {.fd = fd, .events = POLLOUT};
      if (poll(&pfd, 1, 30000) <= 0) return -1;
      continue;
    }
    return -1;
  }
  return 0;
}

static int unix_socket(void) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  return fd;
}

static void set_addr(struct sockaddr_un *a, const char *path) {
  memset(a, 0, sizeof(*a));
  a->sun_family = AF_UNIX;
  if (strlen(path) >= sizeof(a->sun_path)) {
    fprintf(stderr, "socket path too long: %s\n", path);
    exit(2);
  }
  strcpy(a->sun_path, path);
}

static void watch(int fd, void *ptr) {
  struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = ptr};
  if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) die("epoll_ctl");
}

/* Tags in epoll data: a conn pointer with the low bit set means its backend side. */
#define BACKEND_TAG(c) ((void *)((uintptr_t)(c) | 1))

static void drop_backend(struct conn *c) {
  if (c->backend < 0) return;
  epoll_ctl(ep, EPOLL_CTL_DEL, c->backend, NULL);
  close(c->backend);
  c->backend = -1;
  c->from_backend.len = 0; /* a partial response never reached the client */
}

/* Connects to the sandboxer and sends the requests still waiting for an answer. */
static void try_backend(struct conn *c) {
  if (c->backend >= 0) return;
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  struct sockaddr_un a;
  set_addr(&a, backend_path);
  if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
    close(fd);
    return;
  }
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
    close(fd);
    return;
  }
  c->backend = fd;
  watch(fd, BACKEND_TAG(c));
  for (struct pending *p = c->inflight; p; p = p->next) {
    if (write_all(fd, p->frame, p->len) < 0) {
      drop_backend(c);
      return;
    }
  }
}

/* Closes both sides; the memory goes in reap(), after the current batch of events. */
static void close_conn(struct conn *c) {
  if (c->dead) return;
  c->dead = 1;
  epoll_ctl(ep, EPOLL_CTL_DEL, c->client, NULL);
  close(c->client);
  c->client = -1;
  drop_backend(c);
}

static void free_conn(struct conn *c) {
  while (c->inflight) {
    struct pending *p = c->inflight;
    c->inflight = p->next;
    free(p->frame);
    free(p);
  }
  free(c->from_client.data);
  free(c->from_backend.data);
  free(c);
}

static void reap(void) {
  struct conn **pp = &conns;
  while (*pp) {
    struct conn *c = *pp;
    if (c->dead) {
      *pp = c->next;
      free_conn(c);
    } else {
      pp = &c->next;
    }
  }
}

/* Frames from the client: requests are remembered, then passed on. */
static int client_frames(struct conn *c) {
  struct buf *b = &c->from_client;
  while (b->len >= HEADER) {
    uint32_t len = be32(b->data);
    if (len > MAX_FRAME) return -1;
    size_t total = HEADER + (size_t)len;
    if (b->len < total) break;
    if (b->data[8] == TYPE_REQUEST) {
      struct pending *p = calloc(1, sizeof(*p));
      if (!p) die("calloc");
      p->stream = be32(b->data + 4);
      p->frame = malloc(total);
      if (!p->frame) die("malloc");
      memcpy(p->frame, b->data, total);
      p->len = total;
      struct pending **tail = &c->inflight;
      while (*tail) tail = &(*tail)->next;
      *tail = p;
    }
    if (c->backend >= 0 && write_all(c->backend, b->data, total) < 0) drop_backend(c);
    buf_consume(b, total);
  }
  return 0;
}

/* Frames from the sandboxer: a response settles its request; all go to the client. */
static int backend_frames(struct conn *c) {
  struct buf *b = &c->from_backend;
  while (b->len >= HEADER) {
    uint32_t len = be32(b->data);
    if (len > MAX_FRAME) {
      drop_backend(c);
      return 0;
    }
    size_t total = HEADER + (size_t)len;
    if (b->len < total) break;
    if (b->data[8] == TYPE_RESPONSE) {
      uint32_t stream = be32(b->data + 4);
      for (struct pending **pp = &c->inflight; *pp; pp = &(*pp)->next) {
        if ((*pp)->stream == stream) {
          struct pending *p = *pp;
          *pp = p->next;
          free(p->frame);
          free(p);
          break;
        }
      }
    }
    if (write_all(c->client, b->data, total) < 0) return -1;
    buf_consume(b, total);
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s LISTEN_SOCKET BACKEND_SOCKET\n", argv[0]);
    return 2;
  }
  backend_path = argv[2];
  signal(SIGPIPE, SIG_IGN);
  int lfd = unix_socket();
  struct sockaddr_un a;
  set_addr(&a, argv[1]);
  unlink(argv[1]);
  if (bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0) die("bind");
  chmod(argv[1], 0600);
  if (listen(lfd, 128) < 0) die("listen");
  ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) die("epoll_create1");
  watch(lfd, NULL);
  uint8_t chunk[65536];
  for (;;) {
    int waiting = 0;
    for (struct conn *c = conns; c; c = c->next)
      if (!c->dead && c->backend < 0) waiting = 1;
    struct epoll_event evs[64];
    int n = epoll_wait(ep, evs, 64, waiting ? 50 : -1);
    if (n < 0 && errno != EINTR) die("epoll_wait");
    for (int i = 0; i < n; i++) {
      void *ptr = evs[i].data.ptr;
      if (ptr == NULL) {
        int cfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0) continue;
        struct conn *c = calloc(1, sizeof(*c));
        if (!c) die("calloc");
        c->client = cfd;
        c->backend = -1;
        c->next = conns;
        conns = c;
        watch(cfd, c);
        try_backend(c);
        continue;
      }
      int backend = ((uintptr_t)ptr & 1) != 0;
      struct conn *c = (struct conn *)((uintptr_t)ptr & ~(uintptr_t)1);
      if (c->dead) continue;
      int fd = backend ? c->backend : c->client;
      if (fd < 0) continue;
      ssize_t r = recv(fd, chunk, sizeof(chunk), 0);
      if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      if (r <= 0) {
        if (backend)
          drop_backend(c); /* the sandboxer went away: keep the client, reconnect later */
        else
          close_conn(c);
        continue;
      }
      if (backend) {
        buf_append(&c->from_backend, chunk, (size_t)r);
        if (backend_frames(c) < 0) close_conn(c);
      } else {
        buf_append(&c->from_client, chunk, (size_t)r);
        if (client_frames(c) < 0) close_conn(c);
      }
    }
    reap();
    for (struct conn *c = conns; c; c = c->next)
      if (c->backend < 0) try_backend(c);
  }
}
