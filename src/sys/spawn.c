/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "macro.h"
#include "spawn.h"

#define CHILD_STACK_SIZE (256 * 1024)
#define CG_FDS_MAX 32 /* the most cgroup_fds (cgroup.h's CG_HIERARCHIES_MAX) */

typedef struct ChildState {
    const SpawnParams *p;
    /* written by the child, read by the parent once the vfork returns */
    int error;
    const char *step;
} ChildState;

/* Moves fd to target, tolerating fds already sitting at other targets: all sources were moved
 * to >= _INIT_FD_MAX first. */
static int child_move_fd(int fd, int target) {
    if (fd == target)
        return fcntl(fd, F_SETFD, 0) < 0 ? -errno : 0; /* keep it across exec */
    return dup2(fd, target) < 0 ? -errno : 0;
}

/* Closes every descriptor from first up: whatever the daemon inherited or opened without
 * O_CLOEXEC must not reach the sandbox (a host directory fd there is runc's CVE-2024-21626). */
static int child_close_from(int first) {
    if (close_range((unsigned) first, ~0U, 0) >= 0)
        return 0;
    /* before 5.9: by hand, up to the limit */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return -errno;
    for (rlim_t fd = (rlim_t) first; fd < rl.rlim_cur && fd < (1U << 20); fd++)
        (void) close((int) fd);
    return 0;
}

static int child(void *arg) {
    ChildState *s = arg;
    const SpawnParams *p = s->p;
    static const char one_zero[] = "0";
    int fds[_INIT_FD_MAX];

    /* Join the cgroup first, so every page and task of the sandbox is charged to it. Writing
     * "0" moves the writer itself. */
    for (size_t i = 0; i < p->n_cgroup_fds; i++)
        if (write(p->cgroup_fds[i], one_zero, 1) != 1) {
            s->step = "cgroup";
            goto fail;
        }
    /* after joining, so the sandbox's cgroup is the namespace's root */
    if (p->cgroup_ns && unshare(CLONE_NEWCGROUP) < 0) {
        s->step = "cgroupns";
        goto fail;
    }
    s->step = "fds";
    for (int i = 0; i < _INIT_FD_MAX; i++) {
        fds[i] = p->fds[i] < 0 ? -EBADF : fcntl(p->fds[i], F_DUPFD_CLOEXEC, _INIT_FD_MAX);
        if (p->fds[i] >= 0 && fds[i] < 0)
            goto fail;
    }
    for (int i = 0; i < _INIT_FD_MAX; i++)
        if (fds[i] >= 0 ? child_move_fd(fds[i], i) < 0 : (close(i), false))
            goto fail;
    if (child_close_from(_INIT_FD_MAX) < 0)
        goto fail;
    struct rlimit rl;
    if (p->nofile_soft > 0 && getrlimit(RLIMIT_NOFILE, &rl) >= 0 &&
        rl.rlim_cur > p->nofile_soft) {
        rl.rlim_cur = p->nofile_soft;
        (void) setrlimit(RLIMIT_NOFILE, &rl);
    }

    char *const argv[] = {(char *) "sandboxd-init", NULL};
    char *const envp[] = {NULL};
    s->step = "exec-init";
    execve(p->init_path, argv, envp);
fail:
    s->error = errno ? errno : EIO;
    _exit(127);
}

/* clone3's argument, as far as CLONE_INTO_CGROUP (5.7); declared here because glibc 2.36's
 * <sched.h> and <linux/sched.h> do not mix. */
struct spawn_clone_args {
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls,
        set_tid, set_tid_size, cgroup;
};
#define SPAWN_CLONE_INTO_CGROUP 0x200000000ULL

/* clone3 with CLONE_INTO_CGROUP: the child starts life in the sandbox's group, so nothing it
 * does is charged elsewhere and no migration is needed. clone3 cannot take CLONE_VM without a
 * stack and an assembly trampoline, so this is a vfork-style copy of the daemon's (small)
 * address space; the error report goes through a shared page. Returns -ENOSYS/-E2BIG on
 * kernels or seccomp filters without it, for the caller to fall back. */
static pid_t spawn_into_cgroup(const SpawnParams *p, ChildState *shared, int *ret_pidfd) {
    struct spawn_clone_args args = {
        .flags = CLONE_VFORK | CLONE_PIDFD | SPAWN_CLONE_INTO_CGROUP | p->clone_flags,
        .pidfd = (uint64_t) (uintptr_t) ret_pidfd,
        .exit_signal = SIGCHLD,
        .cgroup = (uint64_t) p->cgroup_dir_fd,
    };
    long pid = syscall(SYS_clone3, &args, sizeof args);
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        /* already in the cgroup2 hierarchy's group; still to join: the v1 ones beside */
        int rest[CG_FDS_MAX];
        SpawnParams joined = *p;
        joined.n_cgroup_fds = 0;
        for (size_t i = 0; i < p->n_cgroup_fds && joined.n_cgroup_fds < CG_FDS_MAX; i++)
            if ((int) i != p->cgroup_dir_index)
                rest[joined.n_cgroup_fds++] = p->cgroup_fds[i];
        joined.cgroup_fds = rest;
        shared->p = &joined;
        (void) child(shared);
        _exit(127);
    }
    return (pid_t) pid;
}

/* clone(CLONE_VM|CLONE_VFORK) on a stack of its own: the child shares our memory and we wait
 * until it has exec'd or exited, copying no page tables however large the daemon grows.
 * Returns the pid or -errno. */
