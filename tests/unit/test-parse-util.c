/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "cgroup-util.h"
#include "macro.h"
#include "parse-util.h"
#include "path-util.h"
#include "process-util.h"
#include "ratelimit.h"
#include "utf8.h"

static uint64_t size_ok(const char *s) {
    uint64_t v = 0;
    assert_int_equal(parse_size_or_infinity(s, &v), 0);
    return v;
}

static void test_parse_size(void **state) {
    assert_int_equal(size_ok("1024"), 1024);
    assert_int_equal(size_ok("64M"), 64ULL << 20);
    assert_int_equal(size_ok("1.5G"), 3ULL << 29);
    assert_int_equal(size_ok("2K"), 2048);
    assert_int_equal(size_ok("0.5K"), 512);
    assert_int_equal(size_ok("infinity"), UINT64_MAX);
    uint64_t v = 7;
    assert_int_equal(parse_size("", &v), -EINVAL);
    assert_int_equal(parse_size("64Q", &v), -EINVAL);
    assert_int_equal(parse_size("-1M", &v), -EINVAL);
    assert_int_equal(parse_size("1.5", &v), -EINVAL);
    assert_int_equal(parse_size("M", &v), -EINVAL);
    assert_int_equal(parse_size("1 M", &v), -EINVAL);
    assert_int_equal(parse_size("64m", &v), -EINVAL); /* systemd's suffixes are upper case */
    assert_int_equal(parse_size("99999999999999999999", &v), -ERANGE);
    assert_int_equal(parse_size("20E", &v), -ERANGE);
    assert_int_equal(v, 7); /* never written on failure */
    /* rates: systemd reads IO*BandwidthMax= with base 1000 */
    assert_int_equal(parse_size_base("5M", 1000, &v), 0);
    assert_int_equal(v, 5000000);
    assert_int_equal(parse_size_base("1.5K", 1000, &v), 0);
    assert_int_equal(v, 1500);
    assert_int_equal(parse_size_base("5M", 1024, &v), 0);
    assert_int_equal(v, 5ULL << 20);
    assert_int_equal(parse_size_base("5M", 10, &v), -EINVAL);
}

static uint64_t span_ok(const char *s) {
    uint64_t v = 0;
    assert_int_equal(parse_timespan(s, &v), 0);
    return v;
}

static void test_parse_timespan(void **state) {
    assert_int_equal(span_ok("100ms"), 100000);
    assert_int_equal(span_ok("5"), 5000000);
    assert_int_equal(span_ok("1min 30s"), 90000000);
    assert_int_equal(span_ok("1min30s"), 90000000);
    assert_int_equal(span_ok("2.5s"), 2500000);
    assert_int_equal(span_ok("1h"), 3600000000ULL);
    assert_int_equal(span_ok("3 sec"), 3000000);
    assert_int_equal(span_ok("250us"), 250);
    assert_int_equal(span_ok("1d 2h"), 93600000000ULL);
    assert_int_equal(span_ok("infinity"), UINT64_MAX);
    assert_int_equal(span_ok("0"), 0);
    uint64_t v;
    assert_int_equal(parse_timespan("", &v), -EINVAL);
    assert_int_equal(parse_timespan("5 parsecs", &v), -EINVAL);
    assert_int_equal(parse_timespan("ms", &v), -EINVAL);
    assert_int_equal(parse_timespan("5sx", &v), -EINVAL);
    assert_int_equal(parse_timespan("-5s", &v), -EINVAL);
}

static void test_parse_percent(void **state) {
    uint32_t v;
    assert_int_equal(parse_percent_permyriad("20%", &v), 0);
    assert_int_equal(v, 2000);
    assert_int_equal(parse_percent_permyriad("150%", &v), 0);
    assert_int_equal(v, 15000);
    assert_int_equal(parse_percent_permyriad("12.5%", &v), 0);
    assert_int_equal(v, 1250);
    assert_int_equal(parse_percent_permyriad("20", &v), -EINVAL);
    assert_int_equal(parse_percent_permyriad("%", &v), -EINVAL);
    assert_int_equal(parse_percent_permyriad("1.001%", &v), -EINVAL);
}

