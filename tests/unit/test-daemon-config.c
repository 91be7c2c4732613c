/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "daemon-config.h"
#include "macro.h"
#include "strv.h"

static void config_donep(DaemonConfig *c) {
    daemon_config_done(c);
}
#define _cleanup_config_ _cleanup_(config_donep)

static void load_ok(DaemonConfig *c, const char *text) {
    _cleanup_strv_free_ char **errors = NULL;
    int r = daemon_config_load_string(c, "sandboxd.conf", text, &errors);
    STRV_FOREACH(e, errors)
        print_error("unexpected: %s\n", *e);
    assert_int_equal(r, 0);
    assert_null(errors);
}

/* Loads text over c expecting failure; returns the errors joined by '\n'. */
static char *load_bad(DaemonConfig *c, const char *text) {
    _cleanup_strv_free_ char **errors = NULL;
    assert_int_equal(daemon_config_load_string(c, "sandboxd.conf", text, &errors), -EINVAL);
    assert_non_null(errors);
    return strv_join(errors, "\n");
}

static void test_defaults(void **state) {
    _cleanup_config_ DaemonConfig c;
    assert_int_equal(daemon_config_init(&c), 0);
    assert_string_equal(c.bridge, NETWORK_BRIDGE_DEFAULT);
    assert_string_equal(c.bridge, "sandbox0");
    assert_int_equal(c.subnet.family, 0);
    assert_int_equal(c.ipv6_subnet.family, 0);
    assert_false(c.ipv6_disabled);
    /* an empty file, or comments only, changes nothing */
    load_ok(&c, "");
    load_ok(&c, "# sandboxd.conf\n; nothing set\n[Network]\n");
    assert_string_equal(c.bridge, "sandbox0");
    assert_int_equal(c.subnet.family, 0);
}

static void test_keys(void **state) {
    _cleanup_config_ DaemonConfig c;
    char buf[IN_ADDR_PREFIX_STRLEN];
    assert_int_equal(daemon_config_init(&c), 0);
    load_ok(&c, "[Network]\r\n"
                "Bridge=sbx-test\n"
                "Subnet=10.99.0.0/16\n"
                "IPv6Subnet=fd42:1:2:3::/64\n");
    assert_string_equal(c.bridge, "sbx-test");
    assert_string_equal(in_addr_prefix_to_string(&c.subnet, buf), "10.99.0.0/16");
    assert_string_equal(in_addr_prefix_to_string(&c.ipv6_subnet, buf), "fd42:1:2:3::/64");
    assert_false(c.ipv6_disabled);
    /* a second file over the first: what it sets wins, the rest stays */
    load_ok(&c, "[Network]\nIPv6Subnet=none\n");
    assert_true(c.ipv6_disabled);
    assert_int_equal(c.ipv6_subnet.family, 0);
    assert_string_equal(c.bridge, "sbx-test");
    /* empty assignments are the defaults again; the last line wins */
    load_ok(&c, "[Network]\nBridge=\nSubnet=\nIPv6Subnet=\nSubnet=\\\n192.168.100.0/24\n");
    assert_string_equal(c.bridge, "sandbox0");
    assert_false(c.ipv6_disabled);
    assert_int_equal(c.ipv6_subnet.family, 0);
    assert_string_equal(in_addr_prefix_to_string(&c.subnet, buf), "192.168.100.0/24");
    load_ok(&c, "[Network]\nSubnet=10.0.0.0/8\nSubnet=10.1.2.4/30\nIPv6Subnet=fd00::/120\n");
    assert_string_equal(in_addr_prefix_to_string(&c.subnet, buf), "10.1.2.4/30");
    assert_int_equal(c.ipv6_subnet.prefixlen, 120);
}

