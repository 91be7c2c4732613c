/* SPDX-License-Identifier: GPL-2.0-or-later */
/* seccomp-probe: run as a sandbox's payload by the integration tests (static, copied into a
 * test layer). It tries what a payload should not be able to do and prints one line per try,
 * "NAME ok" or "NAME ERRNO" (or "NAME signal N"); the tests read the lines and the host side.
 *
 *   seccomp-probe syscalls          each syscall Docker's default profile denies, and a few it
 *                                   allows; every try in its own child, with arguments that
 *                                   fail harmlessly where the call is allowed
 *   seccomp-probe escape-limits     issue 7, escape 3: a user + mount + cgroup namespace, the
 *                                   cgroup hierarchies mounted, the sandbox's limits lifted
 *   seccomp-probe keyring-read ID | keyring-search DESC | keyring-add DESC | keyring-session
 */

#include <errno.h>
#include <grp.h>
#include <fcntl.h>
#include <linux/keyctl.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef AF_ALG
#define AF_ALG 38
#endif
#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif
#define MISSING "/nonexistent-probe"

static const char *err_name(int e) {
    const char *n = strerrorname_np(e);
    return n ? n : "E?";
}

#if defined(__x86_64__)
static long i386_call(long nr, long a, long b, long c) {
    long r;
    __asm__ volatile("int $0x80" : "=a"(r) : "a"(nr), "b"(a), "c"(b), "d"(c) : "memory");
    return r;
}
#endif

/* Each returns the syscall's result: >= 0 allowed and done, -1 with errno. */
static long t_unshare_user(void) { return unshare(CLONE_NEWUSER); }
static long t_unshare_ns(void) { return unshare(CLONE_NEWNS | CLONE_NEWCGROUP); }
static long t_clone_newuser(void) {
    long r = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
    if (r == 0)
        _exit(0);
    if (r > 0)
        waitpid((pid_t) r, NULL, 0);
    return r;
}
static long t_clone3(void) { return syscall(SYS_clone3, NULL, 0); }
static long t_setns(void) { return setns(-1, 0); }
static long t_keyctl(void) {
    return syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_USER_KEYRING, 0);
}
static long t_add_key(void) { return syscall(SYS_add_key, NULL, NULL, NULL, 0, 0); }
static long t_request_key(void) { return syscall(SYS_request_key, NULL, NULL, NULL, 0); }
static long t_bpf(void) { return syscall(SYS_bpf, 0xffff, NULL, 0); }
static long t_perf_event_open(void) { return syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0); }
static long t_open_by_handle_at(void) { return syscall(SYS_open_by_handle_at, -1, NULL, 0); }
static long t_personality(void) { return personality(ADDR_NO_RANDOMIZE); }
static long t_personality_query(void) { return personality(0xffffffff); }
static long t_userfaultfd(void) { return syscall(SYS_userfaultfd, 0); }
static long t_io_uring_setup(void) { return syscall(SYS_io_uring_setup, 1, NULL); }
static long t_init_module(void) { return syscall(SYS_init_module, NULL, 0, ""); }
static long t_finit_module(void) { return syscall(SYS_finit_module, -1, "", 0); }
static long t_delete_module(void) { return syscall(SYS_delete_module, NULL, 0); }
/* more segments than the kernel takes: EINVAL where allowed, never an unload */
static long t_kexec_load(void) { return syscall(SYS_kexec_load, 0, 1000, NULL, 0); }
static long t_kexec_file_load(void) { return syscall(SYS_kexec_file_load, -1, -1, 0, NULL, 0); }
static long t_mount(void) { return mount(NULL, MISSING, NULL, 0, NULL); }
static long t_umount2(void) { return umount2(MISSING, 0); }
static long t_pivot_root(void) { return syscall(SYS_pivot_root, MISSING, MISSING); }
static long t_fsopen(void) { return syscall(SYS_fsopen, NULL, 0); }
static long t_open_tree(void) { return syscall(SYS_open_tree, -1, NULL, 0); }
static long t_clock_settime(void) { return syscall(SYS_clock_settime, CLOCK_REALTIME, NULL); }
static long t_settimeofday(void) { return syscall(SYS_settimeofday, (void *) 1, NULL); }
static long t_swapon(void) { return syscall(SYS_swapon, NULL, 0); }
static long t_swapoff(void) { return syscall(SYS_swapoff, NULL); }
static long t_reboot(void) { return syscall(SYS_reboot, 0, 0, 0, NULL); }
static long t_acct(void) { return syscall(SYS_acct, (void *) 1); }
static long t_quotactl(void) { return syscall(SYS_quotactl, 0, NULL, 0, NULL); }
static long t_sethostname(void) { return syscall(SYS_sethostname, NULL, 100000); }
static long t_kcmp(void) { return syscall(SYS_kcmp, getpid(), getpid(), 0, 0, 0); }
static long t_pidfd_getfd(void) { return syscall(SYS_pidfd_getfd, -1, 0, 0); }
static long t_process_madvise(void) { return syscall(SYS_process_madvise, -1, NULL, 0, 0, 0); }
static long t_socket_alg(void) { return socket(AF_ALG, SOCK_SEQPACKET, 0); }
static long t_socket_vsock(void) { return socket(AF_VSOCK, SOCK_STREAM, 0); }
static long t_getpid(void) { return getpid(); }
/* more supplementary groups than the default profile allows (256), and as many */
static gid_t many_gids[257];
static long t_setgroups_many(void) { return setgroups(257, many_gids); }
static long t_setgroups_256(void) { return setgroups(256, many_gids); }
static long t_socket_unix(void) { return socket(AF_UNIX, SOCK_STREAM, 0); }
#if defined(__x86_64__)
/* the same calls from 32-bit code: i386 keyctl is 288, unshare 310; x32 keyctl 250 */
static long result_of(long r) {
    if (r < 0 && r > -4096) {
        errno = (int) -r;
        return -1;
    }
    return r;
}
static long t_i386_keyctl(void) {
    return result_of(i386_call(288, KEYCTL_GET_KEYRING_ID, KEY_SPEC_USER_KEYRING, 0));
}
static long t_i386_unshare(void) { return result_of(i386_call(310, CLONE_NEWUSER, 0, 0)); }
/* setgroups32 (206); a static binary's data lies below 4 GiB */
static long t_i386_setgroups_many(void) {
    return result_of(i386_call(206, 257, (long) (uintptr_t) many_gids, 0));
}
static long t_x32_keyctl(void) {
    return syscall(0x40000000 | 250, KEYCTL_GET_KEYRING_ID, KEY_SPEC_USER_KEYRING, 0);
}
#endif

