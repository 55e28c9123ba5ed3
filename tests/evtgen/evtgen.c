/*
 * evtgen: the in-container half of `make conformance` (tests/tests/evtgen.rs).
 *
 * The runner expands Falco's declarative event-generator suite into a plan file; this program
 * (static, PID 1 of a runc container watched by `tiercel supervise`) performs every case of it
 * with real syscalls: the described process chain (each process a real execve of this binary
 * under the described name, argv[0], arguments and user), the "before" script, the resources
 * (files, directories, TCP client/server pairs, a process executed from a memfd) and the steps.
 *
 * Plan (one item a line, fields separated by TAB):
 *   NET <addr> <prefixlen>            add an address to lo before any case (clientServer peers)
 *   CASE <id> <parallel:0|1>          start of a case; consecutive parallel cases run at once
 *   P <name> <arg0|-> <user|-> [args…] a process of the chain, outermost first
 *   B sleep <secs> | B rm <path>      the test's "before" script, run by the last process
 *   R file <res> <path>               fd resources, opened like event-generator does
 *   R dir <res> <path>
 *   R cs <res> <4|6> <addr> <port>    TCP server (bound, listening) and a connected client
 *   R memfd <res> <name>              a process executed from an anonymous memfd
 *   S <syscall> <args…>               a step; an argument "@res.field" names a resource's fd
 *   END
 *
 * Report lines, written to the original stdout (kept on fd 100 as steps may dup2 over 0-2):
 *   W <id> <start_ns> <end_ns>        the whole case (process chain included), CLOCK_REALTIME
 *   S <id> <start_ns> <end_ns>        the steps only
 *   RES <id> <what> <rc> <errno>      result of each resource creation and step
 *   ERR <id> <message>                the case could not be performed as described
 *
 * Environment of the chain's processes: EVTGEN_PLAN, EVTGEN_CASE (case id), EVTGEN_LEVEL
 * (index of the next process to start); EVTGEN_ROLE=memfd makes the program exit at once.
 *
 * Build: gcc -static -no-pie -O2 -o evtgen evtgen.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/openat2.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <grp.h>
#include <time.h>
#include <unistd.h>

#define REPORT_FD 100
#define MAXF 32
#define MAXL 64
#define MAXRES 8

struct line {
    char *f[MAXF];
    int n;
};

struct kase {
    int id;
    int parallel;
    struct line *l[MAXL];
    int nl;
};

static struct kase *cases;
static int ncases;
static struct line *nets[16];
static int nnets;
static const char *plan_path = "/evtgen.plan";
static int report_fd = -1;

static void report(const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if (n > (int)sizeof buf - 2)
        n = sizeof buf - 2;
    buf[n++] = '\n';
    (void)!write(report_fd >= 0 ? report_fd : 1, buf, n);
}

static unsigned long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (unsigned long long)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void load_plan(void)
{
    FILE *f = fopen(plan_path, "r");
    if (!f) {
        report("ERR -1 cannot open plan %s: %s", plan_path, strerror(errno));
        exit(2);
    }
    static char buf[1 << 16];
    int cap = 0;
    struct kase *cur = NULL;
    while (fgets(buf, sizeof buf, f)) {
        size_t len = strlen(buf);
        if (len && buf[len - 1] == '\n')
            buf[--len] = 0;
        if (!len)
            continue;
        struct line *l = calloc(1, sizeof *l);
        char *s = strdup(buf), *save = NULL;
        for (char *t = strtok_r(s, "\t", &save); t && l->n < MAXF; t = strtok_r(NULL, "\t", &save))
            l->f[l->n++] = t;
        if (!strcmp(l->f[0], "NET") && nnets < 16) {
            nets[nnets++] = l;
        } else if (!strcmp(l->f[0], "CASE") && l->n >= 3) {
            if (ncases == cap) {
                cap = cap ? cap * 2 : 64;
                cases = realloc(cases, cap * sizeof *cases);
            }
            cur = &cases[ncases++];
            memset(cur, 0, sizeof *cur);
            cur->id = atoi(l->f[1]);
            cur->parallel = atoi(l->f[2]);
        } else if (!strcmp(l->f[0], "END")) {
            cur = NULL;
        } else if (cur && cur->nl < MAXL) {
            cur->l[cur->nl++] = l;
        }
    }
    fclose(f);
}

static struct kase *find_case(int id)
{
    for (int i = 0; i < ncases; i++)
        if (cases[i].id == id)
            return &cases[i];
    return NULL;
}

static int mkdir_p(const char *path, char *first_created, size_t fc_len)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1;; p++) {
        if (*p == '/' || *p == 0) {
            char c = *p;
            *p = 0;
            if (mkdir(tmp, 0755) == 0) {
                if (first_created && !first_created[0])
                    snprintf(first_created, fc_len, "%s", tmp);
            } else if (errno != EEXIST) {
                return -1;
            }
            *p = c;
            if (!c)
                break;
        }
    }
    return 0;
}

static int copy_file(const char *src, const char *dst, mode_t mode)
{
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return -1;
    int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (out < 0) {
        close(in);
        return -1;
    }
    char buf[65536];
    ssize_t n;
    while ((n = read(in, buf, sizeof buf)) > 0)
        if (write(out, buf, n) != n) {
            n = -1;
            break;
        }
    close(in);
    close(out);
    return n < 0 ? -1 : 0;
}

/* uid/gid of a user from the container's /etc/passwd (no NSS in a static binary). */
static int lookup_user(const char *name, uid_t *uid, gid_t *gid)
{
    FILE *f = fopen("/etc/passwd", "r");
    if (!f)
        return -1;
    char buf[1024];
    int found = -1;
    while (fgets(buf, sizeof buf, f)) {
        char *save = NULL;
        char *u = strtok_r(buf, ":", &save);
        strtok_r(NULL, ":", &save);
        char *su = strtok_r(NULL, ":", &save);
        char *sg = strtok_r(NULL, ":", &save);
        if (u && su && sg && !strcmp(u, name)) {
            *uid = atoi(su);
            *gid = atoi(sg);
            found = 0;
            break;
        }
    }
    fclose(f);
    return found;
}

