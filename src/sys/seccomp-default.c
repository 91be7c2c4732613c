/* SPDX-License-Identifier: GPL-2.0-or-later */
/* sandboxd's default seccomp profile: the allowlist of Docker's default profile (moby/profiles
 * seccomp/default_linux.go), written out as data. Everything not listed fails with EPERM:
 * among others the keyring (keys are not namespaced: a payload could read and plant keys of
 * the host's root), bpf, perf_event_open, userfaultfd, io_uring, kernel modules and kexec,
 * and, without CAP_SYS_ADMIN in the bounding set, mount, unshare, setns and namespace flags
 * on clone, which are how a payload in a new user namespace mounts the cgroup hierarchies and
 * lifts its own limits. Names the kernel or libseccomp do not know are skipped when the
 * profile is compiled. */

#include <errno.h>
#include <linux/capability.h>
#include <sched.h>
#include <stdlib.h>

#include "seccomp-profile.h"
#include "strv.h"

#define CAP(c) (1ULL << (c))
#define SECCOMP_GROUPS_MAX 256

static const char *const allowed[] = {
    "accept", "accept4", "access", "adjtimex", "alarm", "bind", "brk", "cachestat", "capget",
    "capset", "chdir", "chmod", "chown", "chown32", "clock_adjtime", "clock_adjtime64",
    "clock_getres", "clock_getres_time64", "clock_gettime", "clock_gettime64", "clock_nanosleep",
    "clock_nanosleep_time64", "close", "close_range", "connect", "copy_file_range", "creat",
    "dup", "dup2", "dup3", "epoll_create", "epoll_create1", "epoll_ctl", "epoll_ctl_old",
    "epoll_pwait", "epoll_pwait2", "epoll_wait", "epoll_wait_old", "eventfd", "eventfd2",
    "execve", "execveat", "exit", "exit_group", "faccessat", "faccessat2", "fadvise64",
    "fadvise64_64", "fallocate", "fanotify_mark", "fchdir", "fchmod", "fchmodat", "fchmodat2",
    "fchown", "fchown32", "fchownat", "fcntl", "fcntl64", "fdatasync", "fgetxattr", "flistxattr",
    "flock", "fork", "fremovexattr", "fsetxattr", "fstat", "fstat64", "fstatat64", "fstatfs",
    "fstatfs64", "fsync", "ftruncate", "ftruncate64", "futex", "futex_requeue", "futex_time64",
    "futex_wait", "futex_waitv", "futex_wake", "futimesat", "getcpu", "getcwd", "getdents",
    "getdents64", "getegid", "getegid32", "geteuid", "geteuid32", "getgid", "getgid32",
    "getgroups", "getgroups32", "getitimer", "getpeername", "getpgid", "getpgrp", "getpid",
    "getppid", "getpriority", "getrandom", "getresgid", "getresgid32", "getresuid",
    "getresuid32", "getrlimit", "get_robust_list", "getrusage", "getsid", "getsockname",
    "getsockopt", "get_thread_area", "gettid", "gettimeofday", "getuid", "getuid32", "getxattr",
    "getxattrat", "inotify_add_watch", "inotify_init", "inotify_init1", "inotify_rm_watch",
    "io_cancel", "ioctl", "io_destroy", "io_getevents", "io_pgetevents", "io_pgetevents_time64",
    "ioprio_get", "ioprio_set", "io_setup", "io_submit", "ipc", "kill", "landlock_add_rule",
    "landlock_create_ruleset", "landlock_restrict_self", "lchown", "lchown32", "lgetxattr",
    "link", "linkat", "listen", "listmount", "listxattr", "listxattrat", "llistxattr", "_llseek",
    "lremovexattr", "lseek", "lsetxattr", "lstat", "lstat64", "madvise", "map_shadow_stack",
    "membarrier", "memfd_create", "memfd_secret", "mincore", "mkdir", "mkdirat", "mknod",
    "mknodat", "mlock", "mlock2", "mlockall", "mmap", "mmap2", "mprotect", "mq_getsetattr",
    "mq_notify", "mq_open", "mq_timedreceive", "mq_timedreceive_time64", "mq_timedsend",
    "mq_timedsend_time64", "mq_unlink", "mremap", "mseal", "msgctl", "msgget", "msgrcv",
    "msgsnd", "msync", "munlock", "munlockall", "munmap", "name_to_handle_at", "nanosleep",
    "newfstatat", "_newselect", "open", "openat", "openat2", "pause", "pidfd_open",
    "pidfd_send_signal", "pipe", "pipe2", "pkey_alloc", "pkey_free", "pkey_mprotect", "poll",
    "ppoll", "ppoll_time64", "prctl", "pread64", "preadv", "preadv2", "prlimit64",
    "process_mrelease", "pselect6", "pselect6_time64", "pwrite64", "pwritev", "pwritev2", "read",
    "readahead", "readlink", "readlinkat", "readv", "recv", "recvfrom", "recvmmsg",
    "recvmmsg_time64", "recvmsg", "remap_file_pages", "removexattr", "removexattrat", "rename",
    "renameat", "renameat2", "restart_syscall", "riscv_hwprobe", "rmdir", "rseq",
    "rt_sigaction", "rt_sigpending", "rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn",
    "rt_sigsuspend", "rt_sigtimedwait", "rt_sigtimedwait_time64", "rt_tgsigqueueinfo",
    "sched_getaffinity", "sched_getattr", "sched_getparam", "sched_get_priority_max",
    "sched_get_priority_min", "sched_getscheduler", "sched_rr_get_interval",
    "sched_rr_get_interval_time64", "sched_setaffinity", "sched_setattr", "sched_setparam",
    "sched_setscheduler", "sched_yield", "seccomp", "select", "semctl", "semget", "semop",
    "semtimedop", "semtimedop_time64", "send", "sendfile", "sendfile64", "sendmmsg", "sendmsg",
    "sendto", "setfsgid", "setfsgid32", "setfsuid", "setfsuid32", "setgid", "setgid32",
    "setitimer", "setpgid", "setpriority", "setregid", "setregid32",
    "setresgid", "setresgid32", "setresuid", "setresuid32", "setreuid", "setreuid32",
    "setrlimit", "set_robust_list", "setsid", "setsockopt", "set_thread_area",
    "set_tid_address", "setuid", "setuid32", "setxattr", "setxattrat", "shmat", "shmctl",
    "shmdt", "shmget", "shutdown", "sigaltstack", "signalfd", "signalfd4", "sigprocmask",
    "sigreturn",
    /* 32-bit x86 reaches socket() through socketcall, whose arguments are behind a pointer:
     * the AF_ALG/AF_VSOCK refusal below does not cover it (nor does Docker's) */
    "socketcall", "socketpair", "splice", "stat", "stat64", "statfs", "statfs64", "statmount",
    "statx", "symlink", "symlinkat", "sync", "sync_file_range", "syncfs", "sysinfo", "tee",
    "tgkill", "time", "timer_create", "timer_delete", "timer_getoverrun", "timer_gettime",
    "timer_gettime64", "timer_settime", "timer_settime64", "timerfd_create", "timerfd_gettime",
    "timerfd_gettime64", "timerfd_settime", "timerfd_settime64", "times", "tkill", "truncate",
    "truncate64", "ugetrlimit", "umask", "uname", "unlink", "unlinkat", "uretprobe", "utime",
    "utimensat", "utimensat_time64", "utimes", "vfork", "vmsplice", "wait4", "waitid",
    "waitpid", "write", "writev", NULL};

