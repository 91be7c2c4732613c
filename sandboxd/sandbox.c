/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A sandbox's life as a state machine: start (the steps live in sandbox-start.c; wait for the
 * payload's exec), supervision (payload exit, OOM, restart policy, start limit) and stop
 * (KillSignal=, TimeoutStopSec=, then SIGKILL to the whole cgroup). set_state() is the only
 * writer of the state; it disarms the timer of the state it leaves and tells the callers
 * waiting for it. */

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
#include "init-protocol.h"
#include "job.h"
#include "process-util.h"
#include "rm-rf.h"
#include "sandbox-internal.h"
#include "procview.h"
#include "sandbox.h"
#include "seccomp-cache.h"
#include "strv.h"
#include "time-util.h"

#define CLEANUP_RETRY_USEC (20 * USEC_PER_MSEC)
#define CLEANUP_MAX_TRIES 250 /* 5 s */

struct SandboxJob {
    bool stop; /* waits for a stop, else a start */
    SandboxJobDone done;
    void *userdata;
    SandboxJob *next;
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
    [RESULT_DEPENDENCY] = "dependency", [RESULT_WATCHDOG] = "watchdog",
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
        return abnormal_signal || result == RESULT_TIMEOUT || result == RESULT_OOM_KILL ||
               result == RESULT_WATCHDOG;
    case RESTART_ON_WATCHDOG:
        return result == RESULT_WATCHDOG;
    case RESTART_ON_ABORT:
        return abnormal_signal;
    case RESTART_ALWAYS:
        return true;
    default:
        return false;
    }
}

Sandbox *sandbox_new(Manager *m, const char *name) {
    Sandbox *s = calloc(1, sizeof(Sandbox));
    if (!s)
        return NULL;
    s->manager = m;
    s->name = strdup(name);
    s->init_pidfd = s->sync_fd = s->notify_fd = s->log_fd = s->log_file_fd = -EBADF;
    s->mainpid_limit = (RateLimit){.interval_usec = USEC_PER_SEC, .burst = 2};
    s->state_change_usec = now_usec(CLOCK_REALTIME);
    if (!s->name || asprintf(&s->runtime_dir, "%s/sandboxes/%s", m->config.runtime_dir,
                             name) < 0)
        return sandbox_free(s);
    return s;
}

/* Tells the callers waiting for a stop (stops) or a start (!stops), and forgets them. */
static void finish_jobs(Sandbox *s, bool stops, int r, const char *message) {
    for (SandboxJob **p = &s->jobs; *p;) {
        SandboxJob *j = *p;
        if (j->stop != stops) {
            p = &j->next;
            continue;
        }
        *p = j->next;
        if (j->done)
            j->done(s, j->userdata, r, message);
        free(j);
    }
}

static int add_job(Sandbox *s, bool stop, SandboxJobDone done, void *userdata) {
    if (!done)
        return 0;
    SandboxJob *j = calloc(1, sizeof(SandboxJob));
    if (!j)
        return -ENOMEM;
    *j = (SandboxJob){.stop = stop, .done = done, .userdata = userdata, .next = s->jobs};
    s->jobs = j;
    return 0;
}

Sandbox *sandbox_free(Sandbox *s) {
    if (!s)
        return NULL;
    finish_jobs(s, false, -ESHUTDOWN, "sandboxd is shutting down");
    finish_jobs(s, true, -ESHUTDOWN, "sandboxd is shutting down");
    sd_event_source_disable_unref(s->sync_source);
    sd_event_source_disable_unref(s->timer_source);
    sd_event_source_disable_unref(s->cleanup_source);
    sd_event_source_disable_unref(s->pidfd_source);
    sandbox_notify_close(s);
    sandbox_health_stop(s);
    sandbox_log_free(s); /* what waits in the pipe is the next sandboxd's (--keep-running) */
    free(s->status_text);
    free(s->health_result);
    free(s->health_output);
    safe_close(s->init_pidfd);
    safe_close(s->sync_fd);
    cg_free(s->cgroup);
    unit_config_free(s->config);
    free(s->start_error);
    seccomp_filter_unref(s->seccomp);
    resolved_image_free(s->image);
    sandbox_net_done(&s->net);
    free(s->runtime_dir);
    free(s->name);
    free(s);
    return NULL;
}

