/*
 * probe: tiercel's in-container test program (static, no libc beyond glibc-static).
 *
 * Modes:
 *   probe attack [RACE_TRIES]   try every known way of creating or changing a file below
 *                               /bin /sbin /usr/bin /usr/sbin; one line per attempt:
 *                                 RESULT <name> ok
 *                                 RESULT <name> errno <NAME> <n>
 *                                 RESULT <name> signal <n>
 *                               then "SUMMARY attempts=A ok=O refused=R".
 *   probe setup ROOT            (host side) create the victim files the attack mode changes
 *   probe check ROOT            (host side) report every change to the victims and every new
 *                               p_* entry below ROOT's binary dirs; exit 1 if anything changed
 *   probe list                  the attempt names, one a line
 *   probe loop-getppid N | loop-openat-read N | loop-openat-write N | loop-execve N |
 *         loop-connect N        syscall loops for the benchmark; prints
 *                               "LOOP <name> n=N total_ns=T mean_ns=M median_ns=X p99_ns=Y"
 *   probe noop                  exit 0 (target of loop-execve)
 *   probe write PATH            open(PATH, O_WRONLY|O_CREAT) and print the result
 *   probe open PATH FLAGS       openat(AT_FDCWD, PATH, FLAGS, 0644) with FLAGS a number
 *                               (strtoul base 0: 0100 is octal) and print "CALL open …"
 *   probe packet-socket         socket(AF_PACKET, SOCK_RAW, ETH_P_ALL)
 *   probe longpath              paths longer than PATH_MAX and unterminated at a page end
 *   probe garbage               syscalls with garbage pointers
 *   probe storm THREADS N       THREADS threads each doing N notified calls
 *   probe threads-deny THREADS PATH  THREADS threads alive at once, each opening PATH for
 *                               writing once (refused by the preset)
 *   probe deny-then-exec PATH   open PATH for writing, then exec /bin/true at once
 *   probe deny-then-exit PATH   open PATH for writing, then _exit at once
 *   probe exchange A B MILLIS   swap A and B with renameat2(RENAME_EXCHANGE) for MILLIS ms
 *   probe sleep SECONDS         sleep (target for kill / exec tests)
 *   probe newsyscalls PATH      raw syscalls newer than libseccomp 2.5.4 names, on PATH:
 *                               setxattrat (463, security.capability), removexattrat,
 *                               file_getattr, file_setattr (no flag change), open_tree_attr;
 *                               one "CALL <name> ok|errno NAME n" line each
 *   probe xattr PATH NAME       (host side) "XATTR NAME size N" or "XATTR NAME errno E n"
 *   probe mutate [TRIES] [ONLY] | mutate-setup ROOT | mutate-check ROOT | control-mutate
 *                               path-changing calls: races and legitimate calls (see there)
 *
 * Build: gcc -static -no-pie -O2 -pthread -o probe probe.c
 * The binary is 64-bit; the i386 attempts issue `int $0x80` with paths in static buffers
 * (below 4 GiB because the binary is not position independent).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/io_uring.h>
#include <linux/openat2.h>
#include <net/ethernet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <sys/ioctl.h>
#include <linux/fs.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452
#endif
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

static const char *ORIGINAL = "original\n";
#define VICTIM_MTIME 1000000000
/* The inode generation the victims get at setup (FS_IOC_SETVERSION, where supported). */
#define VICTIM_GENERATION 0x7417

/* ---------------------------------------------------------------- result reporting */

static int n_attempts, n_ok, n_refused;

static void report_line(const char *name, int status)
{
    /* status: 0 = ok, >0 errno, <0 -signal */
    n_attempts++;
    if (status == 0) {
        n_ok++;
        printf("RESULT %s ok\n", name);
    } else if (status > 0) {
        n_refused++;
        const char *en = strerrorname_np(status);
        printf("RESULT %s errno %s %d\n", name, en ? en : "?", status);
    } else {
        n_refused++;
        printf("RESULT %s signal %d\n", name, -status);
    }
    fflush(stdout);
}

/* An attempt returns 0 on success or an errno value. */
typedef int (*attempt_fn)(void);

static int rc(long r) { return r < 0 ? errno : 0; }

static int bindfd(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0) {
        fprintf(stderr, "probe: cannot open %s: %s\n", dir, strerror(errno));
    }
    return fd;
}

static int mksrc(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        return -1;
    }
    (void)!write(fd, "evil\n", 5);
    close(fd);
    return 0;
}

static int open_close(const char *path, int flags)
{
    int fd = open(path, flags, 0755);
    if (fd < 0) {
        return errno;
    }
    close(fd);
    return 0;
}

/* ---------------------------------------------------------------- attempts */

static int a_open_creat(void) { return open_close("/bin/p_open_creat", O_WRONLY | O_CREAT); }
static int a_open_creat_excl(void) { return open_close("/usr/bin/p_open_excl", O_WRONLY | O_CREAT | O_EXCL); }
static int a_open_rdwr(void) { return open_close("/bin/v_open_rdwr", O_RDWR); }
static int a_open_trunc(void) { return open_close("/sbin/v_open_trunc", O_WRONLY | O_TRUNC); }
static int a_open_append(void) { return open_close("/usr/sbin/v_open_append", O_WRONLY | O_APPEND); }
static int a_open_rdonly_creat(void) { return open_close("/bin/p_rdonly_creat", O_RDONLY | O_CREAT); }
static int a_creat(void)
{
    int fd = creat("/sbin/p_creat", 0755);
    if (fd < 0) return errno;
    close(fd);
    return 0;
}
static int a_openat_dirfd(void)
{
    int d = bindfd("/bin");
    if (d < 0) return errno;
    int fd = openat(d, "p_openat_dirfd", O_WRONLY | O_CREAT, 0755);
    int e = fd < 0 ? errno : 0;
    if (fd >= 0) close(fd);
    close(d);
    return e;
}
static int a_openat_cwd(void)
{
    if (chdir("/usr/bin") < 0) return errno;
    int fd = openat(AT_FDCWD, "p_openat_cwd", O_WRONLY | O_CREAT, 0755);
    if (fd < 0) return errno;
    close(fd);
    return 0;
}
static int a_fchdir_rel(void)
{
    int d = bindfd("/sbin");
    if (d < 0) return errno;
    if (fchdir(d) < 0) return errno;
    return open_close("p_fchdir_rel", O_WRONLY | O_CREAT);
}
static int a_dotdot_abs(void) { return open_close("/tmp/../bin/p_dotdot_abs", O_WRONLY | O_CREAT); }
static int a_dotdot_rel(void)
{
    if (chdir("/tmp") < 0) return errno;
    return open_close("../usr/sbin/p_dotdot_rel", O_WRONLY | O_CREAT);
}
static int a_dotdot_escape(void) { return open_close("/../../../bin/p_dotdot_escape", O_WRONLY | O_CREAT); }
static int a_slashes(void) { return open_close("//bin///./p_slashes", O_WRONLY | O_CREAT); }
static int a_symlink_dir(void)
{
    unlink("/tmp/l_bin");
    if (symlink("/bin", "/tmp/l_bin") < 0) return errno;
    return open_close("/tmp/l_bin/p_symlink_dir", O_WRONLY | O_CREAT);
}
static int a_symlink_rel_dir(void)
{
    unlink("/tmp/l_relbin");
    if (symlink("../usr/bin", "/tmp/l_relbin") < 0) return errno;
    return open_close("/tmp/l_relbin/p_symlink_rel_dir", O_WRONLY | O_CREAT);
}
static int a_symlink_file(void)
{
    unlink("/tmp/l_victim");
    if (symlink("/bin/v_symlink_file", "/tmp/l_victim") < 0) return errno;
    return open_close("/tmp/l_victim", O_WRONLY | O_TRUNC);
}
static int a_symlink_dangling(void)
{
    unlink("/tmp/l_dangling");
    if (symlink("/bin/p_symlink_dangling", "/tmp/l_dangling") < 0) return errno;
    return open_close("/tmp/l_dangling", O_WRONLY | O_CREAT);
}
static int a_magiclink_file(void)
{
    int p = open("/bin/v_magiclink_file", O_PATH);
    if (p < 0) return errno;
    char buf[64];
    snprintf(buf, sizeof buf, "/proc/self/fd/%d", p);
    return open_close(buf, O_WRONLY | O_TRUNC);
}
static int a_magiclink_dir(void)
{
    int p = open("/bin", O_PATH | O_DIRECTORY);
    if (p < 0) return errno;
    char buf[64];
    snprintf(buf, sizeof buf, "/proc/self/fd/%d/p_magiclink_dir", p);
    return open_close(buf, O_WRONLY | O_CREAT);
}
static int a_proc_root(void) { return open_close("/proc/self/root/bin/p_proc_root", O_WRONLY | O_CREAT); }
static int a_proc_cwd(void)
{
    if (chdir("/sbin") < 0) return errno;
    return open_close("/proc/self/cwd/p_proc_cwd", O_WRONLY | O_CREAT);
}
static int a_openat2(void)
{
    struct open_how how = {.flags = O_WRONLY | O_CREAT, .mode = 0755};
    long fd = syscall(SYS_openat2, AT_FDCWD, "/bin/p_openat2", &how, sizeof how);
    if (fd < 0) return errno;
    close((int)fd);
    return 0;
}
static int a_openat2_dirfd(void)
{
    int d = bindfd("/usr/bin");
    if (d < 0) return errno;
    struct open_how how = {.flags = O_RDWR | O_CREAT, .mode = 0755};
    long fd = syscall(SYS_openat2, d, "p_openat2_dirfd", &how, sizeof how);
    if (fd < 0) return errno;
    close((int)fd);
    return 0;
}
static int a_o_tmpfile(void)
{
    int fd = open("/bin", O_TMPFILE | O_WRONLY, 0755);
    if (fd < 0) return errno;
    char buf[64];
    snprintf(buf, sizeof buf, "/proc/self/fd/%d", fd);
    int r = linkat(AT_FDCWD, buf, AT_FDCWD, "/bin/p_o_tmpfile", AT_SYMLINK_FOLLOW);
    return rc(r);
}
static int a_rename(void)
{
    mksrc("/tmp/s_rename");
    return rc(rename("/tmp/s_rename", "/bin/p_rename"));
}
static int a_rename_over(void)
{
    mksrc("/tmp/s_rename_over");
    return rc(rename("/tmp/s_rename_over", "/bin/v_rename_over"));
}
static int a_rename_out(void) { return rc(rename("/bin/v_rename_out", "/tmp/stolen")); }
static int a_renameat(void)
{
    mksrc("/tmp/s_renameat");
    int t = bindfd("/tmp"), b = bindfd("/sbin");
    if (t < 0 || b < 0) return errno;
    return rc(renameat(t, "s_renameat", b, "p_renameat"));
}
static int a_renameat2(void)
{
    mksrc("/tmp/s_renameat2");
    return rc(renameat2(AT_FDCWD, "/tmp/s_renameat2", AT_FDCWD, "/usr/sbin/p_renameat2", 0));
}
static int a_renameat2_exchange(void)
{
    mksrc("/tmp/s_exchange");
    return rc(renameat2(AT_FDCWD, "/tmp/s_exchange", AT_FDCWD, "/bin/v_renameat2_exchange", RENAME_EXCHANGE));
}
static int a_rename_dir(void)
{
    mkdir("/tmp/s_rename_dir", 0755);
    return rc(rename("/tmp/s_rename_dir", "/bin/p_rename_dir"));
}
static int a_link(void)
{
    mksrc("/tmp/s_link");
    return rc(link("/tmp/s_link", "/bin/p_link"));
}
static int a_linkat(void)
{
    mksrc("/tmp/s_linkat");
    int t = bindfd("/tmp"), b = bindfd("/usr/bin");
    if (t < 0 || b < 0) return errno;
    return rc(linkat(t, "s_linkat", b, "p_linkat", 0));
}
/* A hard link out of a binary dir, then a write through it: the same inode changes. */
static int a_link_out(void)
{
    unlink("/tmp/l_out");
    if (link("/bin/v_link_out", "/tmp/l_out") < 0) return errno;
    return open_close("/tmp/l_out", O_WRONLY | O_TRUNC);
}
/* Move a parent of a binary dir away and put a new one in its place. */
static int a_rename_parent(void)
{
    if (rename("/usr", "/tmp/usr_moved") < 0) return errno;
    if (mkdir("/usr", 0755) < 0 || mkdir("/usr/bin", 0755) < 0) return errno;
    return open_close("/usr/bin/p_rename_parent", O_WRONLY | O_CREAT);
}
static int a_linkat_empty(void)
{
    mksrc("/tmp/s_linkat_empty");
    int fd = open("/tmp/s_linkat_empty", O_RDONLY);
    if (fd < 0) return errno;
    return rc(linkat(fd, "", AT_FDCWD, "/bin/p_linkat_empty", AT_EMPTY_PATH));
}
static int a_symlink(void) { return rc(symlink("/tmp/evil", "/bin/p_symlink")); }
static int a_symlinkat(void)
{
    int b = bindfd("/sbin");
    if (b < 0) return errno;
    return rc(symlinkat("/tmp/evil", b, "p_symlinkat"));
}
static int a_mknod_reg(void) { return rc(mknod("/bin/p_mknod_reg", S_IFREG | 0755, 0)); }
static int a_mknod_fifo(void) { return rc(mknod("/usr/bin/p_mknod_fifo", S_IFIFO | 0644, 0)); }
static int a_mknodat(void)
{
    int b = bindfd("/bin");
    if (b < 0) return errno;
    return rc(mknodat(b, "p_mknodat", S_IFREG | 0755, 0));
}
static int a_mknod_chr(void) { return rc(mknod("/bin/p_mknod_chr", S_IFCHR | 0666, makedev(1, 3))); }
static int a_mkdir(void) { return rc(mkdir("/bin/p_mkdir", 0755)); }
static int a_mkdirat(void)
{
    int b = bindfd("/usr/sbin");
    if (b < 0) return errno;
    return rc(mkdirat(b, "p_mkdirat", 0755));
}
static int a_unlink(void) { return rc(unlink("/bin/v_unlink")); }
static int a_unlinkat(void)
{
    int b = bindfd("/bin");
    if (b < 0) return errno;
    return rc(unlinkat(b, "v_unlinkat", 0));
}
static int a_unlinkat_dir(void) { return rc(unlinkat(AT_FDCWD, "/bin/vd_unlinkat_dir", AT_REMOVEDIR)); }
static int a_rmdir(void) { return rc(rmdir("/sbin/vd_rmdir")); }
static int a_truncate(void) { return rc(truncate("/bin/v_truncate", 0)); }
static int a_chmod(void) { return rc(chmod("/bin/v_chmod", 04777)); }
static int a_fchmodat(void)
{
    int b = bindfd("/bin");
    if (b < 0) return errno;
    return rc(fchmodat(b, "v_fchmodat", 0777, 0));
}
static int a_fchmodat2(void) { return rc(syscall(SYS_fchmodat2, AT_FDCWD, "/bin/v_fchmodat2", 0777, 0)); }
static int a_fchmod_fd(void)
{
    int fd = open("/bin/v_fchmod_fd", O_RDONLY);
    if (fd < 0) return errno;
    return rc(fchmod(fd, 04777));
}
static int a_chown(void) { return rc(chown("/bin/v_chown", 0, 1)); }
static int a_lchown(void) { return rc(lchown("/bin/v_lchown", 0, 1)); }
static int a_fchownat(void)
{
    int b = bindfd("/bin");
    if (b < 0) return errno;
    return rc(fchownat(b, "v_fchownat", 0, 1, 0));
}
static int a_fchown_fd(void)
{
    int fd = open("/bin/v_fchown_fd", O_RDONLY);
    if (fd < 0) return errno;
    return rc(fchown(fd, 0, 1));
}
static int a_utimensat(void)
{
    struct timespec ts[2] = {{.tv_sec = 12345}, {.tv_sec = 12345}};
    return rc(utimensat(AT_FDCWD, "/bin/v_utimensat", ts, 0));
}
static int a_utimes(void)
{
    struct timeval tv[2] = {{.tv_sec = 12345}, {.tv_sec = 12345}};
    return rc(syscall(SYS_utimes, "/bin/v_utimes", tv));
}
static int a_utime(void)
{
    long t[2] = {12345, 12345};
    return rc(syscall(SYS_utime, "/bin/v_utime", t));
}
static int a_futimens_fd(void)
{
    int fd = open("/bin/v_futimens_fd", O_RDONLY);
    if (fd < 0) return errno;
    struct timespec ts[2] = {{.tv_sec = 12345}, {.tv_sec = 12345}};
    return rc(futimens(fd, ts));
}
static int a_setxattr(void) { return rc(setxattr("/bin/v_setxattr", "user.tiercel", "1", 1, 0)); }
static int a_lsetxattr(void) { return rc(lsetxattr("/bin/v_lsetxattr", "user.tiercel", "1", 1, 0)); }
static int a_fsetxattr_fd(void)
{
    int fd = open("/bin/v_fsetxattr_fd", O_RDONLY);
    if (fd < 0) return errno;
    return rc(fsetxattr(fd, "user.tiercel", "1", 1, 0));
}
static int a_mount_tmpfs(void) { return rc(mount("none", "/bin", "tmpfs", 0, NULL)); }
static int a_mount_bind(void)
{
    mkdir("/tmp/s_bind", 0755);
    return rc(mount("/tmp/s_bind", "/usr/bin", NULL, MS_BIND, NULL));
}

