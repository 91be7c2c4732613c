/* SPDX-License-Identifier: GPL-2.0-or-later */
/* [Health]: a probe every IntervalSec= while the sandbox runs, at most one at a time, none
 * outliving TimeoutSec=. Exec= runs a command inside the sandbox as its payload runs (through
 * sandboxd-init --probe, which the daemon's child starts in the sandbox's cgroup and
 * namespaces, with a PID namespace of its own that dies with it); TCP= and HTTP= connect from
 * sandboxd itself to 127.0.0.1:PORT inside the sandbox's network namespace, so the payload needs
 * no tool for it. Retries= failures in a row (outside StartPeriodSec= before the first pass)
 * make it unhealthy, and OnFailure= acts; Startup=yes holds the start (and After=) until the
 * first pass. */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/nsfs.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "job.h"
#include "log.h"
#include "manager.h"
#include "netns.h"
#include "plan.h"
#include "sandbox-internal.h"
#include "sandbox.h"
#include "spawn.h"
#include "time-util.h"
#include "utf8.h"

#define PROBE_OUTPUT_MAX 512      /* kept of a probe's output: its first line is shown */
#define HEALTH_STARTUP_INTERVAL_USEC USEC_PER_SEC /* probes while Startup=yes waits */

struct HealthProbe {
    Sandbox *s;
    pid_t pid; /* Exec=: the runner (sandboxd-init --probe), our child */
    int pidfd;
    int fd; /* Exec=: the output pipe; TCP=, HTTP=: the socket */
    sd_event_source *io, *timeout;
    bool sent; /* HTTP=: the request is out */
    char buf[PROBE_OUTPUT_MAX + 1];
    size_t len;
};

static const char *const health_state_table[_HEALTH_STATE_MAX] = {
    [HEALTH_NONE] = "",
    [HEALTH_STARTING] = "starting",
    [HEALTH_HEALTHY] = "healthy",
    [HEALTH_UNHEALTHY] = "unhealthy",
};

const char *health_state_to_string(HealthState h) {
    return h < _HEALTH_STATE_MAX ? health_state_table[h] : NULL;
}

static const HealthCheck *check_of(const Sandbox *s) {
    return s->config && health_check_is_set(&s->config->health) ? &s->config->health : NULL;
}

static void probe_free(HealthProbe *p) {
    if (!p)
        return;
    sd_event_source_disable_unref(p->io);
    sd_event_source_disable_unref(p->timeout);
    if (p->pidfd >= 0)
        (void) syscall(SYS_pidfd_send_signal, p->pidfd, SIGKILL, NULL, 0);
    safe_close(p->pidfd);
    safe_close(p->fd);
    free(p);
}

static void schedule_next(Sandbox *s);

static void set_text(char **field, const char *text) {
    char *t = text ? utf8_escape_invalid(text) : NULL;
    free(*field);
    *field = t;
}

static void health_act(Sandbox *s, const HealthCheck *h);

/* A probe ended: ok, with what it said. */
static void probe_done(Sandbox *s, bool ok, const char *result) {
    const HealthCheck *h = check_of(s);
    HealthProbe *p = s->probe;
    s->probe = NULL;
    if (p) {
        p->buf[p->len] = 0;
        p->buf[strcspn(p->buf, "\r\n")] = 0;
        set_text(&s->health_output, p->buf);
        p->pid = 0; /* reaped, or never a process */
        probe_free(p);
    }
    set_text(&s->health_result, result);
    if (!h || !sandbox_is_running(s) || s->state == SANDBOX_STOPPING)
        return;
    if (ok) {
        if (s->health != HEALTH_HEALTHY)
            sandbox_log_event(s, "Healthy (%s).", result);
        s->health = HEALTH_HEALTHY;
        s->health_failures = 0;
        if (h->startup && s->state == SANDBOX_STARTING) {
            (void) sandbox_save(s);
            sandbox_ready(s);
        }
    } else if (s->health != HEALTH_HEALTHY && s->health != HEALTH_UNHEALTHY &&
               now_usec(CLOCK_MONOTONIC) - s->health_since_usec < h->start_period_usec) {
        /* StartPeriodSec=: a slow start is not a failure */
    } else if (++s->health_failures >= h->retries && s->health != HEALTH_UNHEALTHY) {
        s->health = HEALTH_UNHEALTHY;
        sandbox_log_event(s, "Unhealthy: %u probe%s in a row failed, the last with %s%s%s%s.",
                          s->health_failures, s->health_failures == 1 ? "" : "s", result,
                          s->health_output && *s->health_output ? " (\"" : "",
                          s->health_output ?: "",
                          s->health_output && *s->health_output ? "\")" : "");
        /* while Startup=yes holds the start, TimeoutStartSec= decides */
        if (s->state == SANDBOX_ACTIVE)
            health_act(s, h);
    }
    if (sandbox_is_running(s) && s->state != SANDBOX_STOPPING)
        schedule_next(s);
}

