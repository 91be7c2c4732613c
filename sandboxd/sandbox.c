/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A sandbox's life: start (plan, cgroup, spawn, wait for the payload's exec), supervision
 * (payload exit, OOM, restart policy, start limit) and stop (KillSignal=, TimeoutStopSec=, then
 * SIGKILL to the whole cgroup). Every start undoes exactly what it made when a later step
 * fails. */

#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "manager.h"
#include "path-util.h"
#include "parse-util.h"
#include "plan.h"
#include "process-util.h"
#include "rootfs.h"
#include "sandbox-bus.h"
#include "sandbox-internal.h"
#include "sandbox.h"
#include "spawn.h"
#include "strv.h"
#include "userns.h"

#define CLEANUP_RETRY_USEC (20 * USEC_PER_MSEC)
#define CLEANUP_MAX_TRIES 250 /* 5 s */

struct PendingReply {
    sd_bus_message *message;
    bool stop; /* answers a stop, else a start */
    PendingReply *next;
};

static const char *const active_state_table[_SANDBOX_STATE_MAX] = {
    [SANDBOX_INACTIVE] = "inactive",       [SANDBOX_STARTING] = "activating",
    [SANDBOX_ACTIVE] = "active",           [SANDBOX_STOPPING] = "deactivating",
    [SANDBOX_AUTO_RESTART] = "activating", [SANDBOX_FAILED] = "failed",
};

static const char *const result_table[_RESULT_MAX] = {
    [RESULT_SUCCESS] = "success",       [RESULT_RESOURCES] = "resources",
    [RESULT_EXIT_CODE] = "exit-code",   [RESULT_SIGNAL] = "signal",
    [RESULT_CORE_DUMP] = "core-dump",   [RESULT_OOM_KILL] = "oom-kill",
    [RESULT_TIMEOUT] = "timeout",       [RESULT_START_LIMIT_HIT] = "start-limit-hit",
};

const char *sandbox_active_state_to_string(SandboxState s) {
    return s < _SANDBOX_STATE_MAX ? active_state_table[s] : NULL;
}

const char *sandbox_result_to_string(SandboxResult r) {
    return r < _RESULT_MAX ? result_table[r] : NULL;
}

const char *sandbox_sub_state(const Sandbox *s) {
    switch (s->state) {
    case SANDBOX_INACTIVE:
        return "dead";
    case SANDBOX_STARTING:
        return "start";
    case SANDBOX_ACTIVE:
        return "running";
    case SANDBOX_STOPPING:
        return s->sigkill_sent ? "stop-sigkill" : "stop-sigterm";
    case SANDBOX_AUTO_RESTART:
        return "auto-restart";
    case SANDBOX_FAILED:
        return "failed";
    default:
        return NULL;
    }
}

/* systemd treats these as a clean end of a service, as if it exited 0 */
static bool clean_signal(int sig) {
    return sig == SIGHUP || sig == SIGINT || sig == SIGTERM || sig == SIGPIPE;
}

bool sandbox_should_restart(RestartPolicy policy, SandboxResult result, int exit_code,
                            int exit_status) {
    bool clean = result == RESULT_SUCCESS;
    bool abnormal_signal = (result == RESULT_SIGNAL || result == RESULT_CORE_DUMP) &&
                           !(exit_code == CLD_KILLED && clean_signal(exit_status));
    switch (policy) {
    case RESTART_NO:
        return false;
    case RESTART_ON_SUCCESS:
        return clean;
    case RESTART_ON_FAILURE:
        return !clean;
    case RESTART_ON_ABNORMAL:
        return abnormal_signal || result == RESULT_TIMEOUT || result == RESULT_OOM_KILL;
    case RESTART_ON_ABORT:
        return abnormal_signal;
    case RESTART_ALWAYS:
        return true;
    default:
        return false;
    }
}

static uint64_t now_usec(clockid_t clock) {
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
}

char *sandbox_log_path(const Sandbox *s) {
    char *p;
    if (asprintf(&p, "%s/%s.log", s->manager->config.log_dir, s->name) < 0)
        return NULL;
    return p;
}

