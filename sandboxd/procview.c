/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The proc view (ProcView=): lxcfs, run and supervised by sandboxd on RUNTIME/procview, whose
 * proc/meminfo and friends each sandbox's init binds over its own (src/sys/rootfs.c). lxcfs
 * computes each file from the cgroups of the reader's PID namespace's init: the sandbox's.
 *
 * lxcfs outlives sandboxd (--keep-running): a new sandboxd adopts it from its pidfile. When it
 * dies, the binds in running sandboxes fail with ENOTCONN; sandboxd starts it again on the same
 * mount point and binds the new files into every sandbox that had the view, from a child that
 * enters each sandbox's mount namespace (open_tree() clones made here, move_mount() there). A
 * sandbox started while no lxcfs serves gets the plain files, and its log says so. */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "manager.h"
#include "parse-util.h"
#include "path-util.h"
#include "plan.h"
#include "procview.h"
#include "process-util.h"
#include "ratelimit.h"
#include "time-util.h"

#ifndef MOVE_MOUNT_BENEATH
#define MOVE_MOUNT_BENEATH 0x00000200 /* Linux 6.5 */
#endif

#define FUSE_SUPER_MAGIC 0x65735546
#define READY_WAIT_USEC (3 * USEC_PER_SEC)
#define RESTART_BURST 5 /* starts of lxcfs in RESTART_INTERVAL before sandboxd gives up */
#define RESTART_INTERVAL_USEC (30 * USEC_PER_SEC)
/* A hung lxcfs (a stuck FUSE request) is found by a child that reads a file of the view: one
 * every WATCH_INTERVAL, and one that has not finished after WATCH_TIMEOUT means lxcfs hangs.
 * Payloads' reads block meanwhile, so the sum bounds how long a hang lasts (a fork every 2 s
 * costs the daemon nothing worth counting; a read takes ~0.3 ms, 4 ms at p99 under load). */
#define WATCH_INTERVAL_USEC (2 * USEC_PER_SEC)
#define WATCH_BUSY_TICKS 20 /* CPU time (clock ticks, 10 ms) in a timeout that means busy */
#define WATCH_BUSY_WAITS 15 /* timeouts (30 s) a busy lxcfs gets before it counts as hung */
#define WATCH_TIMEOUT_USEC (2 * USEC_PER_SEC)

#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#endif
#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif

struct ProcView {
    Manager *manager;
    char *binary;   /* lxcfs; NULL: disabled */
    char *dir;      /* its mount point */
    char *pidfile;
    pid_t pid;      /* 0: none runs */
    int pidfd;
    bool child;     /* ours (reaped by the manager's SIGCHLD handler), else adopted */
    sd_event_source *pidfd_source; /* an adopted lxcfs's exit */
    bool ready;     /* its files answer */
    bool given_up;
    RateLimit starts;
    pid_t rebind_pid; /* the child binding the new files into running sandboxes */
    pid_t stale_rebind_pid; /* one killed because a newer view came: reaped quietly */
    unsigned generation; /* counts the lxcfs mounts served: a sandbox holds the one it bound */
    bool started_new;
    sd_event_source *watch_timer; /* the next read of the view, or the current one's deadline */
    pid_t watch_pid;              /* the child reading it now */
    uint64_t watch_cpu;           /* lxcfs's CPU time (ticks) when that read started */
    unsigned watch_waits;         /* timeouts of that read while lxcfs kept working */
};

static int on_watch_timer(sd_event_source *src, uint64_t usec, void *userdata);

/* Arms the watch: the next read of the view in `after`. */
static void watch_arm(ProcView *pv, uint64_t after) {
    int r;
    if (pv->watch_timer)
        r = sd_event_source_set_time_relative(pv->watch_timer, after) ?:
            sd_event_source_set_enabled(pv->watch_timer, SD_EVENT_ONESHOT);
    else
        r = sd_event_add_time_relative(pv->manager->event, &pv->watch_timer, CLOCK_MONOTONIC,
                                       after, USEC_PER_MSEC * 100, on_watch_timer, pv);
    if (r < 0)
        log_warning_errno(r, "Arming the watch of lxcfs: %m; a hung lxcfs goes unnoticed");
}

