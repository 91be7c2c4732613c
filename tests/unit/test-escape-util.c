/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "escape-util.h"
#include "macro.h"

/* s is n bytes (a literal may hold NUL); the escaped text must equal want */
static void check_n(const char *s, size_t n, EscapeFlags flags, const char *want) {
    _cleanup_free_ char *got = escape_terminal(s, n, flags);
    assert_non_null(got);
    assert_string_equal(got, want);
}

static void check(const char *s, EscapeFlags flags, const char *want) {
    check_n(s, strlen(s), flags, want);
}

static void test_printable_as_is(void **state) {
    check("", 0, "");
    check("plain text, 100% ASCII ~!@#$^&*()_+{}|:<>?", 0,
          "plain text, 100% ASCII ~!@#$^&*()_+{}|:<>?");
    /* a backslash is text: the result is for reading, --raw gives the bytes */
    check("C:\\dir \\x1b", 0, "C:\\dir \\x1b");
    check("a\tb", 0, "a\tb");
}

static void test_newline(void **state) {
    check("one\ntwo\n", ESCAPE_KEEP_NEWLINE, "one\ntwo\n");
    /* a one-line field: a newline would forge the next line of `list` or `show` */
    check("one\nKey=forged", 0, "one\\nKey=forged");
}

static void test_c0_controls(void **state) {
    check("\r2024-01-01 sandboxd[x.unit]: Stopped\033[K", ESCAPE_KEEP_NEWLINE,
          "\\r2024-01-01 sandboxd[x.unit]: Stopped\\x1b[K");
    check("\033]0;title\a", 0, "\\x1b]0;title\\a");
    check("\033]52;c;ZXZpbA==\a", 0, "\\x1b]52;c;ZXZpbA==\\a");
    check("\033[2J", 0, "\\x1b[2J");
    check("a\bb\vc\fd", 0, "a\\bb\\vc\\fd");
    check("\x01\x1f\x0e", 0, "\\x01\\x1f\\x0e");
    check_n("a\0b", 3, 0, "a\\x00b");
    check("\r\n", ESCAPE_KEEP_NEWLINE, "\\r\n");
}

static void test_del(void **state) {
    check("x\x7fy", 0, "x\\x7fy");
}

static void test_c1_controls(void **state) {
    /* a lone byte 0x80..0x9f is CSI, OSC... to an 8-bit terminal, and invalid UTF-8 */
    check("\x9bJ", 0, "\\x9bJ");
    check("\x9dtitle\x9c", 0, "\\x9dtitle\\x9c");
    /* U+009B, U+0080 and U+009F in UTF-8: some terminals act on them */
    check("\xc2\x9bJ", 0, "\\xc2\\x9bJ");
    check("\xc2\x80\xc2\x9f", 0, "\\xc2\\x80\\xc2\\x9f");
    /* U+00A0, the first character after them, is text */
    check("\xc2\xa0", 0, "\xc2\xa0");
}

static void test_utf8_kept(void **state) {
    check("caf\xc3\xa9 \xe2\x97\x8f \xe4\xb8\xad \xf0\x9f\x98\x80 \xef\xbf\xbd", 0,
          "caf\xc3\xa9 \xe2\x97\x8f \xe4\xb8\xad \xf0\x9f\x98\x80 \xef\xbf\xbd");
}

static void test_invalid_utf8(void **state) {
    check("\xff\xfe", 0, "\\xff\\xfe");
    check("\xc0\x80", 0, "\\xc0\\x80");                   /* overlong NUL */
    check("\xed\xa0\x80", 0, "\\xed\\xa0\\x80");          /* surrogate */
    check("\xf4\x90\x80\x80", 0, "\\xf4\\x90\\x80\\x80"); /* above U+10FFFF */
    check("\xc3(", 0, "\\xc3(");                          /* missing continuation */
    check("ok \xe2\x97", 0, "ok \\xe2\\x97");             /* cut off at the end */
    /* a bad byte costs only itself: the character after it is kept */
    check("\xe2\xc3\xa9", 0, "\\xe2\xc3\xa9");
}

static void test_backslash(void **state) {
    /* a name holding the four bytes \ x 1 b reads apart from an escaped ESC */
    check("a\\x1b\x1b", ESCAPE_BACKSLASH, "a\\\\x1b\\x1b");
    check("a\\b", 0, "a\\b");
}

static void test_bidi_controls(void **state) {
    /* U+202E (right-to-left override) would show "exe.ftp" as "ptf.exe" */
    check("e\xe2\x80\xae" "ftp.exe", 0, "e\\xe2\\x80\\xae" "ftp.exe");
    check("\xe2\x81\xa6x\xe2\x81\xa9", 0, "\\xe2\\x81\\xa6x\\xe2\\x81\\xa9");
    check("\xe2\x80\x94 dash, \xe2\x80\xa9", 0, "\xe2\x80\x94 dash, \xe2\x80\xa9");
}

static void test_only_n_bytes(void **state) {
    check_n("abc\033def", 3, 0, "abc");
    /* a character cut by n is not read past n */
    check_n("\xc3\xa9", 1, 0, "\\xc3");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_printable_as_is), cmocka_unit_test(test_newline),
        cmocka_unit_test(test_backslash),       cmocka_unit_test(test_bidi_controls),
        cmocka_unit_test(test_c0_controls),     cmocka_unit_test(test_del),
        cmocka_unit_test(test_c1_controls),     cmocka_unit_test(test_utf8_kept),
        cmocka_unit_test(test_invalid_utf8),    cmocka_unit_test(test_only_n_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
