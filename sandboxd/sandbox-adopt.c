/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Surviving a sandboxd restart: the state file a running sandbox leaves behind, and taking a
 * sandbox over from it. */

#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"
#include "manager.h"
#include "parse-util.h"
#include "path-util.h"
#include "plan.h"
#include "process-util.h"
#include "rm-rf.h"
#include "sandbox-internal.h"
#include "sandbox.h"
#include "strv.h"

int sandbox_save(Sandbox *s) {
    uint64_t start;
    _cleanup_free_ char *path = path_join(s->runtime_dir, "state"), *text = NULL;
    if (!path)
        return -ENOMEM;
    int r = pid_get_start_time(s->init_pid, &start);
    if (r < 0)
        return r;
    if (asprintf(&text,
                 "unit_path=%s\ninit_pid=%d\ninit_start_time=%" PRIu64 "\nmain_pid=%d\n"
                 "n_restarts=%u\nstate_change_usec=%" PRIu64 "\nready=%d\nnotified=%d\n"
                 "healthy=%d\n",
                 s->config->path, (int) s->init_pid, start, (int) s->main_pid, s->n_restarts,
                 s->state_change_usec, s->got_ready, s->notified_ready,
                 s->health == HEALTH_HEALTHY) < 0)
        return -ENOMEM;
    return write_file_atomic(path, text, strlen(text), 0600);
}

static const char *state_field(const char *text, const char *key, char buf[static 4096]) {
    size_t k = strlen(key);
    for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
        if (strncmp(l, key, k) == 0 && l[k] == '=') {
            size_t n = strcspn(l + k + 1, "\n");
            if (n >= 4096)
                return NULL;
            memcpy(buf, l + k + 1, n);
            buf[n] = 0;
            return buf;
        }
    return NULL;
}

int sandbox_read_state(const char *text, SandboxSavedState *ret) {
    char buf[4096];
    uint64_t v;
    SandboxSavedState st = {0};
    const char *p = state_field(text, "unit_path", buf);
    if (!p || !path_is_normalized_absolute(p))
        return -EBADMSG;
    if (!(st.unit_path = strdup(p)))
        return -ENOMEM;
    if (!(p = state_field(text, "init_pid", buf)) || safe_atou64(p, &v) < 0 || v == 0 ||
        v > INT32_MAX)
        goto bad;
    st.init_pid = (pid_t) v;
    if (!(p = state_field(text, "init_start_time", buf)) ||
        safe_atou64(p, &st.init_start_time) < 0)
        goto bad;
    if ((p = state_field(text, "main_pid", buf)) && safe_atou64(p, &v) >= 0 && v <= INT32_MAX)
        st.main_pid = (pid_t) v;
    if ((p = state_field(text, "n_restarts", buf)) && safe_atou64(p, &v) >= 0 && v <= UINT32_MAX)
        st.n_restarts = (unsigned) v;
    if ((p = state_field(text, "state_change_usec", buf)))
        (void) safe_atou64(p, &st.state_change_usec);
    /* files from before "ready" was recorded were only written once the payload ran */
    st.ready = !(p = state_field(text, "ready", buf)) || !streq(p, "0");
    st.notified = (p = state_field(text, "notified", buf)) && streq(p, "1");
    st.healthy = (p = state_field(text, "healthy", buf)) && streq(p, "1");
    *ret = st;
    return 0;
bad:
    free(st.unit_path);
    return -EBADMSG;
}

static int on_adopted_init_exit(sd_event_source *src, int fd, uint32_t revents, void *userdata) {
    Sandbox *s = userdata;
    /* not our child, so no exit status from waitid: the exit file has the payload's */
    siginfo_t si = {.si_code = CLD_KILLED, .si_status = SIGKILL};
    s->pidfd_source = sd_event_source_disable_unref(s->pidfd_source);
    sandbox_on_init_exit(s, &si);
    return 0;
}

