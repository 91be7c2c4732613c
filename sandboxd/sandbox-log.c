/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A unit's log: the payload's output, which the init sends as LogRecords on a pipe
 * (init-protocol.h), and sandboxd's events for the unit. Both go to one place, chosen once
 * ([Logs] Target=):
 *
 *   - the journal, with SANDBOXD_UNIT=NAME, SYSLOG_IDENTIFIER= and SYSLOG_PID= of the payload,
 *     PRIORITY= by stream (stderr: warning); events as SYSLOG_IDENTIFIER=sandboxd;
 *   - else LOG_DIR/NAME.log, "DATE TIME IDENT[PID]: LINE" (events "... sandboxd[NAME]: ..."),
 *     rotated past MaxFileSize= to NAME.log.1 ... NAME.log.(MaxFiles-1).
 *
 * Only the daemon writes either, so rotation never loses a line: the init holds a pipe, not
 * the file. The init also holds the pipe's read end (never reading it), so a later sandboxd
 * takes it back with pidfd_getfd() and lines written meanwhile wait in the pipe. The reader
 * takes at most LOG_READ_MAX bytes per wakeup, so one chatty sandbox cannot starve the loop. */

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "init-protocol.h"
#include "log-record.h"
#include "log.h"
#include "manager.h"
#include "sandbox-internal.h"
#include "time-util.h"

#define LOG_PIPE_SIZE (256 * 1024) /* what waits for a sandboxd that restarts */
#define LOG_READ_MAX (256 * 1024)  /* bytes taken from one sandbox per wakeup */

char *sandbox_log_path(const Sandbox *s) {
    char *p;
    if (asprintf(&p, "%s/%s.log", s->manager->config.log_dir, s->name) < 0)
        return NULL;
    return p;
}

bool manager_logs_to_journal(const Manager *m) {
    return m->log_journal;
}

static int open_log_file(const Sandbox *s, uint64_t *ret_size) {
    _cleanup_free_ char *p = sandbox_log_path(s);
    if (!p)
        return -ENOMEM;
    int fd = open(p, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW |
                         O_NONBLOCK, 0640);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        safe_close(fd);
        return -EBADFD; /* a FIFO or a device here would hang or redirect our writes */
    }
    *ret_size = (uint64_t) st.st_size;
    return fd;
}

/* NAME.log -> NAME.log.1 -> ... -> NAME.log.(MaxFiles-1), the oldest dropped. */
static void rotate(Sandbox *s) {
    const DaemonConfig *dc = &s->manager->config.daemon;
    _cleanup_free_ char *base = sandbox_log_path(s);
    s->log_file_fd = safe_close(s->log_file_fd);
    if (!base)
        return;
    if (dc->log_max_files <= 1) {
        (void) unlink(base);
        return;
    }
    for (unsigned i = dc->log_max_files - 1; i >= 1; i--) {
        char from[PATH_MAX], to[PATH_MAX];
        if (i == 1)
            snprintf(from, sizeof from, "%s", base);
        else
            snprintf(from, sizeof from, "%s.%u", base, i - 1);
        snprintf(to, sizeof to, "%s.%u", base, i);
        if (rename(from, to) < 0 && errno != ENOENT)
            log_warning_errno(errno, "%s: rotating its log, %s -> %s: %m", s->name, from, to);
    }
}

/* Appends whole lines (text, n bytes, each ending in '\n') to the file, rotating first when
 * they would take it past MaxFileSize= (a file never starts empty-handed: the first lines of a
 * new file always go in). */