/* i386 ABI through int $0x80: paths in static buffers below 4 GiB. */
static char p32_open[] = "/bin/p_i386_open";
static char p32_creat[] = "/bin/p_i386_creat";
static char p32_mkdir[] = "/bin/p_i386_mkdir";
static char p32_src[] = "/tmp/s_i386_rename";
static char p32_rename[] = "/bin/p_i386_rename";
static char p32_symlink[] = "/bin/p_i386_symlink";
static char p32_chmod[] = "/bin/v_i386_chmod";
static char p32_unlink[] = "/bin/v_i386_unlink";

static long sys32(long nr, long a, long b, long c)
{
    long ret;
    __asm__ volatile("int $0x80"
                     : "=a"(ret)
                     : "a"(nr), "b"(a), "c"(b), "d"(c)
                     : "memory", "r8", "r9", "r10", "r11");
    return ret;
}
static int r32(long r) { return r < 0 && r > -4096 ? (int)-r : 0; }
static int a_i386_open(void)
{
    long r = sys32(5, (long)p32_open, O_WRONLY | O_CREAT, 0755);
    return r32(r);
}
static int a_i386_creat(void) { return r32(sys32(8, (long)p32_creat, 0755, 0)); }
static int a_i386_mkdir(void) { return r32(sys32(39, (long)p32_mkdir, 0755, 0)); }
static int a_i386_rename(void)
{
    mksrc(p32_src);
    return r32(sys32(38, (long)p32_src, (long)p32_rename, 0));
}
static int a_i386_symlink(void) { return r32(sys32(83, (long)p32_src, (long)p32_symlink, 0)); }
static int a_i386_chmod(void) { return r32(sys32(15, (long)p32_chmod, 04777, 0)); }
static int a_i386_unlink(void) { return r32(sys32(10, (long)p32_unlink, 0, 0)); }

/* io_uring: submit one operation, wait for its completion, return its result. */
static int uring_one(void (*fill)(struct io_uring_sqe *))
{
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    long fd = syscall(SYS_io_uring_setup, 4, &p);
    if (fd < 0) return errno;
    size_t sq_sz = p.sq_off.array + p.sq_entries * sizeof(uint32_t);
    size_t cq_sz = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
    if (p.features & IORING_FEAT_SINGLE_MMAP) {
        if (cq_sz > sq_sz) sq_sz = cq_sz;
        cq_sz = sq_sz;
    }
    char *sq = mmap(NULL, sq_sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, (int)fd, IORING_OFF_SQ_RING);
    if (sq == MAP_FAILED) return errno;
    char *cq = sq;
    if (!(p.features & IORING_FEAT_SINGLE_MMAP)) {
        cq = mmap(NULL, cq_sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, (int)fd, IORING_OFF_CQ_RING);
        if (cq == MAP_FAILED) return errno;
    }
    struct io_uring_sqe *sqes = mmap(NULL, p.sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE,
                                     MAP_SHARED | MAP_POPULATE, (int)fd, IORING_OFF_SQES);
    if (sqes == MAP_FAILED) return errno;
    uint32_t *sq_tail = (uint32_t *)(sq + p.sq_off.tail);
    uint32_t *sq_mask = (uint32_t *)(sq + p.sq_off.ring_mask);
    uint32_t *sq_array = (uint32_t *)(sq + p.sq_off.array);
    uint32_t tail = *sq_tail;
    uint32_t idx = tail & *sq_mask;
    memset(&sqes[idx], 0, sizeof sqes[idx]);
    fill(&sqes[idx]);
    sqes[idx].user_data = 42;
    sq_array[idx] = idx;
    __atomic_store_n(sq_tail, tail + 1, __ATOMIC_RELEASE);
    long r = syscall(SYS_io_uring_enter, (int)fd, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0);
    if (r < 0) return errno;
    uint32_t *cq_head = (uint32_t *)(cq + p.cq_off.head);
    uint32_t *cq_tail = (uint32_t *)(cq + p.cq_off.tail);
    uint32_t *cq_mask = (uint32_t *)(cq + p.cq_off.ring_mask);
    struct io_uring_cqe *cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
    uint32_t head = __atomic_load_n(cq_head, __ATOMIC_ACQUIRE);
    if (head == __atomic_load_n(cq_tail, __ATOMIC_ACQUIRE)) return EAGAIN;
    int res = cqes[head & *cq_mask].res;
    __atomic_store_n(cq_head, head + 1, __ATOMIC_RELEASE);
    close((int)fd);
    return res < 0 ? -res : 0;
}
static void fill_openat(struct io_uring_sqe *s)
{
    s->opcode = IORING_OP_OPENAT;
    s->fd = AT_FDCWD;
    s->addr = (uint64_t)(uintptr_t) "/bin/p_uring_openat";
    s->len = 0755;
    s->open_flags = O_WRONLY | O_CREAT;
}
static void fill_mkdirat(struct io_uring_sqe *s)
{
    s->opcode = IORING_OP_MKDIRAT;
    s->fd = AT_FDCWD;
    s->addr = (uint64_t)(uintptr_t) "/bin/p_uring_mkdirat";
    s->len = 0755;
}
static void fill_renameat(struct io_uring_sqe *s)
{
    mksrc("/tmp/s_uring_rename");
    s->opcode = IORING_OP_RENAMEAT;
    s->fd = AT_FDCWD;
    s->addr = (uint64_t)(uintptr_t) "/tmp/s_uring_rename";
    s->len = AT_FDCWD;
    s->addr2 = (uint64_t)(uintptr_t) "/bin/p_uring_renameat";
}
static void fill_unlinkat(struct io_uring_sqe *s)
{
    s->opcode = IORING_OP_UNLINKAT;
    s->fd = AT_FDCWD;
    s->addr = (uint64_t)(uintptr_t) "/bin/v_uring_unlinkat";
}
static int a_uring_openat(void) { return uring_one(fill_openat); }
static int a_uring_mkdirat(void) { return uring_one(fill_mkdirat); }
static int a_uring_renameat(void) { return uring_one(fill_renameat); }
static int a_uring_unlinkat(void) { return uring_one(fill_unlinkat); }

/* TOCTOU: a second thread flips the path buffer between a harmless and a protected path
 * while the main thread opens it. Success = the protected file exists afterwards. */
static int race_tries = 2000;
static char race_buf[64];
static atomic_int race_stop;
static void *race_flipper(void *arg)
{
    (void)arg;
    const char *a = "/tmp/p_race_ok_____", *b = "/bin/p_race_path___";
    while (!atomic_load_explicit(&race_stop, memory_order_relaxed)) {
        memcpy(race_buf, a, 20);
        __asm__ volatile("" ::: "memory");
        memcpy(race_buf, b, 20);
        __asm__ volatile("" ::: "memory");
    }
    return NULL;
}
static int a_race_path(void)
{
    pthread_t t;
    memcpy(race_buf, "/tmp/p_race_ok_____", 20);
    atomic_store(&race_stop, 0);
    if (pthread_create(&t, NULL, race_flipper, NULL) != 0) return EAGAIN;
    int hit = 0, i;
    for (i = 0; i < race_tries && !hit; i++) {
        int fd = open(race_buf, O_WRONLY | O_CREAT, 0755);
        if (fd >= 0) close(fd);
        struct stat st;
        if (stat("/bin/p_race_path___", &st) == 0) hit = 1;
    }
    atomic_store(&race_stop, 1);
    pthread_join(t, NULL);
    printf("RACE race_path tries=%d bypass=%d\n", i, hit);
    return hit ? 0 : EPERM;
}
/* The same with the filesystem: a symlink flips between /tmp/s_safe and /bin. */
static void *race_linker(void *arg)
{
    (void)arg;
    while (!atomic_load_explicit(&race_stop, memory_order_relaxed)) {
        symlink("/tmp/s_safe", "/tmp/l_swap.new");
        rename("/tmp/l_swap.new", "/tmp/l_swap");
        symlink("/bin", "/tmp/l_swap.new");
        rename("/tmp/l_swap.new", "/tmp/l_swap");
    }
    return NULL;
}
static int a_race_symlink(void)
{
    pthread_t t;
    mkdir("/tmp/s_safe", 0755);
    atomic_store(&race_stop, 0);
    if (pthread_create(&t, NULL, race_linker, NULL) != 0) return EAGAIN;
    int hit = 0, i;
    for (i = 0; i < race_tries && !hit; i++) {
        int fd = open("/tmp/l_swap/p_race_symlink", O_WRONLY | O_CREAT, 0755);
        if (fd >= 0) close(fd);
        struct stat st;
        if (stat("/bin/p_race_symlink", &st) == 0) hit = 1;
    }
    atomic_store(&race_stop, 1);
    pthread_join(t, NULL);
    printf("RACE race_symlink tries=%d bypass=%d\n", i, hit);
    return hit ? 0 : EPERM;
}

struct attempt {
    const char *name;
    attempt_fn fn;
    const char *victim; /* host-side victim to create: "f:PATH" file, "d:PATH" dir, NULL */
};

static const struct attempt ATTEMPTS[] = {
    {"open_creat", a_open_creat, NULL},
    {"open_creat_excl", a_open_creat_excl, NULL},
    {"open_rdwr", a_open_rdwr, "f:/bin/v_open_rdwr"},
    {"open_trunc", a_open_trunc, "f:/sbin/v_open_trunc"},
    {"open_append", a_open_append, "f:/usr/sbin/v_open_append"},
    {"open_rdonly_creat", a_open_rdonly_creat, NULL},
    {"creat", a_creat, NULL},
    {"openat_dirfd", a_openat_dirfd, NULL},
    {"openat_cwd", a_openat_cwd, NULL},
    {"fchdir_rel", a_fchdir_rel, NULL},
    {"dotdot_abs", a_dotdot_abs, NULL},
    {"dotdot_rel", a_dotdot_rel, NULL},
    {"dotdot_escape", a_dotdot_escape, NULL},
    {"slashes", a_slashes, NULL},
    {"symlink_dir", a_symlink_dir, NULL},
    {"symlink_rel_dir", a_symlink_rel_dir, NULL},
    {"symlink_file", a_symlink_file, "f:/bin/v_symlink_file"},
    {"symlink_dangling", a_symlink_dangling, NULL},
    {"magiclink_file", a_magiclink_file, "f:/bin/v_magiclink_file"},
    {"magiclink_dir", a_magiclink_dir, NULL},
    {"proc_root", a_proc_root, NULL},
    {"proc_cwd", a_proc_cwd, NULL},
    {"openat2", a_openat2, NULL},
    {"openat2_dirfd", a_openat2_dirfd, NULL},
    {"o_tmpfile_linkat", a_o_tmpfile, NULL},
    {"rename", a_rename, NULL},
    {"rename_over", a_rename_over, "f:/bin/v_rename_over"},
    {"rename_out", a_rename_out, "f:/bin/v_rename_out"},
    {"renameat", a_renameat, NULL},
    {"renameat2", a_renameat2, NULL},
    {"renameat2_exchange", a_renameat2_exchange, "f:/bin/v_renameat2_exchange"},
    {"rename_dir", a_rename_dir, NULL},
    {"link", a_link, NULL},
    {"linkat", a_linkat, NULL},
    {"linkat_empty_path", a_linkat_empty, NULL},
    {"link_out_then_write", a_link_out, "f:/bin/v_link_out"},
    {"symlink", a_symlink, NULL},
    {"symlinkat", a_symlinkat, NULL},
    {"mknod_reg", a_mknod_reg, NULL},
    {"mknod_fifo", a_mknod_fifo, NULL},
    {"mknodat", a_mknodat, NULL},
    {"mknod_chr", a_mknod_chr, NULL},
    {"mkdir", a_mkdir, NULL},
    {"mkdirat", a_mkdirat, NULL},
    {"unlink", a_unlink, "f:/bin/v_unlink"},
    {"unlinkat", a_unlinkat, "f:/bin/v_unlinkat"},
    {"unlinkat_dir", a_unlinkat_dir, "d:/bin/vd_unlinkat_dir"},
    {"rmdir", a_rmdir, "d:/sbin/vd_rmdir"},
    {"truncate", a_truncate, "f:/bin/v_truncate"},
    {"chmod", a_chmod, "f:/bin/v_chmod"},
    {"fchmodat", a_fchmodat, "f:/bin/v_fchmodat"},
    {"fchmodat2", a_fchmodat2, "f:/bin/v_fchmodat2"},
    {"fchmod_fd", a_fchmod_fd, "f:/bin/v_fchmod_fd"},
    {"chown", a_chown, "f:/bin/v_chown"},
    {"lchown", a_lchown, "f:/bin/v_lchown"},
    {"fchownat", a_fchownat, "f:/bin/v_fchownat"},
    {"fchown_fd", a_fchown_fd, "f:/bin/v_fchown_fd"},
    {"utimensat", a_utimensat, "f:/bin/v_utimensat"},
    {"utimes", a_utimes, "f:/bin/v_utimes"},
    {"utime", a_utime, "f:/bin/v_utime"},
    {"futimens_fd", a_futimens_fd, "f:/bin/v_futimens_fd"},
    {"setxattr", a_setxattr, "f:/bin/v_setxattr"},
    {"lsetxattr", a_lsetxattr, "f:/bin/v_lsetxattr"},
    {"fsetxattr_fd", a_fsetxattr_fd, "f:/bin/v_fsetxattr_fd"},
    {"mount_tmpfs", a_mount_tmpfs, NULL},
    {"mount_bind", a_mount_bind, NULL},
    {"i386_open", a_i386_open, NULL},
    {"i386_creat", a_i386_creat, NULL},
    {"i386_mkdir", a_i386_mkdir, NULL},
    {"i386_rename", a_i386_rename, NULL},
    {"i386_symlink", a_i386_symlink, NULL},
    {"i386_chmod", a_i386_chmod, "f:/bin/v_i386_chmod"},
    {"i386_unlink", a_i386_unlink, "f:/bin/v_i386_unlink"},
    {"io_uring_openat", a_uring_openat, NULL},
    {"io_uring_mkdirat", a_uring_mkdirat, NULL},
    {"io_uring_renameat", a_uring_renameat, NULL},
    {"io_uring_unlinkat", a_uring_unlinkat, "f:/bin/v_uring_unlinkat"},
    {"race_path", a_race_path, NULL},
    {"race_symlink", a_race_symlink, NULL},
    /* last: it moves /usr away */
    {"rename_parent", a_rename_parent, "f:/usr/bin/v_rename_parent"},
};
#define N_ATTEMPTS (sizeof ATTEMPTS / sizeof ATTEMPTS[0])