static void on_health_restart_stopped(Sandbox *s, void *userdata, int r, const char *message) {
    _cleanup_free_ char *why = NULL;
    if (r < 0 || s->manager->shutting_down)
        return;
    s->n_restarts++;
    if (manager_start_unit(s->manager, s, NULL, NULL, &why) < 0)
        log_error("%s: starting it again after it was unhealthy: %s", s->name,
                  why ?: "out of memory");
}

static void health_act(Sandbox *s, const HealthCheck *h) {
    _cleanup_free_ char *why = NULL;
    switch (h->on_failure) {
    case HEALTH_ACTION_RESTART:
        sandbox_log_event(s, "Restarting (OnFailure=restart in [Health]).");
        (void) sandbox_stop(s, on_health_restart_stopped, NULL);
        break;
    case HEALTH_ACTION_STOP:
        sandbox_log_event(s, "Stopping (OnFailure=stop in [Health]).");
        if (manager_stop_unit(s->manager, s, NULL, NULL, &why) < 0)
            log_error("%s: stopping it: %s", s->name, why ?: "out of memory");
        break;
    case HEALTH_ACTION_KILL:
        sandbox_log_event(s, "Killing the sandbox (OnFailure=kill in [Health]); Restart= "
                             "applies.");
        if (s->cgroup)
            (void) cg_kill(s->cgroup, SIGKILL);
        break;
    default:
        break;
    }
}

static int on_probe_timeout(sd_event_source *src, uint64_t usec, void *userdata) {
    Sandbox *s = userdata;
    char result[64];
    snprintf(result, sizeof result, "timeout after %" PRIu64 " ms",
             check_of(s)->timeout_usec / USEC_PER_MSEC);
    /* the runner is killed by probe_free(); its reaping finds no probe and is ignored */
    probe_done(s, false, result);
    return 0;
}

/* Exec=: the output, kept up to PROBE_OUTPUT_MAX, the rest read and dropped so a chatty probe
 * never blocks on a full pipe */
static int on_probe_output(sd_event_source *src, int fd, uint32_t revents, void *userdata) {
    HealthProbe *p = userdata;
    char drop[4096];
    /* a bounded share per wakeup: a probe that writes without end is read at the pace of
     * the rest of the loop, until its timeout */
    for (int round = 0; round < 16; round++) {
        char *into = p->len < PROBE_OUTPUT_MAX ? p->buf + p->len : drop;
        size_t room = p->len < PROBE_OUTPUT_MAX ? PROBE_OUTPUT_MAX - p->len : sizeof drop;
        ssize_t n = read(fd, into, room);
        if (n > 0 && into != drop)
            p->len += (size_t) n;
        if (n > 0)
            continue;
        if (n == 0 || (errno != EAGAIN && errno != EINTR))
            p->io = sd_event_source_disable_unref(p->io); /* end of file: all written */
        return 0;
    }
    return 0;
}

bool manager_health_on_exit(Manager *m, const siginfo_t *si) {
    for (size_t i = 0; i < m->n_sandboxes; i++) {
        Sandbox *s = m->sandboxes[i];
        HealthProbe *p = s->probe;
        if (!p || p->pid != si->si_pid)
            continue;
        (void) on_probe_output(NULL, p->fd, EPOLLIN, p); /* its last words */
        p->pidfd = safe_close(p->pidfd);
        char result[64];
        int status = si->si_code == CLD_EXITED ? si->si_status : 128 + si->si_status;
        if (status == PROBE_EXIT_SETUP)
            snprintf(result, sizeof result, "the probe could not run (see its output)");
        else if (status >= 128)
            snprintf(result, sizeof result, "%s", signal_to_string(status - 128));
        else
            snprintf(result, sizeof result, "exit status %d", status);
        probe_done(s, status == 0, result);
        return true;
    }
    return false;
}