static void file_write(Sandbox *s, const char *text, size_t n) {
    const DaemonConfig *dc = &s->manager->config.daemon;
    if (s->log_file_fd >= 0 && s->log_file_size > 0 && dc->log_max_file_size != UINT64_MAX &&
        s->log_file_size + n > dc->log_max_file_size)
        rotate(s);
    if (s->log_file_fd < 0) {
        int fd = open_log_file(s, &s->log_file_size);
        if (fd < 0) {
            if (!s->log_file_error_logged)
                log_warning_errno(fd, "%s: opening its log file in %s: %m", s->name,
                                  s->manager->config.log_dir);
            s->log_file_error_logged = true;
            return;
        }
        s->log_file_fd = fd;
        s->log_file_error_logged = false;
        if (s->log_file_size > 0 && dc->log_max_file_size != UINT64_MAX &&
            s->log_file_size + n > dc->log_max_file_size) {
            rotate(s); /* what a previous sandboxd left is full already */
            if ((fd = open_log_file(s, &s->log_file_size)) < 0)
                return;
            s->log_file_fd = fd;
        }
    }
    while (n > 0) {
        ssize_t w = write(s->log_file_fd, text, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (!s->log_file_error_logged)
                log_warning_errno(w < 0 ? errno : EIO, "%s: writing its log file: %m", s->name);
            s->log_file_error_logged = true;
            return;
        }
        text += w;
        n -= (size_t) w;
        s->log_file_size += (uint64_t) w;
    }
}

/* "2026-11-30 18:38:28 " for usec, cached per second (localtime_r is not free). */
static const char *stamp(Manager *m, uint64_t usec) {
    time_t t = (time_t) (usec / 1000000);
    if (t != m->log_stamp_time || !m->log_stamp[0]) {
        struct tm tm;
        if (!localtime_r(&t, &tm) ||
            strftime(m->log_stamp, sizeof m->log_stamp, "%Y-%m-%d %H:%M:%S ", &tm) == 0)
            m->log_stamp[0] = 0;
        m->log_stamp_time = t;
    }
    return m->log_stamp;
}

/* One entry to journald in its native protocol ("FIELD=value\n" each; no field here holds a
 * newline), over a non-blocking socket of our own: a journald that does not keep up costs
 * lines (counted, logged once in a while), never a stall of sandboxd's event loop, as the
 * blocking sd_journal_sendv() would. */
static void journal_send(Manager *m, struct iovec *fields, size_t n) {
    struct iovec iov[2 * 8];
    size_t k = 0;
    if (n > 8)
        return;
    if (m->journal_fd < 0) {
        int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        struct sockaddr_un sa = {.sun_family = AF_UNIX,
                                 .sun_path = "/run/systemd/journal/socket"};
        if (fd < 0 || connect(fd, (struct sockaddr *) &sa, sizeof sa) < 0) {
            safe_close(fd);
            m->journal_dropped++;
            return;
        }
        (void) setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &(int){8 * 1024 * 1024}, sizeof(int));
        m->journal_fd = fd;
    }
    for (size_t i = 0; i < n; i++) {
        iov[k++] = fields[i];
        iov[k++] = (struct iovec){(void *) "\n", 1};
    }
    if (sendmsg(m->journal_fd, &(struct msghdr){.msg_iov = iov, .msg_iovlen = k},
                MSG_NOSIGNAL) >= 0)
        return;
    if (errno != EAGAIN)
        m->journal_fd = safe_close(m->journal_fd); /* journald restarted: connect anew */
    if (m->journal_dropped++ % 1000 == 0)
        log_warning("journald does not take sandboxd's unit log lines (%m): %" PRIu64
                    " dropped so far", m->journal_dropped);
}

static void journal_line(Sandbox *s, const LogRecord *h, const char *ident, const char *line) {
    char prio[16], pid[32], unit[UNIT_NAME_MAX + 32], id[LOG_RECORD_IDENT_MAX + 32];
    char msg[8 + 8 + LOG_RECORD_LINE_MAX];
    snprintf(prio, sizeof prio, "PRIORITY=%d",
             h->stream == LOG_STREAM_STDERR ? LOG_WARNING : LOG_INFO);
    snprintf(pid, sizeof pid, "SYSLOG_PID=%" PRIu32, h->pid);
    snprintf(unit, sizeof unit, "SANDBOXD_UNIT=%s", s->name);
    /* the init's bytes (it runs in the sandbox): an identifier of plain characters only, so
     * no field can be slipped in after a newline */
    int n = snprintf(id, sizeof id, "SYSLOG_IDENTIFIER=");
    for (uint8_t i = 0; i < h->ident_len && (size_t) n < sizeof id - 1; i++)
        id[n++] = ident[i] > ' ' && ident[i] < 0x7f ? ident[i] : '_';
    id[n] = 0;
    /* MESSAGE in the protocol's binary form: "MESSAGE\n", its length (64-bit little
     * endian), the bytes as they are, whatever they hold */
    uint64_t len = htole64((uint64_t) h->len);
    memcpy(msg, "MESSAGE\n", 8);
    memcpy(msg + 8, &len, 8);
    memcpy(msg + 16, line, h->len);
    const char *stream = h->stream == LOG_STREAM_STDERR ? "SANDBOXD_STREAM=stderr"
                                                        : "SANDBOXD_STREAM=stdout";
    struct iovec iov[] = {
        {msg, 16 + (size_t) h->len}, {prio, strlen(prio)}, {pid, strlen(pid)},
        {unit, strlen(unit)},        {id, strlen(id)},     {(void *) stream, strlen(stream)},
    };
    journal_send(s->manager, iov, ELEMENTSOF(iov));
}

