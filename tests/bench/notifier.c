/*
 * notifier: the benchmark's floor — a minimal seccomp user-notification agent.
 *
 *   notifier [--read-path | --addfd] SOCKET
 *
 * Listens on SOCKET (an OCI listenerPath), accepts the runtime's connection, takes the
 * listener fd from SCM_RIGHTS (the state JSON is read and ignored), sets
 * SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP when the kernel has it, and answers every notification
 * with CONTINUE from one blocking thread per fd (poll → RECV → SEND). With --read-path it
 * also reads the path argument of open/openat/openat2/creat from the target's memory
 * (process_vm_readv, page by page up to PATH_MAX) and checks ID_VALID before answering —
 * the least any path-aware agent must do. With --addfd it performs every notified openat
 * itself, the least any agent that hands the caller the object it decided on must do
 * (issue 11's emulated opens): the path read and ID_VALID as above, then openat2 with
 * the caller's flags and mode from the caller's root (`/proc/<pid>/root`, the handle kept
 * per pid, RESOLVE_IN_ROOT) with the agent's own credentials, and the fd handed over
 * with SECCOMP_IOCTL_NOTIF_ADDFD + SECCOMP_ADDFD_FLAG_SEND (the errno with SEND when the
 * open fails). No rules, no credentials switch, no checks: a lower bound, not an agent.
 *
 * Prints "notifier ready" on stderr once listening; SIGTERM/SIGINT end it and print the
 * number of notifications handled.
 *
 * Build: gcc -O2 -pthread -o notifier notifier.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif
#ifndef SECCOMP_USER_NOTIF_FLAG_CONTINUE
#define SECCOMP_USER_NOTIF_FLAG_CONTINUE (1UL << 0)
#endif

static int read_path;
static int addfd;
static atomic_long handled;
static volatile sig_atomic_t stop;

static void on_signal(int s)
{
    (void)s;
    stop = 1;
}

/* Read a NUL-terminated string from the target, page by page, at most 4096 bytes. */
static int read_string(pid_t pid, uint64_t addr, char *buf, size_t cap)
{
    size_t got = 0;
    while (got < cap) {
        size_t page_left = 4096 - ((addr + got) & 4095);
        size_t want = cap - got < page_left ? cap - got : page_left;
        struct iovec local = {buf + got, want};
        struct iovec remote = {(void *)(uintptr_t)(addr + got), want};
        ssize_t n = process_vm_readv(pid, &local, 1, &remote, 1, 0);
        if (n <= 0) return -1;
        void *nul = memchr(buf + got, 0, (size_t)n);
        if (nul) return 0;
        got += (size_t)n;
    }
    return -1;
}

