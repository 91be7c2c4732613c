/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "in-addr-util.h"
#include "macro.h"

static union in_addr_union addr(const char *s, int want_family) {
    union in_addr_union a;
    int family;
    assert_int_equal(in_addr_parse(s, &family, &a), 0);
    assert_int_equal(family, want_family);
    return a;
}

static InAddrPrefix prefix(const char *s) {
    InAddrPrefix p;
    assert_int_equal(in_addr_prefix_parse(s, &p), 0);
    return p;
}

static void test_parse(void **state) {
    union in_addr_union a = addr("10.1.2.3", AF_INET);
    assert_memory_equal(a.bytes, ((uint8_t[]){10, 1, 2, 3}), 4);
    a = addr("fd00::1", AF_INET6);
    assert_int_equal(a.bytes[0], 0xfd);
    assert_int_equal(a.bytes[15], 1);
    addr("::ffff:10.0.0.1", AF_INET6);
    static const char *const bad[] = {"", "1.2.3", "1.2.3.4.5", " 1.2.3.4", "1.2.3.4 ",
                                      "256.1.1.1", "[fd00::1]", "fd00::1/64", "fe80::1%eth0",
                                      "010.1.1.1", "localhost", "fd00:::1"};
    for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
        int family = -1;
        union in_addr_union untouched = {.bytes = {0xaa}};
        if (in_addr_parse(bad[i], &family, &untouched) != -EINVAL)
            fail_msg("'%s' parsed", bad[i]);
        assert_int_equal(family, -1); /* nothing written on failure */
        assert_int_equal(untouched.bytes[0], 0xaa);
    }
    int family;
    assert_int_equal(in_addr_parse(NULL, &family, &a), -EINVAL);
    assert_int_equal(in_addr_family_size(AF_INET), 4);
    assert_int_equal(in_addr_family_size(AF_INET6), 16);
    assert_int_equal(in_addr_family_size(AF_UNIX), 0);
}

static void test_prefix_parse(void **state) {
    InAddrPrefix p = prefix("10.88.0.0/16");
    assert_int_equal(p.family, AF_INET);
    assert_int_equal(p.prefixlen, 16);
    assert_int_equal(p.addr.bytes[1], 88);
    p = prefix("10.128.0.0/9");
    assert_int_equal(p.prefixlen, 9);
    p = prefix("fd00:1::/64");
    assert_int_equal(p.family, AF_INET6);
    assert_int_equal(p.prefixlen, 64);
    prefix("1.2.3.4/32");
    prefix("fd00::1/128");
    prefix("128.0.0.0/1");
    prefix("fd00:0:0:0:8000::/65");
    /* host bits set: refused, so a typo is never silently widened */
    static const char *const bad[] = {"10.88.0.1/16", "10.64.0.0/9", "fd00::1/64",
                                      "fd00:0:0:0:8000::/64", "10.0.0.0/0", "::/0",
                                      "10.0.0.0/33", "fd00::/129", "10.0.0.0/", "/8",
                                      "10.0.0.0", "10.0.0.0/8x", "10.0.0.0/+8", "10.0.0.0/-8",
                                      "10.0.0.0/ 8", "10.0.0.0/0008", "x/8", "",
                                      "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255:1/8"};
    for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
        InAddrPrefix untouched = {.family = 99};
        if (in_addr_prefix_parse(bad[i], &untouched) != -EINVAL)
            fail_msg("'%s' parsed", bad[i]);
        assert_int_equal(untouched.family, 99);
    }
    assert_int_equal(in_addr_prefix_parse(NULL, &p), -EINVAL);
}