static void test_cpu_set(void **state) {
    CpuSet c;
    assert_int_equal(parse_cpu_set("0-1,3", &c), 0);
    assert_true(cpu_set_is_set(&c, 0) && cpu_set_is_set(&c, 1) && cpu_set_is_set(&c, 3));
    assert_false(cpu_set_is_set(&c, 2));
    _cleanup_free_ char *s = cpu_set_to_string(&c);
    assert_string_equal(s, "0-1,3");
    assert_int_equal(parse_cpu_set("4 0 2-3", &c), 0);
    _cleanup_free_ char *t = cpu_set_to_string(&c);
    assert_string_equal(t, "0,2-4");
    assert_int_equal(parse_cpu_set("", &c), -EINVAL);
    assert_int_equal(parse_cpu_set("3-1", &c), -EINVAL);
    assert_int_equal(parse_cpu_set("a", &c), -EINVAL);
    assert_int_equal(parse_cpu_set("1-", &c), -EINVAL);
    assert_int_equal(parse_cpu_set("5000", &c), -ERANGE);
}

static void test_parse_signal(void **state) {
    int s;
    assert_int_equal(parse_signal("SIGTERM", &s), 0);
    assert_int_equal(s, SIGTERM);
    assert_int_equal(parse_signal("KILL", &s), 0);
    assert_int_equal(s, SIGKILL);
    assert_int_equal(parse_signal("10", &s), 0);
    assert_int_equal(s, 10);
    assert_int_equal(parse_signal("SIGFOO", &s), -EINVAL);
    assert_int_equal(parse_signal("0", &s), -ERANGE);
    assert_string_equal(signal_to_string(SIGINT), "SIGINT");
}

static void test_parse_boolean(void **state) {
    assert_int_equal(parse_boolean("yes"), 1);
    assert_int_equal(parse_boolean("On"), 1);
    assert_int_equal(parse_boolean("0"), 0);
    assert_int_equal(parse_boolean("false"), 0);
    assert_int_equal(parse_boolean("maybe"), -EINVAL);
}