static int start_exec_probe(Sandbox *s, HealthProbe *p) {
    Manager *m = s->manager;
    _cleanup_(plan_freep) SandboxPlan *plan = NULL;
    _cleanup_close_ int plan_fd = -EBADF, init_fd = -EBADF, userns_fd = -EBADF;
    int cgfds[CG_HIERARCHIES_MAX], n_cg = 0, pipefd[2], r;
    if ((r = sandbox_build_probe_plan(s, &plan)) < 0 || (plan_fd = r = plan_to_memfd(plan)) < 0)
        return r;
    if ((init_fd = open(m->config.init_path, O_PATH | O_CLOEXEC)) < 0)
        return -errno;
    if (s->userns_base) {
        /* The payload's: the one the init holds open on INIT_FD_USERNS for it, taken from the
         * init through its pidfd. Never from the main PID, a number the payload can name
         * (MAINPID=) and let die, and someone else's process can reuse. */
        struct stat a, b;
        if ((userns_fd = (int) syscall(SYS_pidfd_getfd, s->init_pidfd, INIT_FD_USERNS, 0)) < 0)
            return -errno;
        if (ioctl(userns_fd, NS_GET_NSTYPE) != CLONE_NEWUSER)
            return -EBADFD;
        if (fstat(userns_fd, &a) < 0 || stat("/proc/self/ns/user", &b) < 0)
            return -errno;
        if (a.st_ino == b.st_ino && a.st_dev == b.st_dev)
            return -EBADFD;
    }
    if ((n_cg = r = cg_open_procs_fds(s->cgroup, cgfds, CG_HIERARCHIES_MAX)) < 0)
        return r;
    if (pipe2(pipefd, O_CLOEXEC | O_NONBLOCK) < 0) {
        r = -errno;
        goto out;
    }
    /* the runner's end blocks: a probe writing fast waits for us, never loses its words */
    (void) fcntl(pipefd[1], F_SETFL, 0);
    ProbeSpawnParams sp = {
        .ns_pidfd = s->init_pidfd,
        .ns_flags = (int) (sandbox_clone_flags(s->config->namespaces) & ~CLONE_NEWUSER) |
                    ((s->config->namespaces & NS_CGROUP) ? CLONE_NEWCGROUP : 0),
        .cgroup_fds = cgfds,
        .n_cgroup_fds = (size_t) n_cg,
        .plan_fd = plan_fd,
        .userns_fd = userns_fd,
        .out_fd = pipefd[1],
        .init_fd = init_fd,
    };
    SpawnError e = {};
    r = spawn_probe(&sp, &p->pid, &p->pidfd, &e);
    safe_close(pipefd[1]);
    if (r < 0) {
        safe_close(pipefd[0]);
        log_debug_errno(r, "%s: starting the probe (step %s): %m", s->name, e.step);
        goto out;
    }
    p->fd = pipefd[0];
    r = sd_event_add_io(m->event, &p->io, p->fd, EPOLLIN, on_probe_output, p);
out:
    for (int i = 0; i < n_cg; i++)
        safe_close(cgfds[i]);
    return r;
}

