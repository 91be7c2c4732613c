/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Type=notify and WatchdogSec=: the sd_notify(3) protocol between a payload and sandboxd.
 * Each such sandbox has its own datagram socket, in a directory of its runtime directory that
 * the init binds read-only at /run/host/notify (nspawn's place), so the payload reaches it as
 * $NOTIFY_SOCKET and cannot replace it. A message counts only when the kernel's credentials
 * name a process of the sandbox's own cgroup: a host process, or another sandbox, that finds
 * the socket is ignored. Messages are bounded (4 KiB, systemd's NOTIFY_BUFFER_MAX is larger
 * but a payload has no need for more) and read a few at a time, so a flood costs the event
 * loop no more than any other source. */

#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "manager.h"
#include "parse-util.h"
#include "ratelimit.h"
#include "path-util.h"
#include "sandbox-internal.h"
#include "sandbox.h"
#include "time-util.h"
#include "utf8.h"

#define NOTIFY_MESSAGE_MAX 4096
#define NOTIFY_MESSAGES_PER_WAKEUP 16

bool sandbox_wants_notify(const Sandbox *s) {
    return s->config && (s->config->type == SERVICE_NOTIFY || s->config->watchdog_usec > 0);
}

static char *notify_dir(const Sandbox *s) {
    return path_join(s->runtime_dir, "notify");
}

void sandbox_notify_close(Sandbox *s) {
    s->notify_source = sd_event_source_disable_unref(s->notify_source);
    s->watchdog_source = sd_event_source_disable_unref(s->watchdog_source);
    s->notify_fd = safe_close(s->notify_fd);
}

/* Is pid a process of the sandbox (its group or one below)? */
static bool pid_in_sandbox(Sandbox *s, pid_t pid) {
    _cleanup_free_ pid_t *pids = NULL;
    size_t n = 0;
    if (pid <= 0 || !s->cgroup || cg_read_pids(s->cgroup, &pids, &n) < 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (pids[i] == pid)
            return true;
    return false;
}

/* MAINPID= names a process in the sandbox's own PID namespace: the host's number is the
 * process of the group whose innermost NSpid is that one. Each /proc/PID/status read costs
 * the event loop (more with many supplementary groups): at most TRANSLATE_SCAN_MAX of them per
 * message, which the rate limit of MAINPID= bounds in turn. */
#define TRANSLATE_SCAN_MAX 1024
static pid_t translate_pid(Sandbox *s, pid_t inner) {
    _cleanup_free_ pid_t *pids = NULL;
    size_t n = 0;
    if (!s->cgroup || cg_read_pids(s->cgroup, &pids, &n) < 0)
        return 0;
    if (n > TRANSLATE_SCAN_MAX) {
        log_debug("%s: MAINPID=%d among %zu processes: only the first %d are looked at",
                  s->name, (int) inner, n, TRANSLATE_SCAN_MAX);
        n = TRANSLATE_SCAN_MAX;
    }
    for (size_t i = 0; i < n; i++) {
        char path[64];
        _cleanup_free_ char *text = NULL;
        snprintf(path, sizeof path, "/proc/%d/status", (int) pids[i]);
        if (read_file(path, 16384, &text, NULL) < 0)
            continue;
        const char *l = strstr(text, "\nNSpid:");
        if (!l)
            continue;
        l += strlen("\nNSpid:");
        size_t len = strcspn(l, "\n");
        const char *last = l + len;
        while (last > l && (last[-1] == ' ' || last[-1] == '\t'))
            last--;
        const char *start = last;
        while (start > l && start[-1] != ' ' && start[-1] != '\t')
            start--;
        uint32_t v;
        char buf[16];
        snprintf(buf, sizeof buf, "%.*s", (int) (last - start), start);
        if (safe_atou32(buf, &v) >= 0 && (pid_t) v == inner)
            return pids[i];
    }
    return 0;
}

static int on_watchdog(sd_event_source *src, uint64_t usec, void *userdata) {
    Sandbox *s = userdata;
    s->watchdog_source = sd_event_source_disable_unref(s->watchdog_source);
    if (s->state != SANDBOX_ACTIVE && s->state != SANDBOX_STARTING)
        return 0;
    sandbox_log_event(s, "Watchdog timeout (limit %" PRIu64 " ms), killing the sandbox.",
                      s->config->watchdog_usec / USEC_PER_MSEC);
    s->watchdog_fired = true;
    if (s->cgroup)
        (void) cg_kill(s->cgroup, SIGKILL);
    return 0;
}

void sandbox_watchdog_arm(Sandbox *s) {
    uint64_t w = s->config ? s->config->watchdog_usec : 0;
    if (w == 0 || s->watchdog_fired)
        return;
    int r;
    if (s->watchdog_source)
        r = sd_event_source_set_time_relative(s->watchdog_source, w);
    else
        r = sd_event_add_time_relative(s->manager->event, &s->watchdog_source, CLOCK_MONOTONIC,
                                       w, TIMER_ACCURACY_USEC, on_watchdog, s);
    if (r >= 0)
        r = sd_event_source_set_enabled(s->watchdog_source, SD_EVENT_ONESHOT);
    if (r < 0)
        log_warning_errno(r, "%s: arming the watchdog: %m", s->name);
}

void sandbox_ready(Sandbox *s) {
    if (s->state != SANDBOX_STARTING)
        return;
    if (s->config->type == SERVICE_NOTIFY && !(s->notified_ready && s->got_ready))
        return;
    /* [Health] Startup=yes: once a probe passed too */
    if (s->config->health.startup && health_check_is_set(&s->config->health) &&
        s->health != HEALTH_HEALTHY)
        return;
    if (s->config->type == SERVICE_NOTIFY && !s->adopted) {
        sandbox_log_event(s, "Ready (READY=1).");
        int r = sandbox_save(s);
        if (r < 0)
            log_warning_errno(r, "%s: saving its state for re-adoption: %m", s->name);
    }
    sandbox_watchdog_arm(s);
    sandbox_set_state(s, SANDBOX_ACTIVE);
}

/* What one message says; the last assignment of each name wins, and each is acted on once
 * per message (a 4 KiB message of MAINPID= lines is one look-up, not four hundred). */
typedef struct NotifyMessage {
    bool ready, watchdog, watchdog_trigger, stopping;
    const char *status, *mainpid, *errno_text;
} NotifyMessage;

static void parse_message(char *buf, NotifyMessage *m) {
    const char *v;
    for (char *save = NULL, *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        if ((v = startswith(l, "READY=")))
            m->ready = streq(v, "1");
        else if ((v = startswith(l, "STATUS=")))
            m->status = v;
        else if ((v = startswith(l, "WATCHDOG="))) {
            m->watchdog |= streq(v, "1");
            m->watchdog_trigger |= streq(v, "trigger");
        } else if ((v = startswith(l, "ERRNO=")))
            m->errno_text = v;
        else if ((v = startswith(l, "MAINPID=")))
            m->mainpid = v;
        else if ((v = startswith(l, "STOPPING=")))
            m->stopping |= streq(v, "1");
    }
}

static void handle_mainpid(Sandbox *s, const char *v, pid_t sender) {
    uint32_t inner;
    pid_t pid = 0;
    /* each costs a look at every process of the sandbox: two a second at most */
    if (!ratelimit_below(&s->mainpid_limit, now_usec(CLOCK_MONOTONIC))) {
        log_debug("%s: MAINPID=%s from %d: too many, ignored", s->name, v, (int) sender);
        return;
    }
    if (safe_atou32(v, &inner) >= 0 && inner > 0 && inner <= INT32_MAX)
        pid = (s->config->namespaces & NS_PID)
                  ? translate_pid(s, (pid_t) inner)
                  : (pid_in_sandbox(s, (pid_t) inner) ? (pid_t) inner : 0);
    if (pid > 0 && pid != s->main_pid) {
        sandbox_log_event(s, "Main PID is now %d (MAINPID=%s).", (int) pid, v);
        s->main_pid = pid;
        (void) sandbox_save(s);
    } else if (pid <= 0)
        log_debug("%s: MAINPID=%s from %d names no process of the sandbox; ignored", s->name,
                  v, (int) sender);
}

static void handle_message(Sandbox *s, const NotifyMessage *m, pid_t sender) {
    if (m->status) {
        char *t = utf8_escape_invalid(m->status);
        if (t) {
            free(s->status_text);
            s->status_text = t;
        }
    }
    if (m->errno_text) {
        uint32_t e;
        if (safe_atou32(m->errno_text, &e) >= 0 && e < 4096)
            s->status_errno = (int) e;
    }
    if (m->mainpid)
        handle_mainpid(s, m->mainpid, sender);
    if (m->stopping && !s->stopping_notified) {
        s->stopping_notified = true;
        sandbox_log_event(s, "The payload is stopping (STOPPING=1).");
    }
    if (m->ready && !s->notified_ready && s->config->type == SERVICE_NOTIFY) {
        s->notified_ready = true;
        sandbox_ready(s);
    }
    if (m->watchdog_trigger && s->config->watchdog_usec > 0) {
        s->watchdog_source = sd_event_source_disable_unref(s->watchdog_source);
        (void) on_watchdog(NULL, 0, s);
    } else if (m->watchdog && s->state == SANDBOX_ACTIVE)
        sandbox_watchdog_arm(s);
}

static int on_notify(sd_event_source *src, int fd, uint32_t revents, void *userdata) {
    Sandbox *s = userdata;
    for (int i = 0; i < NOTIFY_MESSAGES_PER_WAKEUP; i++) {
        char buf[NOTIFY_MESSAGE_MAX + 1];
        union {
            char buf[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int) * 16)];
            struct cmsghdr align;
        } control;
        struct iovec iov = {buf, sizeof buf - 1};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
                            .msg_controllen = sizeof control.buf};
        ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC | MSG_TRUNC);
        if (n < 0)
            return 0; /* EAGAIN: all read */
        pid_t pid = 0;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS &&
                c->cmsg_len == CMSG_LEN(sizeof(struct ucred))) {
                struct ucred cred;
                memcpy(&cred, CMSG_DATA(c), sizeof cred);
                pid = cred.pid;
            } else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
                /* FDSTORE= is not supported: nothing handed to us may stay open */
                size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                for (size_t j = 0; j < k; j++) {
                    int passed;
                    memcpy(&passed, CMSG_DATA(c) + j * sizeof(int), sizeof(int));
                    safe_close(passed);
                }
            }
        if ((mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || n > NOTIFY_MESSAGE_MAX) {
            log_debug("%s: notify message of %zd bytes (or its control data) too large; "
                      "ignored", s->name, n);
            continue;
        }
        if (!pid_in_sandbox(s, pid)) {
            log_debug("%s: notify message from PID %d, not a process of the sandbox; ignored",
                      s->name, (int) pid);
            /* A sender gone before we read it cannot be told from an outsider: its message
             * is dropped. Say so once, for the READY=1 a start then waits for in vain. */
            buf[n] = 0;
            if (pid > 0 && kill(pid, 0) < 0 && errno == ESRCH && strstr(buf, "READY=1") &&
                !s->gone_sender_logged) {
                s->gone_sender_logged = true;
                sandbox_log_event(s, "READY=1 came from PID %d, which had exited before "
                                     "sandboxd read it, and was ignored: the sender must live "
                                     "until then (systemd-notify: --pid=parent, or use "
                                     "sd_notify from the main process).", (int) pid);
            }
            continue;
        }
        buf[n] = 0;
        NotifyMessage msg = {};
        parse_message(buf, &msg);
        handle_message(s, &msg, pid);
    }
    return 0;
}