bool procview_watch_busy(bool stopped, uint64_t cpu_before, uint64_t cpu_now, unsigned waits) {
    return !stopped && cpu_before != UINT64_MAX && cpu_now != UINT64_MAX &&
           cpu_now >= cpu_before && cpu_now - cpu_before >= WATCH_BUSY_TICKS &&
           waits < WATCH_BUSY_WAITS;
}

/* lxcfs's CPU time, or UINT64_MAX; *stopped when it is (SIGSTOP, a debugger). */
static uint64_t lxcfs_cpu(const ProcView *pv, bool *stopped) {
    char state = 0;
    uint64_t ticks;
    *stopped = false;
    if (pid_get_cpu(pv->pid, &state, &ticks) < 0)
        return UINT64_MAX;
    *stopped = state == 'T' || state == 't';
    return ticks;
}

static int on_watch_timer(sd_event_source *src, uint64_t usec, void *userdata) {
    ProcView *pv = userdata;
    if (pv->watch_pid > 0) {
        /* Not answered in time. A flood of reads (one sandbox's) queues ours behind them:
         * lxcfs is busy then, not hung, and killing it would cut every sandbox off (and five
         * kills in 30 s end the view). Busy means it used CPU meanwhile (its loadavg thread
         * alone takes far less than WATCH_BUSY_TICKS); a bound on the waits still catches
         * one that spins without answering. */
        bool stopped;
        uint64_t cpu = lxcfs_cpu(pv, &stopped);
        if (procview_watch_busy(stopped, pv->watch_cpu, cpu, pv->watch_waits)) {
            if (pv->watch_waits++ == 0)
                log_warning("lxcfs (PID %d) is slow: a read of the view waited 2s while it "
                            "worked; waiting on (a sandbox may be flooding its view)",
                            (int) pv->pid);
            pv->watch_cpu = cpu;
            watch_arm(pv, WATCH_TIMEOUT_USEC);
            return 0;
        }
        /* the read has not come back: lxcfs hangs. Killed, it is restarted like a crash,
         * and the read (a FUSE request) ends with it. */
        log_warning("lxcfs (PID %d) did not answer a read of %s/proc/uptime within 2s; killing "
                    "it", (int) pv->pid, pv->dir);
        (void) kill(pv->watch_pid, SIGKILL);
        if (pv->pidfd >= 0)
            (void) syscall(SYS_pidfd_send_signal, pv->pidfd, SIGKILL, NULL, 0);
        return 0; /* the exits re-arm */
    }
    if (!pv->ready) {
        watch_arm(pv, WATCH_INTERVAL_USEC);
        return 0;
    }
    pid_t pid = fork();
    if (pid == 0) {
        char path[PATH_MAX], buf[128];
        snprintf(path, sizeof path, "%s/proc/uptime", pv->dir);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        _exit(fd >= 0 && read(fd, buf, sizeof buf) > 0 ? 0 : 1);
    }
    if (pid < 0) {
        watch_arm(pv, WATCH_INTERVAL_USEC);
        return 0;
    }
    pv->watch_pid = pid;
    bool stopped;
    pv->watch_cpu = lxcfs_cpu(pv, &stopped);
    pv->watch_waits = 0;
    watch_arm(pv, WATCH_TIMEOUT_USEC);
    return 0;
}

/* Is DIR a FUSE mount whose meminfo reads? A dead one fails with ENOTCONN. */
static bool view_answers(const char *dir) {
    struct statfs sf;
    char path[PATH_MAX], buf[64];
    if (statfs(dir, &sf) < 0 || (unsigned long) sf.f_type != FUSE_SUPER_MAGIC)
        return false;
    snprintf(path, sizeof path, "%s/proc/meminfo", dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, buf, sizeof buf);
    close(fd);
    return n > 0;
}

/* view_answers() from a child, waited for at most `usec`: a hung lxcfs blocks statfs() and
 * read() on its mount for good, and the event loop must never wait on it (an lxcfs that hangs
 * while it starts, or the one a sandboxd restarted to cure it would adopt). */
