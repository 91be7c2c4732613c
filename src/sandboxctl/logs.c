/* SPDX-License-Identifier: GPL-2.0-or-later */
/* sandboxctl logs (and status's last lines): a unit's log read where sandboxd writes it, the
 * journal (SANDBOXD_UNIT=NAME) or LOG_DIR/NAME.log with its rotated files NAME.log.1.., as
 * journalctl reads the journal: the reader is the client, which must be root anyway.
 *
 * Lines of several units are merged by time. -f follows: the journal with sd_journal_wait(),
 * files with inotify on their directory, across rotations (the renamed file is read to its end
 * before the new one is opened). */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <systemd/sd-journal.h>
#include <time.h>
#include <unistd.h>

#include "escape-util.h"
#include "macro.h"
#include "parse-util.h"
#include "sandboxctl.h"
#include "strv.h"
#include "time-util.h"
#include "utf8.h"

#define LOG_FILE_READ_MAX (64 * 1024 * 1024) /* of one file, from its end */
#define FOLLOW_RECHECK_MS 1000               /* in case an inotify event was missed */

/* One line, as both sources give it. */
typedef struct Entry {
    uint64_t usec;  /* 0: not known (a file line without a stamp) */
    size_t unit;    /* index into the sources */
    size_t seq;     /* order of reading: ties keep it */
    char *raw;      /* the file's line as it is (NULL for the journal) */
    char *ident;    /* "httpd", "sandboxd" */
    char *pid;      /* "7", or the unit for sandboxd's events; may be NULL */
    char *message;  /* the text after "IDENT[PID]: " */
    size_t message_len;
} Entry;

typedef struct Entries {
    Entry *e;
    size_t n;
} Entries;

static void entry_done(Entry *e) {
    free(e->raw);
    free(e->ident);
    free(e->pid);
    free(e->message);
}

static void entries_done(Entries *l) {
    for (size_t i = 0; i < l->n; i++)
        entry_done(&l->e[i]);
    free(l->e);
    *l = (Entries){};
}

static int entries_add(Entries *l, Entry *e) {
    Entry *n = reallocarray(l->e, l->n + 1, sizeof *n);
    if (!n) {
        entry_done(e);
        return -ENOMEM;
    }
    l->e = n;
    e->seq = l->n;
    l->e[l->n++] = *e;
    return 0;
}

/* "2026-11-30 18:38:28 " at the start of a file line: local time, to the second. */
static uint64_t parse_stamp(const char *s, size_t n) {
    struct tm tm = {.tm_isdst = -1};
    char buf[20];
    if (n < 20 || s[19] != ' ')
        return 0;
    memcpy(buf, s, 19);
    buf[19] = 0;
    const char *end = strptime(buf, "%Y-%m-%d %H:%M:%S", &tm);
    if (!end || *end)
        return 0;
    time_t t = mktime(&tm);
    return t < 0 ? 0 : (uint64_t) t * USEC_PER_SEC;
}

/* Splits "DATE TIME IDENT[PID]: MESSAGE" (what sandboxd writes) into e. */
static int parse_file_line(const char *line, size_t n, Entry *e) {
    e->usec = parse_stamp(line, n);
    e->raw = strndup(line, n);
    if (!e->raw)
        return -ENOMEM;
    const char *p = e->usec ? line + 20 : line, *end = line + n;
    const char *open = memchr(p, '[', (size_t) (end - p));
    const char *close = open ? memchr(open, ']', (size_t) (end - open)) : NULL;
    if (e->usec && open && close && close + 2 <= end && close[1] == ':' &&
        memchr(p, ' ', (size_t) (open - p)) == NULL) {
        e->ident = strndup(p, (size_t) (open - p));
        e->pid = strndup(open + 1, (size_t) (close - open - 1));
        p = close + 2;
        if (p < end && *p == ' ')
            p++;
    }
    e->message = strndup(p, (size_t) (end - p));
    e->message_len = (size_t) (end - p);
    return e->message ? 0 : -ENOMEM;
}

/* The last bytes of a file (at most LOG_FILE_READ_MAX), from a line's start; *ret_start: their
 * offset in the file. */