#define NAMES(...) ((const char *const[]){__VA_ARGS__, NULL})
#define ARCHES(...) ((const char *const[]){__VA_ARGS__, NULL})
#define ARG(i, o, v, v2) .n_args = 1, .arg = {i, SECCOMP_OP_##o, v, v2}

/* unshare/clone flags that make namespaces; clone is allowed without them */
#define NS_FLAGS                                                                                   \
    (CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET |    \
     CLONE_NEWCGROUP)
_Static_assert(NS_FLAGS == 0x7E020000, "the namespace mask of Docker's clone rule");

#define AF_ALG_ 38
#define AF_VSOCK_ 40

typedef struct DefaultRule {
    const char *const *names;
    SeccompActionType action;
    uint16_t data;
    size_t n_args;
    SeccompArg arg;
    uint64_t in_caps, ex_caps;
    const char *const *in_arches, *const *ex_arches;
    unsigned min_kernel;
} DefaultRule;

static const DefaultRule rules[] = {
    {allowed, SECCOMP_ACTION_ALLOW},
    /* before 4.8 ptrace could get around seccomp */
    {NAMES("process_vm_readv", "process_vm_writev", "ptrace"), SECCOMP_ACTION_ALLOW,
     .min_kernel = SECCOMP_KERNEL(4, 8)},
    /* at most SECCOMP_GROUPS_MAX supplementary groups (the kernel takes 65536): every read
     * of a task's /proc/PID/status prints them all, 14 ms each with 65536, and lxcfs's
     * loadavg pass and sandboxd's MAINPID= lookup read those of every task of a sandbox: one
     * payload in 65536 groups froze the view's load averages for an hour (lxcfs 5.0.3 then
     * sleeps 2^32 us) and stalled sandboxd's loop */
    {NAMES("setgroups", "setgroups32"), SECCOMP_ACTION_ALLOW, ARG(0, LE, SECCOMP_GROUPS_MAX, 0)},
    /* every address family but AF_ALG and AF_VSOCK (kernel crypto and VM sockets) */
    {NAMES("socket"), SECCOMP_ACTION_ALLOW, ARG(0, LT, AF_ALG_, 0)},
    {NAMES("socket"), SECCOMP_ACTION_ALLOW, ARG(0, EQ, AF_ALG_ + 1, 0)},
    {NAMES("socket"), SECCOMP_ACTION_ALLOW, ARG(0, GT, AF_VSOCK_, 0)},
    /* the personas Docker allows: linux, linux32, with UNAME26, and the query */
    {NAMES("personality"), SECCOMP_ACTION_ALLOW, ARG(0, EQ, 0x0, 0)},
    {NAMES("personality"), SECCOMP_ACTION_ALLOW, ARG(0, EQ, 0x0008, 0)},
    {NAMES("personality"), SECCOMP_ACTION_ALLOW, ARG(0, EQ, 0x20000, 0)},
    {NAMES("personality"), SECCOMP_ACTION_ALLOW, ARG(0, EQ, 0x20008, 0)},
    {NAMES("personality"), SECCOMP_ACTION_ALLOW, ARG(0, EQ, 0xffffffff, 0)},
    {NAMES("sync_file_range2", "swapcontext"), SECCOMP_ACTION_ALLOW,
     .in_arches = ARCHES("ppc64le")},
    {NAMES("arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2", "breakpoint",
           "cacheflush", "set_tls"),
     SECCOMP_ACTION_ALLOW, .in_arches = ARCHES("arm", "arm64")},
    {NAMES("arch_prctl"), SECCOMP_ACTION_ALLOW, .in_arches = ARCHES("amd64", "x32")},
    {NAMES("modify_ldt"), SECCOMP_ACTION_ALLOW, .in_arches = ARCHES("amd64", "x32", "x86")},
    {NAMES("s390_pci_mmio_read", "s390_pci_mmio_write", "s390_runtime_instr"),
     SECCOMP_ACTION_ALLOW, .in_arches = ARCHES("s390", "s390x")},
    {NAMES("riscv_flush_icache"), SECCOMP_ACTION_ALLOW, .in_arches = ARCHES("riscv64")},
    {NAMES("open_by_handle_at"), SECCOMP_ACTION_ALLOW, .in_caps = CAP(CAP_DAC_READ_SEARCH)},
    {NAMES("bpf", "clone", "clone3", "fanotify_init", "fsconfig", "fsmount", "fsopen", "fspick",
           "lookup_dcookie", "lsm_get_self_attr", "lsm_list_modules", "lsm_set_self_attr",
           "mount", "mount_setattr", "move_mount", "open_tree", "perf_event_open", "quotactl",
           "quotactl_fd", "setdomainname", "sethostname", "setns", "syslog", "umount", "umount2",
           "unshare"),
     SECCOMP_ACTION_ALLOW, .in_caps = CAP(CAP_SYS_ADMIN)},
    {NAMES("clone"), SECCOMP_ACTION_ALLOW, ARG(0, MASKED_EQ, NS_FLAGS, 0),
     .ex_caps = CAP(CAP_SYS_ADMIN), .ex_arches = ARCHES("s390", "s390x")},
    /* s390 passes clone's flags second */
    {NAMES("clone"), SECCOMP_ACTION_ALLOW, ARG(1, MASKED_EQ, NS_FLAGS, 0),
     .ex_caps = CAP(CAP_SYS_ADMIN), .in_arches = ARCHES("s390", "s390x")},
    /* clone3's flags sit in a struct a filter cannot read: ENOSYS makes libc use clone */
    {NAMES("clone3"), SECCOMP_ACTION_ERRNO, ENOSYS, .ex_caps = CAP(CAP_SYS_ADMIN)},
    {NAMES("reboot"), SECCOMP_ACTION_ALLOW, .in_caps = CAP(CAP_SYS_BOOT)},
    {NAMES("chroot"), SECCOMP_ACTION_ALLOW, .in_caps = CAP(CAP_SYS_CHROOT)},
    {NAMES("delete_module", "init_module", "finit_module"), SECCOMP_ACTION_ALLOW,
     .in_caps = CAP(CAP_SYS_MODULE)},
    {NAMES("acct"), SECCOMP_ACTION_ALLOW, .in_caps = CAP(CAP_SYS_PACCT)},
    {NAMES("kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev",
           "ptrace"),
     SECCOMP_ACTION_ALLOW, .in_caps = CAP(CAP_SYS_PTRACE)},
    {NAMES("iopl", "ioperm"), SECCOMP_ACTION_ALLOW, .in_caps = CAP(CAP_SYS_RAWIO)},
    {NAMES("settimeofday", "stime", "clock_settime", "clock_settime64"), SECCOMP_ACTION_ALLOW,
     .in_caps = CAP(CAP_SYS_TIME)},
    {NAMES("vhangup"), SECCOMP_ACTION_ALLOW, .in_caps = CAP(CAP_SYS_TTY_CONFIG)},
    {NAMES("get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"),
     SECCOMP_ACTION_ALLOW, .in_caps = CAP(CAP_SYS_NICE)},
    {NAMES("syslog"), SECCOMP_ACTION_ALLOW, .in_caps = CAP(CAP_SYSLOG)},
    {NAMES("bpf"), SECCOMP_ACTION_ALLOW, .in_caps = CAP(CAP_BPF)},
    {NAMES("perf_event_open"), SECCOMP_ACTION_ALLOW, .in_caps = CAP(CAP_PERFMON)},
};