int sandbox_notify_open(Sandbox *s) {
    _cleanup_free_ char *dir = notify_dir(s);
    _cleanup_close_ int fd = -EBADF, dirfd = -EBADF;
    if (!dir)
        return -ENOMEM;
    sandbox_notify_close(s);
    int r = mkdir_p(dir, 0755);
    if (r < 0)
        return r;
    if ((dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW)) < 0)
        return -errno;
    /* read-only in the sandbox, searchable for a payload that is not root (its ids may be
     * shifted by a user namespace); the runtime directory above it keeps others out */
    if (chmod(dir, 0755) < 0)
        return -errno;
    /* through the directory's fd: a runtime directory deep enough (a long unit name, a
     * long --runtime-dir) does not fit sun_path's 108 bytes, this always does */
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "/proc/self/fd/%d/notify", dirfd);
    (void) unlinkat(dirfd, "notify", 0); /* a previous sandboxd's, for an adopted sandbox */
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    if (bind(fd, (struct sockaddr *) &sa, sizeof sa) < 0)
        return -errno;
    /* connect() needs write permission on the socket; ids of the sandbox are "others" */
    if (fchmodat(dirfd, "notify", 0666, 0) < 0)
        return -errno;
    if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &(int){1}, sizeof(int)) < 0)
        return -errno;
    r = sd_event_add_io(s->manager->event, &s->notify_source, fd, EPOLLIN, on_notify, s);
    if (r < 0)
        return r;
    s->notify_fd = TAKE_FD(fd);
    return 0;
}