static int open_log(const Sandbox *s) {
    _cleanup_free_ char *p = sandbox_log_path(s);
    if (!p)
        return -ENOMEM;
    int fd = open(p, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
    return fd < 0 ? -errno : fd;
}

void sandbox_log_event(Sandbox *s, const char *fmt, ...) {
    char msg[1024], stamp[64];
    va_list ap;
    time_t t = time(NULL);
    struct tm tm;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", localtime_r(&t, &tm));
    log_info("%s: %s", s->name, msg);
    _cleanup_close_ int fd = open_log(s);
    if (fd >= 0)
        (void) dprintf(fd, "%s sandboxd[%s]: %s\n", stamp, s->name, msg);
}

Sandbox *sandbox_new(Manager *m, const char *name) {
    Sandbox *s = calloc(1, sizeof(Sandbox));
    if (!s)
        return NULL;
    s->manager = m;
    s->name = strdup(name);
    s->init_pidfd = s->sync_fd = -EBADF;
    s->state_change_usec = now_usec(CLOCK_REALTIME);
    if (!s->name || asprintf(&s->runtime_dir, "%s/sandboxes/%s", m->config.runtime_dir,
                             name) < 0)
        return sandbox_free(s);
    return s;
}

static void reply_pending(Sandbox *s, bool stops, const char *error_name, const char *text) {
    for (PendingReply **p = &s->pending; *p;) {
        PendingReply *r = *p;
        if (r->stop != stops) {
            p = &r->next;
            continue;
        }
        *p = r->next;
        if (error_name)
            (void) sd_bus_reply_method_errorf(r->message, error_name, "%s", text);
        else if (stops)
            (void) sd_bus_reply_method_return(r->message, NULL);
        else
            (void) sd_bus_reply_method_return(r->message, "s", s->name);
        sd_bus_message_unref(r->message);
        free(r);
    }
}

static int add_pending(Sandbox *s, sd_bus_message *m, bool stop) {
    if (!m)
        return 0;
    PendingReply *r = calloc(1, sizeof(PendingReply));
    if (!r)
        return -ENOMEM;
    r->message = sd_bus_message_ref(m);
    r->stop = stop;
    r->next = s->pending;
    s->pending = r;
    return 0;
}

Sandbox *sandbox_free(Sandbox *s) {
    if (!s)
        return NULL;
    reply_pending(s, false, SANDBOXD_ERROR_SHUTTING_DOWN, "sandboxd is shutting down");
    reply_pending(s, true, SANDBOXD_ERROR_SHUTTING_DOWN, "sandboxd is shutting down");
    sd_event_source_disable_unref(s->sync_source);
    sd_event_source_disable_unref(s->timer_source);
    sd_event_source_disable_unref(s->pidfd_source);
    safe_close(s->init_pidfd);
    safe_close(s->sync_fd);
    cg_free(s->cgroup);
    unit_config_free(s->config);
    free(s->start_error);
    free(s->runtime_dir);
    free(s->name);
    free(s);
    return NULL;
}

void sandbox_set_config(Sandbox *s, UnitConfig *c) {
    unit_config_free(s->config);
    s->config = c;
    s->start_limit.interval_usec = c->start_limit_interval_usec;
    s->start_limit.burst = c->start_limit_burst;
}

bool sandbox_is_running(const Sandbox *s) {
    return s->state == SANDBOX_STARTING || s->state == SANDBOX_ACTIVE ||
           s->state == SANDBOX_STOPPING;
}

/* Enters a state and answers the callers waiting for it; the answers go out even when the state
 * does not change (a refused start of a failed unit must still be answered). */
static void set_state(Sandbox *s, SandboxState state) {
    if (s->state != state) {
        s->state = state;
        s->state_change_usec = now_usec(CLOCK_REALTIME);
    }
    if (state == SANDBOX_ACTIVE)
        reply_pending(s, false, NULL, NULL);
    if (state == SANDBOX_INACTIVE || state == SANDBOX_FAILED) {
        if (s->start_error)
            reply_pending(s, false, SANDBOXD_ERROR_START_FAILED, s->start_error);
        else if (s->result == RESULT_START_LIMIT_HIT)
            reply_pending(s, false, SANDBOXD_ERROR_START_LIMIT_HIT,
                          "start limit hit: too many starts in StartLimitIntervalSec=; "
                          "'sandboxctl reset-failed' allows new starts");
        else
            reply_pending(s, false, SANDBOXD_ERROR_START_FAILED,
                          "the sandbox stopped before its payload ran");
        reply_pending(s, true, NULL, NULL);
        manager_check_shutdown(s->manager);
    }
}

int sandbox_set_start_error(Sandbox *s, const char *fmt, ...) {
    va_list ap;
    free(s->start_error);
    s->start_error = NULL;
    va_start(ap, fmt);
    if (vasprintf(&s->start_error, fmt, ap) < 0)
        s->start_error = NULL;
    va_end(ap);
    return 0;
}

static int on_sync(sd_event_source *src, int fd, uint32_t revents, void *userdata);
static int on_start_timeout(sd_event_source *src, uint64_t usec, void *userdata);
static void release_runtime(Sandbox *s);

/* Sets everything up and spawns the init. On failure, undoes it all and fills start_error. */
static int start_process(Sandbox *s) {
    Manager *m = s->manager;
    const UnitConfig *c = s->config;
    _cleanup_free_ char *root = NULL, *init_dir = NULL, *state = NULL, *upper = NULL,
                        *work = NULL, *cpus = NULL, *exit_path = NULL;
    _cleanup_free_ CgIoLimit *io = NULL;
    size_t n_io = 0;
    _cleanup_(plan_freep) SandboxPlan *plan = NULL;
    _cleanup_close_ int log_fd = -EBADF, null_fd = -EBADF, plan_fd = -EBADF, exit_fd = -EBADF,
                        userns_fd = -EBADF, cg_dir_fd = -EBADF;
    _cleanup_close_pair_ int pair[2] = {-EBADF, -EBADF};
    int cg_fds[CG_HIERARCHIES_MAX], n_cg_fds = 0;
    char hostbuf[65];
    int r;

    free(s->start_error);
    s->start_error = NULL;
    s->got_ready = s->got_exit = false;
    s->main_pid = s->init_pid = 0;
    s->sigkill_sent = false;

    r = sandbox_preflight(s);
    if (r < 0)
        return r;
    s->userns_base = 0;
    if ((c->namespaces & NS_USER) && (r = sandbox_pick_userns_base(s)) < 0)
        return r;

    root = path_join(s->runtime_dir, "root");
    init_dir = path_join(s->runtime_dir, "init");
    if (asprintf(&state, "%s/sandboxes/%s", m->config.state_dir, s->name) < 0 || !root ||
        !init_dir)
        return sandbox_set_start_error(s, "out of memory"), -ENOMEM;
    const char *hostname = sandbox_effective_hostname(s, hostbuf);

    /* runtime tree: mount point and init layer, made anew at every start */
    (void) rm_rf(s->runtime_dir);
    if ((r = mkdir_p(root, 0700)) < 0)
        return sandbox_set_start_error(s, "creating %s: %s", root, strerror(-r)), r;
    if ((r = sandbox_write_init_layer(s, init_dir, hostname)) < 0) {
        sandbox_set_start_error(s, "writing the init layer in %s: %s", init_dir, strerror(-r));
        goto fail;
    }
    if (c->layers && !c->read_only) {
        /* the rw layer survives restarts; the state root stays private (CVE-2021-41091) */
        upper = path_join(state, "upper");
        work = path_join(state, "work");
        if (!upper || !work) {
            r = -ENOMEM;
            sandbox_set_start_error(s, "out of memory");
            goto fail;
        }
        (void) mkdir_p(m->config.state_dir, 0700);
        if ((r = mkdir_p(upper, 0755)) < 0 || (r = mkdir_p(work, 0700)) < 0) {
            sandbox_set_start_error(s, "creating the rw layer in %s: %s", state, strerror(-r));
            goto fail;
        }
        /* the root directory of the sandbox is the rw layer's: its root must own it */
        uid_t owner = s->userns_base;
        if (lchown(upper, owner, owner) < 0) {
            r = -errno;
            sandbox_set_start_error(s, "handing %s to host id %u: %m", upper, (unsigned) owner);
            goto fail;
        }
    }
    if (s->userns_base) {
        _cleanup_free_ char *stage = path_join(s->runtime_dir, "stage");
        if (!stage || (r = mkdir_p(stage, 0700)) < 0) {
            r = stage ? r : -ENOMEM;
            sandbox_set_start_error(s, "creating the layer stage in %s: %s", s->runtime_dir,
                            strerror(-r));
            goto fail;
        }
    }

    if (c->allowed_cpus_set && !(cpus = cpu_set_to_string(&c->allowed_cpus))) {
        r = -ENOMEM;
        sandbox_set_start_error(s, "out of memory");
        goto fail;
    }
    if ((r = sandbox_resolve_io_limits(s, &io, &n_io)) < 0)
        goto fail;
    CgLimits limits = {
        .cpu_quota_permyriad = c->cpu_quota_permyriad,
        .cpu_period_usec = CPU_QUOTA_PERIOD_USEC,
        .cpu_weight = c->cpu_weight,
        .cpus = cpus,
        .memory_max = c->memory_max,
        .memory_high = c->memory_high,
        .memory_swap_max = c->memory_swap_max,
        .tasks_max = c->tasks_max,
        .io = io,
        .n_io = n_io,
    };
    unsigned ignored = 0;
    r = cg_create(m->config.slice, s->name, &limits, &s->cgroup, &ignored);
    if (r == -EOPNOTSUPP && cg_missing_controller(&limits)) {
        sandbox_set_start_error(s, "creating cgroup %s/%s: [Resources] needs the %s controller, "
                                   "which is not available to sandboxd on this host",
                                m->config.slice, s->name, cg_missing_controller(&limits));
        goto fail;
    }
    if (r < 0) {
        sandbox_set_start_error(s, "creating cgroup %s/%s: %s", m->config.slice, s->name, strerror(-r));
        goto fail;
    }
    /* as systemd: a limit the hierarchy cannot express is reported, and the unit runs */
    if (ignored & CG_IGNORED_MEMORY_HIGH)
        sandbox_log_event(s, "MemoryHigh= needs cgroup v2; not applied on this host");
    if (ignored & CG_IGNORED_SWAP)
        sandbox_log_event(s, "MemorySwapMax= on cgroup v1 needs swap accounting and "
                             "MemoryMax=; not applied");
    r = n_cg_fds = cg_open_procs_fds(s->cgroup, cg_fds, ELEMENTSOF(cg_fds));
    if (r < 0) {
        sandbox_set_start_error(s, "opening cgroup.procs of %s: %s", cg_display_path(s->cgroup),
                        strerror(-r));
        goto fail;
    }

    cg_dir_fd = cg_open_dir(s->cgroup); /* -EOPNOTSUPP on v1: the child joins by writing */

    r = sandbox_build_plan(s, root, init_dir, upper, work, hostname, &plan);
    if (r >= 0)
        r = plan_fd = plan_to_memfd(plan);
    if (r < 0) {
        sandbox_set_start_error(s, "writing the sandbox plan: %s", strerror(-r));
        goto fail_fds;
    }
    log_fd = open_log(s);
    null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    exit_path = path_join(s->runtime_dir, "exit");
    if (!exit_path) {
        r = -ENOMEM;
        sandbox_set_start_error(s, "out of memory");
        goto fail_fds;
    }
    exit_fd = open(exit_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
    if (exit_fd < 0) {
        r = -errno;
        sandbox_set_start_error(s, "creating %s: %m", exit_path);
        goto fail_fds;
    }
    if (log_fd < 0 || null_fd < 0) {
        r = log_fd < 0 ? log_fd : -errno;
        sandbox_set_start_error(s, "opening the log file in %s: %s", m->config.log_dir, strerror(-r));
        goto fail_fds;
    }
    if (s->userns_base && (r = userns_create(s->userns_base, USERNS_SIZE, &userns_fd)) < 0) {
        sandbox_set_start_error(s, "creating the user namespace for host ids %u-%u: %s",
                        s->userns_base, s->userns_base + USERNS_SIZE - 1, strerror(-r));
        goto fail_fds;
    }
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0 ||
        setsockopt(pair[0], SOL_SOCKET, SO_PASSCRED, &(int){1}, sizeof(int)) < 0) {
        r = -errno;
        sandbox_set_start_error(s, "creating the sync socket: %m");
        goto fail_fds;
    }

    SpawnParams sp = {
        .clone_flags = sandbox_clone_flags(c->namespaces),
        .cgroup_ns = c->namespaces & NS_CGROUP,
        .cgroup_dir_fd = cg_dir_fd,
        .cgroup_fds = cg_fds,
        .n_cgroup_fds = (size_t) n_cg_fds,
        .stdin_fd = null_fd,
        .output_fd = log_fd,
        .sync_fd = pair[1],
        .plan_fd = plan_fd,
        .exit_fd = exit_fd,
        .userns_fd = userns_fd,
        .init_path = m->config.init_path,
    };
    SpawnError se = {0};
    r = spawn_init(&sp, &s->init_pid, &s->init_pidfd, &se);
    for (int i = 0; i < n_cg_fds; i++)
        safe_close(cg_fds[i]);
    n_cg_fds = 0;
    if (r < 0) {
        sandbox_set_start_error(s, "spawning the sandbox (step %s): %s", se.step, strerror(-r));
        goto fail;
    }
    log_debug("%s: init %d %s %s", s->name, (int) s->init_pid,
              r > 0 ? "born in its cgroup by clone3(CLONE_INTO_CGROUP):" : "joined its cgroup",
              cg_display_path(s->cgroup));
    pair[1] = safe_close(pair[1]);
    s->sync_fd = TAKE_FD(pair[0]);

    /* The exit of the init reaches us through the manager's SIGCHLD handler. */
    r = sd_event_add_io(m->event, &s->sync_source, s->sync_fd, EPOLLIN, on_sync, s);
    if (r >= 0)
        /* messages before the exit: READY/EXIT must be read before the child is handled */
        r = sd_event_source_set_priority(s->sync_source, SD_EVENT_PRIORITY_IMPORTANT);
    if (r >= 0 && c->timeout_start_usec != USEC_INFINITY)
        r = sd_event_add_time_relative(m->event, &s->timer_source, CLOCK_MONOTONIC,
                                       c->timeout_start_usec, 0, on_start_timeout, s);
    if (r < 0) {
        sandbox_set_start_error(s, "watching the sandbox: %s", strerror(-r));
        goto fail_spawned;
    }
    SyncMsg go = {.type = SYNC_GO};
    if (send(s->sync_fd, &go, sizeof go, MSG_NOSIGNAL) != (ssize_t) sizeof go) {
        r = -errno;
        sandbox_set_start_error(s, "releasing the sandbox's init: %m");
        goto fail_spawned;
    }
    return 0;

fail_spawned:
    /* the init still waits for "go": it holds nothing but its namespaces */
    (void) syscall(SYS_pidfd_send_signal, s->init_pidfd, SIGKILL, NULL, 0);
    (void) waitid(P_PIDFD, (id_t) s->init_pidfd, &(siginfo_t){0}, WEXITED);
    s->init_pid = 0;
    goto fail;
fail_fds:
    for (int i = 0; i < n_cg_fds; i++)
        safe_close(cg_fds[i]);
fail:
    release_runtime(s);
    return r;
}

/* Closes what the running sandbox held; kills and removes the cgroup. Returns -EBUSY when the
 * cgroup still has processes (the caller retries). */
static int release_cgroup(Sandbox *s) {
    if (!s->cgroup)
        return 0;
    (void) cg_kill(s->cgroup, SIGKILL);
    int r = cg_destroy(s->cgroup);
    if (r < 0)
        return r;
    s->cgroup = cg_free(s->cgroup);
    return 0;
}

static void release_runtime(Sandbox *s) {
    s->sync_source = sd_event_source_disable_unref(s->sync_source);
    s->timer_source = sd_event_source_disable_unref(s->timer_source);
    s->pidfd_source = sd_event_source_disable_unref(s->pidfd_source);
    s->init_pidfd = safe_close(s->init_pidfd);
    s->sync_fd = safe_close(s->sync_fd);
    s->adopted = false;
    int r = release_cgroup(s);
    if (r == -EBUSY) /* killed processes still exiting: on_cleanup_retry tries again */
        log_debug_errno(r, "%s: cgroup %s still busy, retrying", s->name,
                        cg_display_path(s->cgroup));
    else if (r < 0)
        log_warning_errno(r, "%s: removing cgroup %s: %m", s->name, cg_display_path(s->cgroup));
    /* only an empty mount point and the init layer live here: the mounts were in the
     * sandbox's own mount namespace and died with it */
    r = rm_rf(s->runtime_dir);
    if (r < 0)
        log_warning_errno(r, "%s: removing %s: %m", s->name, s->runtime_dir);
}

static int on_restart_timer(sd_event_source *src, uint64_t usec, void *userdata);

/* The init is gone and the cgroup removed: decide what comes next. */
static void finish_exit(Sandbox *s) {
    Manager *m = s->manager;
    const UnitConfig *c = s->config;
    s->main_pid = s->init_pid = 0;

    if (s->start_error) {
        sandbox_log_event(s, "Failed to start: %s", s->start_error);
        reply_pending(s, false, SANDBOXD_ERROR_START_FAILED, s->start_error);
    } else if (s->got_exit) {
        if (s->exit_code == CLD_EXITED)
            sandbox_log_event(s, "Main process exited, status=%d", s->exit_status);
        else
            sandbox_log_event(s, "Main process killed by %s%s", signal_to_string(s->exit_status),
                              s->result == RESULT_OOM_KILL ? " (out of memory)" : "");
    }

    if (s->stop_requested) {
        s->stop_requested = false;
        if (s->result != RESULT_TIMEOUT)
            s->result = RESULT_SUCCESS;
        sandbox_log_event(s, "Stopped%s.", s->result == RESULT_TIMEOUT ? " (timeout)" : "");
        set_state(s, SANDBOX_INACTIVE);
        return;
    }
    if (!m->shutting_down &&
        sandbox_should_restart(c->restart, s->result, s->exit_code, s->exit_status)) {
        s->state = SANDBOX_AUTO_RESTART; /* answer waiting starters only on the final outcome */
        s->state_change_usec = now_usec(CLOCK_REALTIME);
        int r = sd_event_add_time_relative(m->event, &s->timer_source, CLOCK_MONOTONIC,
                                           c->restart_usec, 0, on_restart_timer, s);
        if (r >= 0)
            return;
        log_error_errno(r, "%s: scheduling the restart: %m", s->name);
    }
    set_state(s, s->result == RESULT_SUCCESS ? SANDBOX_INACTIVE : SANDBOX_FAILED);
}

static int on_cleanup_retry(sd_event_source *src, uint64_t usec, void *userdata) {
    Sandbox *s = userdata;
    s->timer_source = sd_event_source_disable_unref(s->timer_source);
    int r = release_cgroup(s);
    if (r == -EBUSY && ++s->cleanup_tries < CLEANUP_MAX_TRIES) {
        r = sd_event_add_time_relative(s->manager->event, &s->timer_source, CLOCK_MONOTONIC,
                                       CLEANUP_RETRY_USEC, 0, on_cleanup_retry, s);
        if (r >= 0)
            return 0;
    }
    if (r < 0)
        log_error_errno(r, "%s: cannot remove cgroup %s, leaving it: %m", s->name,
                        s->cgroup ? cg_display_path(s->cgroup) : "?");
    s->cgroup = cg_free(s->cgroup);
    finish_exit(s);
    return 0;
}

static void handle_msg(Sandbox *s, const SyncMsg *msg, pid_t cred_pid) {
    switch (msg->type) {
    case SYNC_READY:
        s->got_ready = true;
        s->main_pid = cred_pid > 0 ? cred_pid : s->init_pid;
        s->timer_source = sd_event_source_disable_unref(s->timer_source);
        sandbox_log_event(s, "Started, main PID %d.", (int) s->main_pid);
        int r = sandbox_save(s);
        if (r < 0) /* only a later sandboxd needs it: not a reason to fail the start */
            log_warning_errno(r, "%s: saving its state for re-adoption: %m", s->name);
        if (s->state == SANDBOX_STARTING)
            set_state(s, SANDBOX_ACTIVE);
        else if (s->state == SANDBOX_STOPPING)
            reply_pending(s, false, NULL, NULL); /* it did start, a stop was asked since */
        break;
    case SYNC_ERROR: {
        char detail[sizeof msg->detail + 1], step[sizeof msg->step + 1];
        snprintf(detail, sizeof detail, "%.*s", (int) sizeof msg->detail, msg->detail);
        snprintf(step, sizeof step, "%.*s", (int) sizeof msg->step, msg->step);
        sandbox_set_start_error(s, "%s (step %s): %s", detail, step, strerror(msg->error));
        break;
    }
    case SYNC_EXIT:
        s->got_exit = true;
        s->exit_code = msg->code;
        s->exit_status = msg->status;
        break;
    default:
        break;
    }
}

/* Reads every queued message; returns false once the other end is closed. */
static bool drain_sync(Sandbox *s) {
    for (;;) {
        SyncMsg msg;
        union {
            char buf[CMSG_SPACE(sizeof(struct ucred))];
            struct cmsghdr align;
        } control;
        struct iovec iov = {&msg, sizeof msg};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
                            .msg_controllen = sizeof control.buf};
        ssize_t n = recvmsg(s->sync_fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (n < 0)
            return errno == EAGAIN || errno == EINTR;
        if (n == 0)
            return false;
        if (n != (ssize_t) sizeof msg)
            continue;
        pid_t pid = 0;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
                struct ucred cred;
                memcpy(&cred, CMSG_DATA(c), sizeof cred);
                pid = cred.pid;
            }
        handle_msg(s, &msg, pid);
    }
}