/* Run one attempt in a child (a kill by seccomp or a hang must not end the probe). */
static int run_isolated(const struct attempt *a)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) return errno;
    if (pid == 0) {
        alarm(20);
        int e = a->fn();
        fflush(stdout);
        _exit(e > 255 ? 255 : e);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR) return errno;
    }
    if (WIFSIGNALED(st)) return -WTERMSIG(st);
    return WEXITSTATUS(st);
}

static int mode_attack(int argc, char **argv)
{
    if (argc > 2) race_tries = atoi(argv[2]);
    const char *only = argc > 3 ? argv[3] : NULL;
    for (size_t i = 0; i < N_ATTEMPTS; i++) {
        if (only && strcmp(only, ATTEMPTS[i].name) != 0) continue;
        report_line(ATTEMPTS[i].name, run_isolated(&ATTEMPTS[i]));
    }
    printf("SUMMARY attempts=%d ok=%d refused=%d\n", n_attempts, n_ok, n_refused);
    return 0;
}

/* ---------------------------------------------------------------- objects: the object a call reaches
 *
 * probe objects [TRIES] [ONLY]   attacks on the object an open reaches (races on the cwd, the
 *                                parent directory, magic links of /proc/<pid>, a working
 *                                directory deeper than PATH_MAX, symlink chains of more than
 *                                4096 components, chroot); same RESULT lines as `attack`.
 * probe control                  legitimate writes in /tmp: prints "CONTROL <what> <result>".
 */
static int obj_tries = 2000;

/* A second thread moves the (process-wide) cwd between /tmp and /bin. */
static void *cwd_flipper(void *arg)
{
    int *fds = arg;
    while (!atomic_load_explicit(&race_stop, memory_order_relaxed)) {
        (void)!fchdir(fds[0]);
        (void)!fchdir(fds[1]);
    }
    return NULL;
}
static int o_race_cwd(void)
{
    int fds[2] = {open("/tmp", O_RDONLY | O_DIRECTORY), open("/bin", O_RDONLY | O_DIRECTORY)};
    if (fds[0] < 0 || fds[1] < 0) return errno;
    pthread_t t;
    atomic_store(&race_stop, 0);
    if (pthread_create(&t, NULL, cwd_flipper, fds) != 0) return EAGAIN;
    int hit = 0, i;
    struct stat st;
    for (i = 0; i < obj_tries && !hit; i++) {
        int fd = open("p_race_cwd", O_WRONLY | O_CREAT, 0755);
        if (fd >= 0) close(fd);
        if (stat("/bin/p_race_cwd", &st) == 0) hit = 1;
    }
    atomic_store(&race_stop, 1);
    pthread_join(t, NULL);
    printf("RACE race_cwd tries=%d bypass=%d\n", i, hit);
    return hit ? 0 : EPERM;
}
/* A second thread exchanges a real directory and a symlink to /sbin (RENAME_EXCHANGE). */
static void *exchanger(void *arg)
{
    (void)arg;
    while (!atomic_load_explicit(&race_stop, memory_order_relaxed))
        syscall(SYS_renameat2, AT_FDCWD, "/tmp/x_dir", AT_FDCWD, "/tmp/x_link", RENAME_EXCHANGE);
    return NULL;
}
static int o_race_exchange(void)
{
    mkdir("/tmp/x_dir", 0755);
    unlink("/tmp/x_link");
    if (symlink("/sbin", "/tmp/x_link") < 0) return errno;
    pthread_t t;
    atomic_store(&race_stop, 0);
    if (pthread_create(&t, NULL, exchanger, NULL) != 0) return EAGAIN;
    int hit = 0, i;
    struct stat st;
    for (i = 0; i < obj_tries && !hit; i++) {
        int fd = open("/tmp/x_dir/p_race_exchange", O_WRONLY | O_CREAT, 0755);
        if (fd >= 0) close(fd);
        if (stat("/sbin/p_race_exchange", &st) == 0) hit = 1;
    }
    atomic_store(&race_stop, 1);
    pthread_join(t, NULL);
    printf("RACE race_exchange tries=%d bypass=%d\n", i, hit);
    return hit ? 0 : EPERM;
}
/* The parent directory is renamed away and replaced by a symlink to /usr/bin, and back. */
static void *parent_mover(void *arg)
{
    (void)arg;
    while (!atomic_load_explicit(&race_stop, memory_order_relaxed)) {
        rename("/tmp/pa", "/tmp/pa_real");
        symlink("/usr/bin", "/tmp/pa");
        unlink("/tmp/pa");
        rename("/tmp/pa_real", "/tmp/pa");
    }
    return NULL;
}
static int o_race_parent(void)
{
    mkdir("/tmp/pa", 0755);
    pthread_t t;
    atomic_store(&race_stop, 0);
    if (pthread_create(&t, NULL, parent_mover, NULL) != 0) return EAGAIN;
    int hit = 0, i;
    struct stat st;
    for (i = 0; i < obj_tries && !hit; i++) {
        int fd = open("/tmp/pa/p_race_parent", O_WRONLY | O_CREAT, 0755);
        if (fd >= 0) close(fd);
        if (stat("/usr/bin/p_race_parent", &st) == 0) hit = 1;
    }
    atomic_store(&race_stop, 1);
    pthread_join(t, NULL);
    printf("RACE race_parent tries=%d bypass=%d\n", i, hit);
    return hit ? 0 : EPERM;
}
/* Several threads open a buffer that two others flip. */
static void *multi_opener(void *arg)
{
    int *hit = arg;
    struct stat st;
    for (int i = 0; i < obj_tries && !atomic_load(&race_stop); i++) {
        int fd = open(race_buf, O_WRONLY | O_CREAT, 0755);
        if (fd >= 0) close(fd);
        if (stat("/bin/p_race_path___", &st) == 0) {
            *hit = 1;
            atomic_store(&race_stop, 1);
        }
    }
    return NULL;
}
static int o_race_threads(void)
{
    pthread_t f[2], o[3];
    int hits[3] = {0, 0, 0};
    memcpy(race_buf, "/tmp/p_race_ok_____", 20);
    atomic_store(&race_stop, 0);
    for (int k = 0; k < 2; k++)
        if (pthread_create(&f[k], NULL, race_flipper, NULL) != 0) return EAGAIN;
    for (int k = 0; k < 3; k++)
        if (pthread_create(&o[k], NULL, multi_opener, &hits[k]) != 0) return EAGAIN;
    for (int k = 0; k < 3; k++) pthread_join(o[k], NULL);
    atomic_store(&race_stop, 1);
    for (int k = 0; k < 2; k++) pthread_join(f[k], NULL);
    int hit = hits[0] | hits[1] | hits[2];
    printf("RACE race_threads openers=3 flippers=2 tries=%d bypass=%d\n", obj_tries, hit);
    return hit ? 0 : EPERM;
}
static int o_proc_pid_root(void)
{
    char buf[64];
    snprintf(buf, sizeof buf, "/proc/%d/root/bin/p_proc_pid_root", getpid());
    return open_close(buf, O_WRONLY | O_CREAT);
}
static int o_proc_thread_self(void) { return open_close("/proc/thread-self/root/usr/bin/p_thread_self", O_WRONLY | O_CREAT); }
static int o_proc_pid_cwd(void)
{
    if (chdir("/sbin") < 0) return errno;
    char buf[64];
    snprintf(buf, sizeof buf, "/proc/%d/cwd/p_proc_pid_cwd", getpid());
    return open_close(buf, O_WRONLY | O_CREAT);
}
static int o_proc_fd_dotdot(void)
{
    int p = open("/tmp", O_PATH | O_DIRECTORY);
    if (p < 0) return errno;
    char buf[64];
    snprintf(buf, sizeof buf, "/proc/self/fd/%d/../bin/p_fd_dotdot", p);
    return open_close(buf, O_WRONLY | O_CREAT);
}
static int o_proc_task_root(void)
{
    char buf[96];
    snprintf(buf, sizeof buf, "/proc/%d/task/%d/root/sbin/p_task_root", getpid(), (int)syscall(SYS_gettid));
    return open_close(buf, O_WRONLY | O_CREAT);
}
/* 16.1: a working directory deeper than PATH_MAX; a symlink in it leads to /bin. */
static int o_deep_cwd(void)
{
    char name[200];
    memset(name, 'd', sizeof name - 1);
    name[sizeof name - 1] = 0;
    if (chdir("/tmp") < 0) return errno;
    for (int i = 0; i < 30; i++) { /* 30 * 200 > PATH_MAX */
        if (mkdir(name, 0755) < 0 && errno != EEXIST) return errno;
        if (chdir(name) < 0) return errno;
    }
    unlink("l_bin");
    if (symlink("/bin", "l_bin") < 0) return errno;
    return open_close("l_bin/p_deep_cwd", O_WRONLY | O_CREAT);
}
/* 16.1: a path of more than 4096 components once symlinks are expanded. */
static int o_many_components(void)
{
    static char t[4000];
    mkdir("/tmp/mx", 0755);
    unlink("/tmp/m0");
    if (symlink("/bin", "/tmp/m0") < 0) return errno;
    for (int k = 1; k <= 3; k++) {
        size_t n = 0;
        while (n + 5 < 3900) {
            memcpy(t + n, "mx/..", 5);
            n += 5;
            t[n++] = '/';
        }
        snprintf(t + n, sizeof t - n, "m%d", k - 1);
        char link[32];
        snprintf(link, sizeof link, "/tmp/m%d", k);
        unlink(link);
        if (symlink(t, link) < 0) return errno;
    }
    return open_close("/tmp/m3/p_many_components", O_WRONLY | O_CREAT);
}
/* 16.2: chroot into /bin: "/p_chroot" is /bin/p_chroot. */
static int o_chroot(void)
{
    if (chroot("/bin") < 0) return errno;
    return open_close("/p_chroot", O_WRONLY | O_CREAT);
}
/* 16.2: a user + mount namespace with /bin bound at /tmp/mb. */
static int o_userns_bind(void)
{
    mkdir("/tmp/mb", 0755);
    if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0) return errno;
    if (mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) return errno;
    if (mount("/bin", "/tmp/mb", NULL, MS_BIND, NULL) < 0) return errno;
    return open_close("/tmp/mb/p_userns_bind", O_WRONLY | O_CREAT);
}
/* 16.4: inode flags through an ioctl on a read-only fd. */
static int o_ioctl_setflags(void)
{
    int fd = open("/bin/v_ioctl_flags", O_RDONLY);
    if (fd < 0) return errno;
    int fl = 0;
    if (ioctl(fd, FS_IOC_GETFLAGS, &fl) < 0) return errno;
    fl |= FS_NOATIME_FL;
    return rc(ioctl(fd, FS_IOC_SETFLAGS, &fl));
}
static int o_ioctl_fssetxattr(void)
{
    int fd = open("/bin/v_ioctl_fsx", O_RDONLY);
    if (fd < 0) return errno;
    struct fsxattr x;
    if (ioctl(fd, FS_IOC_FSGETXATTR, &x) < 0) return errno;
    x.fsx_xflags |= FS_XFLAG_NOATIME;
    return rc(ioctl(fd, FS_IOC_FSSETXATTR, &x));
}

/* 16.4: the same with the request as musl passes it (an `int`, sign-extended to 64 bits:
 * the kernel looks at the low 32 only). */
static int o_ioctl_setflags_hi(void)
{
    int fd = open("/bin/v_ioctl_hi", O_RDONLY);
    if (fd < 0) return errno;
    int fl = 0;
    if (ioctl(fd, FS_IOC_GETFLAGS, &fl) < 0) return errno;
    fl |= FS_NOATIME_FL;
    return rc(syscall(SYS_ioctl, fd, 0xffffffff00000000ul | (unsigned long)FS_IOC_SETFLAGS, &fl));
}

/* 16.4: the inode generation (NFS file handles) through a read-only fd (ext4 checks
 * ownership, not the open mode). */
static int o_ioctl_setversion(void)
{
    int fd = open("/bin/v_ioctl_ver", O_RDONLY);
    if (fd < 0) return errno;
    long v = 0x1234;
    return rc(ioctl(fd, FS_IOC_SETVERSION, &v));
}

/* 16.4: a request with the high bit of the 32-bit cmd set (FS_IOC_SET_ENCRYPTION_POLICY,
 * _IOR: 0x800C6613), as musl passes it (0xffffffff800C6613), on /bin itself. Without
 * tiercel the filesystem refuses it (no encryption feature, or /bin not empty); with it,
 * the profile must notify it and the rule refuse it. */
static int o_ioctl_policy_hi(void)
{
    int fd = open("/bin", O_RDONLY | O_DIRECTORY);
    if (fd < 0) return errno;
    unsigned char policy[12] = {0};
    return rc(syscall(SYS_ioctl, fd, 0xffffffff00000000ul | 0x800C6613ul, policy));
}

static const struct attempt OBJ_ATTEMPTS[] = {
    {"race_cwd", o_race_cwd, NULL},
    {"race_exchange", o_race_exchange, NULL},
    {"race_parent", o_race_parent, NULL},
    {"race_threads", o_race_threads, NULL},
    {"proc_pid_root", o_proc_pid_root, NULL},
    {"proc_thread_self", o_proc_thread_self, NULL},
    {"proc_pid_cwd", o_proc_pid_cwd, NULL},
    {"proc_fd_dotdot", o_proc_fd_dotdot, NULL},
    {"proc_task_root", o_proc_task_root, NULL},
    {"deep_cwd", o_deep_cwd, NULL},
    {"many_components", o_many_components, NULL},
    {"chroot", o_chroot, NULL},
    {"userns_bind", o_userns_bind, NULL},
    {"ioctl_setflags", o_ioctl_setflags, "f:/bin/v_ioctl_flags"},
    {"ioctl_fssetxattr", o_ioctl_fssetxattr, "f:/bin/v_ioctl_fsx"},
    {"ioctl_setflags_hi", o_ioctl_setflags_hi, "f:/bin/v_ioctl_hi"},
    {"ioctl_setversion", o_ioctl_setversion, "f:/bin/v_ioctl_ver"},
    {"ioctl_policy_hi", o_ioctl_policy_hi, NULL},
};
#define N_OBJ (sizeof OBJ_ATTEMPTS / sizeof OBJ_ATTEMPTS[0])