int seccomp_profile_new_default(SeccompProfile **ret) {
    _cleanup_(seccomp_profile_freep) SeccompProfile *p = calloc(1, sizeof(SeccompProfile));
    if (!p)
        return -ENOMEM;
    p->default_action = (SeccompAction){SECCOMP_ACTION_ERRNO, EPERM};
    p->rules = calloc(ELEMENTSOF(rules), sizeof(SeccompRule));
    if (!p->rules)
        return -ENOMEM;
    for (size_t i = 0; i < ELEMENTSOF(rules); i++) {
        const DefaultRule *d = &rules[i];
        SeccompRule *r = &p->rules[p->n_rules++];
        r->action = (SeccompAction){d->action, d->data};
        r->n_args = d->n_args;
        r->args[0] = d->arg;
        r->includes.caps = d->in_caps;
        r->excludes.caps = d->ex_caps;
        r->includes.min_kernel = d->min_kernel;
        if (!(r->names = strv_copy((char *const *) d->names)) ||
            (d->in_arches && !(r->includes.arches = strv_copy((char *const *) d->in_arches))) ||
            (d->ex_arches && !(r->excludes.arches = strv_copy((char *const *) d->ex_arches))))
            return -ENOMEM;
    }
    *ret = TAKE_PTR(p);
    return 0;
}