static pid_t clone_vfork(int (*fn)(void *), void *arg, unsigned long flags, int *ret_pidfd) {
    void *stack = mmap(NULL, CHILD_STACK_SIZE, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED)
        return -errno;
    pid_t pid = clone(fn, (char *) stack + CHILD_STACK_SIZE,
                      (int) (CLONE_VM | CLONE_VFORK | CLONE_PIDFD | flags | SIGCHLD), arg,
                      ret_pidfd);
    int r = pid < 0 ? -errno : pid;
    munmap(stack, CHILD_STACK_SIZE);
    return r;
}

/* The child reported a failure and has exited already: reap it here, nobody else knows it. */
static int child_failed(pid_t pid, int pidfd, int error, const char *step, SpawnError *e) {
    (void) waitpid(pid, NULL, __WALL);
    safe_close(pidfd);
    e->step = step;
    return -error;
}

int spawn_init(const SpawnParams *p, pid_t *ret_pid, int *ret_pidfd, SpawnError *e) {
    int pidfd = -EBADF;
    pid_t pid = -1;
    int r = -ENOSYS;
    bool born_inside = false;

    e->step = "clone";
    if (p->n_cgroup_fds > CG_FDS_MAX)
        return -E2BIG;
    /* the child's report: shared, since the clone3 child has its own copy of our memory */
    ChildState *s = mmap(NULL, sizeof(ChildState), PROT_READ | PROT_WRITE,
                         MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (s == MAP_FAILED)
        return -errno;
    *s = (ChildState){.p = p};

    if (p->cgroup_dir_fd >= 0) {
        r = pid = spawn_into_cgroup(p, s, &pidfd);
        if (r >= 0) {
            r = 0;
            born_inside = true;
        } else if (r != -ENOSYS && r != -E2BIG && r != -EPERM)
            e->step = "clone3";
    }
    if (r == -ENOSYS || r == -E2BIG || r == -EPERM) {
        /* no clone3 or no CLONE_INTO_CGROUP here (EPERM: a seccomp filter's answer) */
        r = pid = clone_vfork(child, s, p->clone_flags, &pidfd);
        r = r < 0 ? r : 0;
    }
    if (r < 0)
        goto out;
    if (s->error) {
        r = child_failed(pid, pidfd, s->error, s->step, e);
        goto out;
    }
    *ret_pid = pid;
    *ret_pidfd = pidfd;
    r = born_inside;
out:
    munmap(s, sizeof(ChildState));
    return r;
}

/* ---- health probes ---- */

typedef struct ProbeChildState {
    const ProbeSpawnParams *p;
    int error;
    const char *step;
} ProbeChildState;

#define PROBE_FD_INIT 7 /* where the init binary's fd waits for execveat(), close-on-exec */

static int probe_child(void *arg) {
    ProbeChildState *s = arg;
    const ProbeSpawnParams *p = s->p;
    static const char one_zero[] = "0";
    int moved[PROBE_FD_INIT + 1];
    const int want[PROBE_FD_INIT + 1] = {
        [1] = p->out_fd, [2] = p->out_fd, [PROBE_FD_PLAN] = p->plan_fd,
        [PROBE_FD_USERNS] = p->userns_fd, [PROBE_FD_INIT] = p->init_fd,
        [PROBE_FD_NS] = p->ns_pidfd, [0] = -EBADF, [3] = -EBADF,
    };

    /* a probe dies with sandboxd (which alone enforces its timeout); its children die with it */
    s->step = "pdeathsig";
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
        goto fail;
    /* charged to the sandbox, as the payload is */
    s->step = "cgroup";
    for (size_t i = 0; i < p->n_cgroup_fds; i++)
        if (write(p->cgroup_fds[i], one_zero, 1) != 1)
            goto fail;
    s->step = "fds";
    for (int i = 0; i <= PROBE_FD_INIT; i++) {
        moved[i] = want[i] < 0 ? -EBADF : fcntl(want[i], F_DUPFD_CLOEXEC, PROBE_FD_INIT + 1);
        if (want[i] >= 0 && moved[i] < 0)
            goto fail;
    }
    for (int i = 0; i <= PROBE_FD_INIT; i++) {
        if (moved[i] < 0) {
            (void) close(i);
            continue;
        }
        if (dup2(moved[i], i) < 0)
            goto fail;
        /* all but the init binary's cross the exec */
        if (i == PROBE_FD_INIT && fcntl(i, F_SETFD, FD_CLOEXEC) < 0)
            goto fail;
    }
    if (child_close_from(PROBE_FD_INIT + 1) < 0)
        goto fail;
    /* the namespaces are entered by the runner itself, once exec'd: the init binary (and for
     * a sanitizer build its loader and libraries) is found on the host */
    char flags[16];
    snprintf(flags, sizeof flags, "%x", (unsigned) p->ns_flags);
    char *const argv[] = {(char *) "sandboxd-init", (char *) "--probe", flags, NULL};
    char *const envp[] = {NULL};
    s->step = "exec-init";
    syscall(SYS_execveat, PROBE_FD_INIT, "", argv, envp, AT_EMPTY_PATH);
fail:
    s->error = errno ? errno : EIO;
    _exit(127);
}

int spawn_probe(const ProbeSpawnParams *p, pid_t *ret_pid, int *ret_pidfd, SpawnError *e) {
    int pidfd = -EBADF, r;
    e->step = "clone";
    ProbeChildState *s = mmap(NULL, sizeof(ProbeChildState), PROT_READ | PROT_WRITE,
                              MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (s == MAP_FAILED)
        return -errno;
    *s = (ProbeChildState){.p = p};
    pid_t pid = r = clone_vfork(probe_child, s, 0, &pidfd);
    if (r < 0)
        goto out;
    if (s->error) {
        r = child_failed(pid, pidfd, s->error, s->step, e);
        goto out;
    }
    *ret_pid = pid;
    *ret_pidfd = pidfd;
out:
    munmap(s, sizeof(ProbeChildState));
    return r;
}