/* Become `user` keeping every capability (event-generator gives its processes all=iep file
 * capabilities): keep caps across setuid, then raise them as ambient so that the execve'd
 * program has them effective. */
static int become(const char *user)
{
    uid_t uid;
    gid_t gid;
    if (lookup_user(user, &uid, &gid) < 0) {
        errno = ENOENT;
        return -1;
    }
    if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
        return -1;
    if (setgroups(1, &gid) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)
        return -1;
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2];
    if (syscall(SYS_capget, &h, d) < 0)
        return -1;
    for (int i = 0; i < 2; i++) {
        d[i].effective = d[i].permitted;
        d[i].inheritable = d[i].permitted;
    }
    if (syscall(SYS_capset, &h, d) < 0)
        return -1;
    for (int cap = 0; cap < 64; cap++) {
        unsigned int word = d[cap / 32].permitted;
        if (word & (1u << (cap % 32)))
            prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0);
    }
    return 0;
}

static char **child_env(int id, int level, const char *role)
{
    static char e_plan[4200], e_case[64], e_level[64], e_role[64];
    static char *env[8];
    int n = 0;
    snprintf(e_plan, sizeof e_plan, "EVTGEN_PLAN=%s", plan_path);
    snprintf(e_case, sizeof e_case, "EVTGEN_CASE=%d", id);
    snprintf(e_level, sizeof e_level, "EVTGEN_LEVEL=%d", level);
    env[n++] = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    env[n++] = e_plan;
    env[n++] = e_case;
    env[n++] = e_level;
    if (role) {
        snprintf(e_role, sizeof e_role, "EVTGEN_ROLE=%s", role);
        env[n++] = e_role;
    }
    env[n] = NULL;
    return env;
}