static int on_sync(sd_event_source *src, int fd, uint32_t revents, void *userdata) {
    Sandbox *s = userdata;
    if (!drain_sync(s))
        s->sync_source = sd_event_source_disable_unref(s->sync_source);
    return 0;
}

static SandboxResult result_of(Sandbox *s, const siginfo_t *si) {
    uint64_t ooms = 0;
    if (s->start_error)
        return RESULT_RESOURCES;
    if (s->cgroup && cg_read_oom_kills(s->cgroup, &ooms) >= 0 && ooms > 0)
        return RESULT_OOM_KILL;
    if (s->sigkill_sent)
        return RESULT_TIMEOUT;
    int code = s->got_exit ? s->exit_code : si->si_code;
    int status = s->got_exit ? s->exit_status : si->si_status;
    if (!s->got_exit) {
        s->exit_code = code;
        s->exit_status = status;
    }
    if (code == CLD_EXITED)
        return status == 0 ? RESULT_SUCCESS : RESULT_EXIT_CODE;
    if (code == CLD_KILLED && clean_signal(status))
        return RESULT_SUCCESS;
    return code == CLD_DUMPED ? RESULT_CORE_DUMP : RESULT_SIGNAL;
}

/* The init wrote how the payload ended into this file too; it is what tells a re-adopting
 * sandboxd, for which the sync socket is gone. */