static bool view_answers_within(const char *dir, uint64_t usec) {
    pid_t pid = fork();
    if (pid == 0)
        _exit(view_answers(dir) ? 0 : 1);
    if (pid < 0)
        return false;
    int status = 0, pidfd = (int) syscall(SYS_pidfd_open, pid, 0);
    struct pollfd p = {pidfd, POLLIN, 0};
    if (pidfd < 0 || poll(&p, 1, (int) (usec / USEC_PER_MSEC)) <= 0)
        (void) kill(pid, SIGKILL); /* a FUSE wait ends on SIGKILL */
    safe_close(pidfd);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* A dead FUSE mount (or anything else) on the mount point goes; lazily, as binds of it may
 * still be held in sandboxes. */
static void clear_mount_point(ProcView *pv) {
    while (umount2(pv->dir, MNT_DETACH) == 0)
        ;
}

static int on_adopted_exit(sd_event_source *src, int fd, uint32_t revents, void *userdata);

/* Waits (bounded) for lxcfs's files to answer; false if they do not, or lxcfs ended. */
static bool wait_ready(ProcView *pv) {
    uint64_t end = now_usec(CLOCK_MONOTONIC) + READY_WAIT_USEC, now;
    for (;;) {
        if ((now = now_usec(CLOCK_MONOTONIC)) >= end ||
            syscall(SYS_pidfd_send_signal, pv->pidfd, 0, NULL, 0) < 0)
            return false;
        if (view_answers_within(pv->dir, end - now))
            return true;
        (void) nanosleep(&(struct timespec){0, 5 * 1000 * 1000}, NULL);
    }
}

static int spawn(ProcView *pv) {
    if (!ratelimit_below(&pv->starts, now_usec(CLOCK_MONOTONIC))) {
        log_error("lxcfs was started %u times in %s and keeps ending; the proc view is off "
                  "until sandboxd restarts (sandboxes see the host's /proc values)",
                  RESTART_BURST, "30s");
        pv->given_up = true;
        return -EBUSY;
    }
    clear_mount_point(pv);
    int r = mkdir_p(pv->dir, 0755);
    if (r < 0)
        return log_error_errno(r, "creating %s for lxcfs: %m", pv->dir);
    pid_t pid = fork();
    if (pid < 0)
        return log_error_errno(errno, "forking lxcfs: %m");
    if (pid == 0) {
        sigset_t all;
        sigemptyset(&all);
        sigprocmask(SIG_SETMASK, &all, NULL);
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null >= 0)
            (void) (dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0);
        /* its own session: a terminal's ^C to sandboxd is not its */
        (void) setsid();
        execl(pv->binary, "lxcfs", "--foreground", "--enable-cfs", "--enable-loadavg",
              "--enable-pidfd", "--pidfile", pv->pidfile, pv->dir, (char *) NULL);
        _exit(127);
    }
    pv->pid = pid;
    pv->child = true;
    pv->pidfd = (int) syscall(SYS_pidfd_open, pid, 0);
    if (!wait_ready(pv)) {
        log_error("lxcfs (%s, PID %d) did not serve %s within 3s; the proc view is off for now",
                  pv->binary, (int) pid, pv->dir);
        (void) kill(pid, SIGKILL); /* reaped by the SIGCHLD handler, which tries again */
        return -ETIMEDOUT;
    }
    pv->ready = true;
    pv->generation++;
    log_info("lxcfs (PID %d) serves the sandboxes' proc view on %s.", (int) pid, pv->dir);
    watch_arm(pv, WATCH_INTERVAL_USEC);
    return 0;
}

/* Whether PID's last argument is our mount point: an lxcfs we started, not another one
 * (the host's lxcfs.service) that took a stale pidfile's PID. */