/* Output of one read: file lines gathered and written at once. */
typedef struct LogBatch {
    char *buf;
    size_t len, size;
} LogBatch;

static void batch_flush(Sandbox *s, LogBatch *b) {
    if (b->len > 0)
        file_write(s, b->buf, b->len);
    b->len = 0;
}

static void emit_record(Sandbox *s, LogBatch *b, const LogRecord *h, const char *ident,
                        const char *line) {
    if (manager_logs_to_journal(s->manager)) {
        journal_line(s, h, ident, line);
        return;
    }
    const DaemonConfig *dc = &s->manager->config.daemon;
    const char *st = stamp(s->manager, h->usec);
    char head[LOG_RECORD_IDENT_MAX + 64];
    int hn = snprintf(head, sizeof head, "%s%.*s[%" PRIu32 "]: ", st, (int) h->ident_len, ident,
                      h->pid);
    size_t need = (size_t) hn + h->len + 1;
    /* a file rotates between lines: write what is gathered before this line would pass the
     * limit, so file_write() sees the boundary */
    if (dc->log_max_file_size != UINT64_MAX &&
        s->log_file_size + b->len + need > dc->log_max_file_size)
        batch_flush(s, b);
    if (b->len + need > b->size)
        batch_flush(s, b);
    if (need > b->size) { /* cannot happen: records are bounded */
        return;
    }
    memcpy(b->buf + b->len, head, (size_t) hn);
    memcpy(b->buf + b->len + hn, line, h->len);
    b->buf[b->len + need - 1] = '\n';
    b->len += need;
}

typedef struct EmitContext {
    Sandbox *s;
    LogBatch *b;
} EmitContext;

static void on_record(const LogRecord *h, const char *ident, const char *line, void *userdata) {
    EmitContext *c = userdata;
    emit_record(c->s, c->b, h, ident, line);
}

/* Reads up to max bytes of records; false once the pipe is closed or broken. */
static bool read_records(Sandbox *s, size_t max) {
    Manager *m = s->manager;
    LogBatch b = {m->log_out, 0, LOG_OUT_SIZE};
    bool open = true;
    for (size_t done = 0; done < max;) {
        ssize_t n = read(s->log_fd, m->log_in, LOG_IN_SIZE);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            open = errno == EAGAIN;
            break;
        }
        if (n == 0) {
            open = false;
            break;
        }
        done += (size_t) n;
        int r = log_record_parse(&s->log_parser, m->log_in, (size_t) n, on_record,
                                 &(EmitContext){s, &b});
        if (r < 0) {
            if (r == -EBADMSG)
                log_error("%s: its init sent a malformed log record; the sandbox's output is "
                          "no longer read", s->name);
            else
                log_error_errno(r, "%s: reading its output: %m", s->name);
            open = false;
            break;
        }
    }
    batch_flush(s, &b);
    return open;
}

static int on_log_readable(sd_event_source *src, int fd, uint32_t revents, void *userdata) {
    Sandbox *s = userdata;
    if (!read_records(s, LOG_READ_MAX))
        sandbox_log_detach(s);
    return 0;
}