static void read_exit_file(Sandbox *s) {
    _cleanup_free_ char *p = path_join(s->runtime_dir, "exit"), *text = NULL;
    size_t len;
    if (p && read_file(p, 4096, &text, &len) >= 0 && len >= sizeof(SyncMsg)) {
        SyncMsg m;
        memcpy(&m, text, sizeof m);
        if (m.type == SYNC_EXIT)
            handle_msg(s, &m, 0);
    }
}

void sandbox_on_init_exit(Sandbox *s, const siginfo_t *si) {
    if (s->sync_fd >= 0)
        (void) drain_sync(s);
    if (!s->got_exit)
        read_exit_file(s);
    if (s->adopted)
        s->got_ready = true; /* it ran under the previous sandboxd */
    if (!s->got_ready && !s->start_error && !s->sigkill_sent)
        sandbox_set_start_error(s, "the sandbox's init ended before the payload ran (%s %d)",
                        si->si_code == CLD_EXITED ? "status" : "signal", si->si_status);
    /* read the OOM counter before the cgroup goes */
    s->result = result_of(s, si);
    s->init_pid = 0;
    s->cleanup_tries = 0;
    release_runtime(s);
    if (s->cgroup) {
        /* killed processes are still exiting, or are zombies of ours about to be reaped */
        int r = sd_event_add_time_relative(s->manager->event, &s->timer_source,
                                           CLOCK_MONOTONIC, CLEANUP_RETRY_USEC, 0,
                                           on_cleanup_retry, s);
        if (r >= 0)
            return;
        s->cgroup = cg_free(s->cgroup);
    }
    finish_exit(s);
}

