/*
 * A loopback TCP proxy that holds every chunk DELAY_MS in each direction, as a
 * remote CA's network would:
 *
 *   delay-proxy TARGET_PORT DELAY_MS
 *
 * Prints "PROXY <port>" once listening on 127.0.0.1. One thread, epoll, and
 * one queue: every chunk waits the same time, so chunks leave in the order
 * they arrived and the queue's head is always the next one due. An end of
 * stream is passed on after the data before it, never ahead of it. Written in
 * C so that simulating the network costs the benchmark's two cores little
 * next to the client and server it measures.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* A client connection and the one made upstream for it. */
struct pair {
  int fd[2];         /* 0: client side, 1: upstream */
  int eof[2];        /* end of stream read from fd[i] */
  int shut[2];       /* fd[i] was shut for writing */
  int dead;          /* reset: nothing more is passed on */
  int pending;       /* queue entries that name this pair */
};

/* One chunk (len > 0), end of stream (len == 0) or reset (len < 0) for pair->fd[to]. */
struct entry {
  struct entry *next;
  long long due_ms;
  struct pair *pair;
  int to;
  ssize_t len;
  char data[];
};

static struct entry *head, *tail;
static long long delay_ms;
static int epfd;

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void enqueue(struct pair *p, int to, const char *data, ssize_t len) {
  struct entry *e = malloc(sizeof *e + (len > 0 ? (size_t)len : 0));
  if (e == NULL) abort();
  e->next = NULL;
  e->due_ms = now_ms() + delay_ms;
  e->pair = p;
  e->to = to;
  e->len = len;
  if (len > 0) memcpy(e->data, data, (size_t)len);
  p->pending++;
  if (tail) tail->next = e; else head = e;
  tail = e;
}

static void close_pair(struct pair *p) {
  for (int i = 0; i < 2; i++) {
    if (p->fd[i] >= 0) {
      epoll_ctl(epfd, EPOLL_CTL_DEL, p->fd[i], NULL);
      close(p->fd[i]);
      p->fd[i] = -1;
    }
  }
  p->dead = 1;
}

static void release(struct pair *p) {
  if (--p->pending == 0 && (p->dead || (p->shut[0] && p->shut[1]))) {
    close_pair(p);
    free(p);
  }
}

/* Writes all of it; a loopback peer that is slow to read is waited for. */
static int write_all(int fd, const char *buf, size_t len) {
  while (len > 0) {
    ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
    if (n > 0) {
      buf += n;
      len -= (size_t)n;
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      struct timespec ts = {0, 200000};
      nanosleep(&ts, NULL);
    } else {
      return -1;
    }
  }
  return 0;
}

static void deliver(struct entry *e) {
  struct pair *p = e->pair;
  if (!p->dead) {
    if (e->len > 0) {
      if (write_all(p->fd[e->to], e->data, (size_t)e->len) != 0) close_pair(p);
    } else if (e->len == 0) {
      shutdown(p->fd[e->to], SHUT_WR);
      p->shut[e->to] = 1;
    } else {
      close_pair(p);
    }
  }
  release(p);
}

static void on_readable(struct pair *p, int from) {
  char buf[65536];
  for (;;) {
    ssize_t n = recv(p->fd[from], buf, sizeof buf, 0);
    if (n > 0) {
      enqueue(p, 1 - from, buf, n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    /* end of stream or an error: passed on after what came before it */
    epoll_ctl(epfd, EPOLL_CTL_DEL, p->fd[from], NULL);
    p->eof[from] = 1;
    enqueue(p, 1 - from, NULL, n == 0 ? 0 : -1);
    return;
  }
}

static int watch(int fd, void *ptr) {
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = ptr};
  return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

/* epoll data: the listener is NULL; a connection is (pair address | side). */
static void on_accept(int listener, const struct sockaddr_in *target) {
  for (;;) {
    int c = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (c < 0) return;
    int u = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (u < 0 || connect(u, (const struct sockaddr *)target, sizeof *target) != 0) {
      close(c);
      if (u >= 0) close(u);
      continue;
    }
    struct pair *p = calloc(1, sizeof *p);
    if (p == NULL) abort();
    p->fd[0] = c;
    p->fd[1] = u;
    /* connected on loopback at once; non-blocking from here on, like the client side */
    if (fcntl(u, F_SETFL, fcntl(u, F_GETFL) | O_NONBLOCK) != 0) abort();
    for (int i = 0; i < 2; i++) {
      setsockopt(p->fd[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      if (watch(p->fd[i], (char *)p + i) != 0) abort();
    }
  }
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: delay-proxy TARGET_PORT DELAY_MS\n");
    return 2;
  }
  struct sockaddr_in target = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[1]))};
  target.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  delay_ms = atoll(argv[2]);

  int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t alen = sizeof addr;
  if (listener < 0 || bind(listener, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(listener, 1024) != 0 ||
      getsockname(listener, (struct sockaddr *)&addr, &alen) != 0) {
    perror("delay-proxy: listen");
    return 1;
  }
  epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0 || watch(listener, NULL) != 0) {
    perror("delay-proxy: epoll");
    return 1;
  }
  printf("PROXY %d\n", ntohs(addr.sin_port));
  fflush(stdout);

  struct epoll_event events[256];
  for (;;) {
    long long now = now_ms();
    while (head != NULL && head->due_ms <= now) {
      struct entry *e = head;
      head = e->next;
      if (head == NULL) tail = NULL;
      deliver(e);
      free(e);
    }
    int timeout = head == NULL ? -1 : (int)(head->due_ms - now);
    int n = epoll_wait(epfd, events, 256, timeout);
    if (n < 0 && errno != EINTR) {
      perror("delay-proxy: epoll_wait");
      return 1;
    }
    for (int i = 0; i < n; i++) {
      if (events[i].data.ptr == NULL) {
        on_accept(listener, &target);
        continue;
      }
      uintptr_t tagged = (uintptr_t)events[i].data.ptr;
      struct pair *p = (struct pair *)(tagged & ~(uintptr_t)1);
      int side = (int)(tagged & 1);
      if (!p->dead && p->fd[side] >= 0) on_readable(p, side);
    }
  }
}