static const struct {
    const char *name;
    long (*fn)(void);
} tries[] = {
    {"unshare-user", t_unshare_user},
    {"unshare-mount-cgroup", t_unshare_ns},
    {"clone-newuser", t_clone_newuser},
    {"clone3", t_clone3},
    {"setns", t_setns},
    {"keyctl", t_keyctl},
    {"add_key", t_add_key},
    {"request_key", t_request_key},
    {"bpf", t_bpf},
    {"perf_event_open", t_perf_event_open},
    {"open_by_handle_at", t_open_by_handle_at},
    {"personality", t_personality},
    {"userfaultfd", t_userfaultfd},
    {"io_uring_setup", t_io_uring_setup},
    {"init_module", t_init_module},
    {"finit_module", t_finit_module},
    {"delete_module", t_delete_module},
    {"kexec_load", t_kexec_load},
    {"kexec_file_load", t_kexec_file_load},
    {"mount", t_mount},
    {"umount2", t_umount2},
    {"pivot_root", t_pivot_root},
    {"fsopen", t_fsopen},
    {"open_tree", t_open_tree},
    {"clock_settime", t_clock_settime},
    {"settimeofday", t_settimeofday},
    {"swapon", t_swapon},
    {"swapoff", t_swapoff},
    {"reboot", t_reboot},
    {"acct", t_acct},
    {"quotactl", t_quotactl},
    {"sethostname", t_sethostname},
    {"kcmp", t_kcmp},
    {"pidfd_getfd", t_pidfd_getfd},
    {"process_madvise", t_process_madvise},
    {"socket-alg", t_socket_alg},
    {"socket-vsock", t_socket_vsock},
#if defined(__x86_64__)
    {"i386-keyctl", t_i386_keyctl},
    {"i386-unshare-user", t_i386_unshare},
    {"i386-setgroups-many", t_i386_setgroups_many},
    {"x32-keyctl", t_x32_keyctl},
#endif
    /* allowed by the default profile: the probe itself works */
    {"allowed-personality-query", t_personality_query},
    {"allowed-getpid", t_getpid},
    {"allowed-socket-unix", t_socket_unix},
    {"setgroups-many", t_setgroups_many},
    {"allowed-setgroups-256", t_setgroups_256},
};