static int mode_objects(int argc, char **argv)
{
    if (argc > 2) obj_tries = atoi(argv[2]);
    const char *only = argc > 3 ? argv[3] : NULL;
    for (size_t i = 0; i < N_OBJ; i++) {
        if (only && strcmp(only, OBJ_ATTEMPTS[i].name) != 0) continue;
        report_line(OBJ_ATTEMPTS[i].name, run_isolated(&OBJ_ATTEMPTS[i]));
    }
    printf("SUMMARY attempts=%d ok=%d refused=%d\n", n_attempts, n_ok, n_refused);
    return 0;
}

/* ---- issue 16, classes 2 and 4: re-rooting, namespaces, the mount API; and the calls
 * that must keep working (fork, threads, clone without namespace flags, ioctls that do
 * not change files). Mode `namespaces` prints RESULT lines (attacks), mode
 * `harden-controls N` CONTROL lines (compared with a run without tiercel), one CLONE3
 * line, and does N ioctls that must never leave the kernel. */
struct clone_args_v0 {
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
};
static int wait_child(long pid)
{
    if (pid < 0) return errno;
    if (pid == 0) _exit(0);
    int st;
    if (waitpid((pid_t)pid, &st, 0) < 0) return errno;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : EIO;
}
static int raw_clone(unsigned long flags)
{
    return wait_child(syscall(SYS_clone, flags | SIGCHLD, 0, 0, 0, 0));
}
static int raw_clone3(uint64_t flags)
{
    struct clone_args_v0 a;
    memset(&a, 0, sizeof a);
    a.flags = flags;
    a.exit_signal = SIGCHLD;
    return wait_child(syscall(SYS_clone3, &a, sizeof a));
}
static int n_chroot(void) { return rc(chroot("/tmp")); }
static int n_unshare(void) { return rc(unshare(CLONE_NEWUSER | CLONE_NEWNS)); }
static int n_unshare_net(void) { return rc(unshare(CLONE_NEWUSER | CLONE_NEWNET)); }
static int n_clone_newns(void) { return raw_clone(CLONE_NEWUSER | CLONE_NEWNS); }
static int n_clone_newpid(void) { return raw_clone(CLONE_NEWUSER | CLONE_NEWPID); }
static int n_clone3(void) { return raw_clone3(CLONE_NEWUSER | CLONE_NEWNS); }
static int n_setns(void)
{
    int fd = open("/proc/self/ns/mnt", O_RDONLY);
    if (fd < 0) return errno;
    int r = rc(setns(fd, CLONE_NEWNS));
    close(fd);
    return r;
}
static int n_pivot_root(void)
{
    if (chdir("/") < 0) return errno;
    return rc(syscall(SYS_pivot_root, ".", "."));
}
static int n_mount(void) { return rc(mount("none", "/tmp", "tmpfs", 0, NULL)); }
static int n_umount(void) { return rc(umount2("/proc", MNT_DETACH)); }
static int n_userns_mount(void)
{
    if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0) return errno;
    return rc(mount("none", "/tmp", "tmpfs", 0, NULL));
}
static int n_fsopen(void) { return rc(syscall(SYS_fsopen, "tmpfs", 0)); }
static int n_open_tree(void) { return rc(syscall(SYS_open_tree, AT_FDCWD, "/bin", 1 /* OPEN_TREE_CLONE */)); }
static int n_fspick(void) { return rc(syscall(SYS_fspick, AT_FDCWD, "/", 0)); }

static const struct attempt NS_ATTEMPTS[] = {
    {"ns_chroot", n_chroot, NULL},
    {"ns_unshare", n_unshare, NULL},
    {"ns_unshare_net", n_unshare_net, NULL},
    {"ns_clone_newns", n_clone_newns, NULL},
    {"ns_clone_newpid", n_clone_newpid, NULL},
    {"ns_clone3", n_clone3, NULL},
    {"ns_setns", n_setns, NULL},
    {"ns_pivot_root", n_pivot_root, NULL},
    {"ns_mount", n_mount, NULL},
    {"ns_umount", n_umount, NULL},
    {"ns_userns_mount", n_userns_mount, NULL},
    {"ns_fsopen", n_fsopen, NULL},
    {"ns_open_tree", n_open_tree, NULL},
    {"ns_fspick", n_fspick, NULL},
};
#define N_NS (sizeof NS_ATTEMPTS / sizeof NS_ATTEMPTS[0])

static int mode_namespaces(void)
{
    for (size_t i = 0; i < N_NS; i++) report_line(NS_ATTEMPTS[i].name, run_isolated(&NS_ATTEMPTS[i]));
    printf("SUMMARY attempts=%d ok=%d refused=%d\n", n_attempts, n_ok, n_refused);
    return 0;
}

static void *hc_thread(void *p) { return p; }
static void hc_line(const char *what, int err)
{
    const char *en = err ? strerrorname_np(err) : "ok";
    printf("CONTROL %s %s\n", what, en ? en : "?");
}
static int mode_harden_controls(long n)
{
    hc_line("fork", wait_child(fork()));
    pthread_t t;
    int e = pthread_create(&t, NULL, hc_thread, NULL);
    if (e == 0) e = pthread_join(t, NULL);
    hc_line("thread", e);
    hc_line("clone_plain", raw_clone(0));
    hc_line("clone_files", raw_clone(CLONE_FILES));
    int p[2];
    if (pipe(p) < 0) return 1;
    (void)!write(p[1], "abc", 3);
    int avail = -1;
    e = ioctl(p[0], FIONREAD, &avail) < 0 ? errno : 0;
    printf("CONTROL fionread %s %d\n", e ? strerrorname_np(e) : "ok", avail);
    struct termios_raw { unsigned char b[64]; } tio;
    hc_line("tcgets_pipe", ioctl(p[0], TCGETS, &tio) < 0 ? errno : 0);
    int fl = 0;
    int fd = open("/bin/busybox", O_RDONLY);
    hc_line("getflags_busybox", fd < 0 ? errno : ioctl(fd, FS_IOC_GETFLAGS, &fl) < 0 ? errno : 0);
    if (fd >= 0) close(fd);
    /* the owner's own file outside /bin: as without tiercel */
    unlink("/tmp/hc_flags");
    fd = open("/tmp/hc_flags", O_RDWR | O_CREAT, 0644);
    fl = 0;
    e = fd < 0 ? errno : ioctl(fd, FS_IOC_GETFLAGS, &fl) < 0 ? errno : 0;
    if (e == 0) {
        fl |= FS_NOATIME_FL;
        e = ioctl(fd, FS_IOC_SETFLAGS, &fl) < 0 ? errno : 0;
    }
    hc_line("setflags_tmp", e);
    fl = 0;
    if (fd >= 0 && ioctl(fd, FS_IOC_GETFLAGS, &fl) == 0)
        printf("CONTROL setflags_tmp_noatime %d\n", (fl & FS_NOATIME_FL) != 0);
    struct fsxattr x;
    hc_line("fsgetxattr_tmp", fd < 0 ? errno : ioctl(fd, FS_IOC_FSGETXATTR, &x) < 0 ? errno : 0);
    int src = open("/tmp/hc_src", O_RDWR | O_CREAT | O_TRUNC, 0644);
    (void)!write(src, "data\n", 5);
    hc_line("ficlone_tmp", fd < 0 || src < 0 ? EBADF : ioctl(fd, FICLONE, src) < 0 ? errno : 0);
    if (src >= 0) close(src);
    if (fd >= 0) close(fd);
    /* glibc falls back to clone on ENOSYS; enforce profiles answer clone3 so */
    e = raw_clone3(0);
    printf("CLONE3 %s\n", e ? strerrorname_np(e) : "ok");
    /* ioctls that do not change files, n times: must stay in the kernel */
    long bad = 0;
    for (long i = 0; i < n; i++) {
        if (ioctl(p[0], FIONREAD, &avail) < 0) bad++;
        if (ioctl(p[0], TCGETS, &tio) == 0) bad++;
    }
    printf("CONTROL ioctl_loop %ld bad=%ld\n", n, bad);
    printf("DONE harden-controls\n");
    return 0;
}

/* Legitimate writes: the caller's owner, mode (umask applied) and content. */
static void control_line(const char *what, const char *path)
{
    struct stat st;
    char buf[64] = {0};
    int fd = open(path, O_RDONLY);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
    if (fd >= 0) close(fd);
    if (n > 0 && buf[n - 1] == '\n') buf[n - 1] = 0;
    if (stat(path, &st) < 0) {
        printf("CONTROL %s missing %s\n", what, strerrorname_np(errno));
        return;
    }
    printf("CONTROL %s uid=%u gid=%u mode=%04o content=%s\n", what, st.st_uid, st.st_gid,
           st.st_mode & 07777, n >= 0 ? buf : "?");
}
static int mode_control(void)
{
    char path[128];
    umask(027);
    snprintf(path, sizeof path, "/tmp/ctl_new_%u", getuid());
    unlink(path);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    printf("CONTROL create_fd %s\n", fd >= 0 ? "ok" : strerrorname_np(errno));
    if (fd >= 0) {
        int cl = fcntl(fd, F_GETFD);
        printf("CONTROL cloexec %d\n", (cl & FD_CLOEXEC) ? 1 : 0);
        (void)!write(fd, "hello\n", 6);
        close(fd);
    }
    control_line("created", path);
    fd = open(path, O_WRONLY | O_APPEND);
    if (fd >= 0) {
        (void)!write(fd, "x", 1);
        close(fd);
    }
    control_line("appended", path);
    fd = open(path, O_WRONLY | O_TRUNC);
    if (fd >= 0) {
        (void)!write(fd, "trunc\n", 6);
        close(fd);
    }
    control_line("truncated", path);
    /* O_EXCL on an existing file; the kernel's EEXIST. */
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    printf("CONTROL excl_again %s\n", fd >= 0 ? "ok" : strerrorname_np(errno));
    if (fd >= 0) close(fd);
    /* A file the caller may not write (root's, 0644): EACCES for a non-root caller. */
    fd = open("/etc/hostname", O_WRONLY | O_APPEND);
    printf("CONTROL write_roots_file %s\n", fd >= 0 ? "ok" : strerrorname_np(errno));
    if (fd >= 0) close(fd);
    /* A directory the caller may not write. */
    fd = open("/etc/ctl_new", O_WRONLY | O_CREAT, 0644);
    printf("CONTROL create_in_etc %s\n", fd >= 0 ? "ok" : strerrorname_np(errno));
    if (fd >= 0) {
        close(fd);
        unlink("/etc/ctl_new");
    }
    /* Relative to the cwd, through a symlinked directory, with O_NOFOLLOW on a link. */
    if (chdir("/tmp") == 0) {
        mkdir("ctl_dir", 0777);
        unlink("ctl_link");
        (void)!symlink("ctl_dir", "ctl_link");
        snprintf(path, sizeof path, "ctl_link/rel_%u", getuid());
        unlink(path);
        fd = open(path, O_WRONLY | O_CREAT, 0644);
        printf("CONTROL relative_via_link %s\n", fd >= 0 ? "ok" : strerrorname_np(errno));
        if (fd >= 0) close(fd);
        fd = open("ctl_link", O_RDONLY | O_NOFOLLOW | O_CREAT, 0644);
        printf("CONTROL nofollow_link %s\n", fd >= 0 ? "ok" : strerrorname_np(errno));
        if (fd >= 0) close(fd);
        fd = open("ctl_dir", O_WRONLY);
        printf("CONTROL write_dir %s\n", fd >= 0 ? "ok" : strerrorname_np(errno));
        if (fd >= 0) close(fd);
        fd = open("/tmp/ctl_missing/x", O_WRONLY | O_CREAT, 0644);
        printf("CONTROL missing_parent %s\n", fd >= 0 ? "ok" : strerrorname_np(errno));
        if (fd >= 0) close(fd);
        fd = open("/tmp", O_TMPFILE | O_WRONLY, 0600);
        printf("CONTROL tmpfile %s\n", fd >= 0 ? "ok" : strerrorname_np(errno));
        if (fd >= 0) close(fd);
    }
    printf("DONE control\n");
    return 0;
}

/* ---------------------------------------------------------------- host side: victims */

static const char *BIN_DIRS[] = {"bin", "sbin", "usr/bin", "usr/sbin"};

static int mode_setup(const char *root)
{
    char path[PATH_MAX];
    for (size_t i = 0; i < N_ATTEMPTS + N_OBJ; i++) {
        const struct attempt *at = i < N_ATTEMPTS ? &ATTEMPTS[i] : &OBJ_ATTEMPTS[i - N_ATTEMPTS];
        const char *v = at->victim;
        if (!v) continue;
        snprintf(path, sizeof path, "%s%s", root, v + 2);
        if (v[0] == 'd') {
            if (mkdir(path, 0755) < 0 && errno != EEXIST) {
                perror(path);
                return 1;
            }
        } else {
            int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0755);
            if (fd < 0) {
                perror(path);
                return 1;
            }
            if (write(fd, ORIGINAL, strlen(ORIGINAL)) < 0) return 1;
            fchmod(fd, 0755);
            (void)!fchown(fd, 0, 0);
            close(fd);
        }
        if (v[0] == 'f') { /* a known inode generation, where the filesystem has one */
            int gfd = open(path, O_RDONLY);
            long g = VICTIM_GENERATION;
            if (gfd >= 0) {
                (void)!ioctl(gfd, FS_IOC_SETVERSION, &g);
                close(gfd);
            }
        }
        struct timespec ts[2] = {{.tv_sec = VICTIM_MTIME}, {.tv_sec = VICTIM_MTIME}};
        utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW);
    }
    return 0;
}