static bool serves_our_dir(const ProcView *pv, int pid) {
    _cleanup_free_ char *path = NULL, *argv = NULL;
    size_t n = 0;
    if (asprintf(&path, "/proc/%d/cmdline", pid) < 0 || read_file(path, 65536, &argv, &n) < 0 ||
        n == 0)
        return false;
    /* NUL-separated, NUL-terminated: the last argument starts after the second-last NUL */
    size_t end = argv[n - 1] == 0 ? n - 1 : n, start = end;
    while (start > 0 && argv[start - 1] != 0)
        start--;
    return end - start == strlen(pv->dir) && memcmp(argv + start, pv->dir, end - start) == 0;
}

/* An lxcfs a previous sandboxd left running (--keep-running): its pidfile names it. */
static bool adopt(ProcView *pv) {
    _cleanup_free_ char *text = NULL, *comm_path = NULL, *comm = NULL;
    int pid;
    if (read_file(pv->pidfile, 64, &text, NULL) < 0 || sscanf(text, "%d", &pid) != 1 || pid <= 1)
        return false;
    if (asprintf(&comm_path, "/proc/%d/comm", pid) < 0 ||
        read_file(comm_path, 64, &comm, NULL) < 0 || strncmp(comm, "lxcfs", 5) != 0)
        return false;
    int pidfd = (int) syscall(SYS_pidfd_open, pid, 0);
    if (pidfd < 0)
        return false;
    if (!view_answers_within(pv->dir, WATCH_TIMEOUT_USEC)) {
        /* ours (it serves our mount point) but hung or broken: a new one takes over, and
         * this one would otherwise stay for good */
        if (serves_our_dir(pv, pid)) {
            log_warning("lxcfs (PID %d) left by the previous sandboxd does not answer on %s; "
                        "killing it", pid, pv->dir);
            (void) syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
        }
        close(pidfd);
        return false;
    }
    if (sd_event_add_io(pv->manager->event, &pv->pidfd_source, pidfd, EPOLLIN, on_adopted_exit,
                        pv) < 0) {
        close(pidfd);
        return false;
    }
    pv->pid = pid;
    pv->pidfd = pidfd;
    pv->child = false;
    pv->ready = true;
    pv->generation++;
    log_info("Adopted lxcfs (PID %d) on %s.", pid, pv->dir);
    watch_arm(pv, WATCH_INTERVAL_USEC);
    return true;
}

int procview_new(Manager *m, ProcView **ret) {
    ProcView *pv = calloc(1, sizeof *pv);
    if (!pv)
        return -ENOMEM;
    *pv = (ProcView){.manager = m, .pidfd = -EBADF,
                     .starts = {.interval_usec = RESTART_INTERVAL_USEC, .burst = RESTART_BURST}};
    const char *bin = m->config.lxcfs_path;
    if (bin && *bin && !streq(bin, "none") && !(pv->binary = strdup(bin)))
        return free(pv), -ENOMEM;
    if (!(pv->dir = path_join(m->config.runtime_dir, "procview")) ||
        !(pv->pidfile = path_join(m->config.runtime_dir, "procview.pid"))) {
        procview_free(pv, false);
        return -ENOMEM;
    }
    *ret = pv;
    return 0;
}

void procview_start(ProcView *pv) {
    if (!pv->binary)
        return;
    if (access(pv->binary, X_OK) < 0) {
        log_warning("%s not found: no proc view (sandboxes see the host's memory, CPUs and "
                    "uptime in /proc); install lxcfs", pv->binary);
        pv->binary = mfree(pv->binary);
        return;
    }
    if (!adopt(pv))
        pv->started_new = spawn(pv) >= 0;
}

bool procview_started_new(const ProcView *pv) {
    return pv && pv->started_new;
}

const char *procview_dir(const ProcView *pv) {
    return pv && pv->ready ? pv->dir : NULL;
}

unsigned procview_generation(const ProcView *pv) {
    return pv ? pv->generation : 0;
}

/* Puts TREE (a detached clone of a new view file) at TARGET in place of the dead bind there.
 * Never unmount first and mount after: in between (ms: the unmount waits for an RCU grace
 * period) the payload would read the host's /proc file, wrong values where an error is honest.
 * Since Linux 6.5 the new one goes beneath the old and the old is lifted off, with no gap;
 * before, the new one is stacked on the dead one, which stays hidden beneath (a few mounts per
 * lxcfs restart, and restarts are rate limited). A target that is no bind any more (the
 * payload unmounted its view) gets the new file on the plain one. */
