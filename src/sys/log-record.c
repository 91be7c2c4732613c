/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log-record.h"
#include "macro.h"

static bool header_valid(const LogRecord *h) {
    return (h->stream == LOG_STREAM_STDOUT || h->stream == LOG_STREAM_STDERR) &&
           h->len <= LOG_RECORD_LINE_MAX && h->ident_len <= LOG_RECORD_IDENT_MAX;
}

/* Moves up to want - p->partial_len bytes of *data into the cut record. */
static void partial_fill(LogRecordParser *p, size_t want, const char **data, size_t *n) {
    if (p->partial_len >= want)
        return;
    size_t take = want - p->partial_len;
    if (take > *n)
        take = *n;
    memcpy(p->partial + p->partial_len, *data, take);
    p->partial_len += take;
    *data += take;
    *n -= take;
}

int log_record_parse(LogRecordParser *p, const char *data, size_t n, LogRecordFunc f,
                     void *userdata) {
    LogRecord h;
    if (p->partial_len > 0) {
        partial_fill(p, sizeof h, &data, &n);
        if (p->partial_len < sizeof h)
            return 0; /* all of data went in: more to come */
        memcpy(&h, p->partial, sizeof h);
        if (!header_valid(&h))
            return -EBADMSG;
        size_t total = sizeof h + h.ident_len + h.len;
        partial_fill(p, total, &data, &n);
        if (p->partial_len < total)
            return 0;
        p->partial_len = 0;
        f(&h, p->partial + sizeof h, p->partial + sizeof h + h.ident_len, userdata);
    }
    while (n >= sizeof h) {
        memcpy(&h, data, sizeof h);
        if (!header_valid(&h))
            return -EBADMSG;
        size_t total = sizeof h + h.ident_len + h.len;
        if (n < total)
            break;
        f(&h, data + sizeof h, data + sizeof h + h.ident_len, userdata);
        data += total;
        n -= total;
    }
    if (n > 0) { /* a cut record, shorter than its checked length (or than a header) */
        if (!p->partial && !(p->partial = malloc(LOG_RECORD_MAX)))
            return -ENOMEM;
        memcpy(p->partial, data, n);
        p->partial_len = n;
    }
    return 0;
}

void log_record_parser_reset(LogRecordParser *p) {
    p->partial_len = 0;
}

void log_record_parser_done(LogRecordParser *p) {
    p->partial = mfree(p->partial);
    p->partial_len = 0;
}