static void test_errors(void **state) {
    _cleanup_config_ DaemonConfig c;
    assert_int_equal(daemon_config_init(&c), 0);
    load_ok(&c, "[Network]\nSubnet=10.99.0.0/16\n");
    _cleanup_free_ char *e =
        load_bad(&c, "Bridge=early\n"
                     "[Network]\n"
                     "Bridge=a-name-too-long0\n"
                     "Bridge=a/b\n"
                     "Bridge=a:b\n"
                     "Bridge=..\n"
                     "Subnet=10.88.0.1/16\n"
                     "Subnet=10.0.0.0/7\n"
                     "Subnet=10.0.0.0/31\n"
                     "Subnet=127.0.0.0/8\n"
                     "Subnet=224.1.0.0/16\n"
                     "Subnet=fd00::/64\n"
                     "IPv6Subnet=fd00::/48\n"
                     "IPv6Subnet=fd00::/121\n"
                     "IPv6Subnet=fe80::/64\n"
                     "IPv6Subnet=10.0.0.0/8\n"
                     "IPv6Subnet=None\n"
                     "Colour=blue\n"
                     "X-Mine=1\n"
                     "Subnet: 10.0.0.0/8\n"
                     "[Daemon]\n"
                     "Bridge=x\n"
                     "[Network\n");
    assert_string_equal(
        e, "sandboxd.conf:1: Bridge=: assignment outside of any section\n"
           "sandboxd.conf:3: Bridge=a-name-too-long0: expected an interface name: 1 to 15 "
           "bytes, without '/', ':' or whitespace\n"
           "sandboxd.conf:4: Bridge=a/b: expected an interface name: 1 to 15 bytes, without "
           "'/', ':' or whitespace\n"
           "sandboxd.conf:5: Bridge=a:b: expected an interface name: 1 to 15 bytes, without "
           "'/', ':' or whitespace\n"
           "sandboxd.conf:6: Bridge=..: expected an interface name: 1 to 15 bytes, without "
           "'/', ':' or whitespace\n"
           "sandboxd.conf:7: Subnet=10.88.0.1/16: expected an IPv4 prefix with its host bits "
           "zero, like 10.88.0.0/16\n"
           "sandboxd.conf:8: Subnet=10.0.0.0/7: the prefix length must be 8 to 30\n"
           "sandboxd.conf:9: Subnet=10.0.0.0/31: the prefix length must be 8 to 30\n"
           "sandboxd.conf:10: Subnet=127.0.0.0/8: overlaps addresses no bridge can have "
           "(loopback, link-local, multicast or reserved)\n"
           "sandboxd.conf:11: Subnet=224.1.0.0/16: overlaps addresses no bridge can have "
           "(loopback, link-local, multicast or reserved)\n"
           "sandboxd.conf:12: Subnet=fd00::/64: expected an IPv4 prefix with its host bits "
           "zero, like 10.88.0.0/16\n"
           "sandboxd.conf:13: IPv6Subnet=fd00::/48: the prefix length must be 64 to 120\n"
           "sandboxd.conf:14: IPv6Subnet=fd00::/121: the prefix length must be 64 to 120\n"
           "sandboxd.conf:15: IPv6Subnet=fe80::/64: overlaps addresses no bridge can have "
           "(loopback, link-local, multicast or reserved)\n"
           "sandboxd.conf:16: IPv6Subnet=10.0.0.0/8: expected none, or an IPv6 prefix with "
           "its host bits zero, like fd42:1:2:3::/64\n"
           "sandboxd.conf:17: IPv6Subnet=None: expected none, or an IPv6 prefix with its host "
           "bits zero, like fd42:1:2:3::/64\n"
           "sandboxd.conf:18: Colour=blue: unknown key in section [Network]\n"
           "sandboxd.conf:19: X-Mine=1: unknown key in section [Network]\n"
           "sandboxd.conf:20: 'Subnet: 10.0.0.0/8': expected Key=value\n"
           "sandboxd.conf:21: [Daemon]: unknown section, expected [Network], [Images] or [Logs]\n"
           "sandboxd.conf:23: [Network: expected a section header like [Network]");
    /* nothing of a bad file is taken */
    char buf[IN_ADDR_PREFIX_STRLEN];
    free(e);
    e = load_bad(&c, "[Network]\nBridge=other\nSubnet=10.1.0.0/16\nIPv6Subnet=none\nBad=1\n");
    assert_string_equal(e, "sandboxd.conf:5: Bad=1: unknown key in section [Network]");
    assert_string_equal(c.bridge, "sandbox0");
    assert_string_equal(in_addr_prefix_to_string(&c.subnet, buf), "10.99.0.0/16");
    assert_false(c.ipv6_disabled);
    free(e);
    e = load_bad(&c, "[Network]\nBridge=caf\xc3\n");
    assert_string_equal(e, "sandboxd.conf:2: Bridge=: not valid UTF-8; configuration files "
                           "are UTF-8 text");
}