static int mode_check(const char *root)
{
    char path[PATH_MAX];
    int changed = 0;
    for (size_t i = 0; i < N_ATTEMPTS + N_OBJ; i++) {
        const struct attempt *at = i < N_ATTEMPTS ? &ATTEMPTS[i] : &OBJ_ATTEMPTS[i - N_ATTEMPTS];
        const char *v = at->victim;
        if (!v) continue;
        snprintf(path, sizeof path, "%s%s", root, v + 2);
        struct stat st;
        const char *why = NULL;
        if (lstat(path, &st) < 0) {
            why = "missing";
        } else if (v[0] == 'd') {
            if (!S_ISDIR(st.st_mode)) why = "type";
        } else {
            char buf[64] = {0};
            int fd = open(path, O_RDONLY | O_NOFOLLOW);
            ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
            if (fd >= 0) close(fd);
            char xl[256];
            ssize_t xn = llistxattr(path, xl, sizeof xl);
            if (!S_ISREG(st.st_mode)) why = "type";
            else if (n != (ssize_t)strlen(ORIGINAL) || memcmp(buf, ORIGINAL, (size_t)n) != 0) why = "content";
            else if ((st.st_mode & 07777) != 0755) why = "mode";
            else if (st.st_uid != 0 || st.st_gid != 0) why = "owner";
            else if (st.st_mtime != VICTIM_MTIME) why = "mtime";
            else if (xn > 0) why = "xattr";
            else {
                int ffd = open(path, O_RDONLY | O_NOFOLLOW);
                int fl = 0;
                long gen = 0;
                if (ffd >= 0 && ioctl(ffd, FS_IOC_GETFLAGS, &fl) == 0 &&
                    (fl & (FS_NOATIME_FL | FS_IMMUTABLE_FL | FS_APPEND_FL | FS_NODUMP_FL |
                           FS_SYNC_FL)) != 0)
                    why = "flags";
                else if (ffd >= 0 && ioctl(ffd, FS_IOC_GETVERSION, &gen) == 0 &&
                         (int)gen != VICTIM_GENERATION)
                    why = "generation";
                if (ffd >= 0) close(ffd);
            }
        }
        if (why) {
            printf("CHANGED %s %s (attempt %s)\n", v + 2, why, at->name);
            changed++;
        }
    }
    for (size_t d = 0; d < sizeof BIN_DIRS / sizeof BIN_DIRS[0]; d++) {
        snprintf(path, sizeof path, "%s/%s", root, BIN_DIRS[d]);
        DIR *dir = opendir(path);
        if (!dir) continue;
        struct dirent *e;
        while ((e = readdir(dir)) != NULL) {
            if (strncmp(e->d_name, "p_", 2) == 0) {
                printf("CHANGED /%s/%s created\n", BIN_DIRS[d], e->d_name);
                changed++;
            }
        }
        closedir(dir);
    }
    printf("CHECK changed=%d\n", changed);
    return changed ? 1 : 0;
}

/* ---------------------------------------------------------------- benchmark loops */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int listen_fd = -1;
static struct sockaddr_in listen_addr;

static int op_getppid(void) { return getppid() >= 0 ? 0 : -1; }
static int op_openat_read(void)
{
    int fd = openat(AT_FDCWD, "/etc/passwd", O_RDONLY);
    if (fd < 0) return -1;
    close(fd);
    return 0;
}
static int op_openat_write(void)
{
    int fd = openat(AT_FDCWD, "/tmp/bench_write", O_WRONLY | O_CREAT, 0644);
    if (fd < 0) return -1;
    close(fd);
    return 0;
}
static char *self_exe;
static int op_execve(void)
{
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        char *args[] = {self_exe, "noop", NULL};
        char *env[] = {NULL};
        execve(self_exe, args, env);
        _exit(127);
    }
    int st;
    if (waitpid(pid, &st, 0) < 0) return -1;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}
static int op_connect(void)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0) return -1;
    int r = connect(s, (struct sockaddr *)&listen_addr, sizeof listen_addr);
    if (r == 0) {
        int a = accept(listen_fd, NULL, NULL);
        if (a >= 0) close(a);
    }
    close(s);
    return r;
}
static int setup_listener(void)
{
    listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    if (listen_fd < 0) return -1;
    memset(&listen_addr, 0, sizeof listen_addr);
    listen_addr.sin_family = AF_INET;
    listen_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(listen_fd, (struct sockaddr *)&listen_addr, sizeof listen_addr) < 0) return -1;
    socklen_t l = sizeof listen_addr;
    if (getsockname(listen_fd, (struct sockaddr *)&listen_addr, &l) < 0) return -1;
    return listen(listen_fd, 128);
}

static int mode_loop(const char *name, long n)
{
    int (*op)(void) = NULL;
    if (!strcmp(name, "loop-getppid")) op = op_getppid;
    else if (!strcmp(name, "loop-openat-read")) op = op_openat_read;
    else if (!strcmp(name, "loop-openat-write")) op = op_openat_write;
    else if (!strcmp(name, "loop-execve")) op = op_execve;
    else if (!strcmp(name, "loop-connect")) {
        if (setup_listener() < 0) {
            perror("listener");
            return 1;
        }
        op = op_connect;
    }
    if (!op || n <= 0) {
        fprintf(stderr, "probe: bad loop %s %ld\n", name, n);
        return 2;
    }
    uint64_t *t = calloc((size_t)n, sizeof *t);
    if (!t) return 1;
    long warm = n / 20 + 1, errs = 0;
    for (long i = 0; i < warm; i++) op();
    /* PROBE_PACE_US: sleep that long after each timed call (untimed; nanosleep is not
     * notified): a paced load instead of a busy loop (tests/bench/run.sh, scale). */
    const char *pace_env = getenv("PROBE_PACE_US");
    long pace_us = pace_env ? strtol(pace_env, NULL, 10) : 0;
    struct timespec pace = {pace_us / 1000000, (pace_us % 1000000) * 1000};
    uint64_t start = now_ns();
    for (long i = 0; i < n; i++) {
        uint64_t a = now_ns();
        if (op() != 0) errs++;
        t[i] = now_ns() - a;
        if (pace_us > 0) nanosleep(&pace, NULL);
    }
    uint64_t total = now_ns() - start;
    qsort(t, (size_t)n, sizeof *t, cmp_u64);
    printf("LOOP %s n=%ld total_ns=%llu mean_ns=%llu median_ns=%llu p99_ns=%llu errors=%ld\n", name, n,
           (unsigned long long)total, (unsigned long long)(total / (uint64_t)n), (unsigned long long)t[n / 2],
           (unsigned long long)t[(n * 99) / 100], errs);
    return errs ? 1 : 0;
}

/* ---------------------------------------------------------------- robustness modes */

static void show(const char *what, long r)
{
    if (r < 0) {
        const char *en = strerrorname_np(errno);
        printf("CALL %s errno %s %d\n", what, en ? en : "?", errno);
    } else {
        printf("CALL %s ok\n", what);
    }
    fflush(stdout);
}

static int mode_longpath(void)
{
    /* 1. a path longer than PATH_MAX: 3000 components "aa/" (9000 bytes). */
    size_t len = 9000;
    char *p = malloc(len + 1);
    if (!p) return 1;
    p[0] = '/';
    for (size_t i = 1; i < len; i++) p[i] = (i % 3 == 0) ? '/' : 'a';
    p[len] = 0;
    show("open_longer_than_path_max", open(p, O_WRONLY | O_CREAT, 0644));
    show("rename_longer_than_path_max", rename(p, p));
    /* 2. exactly PATH_MAX-1 bytes plus NUL: allowed length, nonexistent. */
    p[PATH_MAX - 1] = 0;
    show("open_path_max_minus_1", open(p, O_RDONLY));
    /* 3. unterminated at a page end followed by an unmapped page. */
    long pg = sysconf(_SC_PAGESIZE);
    char *m = mmap(NULL, (size_t)pg * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return 1;
    munmap(m + pg, (size_t)pg);
    memset(m, 'b', (size_t)pg);
    m[0] = '/';
    show("open_unterminated_page_end", open(m, O_WRONLY | O_CREAT, 0644));
    /* 4. a short path ending exactly at the page end (NUL is the last byte). */
    strcpy(m + pg - 16, "/tmp/page_end_x");
    show("open_path_at_page_end", open(m + pg - 16, O_WRONLY | O_CREAT, 0644));
    printf("DONE longpath\n");
    return 0;
}

static int mode_garbage(void)
{
    char *bad1 = (char *)1, *bad2 = (char *)0xffffffffffff0000ull, *bad3 = (char *)0x7ffffffff000ull;
    show("open_ptr_1", syscall(SYS_open, bad1, O_WRONLY | O_CREAT, 0644));
    show("openat_kernel_ptr", syscall(SYS_openat, AT_FDCWD, bad2, O_RDONLY));
    show("openat_unmapped_ptr", syscall(SYS_openat, AT_FDCWD, bad3, O_WRONLY | O_CREAT));
    show("openat_null", syscall(SYS_openat, AT_FDCWD, NULL, O_RDONLY));
    show("openat_bad_dirfd", syscall(SYS_openat, 0x7fffffff, "x", O_WRONLY | O_CREAT, 0644));
    show("openat2_bad_how", syscall(SYS_openat2, AT_FDCWD, "/tmp/g", bad1, 24));
    show("openat2_huge_size", syscall(SYS_openat2, AT_FDCWD, "/tmp/g", bad3, 1 << 20));
    show("rename_bad", syscall(SYS_rename, bad1, bad2));
    show("renameat2_bad", syscall(SYS_renameat2, -12345, bad3, AT_FDCWD, bad1, 0xffff));
    show("link_bad", syscall(SYS_link, bad2, bad3));
    show("symlink_bad", syscall(SYS_symlink, bad1, bad1));
    show("unlinkat_bad", syscall(SYS_unlinkat, AT_FDCWD, bad3, 0));
    show("mkdir_bad", syscall(SYS_mkdir, bad2, 0755));
    show("chmod_bad", syscall(SYS_chmod, bad1, 0777));
    show("execve_bad_path", syscall(SYS_execve, bad3, NULL, NULL));
    char *argv_bad[] = {bad1, bad2, NULL};
    show("execve_bad_argv", syscall(SYS_execve, "/bin/true", argv_bad, bad3));
    int s = socket(AF_INET, SOCK_STREAM, 0);
    show("connect_bad_addr", syscall(SYS_connect, s, bad1, 16));
    show("connect_huge_len", syscall(SYS_connect, s, bad3, 1 << 30));
    show("connect_bad_fd", syscall(SYS_connect, 9999, bad1, 16));
    show("socket_garbage", syscall(SYS_socket, 0x7fffffff, 0x7fffffff, 0x7fffffff));
    show("setxattr_bad", syscall(SYS_setxattr, bad1, bad2, bad3, 1 << 20, 0));
    show("utimensat_bad", syscall(SYS_utimensat, AT_FDCWD, bad3, bad1, 0));
    printf("DONE garbage\n");
    return 0;
}

static long storm_n;
static void *storm_thread(void *arg)
{
    long id = (long)arg;
    char path[64];
    snprintf(path, sizeof path, "/tmp/storm_%ld", id);
    for (long i = 0; i < storm_n; i++) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) close(fd);
        fd = open("/etc/passwd", O_RDONLY);
        if (fd >= 0) close(fd);
        unlink(path);
    }
    return NULL;
}
/* threads-deny THREADS PATH: THREADS threads, all alive at once, each making one call
 * (open PATH for writing) that the enforcement preset refuses; the process's own argv is
 * whatever the caller gave it (the memory test passes 30,000 arguments). */
static const char *tdeny_path;
static pthread_barrier_t tdeny_barrier;
static long tdeny_refused;
static void *tdeny_thread(void *arg)
{
    (void)arg;
    int fd = open(tdeny_path, O_WRONLY | O_CREAT, 0644);
    if (fd >= 0) close(fd);
    else __sync_fetch_and_add(&tdeny_refused, 1);
    pthread_barrier_wait(&tdeny_barrier);
    return NULL;
}
/* exchange A B MILLIS: swap A and B (renameat2 RENAME_EXCHANGE) in a loop for MILLIS ms. */
static int mode_exchange(const char *a, const char *b, long ms)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    long n = 0;
    for (;;) {
        if (syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE) != 0) {
            perror("renameat2");
            return 1;
        }
        n++;
        clock_gettime(CLOCK_MONOTONIC, &t);
        if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 >= ms) break;
    }
    /* an even number of swaps leaves A and B as they were */
    if (n % 2 && syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE) != 0) return 1;
    printf("DONE exchange swaps=%ld\n", n);
    return 0;
}
static int mode_threads_deny(long threads, const char *path)
{
    if (threads < 1 || threads > 4096) return 2;
    tdeny_path = path;
    pthread_t *t = calloc((size_t)threads, sizeof *t);
    if (!t) return 1;
    pthread_barrier_init(&tdeny_barrier, NULL, (unsigned)threads);
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setstacksize(&a, 64 * 1024);
    long started = 0;
    for (long i = 0; i < threads; i++) {
        if (pthread_create(&t[i], &a, tdeny_thread, NULL) != 0) {
            /* lower the barrier count: a thread that did not start never arrives */
            fprintf(stderr, "pthread_create failed at %ld\n", i);
            return 1;
        }
        started++;
    }
    for (long i = 0; i < started; i++) pthread_join(t[i], NULL);
    printf("DONE threads-deny threads=%ld refused=%ld\n", started, tdeny_refused);
    return 0;
}
static int mode_storm(long threads, long n)
{
    if (threads < 1 || threads > 4096) return 2;
    storm_n = n;
    pthread_t *t = calloc((size_t)threads, sizeof *t);
    if (!t) return 1;
    long started = 0;
    for (long i = 0; i < threads; i++) {
        if (pthread_create(&t[i], NULL, storm_thread, (void *)i) == 0) started++;
        else t[i] = 0;
    }
    for (long i = 0; i < threads; i++)
        if (t[i]) pthread_join(t[i], NULL);
    printf("DONE storm threads=%ld n=%ld\n", started, n);
    return 0;
}

/* Syscalls newer than the libseccomp of runc 1.1.5 can name, by number (glibc has no
 * wrappers for them). */
static int mode_newsyscalls(const char *path)
{
    /* VFS_CAP_REVISION_2 | VFS_CAP_FLAGS_EFFECTIVE, CAP_SETUID permitted */
    static uint32_t cap[5] = {0x02000001, 1u << 7, 0, 0, 0};
    struct { uint64_t value; uint32_t size; uint32_t flags; } xa = {
        (uint64_t)(uintptr_t)cap, sizeof cap, 0};
    show("setxattrat", syscall(463, AT_FDCWD, path, 0, "security.capability", &xa, sizeof xa));
    show("removexattrat", syscall(466, AT_FDCWD, path, 0, "user.tiercel"));
    struct {
        uint64_t fa_xflags;
        uint32_t fa_extsize, fa_nextents, fa_projid, fa_cowextsize;
    } fa;
    memset(&fa, 0, sizeof fa);
    long g = syscall(468, AT_FDCWD, path, &fa, sizeof fa, 0);
    show("file_getattr", g);
    if (g == 0) /* write back what was read: no change */
        show("file_setattr", syscall(469, AT_FDCWD, path, &fa, sizeof fa, 0));
    else
        show("file_setattr", syscall(469, AT_FDCWD, path, &fa, (size_t)0, 0));
    long t = syscall(467, AT_FDCWD, "/tmp", 1 /* OPEN_TREE_CLONE */, NULL, (size_t)0);
    show("open_tree_attr", t);
    if (t >= 0) close((int)t);
    printf("DONE newsyscalls\n");
    return 0;
}

static int mode_xattr(const char *path, const char *name)
{
    char buf[256];
    ssize_t n = lgetxattr(path, name, buf, sizeof buf);
    if (n < 0) {
        const char *en = strerrorname_np(errno);
        printf("XATTR %s errno %s %d\n", name, en ? en : "?", errno);
    } else {
        printf("XATTR %s size %zd\n", name, n);
    }
    return 0;
}

/* hammer THREADS MILLIS PREFIX: THREADS threads open PREFIX_<thread> for writing (a notified
 * call) and close it, every 1 ms, for MILLIS ms; then one line of counts by outcome and the
 * slowest call (the keeper tests: no call may fail with ENOSYS while tiercel is replaced). */