void sandbox_set_config(Sandbox *s, UnitConfig *c) {
    unit_config_free(s->config);
    s->config = c;
    s->reloaded = false;
    s->start_limit.interval_usec = c->start_limit_interval_usec;
    s->start_limit.burst = c->start_limit_burst;
}

bool sandbox_is_running(const Sandbox *s) {
    return s->state == SANDBOX_STARTING || s->state == SANDBOX_ACTIVE ||
           s->state == SANDBOX_STOPPING;
}

/* The only writer of s->state. Leaving a state disarms its timer (start timeout, stop
 * timeout, restart delay); entering a resting state tells the callers waiting for it. The
 * answers go out even when the state does not change (a refused start of a failed unit must
 * still be answered). */
void sandbox_set_state(Sandbox *s, SandboxState state) {
    SandboxState old = s->state;
    bool was_running = sandbox_is_running(s);
    if (s->state != state) {
        s->timer_source = sd_event_source_disable_unref(s->timer_source);
        s->state = state;
        s->state_change_usec = now_usec(CLOCK_REALTIME);
        manager_bus_emit_state(s, old);
    }
    if (state == SANDBOX_ACTIVE)
        finish_jobs(s, false, 0, NULL);
    if (state == SANDBOX_INACTIVE || state == SANDBOX_FAILED) {
        if (s->start_error)
            finish_jobs(s, false, -EIO, s->start_error);
        else if (s->result == RESULT_START_LIMIT_HIT)
            finish_jobs(s, false, -EAGAIN,
                        "start limit hit: too many starts in StartLimitIntervalSec=; "
                        "'sandboxctl reset-failed' allows new starts");
        else
            finish_jobs(s, false, -EIO, "the sandbox stopped before its payload ran");
        finish_jobs(s, true, 0, NULL);
        sandbox_log_at_rest(s);
        if (s->config && s->config->image) /* its layers may go now (StoreMaxSize=) */
            image_gc(s->manager, NULL);
        manager_check_shutdown(s->manager);
    }
    if (state == SANDBOX_FAILED && old != SANDBOX_FAILED)
        manager_unit_went_down(s, true);
    else if (was_running && !sandbox_is_running(s))
        manager_unit_went_down(s, false);
}

void sandbox_fail_dependency(Sandbox *s, const char *why) {
    if (sandbox_is_running(s))
        return;
    sandbox_set_start_error(s, "%s", why);
    s->result = RESULT_DEPENDENCY;
    sandbox_log_event(s, "Not started: %s.", why);
    sandbox_set_state(s, SANDBOX_FAILED);
}