static int kill_init(Sandbox *s, int sig) {
    if (s->init_pidfd < 0)
        return -ESRCH;
    return RET_NERRNO((int) syscall(SYS_pidfd_send_signal, s->init_pidfd, sig, NULL, 0));
}

static int on_stop_timeout(sd_event_source *src, uint64_t usec, void *userdata) {
    Sandbox *s = userdata;
    s->timer_source = sd_event_source_disable_unref(s->timer_source);
    sandbox_log_event(s, "Stop timed out after TimeoutStopSec=, killing the whole cgroup.");
    s->sigkill_sent = true;
    if (s->cgroup)
        (void) cg_kill(s->cgroup, SIGKILL);
    (void) kill_init(s, SIGKILL);
    return 0;
}

static int on_start_timeout(sd_event_source *src, uint64_t usec, void *userdata) {
    Sandbox *s = userdata;
    s->timer_source = sd_event_source_disable_unref(s->timer_source);
    sandbox_set_start_error(s, "the sandbox was not ready within TimeoutStartSec=");
    if (s->cgroup)
        (void) cg_kill(s->cgroup, SIGKILL);
    (void) kill_init(s, SIGKILL);
    return 0;
}

static int begin_start(Sandbox *s) {
    Manager *m = s->manager;
    if (!ratelimit_below(&s->start_limit, now_usec(CLOCK_MONOTONIC))) {
        free(s->start_error);
        s->start_error = NULL;
        s->result = RESULT_START_LIMIT_HIT;
        sandbox_log_event(s, "Start request repeated too quickly, refusing to start.");
        set_state(s, SANDBOX_FAILED);
        return -EAGAIN;
    }
    s->result = RESULT_SUCCESS;
    set_state(s, SANDBOX_STARTING);
    int r = start_process(s);
    if (r < 0) {
        s->result = RESULT_RESOURCES;
        sandbox_log_event(s, "Failed to start: %s", s->start_error);
        /* a start that never spawned still follows Restart=, as in systemd */
        if (!m->shutting_down && sandbox_should_restart(s->config->restart, s->result, 0, 0) &&
            sd_event_add_time_relative(m->event, &s->timer_source, CLOCK_MONOTONIC,
                                       s->config->restart_usec, 0, on_restart_timer, s) >= 0) {
            s->state = SANDBOX_AUTO_RESTART;
            reply_pending(s, false, SANDBOXD_ERROR_START_FAILED, s->start_error);
            return r;
        }
        set_state(s, SANDBOX_FAILED);
        return r;
    }
    return 0;
}