static long hammer_ms;
static const char *hammer_prefix;
static atomic_long h_calls, h_ok, h_eperm, h_enosys, h_other, h_max_us;
static void *hammer_thread(void *arg)
{
    long id = (long)arg;
    char path[256];
    snprintf(path, sizeof path, "%s_%ld", hammer_prefix, id);
    uint64_t end = now_ns() + (uint64_t)hammer_ms * 1000000ULL;
    while (now_ns() < end) {
        uint64_t a = now_ns();
        long fd = syscall(SYS_openat, AT_FDCWD, path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int e = errno;
        long us = (long)((now_ns() - a) / 1000);
        long m = atomic_load(&h_max_us);
        while (us > m && !atomic_compare_exchange_weak(&h_max_us, &m, us)) {}
        atomic_fetch_add(&h_calls, 1);
        if (fd >= 0) {
            atomic_fetch_add(&h_ok, 1);
            close((int)fd);
        } else if (e == EPERM) atomic_fetch_add(&h_eperm, 1);
        else if (e == ENOSYS) atomic_fetch_add(&h_enosys, 1);
        else atomic_fetch_add(&h_other, 1);
        usleep(1000);
    }
    return NULL;
}

static int mode_hammer(long threads, long ms, const char *prefix)
{
    if (threads < 1 || threads > 64 || ms < 1) return 2;
    hammer_ms = ms;
    hammer_prefix = prefix;
    pthread_t t[64];
    for (long i = 0; i < threads; i++)
        if (pthread_create(&t[i], NULL, hammer_thread, (void *)i) != 0) return 1;
    for (long i = 0; i < threads; i++) pthread_join(t[i], NULL);
    printf("HAMMER calls=%ld ok=%ld eperm=%ld enosys=%ld other=%ld max_us=%ld\n", atomic_load(&h_calls),
           atomic_load(&h_ok), atomic_load(&h_eperm), atomic_load(&h_enosys), atomic_load(&h_other),
           atomic_load(&h_max_us));
    return 0;
}


/* ---------------------------------------------------------------- mutate: path-changing calls
 *
 * probe mutate [TRIES] [ONLY]    races on the path-changing calls tiercel performs itself
 *                                (rename, link, unlink, chmod, mkdir, symlink, setxattr with a
 *                                thread flipping the path buffer between /tmp/… and /bin/…; a
 *                                parent symlink swapped; a parent renamed; fd forms with a
 *                                dup2 flipper); RESULT lines as `attack`, RACE lines with the
 *                                number of tries.
 * probe mutate-setup ROOT        (host side) create the victims of `mutate`
 * probe mutate-check ROOT        (host side) report changed victims and new p_m_* entries
 * probe control-mutate           legitimate path-changing calls in /tmp and on root's files:
 *                                "CONTROL <what> <result>" lines (return value or errno, owner,
 *                                mode, size, links, times, xattr, content).
 */
static const char *M_VICTIMS[] = {"/bin/v_m_unlink", "/bin/v_m_chmod", "/bin/v_m_xattr",
                                  "/bin/v_m_swap",   "/bin/v_m_fchmod", "/bin/v_m_fchown",
                                  "/bin/v_m_futimens", "/bin/v_m_fxattr", "/usr/bin/v_m_parent"};
#define N_MV (sizeof M_VICTIMS / sizeof M_VICTIMS[0])

static int m_tries = 2000;
static char m_buf[64];
static const char *m_a, *m_b; /* the two spellings m_buf flips between (same length) */

static void *m_flipper(void *arg)
{
    (void)arg;
    size_t n = strlen(m_a) + 1;
    while (!atomic_load_explicit(&race_stop, memory_order_relaxed)) {
        memcpy(m_buf, m_a, n);
        __asm__ volatile("" ::: "memory");
        memcpy(m_buf, m_b, n);
        __asm__ volatile("" ::: "memory");
    }
    return NULL;
}

/* A victim changed: gone, other mode, owner, mtime or an xattr. */
static int m_victim_changed(const char *path)
{
    struct stat st;
    if (lstat(path, &st) < 0) return 1;
    char xl[256];
    if (llistxattr(path, xl, sizeof xl) > 0) return 1;
    return (st.st_mode & 07777) != 0755 || st.st_uid != 0 || st.st_gid != 0 || st.st_mtime != VICTIM_MTIME;
}
static int m_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* One path-buffer race: `call` with m_buf flipping between a (/tmp) and b (/bin);
 * `prep` resets the /tmp side before each try; `hit` says whether /bin was changed. */
static int m_race(const char *name, const char *a, const char *b, void (*prep)(void), long (*call)(void),
                  int (*hit)(void))
{
    m_a = a;
    m_b = b;
    memcpy(m_buf, a, strlen(a) + 1);
    atomic_store(&race_stop, 0);
    pthread_t t;
    if (pthread_create(&t, NULL, m_flipper, NULL) != 0) return EAGAIN;
    int h = 0, i;
    for (i = 0; i < m_tries && !h; i++) {
        if (prep) prep();
        (void)call();
        h = hit();
    }
    atomic_store(&race_stop, 1);
    pthread_join(t, NULL);
    printf("RACE %s tries=%d bypass=%d\n", name, i, h);
    return h ? 0 : EPERM;
}

static void m_touch(const char *p)
{
    int fd = open(p, O_WRONLY | O_CREAT, 0644);
    if (fd >= 0) close(fd);
}
static void prep_rename(void) { m_touch("/tmp/m_rn_src"); unlink("/tmp/m_rn_dst____"); }
static long call_rename(void) { return rename("/tmp/m_rn_src", m_buf); }
static int hit_rename(void) { return m_exists("/bin/p_m_rename"); }
static int m_race_rename(void)
{
    return m_race("m_race_rename", "/tmp/m_rn_dst____", "/bin/p_m_rename", prep_rename, call_rename, hit_rename);
}
static void prep_link(void) { m_touch("/tmp/m_ln_src"); unlink("/tmp/m_ln_dst__"); }
static long call_link(void) { return link("/tmp/m_ln_src", m_buf); }
static int hit_link(void) { return m_exists("/bin/p_m_link"); }
static int m_race_link(void)
{
    return m_race("m_race_link", "/tmp/m_ln_dst__", "/bin/p_m_link", prep_link, call_link, hit_link);
}
static void prep_unlink(void) { m_touch("/tmp/m_unl_____"); }
static long call_unlink(void) { return unlink(m_buf); }
static int hit_unlink(void) { return !m_exists("/bin/v_m_unlink"); }
static int m_race_unlink(void)
{
    return m_race("m_race_unlink", "/tmp/m_unl_____", "/bin/v_m_unlink", prep_unlink, call_unlink, hit_unlink);
}
static void prep_chmod(void) { m_touch("/tmp/m_chmod___"); }
static long call_chmod(void) { return chmod(m_buf, 04777); }
static int hit_chmod(void) { return m_victim_changed("/bin/v_m_chmod"); }
static int m_race_chmod(void)
{
    return m_race("m_race_chmod", "/tmp/m_chmod___", "/bin/v_m_chmod", prep_chmod, call_chmod, hit_chmod);
}
static void prep_mkdir(void) { rmdir("/tmp/m_mkdir___"); }
static long call_mkdir(void) { return mkdir(m_buf, 0755); }
static int hit_mkdir(void) { return m_exists("/bin/p_m_mkdir"); }
static int m_race_mkdir(void)
{
    return m_race("m_race_mkdir", "/tmp/m_mkdir___", "/bin/p_m_mkdir", prep_mkdir, call_mkdir, hit_mkdir);
}
static void prep_symlink(void) { unlink("/tmp/m_sym_____"); }
static long call_symlink(void) { return symlink("/tmp/evil", m_buf); }
static int hit_symlink(void) { return m_exists("/bin/p_m_symlnk"); }
static int m_race_symlink(void)
{
    return m_race("m_race_symlink", "/tmp/m_sym_____", "/bin/p_m_symlnk", prep_symlink, call_symlink, hit_symlink);
}
static void prep_xattr(void) { m_touch("/tmp/m_xattr___"); }
static long call_xattr(void) { return setxattr(m_buf, "user.tiercel", "1", 1, 0); }
static int hit_xattr(void) { return m_victim_changed("/bin/v_m_xattr"); }
static int m_race_setxattr(void)
{
    return m_race("m_race_setxattr", "/tmp/m_xattr___", "/bin/v_m_xattr", prep_xattr, call_xattr, hit_xattr);
}

/* A symlink /tmp/m_swap flips between /tmp/m_safe and /bin while chmod and unlink go
 * through it. */
static void *m_linker(void *arg)
{
    (void)arg;
    while (!atomic_load_explicit(&race_stop, memory_order_relaxed)) {
        symlink("/tmp/m_safe", "/tmp/m_swap.new");
        rename("/tmp/m_swap.new", "/tmp/m_swap");
        symlink("/bin", "/tmp/m_swap.new");
        rename("/tmp/m_swap.new", "/tmp/m_swap");
    }
    return NULL;
}
static int m_race_parent_symlink(void)
{
    mkdir("/tmp/m_safe", 0755);
    atomic_store(&race_stop, 0);
    pthread_t t;
    if (pthread_create(&t, NULL, m_linker, NULL) != 0) return EAGAIN;
    int h = 0, i;
    for (i = 0; i < m_tries && !h; i++) {
        m_touch("/tmp/m_safe/v_m_swap");
        (void)chmod("/tmp/m_swap/v_m_swap", 04777);
        (void)unlink("/tmp/m_swap/v_m_swap");
        (void)mkdir("/tmp/m_swap/p_m_swapdir", 0755);
        rmdir("/tmp/m_safe/p_m_swapdir");
        h = m_victim_changed("/bin/v_m_swap") || m_exists("/bin/p_m_swapdir");
    }
    atomic_store(&race_stop, 1);
    pthread_join(t, NULL);
    printf("RACE m_race_parent_symlink tries=%d bypass=%d\n", i, h);
    return h ? 0 : EPERM;
}

/* The parent /tmp/m_pa is renamed away and replaced by a symlink to /usr/bin, and back. */
static void *m_parent_mover(void *arg)
{
    (void)arg;
    while (!atomic_load_explicit(&race_stop, memory_order_relaxed)) {
        rename("/tmp/m_pa", "/tmp/m_pa_real");
        symlink("/usr/bin", "/tmp/m_pa");
        unlink("/tmp/m_pa");
        rename("/tmp/m_pa_real", "/tmp/m_pa");
    }
    return NULL;
}
static int m_race_parent_rename(void)
{
    mkdir("/tmp/m_pa", 0755);
    atomic_store(&race_stop, 0);
    pthread_t t;
    if (pthread_create(&t, NULL, m_parent_mover, NULL) != 0) return EAGAIN;
    int h = 0, i;
    for (i = 0; i < m_tries && !h; i++) {
        (void)mkdir("/tmp/m_pa/p_m_parent", 0755);
        (void)chmod("/tmp/m_pa/v_m_parent", 04777);
        rmdir("/tmp/m_pa/p_m_parent");
        rmdir("/tmp/m_pa_real/p_m_parent");
        h = m_exists("/usr/bin/p_m_parent") || m_victim_changed("/usr/bin/v_m_parent");
    }
    atomic_store(&race_stop, 1);
    pthread_join(t, NULL);
    printf("RACE m_race_parent_rename tries=%d bypass=%d\n", i, h);
    return h ? 0 : EPERM;
}

/* fd forms: a thread dup2s a /tmp file and a /bin victim onto fd 100 in turn. */
static int m_fds[2];
static void *m_dupper(void *arg)
{
    (void)arg;
    /* yields: on a busy machine where both threads share a CPU, the caller then runs with
     * either file behind fd 100, not with whichever one a preemption left there */
    while (!atomic_load_explicit(&race_stop, memory_order_relaxed)) {
        dup2(m_fds[0], 100);
        sched_yield();
        dup2(m_fds[1], 100);
        sched_yield();
    }
    return NULL;
}
static int m_fd_race(const char *name, const char *victim, long (*call)(void))
{
    m_touch("/tmp/m_fd_safe");
    m_fds[0] = open("/tmp/m_fd_safe", O_RDWR);
    m_fds[1] = open(victim, O_RDONLY);
    if (m_fds[0] < 0 || m_fds[1] < 0) return errno;
    dup2(m_fds[0], 100);
    atomic_store(&race_stop, 0);
    pthread_t t;
    if (pthread_create(&t, NULL, m_dupper, NULL) != 0) return EAGAIN;
    int h = 0, i;
    int last = 0;
    for (i = 0; i < m_tries && !h; i++) {
        last = call() < 0 ? errno : 0;
        h = m_victim_changed(victim);
    }
    atomic_store(&race_stop, 1);
    pthread_join(t, NULL);
    printf("RACE %s tries=%d bypass=%d last=%s\n", name, i, h, last ? strerrorname_np(last) : "ok");
    return h ? 0 : EPERM;
}
static long call_fchmod(void) { return fchmod(100, 04777); }
static long call_fchown(void) { return fchown(100, 0, 1); }
static long call_futimens(void) { return futimens(100, NULL); }
static long call_fsetxattr(void) { return fsetxattr(100, "user.tiercel", "1", 1, 0); }
static int m_race_fchmod(void) { return m_fd_race("m_race_fchmod", "/bin/v_m_fchmod", call_fchmod); }
static int m_race_fchown(void) { return m_fd_race("m_race_fchown", "/bin/v_m_fchown", call_fchown); }
static int m_race_futimens(void) { return m_fd_race("m_race_futimens", "/bin/v_m_futimens", call_futimens); }
static int m_race_fsetxattr(void) { return m_fd_race("m_race_fsetxattr", "/bin/v_m_fxattr", call_fsetxattr); }

static const struct attempt M_ATTEMPTS[] = {
    {"m_race_rename", m_race_rename, NULL},
    {"m_race_link", m_race_link, NULL},
    {"m_race_unlink", m_race_unlink, NULL},
    {"m_race_chmod", m_race_chmod, NULL},
    {"m_race_mkdir", m_race_mkdir, NULL},
    {"m_race_symlink", m_race_symlink, NULL},
    {"m_race_setxattr", m_race_setxattr, NULL},
    {"m_race_parent_symlink", m_race_parent_symlink, NULL},
    {"m_race_parent_rename", m_race_parent_rename, NULL},
    {"m_race_fchmod", m_race_fchmod, NULL},
    {"m_race_fchown", m_race_fchown, NULL},
    {"m_race_futimens", m_race_futimens, NULL},
    {"m_race_fsetxattr", m_race_fsetxattr, NULL},
};
#define N_M (sizeof M_ATTEMPTS / sizeof M_ATTEMPTS[0])

static int mode_mutate(int argc, char **argv)
{
    if (argc > 2) m_tries = atoi(argv[2]);
    const char *only = argc > 3 ? argv[3] : NULL;
    for (size_t i = 0; i < N_M; i++) {
        if (only && strcmp(only, M_ATTEMPTS[i].name) != 0) continue;
        report_line(M_ATTEMPTS[i].name, run_isolated(&M_ATTEMPTS[i]));
    }
    printf("SUMMARY attempts=%d ok=%d refused=%d\n", n_attempts, n_ok, n_refused);
    return 0;
}

static int mode_mutate_setup(const char *root)
{
    char path[PATH_MAX];
    for (size_t i = 0; i < N_MV; i++) {
        snprintf(path, sizeof path, "%s%s", root, M_VICTIMS[i]);
        unlink(path);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0755);
        if (fd < 0 || write(fd, ORIGINAL, strlen(ORIGINAL)) < 0) {
            perror(path);
            return 1;
        }
        fchmod(fd, 0755);
        (void)!fchown(fd, 0, 0);
        close(fd);
        struct timespec ts[2] = {{.tv_sec = VICTIM_MTIME}, {.tv_sec = VICTIM_MTIME}};
        utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW);
    }
    return 0;
}