static void test_parse_id(void **state) {
    uint32_t v = 7;
    assert_int_equal(parse_id("0", &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(parse_id("2147483647", &v), 0);
    assert_int_equal(v, 2147483647U);
    /* (uid_t) -1 means "unchanged" to setresuid(): runc's limit keeps it out */
    assert_int_equal(parse_id("2147483648", &v), -ERANGE);
    assert_int_equal(parse_id("4294967295", &v), -ERANGE);
    assert_int_equal(parse_id("4294967296", &v), -ERANGE);
    assert_int_equal(parse_id("-1", &v), -EINVAL);
    assert_int_equal(parse_id("", &v), -EINVAL);
    assert_int_equal(parse_id("www", &v), -EINVAL);
    assert_int_equal(v, 2147483647U); /* untouched on failure */
}

static void test_format(void **state) {
    char b[64];
    assert_string_equal(format_bytes(b, 1536), "1.5K");
    assert_string_equal(format_bytes(b, 64ULL << 20), "64.0M");
    assert_string_equal(format_bytes(b, 100), "100B");
    assert_string_equal(format_timespan(b, 90 * USEC_PER_SEC), "1min 30s");
    assert_string_equal(format_timespan(b, 100 * USEC_PER_MSEC), "100ms");
}

static void test_cg_escape(void **state) {
    const char *cases[][2] = {
        {"web.unit", "web.unit"},     {"cpu.unit", "_cpu.unit"}, {"tasks", "_tasks"},
        {"_x.unit", "__x.unit"},      {".hidden", "_.hidden"},   {"cgroup.procs", "_cgroup.procs"},
        {"memoryhog.unit", "memoryhog.unit"},
    };
    for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
        _cleanup_free_ char *e = cg_escape(cases[i][0]);
        assert_string_equal(e, cases[i][1]);
    }
}

static void test_cg_mountinfo(void **state) {
    char *m = NULL;
    bool v2 = true;
    /* v1 controller, named v1 (with optional fields), cgroup2, an escaped space */
    assert_int_equal(cg_mountinfo_hierarchy("35 26 0:30 / /sys/fs/cgroup/memory rw,relatime "
                                            "shared:12 - cgroup cgroup rw,memory\n",
                                            &m, &v2),
                     1);
    assert_string_equal(m, "/sys/fs/cgroup/memory");
    assert_false(v2);
    m = mfree(m);
    assert_int_equal(cg_mountinfo_hierarchy("40 26 0:35 / /sys/fs/cgroup/systemd rw - cgroup "
                                            "cgroup rw,xattr,name=systemd",
                                            &m, &v2),
                     1);
    assert_string_equal(m, "/sys/fs/cgroup/systemd");
    m = mfree(m);
    assert_int_equal(cg_mountinfo_hierarchy("41 26 0:36 / /sys/fs/cgroup/uni\\040fied rw "
                                            "shared:1 master:2 - cgroup2 cgroup2 rw,nsdelegate",
                                            &m, &v2),
                     1);
    assert_string_equal(m, "/sys/fs/cgroup/uni fied");
    assert_true(v2);
    m = mfree(m);
    /* not a hierarchy's root: a bind mount of a sub-group, or seen from another cgroupns */
    assert_int_equal(cg_mountinfo_hierarchy("42 26 0:36 /sandbox.slice /mnt rw - cgroup2 "
                                            "cgroup2 rw",
                                            &m, &v2),
                     0);
    /* other file systems, including one named like a cgroup in the source field */
    assert_int_equal(cg_mountinfo_hierarchy("22 1 8:1 / / rw - ext4 /dev/sda1 rw", &m, &v2), 0);
    assert_int_equal(cg_mountinfo_hierarchy("23 1 0:5 / /x rw - tmpfs cgroup rw", &m, &v2), 0);
    assert_int_equal(cg_mountinfo_hierarchy("24 1 0:5 / /x rw - cgroupfs x rw", &m, &v2), 0);
    /* malformed */
    assert_int_equal(cg_mountinfo_hierarchy("", &m, &v2), -EINVAL);
    assert_int_equal(cg_mountinfo_hierarchy("35 26 0:30 / /a rw cgroup", &m, &v2), -EINVAL);
    assert_int_equal(cg_mountinfo_hierarchy("35 26 0:30 / /a rw -", &m, &v2), -EINVAL);
    assert_null(m);
}

static void test_ratelimit(void **state) {
    RateLimit rl = {.interval_usec = 10 * USEC_PER_SEC, .burst = 5};
    uint64_t t = 1000;
    for (int i = 0; i < 5; i++)
        assert_true(ratelimit_below(&rl, t + (uint64_t) i * 100000));
    assert_false(ratelimit_below(&rl, t + 600000));           /* sixth within 10 s */
    assert_true(ratelimit_below(&rl, t + 11 * USEC_PER_SEC)); /* window over */
    ratelimit_reset(&rl);
    assert_true(ratelimit_below(&rl, t + 11 * USEC_PER_SEC + 1));
    RateLimit off = {.interval_usec = 0, .burst = 5};
    for (int i = 0; i < 100; i++)
        assert_true(ratelimit_below(&off, t));
}

static void test_paths(void **state) {
    assert_true(path_is_normalized_absolute("/a/b"));
    assert_true(path_is_normalized_absolute("/"));
    assert_true(path_is_normalized_absolute("/a/b/"));
    assert_false(path_is_normalized_absolute("a/b"));
    assert_false(path_is_normalized_absolute("/a/../b"));
    assert_false(path_is_normalized_absolute("/a/./b"));
    assert_false(path_is_normalized_absolute("/a//b"));
    assert_false(path_is_normalized_absolute(""));
}

static void test_utf8(void **state) {
    assert_true(utf8_is_valid(""));
    assert_true(utf8_is_valid("plain \x01\x7f"));
    assert_true(utf8_is_valid("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xef\xbf\xbd"));
    assert_true(utf8_is_valid("\xf4\x8f\xbf\xbd")); /* U+10FFFD */
    /* what sd-bus refuses in a string (checked against libsystemd 252) */
    const char *bad[] = {
        "caf\xe9",             /* Latin-1 */
        "\xc3",                /* cut short */
        "\xc0\x80",            /* overlong NUL */
        "\xe0\x80\xaf",        /* overlong '/' */
        "\xed\xa0\x80",        /* surrogate */
        "\xf4\x90\x80\x80",    /* above U+10FFFF */
        "\xef\xbf\xbe",        /* U+FFFE */
        "\xef\xb7\x90",        /* U+FDD0 */
        "\xf4\x8f\xbf\xbf",    /* U+10FFFF */
        "\xf8\x88\x80\x80\x80", /* 5-byte form */
        "\x80",                /* lone continuation */
    };
    for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
        assert_false(utf8_is_valid(bad[i]));
        _cleanup_free_ char *e = utf8_escape_invalid(bad[i]);
        assert_non_null(e);
        assert_true(utf8_is_valid(e));
    }
    _cleanup_free_ char *e = utf8_escape_invalid("a\xe9" "b\xc3\xa9");
    assert_string_equal(e, "a\xef\xbf\xbd" "b\xc3\xa9");
    assert_true(utf8_is_valid_n("ab\xff", 2));
    assert_int_equal(utf8_prefix_len("abc", 10), 3);
    assert_int_equal(utf8_prefix_len("abc", 3), 3);
    assert_int_equal(utf8_prefix_len("a\xc3\xa9z", 2), 1);
    assert_int_equal(utf8_prefix_len("a\xc3\xa9z", 3), 3);
    assert_int_equal(utf8_prefix_len("\xf0\x9f\x98\x80z", 3), 0);
}