static int wait_child(pid_t pid)
{
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Start the chain's process number `level` (a P line) and wait for it. */
static int spawn(struct kase *c, struct line *p, int level)
{
    const char *name = p->f[1], *arg0 = p->f[2], *user = p->f[3];
    char dir[256], path[512];
    snprintf(dir, sizeof dir, "/tmp/eg%d-%d", c->id, level);
    if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
        report("ERR %d mkdir %s: %s", c->id, dir, strerror(errno));
        return 1;
    }
    chmod(dir, 0755);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    unlink(path);
    /* Like event-generator: a hard link of the running binary, or a copy when the process
     * runs as another user (its copy is then owned by that user). */
    int user_set = strcmp(user, "-") != 0;
    int rc = user_set ? copy_file("/evtgen", path, 0755) : link("/evtgen", path);
    if (rc < 0) {
        report("ERR %d create exe %s: %s", c->id, path, strerror(errno));
        return 1;
    }
    if (user_set) {
        uid_t uid;
        gid_t gid;
        if (lookup_user(user, &uid, &gid) == 0)
            (void)!chown(path, uid, gid);
    }
    char *argv[MAXF + 2];
    int n = 0;
    argv[n++] = strcmp(arg0, "-") ? (char *)arg0 : (char *)name;
    for (int i = 4; i < p->n; i++)
        argv[n++] = p->f[i];
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid < 0)
        return 1;
    if (pid == 0) {
        if (user_set && become(user) < 0) {
            report("ERR %d become %s: %s", c->id, user, strerror(errno));
            _exit(126);
        }
        execve(path, argv, child_env(c->id, level + 1, NULL));
        report("ERR %d execve %s: %s", c->id, path, strerror(errno));
        _exit(127);
    }
    rc = wait_child(pid);
    unlink(path);
    rmdir(dir);
    return rc;
}

struct res {
    char name[64];
    int fd, fd2;
    char created[4096]; /* a file or the first directory this resource created */
    int created_is_dir;
};

static struct res resv[MAXRES];
static int nres;

static long fdref(struct kase *c, const char *s)
{
    if (s[0] != '@')
        return strtol(s, NULL, 0);
    const char *dot = strchr(s + 1, '.');
    size_t len = dot ? (size_t)(dot - s - 1) : strlen(s + 1);
    for (int i = 0; i < nres; i++)
        if (strlen(resv[i].name) == len && !strncmp(resv[i].name, s + 1, len)) {
            if (dot && !strncmp(dot + 1, "server", 6))
                return resv[i].fd2;
            return resv[i].fd;
        }
    report("ERR %d unknown resource reference %s", c->id, s);
    return -1;
}

static int sockaddr_of(const char *fam, const char *addr, const char *port,
                       struct sockaddr_storage *ss, socklen_t *len)
{
    memset(ss, 0, sizeof *ss);
    if (!strcmp(fam, "4")) {
        struct sockaddr_in *a = (struct sockaddr_in *)ss;
        a->sin_family = AF_INET;
        a->sin_port = htons(atoi(port));
        *len = sizeof *a;
        return inet_pton(AF_INET, addr, &a->sin_addr) == 1 ? 0 : -1;
    }
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(atoi(port));
    *len = sizeof *a;
    return inet_pton(AF_INET6, addr, &a->sin6_addr) == 1 ? 0 : -1;
}

static int make_resource(struct kase *c, struct line *l)
{
    if (nres == MAXRES || l->n < 4)
        return -1;
    struct res *r = &resv[nres++];
    memset(r, 0, sizeof *r);
    r->fd = r->fd2 = -1;
    snprintf(r->name, sizeof r->name, "%s", l->f[2]);
    const char *kind = l->f[1];
    if (!strcmp(kind, "file")) {
        const char *path = l->f[3];
        char d[4096];
        snprintf(d, sizeof d, "%s", path);
        char *slash = strrchr(d, '/');
        if (slash && slash != d) {
            *slash = 0;
            if (mkdir_p(d, r->created, sizeof r->created) < 0)
                return -1;
            r->created_is_dir = r->created[0] != 0;
        }
        struct stat st;
        int flags = O_RDWR;
        if (stat(path, &st) < 0) {
            flags |= O_CREAT;
            if (!r->created[0])
                snprintf(r->created, sizeof r->created, "%s", path);
        }
        r->fd = open(path, flags, 0644);
        return r->fd < 0 ? -1 : 0;
    }
    if (!strcmp(kind, "dir")) {
        const char *path = l->f[3];
        struct stat st;
        if (stat(path, &st) < 0) {
            if (mkdir_p(path, r->created, sizeof r->created) < 0)
                return -1;
            r->created_is_dir = 1;
        }
        r->fd = open(path, O_RDONLY | O_DIRECTORY);
        return r->fd < 0 ? -1 : 0;
    }
    if (!strcmp(kind, "cs") && l->n >= 6) {
        struct sockaddr_storage ss;
        socklen_t len;
        if (sockaddr_of(l->f[3], l->f[4], l->f[5], &ss, &len) < 0) {
            errno = EINVAL;
            return -1;
        }
        int dom = ss.ss_family;
        int srv = socket(dom, SOCK_STREAM, 0);
        if (srv < 0)
            return -1;
        int one = 1;
        setsockopt(srv, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(srv, (struct sockaddr *)&ss, len) < 0 || listen(srv, 16) < 0)
            return -1;
        r->fd2 = srv;
        int cli = socket(dom, SOCK_STREAM, 0);
        if (cli < 0)
            return -1;
        r->fd = cli;
        return connect(cli, (struct sockaddr *)&ss, len);
    }
    if (!strcmp(kind, "memfd")) {
        int mfd = (int)syscall(SYS_memfd_create, l->f[3], 0);
        if (mfd < 0)
            return -1;
        int in = open("/evtgen", O_RDONLY | O_CLOEXEC);
        if (in < 0)
            return -1;
        char buf[65536];
        ssize_t n;
        while ((n = read(in, buf, sizeof buf)) > 0)
            if (write(mfd, buf, n) != n)
                return -1;
        close(in);
        char fdpath[64];
        snprintf(fdpath, sizeof fdpath, "/proc/self/fd/%d", mfd);
        char *argv[] = {l->f[3], NULL};
        pid_t pid = fork();
        if (pid < 0)
            return -1;
        if (pid == 0) {
            execve(fdpath, argv, child_env(c->id, 0, "memfd"));
            _exit(127);
        }
        int rc = wait_child(pid);
        close(mfd);
        if (rc) {
            errno = ENOEXEC;
            return -1;
        }
        return 0;
    }
    errno = EINVAL;
    return -1;
}