static int on_restart_timer(sd_event_source *src, uint64_t usec, void *userdata) {
    Sandbox *s = userdata;
    s->timer_source = sd_event_source_disable_unref(s->timer_source);
    s->n_restarts++;
    sandbox_log_event(s, "Scheduled restart, restart counter is at %u.", s->n_restarts);
    (void) begin_start(s);
    return 0;
}

int sandbox_start(Sandbox *s, sd_bus_message *reply) {
    switch (s->state) {
    case SANDBOX_ACTIVE:
        if (reply)
            return sd_bus_reply_method_return(reply, "s", s->name);
        return 0;
    case SANDBOX_STARTING:
        return add_pending(s, reply, false);
    case SANDBOX_STOPPING:
        if (reply)
            return sd_bus_reply_method_errorf(reply, SANDBOXD_ERROR_UNIT_BUSY,
                                              "%s is stopping; start it again once it is down",
                                              s->name);
        return -EBUSY;
    case SANDBOX_AUTO_RESTART:
        s->timer_source = sd_event_source_disable_unref(s->timer_source);
        break;
    default:
        break;
    }
    int r = add_pending(s, reply, false);
    if (r < 0)
        return r;
    (void) begin_start(s); /* the outcome reaches the caller through the pending reply */
    return 0;
}