static void test_cg_text_find_path_under(void **state) {
    const char *v1 = "9:name=systemd:/\n8:pids:/sandbox.slice/web.unit\n4:memory:/x\n0::/\n";
    size_t len = 0;
    const char *p = cg_text_find_path_under(v1, "/sandbox.slice", &len);
    assert_non_null(p);
    assert_int_equal(len, strlen("/sandbox.slice/web.unit"));
    assert_memory_equal(p, "/sandbox.slice/web.unit", len);
    assert_non_null(cg_text_find_path_under("0::/sandbox.slice", "/sandbox.slice", NULL));
    /* a sibling whose name starts the same is not below it */
    assert_null(cg_text_find_path_under("0::/sandbox.slice2/x\n", "/sandbox.slice", NULL));
    assert_null(cg_text_find_path_under("0::/other/sandbox.slice/x\n", "/sandbox.slice", NULL));
    assert_null(cg_text_find_path_under("garbage\n\n0:\n", "/sandbox.slice", NULL));
    assert_non_null(cg_text_find_path_under(
        "0::/system.slice/sandboxd.service/sandbox.slice/a.unit",
        "/system.slice/sandboxd.service/sandbox.slice", NULL));
}

/* read_file() never blocks on a FIFO and reads only regular files, up to its cap. */
static void test_read_file_regular_only(void **state) {
    char dir[256], path[300];
    char *text = (char *) "untouched";
    size_t len = 7;
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/test-read-file.XXXXXX", tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(dir));
    assert_int_equal(read_file(dir, 1024, &text, &len), -EISDIR);
    snprintf(path, sizeof path, "%s/fifo", dir);
    assert_int_equal(mkfifo(path, 0600), 0);
    assert_int_equal(read_file(path, 1024, &text, &len), -EBADFD);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(read_file("/dev/zero", 1024, &text, &len), -EBADFD);
    snprintf(path, sizeof path, "%s/big", dir);
    FILE *f = fopen(path, "we");
    assert_non_null(f);
    for (int i = 0; i < 5000; i++)
        fputc('x', f);
    fclose(f);
    assert_int_equal(read_file(path, 4096, &text, &len), -EFBIG);
    assert_string_equal(text, "untouched"); /* outputs untouched on failure */
    assert_int_equal(len, 7);
    assert_int_equal(read_file(path, 8192, &text, &len), 0);
    assert_int_equal(len, 5000);
    free(text);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(rmdir(dir), 0);
}

static void test_parse_stat(void **state) {
    /* a command name with spaces and ')' in it, as a payload may choose */
    const char *stat = "4242 (a b) c)) S 1 4242 4242 0 -1 4194560 100 0 0 0 "
                       "250 125 0 0 20 0 3 0 98765 1000 100\n";
    char st;
    uint64_t ticks, start;
    assert_int_equal(parse_stat_cpu(stat, &st, &ticks), 0);
    assert_int_equal(st, 'S');
    assert_int_equal(ticks, 375);
    assert_int_equal(parse_stat_start_time(stat, &start), 0);
    assert_int_equal(start, 98765);
    assert_int_equal(parse_stat_cpu("4242 (x) T 1 2", &st, &ticks), -EBADMSG); /* cut short */
    assert_int_equal(parse_stat_cpu("no parenthesis", &st, &ticks), -EBADMSG);
    assert_int_equal(parse_stat_cpu("1 (x) R 1 1 1 0 -1 0 0 0 0 0 x 1 0", &st, &ticks), -EINVAL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_stat),
        cmocka_unit_test(test_parse_size),    cmocka_unit_test(test_parse_timespan),
        cmocka_unit_test(test_parse_percent), cmocka_unit_test(test_cpu_set),
        cmocka_unit_test(test_parse_signal),  cmocka_unit_test(test_parse_boolean),
        cmocka_unit_test(test_parse_id),      cmocka_unit_test(test_format),
        cmocka_unit_test(test_cg_escape),     cmocka_unit_test(test_cg_mountinfo),
        cmocka_unit_test(test_ratelimit),     cmocka_unit_test(test_paths),
        cmocka_unit_test(test_read_file_regular_only),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_cg_text_find_path_under),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