void sandbox_abandon_jobs(Sandbox *s) {
    finish_jobs(s, false, -ESHUTDOWN, "sandboxd is shutting down");
    finish_jobs(s, true, -ESHUTDOWN, "sandboxd is shutting down");
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

int sandbox_release_cgroup(Sandbox *s) {
    if (!s->cgroup)
        return 0;
    (void) cg_kill(s->cgroup, SIGKILL);
    int r = cg_destroy(s->cgroup);
    if (r < 0)
        return r;
    s->cgroup = cg_free(s->cgroup);
    return 0;
}

static void finish_exit(Sandbox *s);

static int on_cleanup_retry(sd_event_source *src, uint64_t usec, void *userdata) {
    Sandbox *s = userdata;
    s->cleanup_source = sd_event_source_disable_unref(s->cleanup_source);
    int r = sandbox_release_cgroup(s);
    if (r == -EBUSY && ++s->cleanup_tries < CLEANUP_MAX_TRIES) {
        r = sd_event_add_time_relative(s->manager->event, &s->cleanup_source, CLOCK_MONOTONIC,
                                       CLEANUP_RETRY_USEC, TIMER_ACCURACY_USEC, on_cleanup_retry, s);
        if (r >= 0)
            return 0;
    }
    if (r < 0)
        log_error_errno(r, "%s: cannot remove cgroup %s, leaving it: %m", s->name,
                        s->cgroup ? cg_display_path(s->cgroup) : "?");
    s->cgroup = cg_free(s->cgroup);
    if (s->finish_after_cleanup)
        finish_exit(s);
    return 0;
}

/* Retries removing a cgroup whose killed processes are still exiting; then, for an exit, goes
 * on with finish_exit(). Returns false when there was nothing to wait for. */
static bool schedule_cleanup(Sandbox *s, bool then_finish) {
    if (!s->cgroup)
        return false;
    s->cleanup_tries = 0;
    s->finish_after_cleanup = then_finish;
    s->cleanup_source = sd_event_source_disable_unref(s->cleanup_source);
    int r = sd_event_add_time_relative(s->manager->event, &s->cleanup_source, CLOCK_MONOTONIC,
                                       CLEANUP_RETRY_USEC, TIMER_ACCURACY_USEC, on_cleanup_retry, s);
    if (r >= 0)
        return true;
    log_error_errno(r, "%s: cannot watch cgroup %s for removal, leaving it: %m", s->name,
                    cg_display_path(s->cgroup));
    s->cgroup = cg_free(s->cgroup);
    return false;
}

void sandbox_release_runtime(Sandbox *s) {
    /* the init is gone or never ran: what it wrote is all in the pipe */
    sandbox_log_drain(s);
    sandbox_log_detach(s);
    s->sync_source = sd_event_source_disable_unref(s->sync_source);
    s->pidfd_source = sd_event_source_disable_unref(s->pidfd_source);
    s->init_pidfd = safe_close(s->init_pidfd);
    s->sync_fd = safe_close(s->sync_fd);
    sandbox_notify_close(s);
    sandbox_health_stop(s);
    s->adopted = false;
    /* a failed start: its init never got "go" (else got_ready or an exit would be known) */
    network_sandbox_detach(s->manager->network, s, s->start_error != NULL);
    int r = sandbox_release_cgroup(s);
    if (r == -EBUSY) /* killed processes still exiting: the caller schedules a retry */
        log_debug_errno(r, "%s: cgroup %s still busy, retrying", s->name,
                        cg_display_path(s->cgroup));
    else if (r < 0)
        log_warning_errno(r, "%s: removing cgroup %s: %m", s->name, cg_display_path(s->cgroup));
    /* only an empty mount point, the init layer and the state file live here: the mounts
     * were in the sandbox's own mount namespace and died with it */
    r = rm_rf(s->runtime_dir);
    if (r < 0)
        log_warning_errno(r, "%s: removing %s: %m", s->name, s->runtime_dir);
}

static int on_restart_timer(sd_event_source *src, uint64_t usec, void *userdata);

/* Waits RestartSec= in auto-restart; false if the timer cannot be armed. */
static bool schedule_restart(Sandbox *s) {
    sandbox_set_state(s, SANDBOX_AUTO_RESTART);
    int r = sd_event_add_time_relative(s->manager->event, &s->timer_source, CLOCK_MONOTONIC,
                                       s->config->restart_usec, TIMER_ACCURACY_USEC, on_restart_timer, s);
    if (r >= 0)
        return true;
    log_error_errno(r, "%s: scheduling the restart: %m", s->name);
    return false;
}

/* The init is gone and the cgroup removed: decide what comes next. */
static void finish_exit(Sandbox *s) {
    Manager *m = s->manager;
    const UnitConfig *c = s->config;
    s->main_pid = s->init_pid = 0;

    if (s->start_error)
        sandbox_log_event(s, "Failed to start: %s", s->start_error);
    else if (s->got_exit) {
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
        sandbox_set_state(s, SANDBOX_INACTIVE);
        return;
    }
    if (!m->shutting_down &&
        sandbox_should_restart(c->restart, s->result, s->exit_code, s->exit_status)) {
        /* the waiting starters are answered only on the final outcome */
        if (schedule_restart(s))
            return;
    }
    sandbox_set_state(s, s->result == RESULT_SUCCESS ? SANDBOX_INACTIVE : SANDBOX_FAILED);
}

static void handle_msg(Sandbox *s, const SyncMsg *msg, pid_t cred_pid) {
    switch (msg->type) {
    case SYNC_READY:
        s->got_ready = true;
        /* unless a MAINPID= read first named another */
        if (s->main_pid <= 0)
            s->main_pid = cred_pid > 0 ? cred_pid : s->init_pid;
        log_debug("%s: payload ready %" PRIu64 " µs after go", s->name,
                  now_usec(CLOCK_MONOTONIC) - s->released_usec);
        sandbox_log_event(s, "Started, main PID %d.", (int) s->main_pid);
        int r = sandbox_save(s);
        if (r < 0) /* only a later sandboxd needs it: not a reason to fail the start */
            log_warning_errno(r, "%s: saving its state for re-adoption: %m", s->name);
        sandbox_health_start(s);
        procview_sandbox_ready(s->manager->procview, s);
        if (s->state == SANDBOX_STARTING)
            sandbox_ready(s); /* Type=notify: once READY=1 came too */
        else if (s->state == SANDBOX_STOPPING)
            finish_jobs(s, false, 0, NULL); /* it did start, a stop was asked since */
        break;
    case SYNC_ERROR: {
        char detail[sizeof msg->detail + 1], step[sizeof msg->step + 1];
        snprintf(detail, sizeof detail, "%.*s", (int) sizeof msg->detail, msg->detail);
        snprintf(step, sizeof step, "%.*s", (int) sizeof msg->step, msg->step);
        if (msg->code == SYNC_ERROR_DETAIL_COMPLETE)
            sandbox_set_start_error(s, "%s (step %s)", detail, step);
        else
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

int sandbox_on_sync(sd_event_source *src, int fd, uint32_t revents, void *userdata) {
    Sandbox *s = userdata;
    if (!drain_sync(s))
        s->sync_source = sd_event_source_disable_unref(s->sync_source);
    return 0;
}

static SandboxResult result_of(Sandbox *s, const siginfo_t *si) {
    uint64_t ooms = 0;
    if (s->stop_requested && !s->got_ready)
        return RESULT_SUCCESS; /* stopped before the payload ran: what was asked */
    if (s->start_timed_out)
        return RESULT_TIMEOUT;
    if (s->watchdog_fired)
        return RESULT_WATCHDOG;
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
    if (!s->got_ready && !s->start_error && !s->sigkill_sent && !s->stop_requested)
        sandbox_set_start_error(s, "the sandbox's init ended before the payload ran (%s %d)",
                                si->si_code == CLD_EXITED ? "status" : "signal",
                                si->si_status);
    else if (s->got_ready && !s->got_exit && si->si_code != CLD_EXITED && !s->adopted &&
             !s->sigkill_sent)
        /* not the payload's end: the init itself was killed, and the sandbox with it */
        sandbox_log_event(s, "The sandbox's init (PID %d) was killed by %s; the payload "
                             "died with it.", (int) s->init_pid,
                          signal_to_string(si->si_status));
    /* read the OOM counter before the cgroup goes */
    s->result = result_of(s, si);
    s->init_pid = 0;
    s->timer_source = sd_event_source_disable_unref(s->timer_source);
    sandbox_release_runtime(s);
    /* killed processes are still exiting, or are zombies of ours about to be reaped */
    if (!schedule_cleanup(s, true))
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

int sandbox_on_start_timeout(sd_event_source *src, uint64_t usec, void *userdata) {
    Sandbox *s = userdata;
    s->timer_source = sd_event_source_disable_unref(s->timer_source);
    s->start_timed_out = true;
    if (s->config->type == SERVICE_NOTIFY && s->got_ready)
        sandbox_set_start_error(s, "the payload did not send READY=1 within TimeoutStartSec= "
                                   "(%" PRIu64 " ms)", s->config->timeout_start_usec / USEC_PER_MSEC);
    else
        sandbox_set_start_error(s, "the sandbox was not ready within TimeoutStartSec=");
    if (s->cgroup)
        (void) cg_kill(s->cgroup, SIGKILL);
    (void) kill_init(s, SIGKILL);
    return 0;
}

static int begin_start(Sandbox *s) {
    Manager *m = s->manager;
    free(s->start_error);
    s->start_error = NULL;
    if (!ratelimit_below(&s->start_limit, now_usec(CLOCK_MONOTONIC))) {
        s->result = RESULT_START_LIMIT_HIT;
        sandbox_log_event(s, "Start request repeated too quickly, refusing to start.");
        sandbox_set_state(s, SANDBOX_FAILED);
        return -EAGAIN;
    }
    s->result = RESULT_SUCCESS;
    s->got_ready = s->got_exit = false;
    s->main_pid = s->init_pid = 0;
    s->sigkill_sent = s->start_timed_out = false;
    s->notified_ready = s->watchdog_fired = s->stopping_notified = false;
    s->gone_sender_logged = false;
    s->status_text = mfree(s->status_text);
    s->status_errno = 0;
    s->health = HEALTH_NONE;
    s->health_failures = 0;
    s->health_result = mfree(s->health_result);
    s->health_output = mfree(s->health_output);
    sandbox_set_state(s, SANDBOX_STARTING);
    sandbox_log_event(s, "Starting.");
    int r = sandbox_start_process(s);
    if (r < 0) {
        s->result = RESULT_RESOURCES;
        sandbox_log_event(s, "Failed to start: %s", s->start_error);
        (void) schedule_cleanup(s, false); /* a cgroup whose processes still exit */
        /* a start that never spawned still follows Restart=, as in systemd */
        if (!m->shutting_down && sandbox_should_restart(s->config->restart, s->result, 0, 0)) {
            finish_jobs(s, false, r, s->start_error);
            if (schedule_restart(s))
                return r;
        }
        sandbox_set_state(s, SANDBOX_FAILED);
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

int sandbox_start(Sandbox *s, SandboxJobDone done, void *userdata) {
    switch (s->state) {
    case SANDBOX_ACTIVE:
        if (done)
            done(s, userdata, 0, NULL);
        return 0;
    case SANDBOX_STARTING:
        return add_job(s, false, done, userdata);
    case SANDBOX_STOPPING:
        if (done)
            done(s, userdata, -EBUSY, "it is stopping; start it again once it is down");
        return 0;
    default:
        break;
    }
    if (s->commit) {
        if (done)
            done(s, userdata, -EBUSY, "a commit of its rw layer is under way; start it once "
                                      "that is done");
        return 0;
    }
    if (s->cleanup_source) {
        /* the last instance's processes are still exiting: never share its cgroup */
        if (done)
            done(s, userdata, -EBUSY, "its previous instance is still being cleaned up");
        return 0;
    }
    int r = add_job(s, false, done, userdata);
    if (r < 0)
        return r;
    (void) begin_start(s); /* the outcome reaches the caller through its job */
    return 0;
}

int sandbox_stop(Sandbox *s, SandboxJobDone done, void *userdata) {
    int r;
    switch (s->state) {
    case SANDBOX_INACTIVE:
    case SANDBOX_FAILED:
        if (done)
            done(s, userdata, 0, NULL);
        return 0;
    case SANDBOX_AUTO_RESTART:
        sandbox_log_event(s, "Stopped (restart cancelled).");
        sandbox_set_state(s, s->result == RESULT_SUCCESS ? SANDBOX_INACTIVE : SANDBOX_FAILED);
        if (done)
            done(s, userdata, 0, NULL);
        return 0;
    case SANDBOX_STOPPING:
        return add_job(s, true, done, userdata);
    default:
        break;
    }
    if (s->commit) { /* frozen for it: the stop comes first (and it thaws at once) */
        sandbox_log_event(s, "Stopping: the commit of its rw layer is cancelled.");
        sandbox_cancel_commit(s);
    }
    r = add_job(s, true, done, userdata);
    if (r < 0)
        return r;
    s->stop_requested = true;
    /* a slow stop is not a missed keep-alive, nor a failed probe */
    s->watchdog_source = sd_event_source_disable_unref(s->watchdog_source);
    sandbox_set_state(s, SANDBOX_STOPPING);
    sandbox_health_stop(s);
    if (!s->got_ready) {
        /* no payload yet to hand the signal to: the init is still building the sandbox, and
         * waiting TimeoutStopSec= for it would only delay the stop */
        sandbox_log_event(s, "Stopping before the payload started, killing the sandbox.");
        if (s->cgroup)
            (void) cg_kill(s->cgroup, SIGKILL);
        (void) kill_init(s, SIGKILL);
        return 0;
    }
    sandbox_log_event(s, "Stopping, sending %s.", signal_to_string(s->config->kill_signal));
    /* the init forwards it to the payload; the rest of the sandbox dies with the init */
    r = kill_init(s, s->config->kill_signal);
    if (r < 0 && r != -ESRCH)
        log_warning_errno(r, "%s: sending %s: %m", s->name,
                          signal_to_string(s->config->kill_signal));
    if (s->config->timeout_stop_usec != USEC_INFINITY) {
        r = sd_event_add_time_relative(s->manager->event, &s->timer_source, CLOCK_MONOTONIC,
                                       s->config->timeout_stop_usec, TIMER_ACCURACY_USEC, on_stop_timeout, s);
        if (r < 0)
            (void) on_stop_timeout(NULL, 0, s);
    }
    return 0;
}

int sandbox_kill(Sandbox *s, bool all, int sig) {
    if (!sandbox_is_running(s) || !s->cgroup)
        return -ESRCH;
    if (all)
        return cg_kill(s->cgroup, sig);
    if (s->main_pid <= 0)
        return -ESRCH;
    _cleanup_close_ int pidfd = (int) syscall(SYS_pidfd_open, s->main_pid, 0);
    if (pidfd < 0)
        return -errno;
    /* the process the pidfd names is the one checked here, whatever happens to the number */
    _cleanup_free_ pid_t *pids = NULL;
    size_t n = 0;
    int r = cg_read_pids(s->cgroup, &pids, &n);
    if (r < 0)
        return r;
    bool member = false;
    for (size_t i = 0; i < n; i++)
        member |= pids[i] == s->main_pid;
    if (!member)
        return -ESRCH;
    return RET_NERRNO((int) syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0));
}

int sandbox_reset_failed(Sandbox *s) {
    ratelimit_reset(&s->start_limit);
    if (s->state == SANDBOX_FAILED) {
        s->result = RESULT_SUCCESS;
        sandbox_set_state(s, SANDBOX_INACTIVE);
    }
    return 0;
}

int sandbox_clean(Sandbox *s) {
    if (sandbox_is_running(s) || s->state == SANDBOX_AUTO_RESTART || s->commit)
        return -EBUSY;
    _cleanup_free_ char *state = NULL;
    if (asprintf(&state, "%s/sandboxes/%s", s->manager->config.state_dir, s->name) < 0)
        return -ENOMEM;
    int r = rm_rf(state);
    if (r < 0)
        return r;
    if ((r = network_release_lease(s->manager->network, s->name)) < 0)
        return r;
    return rm_rf(s->runtime_dir);
}