static void test_files(void **state) {
    /* $TMPDIR: the cgroup v2 leg's guest has a read-only /tmp */
    const char *tmp = getenv("TMPDIR");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/test-daemon-config-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(dir));
    _cleanup_free_ char *path = NULL;
    assert_true(asprintf(&path, "%s/sandboxd.conf", dir) > 0);
    _cleanup_config_ DaemonConfig c;
    assert_int_equal(daemon_config_init(&c), 0);
    char **errors = (char **) 1;
    /* the default path may be missing; a path given explicitly may not */
    assert_int_equal(daemon_config_load(&c, path, true, &errors), 0);
    assert_null(errors);
    assert_int_equal(daemon_config_load(&c, path, false, NULL), -ENOENT);

    FILE *f = fopen(path, "we");
    assert_non_null(f);
    fputs("[Network]\nBridge=br-file\n", f);
    fclose(f);
    assert_int_equal(daemon_config_load(&c, path, false, &errors), 0);
    assert_null(errors);
    assert_string_equal(c.bridge, "br-file");

    f = fopen(path, "we");
    fputs("[Network]\nSubnet=10.0.0.1/8\n", f);
    fclose(f);
    assert_int_equal(daemon_config_load(&c, path, true, &errors), -EINVAL);
    _cleanup_free_ char *want = NULL;
    assert_true(asprintf(&want, "%s:2: Subnet=10.0.0.1/8: expected an IPv4 prefix", path) > 0);
    assert_int_equal(strv_length(errors), 1);
    assert_int_equal(strncmp(errors[0], want, strlen(want)), 0);
    errors = strv_free(errors);

    assert_int_equal(unlink(path), 0);
    assert_int_equal(mkdir(path, 0755), 0);
    assert_int_equal(daemon_config_load(&c, path, true, &errors), -EINVAL);
    free(want);
    assert_true(asprintf(&want, "%s: is a directory, not a configuration file", path) > 0);
    assert_string_equal(errors[0], want);
    errors = strv_free(errors);
    assert_int_equal(rmdir(path), 0);
    assert_int_equal(rmdir(dir), 0);
    assert_string_equal(c.bridge, "br-file");
}

static void test_ifname(void **state) {
    static const char *const good[] = {"sandbox0", "a", "br-0.1_x", "123456789012345", "é"};
    static const char *const bad[] = {"", ".", "..", "1234567890123456", "a/b", "a:b", "a b",
                                      "a\tb", "a\nb", "a\x7f"};
    for (size_t i = 0; i < ELEMENTSOF(good); i++)
        if (!ifname_is_valid(good[i]))
            fail_msg("'%s' refused", good[i]);
    for (size_t i = 0; i < ELEMENTSOF(bad); i++)
        if (ifname_is_valid(bad[i]))
            fail_msg("'%s' taken", bad[i]);
}

static void test_images(void **state) {
    _cleanup_config_ DaemonConfig c;
    assert_int_equal(daemon_config_init(&c), 0);
    assert_int_equal(c.store_max_size, 0);
    assert_int_equal(c.import_max_size, 0);
    load_ok(&c, "[Images]\nStoreMaxSize=1.5G\nImportMaxSize=512M\n");
    assert_int_equal(c.store_max_size, 1610612736ULL);
    assert_int_equal(c.import_max_size, 536870912ULL);
    load_ok(&c, "[Images]\nStoreMaxSize=infinity\nImportMaxSize=\n");
    assert_int_equal(c.store_max_size, 0);
    assert_int_equal(c.import_max_size, 0);
    _cleanup_free_ char *e = load_bad(&c, "[Images]\nStoreMaxSize=1G\nImportMaxSize=big\n"
                                          "StoreMaxSize=0\n");
    assert_non_null(strstr(e, "sandboxd.conf:3: ImportMaxSize=big: expected a size"));
    assert_non_null(strstr(e, "sandboxd.conf:4: StoreMaxSize=0: a size of 0 would hold "
                              "nothing"));
    /* a bad file changes nothing */
    assert_int_equal(c.store_max_size, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults), cmocka_unit_test(test_keys),
        cmocka_unit_test(test_errors),   cmocka_unit_test(test_files),
        cmocka_unit_test(test_ifname),   cmocka_unit_test(test_images),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