static void *serve(void *arg)
{
    int fd = (int)(intptr_t)arg;
    struct seccomp_notif req;
    struct seccomp_notif_resp resp;
    char path[4096];
    pid_t root_pid = 0;
    int root_fd = -1;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r = poll(&p, 1, 500);
        if (r < 0 && errno != EINTR) break;
        if (stop) break;
        if (r <= 0) continue;
        if (p.revents & (POLLHUP | POLLERR | POLLNVAL)) {
            if (!(p.revents & POLLIN)) break;
        }
        memset(&req, 0, sizeof req);
        if (ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0) {
            if (errno == EINTR || errno == ENOENT) continue;
            break;
        }
        if (read_path) {
            int nr = req.data.nr;
            uint64_t a = 0;
            if (nr == SYS_open || nr == SYS_creat) a = req.data.args[0];
            else if (nr == SYS_openat || nr == SYS_openat2) a = req.data.args[1];
            if (a) (void)read_string((pid_t)req.pid, a, path, sizeof path);
            if (ioctl(fd, SECCOMP_IOCTL_NOTIF_ID_VALID, &req.id) < 0) continue;
            /* /proc paths (runc's init opens its exec fifo through /proc/self/fd) name
             * the opener's own process: continued, this is no agent. */
            if (addfd && nr == SYS_openat && a && strncmp(path, "/proc/", 6) != 0) {
                if (root_pid != (pid_t)req.pid) {
                    char rp[64];
                    if (root_fd >= 0) close(root_fd);
                    snprintf(rp, sizeof rp, "/proc/%u/root", req.pid);
                    root_fd = open(rp, O_PATH | O_DIRECTORY | O_CLOEXEC);
                    root_pid = (pid_t)req.pid;
                }
                struct open_how how = {
                    .flags = (req.data.args[2] & ~(uint64_t)O_CLOEXEC) | O_CLOEXEC,
                    .mode = req.data.args[3] & 07777,
                    .resolve = RESOLVE_IN_ROOT,
                };
                if (!(how.flags & (O_CREAT | __O_TMPFILE))) how.mode = 0;
                long nfd = syscall(SYS_openat2, root_fd, path, &how, sizeof how);
                if (nfd >= 0) {
                    struct seccomp_notif_addfd af = {
                        .id = req.id,
                        .flags = SECCOMP_ADDFD_FLAG_SEND,
                        .srcfd = (uint32_t)nfd,
                        .newfd_flags = (req.data.args[2] & O_CLOEXEC) ? O_CLOEXEC : 0,
                    };
                    (void)ioctl(fd, SECCOMP_IOCTL_NOTIF_ADDFD, &af);
                    close((int)nfd);
                    atomic_fetch_add(&handled, 1);
                    continue;
                }
                memset(&resp, 0, sizeof resp);
                resp.id = req.id;
                resp.error = -errno;
                (void)ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, &resp);
                atomic_fetch_add(&handled, 1);
                continue;
            }
        }
        memset(&resp, 0, sizeof resp);
        resp.id = req.id;
        resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
        (void)ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, &resp);
        atomic_fetch_add(&handled, 1);
    }
    if (root_fd >= 0) close(root_fd);
    close(fd);
    return NULL;
}

static int receive_fd(int conn)
{
    char data[65536];
    char cbuf[CMSG_SPACE(sizeof(int) * 4)];
    struct iovec iov = {data, sizeof data};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
    ssize_t n = recvmsg(conn, &msg, MSG_CMSG_CLOEXEC);
    if (n < 0) return -1;
    int fd = -1;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            int nfd = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
            int *fds = (int *)CMSG_DATA(c);
            for (int i = 0; i < nfd; i++) {
                if (fd < 0) fd = fds[i];
                else close(fds[i]);
            }
        }
    }
    /* The state JSON is not needed here. Do not wait for EOF: runc 1.1.5 keeps the
     * connection open after sending, so reading to EOF deadlocks against the container. */
    return fd;
}

int main(int argc, char **argv)
{
    int ai = 1;
    if (argc > 1 && !strcmp(argv[1], "--read-path")) {
        read_path = 1;
        ai++;
    } else if (argc > 1 && !strcmp(argv[1], "--addfd")) {
        read_path = addfd = 1;
        ai++;
    }
    if (ai >= argc) {
        fprintf(stderr, "usage: notifier [--read-path | --addfd] SOCKET\n");
        return 2;
    }
    const char *sock = argv[ai];
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(sock) >= sizeof addr.sun_path) return 2;
    strcpy(addr.sun_path, sock);
    unlink(sock);
    if (bind(l, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(l, 64) < 0) {
        perror("notifier: listen");
        return 1;
    }
    fprintf(stderr, "notifier ready on %s (read_path=%d)\n", sock, read_path);
    while (!stop) {
        struct pollfd p = {.fd = l, .events = POLLIN};
        if (poll(&p, 1, 200) <= 0) continue;
        int conn = accept4(l, NULL, NULL, SOCK_CLOEXEC);
        if (conn < 0) continue;
        int fd = receive_fd(conn);
        close(conn);
        if (fd < 0) continue;
        uint64_t flags = SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP;
        if (ioctl(fd, SECCOMP_IOCTL_NOTIF_SET_FLAGS, flags) < 0) {
            fprintf(stderr, "notifier: SYNC_WAKE_UP not available: %s\n", strerror(errno));
        }
        pthread_t t;
        if (pthread_create(&t, NULL, serve, (void *)(intptr_t)fd) == 0) pthread_detach(t);
        else close(fd);
    }
    unlink(sock);
    fprintf(stderr, "notifier: handled %ld notifications\n", atomic_load(&handled));
    return 0;
}