static int read_tail(int fd, char **ret, size_t *ret_len, off_t *ret_start) {
    struct stat st;
    if (fstat(fd, &st) < 0)
        return -errno;
    off_t from = st.st_size > LOG_FILE_READ_MAX ? st.st_size - LOG_FILE_READ_MAX : 0;
    size_t size = (size_t) (st.st_size - from);
    char *buf = malloc(size + 1);
    if (!buf)
        return -ENOMEM;
    ssize_t n = pread(fd, buf, size, from);
    if (n < 0) {
        free(buf);
        return -errno;
    }
    size_t skip = 0;
    if (from > 0) { /* a cut first line is left out */
        char *nl = memchr(buf, '\n', (size_t) n);
        skip = nl ? (size_t) (nl - buf) + 1 : (size_t) n;
    }
    memmove(buf, buf + skip, (size_t) n - skip);
    *ret_len = (size_t) n - skip;
    buf[*ret_len] = 0;
    *ret = buf;
    *ret_start = from + (off_t) skip;
    return 0;
}

/* Every complete line of text[0..len) as entries of unit; returns the bytes used (a last line
 * without its newline is left, unless all). */
static int add_lines(Entries *l, size_t unit, const char *text, size_t len, bool all,
                     size_t *ret_used) {
    size_t i = 0;
    while (i < len) {
        const char *nl = memchr(text + i, '\n', len - i);
        if (!nl && !all)
            break;
        size_t n = nl ? (size_t) (nl - (text + i)) : len - i;
        Entry e = {.unit = unit};
        int r = parse_file_line(text + i, n, &e);
        if (r < 0 || (r = entries_add(l, &e)) < 0) {
            entry_done(&e);
            return r;
        }
        i += n + (nl ? 1 : 0);
    }
    if (ret_used)
        *ret_used = i;
    return 0;
}

/* -f on files: each unit's current file, read on from where the tail ended. */
typedef struct Follow {
    int fd;
    dev_t dev;
    ino_t ino;
    char *pending; /* a line still without its newline */
    size_t pending_len;
} Follow;

static int follow_open(Follow *f, const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    struct stat st;
    if (fd < 0)
        return errno == ENOENT ? 0 : -errno;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        safe_close(fd);
        return -EBADFD;
    }
    f->fd = fd;
    f->dev = st.st_dev;
    f->ino = st.st_ino;
    f->pending_len = 0;
    return 0;
}

/* The unit's files, oldest first: NAME.log.(max-1) .. NAME.log.1, NAME.log. With f (-f), the
 * current file is opened as f and left at the end of its last whole line, where following
 * goes on: nothing written in between is missed or shown twice. */
static int read_files(Entries *l, size_t unit, const LogSource *src, Follow *f) {
    for (unsigned k = src->max_files > 0 ? src->max_files - 1 : 0;; k--) {
        char path[PATH_MAX];
        _cleanup_close_ int own = -EBADF;
        int fd, r;
        if (k == 0)
            snprintf(path, sizeof path, "%s", src->path);
        else
            snprintf(path, sizeof path, "%s.%u", src->path, k);
        if (k == 0 && f) {
            if ((r = follow_open(f, path)) < 0)
                return r;
            fd = f->fd;
        } else {
            fd = own = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
            struct stat st;
            if (fd < 0 && errno != ENOENT)
                return -errno;
            if (fd >= 0 && (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)))
                return -EBADFD;
        }
        if (fd >= 0) {
            _cleanup_free_ char *text = NULL;
            size_t len = 0, used = 0;
            off_t start = 0;
            bool following = k == 0 && f;
            r = read_tail(fd, &text, &len, &start);
            if (r < 0 || (r = add_lines(l, unit, text, len, !following, &used)) < 0)
                return r;
            if (following && lseek(fd, start + (off_t) used, SEEK_SET) < 0)
                return -errno;
        }
        if (k == 0)
            return 0;
    }
}