/* TCP=, HTTP=: connected, then (HTTP) the request out, the status line in. */
static int on_probe_socket(sd_event_source *src, int fd, uint32_t revents, void *userdata) {
    HealthProbe *p = userdata;
    Sandbox *s = p->s;
    const HealthCheck *h = check_of(s);
    int err = 0;
    if (!p->sent) {
        socklen_t len = sizeof err;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
            err = errno;
        if (err) {
            char result[96];
            snprintf(result, sizeof result, "connection to port %u: %s",
                     h->tcp_port ?: h->http_port, strerror(err));
            probe_done(s, false, result);
            return 0;
        }
        if (h->tcp_port) {
            probe_done(s, true, "connected");
            return 0;
        }
        char *req = NULL;
        int n = asprintf(&req, "GET %s HTTP/1.0\r\nHost: localhost\r\nUser-Agent: "
                               "sandboxd-health\r\nConnection: close\r\n\r\n", h->http_path);
        /* a request this small fits any fresh socket's buffer */
        ssize_t w = n > 0 ? send(fd, req, (size_t) n, MSG_NOSIGNAL | MSG_DONTWAIT) : -1;
        free(req);
        if (w != n) {
            probe_done(s, false, "sending the request failed");
            return 0;
        }
        p->sent = true;
        (void) sd_event_source_set_io_events(p->io, EPOLLIN);
        return 0;
    }
    ssize_t n = recv(fd, p->buf + p->len, PROBE_OUTPUT_MAX - p->len, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    if (n > 0)
        p->len += (size_t) n;
    p->buf[p->len] = 0;
    if (n > 0 && !strchr(p->buf, '\n') && p->len < PROBE_OUTPUT_MAX)
        return 0; /* the status line is not complete yet */
    unsigned code = 0;
    char result[64];
    if (sscanf(p->buf, "HTTP/%*u.%*u %3u", &code) != 1) {
        probe_done(s, false, n < 0 ? "reading the response failed" : "no HTTP status line");
        return 0;
    }
    snprintf(result, sizeof result, "HTTP status %u", code);
    probe_done(s, code >= 200 && code < 400, result);
    return 0;
}

static int start_socket_probe(Sandbox *s, HealthProbe *p) {
    const HealthCheck *h = check_of(s);
    _cleanup_close_ int ns = -EBADF;
    int r;
    if (s->config->namespaces & NS_NET) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/ns/net", (int) s->init_pid);
        if ((ns = open(path, O_RDONLY | O_CLOEXEC)) < 0)
            return -errno;
        r = netns_socket(ns, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    } else
        r = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0) < 0 ? -errno : 0;
    if (r < 0)
        return r;
    p->fd = r;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(h->tcp_port ?: h->http_port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(p->fd, (struct sockaddr *) &sa, sizeof sa) < 0 && errno != EINPROGRESS)
        return -errno;
    return sd_event_add_io(s->manager->event, &p->io, p->fd, EPOLLOUT, on_probe_socket, p);
}

static int on_health_timer(sd_event_source *src, uint64_t usec, void *userdata) {
    Sandbox *s = userdata;
    const HealthCheck *h = check_of(s);
    s->health_timer = sd_event_source_disable_unref(s->health_timer);
    if (!h || s->probe || !sandbox_is_running(s) || s->state == SANDBOX_STOPPING ||
        s->init_pidfd < 0)
        return 0;
    HealthProbe *p = calloc(1, sizeof(HealthProbe));
    if (!p)
        return log_error("%s: starting a health probe: out of memory", s->name), 0;
    *p = (HealthProbe){.s = s, .pidfd = -EBADF, .fd = -EBADF};
    s->probe = p;
    int r = h->exec ? start_exec_probe(s, p) : start_socket_probe(s, p);
    if (r >= 0)
        r = sd_event_add_time_relative(s->manager->event, &p->timeout, CLOCK_MONOTONIC,
                                       h->timeout_usec, TIMER_ACCURACY_USEC, on_probe_timeout, s);
    if (r < 0) {
        char result[128];
        snprintf(result, sizeof result, "the probe could not start: %s", strerror(-r));
        probe_done(s, false, result);
    }
    return 0;
}

static void schedule_next(Sandbox *s) {
    const HealthCheck *h = check_of(s);
    uint64_t after = h->interval_usec;
    /* while Startup=yes holds the start, try more often than the steady interval */
    if (h->startup && s->health != HEALTH_HEALTHY && after > HEALTH_STARTUP_INTERVAL_USEC)
        after = HEALTH_STARTUP_INTERVAL_USEC;
    s->health_timer = sd_event_source_disable_unref(s->health_timer);
    int r = sd_event_add_time_relative(s->manager->event, &s->health_timer, CLOCK_MONOTONIC,
                                       after, TIMER_ACCURACY_USEC, on_health_timer, s);
    if (r < 0)
        log_warning_errno(r, "%s: scheduling the next health probe: %m", s->name);
}

void sandbox_health_start(Sandbox *s) {
    if (!check_of(s))
        return;
    s->health = HEALTH_STARTING;
    s->health_failures = 0;
    s->health_since_usec = now_usec(CLOCK_MONOTONIC);
    s->health_timer = sd_event_source_disable_unref(s->health_timer);
    int r = sd_event_add_time_relative(s->manager->event, &s->health_timer, CLOCK_MONOTONIC, 0,
                                       TIMER_ACCURACY_USEC, on_health_timer, s);
    if (r < 0)
        log_warning_errno(r, "%s: scheduling the first health probe: %m", s->name);
}

void sandbox_health_stop(Sandbox *s) {
    s->health_timer = sd_event_source_disable_unref(s->health_timer);
    probe_free(s->probe);
    s->probe = NULL;
    if (!sandbox_is_running(s) || s->state == SANDBOX_STOPPING)
        s->health = HEALTH_NONE;
}