int sandbox_log_attach(Sandbox *s, int fd) {
    Manager *m = s->manager;
    sandbox_log_detach(s);
    /* each on its own: a failed second allocation must not leave the first without it */
    if (!m->log_in && !(m->log_in = malloc(LOG_IN_SIZE)))
        return safe_close(fd), -ENOMEM;
    if (!m->log_out && !(m->log_out = malloc(LOG_OUT_SIZE)))
        return safe_close(fd), -ENOMEM;
    int r = fcntl(fd, F_SETFL, O_NONBLOCK) < 0 ? -errno : 0;
    if (r >= 0)
        r = sd_event_add_io(m->event, &s->log_source, fd, EPOLLIN, on_log_readable, s);
    if (r < 0) {
        safe_close(fd);
        return r;
    }
    s->log_fd = fd;
    log_record_parser_reset(&s->log_parser);
    return 0;
}

int sandbox_log_pipe(Sandbox *s, int *ret_write, int *ret_read_for_init) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return -errno;
    /* room for lines while no sandboxd reads (a restart); best effort */
    (void) fcntl(p[0], F_SETPIPE_SZ, LOG_PIPE_SIZE);
    int keep = fcntl(p[0], F_DUPFD_CLOEXEC, 3);
    int r = keep < 0 ? -errno : sandbox_log_attach(s, p[0]);
    if (r < 0) {
        if (keep < 0)
            safe_close(p[0]);
        safe_close(keep);
        safe_close(p[1]);
        return r;
    }
    *ret_write = p[1];
    *ret_read_for_init = keep;
    return 0;
}

int sandbox_log_adopt(Sandbox *s) {
    int fd = (int) syscall(SYS_pidfd_getfd, s->init_pidfd, INIT_FD_LOG_READ, 0);
    if (fd < 0)
        return -errno; /* an init of an older sandboxd writes its log file itself */
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISFIFO(st.st_mode)) {
        safe_close(fd);
        return -EBADFD;
    }
    return sandbox_log_attach(s, fd);
}

void sandbox_log_drain(Sandbox *s) {
    if (s->log_fd < 0)
        return;
    if (!read_records(s, SIZE_MAX))
        sandbox_log_detach(s);
}

void sandbox_log_detach(Sandbox *s) {
    s->log_source = sd_event_source_disable_unref(s->log_source);
    s->log_fd = safe_close(s->log_fd);
    log_record_parser_reset(&s->log_parser);
}

void sandbox_log_free(Sandbox *s) {
    sandbox_log_detach(s);
    s->log_file_fd = safe_close(s->log_file_fd);
    log_record_parser_done(&s->log_parser);
}

void sandbox_log_at_rest(Sandbox *s) {
    sandbox_log_drain(s);
    sandbox_log_detach(s);
    s->log_file_fd = safe_close(s->log_file_fd);
    log_record_parser_done(&s->log_parser);
}

void sandbox_log_event(Sandbox *s, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* what the payload wrote before this happened comes first */
    if (s->log_fd >= 0 && !read_records(s, LOG_READ_MAX))
        sandbox_log_detach(s);
    if (manager_logs_to_journal(s->manager)) {
        /* once, with the unit's field: journalctl -u sandboxd shows it as well */
        char m1[1024 + UNIT_NAME_MAX + 16], unit[UNIT_NAME_MAX + 32];
        snprintf(m1, sizeof m1, "MESSAGE=%s: %s", s->name, msg);
        snprintf(unit, sizeof unit, "SANDBOXD_UNIT=%s", s->name);
        for (char *c = m1; *c; c++) /* an event is one line */
            if (*c == '\n')
                *c = ' ';
        struct iovec iov[] = {{m1, strlen(m1)},
                              {(void *) "PRIORITY=6", 10},
                              {unit, strlen(unit)},
                              {(void *) "SYSLOG_IDENTIFIER=sandboxd", 26}};
        journal_send(s->manager, iov, ELEMENTSOF(iov));
        return;
    }
    log_info("%s: %s", s->name, msg);
    char line[1024 + UNIT_NAME_MAX + 64];
    int n = snprintf(line, sizeof line, "%ssandboxd[%s]: %s\n",
                     stamp(s->manager, now_usec(CLOCK_REALTIME)), s->name, msg);
    if (n > 0)
        file_write(s, line, (size_t) n < sizeof line ? (size_t) n : sizeof line - 1);
    if (!sandbox_is_running(s))
        s->log_file_fd = safe_close(s->log_file_fd); /* no fd per unit at rest */
}