static int replace_bind(int tree, const char *target) {
    if (syscall(SYS_move_mount, tree, "", AT_FDCWD, target,
                MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_BENEATH) == 0)
        return umount2(target, MNT_DETACH | UMOUNT_NOFOLLOW) < 0 ? -errno : 0;
    if (syscall(SYS_move_mount, tree, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) < 0)
        return -errno;
    return 0;
}

/* In a child: the new files into each sandbox's mount namespace, over the dead binds. */
_noreturn_ static void rebind_child(ProcView *pv, Sandbox **list, size_t n) {
    int own = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC), failed = 0;
    struct stat host_root;
    if (stat("/", &host_root) < 0)
        _exit(100);
    for (size_t i = 0; i < n; i++) {
        int trees[PLAN_PROCVIEW_FILES];
        for (size_t f = 0; f < PLAN_PROCVIEW_FILES; f++) {
            char src[PATH_MAX];
            snprintf(src, sizeof src, "%s/%s", pv->dir, plan_procview_files[f]);
            trees[f] = (int) syscall(SYS_open_tree, AT_FDCWD, src, OPEN_TREE_CLONE | O_CLOEXEC);
            /* as rootfs_setup() binds them: a clone has lxcfs's own (writable) flags, and
             * it joins the peer group of lxcfs's mount (shared where /run is, as on systemd
             * hosts): a mount on it in a sandbox would show on the host and in the others */
            struct mount_attr attr = {.attr_set = PLAN_PROCVIEW_ATTRS, .propagation = MS_PRIVATE};
            if (trees[f] >= 0 && mount_setattr(trees[f], "", AT_EMPTY_PATH, &attr, sizeof attr) < 0)
                trees[f] = safe_close(trees[f]);
        }
        struct stat root;
        if (setns(list[i]->init_pidfd, CLONE_NEWNS) < 0) {
            failed++;
            continue;
        }
        /* only into a root the init built: a namespace still on the host's tree (or one we
         * share) would take the mounts to the host */
        if (stat("/", &root) < 0 || (root.st_dev == host_root.st_dev &&
                                     root.st_ino == host_root.st_ino)) {
            for (size_t f = 0; f < PLAN_PROCVIEW_FILES; f++)
                safe_close(trees[f]);
            failed++;
            if (setns(own, CLONE_NEWNS) < 0)
                _exit(100);
            continue;
        }
        for (size_t f = 0; f < PLAN_PROCVIEW_FILES; f++) {
            char target[PATH_MAX];
            snprintf(target, sizeof target, "/%s", plan_procview_files[f]);
            if (trees[f] < 0) {
                failed++;
                continue;
            }
            if (replace_bind(trees[f], target) < 0)
                failed++;
            close(trees[f]);
        }
        if (setns(own, CLONE_NEWNS) < 0)
            _exit(100);
    }
    _exit(failed > 99 ? 99 : failed);
}

/* Binds the current view into list[0..n-1] from a child; a child still binding an older
 * view is killed first, so it cannot lay dead files over the new ones. */
static void rebind_list(ProcView *pv, Sandbox **list, size_t n) {
    if (n == 0)
        return;
    if (pv->rebind_pid > 0) {
        (void) kill(pv->rebind_pid, SIGKILL);
        pv->stale_rebind_pid = pv->rebind_pid;
        pv->rebind_pid = 0;
    }
    pid_t pid = fork();
    if (pid == 0)
        rebind_child(pv, list, n);
    if (pid < 0) {
        log_error_errno(errno, "forking to bind the new proc view into the sandboxes: %m");
        return;
    }
    for (size_t i = 0; i < n; i++)
        list[i]->procview_generation = pv->generation;
    pv->rebind_pid = pid;
}

/* A sandbox whose init has built its root (and made its mounts private): READY came. */
static bool rebindable(const Sandbox *s) {
    return s->procview && s->init_pidfd >= 0 && s->got_ready && sandbox_is_running(s);
}