static void test_predicates(void **state) {
    union in_addr_union a = addr("127.1.2.3", AF_INET);
    assert_true(in_addr_is_loopback(AF_INET, &a));
    a = addr("::1", AF_INET6);
    assert_true(in_addr_is_loopback(AF_INET6, &a));
    a = addr("::2", AF_INET6);
    assert_false(in_addr_is_loopback(AF_INET6, &a));
    a = addr("128.0.0.1", AF_INET);
    assert_false(in_addr_is_loopback(AF_INET, &a));
    a = addr("0.0.0.0", AF_INET);
    assert_true(in_addr_is_null(AF_INET, &a));
    a = addr("::", AF_INET6);
    assert_true(in_addr_is_null(AF_INET6, &a));
    a = addr("0.0.0.1", AF_INET);
    assert_false(in_addr_is_null(AF_INET, &a));
    a = addr("224.0.0.1", AF_INET);
    assert_true(in_addr_is_multicast(AF_INET, &a));
    a = addr("239.255.255.255", AF_INET);
    assert_true(in_addr_is_multicast(AF_INET, &a));
    a = addr("240.0.0.1", AF_INET);
    assert_false(in_addr_is_multicast(AF_INET, &a));
    a = addr("ff02::1", AF_INET6);
    assert_true(in_addr_is_multicast(AF_INET6, &a));
    a = addr("fe80::1", AF_INET6);
    assert_false(in_addr_is_multicast(AF_INET6, &a));
    union in_addr_union b = addr("fe80::1", AF_INET6);
    assert_true(in_addr_equal(AF_INET6, &a, &b));
    b = addr("fe80::2", AF_INET6);
    assert_false(in_addr_equal(AF_INET6, &a, &b));
}

static void test_contains_overlaps(void **state) {
    InAddrPrefix p = prefix("10.88.0.0/16");
    union in_addr_union a = addr("10.88.255.255", AF_INET);
    assert_true(in_addr_prefix_contains(&p, AF_INET, &a));
    a = addr("10.89.0.0", AF_INET);
    assert_false(in_addr_prefix_contains(&p, AF_INET, &a));
    a = addr("a58:0::1", AF_INET6); /* the same first bytes, another family */
    assert_false(in_addr_prefix_contains(&p, AF_INET6, &a));
    p = prefix("10.128.0.0/9");
    a = addr("10.255.0.1", AF_INET);
    assert_true(in_addr_prefix_contains(&p, AF_INET, &a));
    a = addr("10.127.0.1", AF_INET);
    assert_false(in_addr_prefix_contains(&p, AF_INET, &a));
    p = prefix("fd00::/64");
    a = addr("fd00::ffff:ffff:ffff:ffff", AF_INET6);
    assert_true(in_addr_prefix_contains(&p, AF_INET6, &a));
    a = addr("fd00:0:0:1::", AF_INET6);
    assert_false(in_addr_prefix_contains(&p, AF_INET6, &a));

    static const struct {
        const char *a, *b;
        bool overlap;
    } cases[] = {
        {"10.0.0.0/8", "10.88.0.0/16", true},    {"10.88.0.0/16", "10.0.0.0/8", true},
        {"10.88.0.0/16", "10.89.0.0/16", false}, {"10.88.0.0/16", "10.88.0.0/16", true},
        {"10.88.0.0/16", "10.88.7.4/30", true},  {"192.168.0.0/24", "192.168.1.0/24", false},
        {"fd00::/8", "fd00:1::/64", true},       {"fd00::/64", "fd00:0:0:1::/64", false},
        {"10.0.0.0/8", "a00::/8", false}, /* families differ */
    };
    for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
        InAddrPrefix x = prefix(cases[i].a), y = prefix(cases[i].b);
        if (in_addr_prefix_overlaps(&x, &y) != cases[i].overlap)
            fail_msg("%s and %s", cases[i].a, cases[i].b);
    }
}

static void test_size(void **state) {
    InAddrPrefix p = prefix("10.88.0.0/16");
    assert_int_equal(in_addr_prefix_size(&p), 65536);
    p = prefix("10.88.0.0/30");
    assert_int_equal(in_addr_prefix_size(&p), 4);
    p = prefix("10.0.0.0/8");
    assert_int_equal(in_addr_prefix_size(&p), 1 << 24);
    p = prefix("10.88.0.1/32");
    assert_int_equal(in_addr_prefix_size(&p), 1);
    p = prefix("fd00::/120");
    assert_int_equal(in_addr_prefix_size(&p), 256);
    p = prefix("fd00::/96");
    assert_int_equal(in_addr_prefix_size(&p), UINT64_C(1) << 32);
    p = prefix("fd00::/64"); /* capped */
    assert_int_equal(in_addr_prefix_size(&p), UINT64_C(1) << 32);
}