int sandbox_adopt(Sandbox *s, const SandboxSavedState *st) {
    uint64_t start;
    int r;
    s->userns_base = (s->config->namespaces & NS_USER) ? sandbox_userns_base(s->name) : 0;
    s->main_pid = st->main_pid;
    s->n_restarts = st->n_restarts;
    s->state_change_usec = st->state_change_usec;
    r = cg_open(s->manager->config.slice, s->name, &s->cgroup);
    if (r < 0 && r != -ENOENT)
        return r;
    /* a sandboxd that died during a commit left it frozen */
    if (s->cgroup)
        (void) cg_freeze(s->cgroup, false);
    /* its addresses and ports, for the table the manager writes once all are adopted */
    r = network_sandbox_adopt(s->manager->network, s);
    if (r < 0)
        log_warning_errno(r, "%s: reading its network record: %m; its ports are not published",
                          s->name);
    /* Taken over as running, also when its start was still under way: its init either runs
     * the payload or, still waiting for "go" from the sandboxd that died, leaves by itself. */
    s->adopted = true;
    s->got_ready = true;
    s->init_pidfd = (int) syscall(SYS_pidfd_open, st->init_pid, 0);
    /* the same pid and start time: the same process, not a successor with a reused pid */
    /* (a pidfd of a zombie that is not ours reads as exited at once: it ended while away) */
    if (s->init_pidfd < 0 || pid_get_start_time(st->init_pid, &start) < 0 ||
        start != st->init_start_time ||
        poll(&(struct pollfd){.fd = s->init_pidfd, .events = POLLIN}, 1, 0) > 0) {
        s->init_pidfd = safe_close(s->init_pidfd);
        sandbox_set_state(s, SANDBOX_ACTIVE);
        sandbox_log_event(s, "Its init ended while sandboxd was away.");
        siginfo_t si = {.si_code = CLD_KILLED, .si_status = SIGKILL};
        sandbox_on_init_exit(s, &si);
        return 0;
    }
    s->init_pid = st->init_pid;
    /* recorded before its payload was known: the init's child is it (or the init, until then) */
    if (s->main_pid <= 0 && pid_find_child(s->init_pid, &s->main_pid) < 0)
        s->main_pid = s->init_pid;
    r = sd_event_add_io(s->manager->event, &s->pidfd_source, s->init_pidfd, EPOLLIN,
                        on_adopted_init_exit, s);
    if (r < 0) {
        /* nothing may run unseen: what we cannot watch, we stop */
        log_error_errno(r, "%s: watching its init: %m; killing the sandbox", s->name);
        (void) syscall(SYS_pidfd_send_signal, s->init_pidfd, SIGKILL, NULL, 0);
        if (s->cgroup)
            (void) cg_kill(s->cgroup, SIGKILL);
        s->stop_requested = true;
        sandbox_set_state(s, SANDBOX_STOPPING);
        siginfo_t si = {.si_code = CLD_KILLED, .si_status = SIGKILL};
        sandbox_on_init_exit(s, &si);
        return r;
    }
    /* its proc view, if its unit has one: bound anew should the lxcfs that serves it be gone */
    s->procview = s->config && s->config->proc_view;
    /* its output: the log pipe's read end, which its init holds for us */
    if ((r = sandbox_log_adopt(s)) < 0)
        log_warning_errno(r, "%s: taking its log pipe back from its init: %m; its output is "
                          "not logged (an init of an older sandboxd writes its log itself)",
                          s->name);
    /* its notify socket anew, where the sandbox's bind of the directory sees it */
    if (sandbox_wants_notify(s) && (r = sandbox_notify_open(s)) < 0)
        log_warning_errno(r, "%s: binding its notify socket again: %m; its READY=1 and "
                          "WATCHDOG=1 are not heard", s->name);
    s->notified_ready = st->notified;
    /* the probes go on; one that had passed counts for Startup=yes */
    sandbox_health_start(s);
    if (st->healthy)
        s->health = HEALTH_HEALTHY;
    bool waits_health = s->config->health.startup && health_check_is_set(&s->config->health) &&
                        !st->healthy;
    if ((s->config->type == SERVICE_NOTIFY && !st->notified) || waits_health) {
        /* still to say READY=1: it starts again for us, with a new TimeoutStartSec= */
        sandbox_set_state(s, SANDBOX_STARTING);
        if (s->config->timeout_start_usec != USEC_INFINITY)
            (void) sd_event_add_time_relative(s->manager->event, &s->timer_source,
                                              CLOCK_MONOTONIC, s->config->timeout_start_usec,
                                              TIMER_ACCURACY_USEC, sandbox_on_start_timeout, s);
    } else {
        sandbox_set_state(s, SANDBOX_ACTIVE);
        sandbox_watchdog_arm(s);
    }
    sandbox_log_event(s, "Adopted by sandboxd%s, main PID %d.",
                      s->state == SANDBOX_ACTIVE ? "" : " while it was still starting",
                      (int) s->main_pid);
    return 0;
}

/* A runtime directory without a state file: a sandboxd died while it was starting this one,
 * before its init existed or before it was recorded. Whatever was made goes: the cgroup (with
 * any process in it, which an init waiting for "go" from a dead sandboxd would be) and the
 * directory. */
int sandbox_remove_orphan(Manager *m, const char *name) {
    _cleanup_free_ char *dir = NULL;
    Cgroup *cg = NULL;
    int r = cg_open(m->config.slice, name, &cg);
    if (r >= 0) {
        (void) cg_kill(cg, SIGKILL);
        for (int i = 0; i < 250 && (r = cg_destroy(cg)) == -EBUSY; i++)
            (void) usleep(20 * 1000); /* at start-up, before the loop runs: killed tasks exit */
        cg_free(cg);
        if (r < 0)
            return r;
    } else if (r != -ENOENT)
        return r;
    if (asprintf(&dir, "%s/sandboxes/%s", m->config.runtime_dir, name) < 0)
        return -ENOMEM;
    return rm_rf(dir);
}