static int run_syscalls(void) {
    for (size_t i = 0; i < sizeof tries / sizeof *tries; i++) {
        pid_t pid = fork();
        if (pid < 0)
            return 1;
        if (pid == 0) {
            errno = 0;
            long r = tries[i].fn();
            _exit(r >= 0 ? 0 : errno > 0 && errno < 255 ? errno : 255);
        }
        int status;
        if (waitpid(pid, &status, 0) != pid)
            return 1;
        if (WIFSIGNALED(status))
            printf("%s signal %d\n", tries[i].name, WTERMSIG(status));
        else if (WEXITSTATUS(status) == 0)
            printf("%s ok\n", tries[i].name);
        else
            printf("%s %s\n", tries[i].name, err_name(WEXITSTATUS(status)));
    }
    printf("syscalls done\n");
    return 0;
}

static int write_file(const char *path, const char *text) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = write(fd, text, strlen(text));
    int r = n == (ssize_t) strlen(text) ? 0 : n < 0 ? -errno : -EIO;
    close(fd);
    return r;
}

static void report(const char *step, int r) {
    printf("%s %s\n", step, r >= 0 ? "ok" : err_name(-r));
}

/* What the red team did: become root of a new user namespace (uid 0 mapped to our own 0) with
 * its own mount and cgroup namespaces, mount the cgroup hierarchies (rooted at our group),
 * and write "no limit" into the limits. */
static int run_escape_limits(void) {
    int r = unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWCGROUP) < 0 ? -errno : 0;
    report("escape-unshare", r);
    if (r < 0) {
        printf("escape done\n");
        return 0;
    }
    r = write_file("/proc/self/setgroups", "deny");
    if (r >= 0)
        r = write_file("/proc/self/uid_map", "0 0 1");
    if (r >= 0)
        r = write_file("/proc/self/gid_map", "0 0 1");
    report("escape-map", r);
    static const struct {
        const char *fstype, *controller, *file, *value;
    } limits[] = {
        {"cgroup", "memory", "memory.limit_in_bytes", "-1"},
        {"cgroup", "pids", "pids.max", "max"},
        {"cgroup", "cpu", "cpu.cfs_quota_us", "-1"},
        {"cgroup2", NULL, "memory.max", "max"},
        {"cgroup2", NULL, "pids.max", "max"},
        {"cgroup2", NULL, "cpu.max", "max"},
    };
    bool unified_tried = false;
    int unified = -EBADF;
    for (size_t i = 0; i < sizeof limits / sizeof *limits; i++) {
        char dir[64], path[128], step[64];
        const char *tag = limits[i].controller ? limits[i].controller : "unified";
        snprintf(dir, sizeof dir, "/tmp/escape-%s", tag);
        if (limits[i].controller || !unified_tried) {
            (void) mkdir(dir, 0700);
            r = mount("none", dir, limits[i].fstype, 0, limits[i].controller) < 0 ? -errno : 0;
            snprintf(step, sizeof step, "escape-mount-%s", tag);
            report(step, r);
            if (!limits[i].controller) {
                unified_tried = true;
                unified = r;
            }
        } else
            r = unified; /* one cgroup2 mount for its three files */
        if (r < 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, limits[i].file);
        snprintf(step, sizeof step, "escape-write-%s", limits[i].file);
        report(step, write_file(path, limits[i].value));
    }
    printf("escape done\n");
    return 0;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc == 2 && strcmp(argv[1], "syscalls") == 0)
        return run_syscalls();
    if (argc == 2 && strcmp(argv[1], "escape-limits") == 0)
        return run_escape_limits();
    if (argc == 2 && strcmp(argv[1], "keyring-session") == 0) {
        long id = syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0);
        if (id < 0)
            printf("keyring-session %s\n", err_name(errno));
        else
            printf("keyring-session ok %ld\n", id);
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "keyring-read") == 0) {
        char buf[256] = "";
        long n = syscall(SYS_keyctl, KEYCTL_READ, atol(argv[2]), buf, sizeof buf - 1);
        if (n < 0)
            printf("keyring-read %s\n", err_name(errno));
        else
            printf("keyring-read ok %.*s\n", (int) (n < 255 ? n : 255), buf);
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "keyring-search") == 0) {
        long id = syscall(SYS_keyctl, KEYCTL_SEARCH, KEY_SPEC_USER_KEYRING, "user", argv[2], 0);
        if (id < 0)
            printf("keyring-search %s\n", err_name(errno));
        else
            printf("keyring-search ok %ld\n", id);
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "keyring-add") == 0) {
        long id = syscall(SYS_add_key, "user", argv[2], "planted", 7, KEY_SPEC_USER_KEYRING);
        if (id < 0)
            printf("keyring-add %s\n", err_name(errno));
        else
            printf("keyring-add ok %ld\n", id);
        return 0;
    }
    fprintf(stderr, "usage: seccomp-probe syscalls|escape-limits|keyring-session|"
                    "keyring-read ID|keyring-search DESC|keyring-add DESC\n");
    return 2;
}
