/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include "log.h"

static int max_level = LOG_INFO;
static LogTarget target = LOG_TARGET_STDERR;
static const char *prefix = NULL;

void log_set_max_level(int level) {
    max_level = level;
}

int log_get_max_level(void) {
    return max_level;
}

void log_set_target(LogTarget t) {
    target = t;
}

void log_set_target_auto(void) {
    target = access("/run/systemd/journal/socket", W_OK) == 0 ? LOG_TARGET_JOURNAL
                                                              : LOG_TARGET_STDERR;
}

void log_set_prefix(const char *ident) {
    prefix = ident;
}

int log_internal(int level, int error, const char *file, int line, const char *func,
                 const char *fmt, ...) {
    int e = error < 0 ? -error : error;
    if (level > max_level)
        return -e;

    char buf[4096];
    va_list ap;
    errno = e; /* makes %m print the error's text */
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);

    if (target == LOG_TARGET_JOURNAL) {
        char sline[32];
        snprintf(sline, sizeof sline, "CODE_LINE=%d", line);
        if (e)
            sd_journal_send("MESSAGE=%s", buf, "PRIORITY=%d", level, "ERRNO=%d", e, NULL);
        else
            sd_journal_send("MESSAGE=%s", buf, "PRIORITY=%d", level, NULL);
        (void) file;
        (void) func;
        (void) sline;
    } else if (prefix)
        fprintf(stderr, "%s: %s\n", prefix, buf);
    else
        fprintf(stderr, "%s\n", buf);
    return -e;
}