static int entry_cmp(const void *a, const void *b) {
    const Entry *x = a, *y = b;
    /* a line without a stamp stays where it was read */
    if (x->unit != y->unit && x->usec && y->usec && x->usec != y->usec)
        return x->usec < y->usec ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void json_string(const char *s, size_t n) {
    putchar('"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char) s[i];
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20 || c == 0x7f)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

/* journalctl's convention: a field that is not valid UTF-8 is an array of its bytes. */
static void json_value(const char *s, size_t n) {
    if (utf8_is_valid_n(s, n) && !memchr(s, 0, n)) {
        json_string(s, n);
        return;
    }
    putchar('[');
    for (size_t i = 0; i < n; i++)
        printf("%s%u", i ? "," : "", (unsigned char) s[i]);
    putchar(']');
}

static int print_entry(const Entry *e, const LogSource *src, LogOutput output) {
    if (output == LOG_OUTPUT_JSON) {
        printf("{\"__REALTIME_TIMESTAMP\":\"%" PRIu64 "\",\"SANDBOXD_UNIT\":", e->usec);
        json_string(src->unit, strlen(src->unit));
        if (e->ident) {
            printf(",\"SYSLOG_IDENTIFIER\":");
            json_value(e->ident, strlen(e->ident));
        }
        if (e->pid && (!e->ident || !streq(e->ident, "sandboxd"))) {
            printf(",\"SYSLOG_PID\":");
            json_value(e->pid, strlen(e->pid));
        }
        printf(",\"MESSAGE\":");
        json_value(e->message, e->message_len);
        printf("}\n");
        return ferror(stdout) ? -EIO : 0;
    }
    const char *text;
    size_t len;
    _cleanup_free_ char *made = NULL;
    if (output == LOG_OUTPUT_CAT) {
        text = e->message;
        len = e->message_len;
    } else if (e->raw) {
        text = e->raw;
        len = strlen(e->raw);
    } else {
        /* the journal's entry in the file's form */
        char stamp[32] = "";
        time_t t = (time_t) (e->usec / USEC_PER_SEC);
        struct tm tm;
        if (localtime_r(&t, &tm))
            strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", &tm);
        FILE *f = open_memstream(&made, &len);
        if (!f)
            return -ENOMEM;
        fprintf(f, "%s %s[%s]: ", stamp, e->ident ?: "?", e->pid ?: "?");
        fwrite(e->message, 1, e->message_len, f);
        if (fclose(f) != 0)
            return -ENOMEM;
        text = made;
    }
    _cleanup_free_ char *escaped = NULL;
    if (!arg_raw) {
        escaped = escape_terminal(text, len, 0);
        if (!escaped)
            return -ENOMEM;
        text = escaped;
        len = strlen(escaped);
    }
    if (fwrite(text, 1, len, stdout) != len || putchar('\n') == EOF)
        return -EIO;
    return 0;
}

/* Prints the last lines of l (all with lines == 0) that are not older than since. */
static int print_tail(Entries *l, const LogSource *srcs, unsigned lines, uint64_t since,
                      LogOutput output) {
    if (l->n > 1)
        qsort(l->e, l->n, sizeof *l->e, entry_cmp);
    size_t first = 0;
    if (since) /* lines without a stamp go with the one before them */
        while (first < l->n && (l->e[first].usec == 0 || l->e[first].usec < since)) {
            size_t k = first;
            while (k < l->n && l->e[k].usec == 0)
                k++;
            if (k < l->n && l->e[k].usec >= since)
                break;
            first = k + 1;
        }
    if (lines > 0 && l->n - first > lines)
        first = l->n - lines;
    for (size_t i = first; i < l->n; i++) {
        int r = print_entry(&l->e[i], &srcs[l->e[i].unit], output);
        if (r < 0)
            return r;
    }
    return fflush(stdout) == 0 ? 0 : -EIO;
}

/* Reads f to its end, printing complete lines. */
static int follow_read(Follow *f, size_t unit, const LogSource *srcs, LogOutput output) {
    char buf[65536];
    for (;;) {
        ssize_t n = read(f->fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            return 0;
        char *p = realloc(f->pending, f->pending_len + (size_t) n);
        if (!p)
            return -ENOMEM;
        f->pending = p;
        memcpy(p + f->pending_len, buf, (size_t) n);
        f->pending_len += (size_t) n;
        Entries l = {};
        size_t used;
        int r = add_lines(&l, unit, f->pending, f->pending_len, false, &used);
        for (size_t i = 0; r >= 0 && i < l.n; i++)
            r = print_entry(&l.e[i], &srcs[unit], output);
        entries_done(&l);
        if (r < 0)
            return r;
        memmove(f->pending, f->pending + used, f->pending_len - used);
        f->pending_len -= used;
        if (fflush(stdout) != 0)
            return -EIO;
    }
}

/* The file at the path is not the one followed any more (rotated, or made anew): the old one
 * is read to its end first, then the new one from its start. */
static int follow_check(Follow *f, size_t unit, const LogSource *srcs, LogOutput output) {
    struct stat st;
    int r;
    if (f->fd >= 0 && (r = follow_read(f, unit, srcs, output)) < 0)
        return r;
    if (stat(srcs[unit].path, &st) < 0)
        return errno == ENOENT ? 0 : -errno;
    if (f->fd >= 0 && st.st_dev == f->dev && st.st_ino == f->ino)
        return 0;
    if (f->fd >= 0 && f->pending_len > 0) { /* the old file's unfinished last line */
        Entries l = {};
        r = add_lines(&l, unit, f->pending, f->pending_len, true, NULL);
        for (size_t i = 0; r >= 0 && i < l.n; i++)
            r = print_entry(&l.e[i], &srcs[unit], output);
        entries_done(&l);
        if (r < 0)
            return r;
    }
    f->fd = safe_close(f->fd);
    if ((r = follow_open(f, srcs[unit].path)) < 0)
        return r;
    return f->fd >= 0 ? follow_read(f, unit, srcs, output) : 0;
}

/* f: the units' current files, opened by read_files() where their tails ended (fd < 0: none
 * yet). */
static int follow_files(const LogSource *srcs, size_t n, LogOutput output, Follow *f) {
    _cleanup_close_ int ino = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    int r = 0;
    if (ino < 0)
        return -errno;
    for (size_t i = 0; i < n; i++) {
        _cleanup_free_ char *dir = strdup(srcs[i].path);
        if (!dir)
            return -ENOMEM;
        char *slash = strrchr(dir, '/');
        if (slash)
            *(slash == dir ? slash + 1 : slash) = 0;
        /* one watch per directory: inotify returns the same one for the same directory */
        if (inotify_add_watch(ino, dir, IN_CREATE | IN_MODIFY | IN_MOVED_TO | IN_MOVED_FROM |
                                            IN_CLOSE_WRITE) < 0)
            return -errno;
    }
    for (;;) {
        for (size_t i = 0; i < n && r >= 0; i++)
            r = follow_check(&f[i], i, srcs, output);
        if (r < 0)
            break;
        struct pollfd p = {ino, POLLIN, 0};
        if (poll(&p, 1, FOLLOW_RECHECK_MS) < 0 && errno != EINTR) {
            r = -errno;
            break;
        }
        char ev[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
        while (read(ino, ev, sizeof ev) > 0)
            ; /* which file does not matter: each is checked */
    }
    return r;
}

static char *journal_field(sd_journal *j, const char *field, size_t *ret_len) {
    const void *d;
    size_t l, fl = strlen(field);
    if (sd_journal_get_data(j, field, &d, &l) < 0 || l <= fl + 1)
        return NULL;
    if (ret_len)
        *ret_len = l - fl - 1;
    return strndup((const char *) d + fl + 1, l - fl - 1);
}

static int journal_entry(sd_journal *j, const LogSource *srcs, size_t n, Entry *e) {
    _cleanup_free_ char *unit = journal_field(j, "SANDBOXD_UNIT", NULL);
    *e = (Entry){};
    (void) sd_journal_get_realtime_usec(j, &e->usec);
    for (size_t i = 0; unit && i < n; i++)
        if (streq(srcs[i].unit, unit))
            e->unit = i;
    e->ident = journal_field(j, "SYSLOG_IDENTIFIER", NULL);
    e->message = journal_field(j, "MESSAGE", &e->message_len);
    if (!e->message && !(e->message = strdup("")))
        return -ENOMEM;
    if (e->ident && streq(e->ident, "sandboxd") && unit) {
        /* sandboxd's event "NAME: text": shown as the file shows it, sandboxd[NAME]: text */
        size_t ul = strlen(unit);
        if (e->message_len > ul + 2 && strncmp(e->message, unit, ul) == 0 &&
            e->message[ul] == ':' && e->message[ul + 1] == ' ') {
            memmove(e->message, e->message + ul + 2, e->message_len - ul - 1);
            e->message_len -= ul + 2;
        }
        e->pid = strdup(unit);
    } else
        e->pid = journal_field(j, "SYSLOG_PID", NULL);
    return 0;
}

static int show_journal(const LogSource *srcs, size_t n, unsigned lines, uint64_t since,
                        LogOutput output, bool follow) {
    sd_journal *j = NULL;
    int r = sd_journal_open(&j, SD_JOURNAL_LOCAL_ONLY);
    if (r < 0)
        return r;
    for (size_t i = 0; i < n && r >= 0; i++) {
        char match[256];
        snprintf(match, sizeof match, "SANDBOXD_UNIT=%s", srcs[i].unit);
        r = sd_journal_add_match(j, match, 0);
        if (r >= 0 && i + 1 < n)
            r = sd_journal_add_disjunction(j);
    }
    /* the last lines: back from the end onto the first of them, then forward */
    bool on_entry = false;
    if (r >= 0 && lines > 0 && (r = sd_journal_seek_tail(j)) >= 0) {
        r = sd_journal_previous_skip(j, lines);
        on_entry = r > 0;
    } else if (r >= 0 && since)
        r = sd_journal_seek_realtime_usec(j, since);
    else if (r >= 0)
        r = sd_journal_seek_head(j);
    while (r >= 0) {
        if (!on_entry) {
            r = sd_journal_next(j);
            if (r < 0)
                break;
            if (r == 0) {
                if (!follow || fflush(stdout) != 0)
                    break;
                r = sd_journal_wait(j, UINT64_MAX);
                continue;
            }
        }
        on_entry = false;
        Entry e;
        r = journal_entry(j, srcs, n, &e);
        if (r >= 0 && (!since || e.usec >= since))
            r = print_entry(&e, &srcs[e.unit], output);
        entry_done(&e);
    }
    sd_journal_close(j);
    return r < 0 ? r : fflush(stdout) == 0 ? 0 : -EIO;
}

int logs_show(const LogSource *srcs, size_t n, unsigned lines, uint64_t since, LogOutput output,
              bool follow) {
    bool journal = false;
    for (size_t i = 0; i < n; i++)
        if (streq(srcs[i].target, "journal"))
            journal = true;
    if (journal)
        return show_journal(srcs, n, lines, since, output, follow);
    Entries l = {};
    _cleanup_free_ Follow *f = follow ? calloc(n, sizeof *f) : NULL;
    int r = follow && !f ? -ENOMEM : 0;
    for (size_t i = 0; f && i < n; i++)
        f[i].fd = -EBADF;
    for (size_t i = 0; i < n && r >= 0; i++)
        r = read_files(&l, i, &srcs[i], f ? &f[i] : NULL);
    if (r >= 0)
        r = print_tail(&l, srcs, lines, since, output);
    entries_done(&l);
    if (r >= 0 && follow)
        r = follow_files(srcs, n, output, f);
    for (size_t i = 0; f && i < n; i++) {
        safe_close(f[i].fd);
        free(f[i].pending);
    }
    return r;
}

int parse_since(const char *s, uint64_t *ret) {
    uint64_t now = now_usec(CLOCK_REALTIME), span;
    time_t t = time(NULL);
    struct tm tm;
    size_t n = strlen(s);
    if (streq(s, "now")) {
        *ret = now;
        return 0;
    }
    if (streq(s, "today") || streq(s, "yesterday")) {
        localtime_r(&t, &tm);
        tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
        tm.tm_isdst = -1;
        if (streq(s, "yesterday"))
            tm.tm_mday--;
        time_t d = mktime(&tm);
        if (d < 0)
            return -EINVAL;
        *ret = (uint64_t) d * USEC_PER_SEC;
        return 0;
    }
    /* "-5min", "5min ago" */
    if (s[0] == '-' || (n > 4 && streq(s + n - 4, " ago"))) {
        _cleanup_free_ char *span_text = s[0] == '-' ? strdup(s + 1) : strndup(s, n - 4);
        if (!span_text || parse_timespan(span_text, &span) < 0 || span == USEC_INFINITY)
            return -EINVAL;
        *ret = span > now ? 0 : now - span;
        return 0;
    }
    static const char *const formats[] = {"%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d",
                                           "%H:%M:%S", "%H:%M"};
    for (size_t i = 0; i < ELEMENTSOF(formats); i++) {
        localtime_r(&t, &tm);
        if (i >= 3) /* a time alone: today */
            tm.tm_sec = 0;
        else
            tm = (struct tm){};
        tm.tm_isdst = -1;
        const char *end = strptime(s, formats[i], &tm);
        if (!end || *end)
            continue;
        time_t x = mktime(&tm);
        if (x < 0)
            return -EINVAL;
        *ret = (uint64_t) x * USEC_PER_SEC;
        return 0;
    }
    return -EINVAL;
}
