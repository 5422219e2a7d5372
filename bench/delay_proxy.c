// A TCP proxy that adds a fixed one-way delay in each direction (bench/lazy.sh's "2 ms").
//
//   delay_proxy LISTEN_ADDR:PORT UPSTREAM_ADDR:PORT DELAY_MS
//
// This kernel has no sch_netem (nor sch_fq), so `tc` cannot add the delay issue 40's benchmark
// asks for; tbf still limits the rate. For every accepted connection the proxy opens one to the
// upstream; each chunk it reads from one side is queued with the time it arrived and written to
// the other side DELAY_MS later (in order): a request/response round trip through the proxy takes
// 2 x DELAY_MS more than a direct one. It emulates propagation delay only: no loss, no
// reordering, no jitter. The queue of a direction holds at most 8 MiB (more than the
// bandwidth-delay product of 1 Gbit/s x 2 ms = 250 kB): past that the proxy stops reading that side
// until it drains, so throughput is the link's. One thread, epoll, IPv4. Ends on SIGTERM/SIGINT.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { CHUNK = 256 * 1024, QUEUE_MAX = 8 * 1024 * 1024, MAX_EVENTS = 64 };

struct chunk {
    struct chunk* next;
    long long due_ns; // when it may be written
    size_t len, off;
    char data[];
};

struct pipe_dir { // one direction: read from `from`, write to `to`
    int from, to;
    struct chunk *head, *tail;
    size_t queued;
    int read_eof;   // `from` said EOF: shut `to` down once the queue is empty
    int write_shut; // done
};

struct conn {
    int fd[2];              // 0: client, 1: upstream
    struct pipe_dir dir[2]; // 0: client -> upstream, 1: upstream -> client
    int closed;
};

static volatile sig_atomic_t stop;
static long long delay_ns;

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int parse_addr(const char* s, struct sockaddr_in* a) {
    char host[64];
    const char* colon = strrchr(s, ':');
    if (!colon || (size_t)(colon - s) >= sizeof host) return -1;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = 0;
    char* end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port <= 0 || port > 65535) return -1;
    memset(a, 0, sizeof *a);
    a->sin_family = AF_INET;
    a->sin_port = htons((unsigned short)port);
    return inet_pton(AF_INET, host, &a->sin_addr) == 1 ? 0 : -1;
}