static int mode_mutate_check(const char *root)
{
    char path[PATH_MAX];
    int changed = 0;
    for (size_t i = 0; i < N_MV; i++) {
        snprintf(path, sizeof path, "%s%s", root, M_VICTIMS[i]);
        char buf[64] = {0};
        int fd = open(path, O_RDONLY | O_NOFOLLOW);
        ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
        if (fd >= 0) close(fd);
        if (m_victim_changed(path) || n != (ssize_t)strlen(ORIGINAL)) {
            printf("CHANGED %s\n", M_VICTIMS[i]);
            changed++;
        }
    }
    for (size_t d = 0; d < sizeof BIN_DIRS / sizeof BIN_DIRS[0]; d++) {
        snprintf(path, sizeof path, "%s/%s", root, BIN_DIRS[d]);
        DIR *dir = opendir(path);
        if (!dir) continue;
        struct dirent *e;
        while ((e = readdir(dir)) != NULL) {
            if (strncmp(e->d_name, "p_m_", 4) == 0) {
                printf("CHANGED /%s/%s created\n", BIN_DIRS[d], e->d_name);
                changed++;
            }
        }
        closedir(dir);
    }
    printf("CHECK changed=%d\n", changed);
    return changed ? 1 : 0;
}

/* control-mutate: each call's outcome, then what it left. */
static void cm_res(const char *what, long r)
{
    printf("CONTROL %s %s\n", what, r < 0 ? strerrorname_np(errno) : "ok");
}
static void cm_stat(const char *what, const char *path, int with_mtime)
{
    struct stat st;
    if (lstat(path, &st) < 0) {
        printf("CONTROL %s missing %s\n", what, strerrorname_np(errno));
        return;
    }
    char content[32] = {0}, xv[32] = {0};
    if (S_ISREG(st.st_mode)) {
        int fd = open(path, O_RDONLY | O_NONBLOCK);
        if (fd >= 0) {
            (void)!read(fd, content, sizeof content - 1);
            close(fd);
        }
        for (char *c = content; *c; c++)
            if (*c == '\n') *c = '_';
    }
    ssize_t xn = lgetxattr(path, "user.tiercel", xv, sizeof xv - 1);
    printf("CONTROL %s type=%o uid=%u gid=%u mode=%04o size=%lld nlink=%lu content=%s xattr=%s", what,
           st.st_mode & S_IFMT, st.st_uid, st.st_gid, st.st_mode & 07777, (long long)st.st_size,
           (unsigned long)st.st_nlink, content, xn >= 0 ? xv : strerrorname_np(errno));
    /* 1: mtime; 2: atime too (only where the call set it: reads move it) */
    if (with_mtime) printf(" mtime=%lld.%09ld", (long long)st.st_mtime, st.st_mtim.tv_nsec);
    if (with_mtime == 2) printf(" atime=%lld.%09ld", (long long)st.st_atime, st.st_atim.tv_nsec);
    printf("\n");
}
static int mode_control_mutate(void)
{
    char d[64], p[160], q[160];
    umask(027);
    snprintf(d, sizeof d, "/tmp/cm_%u", getuid());
#define P(x) (snprintf(p, sizeof p, "%s/%s", d, x), p)
#define Q(x) (snprintf(q, sizeof q, "%s/%s", d, x), q)
    cm_res("mkdir", mkdir(d, 0777));
    cm_stat("st_dir", d, 0);
    cm_res("mkdir_again", mkdir(d, 0777));
    cm_res("mkdir_trailing_slash", mkdir(P("sub/"), 0700));
    cm_stat("st_sub", P("sub"), 0);
    cm_res("mkdir_missing_parent", mkdir(P("no/x"), 0700));
    cm_res("mkdir_in_etc", mkdir("/etc/cm_dir", 0700));
    rmdir("/etc/cm_dir");
    cm_res("mknod_fifo", mknod(P("fifo"), S_IFIFO | 0666, 0));
    cm_stat("st_fifo", P("fifo"), 0);
    cm_res("mknodat_reg", mknodat(AT_FDCWD, P("reg"), S_IFREG | 0644, 0));
    cm_res("mknod_dir_mode", mknod(P("bad"), S_IFDIR | 0755, 0));
    cm_res("mknod_null", mknod(P("null"), S_IFCHR | 0666, makedev(1, 3)));
    int fd = open(P("f"), O_WRONLY | O_CREAT, 0666);
    if (fd >= 0) {
        (void)!write(fd, "hello\n", 6);
        close(fd);
    }
    cm_res("chmod", chmod(P("f"), 0640));
    cm_stat("st_chmod", P("f"), 0);
    cm_res("chmod_setuid", chmod(P("f"), 04750));
    cm_stat("st_chmod_setuid", P("f"), 0);
    cm_res("chmod_roots", chmod("/etc/passwd", 0644));
    cm_res("chmod_missing", chmod(P("missing"), 0644));
    cm_res("fchmodat", fchmodat(AT_FDCWD, P("f"), 0600, 0));
    cm_res("symlink", symlink("f", P("s")));
    cm_res("symlink_again", symlink("f", P("s")));
    char t[64] = {0};
    cm_res("readlink", readlink(P("s"), t, sizeof t - 1));
    printf("CONTROL symlink_target %s\n", t);
    cm_res("fchmodat2_nofollow_link", syscall(SYS_fchmodat2, AT_FDCWD, P("s"), 0600, AT_SYMLINK_NOFOLLOW));
    cm_res("chmod_via_link", chmod(P("s"), 0644));
    cm_stat("st_via_link", P("f"), 0);
    cm_res("chown_self", chown(P("f"), getuid(), getgid()));
    cm_res("chown_root", chown(P("f"), 0, 0));
    cm_stat("st_chown", P("f"), 0);
    cm_res("lchown_link", lchown(P("s"), getuid(), getgid()));
    cm_res("fchownat_nofollow", fchownat(AT_FDCWD, P("s"), -1, getgid(), AT_SYMLINK_NOFOLLOW));
    cm_res("chown_roots", chown("/etc/passwd", 0, 0));
    cm_res("truncate", truncate(P("f"), 3));
    cm_stat("st_truncate", P("f"), 0);
    cm_res("truncate_grow", truncate(P("f"), 10));
    cm_res("truncate_neg", truncate(P("f"), -1));
    cm_res("truncate_dir", truncate(P("sub"), 0));
    cm_res("truncate_fifo", truncate(P("fifo"), 0));
    struct stat pw;
    stat("/etc/passwd", &pw);
    cm_res("truncate_roots_same_size", truncate("/etc/passwd", pw.st_size));
    struct timespec ts[2] = {{.tv_sec = 1000, .tv_nsec = 5}, {.tv_sec = 2000, .tv_nsec = 7}};
    cm_res("utimensat", utimensat(AT_FDCWD, P("f"), ts, 0));
    cm_stat("st_utimensat", P("f"), 2);
    struct timespec omit[2] = {{.tv_nsec = UTIME_OMIT}, {.tv_sec = 3000, .tv_nsec = 0}};
    cm_res("utimensat_omit", utimensat(AT_FDCWD, P("f"), omit, 0));
    cm_stat("st_utimensat_omit", P("f"), 1);
    cm_res("utimensat_now", utimensat(AT_FDCWD, P("f"), NULL, 0));
    struct timespec badts[2] = {{.tv_nsec = 2000000000}, {.tv_nsec = 0}};
    cm_res("utimensat_bad", utimensat(AT_FDCWD, P("f"), badts, 0));
    cm_res("utimensat_link_nofollow", utimensat(AT_FDCWD, P("s"), ts, AT_SYMLINK_NOFOLLOW));
    cm_stat("st_link_times", P("s"), 2);
    struct timeval tv[2] = {{.tv_sec = 4000, .tv_usec = 1}, {.tv_sec = 5000, .tv_usec = 2}};
    cm_res("utimes", utimes(P("f"), tv));
    cm_stat("st_utimes", P("f"), 2);
    struct timeval badtv[2] = {{.tv_sec = 1, .tv_usec = 1000000}, {.tv_sec = 1}};
    cm_res("utimes_bad", utimes(P("f"), badtv));
    cm_res("utime", syscall(SYS_utime, P("f"), &(struct { long a, m; }){6000, 7000}));
    cm_stat("st_utime", P("f"), 2);
    cm_res("utimensat_roots_now", utimensat(AT_FDCWD, "/etc/passwd", NULL, 0));
    cm_res("utimensat_roots_explicit", utimensat(AT_FDCWD, "/etc/passwd", omit, 0));
    cm_res("setxattr", setxattr(P("f"), "user.tiercel", "v1", 2, 0));
    cm_stat("st_setxattr", P("f"), 0);
    cm_res("setxattr_create_again", setxattr(P("f"), "user.tiercel", "v2", 2, XATTR_CREATE));
    cm_res("setxattr_replace", setxattr(P("f"), "user.tiercel", "v3", 2, XATTR_REPLACE));
    cm_stat("st_setxattr_replace", P("f"), 0);
    cm_res("setxattr_badflags", setxattr(P("f"), "user.tiercel", "v", 1, 8));
    cm_res("setxattr_empty_name", setxattr(P("f"), "", "v", 1, 0));
    cm_res("lsetxattr_link", lsetxattr(P("s"), "user.tiercel", "v", 1, 0));
    cm_res("setxattr_roots", setxattr("/etc/passwd", "user.cm", "v", 1, 0));
    removexattr("/etc/passwd", "user.cm");
    cm_res("setxattr_trusted", setxattr(P("f"), "trusted.cm", "v", 1, 0));
    cm_res("removexattr", removexattr(P("f"), "user.tiercel"));
    cm_res("removexattr_again", removexattr(P("f"), "user.tiercel"));
    cm_res("lremovexattr_link", lremovexattr(P("s"), "user.tiercel"));
    cm_res("link", link(P("f"), Q("h")));
    cm_stat("st_link", P("f"), 0);
    cm_res("link_again", link(P("f"), Q("h")));
    cm_res("link_dir", link(P("sub"), Q("hd")));
    cm_res("linkat_follow", linkat(AT_FDCWD, P("s"), AT_FDCWD, Q("hs"), AT_SYMLINK_FOLLOW));
    cm_stat("st_linkat_follow", P("hs"), 0);
    cm_res("linkat_nofollow", linkat(AT_FDCWD, P("s"), AT_FDCWD, Q("hl"), 0));
    cm_stat("st_linkat_nofollow", P("hl"), 0);
    cm_res("linkat_badflags", linkat(AT_FDCWD, P("f"), AT_FDCWD, Q("hx"), 0x8000));
    cm_res("link_roots", link("/etc/passwd", P("pw")));
    cm_stat("st_link_roots", P("pw"), 0);
    cm_res("rename", rename(P("h"), Q("g")));
    cm_stat("st_rename", P("g"), 0);
    cm_res("rename_missing", rename(P("h"), Q("g2")));
    cm_res("rename_into_missing_dir", rename(P("g"), Q("no/g")));
    mkdir(P("full"), 0700);
    m_touch(P("full/x"));
    mkdir(P("empty"), 0700);
    cm_res("rename_over_nonempty", rename(P("empty"), Q("full")));
    cm_res("rename_dir_over_file", rename(P("empty"), Q("g")));
    cm_res("rename_noreplace", syscall(SYS_renameat2, AT_FDCWD, P("g"), AT_FDCWD, Q("f"), RENAME_NOREPLACE));
    cm_res("rename_exchange", syscall(SYS_renameat2, AT_FDCWD, P("sub"), AT_FDCWD, Q("empty"), RENAME_EXCHANGE));
    cm_res("rename_badflags", syscall(SYS_renameat2, AT_FDCWD, P("g"), AT_FDCWD, Q("g3"), 0x100));
    cm_res("rename_trailing_slash_file", rename(P("g/"), Q("g4")));
    cm_res("rename_dir_trailing", rename(P("empty/"), Q("empty2/")));
    cm_res("rename_roots", rename("/etc/passwd", P("stolen")));
    cm_res("unlink", unlink(P("g")));
    cm_res("unlink_again", unlink(P("g")));
    cm_res("unlink_dir", unlink(P("sub")));
    cm_res("unlinkat_badflags", unlinkat(AT_FDCWD, P("f"), 0x1));
    cm_res("rmdir_nonempty", rmdir(P("full")));
    cm_res("rmdir_dot", rmdir(P("full/.")));
    cm_res("rmdir_file", rmdir(P("f")));
    cm_res("unlinkat_removedir", unlinkat(AT_FDCWD, P("empty2"), AT_REMOVEDIR));
    cm_res("rmdir_etc", rmdir("/etc"));
    cm_res("unlink_roots", unlink("/etc/cm_none"));
    /* relative to the cwd and a dirfd */
    if (chdir(d) == 0) {
        cm_res("rel_mkdir", mkdir("rel", 0755));
        int dfd = open("rel", O_RDONLY | O_DIRECTORY);
        cm_res("at_mknod", mknodat(dfd, "fifo2", S_IFIFO | 0600, 0));
        cm_res("at_symlink", symlinkat("../f", dfd, "up"));
        cm_res("at_fchownat_empty", fchownat(dfd, "", -1, getgid(), AT_EMPTY_PATH));
        cm_res("at_rename", renameat(dfd, "fifo2", dfd, "fifo3"));
        cm_res("at_unlink", unlinkat(dfd, "fifo3", 0));
        cm_res("at_utimensat", utimensat(dfd, "up", ts, AT_SYMLINK_NOFOLLOW));
        cm_stat("st_at_up", "rel/up", 2);
        cm_res("dotdot_chmod", chmod("rel/../f", 0644));
        cm_stat("st_dotdot", "f", 0);
        close(dfd);
    }
    /* fd forms */
    fd = open(P("f"), O_RDWR);
    cm_res("fchmod", fchmod(fd, 0604));
    cm_res("fchown", fchown(fd, -1, getgid()));
    cm_res("ftruncate", ftruncate(fd, 1));
    cm_res("fsetxattr", fsetxattr(fd, "user.tiercel", "fx", 2, 0));
    cm_res("futimens", futimens(fd, ts));
    cm_stat("st_fd_forms", P("f"), 2);
    cm_res("fremovexattr", fremovexattr(fd, "user.tiercel"));
    cm_res("fremovexattr_again", fremovexattr(fd, "user.tiercel"));
    cm_res("ftruncate_neg", ftruncate(fd, -1));
    close(fd);
    fd = open(P("f"), O_RDONLY);
    cm_res("ftruncate_rdonly", ftruncate(fd, 0));
    close(fd);
    fd = open(P("f"), O_PATH);
    cm_res("fchmod_opath", fchmod(fd, 0600));
    cm_res("futimens_opath", futimens(fd, NULL));
    close(fd);
    fd = open("/etc/passwd", O_RDONLY);
    cm_res("fchmod_roots", fchmod(fd, 0644));
    cm_res("fchown_roots", fchown(fd, 0, 0));
    cm_res("futimens_roots_now", futimens(fd, NULL));
    cm_res("fsetxattr_roots", fsetxattr(fd, "user.cm", "v", 1, 0));
    fremovexattr(fd, "user.cm");
    close(fd);
    cm_res("fchmod_badfd", fchmod(777, 0600));
    cm_stat("st_final", P("f"), 0);
#undef P
#undef Q
    printf("DONE control-mutate\n");
    return 0;
}