void procview_rebind(ProcView *pv) {
    Manager *m = pv->manager;
    if (!pv->ready)
        return;
    _cleanup_free_ Sandbox **list = calloc(m->n_sandboxes + 1, sizeof *list);
    size_t n = 0;
    if (!list)
        return;
    for (size_t i = 0; i < m->n_sandboxes; i++)
        if (rebindable(m->sandboxes[i]))
            list[n++] = m->sandboxes[i];
    rebind_list(pv, list, n);
}

void procview_sandbox_ready(ProcView *pv, Sandbox *s) {
    /* it bound a view that has died since its plan was made (or while it built its root).
     * All of them again, not this one alone: a child still binding the others would be
     * killed by the next (rare: lxcfs died during a start) */
    if (pv && pv->ready && rebindable(s) && s->procview_generation != pv->generation)
        procview_rebind(pv);
}

static void on_lxcfs_exit(ProcView *pv, const char *how) {
    log_warning("lxcfs (PID %d) %s; the sandboxes' proc view fails until it is back. "
                "Starting it again on %s.", (int) pv->pid, how, pv->dir);
    pv->pid = 0;
    pv->ready = false;
    pv->pidfd_source = sd_event_source_disable_unref(pv->pidfd_source);
    pv->pidfd = safe_close(pv->pidfd);
    if (pv->manager->shutting_down || pv->given_up)
        return;
    if (spawn(pv) >= 0)
        procview_rebind(pv);
}

static int on_adopted_exit(sd_event_source *src, int fd, uint32_t revents, void *userdata) {
    on_lxcfs_exit(userdata, "ended");
    return 0;
}

bool procview_on_exit(Manager *m, const siginfo_t *si) {
    ProcView *pv = m->procview;
    if (!pv || si->si_pid <= 0)
        return false;
    if (si->si_pid == pv->watch_pid) {
        pv->watch_pid = 0;
        if (pv->ready) /* else the restart re-arms it */
            watch_arm(pv, WATCH_INTERVAL_USEC);
        return true;
    }
    if (si->si_pid == pv->stale_rebind_pid) {
        pv->stale_rebind_pid = 0;
        return true;
    }
    if (si->si_pid == pv->rebind_pid) {
        pv->rebind_pid = 0;
        if (si->si_code == CLD_EXITED && si->si_status == 0)
            log_info("The new proc view is bound into the running sandboxes.");
        else
            log_warning("Binding the new proc view into the running sandboxes: %d of the "
                        "binds failed (%s %d)", si->si_status,
                        si->si_code == CLD_EXITED ? "status" : "signal", si->si_status);
        return true;
    }
    if (pv->child && si->si_pid == pv->pid) {
        char how[64];
        if (si->si_code == CLD_EXITED)
            snprintf(how, sizeof how, "exited with status %d", si->si_status);
        else
            snprintf(how, sizeof how, "was killed by %s", signal_to_string(si->si_status));
        on_lxcfs_exit(pv, how);
        return true;
    }
    return false;
}

void procview_free(ProcView *pv, bool keep_running) {
    if (!pv)
        return;
    if (pv->pid > 0 && !keep_running) {
        /* lxcfs keeps nothing worth a clean exit, which takes it seconds (its loadavg
         * thread); its mount goes lazily below */
        (void) syscall(SYS_pidfd_send_signal, pv->pidfd, SIGKILL, NULL, 0);
        if (pv->child)
            (void) waitpid(pv->pid, NULL, 0);
        clear_mount_point(pv);
        (void) unlink(pv->pidfile);
        (void) rmdir(pv->dir);
    }
    sd_event_source_disable_unref(pv->pidfd_source);
    sd_event_source_disable_unref(pv->watch_timer);
    if (pv->watch_pid > 0)
        (void) kill(pv->watch_pid, SIGKILL); /* reaped by whoever reaps our children next */
    safe_close(pv->pidfd);
    free(pv->binary);
    free(pv->dir);
    free(pv->pidfile);
    free(pv);
}