static void set_nonblock(int fd) {
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

// epoll's data: the connection and which side (pointer with the low bit)
static void watch(int ep, struct conn* c, int side, int op) {
    struct pipe_dir* out = &c->dir[side ^ 1]; // what `side` writes: the other direction
    struct pipe_dir* in = &c->dir[side];
    struct epoll_event ev = {0};
    if (!in->read_eof && in->queued < QUEUE_MAX) ev.events |= EPOLLIN;
    if (out->head && out->head->due_ns <= now_ns()) ev.events |= EPOLLOUT;
    ev.data.u64 = (unsigned long long)(uintptr_t)c | (unsigned)side;
    epoll_ctl(ep, op, c->fd[side], &ev);
}

static void close_conn(int ep, struct conn* c) {
    for (int s = 0; s < 2; s++) {
        epoll_ctl(ep, EPOLL_CTL_DEL, c->fd[s], NULL);
        close(c->fd[s]);
        for (struct chunk* k = c->dir[s].head; k;) {
            struct chunk* n = k->next;
            free(k);
            k = n;
        }
        c->dir[s].head = c->dir[s].tail = NULL;
    }
    c->closed = 1;
}

// write what is due on direction d; returns -1 when the connection broke
static int flush_dir(struct pipe_dir* d, long long now) {
    while (d->head && d->head->due_ns <= now) {
        struct chunk* k = d->head;
        ssize_t n = send(d->to, k->data + k->off, k->len - k->off, MSG_NOSIGNAL);
        if (n < 0) return errno == EAGAIN ? 0 : -1;
        k->off += (size_t)n;
        d->queued -= (size_t)n;
        if (k->off < k->len) return 0;
        d->head = k->next;
        if (!d->head) d->tail = NULL;
        free(k);
    }
    if (!d->head && d->read_eof && !d->write_shut) {
        shutdown(d->to, SHUT_WR);
        d->write_shut = 1;
    }
    return 0;
}

static int read_dir(struct pipe_dir* d) {
    struct chunk* k = malloc(sizeof *k + CHUNK);
    if (!k) return -1;
    ssize_t n = recv(d->from, k->data, CHUNK, 0);
    if (n <= 0) {
        free(k);
        if (n < 0 && errno == EAGAIN) return 0;
        if (n < 0) return -1;
        d->read_eof = 1;
        return 0;
    }
    k->next = NULL;
    k->len = (size_t)n;
    k->off = 0;
    k->due_ns = now_ns() + delay_ns;
    if (d->tail)
        d->tail->next = k;
    else
        d->head = k;
    d->tail = k;
    d->queued += (size_t)n;
    return 0;
}

static void on_stop(int sig) {
    (void)sig;
    stop = 1;
}

int main(int argc, char** argv) {
    struct sockaddr_in listen_at, upstream;
    char* end;
    double ms = argc == 4 ? strtod(argv[3], &end) : -1;
    if (argc != 4 || parse_addr(argv[1], &listen_at) || parse_addr(argv[2], &upstream) || *end ||
        ms < 0 || ms > 10000) {
        fprintf(stderr, "usage: delay_proxy LISTEN_ADDR:PORT UPSTREAM_ADDR:PORT DELAY_MS "
                        "(IPv4 addresses, 0 <= DELAY_MS <= 10000)\n");
        return 2;
    }
    delay_ns = (long long)(ms * 1e6);
    signal(SIGTERM, on_stop);
    signal(SIGINT, on_stop);
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(ls, (struct sockaddr*)&listen_at, sizeof listen_at) || listen(ls, 128)) {
        fprintf(stderr, "delay_proxy: cannot listen on %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    int ep = epoll_create1(0);
    struct epoll_event lev = {.events = EPOLLIN, .data.u64 = 0};
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &lev);
    struct conn** conns = NULL;
    size_t nconns = 0;
    while (!stop) {
        // wake when the earliest queued chunk is due
        long long now = now_ns(), next = -1;
        for (size_t i = 0; i < nconns; i++)
            for (int s = 0; s < 2 && !conns[i]->closed; s++)
                if (conns[i]->dir[s].head) {
                    long long due = conns[i]->dir[s].head->due_ns;
                    if (next < 0 || due < next) next = due;
                }
        long long wait_ns = next < 0 ? 1000000000LL : next <= now ? 0 : next - now;
        struct timespec timeout = {wait_ns / 1000000000LL, wait_ns % 1000000000LL};
        struct epoll_event evs[MAX_EVENTS];
        int n = epoll_pwait2(ep, evs, MAX_EVENTS, &timeout, NULL);
        if (n < 0 && errno != EINTR) return 1;
        for (int i = 0; i < n; i++) {
            if (evs[i].data.u64 == 0) { // a new client
                int cfd;
                while ((cfd = accept4(ls, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    int ufd = socket(AF_INET, SOCK_STREAM, 0);
                    if (connect(ufd, (struct sockaddr*)&upstream, sizeof upstream)) {
                        fprintf(stderr, "delay_proxy: cannot connect to %s: %s\n", argv[2],
                                strerror(errno));
                        close(ufd);
                        close(cfd);
                        continue;
                    }
                    struct conn* c = calloc(1, sizeof *c);
                    c->fd[0] = cfd;
                    c->fd[1] = ufd;
                    set_nonblock(cfd);
                    set_nonblock(ufd);
                    c->dir[0] = (struct pipe_dir){.from = cfd, .to = ufd};
                    c->dir[1] = (struct pipe_dir){.from = ufd, .to = cfd};
                    conns = realloc(conns, (nconns + 1) * sizeof *conns);
                    conns[nconns++] = c;
                    watch(ep, c, 0, EPOLL_CTL_ADD);
                    watch(ep, c, 1, EPOLL_CTL_ADD);
                }
                continue;
            }
            struct conn* c = (struct conn*)(uintptr_t)(evs[i].data.u64 & ~1ULL);
            int side = (int)(evs[i].data.u64 & 1);
            if (c->closed) continue;
            struct pipe_dir* d = &c->dir[side];
            // a few chunks per wake-up (stops at EAGAIN, EOF or a full queue)
            for (int k = 0; k < 8 && (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) &&
                            !d->read_eof && d->queued < QUEUE_MAX;
                 k++) {
                size_t before = d->queued;
                if (read_dir(d) < 0) {
                    close_conn(ep, c);
                    break;
                }
                if (d->queued == before) break;
            }
        }
        // write everything due, then re-arm what each side waits for
        now = now_ns();
        for (size_t i = 0; i < nconns; i++) {
            struct conn* c = conns[i];
            if (c->closed) continue;
            if (flush_dir(&c->dir[0], now) < 0 || flush_dir(&c->dir[1], now) < 0 ||
                (c->dir[0].write_shut && c->dir[1].write_shut)) {
                close_conn(ep, c);
                continue;
            }
            watch(ep, c, 0, EPOLL_CTL_MOD);
            watch(ep, c, 1, EPOLL_CTL_MOD);
        }
        size_t kept = 0; // drop the closed ones (their fds are out of epoll already)
        for (size_t i = 0; i < nconns; i++) {
            if (conns[i]->closed)
                free(conns[i]);
            else
                conns[kept++] = conns[i];
        }
        nconns = kept;
    }
    return 0;
}
