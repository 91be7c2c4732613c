/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The daemon's reader of the init's LogRecords (init-protocol.h): a byte stream from a pipe,
 * cut anywhere by reads. Pure: no I/O. The init runs inside the sandbox, so its bytes are
 * untrusted: a header that the init could not have written stops the parse, and no length is
 * used before it is checked. */

#include <stdbool.h>
#include <stddef.h>

#include "init-protocol.h"

#define LOG_RECORD_MAX (sizeof(LogRecord) + LOG_RECORD_IDENT_MAX + LOG_RECORD_LINE_MAX)

typedef struct LogRecordParser {
    char *partial; /* a record a read cut (LOG_RECORD_MAX bytes, allocated when needed) */
    size_t partial_len;
} LogRecordParser;

/* One whole record: ident is h->ident_len bytes, line h->len bytes (neither NUL-terminated). */
typedef void (*LogRecordFunc)(const LogRecord *h, const char *ident, const char *line,
                              void *userdata);

/* Calls f for every record completed by data[0..n). -EBADMSG on a malformed header (the stream
 * cannot be trusted after it), -ENOMEM. */
int log_record_parse(LogRecordParser *p, const char *data, size_t n, LogRecordFunc f,
                     void *userdata);
/* Forgets a cut record (a new stream); keeps the buffer. */
void log_record_parser_reset(LogRecordParser *p);
void log_record_parser_done(LogRecordParser *p);