/* ------------------------------------------------ device nodes and hard-link aliases */
/* What tiercel performs on a caller's behalf must never be more privileged than the
 * caller: a block or character device the container's device cgroup refuses stays
 * refused (mknod is allowed, the open is not), /dev/tty without a controlling terminal
 * is ENXIO, and a regular file with a second name (a hard link in the image to a
 * protected file) is not changed through the other name. One RESULT line each. */
static int mode_devnodes(void)
{
    unlink("/tmp/dn_blk");
    unlink("/tmp/dn_kmsg");
    report_line("dn_mknod_blk", mknod("/tmp/dn_blk", S_IFBLK | 0600, makedev(7, 0)) < 0 ? errno : 0);
    int fd = open("/tmp/dn_blk", O_RDWR);
    report_line("dn_open_blk_rw", fd < 0 ? errno : 0);
    if (fd >= 0) close(fd);
    fd = open("/tmp/dn_blk", O_WRONLY | O_TRUNC);
    report_line("dn_open_blk_wtrunc", fd < 0 ? errno : 0);
    if (fd >= 0) close(fd);
    report_line("dn_mknod_kmsg", mknod("/tmp/dn_kmsg", S_IFCHR | 0600, makedev(1, 11)) < 0 ? errno : 0);
    fd = open("/tmp/dn_kmsg", O_WRONLY);
    report_line("dn_open_kmsg_w", fd < 0 ? errno : 0);
    if (fd >= 0) close(fd);
    fd = open("/dev/null", O_WRONLY);
    report_line("dn_open_null_w", fd < 0 ? errno : 0);
    if (fd >= 0) close(fd);
    fd = open("/dev/tty", O_RDWR);
    report_line("dn_open_tty_rw", fd < 0 ? errno : 0);
    if (fd >= 0) close(fd);
    fd = open("/opt/dn_alias", O_RDWR);
    report_line("dn_open_alias_rw", fd < 0 ? errno : 0);
    if (fd >= 0) {
        (void)!write(fd, "PWNED", 5);
        close(fd);
    }
    report_line("dn_chmod_alias", chmod("/opt/dn_alias", 04777) < 0 ? errno : 0);
    fd = open("/opt/dn_alias", O_RDONLY);
    report_line("dn_open_alias_ro", fd < 0 ? errno : 0);
    if (fd >= 0) close(fd);
    fd = open("/tmp/dn_single", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    report_line("dn_open_single_w", fd < 0 ? errno : 0);
    if (fd >= 0) close(fd);
    return 0;
}

/* On the host: ROOT/bin/dn_victim, and ROOT/opt/dn_alias a hard link of it. */
static int mode_devnodes_setup(const char *root)
{
    char v[PATH_MAX], d[PATH_MAX], a[PATH_MAX];
    snprintf(v, sizeof v, "%s/bin/dn_victim", root);
    snprintf(d, sizeof d, "%s/opt", root);
    snprintf(a, sizeof a, "%s/opt/dn_alias", root);
    unlink(a);
    int fd = open(v, O_WRONLY | O_CREAT | O_TRUNC, 0755);
    if (fd < 0 || write(fd, ORIGINAL, strlen(ORIGINAL)) < 0) return 1;
    fchmod(fd, 0755);
    close(fd);
    if (mkdir(d, 0755) < 0 && errno != EEXIST) return 1;
    return link(v, a) < 0;
}

/* ---- issue 16 class 4: inode-changing ioctls performed by tiercel on the caller's own
 * files (mode `ioctl-perform DIR`: IOC lines compared with a run without tiercel) and
 * refused on /bin (mode `ioctl-perform-bin`: /bin/busybox read-only as the destination).
 * Each line: the request, its result (ok or the errno's name) and what it left (the
 * destination's content checksum and size, or the inode generation). */
static unsigned long ioc_sum(int fd)
{
    unsigned char b[4096];
    unsigned long sum = 0, n = 0;
    ssize_t k;
    if (lseek(fd, 0, SEEK_SET) < 0) return 0;
    while ((k = read(fd, b, sizeof b)) > 0)
        for (ssize_t i = 0; i < k; i++) sum = sum * 31 + b[i], n++;
    return sum ^ (n << 48);
}
static const char *ioc_res(long r) { return r < 0 ? strerrorname_np(errno) : "ok"; }
static int ioc_file(const char *dir, const char *name, char fill, int flags)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    int fd = open(p, flags | O_CREAT | O_TRUNC, 0644);
    char b[8192];
    memset(b, fill, sizeof b);
    for (int i = 0; i < 8192; i += 97) b[i] = (char)i;
    if (fd >= 0 && write(fd, b, sizeof b) != (ssize_t)sizeof b) return -1;
    return fd;
}
struct ioc_space_resv { int16_t l_type, l_whence; int64_t l_start, l_len; int32_t l_sysid; uint32_t l_pid; int32_t l_pad[4]; };
static int mode_ioctl_perform(const char *dir)
{
    mkdir(dir, 0755);
    int src = ioc_file(dir, "src", 'S', O_RDWR);
    int d1 = ioc_file(dir, "d1", 'a', O_RDWR);
    int d2 = ioc_file(dir, "d2", 'b', O_RDWR);
    int d3 = ioc_file(dir, "d3", 'c', O_RDWR);
    if (src < 0 || d1 < 0 || d2 < 0 || d3 < 0) { printf("IOC setup %s\n", strerrorname_np(errno)); return 1; }
    /* a source number the supervisor's own table does not have: only its duplicate works */
    if (dup2(src, 900) < 0) { printf("IOC setup %s\n", strerrorname_np(errno)); return 1; }
    close(src);
    src = 900;
    long r = ioctl(d1, FICLONE, src);
    printf("IOC ficlone %s %lx\n", ioc_res(r), ioc_sum(d1));
    r = ioctl(d1, FICLONE, 999);
    printf("IOC ficlone_badsrc %s %lx\n", ioc_res(r), ioc_sum(d1));
    struct file_clone_range fcr = { .src_fd = src, .src_offset = 0, .src_length = 4096, .dest_offset = 4096 };
    r = ioctl(d2, FICLONERANGE, &fcr);
    printf("IOC ficlonerange %s %lx\n", ioc_res(r), ioc_sum(d2));
    fcr.src_fd = 999;
    r = ioctl(d2, FICLONERANGE, &fcr);
    printf("IOC ficlonerange_badsrc %s %lx\n", ioc_res(r), ioc_sum(d2));
    r = ioctl(d2, FICLONERANGE, (void *)8);
    printf("IOC ficlonerange_efault %s\n", ioc_res(r));
    int v = 0;
    long g;
    int nv = 0x5eed;
    r = ioctl(d3, FS_IOC_SETVERSION, &nv);
    v = 0;
    g = ioctl(d3, FS_IOC_GETVERSION, &v);
    printf("IOC setversion %s %s %x\n", ioc_res(r), g < 0 ? "-" : "get", g < 0 ? 0 : v);
    char p3[256];
    snprintf(p3, sizeof p3, "%s/d3", dir);
    int ro = open(p3, O_RDONLY); /* the version needs ownership only, not a write open */
    nv = 0x7a11;
    r = ioctl(ro, 0x40086604 /* EXT4_IOC_SETVERSION */, &nv);
    v = 0;
    g = ioctl(d3, FS_IOC_GETVERSION, &v);
    printf("IOC ext4_setversion_ro %s %x\n", ioc_res(r), g < 0 ? 0 : v);
    if (ro >= 0) close(ro);
    struct ioc_space_resv sr = { .l_whence = SEEK_SET, .l_start = 0, .l_len = 1 << 20 };
    struct stat st;
    r = ioctl(d3, 0x4030582A /* FS_IOC_RESVSP64 */, &sr);
    fstat(d3, &st);
    printf("IOC resvsp64 %s size=%lld big=%d\n", ioc_res(r), (long long)st.st_size, st.st_blocks >= 2048);
    sr.l_start = 0;
    sr.l_len = 4096;
    r = ioctl(d3, 0x40305839 /* FS_IOC_ZERO_RANGE */, &sr);
    printf("IOC zero_range %s %lx\n", ioc_res(r), ioc_sum(d3));
    r = ioctl(d3, 0x6609 /* EXT4_IOC_MIGRATE */, 0);
    printf("IOC migrate %s %lx\n", ioc_res(r), ioc_sum(d3));
    struct fsxattr fx;
    memset(&fx, 0, sizeof fx);
    r = ioctl(d2, FS_IOC_FSGETXATTR, &fx);
    if (r == 0) {
        fx.fsx_xflags |= FS_XFLAG_NOATIME;
        r = ioctl(d2, FS_IOC_FSSETXATTR, &fx);
    }
    memset(&fx, 0, sizeof fx);
    ioctl(d2, FS_IOC_FSGETXATTR, &fx);
    printf("IOC fssetxattr %s noatime=%d\n", ioc_res(r), (fx.fsx_xflags & FS_XFLAG_NOATIME) != 0);
    printf("DONE ioctl-perform\n");
    return 0;
}
static int mode_ioctl_perform_bin(void)
{
    int src = ioc_file("/tmp", "ioc_src", 'S', O_RDWR);
    int bb = open("/bin/busybox", O_RDONLY);
    if (src < 0 || bb < 0) { printf("IOC setup %s\n", strerrorname_np(errno)); return 1; }
    unsigned long before = ioc_sum(bb);
    long r = ioctl(bb, FICLONE, src);
    printf("IOC bin_ficlone %s\n", ioc_res(r));
    struct file_clone_range fcr = { .src_fd = src, .src_length = 4096 };
    r = ioctl(bb, FICLONERANGE, &fcr);
    printf("IOC bin_ficlonerange %s\n", ioc_res(r));
    int v0 = 0, v = 0, nv = 0x5eed;
    ioctl(bb, FS_IOC_GETVERSION, &v0);
    r = ioctl(bb, FS_IOC_SETVERSION, &nv);
    ioctl(bb, FS_IOC_GETVERSION, &v);
    printf("IOC bin_setversion %s same=%d\n", ioc_res(r), v == v0);
    printf("IOC bin_content same=%d\n", ioc_sum(bb) == before);
    printf("DONE ioctl-perform-bin\n");
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    self_exe = argv[0][0] == '/' ? argv[0] : "/probe";
    if (argc < 2) {
        fprintf(stderr, "usage: probe MODE [ARGS]\n");
        return 2;
    }
    const char *m = argv[1];
    if (!strcmp(m, "attack")) return mode_attack(argc, argv);
    if (!strcmp(m, "objects")) return mode_objects(argc, argv);
    if (!strcmp(m, "control")) return mode_control();
    if (!strcmp(m, "devnodes")) return mode_devnodes();
    if (!strcmp(m, "devnodes-setup") && argc > 2) return mode_devnodes_setup(argv[2]);
    if (!strcmp(m, "namespaces")) return mode_namespaces();
    if (!strcmp(m, "harden-controls") && argc > 2) return mode_harden_controls(atol(argv[2]));
    if (!strcmp(m, "mutate")) return mode_mutate(argc, argv);
    if (!strcmp(m, "mutate-setup") && argc > 2) return mode_mutate_setup(argv[2]);
    if (!strcmp(m, "mutate-check") && argc > 2) return mode_mutate_check(argv[2]);
    if (!strcmp(m, "control-mutate")) return mode_control_mutate();
    if (!strcmp(m, "list")) {
        for (size_t i = 0; i < N_ATTEMPTS; i++) printf("%s\n", ATTEMPTS[i].name);
        return 0;
    }
    if (!strcmp(m, "setup") && argc > 2) return mode_setup(argv[2]);
    if (!strcmp(m, "check") && argc > 2) return mode_check(argv[2]);
    if (!strncmp(m, "loop-", 5) && argc > 2) return mode_loop(m, atol(argv[2]));
    if (!strcmp(m, "noop")) return 0;
    if (!strcmp(m, "now")) { /* CLOCK_MONOTONIC in ns (the benchmark times workloads with it) */
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        printf("%lld\n", (long long)t.tv_sec * 1000000000LL + t.tv_nsec);
        return 0;
    }
    if (!strcmp(m, "write") && argc > 2) {
        int fd = open(argv[2], O_WRONLY | O_CREAT, 0644);
        show("write", fd);
        return fd < 0 ? 1 : 0;
    }
    if (!strcmp(m, "open") && argc > 3) {
        /* the raw syscall: the flags reach the kernel exactly as given */
        long fd = syscall(SYS_openat, AT_FDCWD, argv[2], (int)strtoul(argv[3], NULL, 0), 0644);
        show("open", fd);
        return fd < 0 ? 1 : 0;
    }
    if (!strcmp(m, "packet-socket")) {
        int s = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
        show("packet_socket", s);
        return 0;
    }
    if (!strcmp(m, "newsyscalls") && argc > 2) return mode_newsyscalls(argv[2]);
    if (!strcmp(m, "xattr") && argc > 3) return mode_xattr(argv[2], argv[3]);
    if (!strcmp(m, "longpath")) return mode_longpath();
    if (!strcmp(m, "garbage")) return mode_garbage();
    if (!strcmp(m, "hammer") && argc > 4) return mode_hammer(atol(argv[2]), atol(argv[3]), argv[4]);
    if (!strcmp(m, "storm") && argc > 3) return mode_storm(atol(argv[2]), atol(argv[3]));
    if ((!strcmp(m, "deny-then-exec") || !strcmp(m, "deny-then-exit")) && argc > 2) {
        /* one call the preset refuses, then at once another program (or the end): the
         * alert must still name this one */
        int fd = open(argv[2], O_WRONLY | O_CREAT, 0644);
        if (fd >= 0) close(fd);
        if (!strcmp(m, "deny-then-exit")) _exit(0);
        execl("/bin/true", "true", "after", (char *)NULL);
        return 127;
    }
    if (!strcmp(m, "exchange") && argc > 4) return mode_exchange(argv[2], argv[3], atol(argv[4]));
    if (!strcmp(m, "threads-deny") && argc > 3) return mode_threads_deny(atol(argv[2]), argv[3]);
    if (!strcmp(m, "ioctl-perform") && argc > 2) return mode_ioctl_perform(argv[2]);
    if (!strcmp(m, "ioctl-perform-bin")) return mode_ioctl_perform_bin();
    if (!strcmp(m, "sleep") && argc > 2) {
        sleep((unsigned)atoi(argv[2]));
        return 0;
    }
    fprintf(stderr, "probe: unknown mode %s\n", m);
    return 2;
}
