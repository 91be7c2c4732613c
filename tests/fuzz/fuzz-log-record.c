/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The daemon parses the LogRecords a sandbox's init writes into a pipe; the init runs inside
 * the sandbox, so its bytes are untrusted. The input is parsed twice, whole and in chunks whose
 * sizes come from its first byte: both must give the same records (a record cut by a read is
 * the case that once overflowed), each within its bounds, and agree on a malformed stream. */

#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "log-record.h"

typedef struct Digest {
    size_t records;
    uint64_t hash;
} Digest;

static void on_record(const LogRecord *h, const char *ident, const char *line, void *userdata) {
    Digest *d = userdata;
    if (h->len > LOG_RECORD_LINE_MAX || h->ident_len > LOG_RECORD_IDENT_MAX)
        __builtin_trap();
    d->records++;
    d->hash = d->hash * 1099511628211ULL + h->len + ((uint64_t) h->stream << 16) + h->pid;
    for (size_t i = 0; i < h->ident_len; i++) /* every byte is read: ASan sees any overrun */
        d->hash = d->hash * 31 + (unsigned char) ident[i];
    for (size_t i = 0; i < h->len; i++)
        d->hash = d->hash * 31 + (unsigned char) line[i];
}

static int parse(const uint8_t *data, size_t size, size_t chunk, Digest *d) {
    LogRecordParser p = {};
    int r = 0;
    for (size_t off = 0; off < size && r >= 0;) {
        size_t n = chunk && size - off > chunk ? chunk : size - off;
        r = log_record_parse(&p, (const char *) data + off, n, on_record, d);
        off += n;
    }
    log_record_parser_done(&p);
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    size_t chunk = (size_t) data[0] + 1; /* 1..256: cuts inside headers and bodies */
    data++, size--;
    Digest whole = {}, cut = {};
    int a = parse(data, size, 0, &whole), b = parse(data, size, chunk, &cut);
    if (a != b || whole.records != cut.records || whole.hash != cut.hash)
        __builtin_trap();
    return 0;
}