static void destroy_resources(void)
{
    for (int i = nres - 1; i >= 0; i--) {
        struct res *r = &resv[i];
        if (r->fd >= 0)
            close(r->fd);
        if (r->fd2 >= 0)
            close(r->fd2);
        if (r->created[0]) {
            if (r->created_is_dir) {
                char cmd[4200];
                /* only what this resource created */
                snprintf(cmd, sizeof cmd, "%s", r->created);
                pid_t pid = fork();
                if (pid == 0) {
                    char *argv[] = {"rm", "-rf", cmd, NULL};
                    execve("/bin/rm", argv, child_env(0, 0, NULL));
                    _exit(127);
                }
                if (pid > 0)
                    wait_child(pid);
            } else {
                unlink(r->created);
            }
        }
    }
    nres = 0;
}

static long num(const char *s) { return strtol(s, NULL, 0); }

static long do_step(struct kase *c, struct line *l)
{
    const char *sc = l->f[1];
    const char *a = l->n > 2 ? l->f[2] : "", *b = l->n > 3 ? l->f[3] : "",
               *d = l->n > 4 ? l->f[4] : "0", *e = l->n > 5 ? l->f[5] : "0";
    if (!strcmp(sc, "open"))
        return syscall(SYS_open, a, num(b), num(d));
    if (!strcmp(sc, "openat"))
        return syscall(SYS_openat, AT_FDCWD, a, num(b), num(d));
    if (!strcmp(sc, "openat2")) {
        struct open_how how = {.flags = num(b), .mode = num(d), .resolve = num(e)};
        return syscall(SYS_openat2, AT_FDCWD, a, &how, sizeof how);
    }
    if (!strcmp(sc, "link"))
        return syscall(SYS_link, a, b);
    if (!strcmp(sc, "linkat"))
        return syscall(SYS_linkat, AT_FDCWD, a, AT_FDCWD, b, num(d));
    if (!strcmp(sc, "symlink"))
        return syscall(SYS_symlink, a, b);
    if (!strcmp(sc, "symlinkat"))
        return syscall(SYS_symlinkat, a, AT_FDCWD, b);
    if (!strcmp(sc, "socket"))
        return syscall(SYS_socket, num(a), num(b), num(d));
    if (!strcmp(sc, "dup"))
        return syscall(SYS_dup, fdref(c, a));
    if (!strcmp(sc, "dup2"))
        return syscall(SYS_dup2, fdref(c, a), fdref(c, b));
    if (!strcmp(sc, "dup3"))
        return syscall(SYS_dup3, fdref(c, a), fdref(c, b), num(d));
    report("ERR %d unsupported syscall %s", c->id, sc);
    errno = ENOSYS;
    return -1;
}

