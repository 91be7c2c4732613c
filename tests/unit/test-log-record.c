/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The daemon's reader of the init's LogRecords: records cut at every byte by reads, empty and
 * longest lines, and headers the init could not have written. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "log-record.h"

typedef struct Seen {
    char text[16384];
    size_t n;
} Seen;

static void on_record(const LogRecord *h, const char *ident, const char *line, void *userdata) {
    Seen *s = userdata;
    s->n++;
    size_t len = strlen(s->text);
    snprintf(s->text + len, sizeof s->text - len, "%u:%.*s[%u]:%.*s|", h->stream,
             (int) h->ident_len, ident, h->pid, (int) (h->len > 100 ? 100 : h->len), line);
}

static size_t put(char *buf, uint8_t stream, const char *ident, uint32_t pid, const char *line,
                  size_t len) {
    LogRecord h = {.usec = 1, .pid = pid, .len = (uint16_t) len, .stream = stream,
                   .ident_len = (uint8_t) strlen(ident)};
    memcpy(buf, &h, sizeof h);
    memcpy(buf + sizeof h, ident, h.ident_len);
    memcpy(buf + sizeof h + h.ident_len, line, len);
    return sizeof h + h.ident_len + len;
}

static void test_every_cut(void **state) {
    char buf[256];
    size_t n = put(buf, LOG_STREAM_STDOUT, "sh", 7, "hello", 5);
    n += put(buf + n, LOG_STREAM_STDERR, "", 8, "", 0);
    n += put(buf + n, LOG_STREAM_STDOUT, "httpd", 9, "x", 1);
    for (size_t a = 0; a <= n; a++)
        for (size_t b = a; b <= n; b++) {
            LogRecordParser p = {};
            Seen s = {};
            assert_int_equal(log_record_parse(&p, buf, a, on_record, &s), 0);
            assert_int_equal(log_record_parse(&p, buf + a, b - a, on_record, &s), 0);
            assert_int_equal(log_record_parse(&p, buf + b, n - b, on_record, &s), 0);
            assert_int_equal(s.n, 3);
            assert_string_equal(s.text, "1:sh[7]:hello|2:[8]:|1:httpd[9]:x|");
            assert_int_equal(p.partial_len, 0);
            log_record_parser_done(&p);
        }
}

static void test_longest_line_cut_one_byte_at_a_time(void **state) {
    static char buf[LOG_RECORD_MAX], line[LOG_RECORD_LINE_MAX];
    memset(line, 'y', sizeof line);
    size_t n = put(buf, LOG_STREAM_STDOUT, "iiiiiiiiiiiiiiiiiiiiiiiiiiiiiiii", 1, line, sizeof line);
    assert_int_equal(n, LOG_RECORD_MAX);
    LogRecordParser p = {};
    Seen s = {};
    for (size_t i = 0; i < n; i++)
        assert_int_equal(log_record_parse(&p, buf + i, 1, on_record, &s), 0);
    assert_int_equal(s.n, 1);
    log_record_parser_done(&p);
}

static void test_bad_headers(void **state) {
    char buf[64];
    LogRecordParser p = {};
    Seen s = {};
    size_t n = put(buf, 3, "sh", 1, "x", 1); /* no such stream */
    assert_int_equal(log_record_parse(&p, buf, n, on_record, &s), -EBADMSG);
    LogRecord h = {.len = LOG_RECORD_LINE_MAX + 1, .stream = 1};
    memcpy(buf, &h, sizeof h);
    /* a header cut in two is checked once whole */
    assert_int_equal(log_record_parse(&p, buf, 5, on_record, &s), 0);
    assert_int_equal(log_record_parse(&p, buf + 5, sizeof h - 5, on_record, &s), -EBADMSG);
    h = (LogRecord){.len = 1, .stream = 1, .ident_len = LOG_RECORD_IDENT_MAX + 1};
    memcpy(buf, &h, sizeof h);
    log_record_parser_reset(&p);
    assert_int_equal(log_record_parse(&p, buf, sizeof h, on_record, &s), -EBADMSG);
    assert_int_equal(s.n, 0);
    log_record_parser_done(&p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_cut),
        cmocka_unit_test(test_longest_line_cut_one_byte_at_a_time),
        cmocka_unit_test(test_bad_headers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