/* nth and offset are inverses, on both sides of every byte boundary */
static void test_nth_offset(void **state) {
    char buf[INET6_ADDRSTRLEN];
    union in_addr_union a;
    uint64_t off;

    InAddrPrefix p = prefix("10.88.0.0/16");
    static const struct {
        uint64_t n;
        const char *s;
    } v4[] = {{0, "10.88.0.0"},     {1, "10.88.0.1"},       {255, "10.88.0.255"},
              {256, "10.88.1.0"},   {257, "10.88.1.1"},     {65279, "10.88.254.255"},
              {65280, "10.88.255.0"}, {65535, "10.88.255.255"}};
    for (size_t i = 0; i < ELEMENTSOF(v4); i++) {
        assert_int_equal(in_addr_prefix_nth(&p, v4[i].n, &a), 0);
        assert_string_equal(in_addr_to_string(AF_INET, &a, buf), v4[i].s);
        assert_int_equal(in_addr_prefix_offset(&p, &a, &off), 0);
        assert_int_equal(off, v4[i].n);
    }
    union in_addr_union untouched = {.bytes = {0xaa}};
    assert_int_equal(in_addr_prefix_nth(&p, 65536, &untouched), -ERANGE);
    assert_int_equal(untouched.bytes[0], 0xaa);
    a = addr("10.89.0.0", AF_INET);
    assert_int_equal(in_addr_prefix_offset(&p, &a, &off), -ERANGE);

    p = prefix("10.128.0.0/9"); /* a base whose host part starts inside a byte */
    for (uint64_t n = 0; n < (UINT64_C(1) << 23); n += 65521) {
        assert_int_equal(in_addr_prefix_nth(&p, n, &a), 0);
        assert_true(in_addr_prefix_contains(&p, AF_INET, &a));
        assert_int_equal(in_addr_prefix_offset(&p, &a, &off), 0);
        assert_int_equal(off, n);
    }

    p = prefix("fd00:1:2:3::/64");
    static const struct {
        uint64_t n;
        const char *s;
    } v6[] = {{0, "fd00:1:2:3::"},
              {1, "fd00:1:2:3::1"},
              {0xffff, "fd00:1:2:3::ffff"},
              {0x10000, "fd00:1:2:3::1:0"},
              {0xffffffff, "fd00:1:2:3::ffff:ffff"}};
    for (size_t i = 0; i < ELEMENTSOF(v6); i++) {
        assert_int_equal(in_addr_prefix_nth(&p, v6[i].n, &a), 0);
        assert_string_equal(in_addr_to_string(AF_INET6, &a, buf), v6[i].s);
        assert_int_equal(in_addr_prefix_offset(&p, &a, &off), 0);
        assert_int_equal(off, v6[i].n);
    }
    assert_int_equal(in_addr_prefix_nth(&p, UINT64_C(1) << 32, &a), -ERANGE);
    a = addr("fd00:1:2:3:0:1::", AF_INET6); /* inside, but beyond 2^32 */
    assert_int_equal(in_addr_prefix_offset(&p, &a, &off), -ERANGE);
    a = addr("fd00:1:2:4::1", AF_INET6);
    assert_int_equal(in_addr_prefix_offset(&p, &a, &off), -ERANGE);
}

static void test_to_string(void **state) {
    char buf[INET6_ADDRSTRLEN], pbuf[IN_ADDR_PREFIX_STRLEN];
    union in_addr_union a = addr("fd00:0:0:0:0:0:0:1", AF_INET6);
    assert_string_equal(in_addr_to_string(AF_INET6, &a, buf), "fd00::1");
    a = addr("10.1.1.1", AF_INET);
    assert_string_equal(in_addr_to_string(AF_INET, &a, buf), "10.1.1.1");
    assert_string_equal(in_addr_to_string(AF_UNIX, &a, buf), "?");
    InAddrPrefix p = prefix("10.88.0.0/16");
    assert_string_equal(in_addr_prefix_to_string(&p, pbuf), "10.88.0.0/16");
    p = prefix("fd00:0:0:0::/64");
    assert_string_equal(in_addr_prefix_to_string(&p, pbuf), "fd00::/64");
    p = prefix("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255/128");
    assert_string_equal(in_addr_prefix_to_string(&p, pbuf),
                        "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),       cmocka_unit_test(test_prefix_parse),
        cmocka_unit_test(test_predicates),  cmocka_unit_test(test_contains_overlaps),
        cmocka_unit_test(test_size),        cmocka_unit_test(test_nth_offset),
        cmocka_unit_test(test_to_string),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