/* The last process of the chain: before script, resources, steps. */
static int run_test(struct kase *c)
{
    int bad = 0;
    for (int i = 0; i < c->nl; i++) {
        struct line *l = c->l[i];
        if (!strcmp(l->f[0], "B") && l->n >= 3) {
            if (!strcmp(l->f[1], "sleep"))
                sleep(atoi(l->f[2]));
            else if (!strcmp(l->f[1], "rm"))
                unlink(l->f[2]);
        }
    }
    for (int i = 0; i < c->nl; i++) {
        struct line *l = c->l[i];
        if (strcmp(l->f[0], "R"))
            continue;
        errno = 0;
        int rc = make_resource(c, l);
        report("RES %d resource:%s %d %d", c->id, l->n > 2 ? l->f[2] : "?", rc, rc < 0 ? errno : 0);
        if (rc < 0) {
            report("ERR %d resource %s: %s", c->id, l->n > 2 ? l->f[2] : "?", strerror(errno));
            bad = 1;
        }
    }
    int nsteps = 0;
    for (int i = 0; i < c->nl; i++)
        nsteps += !strcmp(c->l[i]->f[0], "S");
    if (nsteps && !bad) {
        unsigned long long t0 = now_ns();
        long rcs[MAXL];
        int errs[MAXL], k = 0;
        for (int i = 0; i < c->nl; i++) {
            struct line *l = c->l[i];
            if (strcmp(l->f[0], "S"))
                continue;
            errno = 0;
            rcs[k] = do_step(c, l);
            errs[k] = rcs[k] < 0 ? errno : 0;
            k++;
        }
        unsigned long long t1 = now_ns();
        report("S %d %llu %llu", c->id, t0, t1);
        k = 0;
        for (int i = 0; i < c->nl; i++)
            if (!strcmp(c->l[i]->f[0], "S")) {
                report("RES %d step:%s %ld %d", c->id, c->l[i]->f[1], rcs[k], errs[k]);
                k++;
            }
    }
    destroy_resources();
    return bad;
}

/* Continue case `c` from process `level` of its chain. */
static int run_level(struct kase *c, int level)
{
    int seen = 0;
    for (int i = 0; i < c->nl; i++) {
        if (strcmp(c->l[i]->f[0], "P"))
            continue;
        if (seen++ == level)
            return spawn(c, c->l[i], level);
    }
    return run_test(c);
}

static pid_t start_case(struct kase *c)
{
    pid_t pid = fork();
    if (pid == 0) {
        unsigned long long t0 = now_ns();
        int rc = run_level(c, 0);
        unsigned long long t1 = now_ns();
        report("W %d %llu %llu", c->id, t0, t1);
        _exit(rc);
    }
    return pid;
}

int main(void)
{
    const char *role = getenv("EVTGEN_ROLE");
    if (role && !strcmp(role, "memfd"))
        return 0;
    report_fd = fcntl(1, F_DUPFD_CLOEXEC, REPORT_FD);
    if (getenv("EVTGEN_PLAN"))
        plan_path = getenv("EVTGEN_PLAN");
    load_plan();
    const char *cid = getenv("EVTGEN_CASE");
    if (cid) {
        struct kase *c = find_case(atoi(cid));
        if (!c)
            return 2;
        return run_level(c, getenv("EVTGEN_LEVEL") ? atoi(getenv("EVTGEN_LEVEL")) : 0);
    }
    /* PID 1: network set-up first, outside every case window. */
    for (int i = 0; i < nnets; i++) {
        char cidr[128];
        snprintf(cidr, sizeof cidr, "%s/%s", nets[i]->f[1], nets[i]->n > 2 ? nets[i]->f[2] : "32");
        pid_t pid = fork();
        if (pid == 0) {
            char *argv[] = {"ip", "addr", "add", cidr, "dev", "lo", NULL};
            execve("/bin/ip", argv, child_env(0, 0, NULL));
            _exit(127);
        }
        int rc = pid > 0 ? wait_child(pid) : -1;
        report("NET %s %d", cidr, rc);
    }
    for (int i = 0; i < ncases;) {
        if (cases[i].parallel) {
            pid_t pids[256];
            int n = 0;
            while (i < ncases && cases[i].parallel && n < 256)
                pids[n++] = start_case(&cases[i++]);
            for (int k = 0; k < n; k++)
                if (pids[k] > 0)
                    wait_child(pids[k]);
        } else {
            pid_t pid = start_case(&cases[i++]);
            if (pid > 0)
                wait_child(pid);
        }
    }
    report("DONE %d", ncases);
    return 0;
}