int sandbox_stop(Sandbox *s, sd_bus_message *reply) {
    int r;
    switch (s->state) {
    case SANDBOX_INACTIVE:
    case SANDBOX_FAILED:
        return reply ? sd_bus_reply_method_return(reply, NULL) : 0;
    case SANDBOX_AUTO_RESTART:
        s->timer_source = sd_event_source_disable_unref(s->timer_source);
        sandbox_log_event(s, "Stopped (restart cancelled).");
        set_state(s, s->result == RESULT_SUCCESS ? SANDBOX_INACTIVE : SANDBOX_FAILED);
        return reply ? sd_bus_reply_method_return(reply, NULL) : 0;
    case SANDBOX_STOPPING:
        return add_pending(s, reply, true);
    default:
        break;
    }
    r = add_pending(s, reply, true);
    if (r < 0)
        return r;
    s->stop_requested = true;
    s->timer_source = sd_event_source_disable_unref(s->timer_source);
    set_state(s, SANDBOX_STOPPING);
    sandbox_log_event(s, "Stopping, sending %s.", signal_to_string(s->config->kill_signal));
    /* the init forwards it to the payload; the rest of the sandbox dies with the init */
    r = kill_init(s, s->config->kill_signal);
    if (r < 0 && r != -ESRCH)
        log_warning_errno(r, "%s: sending %s: %m", s->name,
                          signal_to_string(s->config->kill_signal));
    if (s->config->timeout_stop_usec != USEC_INFINITY) {
        r = sd_event_add_time_relative(s->manager->event, &s->timer_source, CLOCK_MONOTONIC,
                                       s->config->timeout_stop_usec, 0, on_stop_timeout, s);
        if (r < 0)
            (void) on_stop_timeout(NULL, 0, s);
    }
    return 0;
}

int sandbox_reset_failed(Sandbox *s) {
    ratelimit_reset(&s->start_limit);
    if (s->state == SANDBOX_FAILED) {
        s->result = RESULT_SUCCESS;
        set_state(s, SANDBOX_INACTIVE);
    }
    return 0;
}

int sandbox_clean(Sandbox *s) {
    if (sandbox_is_running(s) || s->state == SANDBOX_AUTO_RESTART)
        return -EBUSY;
    _cleanup_free_ char *state = NULL;
    if (asprintf(&state, "%s/sandboxes/%s", s->manager->config.state_dir, s->name) < 0)
        return -ENOMEM;
    int r = rm_rf(state);
    if (r < 0)
        return r;
    return rm_rf(s->runtime_dir);
}

